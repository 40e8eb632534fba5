//! The DataTree: the only place that changes replicated state, and only by applying
//! transactions in zxid order. It knows nothing of connections, watches or auth; `apply`
//! returns the result for the client and the changes the watch manager turns into events.
//!
//! This file holds the tree's state: the node map and the totals kept beside it (digest,
//! data size, ACL table, owner indexes), the system nodes, lookups and the digest. The rest
//! is split by concern: `node` (a znode, its Stat and digest), `path` (the node map's key
//! order and path helpers), `acl` (shared ACL lists), `owners` (the ephemeralOwner encoding
//! and the ephemeral, container and TTL indexes), `children` (child listings in Java's
//! order), `apply` (each txn kind), `quota_apply` (quota bookkeeping and checks),
//! `snapshot` (the parent-first walk and the rebuild from it); `javaset` is Java's `HashSet`
//! order and `quota` the quota formats and path trie.

mod acl;
mod apply;
mod children;
pub mod javaset;
mod node;
mod owners;
mod path;
pub mod quota;
mod quota_apply;
mod snapshot;
#[cfg(test)]
mod tests;

pub use acl::{AclList, AclTable};
pub use apply::{ApplyResult, Change, SubResult};
pub use node::{digest_of, node_digest, Node};
pub use owners::{owner_kind, ttl_of, ttl_owner, OwnerKind, CONTAINER_OWNER, MAX_TTL};
pub use path::parent_of;

use bytes::Bytes;
use javaset::JavaHashSet;
use jute::{Acl, StatPersisted};
use node::node_size;
use path::{PathKey, PathOrd};
use quota::QuotaTrie;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub const ZOOKEEPER: &str = "/zookeeper";
pub const QUOTA: &str = "/zookeeper/quota";
pub const CONFIG: &str = "/zookeeper/config";

pub struct DataTree {
    /// Path to node. A B-tree rather than a hash map: it never rehashes the whole table as it
    /// grows (a hash map of 1M nodes stalls the node for over a second when it doubles), and
    /// in [`PathOrd`]'s order it keeps each node's children together. The node is boxed so
    /// that the B-tree's slots, which stay partly empty, are small.
    nodes: BTreeMap<PathKey, Box<Node>>,
    /// The next child's insertion sequence.
    next_seq: u64,
    /// Sum of the node digests (ZooKeeper's tree digest, DigestCalculator version 2).
    digest: u64,
    /// Ephemeral paths per owning session, in Java's set order for getEphemerals.
    ephemerals: HashMap<i64, JavaHashSet>,
    pub containers: BTreeSet<String>,
    pub ttls: BTreeSet<String>,
    pub last_processed_zxid: i64,
    /// Sum of path and data lengths over all nodes (ZooKeeper's approximate_data_size).
    /// Quota stats rewritten in place do not move it, as in ZooKeeper.
    data_size: u64,
    /// The paths that have a quota (a `zookeeper_limits` node under /zookeeper/quota).
    quotas: QuotaTrie,
    /// Every distinct ACL list, shared by the nodes that carry it.
    acls: AclTable,
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

impl DataTree {
    /// A tree holding only the system nodes, as a fresh ZooKeeper has it.
    pub fn new() -> Self {
        let mut t = DataTree {
            nodes: BTreeMap::new(),
            next_seq: 0,
            digest: 0,
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_processed_zxid: 0,
            data_size: 0,
            quotas: QuotaTrie::default(),
            acls: AclTable::default(),
        };
        let empty = || Some(Bytes::new());
        let open = t.acls.intern(&Acl::open_unsafe());
        let read = t.acls.intern(&Acl::read_unsafe());
        // ZooKeeper sets the config node's ACL with version -1, which lands in aversion.
        let config = Node::new(
            empty(),
            read,
            StatPersisted {
                aversion: -1,
                ..Default::default()
            },
        );
        let plain = || Node::new(empty(), open.clone(), StatPersisted::default());
        t.nodes.insert("/".into(), Box::new(plain()));
        for (path, node) in [(ZOOKEEPER, plain()), (QUOTA, plain()), (CONFIG, config)] {
            t.attach(path, node);
        }
        t.digest = t.compute_digest();
        t.data_size = t.count_data_size();
        t
    }

    /// Every node's path and Stat (czxid, mzxid, version), in path order (for tests).
    #[doc(hidden)]
    pub fn stats(&self) -> Vec<(String, i64, i64, i32)> {
        let mut v: Vec<_> = self
            .nodes
            .iter()
            .map(|(p, n)| {
                let s = &n.stat;
                (p.as_str().to_string(), s.czxid, s.mzxid, s.version)
            })
            .collect();
        v.sort_unstable();
        v
    }

    fn node_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.nodes.get_mut(PathOrd::new(path)).map(|n| &mut **n)
    }

    fn contains(&self, path: &str) -> bool {
        self.nodes.contains_key(PathOrd::new(path))
    }

    /// Adds `node` at `path` as the newest child of its parent, which must exist and must
    /// not hold `path` yet.
    fn attach(&mut self, path: &str, mut node: Node) {
        if let Some(parent) = self.node_mut(parent_of(path)) {
            parent.add_child();
        }
        node.seq = self.next_seq;
        self.next_seq += 1;
        self.nodes.insert(path.into(), Box::new(node));
    }

    /// Sets /zookeeper/config to an ensemble's configuration, as each ZooKeeper member does
    /// locally when it starts serving (ZKDatabase.initConfigInZKDatabase: the data, mzxid =
    /// the config's version, version -1). Outside every digest, like all of /zookeeper.
    pub fn set_config(&mut self, text: &[u8], config_version: i64, time: i64) {
        let Some(n) = self.node_mut(CONFIG) else {
            return;
        };
        let old = node_size(CONFIG, n.data.as_ref());
        n.data = Some(Bytes::copy_from_slice(text));
        n.stat.mzxid = config_version;
        n.stat.mtime = time;
        n.stat.version = -1;
        let new = node_size(CONFIG, n.data.as_ref());
        self.data_size = (self.data_size + new).saturating_sub(old);
    }

    fn count_data_size(&self) -> u64 {
        self.nodes
            .iter()
            .map(|(p, n)| node_size(p.as_str(), n.data.as_ref()))
            .sum()
    }

    /// Drops ACL lists no node uses any more.
    pub fn purge_unused_acls(&mut self) {
        self.acls.purge();
    }

    /// Distinct ACL lists in use (and not yet purged).
    pub fn acl_count(&self) -> usize {
        self.acls.len()
    }

    /// Sum of path and data lengths, as ZooKeeper's `approximate_data_size`.
    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    /// The tree digest: what txn log records and snapshots carry after each zxid.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// Recomputes the tree digest from scratch (after loading a snapshot, and in tests).
    pub fn compute_digest(&self) -> u64 {
        self.nodes.iter().fold(0u64, |acc, (p, n)| {
            acc.wrapping_add(node_digest(p.as_str(), n))
        })
    }

    fn digest_out(&mut self, path: &str) {
        if let Some(n) = self.get(path) {
            self.digest = self.digest.wrapping_sub(node_digest(path, n));
        }
    }

    fn digest_in(&mut self, path: &str) {
        if let Some(n) = self.get(path) {
            self.digest = self.digest.wrapping_add(node_digest(path, n));
        }
    }

    /// The node at `path`; `""` is the root too, as ZooKeeper keeps the root under both keys.
    pub fn get(&self, path: &str) -> Option<&Node> {
        let path = if path.is_empty() { "/" } else { path };
        self.nodes.get(PathOrd::new(path)).map(|n| &**n)
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_special(path: &str) -> bool {
        matches!(path, "/" | ZOOKEEPER | QUOTA | CONFIG)
    }
}
