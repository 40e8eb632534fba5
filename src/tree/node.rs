//! A znode ([`Node`]), the Stat clients see of it, and what it counts for in the tree's
//! digest and data size.

use super::{owner_kind, AclList, OwnerKind};
use bytes::Bytes;
use jute::{Stat, StatPersisted};

/// A znode. Its children are not listed in it: they are the entries of the node map next
/// to each other under the path's prefix (see [`PathOrd`](super::path::PathOrd)); the node
/// keeps only what Java's child `HashSet` would remember about them, so that listings come
/// out in Java's order.
#[derive(Debug, Clone)]
pub struct Node {
    pub data: Option<Bytes>,
    /// Shared with every node holding the same list (the tree's ACL table).
    pub acl: AclList,
    pub stat: StatPersisted,
    /// When it joined its parent's child set (a tree-wide counter): the order of siblings
    /// that share a bucket of Java's table.
    pub(super) seq: u64,
    /// How many children it has.
    pub(super) kids: u32,
    /// log2 of the table capacity Java's child set has reached (it never shrinks); 0 until
    /// the first child.
    pub(super) table: u8,
}

impl Node {
    /// A node as a snapshot stores it; children are added as their own nodes are loaded.
    pub fn restored(data: Option<Bytes>, acl: AclList, stat: StatPersisted) -> Node {
        Node::new(data, acl, stat)
    }

    pub(super) fn new(data: Option<Bytes>, acl: AclList, stat: StatPersisted) -> Node {
        Node {
            // Its own allocation: the bytes arrive as a slice of a request frame or of a
            // whole snapshot or log buffer, which would otherwise stay alive with the node.
            data: data.map(|d| Bytes::copy_from_slice(&d)),
            acl,
            stat,
            seq: 0,
            kids: 0,
            table: 0,
        }
    }

    /// How many children the node has.
    pub fn child_count(&self) -> usize {
        self.kids as usize
    }

    /// Counts one more child, growing the table as `new HashSet<>(8)` grows.
    pub(super) fn add_child(&mut self) {
        if self.table == 0 {
            self.table = 3;
        }
        self.kids += 1;
        while self.kids as usize > (1usize << self.table) * 3 / 4 {
            self.table += 1;
        }
    }

    /// The Stat clients see: derived counts, the cversion translated from creates to changes
    /// (`cversion * 2 - children`, as `DataNode.copyStat` does), and ephemeralOwner shown only
    /// for real ephemerals (containers and TTL nodes show 0).
    pub fn client_stat(&self) -> Stat {
        let s = &self.stat;
        let n = self.kids as i32;
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(n),
            aversion: s.aversion,
            ephemeral_owner: if owner_kind(s.ephemeral_owner) == OwnerKind::Normal {
                s.ephemeral_owner
            } else {
                0
            },
            data_length: self.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children: n,
            pzxid: s.pzxid,
        }
    }
}

/// `DigestCalculator.calculateDigest` (version 2): CRC32 over the path (the root as ""), the
/// data and 60 bytes of the persisted stat; nodes under /zookeeper/ do not count.
pub fn node_digest(path: &str, n: &Node) -> u64 {
    digest_of(path, n.data.as_ref(), &n.stat)
}

/// [`node_digest`] from the parts of a node.
pub fn digest_of(path: &str, data: Option<&Bytes>, s: &StatPersisted) -> u64 {
    if path.starts_with("/zookeeper/") {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let mut b = [0u8; 60];
    b[0..8].copy_from_slice(&s.czxid.to_be_bytes());
    b[8..16].copy_from_slice(&s.mzxid.to_be_bytes());
    b[16..24].copy_from_slice(&s.pzxid.to_be_bytes());
    b[24..32].copy_from_slice(&s.ctime.to_be_bytes());
    b[32..40].copy_from_slice(&s.mtime.to_be_bytes());
    b[40..44].copy_from_slice(&s.version.to_be_bytes());
    b[44..48].copy_from_slice(&s.cversion.to_be_bytes());
    b[48..52].copy_from_slice(&s.aversion.to_be_bytes());
    b[52..60].copy_from_slice(&s.ephemeral_owner.to_be_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(path.as_bytes());
    if let Some(d) = data {
        h.update(d);
    }
    h.update(&b);
    h.finalize() as u64
}

pub(super) fn data_len(d: &Option<Bytes>) -> i64 {
    d.as_ref().map_or(0, |d| d.len() as i64)
}

/// What a node counts for in `approximate_data_size`: its path and its data.
pub(super) fn node_size(path: &str, data: Option<&Bytes>) -> u64 {
    let path = if path == "/" { 0 } else { path.len() };
    (path + data.map_or(0, |d| d.len())) as u64
}
