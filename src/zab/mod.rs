//! The agreement core as a pure state machine: events in (a proposal, a durable zxid), actions
//! out (persist this, commit up to that). It does no I/O; `node.rs` carries out the actions.
//!
//! Standalone is a one-node ensemble: the node's own durable write is a quorum, so a proposal
//! commits as soon as the node reports it durable. The replicated ensemble (leader election and
//! ZAB broadcast) grows from this same interface.

pub mod cnx;
pub mod election;

/// What the runtime must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Make the proposal with this zxid durable, then report it with [`Standalone::durable`].
    Persist(i64),
    /// Every proposal up to and including this zxid is committed: apply them in order.
    Commit(i64),
}

#[derive(Debug, Default)]
pub struct Standalone {
    proposed: i64,
    durable: i64,
    committed: i64,
}

impl Standalone {
    pub fn new(last_zxid: i64) -> Self {
        Standalone {
            proposed: last_zxid,
            durable: last_zxid,
            committed: last_zxid,
        }
    }

    /// A new proposal; zxids must be proposed in increasing order.
    pub fn propose(&mut self, zxid: i64, out: &mut Vec<Action>) {
        debug_assert!(zxid > self.proposed, "zxids are proposed in order");
        self.proposed = zxid;
        out.push(Action::Persist(zxid));
    }

    /// The log reports everything up to `zxid` durable: with a quorum of one, that commits it.
    pub fn durable(&mut self, zxid: i64, out: &mut Vec<Action>) {
        let zxid = zxid.min(self.proposed);
        if zxid > self.durable {
            self.durable = zxid;
        }
        if self.durable > self.committed {
            self.committed = self.durable;
            out.push(Action::Commit(self.committed));
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
        let mut z = Standalone::new(0);
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
}
