//! Fast leader election as ZooKeeper runs it (FastLeaderElection.lookForLeader and its
//! receiver), as a pure state machine: notifications and timer expiries in, notifications to
//! send and the decision out. No sockets, no clock: the runtime (and the deterministic
//! simulation) carry out the actions. Notifications use ZooKeeper's byte layout, so a
//! ferrozk node can vote with Java nodes.

use bytes::{BufMut, Bytes, BytesMut};
use std::collections::BTreeMap;

/// ZooKeeper's ServerState as notifications carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    Looking = 0,
    Following = 1,
    Leading = 2,
    Observing = 3,
}

impl PeerState {
    fn from_i32(v: i32) -> Option<PeerState> {
        Some(match v {
            0 => PeerState::Looking,
            1 => PeerState::Following,
            2 => PeerState::Leading,
            3 => PeerState::Observing,
            _ => return None,
        })
    }
}

/// A notification (FastLeaderElection.buildMsg): the sender's vote and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub state: PeerState,
    pub leader: i64,
    pub zxid: i64,
    pub election_epoch: i64,
    pub peer_epoch: i64,
    /// 0x2 in what this side sends; older senders omit it (decoded as 0).
    pub version: i32,
    /// The sender's quorum configuration text (/zookeeper/config), version 2 only.
    pub config: Bytes,
}

/// The notification version ZooKeeper 3.5+ sends.
pub const NOTIFICATION_VERSION: i32 = 0x2;

impl Notification {
    /// `int state, long leader, long zxid, long electionEpoch, long peerEpoch, int version,
    /// int configLength, config bytes`, big-endian.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(44 + self.config.len());
        b.put_i32(self.state as i32);
        b.put_i64(self.leader);
        b.put_i64(self.zxid);
        b.put_i64(self.election_epoch);
        b.put_i64(self.peer_epoch);
        b.put_i32(NOTIFICATION_VERSION);
        b.put_i32(self.config.len() as i32);
        b.put_slice(&self.config);
        b.freeze()
    }

    /// Accepts the three layouts ZooKeeper's receiver accepts: 28 bytes (no peer epoch: it
    /// is taken from the zxid), 40 bytes (no version), and version 2 with its config.
    pub fn decode(m: &[u8]) -> Result<Notification, String> {
        if m.len() < 28 {
            return Err(format!("notification of {} bytes (at least 28)", m.len()));
        }
        let i32_at = |o: usize| i32::from_be_bytes(m[o..o + 4].try_into().unwrap_or([0; 4]));
        let i64_at = |o: usize| i64::from_be_bytes(m[o..o + 8].try_into().unwrap_or([0; 8]));
        let state = PeerState::from_i32(i32_at(0))
            .ok_or_else(|| format!("unknown peer state {}", i32_at(0)))?;
        let (leader, zxid, election_epoch) = (i64_at(4), i64_at(12), i64_at(20));
        let (peer_epoch, version, config) = if m.len() >= 40 {
            let peer_epoch = i64_at(28);
            if m.len() >= 44 {
                let version = i32_at(36);
                let mut config = Bytes::new();
                if version > 0x1 && m.len() >= 44 {
                    let n = i32_at(40);
                    if n < 0 || 44 + n as usize > m.len() {
                        return Err(format!("config length {n} beyond the message"));
                    }
                    config = Bytes::copy_from_slice(&m[44..44 + n as usize]);
                }
                (peer_epoch, version, config)
            } else {
                (peer_epoch, 0, Bytes::new())
            }
        } else {
            (zxid >> 32, 0, Bytes::new())
        };
        Ok(Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version,
            config,
        })
    }
}

/// A vote: who should lead, with what history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vote {
    pub leader: i64,
    pub zxid: i64,
    pub election_epoch: i64,
    pub peer_epoch: i64,
    pub state: PeerState,
}

impl Vote {
    /// ZooKeeper's Vote.equals: while either side is LOOKING the whole vote counts; between
    /// settled peers only the leader and its epoch do.
    fn same(&self, o: &Vote) -> bool {
        if self.state == PeerState::Looking || o.state == PeerState::Looking {
            self.leader == o.leader
                && self.zxid == o.zxid
                && self.election_epoch == o.election_epoch
                && self.peer_epoch == o.peer_epoch
        } else {
            self.leader == o.leader && self.peer_epoch == o.peer_epoch
        }
    }
}

/// The voting members and their weights: a majority of the total weight (all weights 1 in a
/// plain ensemble), or ZooKeeper's hierarchical quorums when members are in groups.
#[derive(Debug, Clone)]
pub struct Members {
    pub weights: BTreeMap<i64, u64>,
    /// Each member's group, for hierarchical quorums.
    pub groups: Option<BTreeMap<i64, i64>>,
}

impl Members {
    pub fn majority(ids: &[i64]) -> Members {
        Members {
            weights: ids.iter().map(|&i| (i, 1)).collect(),
            groups: None,
        }
    }

    /// The participants of zoo.cfg's server list, with its groups and weights if any.
    pub fn from_config(q: &crate::config::QuorumConfig) -> Members {
        let voters: Vec<i64> = q
            .servers
            .values()
            .filter(|s| !s.observer)
            .map(|s| s.id as i64)
            .collect();
        if q.groups.is_empty() {
            return Members::majority(&voters);
        }
        Members {
            weights: voters
                .iter()
                .map(|v| (*v, q.weights.get(&(*v as u64)).copied().unwrap_or(1)))
                .collect(),
            groups: Some(
                q.groups
                    .iter()
                    .map(|(s, g)| (*s as i64, *g as i64))
                    .collect(),
            ),
        }
    }

    fn weight(&self, sid: i64) -> u64 {
        self.weights.get(&sid).copied().unwrap_or(0)
    }

    fn is_voter(&self, sid: i64) -> bool {
        self.weights.contains_key(&sid)
    }

    /// More than half of the total weight; with groups (QuorumHierarchical), more than half
    /// of the groups of nonzero weight each hold more than half of their weight.
    pub fn is_quorum<'a>(&self, sids: impl Iterator<Item = &'a i64>) -> bool {
        let Some(groups) = &self.groups else {
            let total: u64 = self.weights.values().sum();
            let have: u64 = sids.map(|s| self.weight(*s)).sum();
            return 2 * have > total;
        };
        let mut group_weight: BTreeMap<i64, u64> = BTreeMap::new();
        for (sid, gid) in groups {
            *group_weight.entry(*gid).or_default() += self.weight(*sid);
        }
        let counted = group_weight.values().filter(|w| **w > 0).count();
        let mut have: BTreeMap<i64, u64> = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        for sid in sids {
            if let (true, Some(gid)) = (seen.insert(*sid), groups.get(sid)) {
                *have.entry(*gid).or_default() += self.weight(*sid);
            }
        }
        let majorities = have
            .iter()
            .filter(|(gid, w)| **w > group_weight.get(gid).copied().unwrap_or(0) / 2)
            .count();
        majorities > counted / 2
    }
}

/// FastLeaderElection.totalOrderPredicate: does (epoch, zxid, id) beat the current choice?
/// A server of weight zero can never be chosen.
pub fn beats(m: &Members, new: (i64, i64, i64), cur: (i64, i64, i64)) -> bool {
    let (new_id, new_zxid, new_epoch) = new;
    let (cur_id, cur_zxid, cur_epoch) = cur;
    if m.weight(new_id) == 0 {
        return false;
    }
    new_epoch > cur_epoch
        || (new_epoch == cur_epoch
            && (new_zxid > cur_zxid || (new_zxid == cur_zxid && new_id > cur_id)))
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Send this notification to that server.
    Send(i64, Notification),
    /// Call [`Election::finalize_expired`] with this generation after ZooKeeper's
    /// finalizeWait (200 ms).
    ArmFinalize(u64),
    /// The election is over: follow (or lead, when it is this server) `leader`.
    Decided(Vote),
    /// While looking, a notification carried a configuration newer than this server's:
    /// the node makes it active (and starts a new round), as ZooKeeper's members do.
    NewerConfig(Bytes),
}

/// The version of a configuration text (its `version=<hex>` line).
pub fn config_version(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    let v = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("version="))?;
    u64::from_str_radix(v.trim(), 16).ok()
}

/// One server's election.
#[derive(Debug)]
pub struct Election {
    pub me: i64,
    members: Members,
    last_zxid: i64,
    current_epoch: i64,
    config: Bytes,
    pub state: PeerState,
    pub logical_clock: i64,
    proposed: (i64, i64, i64),
    recv: BTreeMap<i64, Vote>,
    out_of_election: BTreeMap<i64, Vote>,
    /// Quorum reached for the current proposal; waiting finalizeWait for a better vote.
    finalizing: bool,
    /// Which wait is current: a timer armed for an earlier proposal is ignored.
    finalize_gen: u64,
    /// The decision, once made (what is sent back to LOOKING peers).
    pub decided: Option<Vote>,
}

impl Election {
    pub fn new(me: i64, members: Members, config: Bytes) -> Election {
        Election {
            me,
            members,
            last_zxid: -1,
            current_epoch: -1,
            config,
            state: PeerState::Looking,
            logical_clock: 0,
            proposed: (me, -1, -1),
            recv: BTreeMap::new(),
            out_of_election: BTreeMap::new(),
            finalizing: false,
            finalize_gen: 0,
            decided: None,
        }
    }

    fn my_initial_vote(&self) -> (i64, i64, i64) {
        if self.members.is_voter(self.me) {
            (self.me, self.last_zxid, self.current_epoch)
        } else {
            // An observer proposes nobody (Long.MIN_VALUE), as in ZooKeeper.
            (i64::MIN, i64::MIN, i64::MIN)
        }
    }

    fn notification(&self) -> Notification {
        let (leader, zxid, peer_epoch) = match (&self.decided, self.state) {
            (Some(v), s) if s != PeerState::Looking => (v.leader, v.zxid, v.peer_epoch),
            _ => self.proposed,
        };
        Notification {
            state: self.state,
            leader,
            zxid,
            election_epoch: self.logical_clock,
            peer_epoch,
            version: NOTIFICATION_VERSION,
            config: self.config.clone(),
        }
    }

    fn broadcast(&self, out: &mut Vec<Out>) {
        for &sid in self.members.weights.keys() {
            if sid != self.me {
                out.push(Out::Send(sid, self.notification()));
            }
        }
    }

    /// lookForLeader: a new round with this server's history.
    pub fn start(&mut self, last_zxid: i64, current_epoch: i64, out: &mut Vec<Out>) {
        self.last_zxid = last_zxid;
        self.current_epoch = current_epoch;
        self.state = PeerState::Looking;
        self.decided = None;
        self.finalizing = false;
        self.logical_clock = self.logical_clock.saturating_add(1);
        self.recv.clear();
        self.out_of_election.clear();
        self.proposed = self.my_initial_vote();
        self.broadcast(out);
    }

    /// No notification for a while: ZooKeeper sends its notifications again.
    /// The leader established `epoch` (or this follower joined it): from now on this
    /// server's vote names that epoch, so that every settled member reports the same vote
    /// (leader, epoch) to a server that joins later. Without it a joiner can see the leader
    /// and its followers disagree on the epoch and never find a quorum.
    /// A new configuration is active: its voters count from now on, and its text goes in
    /// notifications.
    pub fn reconfigure(&mut self, members: Members, config: Bytes) {
        self.members = members;
        self.config = config;
        // A settled learner's answers say whether it now votes (a removed server made a
        // voter again follows; one removed observes), or looking peers cannot count it.
        if matches!(self.state, PeerState::Following | PeerState::Observing) {
            self.state = if self.members.is_voter(self.me) {
                PeerState::Following
            } else {
                PeerState::Observing
            };
            if let Some(v) = self.decided.as_mut() {
                v.state = self.state;
            }
        }
    }

    /// The node took a role without a round (a reconfiguration named its leader): answer
    /// with this vote, as after deciding.
    pub fn adopt(&mut self, mut v: Vote) {
        v.election_epoch = self.logical_clock;
        self.state = v.state;
        self.decided = Some(v);
        self.finalizing = false;
    }

    pub fn settled(&mut self, epoch: i64) {
        if let Some(v) = self.decided.as_mut() {
            v.peer_epoch = epoch;
        }
    }

    pub fn resend(&self, out: &mut Vec<Out>) {
        if self.state == PeerState::Looking {
            self.broadcast(out);
        }
    }

    fn decide(&mut self, leader: i64, zxid: i64, peer_epoch: i64, out: &mut Vec<Out>) {
        self.state = if leader == self.me {
            PeerState::Leading
        } else if self.members.is_voter(self.me) {
            PeerState::Following
        } else {
            PeerState::Observing
        };
        let v = Vote {
            leader,
            zxid,
            election_epoch: self.logical_clock,
            peer_epoch,
            state: self.state,
        };
        self.decided = Some(v);
        self.finalizing = false;
        out.push(Out::Decided(v));
    }

    fn quorum_for(&self, set: &BTreeMap<i64, Vote>, v: &Vote) -> bool {
        self.members
            .is_quorum(set.iter().filter(|(_, o)| o.same(v)).map(|(s, _)| s))
    }

    /// checkLeader: a leader other than this server must itself say it leads.
    fn leader_confirmed(&self, set: &BTreeMap<i64, Vote>, leader: i64, epoch: i64) -> bool {
        if leader != self.me {
            set.get(&leader)
                .is_some_and(|v| v.state == PeerState::Leading)
        } else {
            self.logical_clock == epoch
        }
    }

    /// A notification from `from`.
    pub fn receive(&mut self, from: i64, n: Notification, out: &mut Vec<Out>) {
        if self.state == PeerState::Looking && !n.config.is_empty() {
            let mine = config_version(&self.config).unwrap_or(0);
            if config_version(&n.config).is_some_and(|v| v > mine) {
                out.push(Out::NewerConfig(n.config.clone()));
            }
        }
        let i_vote = self.members.is_voter(self.me);
        if !self.members.is_voter(from) {
            // An observer's notification counts for nothing; a looking observer is told
            // this server's vote so that it can find the leader. While this server is itself
            // looking it answers only an observer not ahead of its round: answering one
            // whose clock it will never reach (it does not adopt an observer's round) would
            // draw an answer back, and so on without end.
            let answer = n.state == PeerState::Looking
                && i_vote
                && (self.state != PeerState::Looking || n.election_epoch <= self.logical_clock);
            if answer {
                out.push(Out::Send(from, self.notification()));
            }
            return;
        }
        if self.state != PeerState::Looking {
            // Settled: a peer still looking learns who leads (an observer's word would count
            // for nothing, so it keeps quiet).
            if n.state == PeerState::Looking && i_vote {
                out.push(Out::Send(from, self.notification()));
            }
            return;
        }
        if n.state == PeerState::Looking && n.election_epoch < self.logical_clock && i_vote {
            // A peer in an older round gets our current vote.
            out.push(Out::Send(from, self.notification()));
        }
        if !self.members.is_voter(n.leader) {
            return;
        }
        let vote = Vote {
            leader: n.leader,
            zxid: n.zxid,
            election_epoch: n.election_epoch,
            peer_epoch: n.peer_epoch,
            state: n.state,
        };
        match n.state {
            PeerState::Looking => {
                if n.zxid == -1 {
                    return; // a server that has not started its round
                }
                let theirs = (n.leader, n.zxid, n.peer_epoch);
                if n.election_epoch > self.logical_clock {
                    self.logical_clock = n.election_epoch;
                    self.recv.clear();
                    let mine = self.my_initial_vote();
                    self.proposed = if beats(&self.members, theirs, mine) {
                        theirs
                    } else {
                        mine
                    };
                    self.finalizing = false;
                    self.broadcast(out);
                } else if n.election_epoch < self.logical_clock {
                    return;
                } else if beats(&self.members, theirs, self.proposed) {
                    self.proposed = theirs;
                    self.finalizing = false;
                    self.broadcast(out);
                }
                self.recv.insert(from, vote);
                // Our own vote counts for the proposal.
                let (l, z, e) = self.proposed;
                let mine = Vote {
                    leader: l,
                    zxid: z,
                    election_epoch: self.logical_clock,
                    peer_epoch: e,
                    state: PeerState::Looking,
                };
                self.recv.insert(self.me, mine);
                if self.quorum_for(&self.recv, &mine) && !self.finalizing {
                    self.finalizing = true;
                    self.finalize_gen += 1;
                    out.push(Out::ArmFinalize(self.finalize_gen));
                }
            }
            PeerState::Observing => {}
            PeerState::Following | PeerState::Leading => {
                if n.election_epoch == self.logical_clock {
                    self.recv.insert(from, vote);
                    if self.quorum_for(&self.recv, &vote)
                        && self.leader_confirmed(&self.recv, n.leader, n.election_epoch)
                    {
                        self.decide(n.leader, n.zxid, n.peer_epoch, out);
                        return;
                    }
                }
                self.out_of_election.insert(from, vote);
                if self.quorum_for(&self.out_of_election, &vote)
                    && self.leader_confirmed(&self.out_of_election, n.leader, n.election_epoch)
                {
                    self.logical_clock = n.election_epoch;
                    self.decide(n.leader, n.zxid, n.peer_epoch, out);
                }
            }
        }
    }

    /// finalizeWait passed with no better vote: the proposal is the decision. (A better
    /// vote arriving meanwhile changed the proposal and cancelled the wait.)
    pub fn finalize_expired(&mut self, generation: u64, out: &mut Vec<Out>) {
        if self.state != PeerState::Looking || !self.finalizing || generation != self.finalize_gen {
            return;
        }
        let (l, z, e) = self.proposed;
        self.decide(l, z, e, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_layouts() {
        let n = Notification {
            state: PeerState::Looking,
            leader: 3,
            zxid: 0x1_0000_0005,
            election_epoch: 7,
            peer_epoch: 1,
            version: NOTIFICATION_VERSION,
            config: Bytes::from_static(b"server.1=a:2888:3888:participant\nversion=0"),
        };
        let b = n.encode();
        assert_eq!(b.len(), 44 + n.config.len());
        assert_eq!(&b[..4], &[0, 0, 0, 0]);
        assert_eq!(&b[36..40], &[0, 0, 0, 2]);
        assert_eq!(Notification::decode(&b).unwrap(), n);
        // The 40-byte form (no version) and the 28-byte form (peer epoch from the zxid).
        let n40 = Notification::decode(&b[..40]).unwrap();
        assert_eq!((n40.peer_epoch, n40.version), (1, 0));
        let n28 = Notification::decode(&b[..28]).unwrap();
        assert_eq!(n28.peer_epoch, 1);
        assert!(Notification::decode(&b[..27]).is_err());
        let mut bad = b.to_vec();
        bad[40..44].copy_from_slice(&1000i32.to_be_bytes());
        assert!(Notification::decode(&bad).is_err());
    }

    #[test]
    fn hierarchical_quorums_as_zookeeper_counts_them() {
        // Three groups of three, all weight 1: two servers in each of two groups suffice.
        let mut weights = BTreeMap::new();
        let mut groups = BTreeMap::new();
        for sid in 1..=9 {
            weights.insert(sid, 1);
            groups.insert(sid, (sid - 1) / 3 + 1);
        }
        let m = Members {
            weights,
            groups: Some(groups),
        };
        assert!(m.is_quorum([1, 2, 4, 5].iter()));
        assert!(
            !m.is_quorum([1, 2, 3, 4].iter()),
            "one group's majority only"
        );
        assert!(!m.is_quorum([1, 4, 7].iter()), "no group's majority");
        // A group of weight zero does not count: its servers neither help nor are needed.
        let mut z = m.clone();
        for sid in 7..=9 {
            z.weights.insert(sid, 0);
        }
        assert!(!z.is_quorum([1, 2, 7, 8, 9].iter()));
        assert!(z.is_quorum([1, 2, 4, 5].iter()));
        assert!(
            !beats(&z, (9, 100, 9), (1, 0, 0)),
            "weight zero never leads"
        );
    }

    #[test]
    fn vote_order_is_epoch_then_zxid_then_id() {
        let m = Members::majority(&[1, 2, 3]);
        assert!(beats(&m, (1, 5, 2), (3, 9, 1)));
        assert!(beats(&m, (1, 9, 1), (3, 5, 1)));
        assert!(beats(&m, (3, 5, 1), (2, 5, 1)));
        assert!(!beats(&m, (2, 5, 1), (2, 5, 1)));
        let mut w = Members::majority(&[1, 2, 3]);
        w.weights.insert(3, 0);
        assert!(!beats(&w, (3, 100, 9), (1, 0, 0)), "weight zero never wins");
    }

    #[test]
    fn a_voter_and_an_observer_do_not_answer_each_other_without_end() {
        let m = Members::majority(&[1, 2, 3]);
        let mut voter = Election::new(1, m.clone(), Bytes::new());
        let mut observer = Election::new(4, m.clone(), Bytes::new());
        let mut out = Vec::new();
        voter.start(0, 0, &mut out);
        // The observer is in a later round than the voter will ever reach on its own.
        for _ in 0..5 {
            observer.start(0, 0, &mut out);
        }
        let mut to_voter = vec![observer.notification()];
        let mut to_observer = Vec::new();
        let mut exchanged = 0;
        while !(to_voter.is_empty() && to_observer.is_empty()) {
            exchanged += 1;
            assert!(exchanged < 50, "the two keep answering each other");
            for n in std::mem::take(&mut to_voter) {
                let mut out = Vec::new();
                voter.receive(4, n, &mut out);
                to_observer.extend(out.into_iter().filter_map(|o| match o {
                    Out::Send(4, n) => Some(n),
                    _ => None,
                }));
            }
            for n in std::mem::take(&mut to_observer) {
                let mut out = Vec::new();
                observer.receive(1, n, &mut out);
                to_voter.extend(out.into_iter().filter_map(|o| match o {
                    Out::Send(1, n) => Some(n),
                    _ => None,
                }));
            }
        }
        // A looking observer in the voter's round is answered; once the voter has settled,
        // any looking observer is, so that it learns who leads. An observer answers nobody.
        let mut fresh = Election::new(5, m.clone(), Bytes::new());
        fresh.start(0, 0, &mut out);
        let answers = |e: &mut Election, from: i64, n: Notification| {
            let mut out = Vec::new();
            e.receive(from, n, &mut out);
            out.iter().filter(|o| matches!(o, Out::Send(..))).count()
        };
        assert_eq!(answers(&mut voter, 5, fresh.notification()), 1);
        voter.decide(2, 0, 0, &mut out);
        assert_eq!(answers(&mut voter, 4, observer.notification()), 1);
        assert_eq!(answers(&mut observer, 1, voter.notification()), 0);
    }

    /// Servers exchanging notifications through a queue that a seed shuffles. A server
    /// that is late misses what was sent before it started.
    fn run(ids: &[i64], history: &[(i64, i64)], seed: u64, late: Option<i64>) -> Vec<Vote> {
        let m = Members::majority(ids);
        let mut nodes: BTreeMap<i64, Election> = ids
            .iter()
            .map(|&i| (i, Election::new(i, m.clone(), Bytes::new())))
            .collect();
        let mut net: Vec<(i64, i64, Notification)> = Vec::new();
        let mut timers: Vec<(i64, u64)> = Vec::new();
        let mut rng = seed | 1;
        let mut next = |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n.max(1) as u64) as usize
        };
        let handle = |from: i64, out: Vec<Out>, net: &mut Vec<_>, timers: &mut Vec<(i64, u64)>| {
            for o in out {
                match o {
                    Out::Send(to, n) => net.push((from, to, n)),
                    Out::ArmFinalize(g) => timers.push((from, g)),
                    Out::Decided(_) | Out::NewerConfig(_) => {}
                }
            }
        };
        let start = |i: i64, nodes: &mut BTreeMap<i64, Election>| {
            let k = ids.iter().position(|x| *x == i).unwrap();
            let mut out = Vec::new();
            nodes
                .get_mut(&i)
                .unwrap()
                .start(history[k].0, history[k].1, &mut out);
            out
        };
        for &i in ids.iter().filter(|i| Some(**i) != late) {
            let out = start(i, &mut nodes);
            handle(i, out, &mut net, &mut timers);
        }
        let mut started_late = late.is_none();
        for step in 0..100_000 {
            if !started_late && (step == 50 || (net.is_empty() && timers.is_empty())) {
                let i = late.unwrap();
                let out = start(i, &mut nodes);
                handle(i, out, &mut net, &mut timers);
                started_late = true;
            }
            if net.is_empty() && timers.is_empty() {
                // Nothing in flight: servers still looking send their notifications again,
                // as ZooKeeper does when none arrives within its notification timeout.
                let looking: Vec<i64> = nodes
                    .values()
                    .filter(|e| e.state == PeerState::Looking && e.logical_clock > 0)
                    .map(|e| e.me)
                    .collect();
                if looking.is_empty() {
                    break;
                }
                for i in looking {
                    let mut out = Vec::new();
                    nodes[&i].resend(&mut out);
                    handle(i, out, &mut net, &mut timers);
                }
                continue;
            }
            // Deliver the messages in flight in a random order; a finalize wait ends only
            // when none is left (FLE's assumption: finalizeWait outlasts delivery).
            if net.is_empty() {
                let (t, g) = timers.remove(next(timers.len()));
                let mut out = Vec::new();
                nodes.get_mut(&t).unwrap().finalize_expired(g, &mut out);
                handle(t, out, &mut net, &mut timers);
                continue;
            }
            let (from, to, n) = net.remove(next(net.len()));
            if !started_late && Some(to) == late {
                continue; // not up yet: the message is lost
            }
            let mut out = Vec::new();
            nodes.get_mut(&to).unwrap().receive(from, n, &mut out);
            handle(to, out, &mut net, &mut timers);
        }
        nodes.values().filter_map(|e| e.decided).collect()
    }

    #[test]
    fn three_and_five_servers_agree_on_the_most_up_to_date() {
        for seed in 1..200u64 {
            let h3 = [(0x1_0000_0004, 1), (0x1_0000_0009, 1), (0x1_0000_0009, 1)];
            let d = run(&[1, 2, 3], &h3, seed, None);
            assert_eq!(d.len(), 3, "seed {seed}: not everyone decided");
            assert!(d.iter().all(|v| v.leader == 3), "seed {seed}: {d:?}");
            // A higher epoch beats a longer log.
            let h5 = [
                (0x2_0000_0001, 2),
                (0x1_0000_0090, 1),
                (0x2_0000_0001, 2),
                (0, 0),
                (5, 0),
            ];
            let d = run(&[1, 2, 3, 4, 5], &h5, seed, None);
            assert_eq!(d.len(), 5, "seed {seed}");
            assert!(d.iter().all(|v| v.leader == 3), "seed {seed}: {d:?}");
            let leaders = d.iter().filter(|v| v.state == PeerState::Leading).count();
            assert_eq!(leaders, 1, "seed {seed}");
        }
    }

    #[test]
    fn a_late_server_joins_the_leader_the_others_chose() {
        for seed in 1..100u64 {
            // Server 3 has the longest log but starts after the others settled on 2.
            let h = [(10, 1), (20, 1), (30, 1)];
            let d = run(&[1, 2, 3], &h, seed, Some(3));
            assert_eq!(d.len(), 3, "seed {seed}: {d:?}");
            let leader = d[0].leader;
            assert!(d.iter().all(|v| v.leader == leader), "seed {seed}: {d:?}");
        }
    }
}
