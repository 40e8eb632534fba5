//! Sessions: ids and passwords made exactly as Java ZooKeeper makes them, timeouts, and expiry
//! in tick-sized buckets (ZooKeeper's ExpiryQueue). Not replicated state: the tree only sees
//! createSession and closeSession transactions.

use std::collections::{BTreeMap, HashMap, HashSet};

/// `ZooKeeperServer.superSecret`, mixed into the password seed.
const SUPER_SECRET: i64 = 0xB3415C00;

/// A bit-exact port of `java.util.Random` (the 48-bit LCG), enough for `nextBytes`.
pub struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULT: u64 = 0x5DEECE66D;
    const MASK: u64 = (1 << 48) - 1;

    pub fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed as u64 ^ Self::MULT) & Self::MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self.seed.wrapping_mul(Self::MULT).wrapping_add(0xB)) & Self::MASK;
        (self.seed >> (48 - bits)) as i64 as i32
    }

    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// Fills `out` four bytes per `nextInt`, low byte first, as Java does.
    pub fn next_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(4) {
            let mut r = self.next_int();
            for b in chunk {
                *b = r as u8;
                r >>= 8;
            }
        }
    }
}

/// The password of a session: `new Random(id ^ superSecret).nextBytes(byte[16])`.
pub fn session_password(session_id: i64) -> [u8; 16] {
    let mut p = [0u8; 16];
    JavaRandom::new(session_id ^ SUPER_SECRET).next_bytes(&mut p);
    p
}

/// The first session id of a server: its id in the top byte, then milliseconds since an
/// arbitrary origin shifted as `SessionTrackerImpl.initializeNextSessionId` shifts them.
pub fn initial_session_id(server_id: u64, now_ms: u64) -> i64 {
    let mut next = (((now_ms as i64) << 24) as u64 >> 8) as i64;
    next |= (server_id as i64) << 56;
    if next == i64::MIN {
        next += 1; // never collide with the container owner marker
    }
    next
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub timeout_ms: u32,
    /// The tick-aligned time (ms) at which the session expires unless touched.
    pub expires_at: u64,
    pub closing: bool,
}

/// Live sessions and their expiry buckets. Time is in ms on a monotonic clock owned by the
/// caller, so tests and the server agree on what "now" is.
pub struct SessionTracker {
    tick_ms: u64,
    next_id: i64,
    sessions: HashMap<i64, Session>,
    buckets: BTreeMap<u64, HashSet<i64>>,
}

impl SessionTracker {
    pub fn new(tick_ms: u32, server_id: u64, now_ms: u64) -> Self {
        SessionTracker {
            tick_ms: tick_ms.max(1) as u64,
            next_id: initial_session_id(server_id, now_ms),
            sessions: HashMap::new(),
            buckets: BTreeMap::new(),
        }
    }

    fn round_up(&self, t: u64) -> u64 {
        (t / self.tick_ms + 1) * self.tick_ms
    }

    /// Session ids grouped by the (tick-aligned) time they expire, soonest first.
    pub fn by_expiry(&self) -> Vec<(u64, Vec<i64>)> {
        self.buckets
            .iter()
            .map(|(t, ids)| {
                let mut ids: Vec<i64> = ids.iter().copied().collect();
                ids.sort_unstable();
                (*t, ids)
            })
            .collect()
    }

    pub fn next_session_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    pub fn get(&self, id: i64) -> Option<&Session> {
        self.sessions.get(&id)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Starts tracking a session (also used when a session is restored).
    pub fn add(&mut self, id: i64, timeout_ms: u32, now_ms: u64) {
        let expires_at = self.round_up(now_ms + timeout_ms as u64);
        if let Some(old) = self.sessions.insert(
            id,
            Session {
                id,
                timeout_ms,
                expires_at,
                closing: false,
            },
        ) {
            self.unbucket(id, old.expires_at);
        }
        self.buckets.entry(expires_at).or_default().insert(id);
    }

    fn unbucket(&mut self, id: i64, at: u64) {
        if let Some(b) = self.buckets.get_mut(&at) {
            b.remove(&id);
            if b.is_empty() {
                self.buckets.remove(&at);
            }
        }
    }

    /// Pushes the session's expiry out; false if it is unknown or closing.
    pub fn touch(&mut self, id: i64, now_ms: u64) -> bool {
        let Some(s) = self.sessions.get(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        let (old, timeout) = (s.expires_at, s.timeout_ms);
        let new = self.round_up(now_ms + timeout as u64);
        if new != old {
            self.unbucket(id, old);
            self.buckets.entry(new).or_default().insert(id);
            if let Some(s) = self.sessions.get_mut(&id) {
                s.expires_at = new;
            }
        }
        true
    }

    /// Sets a new timeout (a reconnect may negotiate another one) and touches the session.
    pub fn revalidate(&mut self, id: i64, timeout_ms: u32, now_ms: u64) -> bool {
        match self.sessions.get_mut(&id) {
            Some(s) if !s.closing => {
                s.timeout_ms = timeout_ms;
            }
            _ => return false,
        }
        self.touch(id, now_ms)
    }

    pub fn set_closing(&mut self, id: i64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.closing = true;
        }
    }

    pub fn remove(&mut self, id: i64) -> Option<Session> {
        let s = self.sessions.remove(&id)?;
        self.unbucket(id, s.expires_at);
        Some(s)
    }

    /// Sessions whose bucket has come due; they are marked closing and must be closed.
    pub fn take_expired(&mut self, now_ms: u64) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some((&at, _)) = self.buckets.first_key_value() {
            if at > now_ms {
                break;
            }
            if let Some(ids) = self.buckets.remove(&at) {
                for id in ids {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        if !s.closing {
                            s.closing = true;
                            out.push(id);
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }

    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_java() {
        // new java.util.Random(42).nextInt() == -1170105035, and the next is 234785527.
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next_int(), -1170105035);
        assert_eq!(r.next_int(), 234785527);
        // new Random(0).nextBytes(new byte[4]) == {96, -76, 32, -69}
        let mut b = [0u8; 4];
        JavaRandom::new(0).next_bytes(&mut b);
        assert_eq!(b.map(|x| x as i8), [96, -76, 32, -69]);
    }

    #[test]
    fn password_matches_java_server() {
        // new Random(0x1234567890L ^ 0xB3415C00L).nextBytes(new byte[16]) on a JVM.
        let want: [i8; 16] = [
            -99, -88, -23, 26, -18, 84, 123, -27, 122, 27, 18, -87, 84, -7, 81, -64,
        ];
        assert_eq!(session_password(0x1234567890).map(|b| b as i8), want);
    }

    #[test]
    fn expiry_is_tick_aligned() {
        let mut t = SessionTracker::new(2000, 0, 0);
        t.add(1, 4000, 100);
        assert_eq!(t.get(1).unwrap().expires_at, 6000);
        assert!(t.take_expired(5999).is_empty());
        t.touch(1, 3000);
        assert!(t.take_expired(6000).is_empty());
        assert_eq!(t.take_expired(8000), vec![1]);
    }
}
