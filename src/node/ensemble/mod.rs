//! The node as a member of a replicated ensemble: leader election hands it a role, and it
//! then leads (discovery, synchronisation and broadcast to its learners) or follows (syncs
//! from the leader, logs and acknowledges proposals, applies commits, forwards its clients'
//! writes). The packets are ZooKeeper's QuorumPackets with its payload layouts (Leader.java,
//! Learner.java, LearnerHandler.java), so that the other side may be a Java server.
//!
//! The state stays on the node's task, as in standalone mode: the socket tasks in
//! `quorum` only move packets, and the commit rule lives in `zab::Broadcast`.

use super::*;
use crate::config::QuorumServer;
use crate::quorum::election::Cmd;
use crate::quorum::packet::Packet;
use crate::quorum::{Link, LinkEvent, LinkId};
use crate::storage::epoch;
use crate::zab::election::{Members, Vote};
use bytes::BufMut;
use std::collections::{BTreeMap, BTreeSet};
use tokio_util::sync::CancellationToken;

mod follower;
mod leader;
mod observer_master;
mod reconfig;
pub(super) mod sim;
mod start;
mod tick;
mod view;
pub use sim::SimView;

/// Committed txns a leader keeps to bring a learner up to date with a DIFF (ZooKeeper's
/// zookeeper.commitLogCount); a learner further behind gets a snapshot.
const COMMIT_LOG_COUNT: usize = 500;

/// Connections a simulated member asks for: (its id, the id of the member it dials, whether
/// that is a follower's observer master port rather than the leader's quorum port).
pub type SimConnects = Arc<std::sync::Mutex<Vec<(i64, i64, bool)>>>;

pub(super) struct Ensemble {
    pub me: i64,
    /// This member observes: it learns every commit (INFORM) but neither votes nor acks.
    pub observer: bool,
    pub servers: BTreeMap<u64, QuorumServer>,
    pub members: Members,
    pub config_text: String,
    /// How the election and quorum ports speak (plaintext, or TLS: `sslQuorum`).
    pub tls: crate::tls::quorum::Transport,
    /// The configuration's version (the dynamic config file's suffix; 0 for a static zoo.cfg).
    pub config_version: i64,
    /// The active configuration (what /zookeeper/config holds); `servers`, `members`,
    /// `config_text` and `config_version` are drawn from it.
    pub view: crate::config::QuorumConfig,
    /// `reconfigEnabled`.
    pub reconfig: bool,
    /// A configuration seen but not yet active: a leader's reconfiguration in flight, or the
    /// versioned first configuration a new leader sends in NEWLEADER.
    pub last_seen: Option<crate::config::QuorumConfig>,
    /// On a learner: the configuration NEWLEADER carried, made active at UPTODATE.
    pub newleader_config: Option<crate::config::QuorumConfig>,
    /// On a leader that committed a reconfiguration naming another leader: whom to follow
    /// once the commit is applied.
    pub handoff: Option<i64>,
    /// Applying proposals no quorum committed as history (leaving a role).
    pub replaying: bool,
    /// Per leader with several addresses: the one to try first (the next one after an
    /// address whose connection failed before the leader answered).
    pub leader_addr_first: HashMap<i64, usize>,
    /// On an observer with observerMasterPort: the voters to sync from, shuffled once per
    /// configuration version; the next to try; failed tries in a row.
    pub om_order: Vec<i64>,
    pub om_order_version: Option<i64>,
    pub om_next: usize,
    pub om_failures: usize,
    pub election: Option<mpsc::UnboundedSender<Cmd>>,
    pub tick_ms: u64,
    pub init_limit: u64,
    pub sync_limit: u64,
    pub accepted_epoch: i64,
    pub current_epoch: i64,
    /// The last committed txns (zxid, encoded), and the zxid just before the first of them.
    pub committed_log: VecDeque<(i64, Bytes)>,
    pub committed_floor: i64,
    pub role: Role,
    /// Elections this node took part in, and when the current one began.
    pub elections: u64,
    pub looking_since: Instant,
    /// Learners that dialled in while this node was still electing (they may have decided
    /// first), with what they sent; adopted if this node leads, closed otherwise.
    pub parked: Vec<(Link, Vec<Packet>)>,
    /// In the deterministic simulation: connections this node asks for (its id, the
    /// leader's), which the simulation makes; no sockets.
    pub sim_connects: Option<SimConnects>,
}

pub(super) enum Role {
    Looking,
    Leading(Box<Leading>),
    Following(Box<Following>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LPhase {
    /// Waiting for FOLLOWERINFO.
    Info,
    AckEpoch,
    NewLeaderAck,
    Serving,
}

struct Learner {
    link: Link,
    sid: i64,
    /// Registered with OBSERVERINFO: sent INFORM instead of PROPOSAL and COMMIT.
    observer: bool,
    /// Broadcasts held between NEWLEADER and UPTODATE, sent right after UPTODATE: a
    /// ZooKeeper 3.8.0 learner fails on a COMMIT in that window (ZOOKEEPER-4394).
    held: Vec<Bytes>,
    phase: LPhase,
    last_heard: Instant,
}

impl Learner {
    /// A broadcast packet: sent to a learner being served, held for one between NEWLEADER
    /// and UPTODATE, not sent to one still in discovery (its sync will include it).
    fn forward(&mut self, b: Bytes) {
        match self.phase {
            LPhase::Serving => self.link.send_raw(b),
            LPhase::NewLeaderAck => self.held.push(b),
            _ => {}
        }
    }

    /// LEADERINFO with the epoch's first zxid; its ACKEPOCH is awaited next.
    fn leader_info(&mut self, epoch: i64) {
        let mut b = BytesMut::with_capacity(4);
        b.put_i32(jute::QUORUM_PROTOCOL_VERSION);
        self.link.send(&Packet::new(
            PacketType::LeaderInfo,
            jute::make_zxid(epoch, 0),
            Some(b.freeze()),
        ));
        self.phase = LPhase::AckEpoch;
    }

    /// Sends what synchronises the learner (TRUNC, DIFF or SNAP, and for a follower the
    /// proposals in flight), then NEWLEADER with the epoch and `config`; its ACK of NEWLEADER
    /// is awaited next.
    fn sync_with(&mut self, packets: Vec<Bytes>, epoch: i64, config: String) {
        for b in packets {
            self.link.send_raw(b);
        }
        self.link.send(&Packet::new(
            PacketType::NewLeader,
            jute::make_zxid(epoch, 0),
            Some(Bytes::from(config)),
        ));
        self.phase = LPhase::NewLeaderAck;
    }

    fn up_to_date(&mut self) {
        self.link.send(&Packet::new(PacketType::UpToDate, -1, None));
        for b in self.held.drain(..) {
            self.link.send_raw(b);
        }
    }
}

pub(super) struct Leading {
    /// The protocol's decisions: the epoch, its acknowledgements, establishment.
    disc: crate::zab::leader::Discovery,
    learners: HashMap<LinkId, Learner>,
    /// Learners whose synchronisation waits until a quorum acknowledged the epoch
    /// (Leader.waitForEpochAck), with their last zxids.
    epoch_waiting: Vec<(LinkId, i64)>,
    since: Instant,
    /// Learners' sync requests waiting for the proposals before them to commit.
    syncs: VecDeque<(i64, LinkId)>,
    /// Which server each session is attached to (0: this one), as ZooKeeper's session
    /// owners: a write arriving through another is refused with SESSIONMOVED.
    owners: HashMap<i64, i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FPhase {
    Connecting,
    Discovery,
    Sync,
    Serving,
}

impl Following {
    /// Connecting until the link to the leader is up, then the learner's phase.
    fn phase(&self) -> FPhase {
        use crate::zab::learner::Phase;
        match (self.link.is_some(), self.zab.phase()) {
            (false, _) => FPhase::Connecting,
            (true, Phase::Discovery) => FPhase::Discovery,
            (true, Phase::Sync) => FPhase::Sync,
            (true, Phase::Serving) => FPhase::Serving,
        }
    }
}

pub(super) struct Following {
    leader: i64,
    /// The member this one syncs from: the leader, or (an observer with observerMasterPort)
    /// a follower.
    master: i64,
    /// On a follower with observerMasterPort: the observers it serves, once it listens.
    om: Option<observer_master::ObserverMaster>,
    /// A COMMITANDACTIVATE being applied: its zxid and the leader it names.
    activating: Option<(i64, i64)>,
    /// The id of the link being dialled to the leader (0 in the simulation: any).
    attempt: LinkId,
    link: Option<Link>,
    cancel: CancellationToken,
    /// The protocol's decisions (discovery, synchronisation, acknowledgements); the node
    /// carries out its actions.
    zab: crate::zab::learner::Learner,
    since: Instant,
    last_heard: Instant,
    snap_zxid: Option<i64>,
    /// The syncs sent to the leader, in order (the leader answers them in that order): a
    /// session's waits in its commit queue; an observer's is relayed.
    syncs: VecDeque<observer_master::SyncFor>,
    revalidating: HashMap<i64, (ConnId, u32, bool)>,
    /// Sessions with activity since the last ping (id, timeout), reported to the leader.
    touched: HashMap<i64, i32>,
}

impl Ensemble {
    pub fn from_config(cfg: &Config, epochs: epoch::Epochs, last_zxid: i64) -> Option<Self> {
        let q = cfg.quorum.as_ref()?;
        if !cfg.is_ensemble() {
            return None;
        }
        let me = cfg.server_id as i64;
        let observer =
            q.peer_type_observer || q.servers.get(&(me as u64)).is_some_and(|s| s.observer);
        Some(Ensemble {
            me,
            observer,
            servers: q.servers.clone(),
            members: Members::from_config(q),
            config_text: q.config_text(),
            config_version: q.version as i64,
            view: q.clone(),
            reconfig: cfg.settings.reconfig_enabled,
            last_seen: None,
            newleader_config: None,
            handoff: None,
            replaying: false,
            leader_addr_first: HashMap::new(),
            om_order: Vec::new(),
            om_order_version: None,
            om_next: 0,
            om_failures: 0,
            tls: Default::default(),
            election: None,
            tick_ms: cfg.tick_time as u64,
            init_limit: q.init_limit as u64,
            sync_limit: q.sync_limit as u64,
            accepted_epoch: epochs.accepted,
            current_epoch: epochs.current,
            committed_log: VecDeque::new(),
            committed_floor: last_zxid,
            role: Role::Looking,
            elections: 0,
            looking_since: Instant::now(),
            parked: Vec::new(),
            sim_connects: None,
        })
    }
}

fn lr_peer(n: &mut Node, id: LinkId) -> String {
    n.leading()
        .and_then(|l| l.learners.get(&id))
        .map_or_else(|| "?".into(), |lr| lr.link.peer.to_string())
}

fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn be_i64(d: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(d.get(at..at + 8)?.try_into().ok()?))
}

fn be_i32(d: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

impl Node {
    pub(super) fn ens(&self) -> Option<&Ensemble> {
        self.ensemble.as_ref()
    }

    pub(super) fn is_following(&self) -> bool {
        matches!(
            self.ensemble.as_ref().map(|e| &e.role),
            Some(Role::Following(_))
        )
    }

    /// Whether clients are served: always standalone; in an ensemble, once synchronised.
    pub(super) fn serving(&self) -> bool {
        match self.ensemble.as_ref().map(|e| &e.role) {
            None => true,
            Some(Role::Looking) => false,
            Some(Role::Leading(l)) => l.disc.established(),
            Some(Role::Following(f)) => f.phase() == FPhase::Serving,
        }
    }

    /// How long the member has been looking for a quorum (None: it is not looking).
    pub(super) fn looking_for(&self) -> Option<std::time::Duration> {
        let now = self.instant();
        match self.ensemble.as_ref() {
            Some(e) if matches!(e.role, Role::Looking) => {
                Some(now.saturating_duration_since(e.looking_since))
            }
            _ => None,
        }
    }

    pub(super) fn mode(&self) -> &'static str {
        match self.ensemble.as_ref().map(|e| &e.role) {
            None => "standalone",
            Some(Role::Looking) => "looking",
            Some(Role::Leading(_)) => "leader",
            Some(Role::Following(_)) if self.ens().is_some_and(|e| e.observer) => "observer",
            Some(Role::Following(_)) => "follower",
        }
    }

    fn write_epoch(&self, name: &str, value: i64) {
        // In dataDir/version-2, where ZooKeeper keeps them.
        if let Err(e) = block(|| self.log.write_epoch(name, value)) {
            // Without its epoch on disk the member could vote inconsistently after a crash.
            error!("cannot write {name}: {e}; exiting");
            std::process::exit(70);
        }
    }

    /// Leaves the current role: clients are disconnected, what the log holds becomes the
    /// node's history, and a new election round starts.
    pub(super) fn look(&mut self, why: &str) {
        if !self.leave_role(why) {
            return;
        }
        let (last, epoch) = (
            self.last_zxid(),
            self.ensemble.as_ref().map_or(0, |e| e.current_epoch),
        );
        if let Some(tx) = self.ensemble.as_ref().and_then(|e| e.election.clone()) {
            let _ = tx.send(Cmd::Look {
                last_zxid: last,
                current_epoch: epoch,
            });
        }
    }

    /// What every end of a role does (see `look`); false outside an ensemble.
    fn leave_role(&mut self, why: &str) -> bool {
        let now = self.instant();
        let Some(e) = self.ensemble.as_mut() else {
            return false;
        };
        // A reconfiguration seen and not yet active stays seen: the next leader completes it
        // (or a leader's sync cuts it off).
        e.handoff = None;
        e.newleader_config = None;
        let old = std::mem::replace(&mut e.role, Role::Looking);
        match old {
            Role::Leading(l) => {
                for lr in l.learners.values() {
                    lr.link.close();
                }
            }
            Role::Following(f) => {
                f.cancel.cancel();
                if let Some(l) = &f.link {
                    l.close();
                }
                if let Some(om) = &f.om {
                    om.stop();
                }
            }
            Role::Looking => {}
        }
        e.elections += 1;
        e.looking_since = now;
        warn!("LOOKING: {why}");
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for c in conns {
            self.close_conn(c);
        }
        self.leave_local_role();
        self.queue.clear();
        // Every proposal handed to the log is part of this node's history once durable:
        // wait for the log, then apply them all (their clients are gone).
        if !self.proposals.is_empty() && !block(|| self.log.barrier()) {
            error!("the txn log writer failed; exiting");
            std::process::exit(70);
        }
        self.read_only_blocked = !self.proposals.is_empty();
        for p in self.proposals.iter_mut() {
            p.then = Then::Nothing;
        }
        if let Some(last) = self.proposals.back().map(|p| p.txn.hdr.zxid) {
            // Uncommitted: a reconfiguration among them is history, not an active
            // configuration (the next leader's NEWLEADER says which is).
            if let Some(e) = self.ensemble.as_mut() {
                e.replaying = true;
            }
            self.commit_up_to(last);
            if let Some(e) = self.ensemble.as_mut() {
                e.replaying = false;
            }
        }
        self.overlay = Overlay::new(&self.tree);
        self.next_zxid = self.last_zxid() + 1;
        self.zab = Broadcast::standalone(self.last_zxid());
        true
    }

    pub(super) fn elected(&mut self, v: Vote) {
        let now = self.instant();
        let reach = self.reach();
        let me = self.ens().map_or(-1, |e| e.me);
        let master = match self.looking_for() {
            Some(_) if v.leader != me => self.pick_learner_master(v.leader),
            _ => None,
        };
        if self.looking_for().is_some() {
            // Read-only clients and local sessions end with the looking role.
            self.leave_local_role();
        }
        let Some(e) = self.ensemble.as_mut() else {
            return;
        };
        if !matches!(e.role, Role::Looking) {
            return;
        }
        if v.leader == e.me {
            info!(
                "LEADING: waiting for followers (initLimit {} ticks)",
                e.init_limit
            );
            let mut disc =
                crate::zab::leader::Discovery::new(e.me, e.members.clone(), e.accepted_epoch);
            // A reconfiguration in this leader's history, not yet active: its voters must
            // agree to the epoch too; it becomes active at establishment.
            if let Some(l) = e
                .last_seen
                .as_ref()
                .filter(|l| e.reconfig && l.version as i64 > e.config_version)
            {
                info!(
                    "completing configuration 0x{:x} seen in this leader's history",
                    l.version
                );
                disc.also_needs(Members::from_config(l));
            }
            e.role = Role::Leading(Box::new(Leading {
                disc,
                learners: HashMap::new(),
                epoch_waiting: Vec::new(),
                since: now,
                syncs: VecDeque::new(),
                owners: HashMap::new(),
            }));
            // A leader of one voter (the others are observers) has its quorum already.
            let acts = self.leading().map(|l| l.disc.start()).unwrap_or_default();
            self.run_leader(acts);
            let parked = self
                .ensemble
                .as_mut()
                .map(|e| std::mem::take(&mut e.parked));
            for (link, packets) in parked.unwrap_or_default() {
                let id = link.id;
                self.link_event(LinkEvent::Up(link));
                for p in packets {
                    self.learner_packet(id, p);
                }
            }
        } else {
            let Some(s) = e.servers.get(&(v.leader as u64)) else {
                self.look("the elected leader is not in the server list");
                return;
            };
            let mut addrs = s.quorum_addrs();
            let first = e.leader_addr_first.get(&v.leader).copied().unwrap_or(0);
            let n = addrs.len().max(1);
            addrs.rotate_left(first % n);
            let mut master_id = v.leader;
            if let Some((sid, a)) = master {
                (master_id, addrs) = (sid, a);
            }
            let listed: Vec<String> = addrs.iter().map(|(h, p)| format!("{h}:{p}")).collect();
            if master_id == v.leader {
                info!(
                    "FOLLOWING: connecting to leader {} at {}",
                    v.leader,
                    listed.join("|")
                );
            } else {
                info!(
                    "OBSERVING leader {}: syncing from server {master_id} at {} (observerMasterPort)",
                    v.leader,
                    listed.join("|")
                );
            }
            for (l, _) in e.parked.drain(..) {
                l.close();
            }
            let cancel = CancellationToken::new();
            let attempts = (e.init_limit * e.tick_ms / 1000).clamp(1, 5) as u32;
            // The simulation connects at once and in order: any link it brings will do (0).
            let mut attempt = 0;
            if let Some(sim) = &e.sim_connects {
                sim.lock().unwrap_or_else(|e| e.into_inner()).push((
                    e.me,
                    master_id,
                    master_id != v.leader,
                ));
            } else if let Some(tx) = self.senders.as_ref().map(|s| s.links.clone()) {
                attempt = crate::quorum::connect_to_leader(
                    addrs,
                    reach,
                    attempts,
                    tx,
                    self.cfg.max_buffer + 1024,
                    cancel.clone(),
                    e.tls.clone(),
                );
            }
            e.role = Role::Following(Box::new(Following {
                leader: v.leader,
                master: master_id,
                om: None,
                activating: None,
                attempt,
                link: None,
                cancel,
                zab: crate::zab::learner::Learner::new(
                    e.accepted_epoch,
                    e.current_epoch,
                    e.observer,
                ),
                since: now,
                last_heard: now,
                snap_zxid: None,
                syncs: VecDeque::new(),
                revalidating: HashMap::new(),
                touched: HashMap::new(),
            }));
        }
        // Sessions restart their timeouts under the new leader, as ZooKeeper's do; a
        // follower tracks only its own clients' sessions.
        let now_ms = self.now();
        self.sessions = SessionTracker::new(
            self.cfg.tick_time,
            self.cfg.server_id,
            self.wall_ms() as u64,
        );
        if !self.is_following() {
            for (id, to) in &self.committed_sessions {
                self.sessions.add(*id, (*to).max(0) as u32, now_ms);
            }
        }
    }

    pub(super) fn link_event(&mut self, ev: LinkEvent) {
        let now = self.instant();
        let Some(e) = self.ensemble.as_mut() else {
            if let LinkEvent::Up(l) | LinkEvent::ObserverUp(l) = ev {
                l.close();
            }
            return;
        };
        match (&mut e.role, ev) {
            (Role::Following(_), LinkEvent::ObserverUp(link)) => self.observer_up(link),
            (_, LinkEvent::ObserverUp(link)) => link.close(),
            (Role::Leading(l), LinkEvent::Up(link)) => {
                l.learners.insert(
                    link.id,
                    Learner {
                        link,
                        sid: -1,
                        observer: false,
                        held: Vec::new(),
                        phase: LPhase::Info,
                        last_heard: now,
                    },
                );
            }
            (Role::Following(f), LinkEvent::Up(link))
                if f.phase() == FPhase::Connecting && (f.attempt == 0 || f.attempt == link.id) =>
            {
                let mut info = BytesMut::new();
                LearnerInfo {
                    server_id: e.me,
                    protocol_version: jute::QUORUM_PROTOCOL_VERSION,
                    config_version: e.config_version,
                }
                .encode(&mut info);
                let kind = if e.observer {
                    PacketType::ObserverInfo
                } else {
                    PacketType::FollowerInfo
                };
                link.send(&Packet::new(
                    kind,
                    jute::make_zxid(e.accepted_epoch, 0),
                    Some(info.freeze()),
                ));
                f.link = Some(link);
                f.last_heard = now;
            }
            (Role::Looking, LinkEvent::Up(link)) => {
                if e.parked.len() < 64 {
                    e.parked.push((link, Vec::new()));
                } else {
                    link.close();
                }
            }
            (Role::Looking, LinkEvent::Packet(id, p)) => {
                // A learner says FOLLOWERINFO and waits; a link that sends more while this
                // node is still looking is not a learner, and cannot fill memory either.
                if let Some(i) = e.parked.iter().position(|(l, _)| l.id == id) {
                    let (link, q) = &mut e.parked[i];
                    let held: usize = q
                        .iter()
                        .map(|p| p.data.as_ref().map_or(0, |d| d.len()))
                        .sum();
                    if q.len() >= 4 || held + p.data.as_ref().map_or(0, |d| d.len()) > 64 * 1024 {
                        warn!("a quorum connection from {} sent too much before this node led; closing it", link.peer);
                        link.close();
                        e.parked.remove(i);
                    } else {
                        q.push(p);
                    }
                }
            }
            (Role::Looking, LinkEvent::Down(id, _)) => e.parked.retain(|(l, _)| l.id != id),
            (_, LinkEvent::Up(link)) => link.close(),
            (Role::Leading(_), LinkEvent::Packet(id, p)) => self.learner_packet(id, p),
            (Role::Following(f), LinkEvent::Packet(id, p))
                if f.link.as_ref().is_some_and(|l| l.id == id) =>
            {
                f.last_heard = now;
                self.leader_packet(p);
            }
            (Role::Following(f), LinkEvent::Packet(id, p))
                if f.om.as_ref().is_some_and(|o| o.observers.contains_key(&id)) =>
            {
                self.observer_packet(id, p)
            }
            (Role::Following(f), LinkEvent::Snapshot(id, data))
                if f.link.as_ref().is_some_and(|l| l.id == id) =>
            {
                self.install_snapshot(data);
            }
            (Role::Leading(l), LinkEvent::Down(id, why)) => {
                if let Some(lr) = l.learners.remove(&id) {
                    if lr.sid >= 0 {
                        info!("learner {} left: {why}", lr.sid);
                        let still = l.learners.values().any(|o| o.sid == lr.sid);
                        if !still {
                            self.zab.forget(lr.sid);
                        }
                    }
                }
            }
            (Role::Following(f), LinkEvent::Down(id, why))
                if (f.attempt == 0 && id == 0)
                    || (f.phase() == FPhase::Connecting && id == f.attempt)
                    || f.link.as_ref().is_some_and(|l| l.id == id) =>
            {
                let (leader, master) = (f.leader, f.master);
                if master != leader {
                    // An observer that could not sync from a follower tries another next.
                    if f.phase() != FPhase::Serving {
                        e.om_failures += 1;
                    }
                    return self.look(&format!(
                        "lost server {master} (syncing from it, leader {leader}): {why}"
                    ));
                }
                // Lost before the leader said anything: its address reached something
                // else (or nothing); with several, the next is tried first next time.
                if f.phase() == FPhase::Discovery {
                    if let Some(n) = e
                        .servers
                        .get(&(leader as u64))
                        .map(|s| s.addrs.len())
                        .filter(|n| *n > 1)
                    {
                        let first = e.leader_addr_first.entry(leader).or_default();
                        *first = (*first + 1) % n;
                    }
                }
                self.look(&format!("lost the leader {leader}: {why}"));
            }
            (Role::Following(_), LinkEvent::Down(id, why)) => self.observer_down(id, &why),
            _ => {}
        }
    }

    /// On a leader: is `owner` (0 for this server, else a learner's id) where `session` is
    /// attached? The first server to send for a session after an election becomes its owner.
    pub(super) fn owns_session(&mut self, session: i64, owner: i64) -> bool {
        match self.leading() {
            Some(l) => *l.owners.entry(session).or_insert(owner) == owner,
            None => true,
        }
    }

    /// On a leader: the session is now attached to `owner` (created or revalidated there).
    pub(super) fn set_session_owner(&mut self, session: i64, owner: i64) {
        if let Some(l) = self.leading() {
            l.owners.insert(session, owner);
        }
    }

    /// A closed session's owner is no longer tracked.
    pub(super) fn forget_session_owner(&mut self, session: i64) {
        if let Some(l) = self.leading() {
            l.owners.remove(&session);
        }
    }

    fn leading(&mut self) -> Option<&mut Leading> {
        match self.ensemble.as_mut().map(|e| &mut e.role) {
            Some(Role::Leading(l)) => Some(l),
            _ => None,
        }
    }

    fn following(&mut self) -> Option<&mut Following> {
        match self.ensemble.as_mut().map(|e| &mut e.role) {
            Some(Role::Following(f)) => Some(f),
            _ => None,
        }
    }
}

/// The handshake answer: a valid session, or zeros that tell the client it expired.
pub(super) fn connect_answer(valid: bool, session: i64, timeout: u32, ro: bool) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        time_out: if valid { timeout as i32 } else { 0 },
        session_id: if valid { session } else { 0 },
        passwd: Some(Bytes::copy_from_slice(&if valid {
            session_password(session)
        } else {
            [0u8; 16]
        })),
        read_only: false,
        has_read_only: ro,
    }
}
