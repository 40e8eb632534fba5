//! The agreement core as a pure state machine: events in (a proposal, a durable zxid), actions
//! out (persist this, commit up to that). It does no I/O; the node (`src/node/`) carries out the actions.
//! `leader` and `learner` hold ZAB's discovery and synchronisation decisions the same way.
//!
//! Standalone is a one-node ensemble: the node's own durable write is a quorum, so a proposal
//! commits as soon as the node reports it durable. The replicated ensemble (leader election and
//! ZAB broadcast) grows from this same interface.

pub mod cnx;
pub mod election;
pub mod leader;
pub mod learner;

/// What the runtime must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Make the proposal with this zxid durable, then report it with [`Broadcast::durable`].
    Persist(i64),
    /// Every proposal up to and including this zxid is committed: apply them in order.
    Commit(i64),
}

/// The leader's side of ZAB broadcast: which proposals a quorum of voters hold durably.
/// Learners log in zxid order and acknowledge in that order over one TCP stream, so an
/// acknowledgement of a zxid stands for every proposal before it. A standalone server is a
/// leader whose only voter is itself.
#[derive(Debug)]
pub struct Broadcast {
    me: i64,
    members: election::Members,
    /// Per member, the highest zxid it has reported durable.
    acked: std::collections::BTreeMap<i64, i64>,
    proposed: i64,
    committed: i64,
    /// A reconfiguration in flight: its zxid and the new configuration's voters. It and
    /// every proposal after it need a quorum of the new voters as well as of the current
    /// ones, until it is activated.
    pending: Option<(i64, election::Members)>,
}

impl Broadcast {
    pub fn new(me: i64, members: election::Members, last_zxid: i64) -> Self {
        let mut acked = std::collections::BTreeMap::new();
        acked.insert(me, last_zxid);
        Broadcast {
            me,
            members,
            acked,
            proposed: last_zxid,
            committed: last_zxid,
            pending: None,
        }
    }

    /// A quorum of one: the node itself.
    pub fn standalone(last_zxid: i64) -> Self {
        Broadcast::new(0, election::Members::majority(&[0]), last_zxid)
    }

    /// A new proposal; zxids must be proposed in increasing order.
    pub fn propose(&mut self, zxid: i64, out: &mut Vec<Action>) {
        debug_assert!(zxid > self.proposed, "zxids are proposed in order");
        self.proposed = zxid;
        out.push(Action::Persist(zxid));
    }

    /// The local log reports everything up to `zxid` durable.
    pub fn durable(&mut self, zxid: i64, out: &mut Vec<Action>) {
        self.ack(self.me, zxid, out);
    }

    /// Member `sid` holds every proposal up to `zxid` durably.
    pub fn ack(&mut self, sid: i64, zxid: i64, out: &mut Vec<Action>) {
        // A member cannot hold a proposal not yet made: such an acknowledgement (stray, or
        // from a member's older history) counts for nothing, as in ZooKeeper.
        if sid != self.me && zxid > self.proposed {
            return;
        }
        let zxid = zxid.min(self.proposed);
        let e = self.acked.entry(sid).or_insert(i64::MIN);
        if zxid <= *e {
            return;
        }
        *e = zxid;
        self.recheck(out);
    }

    /// Commits what a quorum holds now. Never past a reconfiguration in flight in one step:
    /// it commits alone, so that its activation (and a hand-over to another leader) comes
    /// before anything proposed after it commits.
    fn recheck(&mut self, out: &mut Vec<Action>) {
        // The highest zxid a quorum holds: walk the acknowledgements from the highest down
        // until the members at or above it form a quorum.
        let mut by: Vec<(i64, i64)> = self.acked.iter().map(|(s, z)| (*z, *s)).collect();
        by.sort_unstable_by(|a, b| b.cmp(a));
        let mut holders = Vec::with_capacity(by.len());
        let cap = match &self.pending {
            Some((at, _)) if *at > self.committed => *at,
            _ => i64::MAX,
        };
        for (z, s) in by {
            holders.push(s);
            if z <= self.committed {
                break;
            }
            let z = z.min(cap);
            let new_quorum = match &self.pending {
                Some((at, m)) if z >= *at => m.is_quorum(holders.iter()),
                _ => true,
            };
            if self.members.is_quorum(holders.iter()) && new_quorum {
                self.committed = z;
                out.push(Action::Commit(z));
                break;
            }
        }
    }

    /// The proposal `zxid` (just proposed) changes the configuration to `members`.
    pub fn propose_reconfig(&mut self, zxid: i64, members: election::Members) {
        self.pending = Some((zxid, members));
    }

    /// A configuration is active: its voters alone count from now on.
    pub fn activate(&mut self, members: election::Members, out: &mut Vec<Action>) {
        self.members = members;
        self.pending = None;
        self.recheck(out);
    }

    /// The highest zxid `sid` has acknowledged.
    pub fn acked(&self, sid: i64) -> Option<i64> {
        self.acked.get(&sid).copied()
    }

    /// Whether `sid` has acknowledged everything up to `zxid`.
    pub fn has_acked(&self, sid: i64, zxid: i64) -> bool {
        self.acked.get(&sid).is_some_and(|z| *z >= zxid)
    }

    /// A member left: its acknowledgements no longer count.
    pub fn forget(&mut self, sid: i64) {
        if sid != self.me {
            self.acked.remove(&sid);
        }
    }

    pub fn last_committed(&self) -> i64 {
        self.committed
    }

    pub fn last_proposed(&self) -> i64 {
        self.proposed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_node_commits_what_is_durable_in_order() {
        let mut z = Broadcast::standalone(0);
        let mut out = Vec::new();
        z.propose(1, &mut out);
        z.propose(2, &mut out);
        assert_eq!(out, vec![Action::Persist(1), Action::Persist(2)]);
        out.clear();
        z.durable(1, &mut out);
        assert_eq!(out, vec![Action::Commit(1)]);
        out.clear();
        z.durable(1, &mut out);
        assert!(out.is_empty(), "nothing new is durable");
        z.durable(5, &mut out);
        assert_eq!(out, vec![Action::Commit(2)], "never past what was proposed");
    }

    #[test]
    fn a_leader_commits_what_a_quorum_holds() {
        let m = election::Members::majority(&[1, 2, 3]);
        let mut z = Broadcast::new(1, m, 10);
        let mut out = Vec::new();
        for zxid in 11..=14 {
            z.propose(zxid, &mut out);
        }
        out.clear();
        z.durable(14, &mut out);
        assert!(out.is_empty(), "the leader alone is no quorum of three");
        z.ack(2, 12, &mut out);
        assert_eq!(out, vec![Action::Commit(12)]);
        out.clear();
        z.ack(3, 11, &mut out);
        assert!(out.is_empty(), "11 is already committed");
        z.ack(3, 14, &mut out);
        assert_eq!(out, vec![Action::Commit(14)]);
        out.clear();
        z.forget(3);
        z.propose(15, &mut out);
        out.clear();
        z.ack(2, 15, &mut out);
        assert!(out.is_empty(), "the leader has not logged 15 yet");
        z.durable(15, &mut out);
        assert_eq!(out, vec![Action::Commit(15)]);
    }

    #[test]
    fn a_reconfiguration_needs_both_quorums_until_active() {
        let mut z = Broadcast::new(1, election::Members::majority(&[1, 2, 3]), 0);
        let mut out = Vec::new();
        z.propose(1, &mut out);
        z.propose_reconfig(1, election::Members::majority(&[1, 4, 5]));
        z.propose(2, &mut out);
        out.clear();
        z.durable(2, &mut out);
        z.ack(2, 2, &mut out);
        assert!(
            out.is_empty(),
            "1 and 2 are a quorum of the old voters only"
        );
        z.ack(4, 2, &mut out);
        assert_eq!(out, vec![Action::Commit(1)], "the reconfiguration alone");
        assert!(z.has_acked(4, 2) && !z.has_acked(3, 1));
        out.clear();
        z.activate(election::Members::majority(&[1, 4, 5]), &mut out);
        assert_eq!(
            out,
            vec![Action::Commit(2)],
            "1 and 4 are a quorum of the new voters"
        );
        out.clear();
        z.propose(3, &mut out);
        out.clear();
        z.durable(3, &mut out);
        z.ack(2, 3, &mut out);
        assert!(out.is_empty(), "2 no longer votes");
        z.ack(5, 3, &mut out);
        assert_eq!(out, vec![Action::Commit(3)]);
    }

    #[test]
    fn a_reconfiguration_commits_alone() {
        let mut z = Broadcast::new(1, election::Members::majority(&[1, 2, 3]), 0);
        let mut out = Vec::new();
        z.propose(1, &mut out);
        z.propose_reconfig(1, election::Members::majority(&[1, 2, 3]));
        z.propose(2, &mut out);
        z.propose(3, &mut out);
        out.clear();
        z.durable(3, &mut out);
        z.ack(2, 3, &mut out);
        assert_eq!(
            out,
            vec![Action::Commit(1)],
            "the reconfiguration first, alone"
        );
        out.clear();
        z.activate(election::Members::majority(&[1, 2, 3]), &mut out);
        assert_eq!(out, vec![Action::Commit(3)], "the rest once it is active");
    }

    #[test]
    fn weights_of_zero_do_not_count() {
        let mut m = election::Members::majority(&[1, 2, 3]);
        m.weights.insert(3, 0);
        let mut z = Broadcast::new(1, m, 0);
        let mut out = Vec::new();
        z.propose(1, &mut out);
        out.clear();
        z.ack(3, 1, &mut out);
        z.durable(1, &mut out);
        assert!(
            out.is_empty(),
            "weight 2 of 2 needs both voters of weight 1"
        );
        z.ack(2, 1, &mut out);
        assert_eq!(out, vec![Action::Commit(1)]);
    }
}
