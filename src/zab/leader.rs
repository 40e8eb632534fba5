//! The leader's side of ZAB discovery and synchronisation as pure decisions: which epoch to
//! propose, when a learner may be synchronised, how (DIFF, TRUNC or SNAP), and when the
//! leader is established. The node keeps the links and the data, carries the actions out and
//! feeds the learners' packets in. No I/O, no clock.
//!
//! The rules are ZooKeeper's (Leader.getEpochToPropose, waitForEpochAck, waitForNewLeaderAck,
//! LearnerHandler.syncFollower):
//! - the new epoch is one past every accepted epoch of a quorum of voters (this one included);
//! - no learner is synchronised before a quorum of voters acknowledged the epoch, so that a
//!   voter ahead of this leader is found first (and the leader gives up);
//! - the leader is established, and serves, once a quorum of voters acknowledged NEWLEADER.

use super::election::Members;
use std::collections::{BTreeMap, BTreeSet};

/// What the node must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The epoch is chosen: write `acceptedEpoch`, then send LEADERINFO to every learner
    /// that introduced itself.
    NewEpoch(i64),
    /// A quorum acknowledged the epoch: synchronise every learner that sent ACKEPOCH.
    SyncWaiting,
    /// A quorum acknowledged NEWLEADER: write `currentEpoch`, send UPTODATE to the learners
    /// that acknowledged it, and serve.
    Establish(i64),
    /// This learner acknowledged NEWLEADER after the leader was established: UPTODATE.
    UpToDate(i64),
    /// Give up leading and elect again.
    Look(String),
}

/// How a learner whose log ends at some zxid is brought up to this leader's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPlan {
    /// It logged txns this leader does not have: drop those after this zxid.
    Trunc(i64),
    /// Send the committed txns from this index of the committed log on.
    Diff(usize),
    /// The committed log does not reach back far enough: send a snapshot.
    Snap,
}

/// Chooses how to synchronise a learner whose history ends at `peer`. `last` is the leader's
/// last applied zxid, `committed` the zxids of the committed log still held (in order), and
/// `floor` the zxid just before its first entry.
pub fn plan_sync(peer: i64, last: i64, floor: i64, committed: &[i64]) -> SyncPlan {
    if peer > last {
        // Proposals of an earlier epoch that never committed.
        return SyncPlan::Trunc(last);
    }
    if peer == last {
        return SyncPlan::Diff(committed.len());
    }
    if peer == floor {
        return SyncPlan::Diff(0);
    }
    match committed.iter().position(|z| *z == peer) {
        Some(i) => SyncPlan::Diff(i + 1),
        None => SyncPlan::Snap,
    }
}

/// The leader's discovery and synchronisation state.
#[derive(Debug)]
pub struct Discovery {
    me: i64,
    members: Members,
    /// A configuration seen but not yet active (a reconfiguration in this leader's log):
    /// its voters must make a quorum too, as ZooKeeper's leader requires.
    also: Option<Members>,
    /// FOLLOWERINFO's accepted epochs, by server id (this one included).
    infos: BTreeMap<i64, i64>,
    epoch: Option<i64>,
    /// Voters that acknowledged the epoch (this one included).
    epoch_acks: BTreeSet<i64>,
    /// Voters that acknowledged NEWLEADER (this one included).
    newleader_acks: BTreeSet<i64>,
    established: bool,
}

impl Discovery {
    /// A new leader whose own accepted epoch is `accepted`. A leader that is a quorum on its
    /// own (the other members are observers) chooses its epoch at once: see
    /// [`Discovery::start`].
    pub fn new(me: i64, members: Members, accepted: i64) -> Discovery {
        Discovery {
            me,
            members,
            also: None,
            infos: BTreeMap::from([(me, accepted)]),
            epoch: None,
            epoch_acks: BTreeSet::from([me]),
            newleader_acks: BTreeSet::from([me]),
            established: false,
        }
    }

    /// The voters of a configuration seen but not yet active count too.
    pub fn also_needs(&mut self, m: Members) {
        self.also = Some(m);
    }

    fn quorum<'a>(&self, sids: impl Iterator<Item = &'a i64> + Clone) -> bool {
        self.members.is_quorum(sids.clone()) && self.also.as_ref().is_none_or(|m| m.is_quorum(sids))
    }

    pub fn epoch(&self) -> Option<i64> {
        self.epoch
    }

    pub fn established(&self) -> bool {
        self.established
    }

    /// What the leader can decide before hearing from anyone.
    pub fn start(&mut self) -> Vec<Action> {
        let mut out = self.choose_epoch();
        out.extend(self.establish());
        out
    }

    fn choose_epoch(&mut self) -> Vec<Action> {
        if self.epoch.is_some() || !self.quorum(self.infos.keys()) {
            return Vec::new();
        }
        let epoch = self.infos.values().copied().max().unwrap_or(0) + 1;
        self.epoch = Some(epoch);
        vec![Action::NewEpoch(epoch)]
    }

    fn establish(&mut self) -> Vec<Action> {
        let Some(epoch) = self.epoch else {
            return Vec::new();
        };
        if self.established || !self.quorum(self.newleader_acks.iter()) {
            return Vec::new();
        }
        self.established = true;
        vec![Action::Establish(epoch)]
    }

    /// FOLLOWERINFO (or OBSERVERINFO) from `sid`, whose accepted epoch is `accepted`. Once the
    /// epoch is chosen, the node answers a learner with LEADERINFO at once.
    pub fn info(&mut self, sid: i64, accepted: i64) -> Vec<Action> {
        if self.epoch.is_some() {
            return Vec::new();
        }
        self.infos.insert(sid, accepted);
        let mut out = self.choose_epoch();
        out.extend(self.establish());
        out
    }

    /// A newer connection from `sid` replaced an older one: before establishment, its
    /// NEWLEADER acknowledgement belonged to the old connection.
    pub fn replaced(&mut self, sid: i64) {
        if !self.established {
            self.newleader_acks.remove(&sid);
        }
    }

    /// ACKEPOCH from `sid`: its current epoch (-1 when it had already accepted this epoch) and
    /// last zxid, against this leader's. A voter ahead of the leader makes it give up.
    pub fn ack_epoch(
        &mut self,
        sid: i64,
        their_epoch: i64,
        their_zxid: i64,
        observer: bool,
        mine: (i64, i64),
    ) -> Vec<Action> {
        let (my_epoch, my_zxid) = mine;
        if their_epoch > my_epoch || (their_epoch == my_epoch && their_zxid > my_zxid) {
            return vec![Action::Look(format!(
                "follower {sid} is ahead (epoch {their_epoch}, zxid 0x{their_zxid:x}) of this leader (epoch {my_epoch}, zxid 0x{my_zxid:x})"
            ))];
        }
        // A learner that had accepted the epoch already does not count, as in ZooKeeper.
        if their_epoch != -1 && !observer {
            self.epoch_acks.insert(sid);
        }
        if self.quorum(self.epoch_acks.iter()) {
            vec![Action::SyncWaiting]
        } else {
            Vec::new()
        }
    }

    /// `sid` acknowledged NEWLEADER.
    pub fn newleader_ack(&mut self, sid: i64) -> Vec<Action> {
        if self.established {
            return vec![Action::UpToDate(sid)];
        }
        self.newleader_acks.insert(sid);
        self.establish()
    }

    /// The voters whose NEWLEADER acknowledgement counted at establishment.
    pub fn newleader_acks(&self) -> &BTreeSet<i64> {
        &self.newleader_acks
    }

    pub fn me(&self) -> i64 {
        self.me
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::make_zxid;

    fn three() -> Members {
        Members::majority(&[1, 2, 3])
    }

    #[test]
    fn the_epoch_is_one_past_every_accepted_epoch_of_a_quorum() {
        let mut d = Discovery::new(3, three(), 4);
        assert!(d.start().is_empty(), "one voter of three is no quorum");
        assert_eq!(d.info(1, 6), [Action::NewEpoch(7)]);
        assert_eq!(d.epoch(), Some(7));
        // Later learners do not change it.
        assert!(d.info(2, 9).is_empty());
        assert_eq!(d.epoch(), Some(7));
    }

    #[test]
    fn a_leader_of_one_voter_chooses_its_epoch_and_establishes_at_once() {
        let mut d = Discovery::new(1, Members::majority(&[1]), 2);
        assert_eq!(d.start(), [Action::NewEpoch(3), Action::Establish(3)]);
        assert!(d.established());
    }

    #[test]
    fn learners_are_synchronised_only_once_a_quorum_acknowledged_the_epoch() {
        let members = Members::majority(&[1, 2, 3, 4, 5]);
        let mut d = Discovery::new(5, members, 1);
        d.info(1, 1);
        assert_eq!(d.info(2, 1), [Action::NewEpoch(2)]);
        let mine = (1, make_zxid(1, 10));
        assert!(d.ack_epoch(1, 1, make_zxid(1, 9), false, mine).is_empty());
        // An observer's and an already-accepted (-1) acknowledgement do not count.
        assert!(d.ack_epoch(4, 1, 0, true, mine).is_empty());
        assert!(d.ack_epoch(3, -1, 0, false, mine).is_empty());
        assert_eq!(
            d.ack_epoch(2, 1, make_zxid(1, 10), false, mine),
            [Action::SyncWaiting]
        );
    }

    #[test]
    fn a_voter_ahead_of_the_leader_makes_it_look() {
        let mut d = Discovery::new(3, three(), 1);
        d.info(1, 1);
        let a = d.ack_epoch(1, 1, make_zxid(1, 11), false, (1, make_zxid(1, 10)));
        assert!(matches!(a.as_slice(), [Action::Look(_)]), "{a:?}");
        let a = d.ack_epoch(2, 2, 0, false, (1, make_zxid(1, 10)));
        assert!(matches!(a.as_slice(), [Action::Look(_)]), "{a:?}");
    }

    #[test]
    fn establishment_needs_a_quorum_of_newleader_acks_from_current_connections() {
        let mut d = Discovery::new(3, three(), 1);
        d.info(1, 1);
        d.ack_epoch(1, 1, 0, false, (1, 0));
        // Server 1 acknowledges NEWLEADER, then reconnects: its acknowledgement is void.
        assert_eq!(d.newleader_ack(1), [Action::Establish(2)]);
        let mut d = Discovery::new(3, three(), 1);
        d.info(1, 1);
        d.replaced(1);
        d.info(2, 1);
        assert!(d.newleader_acks().len() == 1);
        assert_eq!(d.newleader_ack(2), [Action::Establish(2)]);
        // Once established, a late learner is told UPTODATE.
        assert_eq!(d.newleader_ack(1), [Action::UpToDate(1)]);
    }

    #[test]
    fn diff_trunc_or_snap_as_zookeeper_chooses() {
        let committed = [make_zxid(2, 5), make_zxid(2, 6), make_zxid(2, 7)];
        let (floor, last) = (make_zxid(2, 4), make_zxid(2, 7));
        // Up to date: an empty DIFF.
        assert_eq!(plan_sync(last, last, floor, &committed), SyncPlan::Diff(3));
        // Within the committed log: the txns after its zxid.
        assert_eq!(
            plan_sync(make_zxid(2, 5), last, floor, &committed),
            SyncPlan::Diff(1)
        );
        assert_eq!(plan_sync(floor, last, floor, &committed), SyncPlan::Diff(0));
        // Ahead of the leader: truncate to the leader's last zxid.
        assert_eq!(
            plan_sync(make_zxid(2, 9), last, floor, &committed),
            SyncPlan::Trunc(last)
        );
        // Behind the committed log, or on a history the log does not hold: a snapshot.
        assert_eq!(
            plan_sync(make_zxid(1, 3), last, floor, &committed),
            SyncPlan::Snap
        );
        assert_eq!(plan_sync(0, last, floor, &[]), SyncPlan::Snap);
    }
}
