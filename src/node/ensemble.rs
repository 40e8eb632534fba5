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

/// Committed txns a leader keeps to bring a learner up to date with a DIFF (ZooKeeper's
/// zookeeper.commitLogCount); a learner further behind gets a snapshot.
const COMMIT_LOG_COUNT: usize = 500;

/// Connections a simulated member asks for: (its id, the leader's id).
pub type SimConnects = Arc<std::sync::Mutex<Vec<(i64, i64)>>>;

pub(super) struct Ensemble {
    pub me: i64,
    /// This member observes: it learns every commit (INFORM) but neither votes nor acks.
    pub observer: bool,
    pub servers: BTreeMap<u64, QuorumServer>,
    pub members: Members,
    pub config_text: String,
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

    fn up_to_date(&mut self) {
        self.link.send(&Packet::new(PacketType::UpToDate, -1, None));
        for b in self.held.drain(..) {
            self.link.send_raw(b);
        }
    }
}

pub(super) struct Leading {
    epoch: Option<i64>,
    /// FOLLOWERINFO's accepted epochs, by server id (this one included).
    infos: BTreeMap<i64, i64>,
    learners: HashMap<LinkId, Learner>,
    newleader_acks: BTreeSet<i64>,
    /// Voters that acknowledged the new epoch (this one included), and the learners whose
    /// synchronisation waits until they form a quorum (Leader.waitForEpochAck).
    epoch_acks: BTreeSet<i64>,
    epoch_waiting: Vec<(LinkId, i64)>,
    established: bool,
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

pub(super) struct Following {
    leader: i64,
    /// The id of the link being dialled to the leader (0 in the simulation: any).
    attempt: LinkId,
    link: Option<Link>,
    cancel: CancellationToken,
    phase: FPhase,
    since: Instant,
    last_heard: Instant,
    snap_zxid: Option<i64>,
    /// Proposals are acknowledged once durable, after NEWLEADER.
    acking: bool,
    /// Proposals logged and not yet acknowledged, in order: each is ACKed once durable,
    /// even if its COMMIT came first (a Java leader checks that ACKs come in order).
    unacked: VecDeque<i64>,
    /// The sessions whose syncs were sent to the leader, in order (the leader answers them
    /// in that order); each sync waits in its session's commit queue.
    syncs: VecDeque<i64>,
    revalidating: HashMap<i64, (ConnId, u32, bool)>,
    /// Sessions with activity since the last ping (id, timeout), reported to the leader.
    touched: HashMap<i64, i32>,
}

impl Ensemble {
    pub fn from_config(cfg: &Config, storage: &StorageConfig, last_zxid: i64) -> Option<Self> {
        let q = cfg.quorum.as_ref()?;
        if q.participants() <= 1 && q.standalone_enabled {
            return None;
        }
        let dir = &storage
            .snap_dir
            .parent()
            .unwrap_or(&storage.snap_dir)
            .to_path_buf();
        // A member without epoch files takes them from its last zxid, as QuorumPeer does.
        let read = |name: &str| {
            epoch::read(dir, name)
                .ok()
                .flatten()
                .unwrap_or(jute::epoch_of(last_zxid))
        };
        let me = cfg.server_id as i64;
        let observer =
            q.peer_type_observer || q.servers.get(&(me as u64)).is_some_and(|s| s.observer);
        Some(Ensemble {
            me,
            observer,
            servers: q.servers.clone(),
            members: Members::from_config(q),
            config_text: q.config_text(),
            election: None,
            tick_ms: cfg.tick_time as u64,
            init_limit: q.init_limit as u64,
            sync_limit: q.sync_limit as u64,
            accepted_epoch: read(epoch::ACCEPTED_EPOCH),
            current_epoch: read(epoch::CURRENT_EPOCH),
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

/// What the deterministic simulation reads of a node after each step.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimView {
    pub mode: &'static str,
    pub serving: bool,
    /// The epoch this node leads or follows in (its currentEpoch).
    pub epoch: i64,
    pub last_zxid: i64,
    pub digest: u64,
}

impl Node {
    /// Runs this member without sockets: elections go to `election` (the simulation runs
    /// the cores), connections it wants are listed in `connects`. Starts LOOKING.
    #[doc(hidden)]
    pub fn sim_start(&mut self, election: mpsc::UnboundedSender<Cmd>, connects: SimConnects) {
        if let Some(e) = self.ensemble.as_mut() {
            e.election = Some(election);
            e.sim_connects = Some(connects);
        }
        self.look("starting up");
    }

    #[doc(hidden)]
    pub fn sim_tree(&self) -> Vec<(String, i64, i64, i32)> {
        self.tree.stats()
    }

    /// The czxid of a node of the tree, if it exists.
    #[doc(hidden)]
    pub fn sim_czxid(&self, path: &str) -> Option<i64> {
        self.tree.get(path).map(|n| n.stat.czxid)
    }

    #[doc(hidden)]
    pub fn sim_view(&self) -> SimView {
        SimView {
            mode: self.mode(),
            serving: self.serving(),
            epoch: self.ens().map_or(0, |e| e.current_epoch),
            last_zxid: self.last_zxid(),
            digest: self.tree.digest(),
        }
    }

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
            Some(Role::Leading(l)) => l.established,
            Some(Role::Following(f)) => f.phase == FPhase::Serving,
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

    fn epoch_dir(&self) -> std::path::PathBuf {
        self.storage
            .snap_dir
            .parent()
            .unwrap_or(&self.storage.snap_dir)
            .to_path_buf()
    }

    fn write_epoch(&self, name: &str, value: i64) {
        if let Some(m) = self.log.memory_log() {
            let mut m = m.lock().unwrap_or_else(|e| e.into_inner());
            if name == epoch::ACCEPTED_EPOCH {
                m.accepted_epoch = Some(value);
            } else {
                m.current_epoch = Some(value);
            }
            return;
        }
        let dir = self.epoch_dir();
        if let Err(e) = block(|| epoch::write(&dir, name, value)) {
            // Without its epoch on disk the member could vote inconsistently after a crash.
            error!("cannot write {name} in {}: {e}; exiting", dir.display());
            std::process::exit(70);
        }
    }

    /// Starts the election machinery; the node begins LOOKING.
    pub async fn start_ensemble(&mut self) -> std::io::Result<()> {
        let Some(tx) = self.senders.clone() else {
            return Ok(());
        };
        let Some(q) = self.cfg.quorum.clone() else {
            return Ok(());
        };
        let Some(e) = self.ensemble.as_ref() else {
            return Ok(());
        };
        let me = e.me as u64;
        let cmd = crate::quorum::election::start(
            me,
            q.servers.clone(),
            q.quorum_listen_on_all_ips,
            e.config_text.clone(),
            e.members.clone(),
            tx.votes.clone(),
        )
        .await?;
        let mine = q
            .servers
            .get(&me)
            .ok_or_else(|| std::io::Error::other("myid is not in the server list"))?;
        let host = if q.quorum_listen_on_all_ips {
            "0.0.0.0"
        } else {
            mine.host.as_str()
        };
        let l = tokio::net::TcpListener::bind((host, mine.quorum_port)).await?;
        info!("quorum port {} bound", l.local_addr()?);
        tokio::spawn(crate::quorum::serve_quorum(
            l,
            tx.links,
            self.cfg.max_buffer + 1024,
        ));
        if let Some(e) = self.ensemble.as_mut() {
            e.election = Some(cmd);
        }
        self.look("starting up");
        Ok(())
    }

    /// Leaves the current role: clients are disconnected, what the log holds becomes the
    /// node's history, and a new election round starts.
    pub(super) fn look(&mut self, why: &str) {
        let now = self.instant();
        let Some(e) = self.ensemble.as_mut() else {
            return;
        };
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
        self.queue.clear();
        // Every proposal handed to the log is part of this node's history once durable:
        // wait for the log, then apply them all (their clients are gone).
        if !self.proposals.is_empty() && !block(|| self.log.barrier()) {
            error!("the txn log writer failed; exiting");
            std::process::exit(70);
        }
        for p in self.proposals.iter_mut() {
            p.then = Then::Nothing;
        }
        if let Some(last) = self.proposals.back().map(|p| p.txn.hdr.zxid) {
            self.commit_up_to(last);
        }
        self.overlay = Overlay::new(&self.tree);
        self.next_zxid = self.last_zxid() + 1;
        self.zab = Broadcast::standalone(self.last_zxid());
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

    pub(super) fn elected(&mut self, v: Vote) {
        let now = self.instant();
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
            let mut infos = BTreeMap::new();
            infos.insert(e.me, e.accepted_epoch);
            let mut acks = BTreeSet::new();
            acks.insert(e.me);
            e.role = Role::Leading(Box::new(Leading {
                epoch: None,
                infos,
                learners: HashMap::new(),
                newleader_acks: acks.clone(),
                epoch_acks: acks,
                epoch_waiting: Vec::new(),
                established: false,
                since: now,
                syncs: VecDeque::new(),
                owners: HashMap::new(),
            }));
            // A leader of one voter (the others are observers) has its quorum already.
            self.maybe_new_epoch();
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
            info!(
                "FOLLOWING: connecting to leader {} at {}:{}",
                v.leader, s.host, s.quorum_port
            );
            for (l, _) in e.parked.drain(..) {
                l.close();
            }
            let cancel = CancellationToken::new();
            let attempts = (e.init_limit * e.tick_ms / 1000).clamp(1, 5) as u32;
            // The simulation connects at once and in order: any link it brings will do (0).
            let mut attempt = 0;
            if let Some(sim) = &e.sim_connects {
                sim.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((e.me, v.leader));
            } else if let Some(tx) = self.senders.as_ref().map(|s| s.links.clone()) {
                attempt = crate::quorum::connect_to_leader(
                    (s.host.clone(), s.quorum_port),
                    attempts,
                    tx,
                    self.cfg.max_buffer + 1024,
                    cancel.clone(),
                );
            }
            e.role = Role::Following(Box::new(Following {
                leader: v.leader,
                attempt,
                link: None,
                cancel,
                phase: FPhase::Connecting,
                since: now,
                last_heard: now,
                snap_zxid: None,
                acking: false,
                unacked: VecDeque::new(),
                syncs: VecDeque::new(),
                revalidating: HashMap::new(),
                touched: HashMap::new(),
            }));
        }
        // Sessions restart their timeouts under the new leader, as ZooKeeper's do; a
        // follower tracks only its own clients' sessions.
        let now_ms = self.now();
        self.sessions =
            SessionTracker::new(self.cfg.tick_time, self.cfg.server_id, wall_ms() as u64);
        if !self.is_following() {
            for (id, to) in &self.committed_sessions {
                self.sessions.add(*id, (*to).max(0) as u32, now_ms);
            }
        }
    }

    // ---- links --------------------------------------------------------------------------

    pub(super) fn link_event(&mut self, ev: LinkEvent) {
        let now = self.instant();
        let Some(e) = self.ensemble.as_mut() else {
            if let LinkEvent::Up(l) = ev {
                l.close();
            }
            return;
        };
        match (&mut e.role, ev) {
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
                if f.phase == FPhase::Connecting && (f.attempt == 0 || f.attempt == link.id) =>
            {
                let mut info = BytesMut::new();
                LearnerInfo {
                    server_id: e.me,
                    protocol_version: jute::QUORUM_PROTOCOL_VERSION,
                    config_version: 0,
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
                f.phase = FPhase::Discovery;
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
                    || (f.phase == FPhase::Connecting && id == f.attempt)
                    || f.link.as_ref().is_some_and(|l| l.id == id) =>
            {
                let leader = f.leader;
                self.look(&format!("lost the leader {leader}: {why}"));
            }
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

    // ---- leader -------------------------------------------------------------------------

    fn learner_packet(&mut self, id: LinkId, p: Packet) {
        let now = self.instant();
        let Some(l) = self.leading() else { return };
        let Some(lr) = l.learners.get_mut(&id) else {
            return;
        };
        lr.last_heard = now;
        let (phase, sid) = (lr.phase, lr.sid);
        match PacketType::from_i32(p.kind) {
            Some(PacketType::FollowerInfo) | Some(PacketType::ObserverInfo)
                if phase == LPhase::Info =>
            {
                let data = p.data.clone().unwrap_or_default();
                let sid = match LearnerInfo::decode(&mut Reader::new(data.clone())) {
                    Ok(i) => i.server_id,
                    // Before 3.4 the info was the bare server id.
                    Err(_) => be_i64(&data, 0).unwrap_or(-1),
                };
                let known = self
                    .ens()
                    .is_some_and(|e| e.servers.contains_key(&(sid as u64)) && sid != e.me);
                let Some(l) = self.leading() else { return };
                if !known {
                    warn!("a learner claims server id {sid}, which is not a peer; closing");
                    if let Some(lr) = l.learners.remove(&id) {
                        lr.link.close();
                    }
                    return;
                }
                // A newer connection from the same server replaces the old one.
                let old: Vec<LinkId> = l
                    .learners
                    .iter()
                    .filter(|(k, o)| **k != id && o.sid == sid)
                    .map(|(k, _)| *k)
                    .collect();
                let replaced = !old.is_empty();
                for k in old {
                    if let Some(o) = l.learners.remove(&k) {
                        o.link.close();
                    }
                }
                if !l.established {
                    // Its NEWLEADER acknowledgement belonged to the old connection.
                    l.newleader_acks.remove(&sid);
                }
                if replaced {
                    // What the old connection acknowledged may since have been truncated.
                    self.zab.forget(sid);
                }
                let Some(l) = self.leading() else { return };
                if let Some(lr) = l.learners.get_mut(&id) {
                    lr.sid = sid;
                    lr.observer = p.kind == PacketType::ObserverInfo.code();
                }
                match l.epoch {
                    Some(epoch) => self.send_leader_info(id, epoch),
                    None => {
                        l.infos.insert(sid, jute::epoch_of(p.zxid));
                        self.maybe_new_epoch();
                    }
                }
            }
            _ if phase == LPhase::Info => {
                // As ZooKeeper's LearnerHandler: a learner introduces itself first.
                warn!(
                    "a quorum connection from {} began with packet type {}, not FOLLOWERINFO or OBSERVERINFO; closing",
                    lr_peer(self, id),
                    p.kind
                );
                if let Some(lr) = self.leading().and_then(|l| l.learners.remove(&id)) {
                    lr.link.close();
                }
            }
            Some(PacketType::AckEpoch) if phase == LPhase::AckEpoch => {
                let their_epoch = p.data.as_deref().and_then(|d| be_i32(d, 0)).unwrap_or(-1) as i64;
                let (my_epoch, my_zxid) =
                    (self.ens().map_or(0, |e| e.current_epoch), self.last_zxid());
                if their_epoch > my_epoch || (their_epoch == my_epoch && p.zxid > my_zxid) {
                    self.look(&format!(
                        "follower {sid} is ahead (epoch {their_epoch}, zxid 0x{:x}) of this leader (epoch {my_epoch}, zxid 0x{my_zxid:x})",
                        p.zxid
                    ));
                    return;
                }
                self.epoch_acked(id, sid, their_epoch, p.zxid);
            }
            Some(PacketType::Ack) => {
                let epoch = self.leading().and_then(|l| l.epoch).unwrap_or(-1);
                if phase == LPhase::NewLeaderAck && p.zxid == jute::make_zxid(epoch, 0) {
                    self.newleader_acked(id, sid);
                } else if matches!(phase, LPhase::NewLeaderAck | LPhase::Serving) {
                    self.zab.ack(sid, p.zxid, &mut self.actions);
                    self.run_actions();
                }
            }
            Some(PacketType::Ping) if matches!(phase, LPhase::NewLeaderAck | LPhase::Serving) => {
                let d = p.data.unwrap_or_default();
                let now_ms = self.now();
                let mut at = 0;
                while let (Some(id), Some(_to)) = (be_i64(&d, at), be_i32(&d, at + 8)) {
                    self.sessions.touch(id, now_ms);
                    at += 12;
                }
            }
            Some(PacketType::Request) if phase == LPhase::Serving => self.learner_request(id, p),
            Some(PacketType::Revalidate)
                if matches!(phase, LPhase::NewLeaderAck | LPhase::Serving) =>
            {
                let d = p.data.unwrap_or_default();
                let (Some(session), Some(to)) = (be_i64(&d, 0), be_i32(&d, 8)) else {
                    return;
                };
                let now_ms = self.now();
                let valid = self.sessions.revalidate(session, to.max(0) as u32, now_ms);
                if valid {
                    self.set_session_owner(session, sid);
                }
                let mut b = BytesMut::with_capacity(9);
                b.put_i64(session);
                b.put_u8(valid as u8);
                if let Some(lr) = self.leading().and_then(|l| l.learners.get(&id)) {
                    lr.link
                        .send(&Packet::new(PacketType::Revalidate, -1, Some(b.freeze())));
                }
            }
            _ => debug!(
                "leader ignores packet type {} from learner {sid} in {phase:?}",
                p.kind
            ),
        }
    }

    /// ACKEPOCH from learner `sid`: as ZooKeeper's leader, no learner is synchronised until
    /// a quorum of voters has acknowledged the new epoch, so that a voter ahead of this leader
    /// is found before any learner takes the epoch on. A learner that had accepted the epoch
    /// already (it says -1) does not count, as in ZooKeeper.
    fn epoch_acked(&mut self, id: LinkId, sid: i64, their_epoch: i64, zxid: i64) {
        let Some(members) = self.ens().map(|e| e.members.clone()) else {
            return;
        };
        let Some(l) = self.leading() else { return };
        let observer = l.learners.get(&id).is_some_and(|lr| lr.observer);
        if their_epoch != -1 && !observer {
            l.epoch_acks.insert(sid);
        }
        l.epoch_waiting.push((id, zxid));
        if !members.is_quorum(l.epoch_acks.iter()) {
            debug!(
                "learner {sid} waits for a quorum to acknowledge the epoch ({:?} have)",
                l.epoch_acks
            );
            return;
        }
        // A learner that left while it waited is not synchronised (no snapshot built for it).
        let waiting: Vec<(LinkId, i64)> = std::mem::take(&mut l.epoch_waiting)
            .into_iter()
            .filter(|(id, _)| l.learners.contains_key(id))
            .collect();
        for (id, zxid) in waiting {
            self.sync_learner(id, zxid);
        }
    }

    /// Once a quorum of voters has sent FOLLOWERINFO: the new epoch is one past every
    /// accepted epoch among them.
    fn maybe_new_epoch(&mut self) {
        let Some(e) = self.ensemble.as_ref() else {
            return;
        };
        let members = e.members.clone();
        let Some(l) = self.leading() else { return };
        if l.epoch.is_some() || !members.is_quorum(l.infos.keys()) {
            return;
        }
        let epoch = l.infos.values().copied().max().unwrap_or(0) + 1;
        l.epoch = Some(epoch);
        let waiting: Vec<LinkId> = l
            .learners
            .iter()
            .filter(|(_, lr)| lr.sid >= 0 && lr.phase == LPhase::Info)
            .map(|(k, _)| *k)
            .collect();
        info!("LEADING: new epoch {epoch}");
        self.write_epoch(epoch::ACCEPTED_EPOCH, epoch);
        if let Some(e) = self.ensemble.as_mut() {
            e.accepted_epoch = epoch;
        }
        for id in waiting {
            self.send_leader_info(id, epoch);
        }
        self.maybe_establish();
    }

    fn send_leader_info(&mut self, id: LinkId, epoch: i64) {
        let Some(lr) = self.leading().and_then(|l| l.learners.get_mut(&id)) else {
            return;
        };
        let mut b = BytesMut::with_capacity(4);
        b.put_i32(jute::QUORUM_PROTOCOL_VERSION);
        lr.link.send(&Packet::new(
            PacketType::LeaderInfo,
            jute::make_zxid(epoch, 0),
            Some(b.freeze()),
        ));
        lr.phase = LPhase::AckEpoch;
    }

    /// Brings a learner whose history ends at `peer_zxid` up to this leader's: the txns it
    /// lacks (DIFF) when the committed log still holds them, otherwise a snapshot (SNAP);
    /// then the proposals in flight, and NEWLEADER.
    fn sync_learner(&mut self, id: LinkId, peer_zxid: i64) {
        let last = self.last_zxid();
        let Some(e) = self.ensemble.as_ref() else {
            return;
        };
        let epoch = match &e.role {
            Role::Leading(l) => l.epoch.unwrap_or(0),
            _ => return,
        };
        let mut out: Vec<Bytes> = Vec::new();
        let diff_from = if peer_zxid == last {
            Some(e.committed_log.len())
        } else if peer_zxid == e.committed_floor {
            Some(0)
        } else {
            e.committed_log
                .iter()
                .position(|(z, _)| *z == peer_zxid)
                .map(|i| i + 1)
        };
        let how = match diff_from {
            // The learner logged txns past this leader's history (proposals of an earlier
            // epoch that never committed): it drops them (TRUNC), as LearnerHandler does.
            _ if peer_zxid > last => {
                out.push(Packet::new(PacketType::Trunc, last, None).encode());
                format!("TRUNC to 0x{last:x}")
            }
            Some(from) => {
                out.push(Packet::new(PacketType::Diff, last, None).encode());
                for (z, txn) in e.committed_log.iter().skip(from) {
                    out.push(Packet::new(PacketType::Proposal, *z, Some(txn.clone())).encode());
                    out.push(Packet::new(PacketType::Commit, *z, None).encode());
                }
                format!("DIFF of {} txns", e.committed_log.len() - from)
            }
            None => {
                out.push(Packet::new(PacketType::Snap, last, None).encode());
                let sessions: Vec<(i64, i32)> = self
                    .committed_sessions
                    .iter()
                    .map(|(k, v)| (*k, *v))
                    .collect();
                let parts = snap::serialize_stream_parts(&self.tree, &sessions);
                let n: usize = parts.iter().map(|p| p.len()).sum();
                out.extend(parts);
                format!("SNAP of {n} bytes")
            }
        };
        let observer = match &e.role {
            Role::Leading(l) => l.learners.get(&id).is_some_and(|lr| lr.observer),
            _ => false,
        };
        // An observer learns of the proposals in flight by INFORM once they commit.
        if !observer {
            for p in &self.proposals {
                out.push(
                    Packet::new(PacketType::Proposal, p.txn.hdr.zxid, Some(p.raw.clone())).encode(),
                );
            }
        }
        out.push(
            Packet::new(
                PacketType::NewLeader,
                jute::make_zxid(epoch, 0),
                Some(Bytes::from(e.config_text.clone())),
            )
            .encode(),
        );
        let Some(lr) = self.leading().and_then(|l| l.learners.get_mut(&id)) else {
            return;
        };
        info!(
            "synchronising learner {} from 0x{peer_zxid:x} to 0x{last:x}: {how}",
            lr.sid
        );
        for b in out {
            lr.link.send_raw(b);
        }
        lr.phase = LPhase::NewLeaderAck;
    }

    fn newleader_acked(&mut self, id: LinkId, sid: i64) {
        let Some(l) = self.leading() else { return };
        if l.established {
            if let Some(lr) = l.learners.get_mut(&id) {
                lr.up_to_date();
                lr.phase = LPhase::Serving;
                info!("learner {sid} is up to date");
            }
            return;
        }
        l.newleader_acks.insert(sid);
        self.maybe_establish();
    }

    /// A quorum acknowledged NEWLEADER: the epoch is this leader's; serve.
    fn maybe_establish(&mut self) {
        let Some(e) = self.ensemble.as_ref() else {
            return;
        };
        let (me, members) = (e.me, e.members.clone());
        let Some(l) = self.leading() else { return };
        if l.established || l.epoch.is_none() || !members.is_quorum(l.newleader_acks.iter()) {
            return;
        }
        let epoch = l.epoch.unwrap_or(0);
        l.established = true;
        let acked = l.newleader_acks.clone();
        let mut up = Vec::new();
        for lr in l.learners.values_mut() {
            if lr.phase == LPhase::NewLeaderAck && acked.contains(&lr.sid) {
                lr.up_to_date();
                lr.phase = LPhase::Serving;
                up.push(lr.sid);
            }
        }
        let since_leading = l.since;
        self.write_epoch(epoch::CURRENT_EPOCH, epoch);
        let last = self.last_zxid();
        if let Some(e) = self.ensemble.as_mut() {
            e.current_epoch = epoch;
        }
        self.zab = Broadcast::new(me, members, last);
        for sid in &up {
            self.zab.ack(*sid, last, &mut self.actions);
        }
        self.actions.clear();
        self.next_zxid = jute::make_zxid(epoch, 1);
        self.set_config_node();
        self.settle_vote(epoch);
        self.overlay = Overlay::new(&self.tree);
        let now = self.instant();
        let took = now.saturating_duration_since(since_leading);
        let since = self
            .ens()
            .map(|e| now.saturating_duration_since(e.looking_since));
        info!(
            "LEADING: epoch {epoch} established with followers {up:?} in {took:?} ({since:?} since LOOKING); serving clients"
        );
    }

    /// A learner's client request: prepared and proposed here; the learner answers its
    /// client when the txn commits.
    fn learner_request(&mut self, id: LinkId, p: Packet) {
        let d = p.data.clone().unwrap_or_default();
        let (Some(session), Some(cxid), Some(op)) = (be_i64(&d, 0), be_i32(&d, 8), be_i32(&d, 12))
        else {
            warn!("malformed REQUEST from a learner");
            return;
        };
        let payload = d.slice(16.min(d.len())..);
        let now_ms = self.now();
        let sid = self
            .leading()
            .and_then(|l| l.learners.get(&id))
            .map_or(-1, |lr| lr.sid);
        match OpCode::from_i32(op) {
            Some(OpCode::CreateSession) => {
                let to = be_i32(&payload, 0).unwrap_or(0);
                self.sessions.add(session, to.max(0) as u32, now_ms);
                self.set_session_owner(session, sid);
                let body = TxnBody::CreateSession(CreateSessionTxn { time_out: to });
                self.propose(
                    session,
                    cxid,
                    OpCode::CreateSession,
                    body,
                    Then::Nothing,
                    wall_ms(),
                );
            }
            Some(OpCode::CloseSession) => {
                self.close_session(session, cxid, Then::Nothing);
            }
            Some(OpCode::Sync) => {
                let after = self.zab.last_proposed();
                if after <= self.zab.last_committed() {
                    if let Some(lr) = self.leading().and_then(|l| l.learners.get(&id)) {
                        lr.link.send(&Packet::new(PacketType::Sync, 0, None));
                    }
                } else if let Some(l) = self.leading() {
                    l.syncs.push_back((after, id));
                }
            }
            _ if is_write(op) => {
                if !self.owns_session(session, sid) {
                    let err = ErrorCode::SessionMoved.code();
                    let body = TxnBody::Error(ErrorTxn { err });
                    self.propose(session, cxid, OpCode::Error, body, Then::Nothing, wall_ms());
                    return;
                }
                if !self.sessions.touch(session, now_ms) {
                    let err = ErrorCode::SessionExpired.code();
                    let body = TxnBody::Error(ErrorTxn { err });
                    self.propose(session, cxid, OpCode::Error, body, Then::Nothing, wall_ms());
                    return;
                }
                match Request::decode(op, &mut Reader::new(payload)) {
                    Ok(req) => {
                        self.prep_and_propose(session, cxid, op, req, &p.auth, Then::Nothing)
                    }
                    Err(e) => {
                        warn!("cannot decode forwarded request type {op} from session 0x{session:x}: {e}");
                        let err = ErrorCode::MarshallingError.code();
                        let body = TxnBody::Error(ErrorTxn { err });
                        self.propose(session, cxid, OpCode::Error, body, Then::Nothing, wall_ms());
                    }
                }
            }
            _ => warn!("a learner forwarded request type {op}, which is not a write; ignored"),
        }
    }

    /// After a proposal is handed to the log: send it to the learners being synchronised
    /// or served.
    pub(super) fn broadcast_proposal(&mut self, zxid: i64, raw: &Bytes) {
        let b = Packet::new(PacketType::Proposal, zxid, Some(raw.clone())).encode();
        let Some(Role::Leading(l)) = self.ensemble.as_mut().map(|e| &mut e.role) else {
            return;
        };
        for lr in l.learners.values_mut() {
            if !lr.observer {
                lr.forward(b.clone());
            }
        }
    }

    /// After a txn is applied: remember it for DIFFs; a leader tells its learners.
    pub(super) fn committed(&mut self, zxid: i64, raw: &Bytes) {
        let Some(e) = self.ensemble.as_mut() else {
            return;
        };
        e.committed_log.push_back((zxid, raw.clone()));
        while e.committed_log.len() > COMMIT_LOG_COUNT {
            if let Some((z, _)) = e.committed_log.pop_front() {
                e.committed_floor = z;
            }
        }
        if let Role::Leading(l) = &mut e.role {
            if !l.established {
                return;
            }
            let b = Packet::new(PacketType::Commit, zxid, None).encode();
            let mut inform: Option<Bytes> = None;
            for lr in l.learners.values_mut() {
                if lr.observer {
                    let i = inform.get_or_insert_with(|| {
                        Packet::new(PacketType::Inform, zxid, Some(raw.clone())).encode()
                    });
                    lr.forward(i.clone());
                } else {
                    lr.forward(b.clone());
                }
            }
            while l.syncs.front().is_some_and(|(after, _)| *after <= zxid) {
                if let Some((_, id)) = l.syncs.pop_front() {
                    if let Some(lr) = l.learners.get(&id) {
                        lr.link.send(&Packet::new(PacketType::Sync, 0, None));
                    }
                }
            }
        }
    }

    /// Every half tick: pings, and the liveness checks of initLimit and syncLimit.
    pub(super) fn ensemble_tick(&mut self) {
        let Some(e) = self.ensemble.as_ref() else {
            return;
        };
        let tick = std::time::Duration::from_millis(e.tick_ms);
        let init = tick * e.init_limit as u32;
        let sync = tick * e.sync_limit as u32;
        let (me, members) = (e.me, e.members.clone());
        let last = self.last_zxid();
        let now = self.instant();
        let age = |t: Instant| now.saturating_duration_since(t);
        match self.ensemble.as_mut().map(|e| &mut e.role) {
            Some(Role::Leading(l)) => {
                if !l.established {
                    if age(l.since) > init {
                        self.look("no quorum of followers synchronised within initLimit");
                    }
                    return;
                }
                let ping = Packet::new(PacketType::Ping, last, None).encode();
                let mut stale = Vec::new();
                let mut forget = Vec::new();
                for (id, lr) in &l.learners {
                    // A learner still being synchronised (a large SNAP) has initLimit, as in
                    // ZooKeeper; one being served, syncLimit.
                    let limit = if lr.phase == LPhase::Serving {
                        sync
                    } else {
                        init
                    };
                    if age(lr.last_heard) > limit {
                        stale.push(*id);
                    } else if lr.phase == LPhase::Serving {
                        lr.link.send_raw(ping.clone());
                    }
                }
                for id in stale {
                    if let Some(lr) = l.learners.remove(&id) {
                        warn!(
                            "learner {} silent for more than syncLimit; dropping it",
                            lr.sid
                        );
                        lr.link.close();
                        if lr.sid >= 0 && !l.learners.values().any(|o| o.sid == lr.sid) {
                            forget.push(lr.sid);
                        }
                    }
                }
                let mut synced: BTreeSet<i64> = l
                    .learners
                    .values()
                    .filter(|lr| lr.phase == LPhase::Serving)
                    .map(|lr| lr.sid)
                    .collect();
                synced.insert(me);
                for sid in forget {
                    self.zab.forget(sid);
                }
                if !members.is_quorum(synced.iter()) {
                    self.look(&format!(
                        "only {synced:?} are synchronised with this leader: not a quorum"
                    ));
                }
            }
            Some(Role::Following(f)) => {
                let limit = if f.phase == FPhase::Serving {
                    sync
                } else {
                    init
                };
                if f.phase != FPhase::Serving && age(f.since) > init {
                    let leader = f.leader;
                    self.look(&format!(
                        "not synchronised with leader {leader} within initLimit"
                    ));
                } else if f.phase != FPhase::Connecting && age(f.last_heard) > limit {
                    let leader = f.leader;
                    self.look(&format!(
                        "nothing heard from leader {leader} within the limit"
                    ));
                }
            }
            _ => {}
        }
    }

    // ---- follower -----------------------------------------------------------------------

    fn send_leader(&mut self, p: &Packet) {
        if let Some(l) = self.following().and_then(|f| f.link.as_ref()) {
            l.send(p);
        }
    }

    fn leader_packet(&mut self, p: Packet) {
        let Some(kind) = PacketType::from_i32(p.kind) else {
            warn!("unknown packet type {} from the leader", p.kind);
            return;
        };
        let phase = match self.following() {
            Some(f) => f.phase,
            None => return,
        };
        match kind {
            PacketType::LeaderInfo if phase == FPhase::Discovery => {
                let new_epoch = jute::epoch_of(p.zxid);
                let Some(e) = self.ensemble.as_ref() else {
                    return;
                };
                let (accepted, current) = (e.accepted_epoch, e.current_epoch);
                let reply_epoch = if new_epoch > accepted {
                    self.write_epoch(epoch::ACCEPTED_EPOCH, new_epoch);
                    if let Some(e) = self.ensemble.as_mut() {
                        e.accepted_epoch = new_epoch;
                    }
                    current as i32
                } else if new_epoch == accepted {
                    -1
                } else {
                    self.look(&format!(
                        "the leader proposes epoch {new_epoch}, older than accepted epoch {accepted}"
                    ));
                    return;
                };
                let mut b = BytesMut::with_capacity(4);
                b.put_i32(reply_epoch);
                let last = self.last_zxid();
                self.send_leader(&Packet::new(PacketType::AckEpoch, last, Some(b.freeze())));
                if let Some(f) = self.following() {
                    f.phase = FPhase::Sync;
                }
            }
            PacketType::Diff if phase == FPhase::Sync => {
                debug!("leader sends a DIFF up to 0x{:x}", p.zxid);
            }
            PacketType::Snap if phase == FPhase::Sync => {
                if let Some(f) = self.following() {
                    f.snap_zxid = Some(p.zxid);
                }
            }
            PacketType::Trunc if phase == FPhase::Sync => self.truncate_to(p.zxid),
            PacketType::Proposal if phase != FPhase::Discovery => {
                self.learn_txn(p.data.unwrap_or_default(), p.zxid, "proposal");
            }
            PacketType::Commit if phase != FPhase::Discovery => self.commit_up_to(p.zxid),
            PacketType::NewLeader if phase == FPhase::Sync => {
                // The synchronised txns reach the disk before the new epoch does: a member
                // whose currentEpoch names the new epoch wins elections against members with
                // the same history, so it must hold that history durably first.
                if !block(|| self.log.barrier()) {
                    error!("the txn log writer failed; exiting");
                    std::process::exit(70);
                }
                let epoch = jute::epoch_of(p.zxid);
                self.write_epoch(epoch::CURRENT_EPOCH, epoch);
                if let Some(e) = self.ensemble.as_mut() {
                    e.current_epoch = epoch;
                }
                self.send_leader(&Packet::new(PacketType::Ack, p.zxid, None));
                // Everything logged is durable now: acknowledge what is not yet committed.
                let applied = self.last_zxid();
                let observer = self.ens().is_some_and(|e| e.observer);
                let pending: Vec<i64> = self
                    .following()
                    .map(|f| f.unacked.drain(..).filter(|z| *z > applied).collect())
                    .unwrap_or_default();
                if !observer {
                    for z in pending {
                        self.send_leader(&Packet::new(PacketType::Ack, z, None));
                    }
                }
                if let Some(f) = self.following() {
                    f.acking = !observer;
                }
            }
            PacketType::UpToDate if phase == FPhase::Sync => {
                let now = self.instant();
                let since = self
                    .ens()
                    .map(|e| now.saturating_duration_since(e.looking_since));
                let last = self.last_zxid();
                if let Some(f) = self.following() {
                    f.phase = FPhase::Serving;
                    info!(
                        "FOLLOWING leader {}: up to date at 0x{last:x} ({since:?} since LOOKING); serving clients",
                        f.leader
                    );
                }
                let epoch = self.ens().map_or(0, |e| e.current_epoch);
                self.next_zxid = jute::make_zxid(epoch, 1).max(self.last_zxid() + 1);
                self.set_config_node();
                self.settle_vote(epoch);
            }
            PacketType::Ping => {
                let touched = self
                    .following()
                    .map(|f| std::mem::take(&mut f.touched))
                    .unwrap_or_default();
                let mut b = BytesMut::with_capacity(12 * touched.len());
                for (id, to) in touched {
                    b.put_i64(id);
                    b.put_i32(to);
                }
                let mut reply = Packet::new(PacketType::Ping, p.zxid, Some(b.freeze()));
                reply.auth = p.auth;
                self.send_leader(&reply);
            }
            PacketType::Sync => {
                // The leader answers syncs in the order they were forwarded.
                let Some(session) = self.following().and_then(|f| f.syncs.pop_front()) else {
                    return;
                };
                let outcome = super::Outcome {
                    zxid: self.last_zxid(),
                    rc: Default::default(),
                };
                if self.queue.complete(session, Awaits::Sync, outcome).is_ok() {
                    self.release(session);
                }
            }
            PacketType::Revalidate => {
                let d = p.data.unwrap_or_default();
                let (Some(session), Some(valid)) = (be_i64(&d, 0), d.get(8).map(|b| *b != 0))
                else {
                    return;
                };
                let Some((conn, timeout, ro)) = self
                    .following()
                    .and_then(|f| f.revalidating.remove(&session))
                else {
                    return;
                };
                self.finish_reconnect(conn, session, timeout, ro, valid);
            }
            PacketType::Inform if phase != FPhase::Discovery => {
                // An observer: the txn is already committed; log it and apply it.
                if let Some(zxid) = self.learn_txn(p.data.unwrap_or_default(), p.zxid, "INFORM") {
                    self.commit_up_to(zxid);
                }
            }
            PacketType::CommitAndActivate | PacketType::InformAndActivate => {
                debug!(
                    "ignoring packet type {kind:?} (observers and reconfiguration are not built)"
                );
            }
            _ => debug!("ignoring packet {kind:?} from the leader in {phase:?}"),
        }
    }

    fn settle_vote(&self, epoch: i64) {
        if let Some(tx) = self.ens().and_then(|e| e.election.clone()) {
            let _ = tx.send(Cmd::Settled { epoch });
        }
    }

    fn set_config_node(&mut self) {
        if let Some(text) = self.ens().map(|e| e.config_text.clone()) {
            self.tree.set_config(text.as_bytes(), 0, wall_ms());
        }
    }

    /// A txn from the leader (PROPOSAL, or INFORM to an observer): queued and handed to the
    /// log unless this node already has it. Returns its zxid when it was new.
    fn learn_txn(&mut self, raw: Bytes, packet_zxid: i64, what: &str) -> Option<i64> {
        let txn = match Txn::decode(raw.clone()) {
            Ok(t) => t,
            Err(e) => {
                self.look(&format!(
                    "undecodable {what} 0x{packet_zxid:x} from the leader: {e}"
                ));
                return None;
            }
        };
        let zxid = txn.hdr.zxid;
        if zxid <= self.zab_last_logged() {
            return None; // already part of this node's history
        }
        self.proposals.push_back(Proposal {
            txn,
            then: Then::Nothing,
            raw: raw.clone(),
        });
        if !self.log.append(zxid, raw) {
            warn!("the txn log writer is gone; 0x{zxid:x} is not logged");
        }
        let observer = self.ens().is_some_and(|e| e.observer);
        if let (Some(f), false) = (self.following(), observer) {
            f.unacked.push_back(zxid);
        }
        Some(zxid)
    }

    /// For the simulation's record: the tree was replaced or rolled back.
    fn note_reset(&mut self) {
        let (z, d) = (self.tree.last_processed_zxid, self.tree.digest());
        if let Some(log) = self.applied_log.as_mut() {
            log.push(Applied::Reset(z, d));
        }
    }

    fn zab_last_logged(&self) -> i64 {
        self.proposals
            .back()
            .map(|p| p.txn.hdr.zxid)
            .unwrap_or(self.last_zxid())
    }

    /// The leader's snapshot replaces this node's state; it is written to disk, and later
    /// records dropped from the log, before NEWLEADER is acknowledged.
    fn install_snapshot(&mut self, data: Bytes) {
        let Some(zxid) = self.following().and_then(|f| f.snap_zxid.take()) else {
            return;
        };
        let loaded = match snap::deserialize_stream(data, zxid) {
            Ok(l) => l,
            Err(e) => {
                self.look(&format!("the leader's snapshot is unreadable: {e}"));
                return;
            }
        };
        info!(
            "installing the leader's snapshot at 0x{zxid:x}: {} nodes, {} sessions",
            loaded.tree.node_count(),
            loaded.sessions.len()
        );
        self.abandon_snapshot("the leader's snapshot replaces the tree");
        self.proposals.clear();
        if let Some(f) = self.following() {
            f.unacked.clear();
        }
        self.tree = loaded.tree;
        self.note_reset();
        self.committed_sessions = loaded.sessions.iter().copied().collect();
        self.overlay = Overlay::new(&self.tree);
        self.digest_log.clear();
        if let Some(e) = self.ensemble.as_mut() {
            e.committed_log.clear();
            e.committed_floor = zxid;
        }
        let parts = snap::serialize_parts(&self.tree, &loaded.sessions);
        let (dir, compression) = (self.storage.snap_dir.clone(), self.storage.compression);
        let res = block(|| {
            self.log.truncate_after(zxid)?;
            if let Some(m) = self.log.memory_log() {
                let bytes = Bytes::from(parts.concat());
                m.lock().unwrap_or_else(|e| e.into_inner()).snapshot = Some((zxid, bytes));
                return Ok(dir.clone());
            }
            // This node's own snapshots past that point hold a history the leader replaced.
            for (z, path) in crate::storage::list(&dir, "snapshot")? {
                if z > zxid {
                    std::fs::remove_file(&path)?;
                    info!("the leader's snapshot replaces {}", path.display());
                }
            }
            snap::write_file(&dir, zxid, &parts, compression)
        });
        if let Err(e) = res {
            error!("cannot store the leader's snapshot: {e}; exiting");
            std::process::exit(70);
        }
        self.since_snapshot = 0;
    }

    /// TRUNC: this node logged txns the leader does not have; drop them and reload.
    fn truncate_to(&mut self, zxid: i64) {
        info!("the leader asks to truncate the log after 0x{zxid:x}");
        self.abandon_snapshot("the log is being truncated");
        self.proposals.clear();
        if let Some(f) = self.following() {
            f.unacked.clear();
        }
        let storage = self.storage.clone();
        let res = block(|| {
            self.log.truncate_after(zxid)?;
            if let Some(m) = self.log.memory_log() {
                let m = m.lock().unwrap_or_else(|e| e.into_inner());
                return m.recover().map_err(std::io::Error::other);
            }
            // A snapshot taken past the truncation point holds what is being dropped.
            for (z, path) in crate::storage::list(&storage.snap_dir, "snapshot")? {
                if z > zxid {
                    std::fs::remove_file(&path)?;
                    info!("truncation removed {}", path.display());
                }
            }
            recovery::recover(&storage, false)
                .map(|r| (r.tree, r.sessions))
                .map_err(|e| std::io::Error::other(e.to_string()))
        });
        match res {
            Ok((tree, sessions)) => {
                let reached = tree.last_processed_zxid;
                self.tree = tree;
                self.note_reset();
                if reached != zxid {
                    // The log no longer holds the way to exactly that point (a snapshot from
                    // a leader replaced the records before it): resynchronise from what the
                    // log does hold, which the leader will DIFF or SNAP.
                    self.committed_sessions = sessions.into_iter().collect();
                    self.overlay = Overlay::new(&self.tree);
                    if let Some(e) = self.ensemble.as_mut() {
                        e.committed_log.clear();
                        e.committed_floor = reached;
                    }
                    self.look(&format!(
                        "asked to truncate to 0x{zxid:x}, the log recovers to 0x{reached:x}: synchronising again"
                    ));
                    return;
                }
                self.committed_sessions = sessions.into_iter().collect();
                self.overlay = Overlay::new(&self.tree);
                if let Some(e) = self.ensemble.as_mut() {
                    e.committed_log.clear();
                    e.committed_floor = self.tree.last_processed_zxid;
                }
            }
            Err(e) => {
                error!("truncating the log failed: {e}; exiting");
                std::process::exit(70);
            }
        }
    }

    /// The log made proposals up to `zxid` durable: acknowledge each to the leader.
    pub(super) fn follower_durable(&mut self, zxid: i64) {
        let Some(f) = self.following() else { return };
        if !f.acking {
            return;
        }
        let mut zs = Vec::new();
        while f.unacked.front().is_some_and(|z| *z <= zxid) {
            if let Some(z) = f.unacked.pop_front() {
                zs.push(z);
            }
        }
        for z in zs {
            self.send_leader(&Packet::new(PacketType::Ack, z, None));
        }
    }

    /// A client of this follower: a new session is created by the leader; an existing
    /// one is revalidated by it.
    pub(super) fn follower_connect(
        &mut self,
        conn: ConnId,
        session: i64,
        timeout: u32,
        ro: bool,
        resp: ConnectResponse,
    ) {
        let now_ms = self.now();
        if session == 0 {
            let id = resp.session_id;
            self.sessions.add(id, timeout, now_ms);
            self.bind(conn, id);
            let mut b = BytesMut::with_capacity(4);
            b.put_i32(timeout as i32);
            self.forward(id, 0, OpCode::CreateSession.code(), b.freeze(), Vec::new());
            self.queue
                .push_awaited(id, Awaits::Cxid(0), Then::Connected { conn, resp });
            if let Some(f) = self.following() {
                f.touched.insert(id, timeout as i32);
            }
            return;
        }
        let mut b = BytesMut::with_capacity(12);
        b.put_i64(session);
        b.put_i32(timeout as i32);
        self.send_leader(&Packet::new(PacketType::Revalidate, -1, Some(b.freeze())));
        if let Some(f) = self.following() {
            f.revalidating.insert(session, (conn, timeout, ro));
        }
    }

    fn finish_reconnect(&mut self, conn: ConnId, id: i64, timeout: u32, ro: bool, valid: bool) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        if valid {
            if let Some(old) = self.session_conn.get(&id).copied() {
                if old != conn {
                    self.close_conn(old);
                }
            }
            let now_ms = self.now();
            self.sessions.add(id, timeout, now_ms);
            self.bind(conn, id);
            if let Some(f) = self.following() {
                f.touched.insert(id, timeout as i32);
            }
            info!("renewed session 0x{id:x} with negotiated timeout {timeout} (revalidated by the leader)");
        } else {
            info!("invalid session 0x{id:x}, probably expired (the leader says)");
        }
        let resp = connect_answer(valid, id, timeout, ro);
        self.send_connect(conn, &resp);
        if !valid {
            self.close_conn(conn);
        }
    }

    fn forward(&mut self, session: i64, cxid: i32, op: i32, payload: Bytes, auth: Vec<Id>) {
        let mut b = BytesMut::with_capacity(16 + payload.len());
        b.put_i64(session);
        b.put_i32(cxid);
        b.put_i32(op);
        b.put_slice(&payload);
        let mut p = Packet::new(PacketType::Request, -1, Some(b.freeze()));
        p.auth = auth;
        self.send_leader(&p);
    }

    /// A request from a client of this follower keeps its session alive at the leader.
    pub(super) fn follower_touch(&mut self, session: i64) {
        let timeout = self.sessions.get(session).map_or(0, |s| s.timeout_ms) as i32;
        if let Some(f) = self.following() {
            f.touched.insert(session, timeout);
        }
    }

    /// A follower's client write, closeSession or sync: forwarded to the leader, and
    /// answered from the session's commit queue once the leader's commit (or sync answer)
    /// arrives. Reads are answered here, behind the session's forwarded requests.
    pub(super) fn follower_forward(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        op: i32,
        payload: Bytes,
        start: Instant,
    ) {
        let auth = self
            .conns
            .get(&conn)
            .map(|c| c.auth.clone())
            .unwrap_or_default();
        let Some(f) = self.following() else {
            return;
        };
        let code = OpCode::from_i32(op).unwrap_or(OpCode::Error);
        let (awaits, then) = match code {
            OpCode::Sync => {
                let path = SyncRequest::decode(&mut Reader::new(payload.clone()))
                    .map(|r| r.path)
                    .unwrap_or_default();
                f.syncs.push_back(session);
                let then = Then::Sync {
                    conn,
                    xid,
                    path,
                    start,
                };
                (Awaits::Sync, then)
            }
            OpCode::CloseSession => {
                info!("closing session 0x{session:x} at the client's request");
                let then = Then::Closed {
                    conn: Some(conn),
                    xid: Some(xid),
                };
                (Awaits::Cxid(xid), then)
            }
            _ => {
                let then = Then::Reply {
                    conn,
                    xid,
                    op: code,
                    prep_err: 0,
                    start,
                };
                (Awaits::Cxid(xid), then)
            }
        };
        self.queue.push_awaited(session, awaits, then);
        self.forward(session, xid, op, payload, auth);
    }

    /// On a follower, a txn that answers none of its clients' requests: a session the
    /// leader expired is closed here too.
    pub(super) fn follower_unmatched(&mut self, txn: &Txn) -> Then {
        if txn.hdr.op == OpCode::CloseSession.code() {
            let conn = self.session_conn.get(&txn.hdr.client_id).copied();
            if conn.is_some() {
                return Then::Closed { conn, xid: None };
            }
        }
        Then::Nothing
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
