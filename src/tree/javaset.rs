//! Iteration order of a Java `HashSet<String>`, so that child lists, ephemeral lists and the
//! paths a closed session deletes come out in the order Java ZooKeeper gives them.
//!
//! A `java.util.HashMap` iterates bucket by bucket (bucket = spread hash & (capacity - 1)) and,
//! inside a bucket, in insertion order; resizes double the capacity and never shrink it. Keeping
//! each member's insertion sequence and the table capacity is enough to reproduce that order.

use std::collections::BTreeMap;

/// `String.hashCode()` over UTF-16 code units.
pub fn java_string_hash(s: &str) -> i32 {
    let step = |h: i32, c: i32| h.wrapping_mul(31).wrapping_add(c);
    if s.is_ascii() {
        // One UTF-16 unit per byte.
        return s.bytes().fold(0i32, |h, b| step(h, b as i32));
    }
    s.encode_utf16().fold(0i32, |h, c| step(h, c as i32))
}

fn bucket(s: &str, capacity: usize) -> usize {
    bucket_of_hash(java_string_hash(s), capacity)
}

fn bucket_of_hash(h: i32, capacity: usize) -> usize {
    let spread = h ^ ((h as u32) >> 16) as i32;
    (spread as u32 as usize) & (capacity - 1)
}

/// Iteration order of a Java `ConcurrentHashMap` key set (default capacity 16) holding keys
/// with these `hashCode()`s, inserted in the given order.
pub fn concurrent_order<T>(items: Vec<(i32, T)>) -> Vec<T> {
    let mut cap = 16;
    while items.len() > cap * 3 / 4 {
        cap *= 2;
    }
    let mut v: Vec<(usize, usize, T)> = items
        .into_iter()
        .enumerate()
        .map(|(i, (h, t))| (bucket_of_hash(h & 0x7fff_ffff, cap), i, t))
        .collect();
    v.sort_by_key(|(b, i, _)| (*b, *i));
    v.into_iter().map(|(_, _, t)| t).collect()
}

/// The iteration order of a Java `HashMap` with `capacity` buckets holding `items`, as
/// indices into `items`: bucket by bucket (bucket from `hash`, the member's `hashCode()`;
/// a counting sort over the table, linear in its size), by insertion sequence (`seq`) within
/// a bucket. `seq` is asked only of members that share a bucket.
pub fn java_order<T: Copy>(
    items: &[T],
    capacity: usize,
    hash: impl Fn(T) -> i32,
    seq: impl Fn(T) -> u64,
) -> Vec<u32> {
    let cap = capacity.max(1);
    let mut start = vec![0u32; cap + 1];
    let buckets: Vec<u32> = items
        .iter()
        .map(|&t| {
            let b = bucket_of_hash(hash(t), cap);
            start[b + 1] += 1;
            b as u32
        })
        .collect();
    for i in 1..=cap {
        start[i] += start[i - 1];
    }
    let mut order = vec![0u32; items.len()];
    let mut next = start.clone();
    for (i, &b) in buckets.iter().enumerate() {
        order[next[b as usize] as usize] = i as u32;
        next[b as usize] += 1;
    }
    // Buckets hold few members; order each by insertion.
    for b in 0..cap {
        let (lo, hi) = (start[b] as usize, start[b + 1] as usize);
        if hi - lo > 1 {
            order[lo..hi].sort_unstable_by_key(|&i| seq(items[i as usize]));
        }
    }
    order
}

/// `HashMap.tableSizeFor`: the next power of two.
fn table_size_for(n: usize) -> usize {
    n.max(1).next_power_of_two()
}

/// A set of strings that remembers what Java's HashSet would remember about them.
#[derive(Debug, Clone, Default)]
pub struct JavaHashSet {
    /// Ordered storage (no rehash stalls on huge parents); the Java order is computed from
    /// each member's insertion sequence and `hashCode()`, kept so as to hash once.
    members: BTreeMap<String, (u64, i32)>,
    next_seq: u64,
    /// Table capacity; 0 until the first insert allocates the table.
    capacity: usize,
    initial: usize,
}

impl JavaHashSet {
    /// `new HashSet<>(initial)`.
    pub fn with_initial_capacity(initial: usize) -> Self {
        JavaHashSet {
            initial: table_size_for(initial),
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn contains(&self, s: &str) -> bool {
        self.members.contains_key(s)
    }

    pub fn insert(&mut self, s: String) -> bool {
        if self.members.contains_key(&s) {
            return false;
        }
        if self.capacity == 0 {
            self.capacity = if self.initial == 0 { 16 } else { self.initial };
        }
        let h = java_string_hash(&s);
        self.members.insert(s, (self.next_seq, h));
        self.next_seq += 1;
        // HashMap resizes once size exceeds capacity * 0.75.
        while self.members.len() > self.capacity * 3 / 4 {
            self.capacity *= 2;
        }
        true
    }

    pub fn remove(&mut self, s: &str) -> bool {
        self.members.remove(s).is_some()
    }

    /// Members in Java iteration order.
    pub fn ordered(&self) -> Vec<String> {
        self.ordered_refs().into_iter().cloned().collect()
    }

    /// Members in Java iteration order, borrowed.
    pub fn ordered_refs(&self) -> Vec<&String> {
        let items: Vec<(&String, &(u64, i32))> = self.members.iter().collect();
        java_order(&items, self.capacity.max(1), |(_, v)| v.1, |(_, v)| v.0)
            .into_iter()
            .map(|i| items[i as usize].0)
            .collect()
    }

    /// The order of a `HashSet.clone()` holding `items` (given in the original's order):
    /// the copy's table is sized for its element count alone, so it can order them
    /// differently from the original.
    pub fn clone_order(items: Vec<String>) -> Vec<String> {
        let cap = table_size_for((items.len() as f32 / 0.75 + 1.0) as usize);
        let mut v: Vec<(usize, usize, String)> = items
            .into_iter()
            .enumerate()
            .map(|(i, k)| (bucket(&k, cap), i, k))
            .collect();
        v.sort_unstable_by_key(|(b, i, _)| (*b, *i));
        v.into_iter().map(|(_, _, k)| k).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.members.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hash_matches_java() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99162322);
        assert_eq!(java_string_hash("zookeeper"), 1600681804);
    }

    #[test]
    fn resize_reorders_like_java() {
        let mut s = JavaHashSet::with_initial_capacity(8);
        for n in ["b", "a", "c"] {
            s.insert(n.to_string());
        }
        // Single characters land in bucket (char & 7): a=1, b=2, c=3.
        assert_eq!(s.ordered(), vec!["a", "b", "c"]);
    }
}
