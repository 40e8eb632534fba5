//! A linearizability checker for one register with versions (a znode's data and its
//! version), in the manner of Knossos and porcupine: the Wing-Gong search with Lowe's
//! memoisation of (set of operations linearized, register state). Operations whose outcome
//! is unknown (the client lost its connection) may take effect at any point after they were
//! invoked, or never.

use std::collections::HashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct State {
    pub value: i64,
    pub version: i32,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Read {
        value: i64,
        version: i32,
    },
    /// `version`: the new version the server answered, or None if unknown.
    Write {
        value: i64,
        version: Option<i32>,
    },
    /// `outcome`: None unknown; Some(None) refused (bad version); Some(Some(v)) done.
    Cas {
        expected: i32,
        value: i64,
        outcome: Option<Option<i32>>,
    },
}

#[derive(Debug, Clone)]
pub struct Op {
    pub call: u64,
    /// u64::MAX when the outcome is unknown.
    pub ret: u64,
    pub kind: Kind,
}

fn step(s: State, k: &Kind) -> Option<State> {
    match *k {
        Kind::Read { value, version } => (s.value == value && s.version == version).then_some(s),
        Kind::Write { value, version } => {
            let v = s.version + 1;
            version
                .is_none_or(|got| got == v)
                .then_some(State { value, version: v })
        }
        Kind::Cas {
            expected,
            value,
            outcome,
        } => {
            let applies = s.version == expected;
            let next = State {
                value,
                version: s.version + 1,
            };
            match outcome {
                None => Some(if applies { next } else { s }),
                Some(None) => (!applies).then_some(s),
                Some(Some(got)) => (applies && got == next.version).then_some(next),
            }
        }
    }
}

const NIL: usize = usize::MAX;

/// Checks that the history is linearizable from `init`.
pub fn check(ops: &[Op], init: State) -> Result<(), String> {
    // Entries: (time, is_return, op); calls sort before returns at equal times.
    let mut ev: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * ops.len());
    for (i, o) in ops.iter().enumerate() {
        ev.push((o.call, false, i));
        ev.push((o.ret, true, i));
    }
    ev.sort();
    let n = ev.len();
    // A doubly linked list over the entries, with a head at index n.
    let mut next = vec![NIL; n + 1];
    let mut prev = vec![NIL; n + 1];
    let mut ret_of = vec![NIL; ops.len()];
    let mut call_of = vec![NIL; ops.len()];
    for (i, e) in ev.iter().enumerate() {
        if e.1 {
            ret_of[e.2] = i;
        } else {
            call_of[e.2] = i;
        }
    }
    let head = n;
    let mut last = head;
    for (i, p) in prev.iter_mut().enumerate().take(n) {
        next[last] = i;
        *p = last;
        last = i;
    }
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, i: usize| {
        let (p, q) = (prev[i], next[i]);
        next[p] = q;
        if q != NIL {
            prev[q] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, i: usize| {
        let (p, q) = (prev[i], next[i]);
        next[p] = i;
        if q != NIL {
            prev[q] = i;
        }
    };
    let words = ops.len().div_ceil(64);
    let mut done = vec![0u64; words];
    let mut seen: HashSet<(Vec<u64>, State)> = HashSet::new();
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut state = init;
    let mut entry = next[head];
    let mut deepest = 0usize;
    while entry != NIL {
        let (_, is_ret, op) = ev[entry];
        if is_ret && ops[op].ret == u64::MAX {
            // Only operations of unknown outcome remain: they may never have happened.
            return Ok(());
        }
        if !is_ret {
            if let Some(s) = step(state, &ops[op].kind) {
                done[op / 64] |= 1 << (op % 64);
                if seen.insert((done.clone(), s)) {
                    stack.push((op, state));
                    deepest = deepest.max(stack.len());
                    state = s;
                    unlink(&mut next, &mut prev, call_of[op]);
                    unlink(&mut next, &mut prev, ret_of[op]);
                    entry = next[head];
                    continue;
                }
                done[op / 64] &= !(1 << (op % 64));
            }
            entry = next[entry];
        } else {
            // An operation returned before it could be placed: undo the last choice.
            let Some((o, s)) = stack.pop() else {
                return Err(format!(
                    "not linearizable: {} operations, at most {deepest} could be ordered; stuck at {:?}",
                    ops.len(),
                    ops[op]
                ));
            };
            state = s;
            done[o / 64] &= !(1 << (o % 64));
            relink(&mut next, &mut prev, ret_of[o]);
            relink(&mut next, &mut prev, call_of[o]);
            entry = next[call_of[o]];
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(call: u64, ret: u64, kind: Kind) -> Op {
        Op { call, ret, kind }
    }

    const ZERO: State = State {
        value: 0,
        version: 0,
    };

    #[test]
    fn accepts_concurrent_orders_and_rejects_stale_reads() {
        let w = |v, ver| Kind::Write {
            value: v,
            version: Some(ver),
        };
        let r = |v, ver| Kind::Read {
            value: v,
            version: ver,
        };
        // Two overlapping writes; reads see them in one order.
        let ok = vec![op(0, 10, w(1, 2)), op(1, 11, w(2, 1)), op(12, 13, r(1, 2))];
        assert!(check(&ok, ZERO).is_ok());
        // A read after a completed write sees the old value: stale.
        let stale = vec![op(0, 5, w(1, 1)), op(6, 7, r(0, 0))];
        assert!(check(&stale, ZERO).is_err());
        // An unknown write may explain a later read, or never happen.
        let unknown = |v| Kind::Write {
            value: v,
            version: None,
        };
        assert!(check(&[op(0, u64::MAX, unknown(5)), op(3, 4, r(5, 1))], ZERO).is_ok());
        assert!(check(&[op(0, u64::MAX, unknown(5)), op(3, 4, r(0, 0))], ZERO).is_ok());
        // A refused compare-and-set means the version differed at that moment.
        let cas = |e, v, o| Kind::Cas {
            expected: e,
            value: v,
            outcome: o,
        };
        assert!(check(&[op(0, 1, cas(0, 9, Some(None)))], ZERO).is_err());
        assert!(check(
            &[op(0, 1, cas(0, 9, Some(Some(1)))), op(2, 3, r(9, 1))],
            ZERO
        )
        .is_ok());
    }
}
