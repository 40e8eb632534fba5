//! The commit queue: per session, every request that has not been answered yet, in the order
//! it arrived. A session's replies leave only from the head of its queue, so they leave in
//! request order whatever the group-commit batch boundaries, the role of the node (standalone,
//! leader, follower) or the order in which the things they wait for complete.
//!
//! A queue holds two kinds of entries:
//! - an *awaited* entry: a request whose answer depends on something outside the session's
//!   own order: a write waiting for its txn to be applied (known by its zxid on the node that
//!   proposed it, by its cxid on a follower that forwarded it), a follower's sync waiting for
//!   the leader's answer. It carries its continuation, and once completed, the outcome;
//! - a *held* entry: a request that is answered from the local tree (a read, setWatches, ...)
//!   and must not be answered before the entries in front of it.
//!
//! `release` pops from the head every held entry and every completed awaited entry, and
//! stops at the first awaited entry still waiting. The node answers what it pops in that
//! order: a held read is answered at that moment, against the tree as it is right after the
//! session's earlier writes were applied and before its later writes are.
//!
//! The queue is generic over the continuation (`T`), the outcome (`O`) and the held request
//! (`H`), so that it holds no node types and is tested on its own.

use std::collections::{HashMap, VecDeque};

/// What an awaited entry waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaits {
    /// The txn this node proposed with this zxid is applied.
    Zxid(i64),
    /// The txn of this session with this cxid is applied (a request a follower forwarded
    /// to its leader: the follower learns the zxid only when the leader commits it).
    Cxid(i32),
    /// The leader answered a sync this follower forwarded.
    Sync,
}

enum Entry<T, O, H> {
    Awaited {
        awaits: Awaits,
        then: T,
        outcome: Option<O>,
    },
    Held(H),
}

/// An entry popped from the head of a session's queue, to be answered now.
pub enum Released<T, O, H> {
    /// An awaited entry with its outcome.
    Done(T, O),
    /// A held request: answer it now.
    Held(H),
}

pub struct CommitQueue<T, O, H> {
    sessions: HashMap<i64, VecDeque<Entry<T, O, H>>>,
    /// Entries in all queues.
    len: usize,
    /// Held entries in all queues (what `mntr` counts as outstanding, beside proposals).
    held: usize,
}

impl<T, O, H> Default for CommitQueue<T, O, H> {
    fn default() -> Self {
        CommitQueue {
            sessions: HashMap::new(),
            len: 0,
            held: 0,
        }
    }
}

impl<T, O, H> CommitQueue<T, O, H> {
    /// True if the session has requests not answered yet: a new request of the session
    /// that is answered locally must then be held.
    pub fn busy(&self, session: i64) -> bool {
        self.sessions.contains_key(&session)
    }

    /// Entries in all sessions' queues.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Held entries in all sessions' queues.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Appends a request that waits for `awaits`.
    pub fn push_awaited(&mut self, session: i64, awaits: Awaits, then: T) {
        self.sessions
            .entry(session)
            .or_default()
            .push_back(Entry::Awaited {
                awaits,
                then,
                outcome: None,
            });
        self.len += 1;
    }

    /// Appends a request to answer once everything before it is answered. The caller holds
    /// only when `busy(session)`; an entry held in an empty queue is released at the next
    /// `release` of the session.
    pub fn hold(&mut self, session: i64, held: H) {
        self.sessions
            .entry(session)
            .or_default()
            .push_back(Entry::Held(held));
        self.len += 1;
        self.held += 1;
    }

    /// Records the outcome of the session's first still-waiting entry that waits for
    /// `awaits`. Returns the outcome back if no entry waits for it (the txn was not this
    /// node's client request: a learner's, an expiry, or a session since forgotten).
    pub fn complete(&mut self, session: i64, awaits: Awaits, outcome: O) -> Result<(), O> {
        let Some(q) = self.sessions.get_mut(&session) else {
            return Err(outcome);
        };
        let slot = q.iter_mut().find_map(|e| match e {
            Entry::Awaited {
                awaits: a,
                outcome: o @ None,
                ..
            } if *a == awaits => Some(o),
            _ => None,
        });
        match slot {
            Some(o) => {
                *o = Some(outcome);
                Ok(())
            }
            None => Err(outcome),
        }
    }

    /// Pops, in order, what the session can answer now: held entries and completed awaited
    /// entries up to the first awaited entry that still waits.
    pub fn release(&mut self, session: i64, out: &mut Vec<Released<T, O, H>>) {
        let Some(q) = self.sessions.get_mut(&session) else {
            return;
        };
        while let Some(front) = q.front() {
            if matches!(front, Entry::Awaited { outcome: None, .. }) {
                break;
            }
            match q.pop_front() {
                Some(Entry::Awaited {
                    then,
                    outcome: Some(o),
                    ..
                }) => out.push(Released::Done(then, o)),
                Some(Entry::Held(h)) => {
                    self.held -= 1;
                    out.push(Released::Held(h))
                }
                _ => break,
            }
            self.len -= 1;
        }
        if q.is_empty() {
            self.sessions.remove(&session);
        }
    }

    /// Drops every session's entries (the node left its role, or its state was replaced):
    /// their connections are closed, and the clients learn the outcome when they reconnect.
    pub fn clear(&mut self) {
        self.sessions.clear();
        self.len = 0;
        self.held = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Q = CommitQueue<&'static str, i64, &'static str>;

    fn names(out: Vec<Released<&'static str, i64, &'static str>>) -> Vec<String> {
        out.into_iter()
            .map(|r| match r {
                Released::Done(t, o) => format!("{t}@{o}"),
                Released::Held(h) => h.to_string(),
            })
            .collect()
    }

    #[test]
    fn reads_between_two_writes_of_one_batch_leave_between_their_replies() {
        let mut q = Q::default();
        q.push_awaited(1, Awaits::Zxid(10), "w1");
        q.hold(1, "r1");
        q.hold(1, "r2");
        q.push_awaited(1, Awaits::Zxid(11), "w2");
        q.hold(1, "r3");
        let mut out = Vec::new();
        // Both writes applied in one batch: w1, then its reads, then w2 and its read.
        q.complete(1, Awaits::Zxid(10), 10).unwrap();
        q.release(1, &mut out);
        assert_eq!(names(std::mem::take(&mut out)), ["w1@10", "r1", "r2"]);
        q.complete(1, Awaits::Zxid(11), 11).unwrap();
        q.release(1, &mut out);
        assert_eq!(names(out), ["w2@11", "r3"]);
        assert!(!q.busy(1));
        assert!(q.is_empty());
    }

    #[test]
    fn an_entry_completed_before_those_in_front_of_it_waits_for_them() {
        let mut q = Q::default();
        q.push_awaited(7, Awaits::Cxid(1), "fwd");
        q.push_awaited(7, Awaits::Sync, "sync");
        q.hold(7, "read");
        let mut out = Vec::new();
        q.complete(7, Awaits::Sync, 0).unwrap();
        q.release(7, &mut out);
        assert!(out.is_empty());
        assert_eq!((q.len(), q.held()), (3, 1));
        q.complete(7, Awaits::Cxid(1), 5).unwrap();
        q.release(7, &mut out);
        assert_eq!(names(out), ["fwd@5", "sync@0", "read"]);
    }

    #[test]
    fn an_outcome_nobody_waits_for_is_handed_back() {
        let mut q = Q::default();
        assert_eq!(q.complete(3, Awaits::Zxid(1), 1), Err(1));
        q.push_awaited(3, Awaits::Zxid(2), "w");
        assert_eq!(q.complete(3, Awaits::Zxid(1), 1), Err(1));
        assert_eq!(q.complete(4, Awaits::Zxid(2), 2), Err(2));
        // Completed once only.
        q.complete(3, Awaits::Zxid(2), 2).unwrap();
        assert_eq!(q.complete(3, Awaits::Zxid(2), 2), Err(2));
    }

    #[test]
    fn sessions_are_independent() {
        let mut q = Q::default();
        q.push_awaited(1, Awaits::Zxid(1), "a");
        q.hold(1, "a-read");
        q.push_awaited(2, Awaits::Zxid(2), "b");
        q.hold(2, "b-read");
        let mut out = Vec::new();
        q.complete(2, Awaits::Zxid(2), 2).unwrap();
        q.release(2, &mut out);
        assert_eq!(names(std::mem::take(&mut out)), ["b@2", "b-read"]);
        assert!(q.busy(1));
        assert!(!q.busy(2));
        q.clear();
        assert!(!q.busy(1));
        assert_eq!(q.len(), 0);
    }
}
