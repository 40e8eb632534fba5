//! The learner's side of ZAB discovery and synchronisation as a pure state machine: the
//! leader's packets in, actions out. The node carries the actions out in order (it writes the
//! epoch files, waits for the log, sends packets, truncates, goes back to election). No I/O,
//! no clock: what it decides is tested by the exact action vectors it returns.
//!
//! The order it enforces at NEWLEADER is the one ZooKeeper relies on since ZOOKEEPER-4643:
//! every txn received during synchronisation reaches the disk (log barrier), then the new
//! epoch becomes the current one (currentEpoch file), then the leader hears the ACK. A member
//! whose currentEpoch names the new epoch wins elections against members with the same
//! history, so it must hold that history durably first.

use std::collections::VecDeque;

/// Where the learner is in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// FOLLOWERINFO sent; waiting for LEADERINFO.
    Discovery,
    /// ACKEPOCH sent; the leader synchronises us (DIFF, TRUNC or SNAP, then NEWLEADER).
    Sync,
    /// UPTODATE received: serving clients.
    Serving,
}

/// What the node must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write `acceptedEpoch` durably.
    WriteAcceptedEpoch(i64),
    /// Write `currentEpoch` durably.
    WriteCurrentEpoch(i64),
    /// Send ACKEPOCH: the epoch this learner had as current (-1 when it had already accepted
    /// the proposed epoch) and its last zxid.
    SendAckEpoch { current_epoch: i32, last_zxid: i64 },
    /// Send ACK for this zxid.
    SendAck(i64),
    /// Wait until everything handed to the txn log is durable.
    LogBarrier,
    /// Drop every logged txn after this zxid (the leader's TRUNC).
    Truncate(i64),
    /// The leader's snapshot at this zxid follows on the stream.
    ExpectSnapshot(i64),
    /// Synchronised: serve clients from the epoch's first zxid on.
    Serve { epoch: i64 },
    /// Give up this leader and elect again.
    Look(String),
}

/// The learner's state between the leader's packets.
#[derive(Debug)]
pub struct Learner {
    phase: Phase,
    accepted_epoch: i64,
    current_epoch: i64,
    observer: bool,
    /// Proposals logged and not yet acknowledged, in zxid order.
    unacked: VecDeque<i64>,
    /// Proposals are acknowledged once durable, from NEWLEADER on (an observer never ACKs).
    acking: bool,
}

impl Learner {
    pub fn new(accepted_epoch: i64, current_epoch: i64, observer: bool) -> Learner {
        Learner {
            phase: Phase::Discovery,
            accepted_epoch,
            current_epoch,
            observer,
            unacked: VecDeque::new(),
            acking: false,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn accepted_epoch(&self) -> i64 {
        self.accepted_epoch
    }

    pub fn current_epoch(&self) -> i64 {
        self.current_epoch
    }

    /// LEADERINFO: the leader proposes `epoch`. A newer epoch is accepted (and written
    /// before the ACKEPOCH says so); the same epoch was accepted before (ACKEPOCH says -1); an
    /// older one means this leader is behind: elect again.
    pub fn leader_info(&mut self, epoch: i64, last_zxid: i64) -> Vec<Action> {
        if self.phase != Phase::Discovery {
            return Vec::new();
        }
        let mut out = Vec::new();
        let reply = if epoch > self.accepted_epoch {
            self.accepted_epoch = epoch;
            out.push(Action::WriteAcceptedEpoch(epoch));
            self.current_epoch as i32
        } else if epoch == self.accepted_epoch {
            -1
        } else {
            return vec![Action::Look(format!(
                "the leader proposes epoch {epoch}, older than accepted epoch {}",
                self.accepted_epoch
            ))];
        };
        out.push(Action::SendAckEpoch {
            current_epoch: reply,
            last_zxid,
        });
        self.phase = Phase::Sync;
        out
    }

    /// TRUNC: drop what was logged after `zxid`.
    pub fn trunc(&mut self, zxid: i64) -> Vec<Action> {
        if self.phase != Phase::Sync {
            return Vec::new();
        }
        vec![Action::Truncate(zxid)]
    }

    /// SNAP: the leader's snapshot at `zxid` comes next.
    pub fn snap(&mut self, zxid: i64) -> Vec<Action> {
        if self.phase != Phase::Sync {
            return Vec::new();
        }
        vec![Action::ExpectSnapshot(zxid)]
    }

    /// A proposal was handed to the log. Acknowledged once durable (see [`Learner::durable`]),
    /// even if its COMMIT comes first: a Java leader checks that ACKs come in order.
    pub fn logged(&mut self, zxid: i64) {
        if self.phase == Phase::Discovery || self.observer {
            return;
        }
        self.unacked.push_back(zxid);
    }

    /// The log made everything up to `zxid` durable.
    pub fn durable(&mut self, zxid: i64) -> Vec<Action> {
        if !self.acking {
            return Vec::new();
        }
        let mut out = Vec::new();
        while self.unacked.front().is_some_and(|z| *z <= zxid) {
            if let Some(z) = self.unacked.pop_front() {
                out.push(Action::SendAck(z));
            }
        }
        out
    }

    /// NEWLEADER for `epoch_zxid` (the new epoch's zxid 0). `applied` is the last zxid applied
    /// to the tree: proposals logged after it are still waiting for their COMMIT and are
    /// acknowledged here, since the barrier made them durable.
    pub fn new_leader(&mut self, epoch_zxid: i64, applied: i64) -> Vec<Action> {
        if self.phase != Phase::Sync {
            return Vec::new();
        }
        let epoch = jute::epoch_of(epoch_zxid);
        self.current_epoch = epoch;
        let mut out = vec![
            Action::LogBarrier,
            Action::WriteCurrentEpoch(epoch),
            Action::SendAck(epoch_zxid),
        ];
        let pending: Vec<i64> = self.unacked.drain(..).filter(|z| *z > applied).collect();
        if !self.observer {
            out.extend(pending.into_iter().map(Action::SendAck));
            self.acking = true;
        }
        out
    }

    /// The log was truncated or replaced by a snapshot: what was logged before is gone.
    pub fn forget_unacked(&mut self) {
        self.unacked.clear();
    }

    /// UPTODATE: serve.
    pub fn up_to_date(&mut self) -> Vec<Action> {
        if self.phase != Phase::Sync {
            return Vec::new();
        }
        self.phase = Phase::Serving;
        vec![Action::Serve {
            epoch: self.current_epoch,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::make_zxid;

    #[test]
    fn a_newer_epoch_is_written_before_ackepoch_says_so() {
        let mut l = Learner::new(2, 2, false);
        assert_eq!(
            l.leader_info(3, make_zxid(2, 7)),
            [
                Action::WriteAcceptedEpoch(3),
                Action::SendAckEpoch {
                    current_epoch: 2,
                    last_zxid: make_zxid(2, 7)
                }
            ]
        );
        assert_eq!(l.phase(), Phase::Sync);
        // A second LEADERINFO in Sync does nothing.
        assert!(l.leader_info(4, 0).is_empty());
    }

    #[test]
    fn the_same_epoch_is_acknowledged_with_minus_one_and_an_older_one_looks() {
        let mut l = Learner::new(5, 4, false);
        assert_eq!(
            l.leader_info(5, 9),
            [Action::SendAckEpoch {
                current_epoch: -1,
                last_zxid: 9
            }]
        );
        let mut l = Learner::new(5, 4, false);
        let a = l.leader_info(4, 9);
        assert!(matches!(a.as_slice(), [Action::Look(_)]), "{a:?}");
        assert_eq!(l.phase(), Phase::Discovery);
        assert_eq!(l.accepted_epoch(), 5);
    }

    #[test]
    fn newleader_makes_the_history_durable_then_the_epoch_then_acks() {
        let mut l = Learner::new(1, 1, false);
        l.leader_info(2, make_zxid(1, 3));
        // A DIFF's proposals, and two proposals in flight past the last commit.
        for c in 4..=6 {
            l.logged(make_zxid(1, c));
        }
        assert!(
            l.durable(make_zxid(1, 6)).is_empty(),
            "no ACK before NEWLEADER"
        );
        assert_eq!(
            l.new_leader(make_zxid(2, 0), make_zxid(1, 4)),
            [
                Action::LogBarrier,
                Action::WriteCurrentEpoch(2),
                Action::SendAck(make_zxid(2, 0)),
                Action::SendAck(make_zxid(1, 5)),
                Action::SendAck(make_zxid(1, 6)),
            ]
        );
        assert_eq!(l.current_epoch(), 2);
        // From now on, a proposal is acknowledged once durable, in order.
        l.logged(make_zxid(2, 1));
        l.logged(make_zxid(2, 2));
        assert_eq!(
            l.durable(make_zxid(2, 1)),
            [Action::SendAck(make_zxid(2, 1))]
        );
        assert_eq!(l.up_to_date(), [Action::Serve { epoch: 2 }]);
        assert_eq!(
            l.durable(make_zxid(2, 2)),
            [Action::SendAck(make_zxid(2, 2))]
        );
        assert_eq!(l.phase(), Phase::Serving);
    }

    #[test]
    fn an_observer_never_acknowledges_proposals() {
        let mut l = Learner::new(1, 1, true);
        l.leader_info(2, 0);
        l.logged(make_zxid(1, 1));
        assert_eq!(
            l.new_leader(make_zxid(2, 0), 0),
            [
                Action::LogBarrier,
                Action::WriteCurrentEpoch(2),
                Action::SendAck(make_zxid(2, 0)),
            ]
        );
        l.logged(make_zxid(2, 1));
        assert!(l.durable(make_zxid(2, 1)).is_empty());
    }

    #[test]
    fn sync_packets_outside_synchronisation_are_ignored() {
        let mut l = Learner::new(1, 1, false);
        assert!(l.trunc(5).is_empty());
        assert!(l.snap(5).is_empty());
        assert!(l.new_leader(make_zxid(2, 0), 0).is_empty());
        assert!(l.up_to_date().is_empty());
        l.leader_info(2, 0);
        assert_eq!(l.trunc(5), [Action::Truncate(5)]);
        assert_eq!(l.snap(7), [Action::ExpectSnapshot(7)]);
    }
}
