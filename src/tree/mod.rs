//! The DataTree: the only place that changes replicated state, and only by applying
//! transactions in zxid order. It knows nothing of connections, watches or auth; `apply`
//! returns the result for the client and the changes the watch manager turns into events.

pub mod javaset;
pub mod quota;

use crate::txn::{Txn, TxnBody};
use bytes::Bytes;
use javaset::JavaHashSet;
use jute::{Acl, ErrorCode, OpCode, Stat, StatPersisted};
use quota::{QuotaRefusal, QuotaTrie, QuotaWarning, StatsTrack, LIMIT_NODE, QUOTA_ROOT, STAT_NODE};
use ref_cast::RefCast;
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{btree_map, BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_OWNER: i64 = i64::MIN;
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000u64 as i64;
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;
/// The largest TTL the ephemeralOwner encoding can hold.
pub const MAX_TTL: i64 = !(EXTENDED_MASK | RESERVED_BITS_MASK);

/// What kind of node an ephemeralOwner value marks (`EphemeralType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    Void,
    Normal,
    Container,
    Ttl,
}

pub fn owner_kind(owner: i64) -> OwnerKind {
    if owner == CONTAINER_OWNER {
        OwnerKind::Container
    } else if owner & EXTENDED_MASK == EXTENDED_MASK {
        OwnerKind::Ttl
    } else if owner == 0 {
        OwnerKind::Void
    } else {
        OwnerKind::Normal
    }
}

pub fn ttl_owner(ttl: i64) -> i64 {
    EXTENDED_MASK | ttl
}

pub fn ttl_of(owner: i64) -> i64 {
    owner & !(EXTENDED_MASK | RESERVED_BITS_MASK)
}

/// A znode. Its children are not listed in it: they are the entries of the node map next
/// to each other under the path's prefix (see [`PathOrd`]); the node keeps only what Java's
/// child `HashSet` would remember about them, so that listings come out in Java's order.
#[derive(Debug, Clone)]
pub struct Node {
    pub data: Option<Bytes>,
    /// Shared with every node holding the same list (the tree's ACL table).
    pub acl: AclList,
    pub stat: StatPersisted,
    /// When it joined its parent's child set (a tree-wide counter): the order of siblings
    /// that share a bucket of Java's table.
    seq: u64,
    /// How many children it has.
    kids: u32,
    /// log2 of the table capacity Java's child set has reached (it never shrinks); 0 until
    /// the first child.
    table: u8,
}

impl Node {
    /// A node as a snapshot stores it; children are added as their own nodes are loaded.
    pub fn restored(data: Option<Bytes>, acl: AclList, stat: StatPersisted) -> Node {
        Node::new(data, acl, stat)
    }

    fn new(data: Option<Bytes>, acl: AclList, stat: StatPersisted) -> Node {
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
    fn add_child(&mut self) {
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

/// A change to the tree that watches care about, with the ACLs that decide who may see the
/// resulting events (the node's, and its parent's for the children-changed event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Created {
        path: String,
        acl: AclList,
        parent_acl: AclList,
    },
    Deleted {
        path: String,
        acl: AclList,
        parent_acl: AclList,
    },
    DataChanged {
        path: String,
        acl: AclList,
    },
}

/// One sub-result of a multi.
#[derive(Debug, Clone)]
pub struct SubResult {
    pub op: OpCode,
    pub err: i32,
    pub path: String,
    pub stat: Option<Stat>,
}

/// What applying one transaction produced for the client.
#[derive(Debug, Clone, Default)]
pub struct ApplyResult {
    pub err: i32,
    pub path: String,
    pub stat: Option<Stat>,
    pub multi: Vec<SubResult>,
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

/// What a create txn of any kind makes: the node and the parent's new create count.
struct Creation<'a> {
    path: &'a String,
    data: &'a Option<Bytes>,
    acl: &'a Vec<Acl>,
    owner: i64,
    parent_cversion: i32,
}

fn creation(body: &TxnBody, session: i64) -> Option<Creation<'_>> {
    Some(match body {
        TxnBody::Create(t) => Creation {
            path: &t.path,
            data: &t.data,
            acl: &t.acl,
            owner: if t.ephemeral { session } else { 0 },
            parent_cversion: t.parent_c_version,
        },
        TxnBody::CreateContainer(t) => Creation {
            path: &t.path,
            data: &t.data,
            acl: &t.acl,
            owner: CONTAINER_OWNER,
            parent_cversion: t.parent_c_version,
        },
        TxnBody::CreateTtl(t) => Creation {
            path: &t.path,
            data: &t.data,
            acl: &t.acl,
            owner: ttl_owner(t.ttl),
            parent_cversion: t.parent_c_version,
        },
        _ => return None,
    })
}

pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn child_name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

fn data_len(d: &Option<Bytes>) -> i64 {
    d.as_ref().map_or(0, |d| d.len() as i64)
}

/// Java's `path.substring(0, path.lastIndexOf('/'))`: the parent as DataTree names it ("" for
/// children of the root).
fn java_parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// Java's `s.substring(n)` (n in UTF-16 units), or `None` where Java would throw or split a
/// surrogate pair.
fn java_substring_from(s: &str, n: usize) -> Option<&str> {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        if units == n {
            return Some(&s[i..]);
        }
        units += c.len_utf16();
        if units > n {
            return None;
        }
    }
    (units == n).then_some("")
}

pub const ZOOKEEPER: &str = "/zookeeper";
pub const QUOTA: &str = "/zookeeper/quota";
pub const CONFIG: &str = "/zookeeper/config";

/// A path as the node map orders it: by depth (the number of separators; the root "/" has
/// one, like its children, and sorts before them as their common prefix), then byte by byte.
/// So the children of one node are adjacent (one level deeper, prefix "parent/"), and
/// listing them is one range scan with no child set to keep. Equal exactly when the strings
/// are equal.
#[derive(RefCast, PartialEq, Eq, Debug)]
#[repr(transparent)]
struct PathOrd(str);

impl PathOrd {
    fn new(path: &str) -> &PathOrd {
        PathOrd::ref_cast(path)
    }
}

/// Length of the common prefix of `a` and `b`, eight bytes at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().unwrap_or_default())
            ^ u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

impl Ord for PathOrd {
    fn cmp(&self, other: &Self) -> Ordering {
        // The separators of the common prefix are the same on both sides, so depths compare
        // as the separators after it do; paths in one subtree share most of their bytes.
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        let p = common_prefix(a, b);
        let (a, b) = (&a[p..], &b[p..]);
        let seps = |s: &[u8]| s.iter().filter(|&&c| c == b'/').count();
        seps(a).cmp(&seps(b)).then_with(|| a.cmp(b))
    }
}

impl PartialOrd for PathOrd {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The node map's key: the path in its own exact-size allocation.
#[derive(PartialEq, Eq, Debug)]
struct PathKey(Box<str>);

impl PathKey {
    fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for PathKey {
    fn from(s: &str) -> Self {
        PathKey(s.into())
    }
}

impl From<String> for PathKey {
    fn from(s: String) -> Self {
        PathKey(s.into_boxed_str())
    }
}

impl Borrow<PathOrd> for PathKey {
    fn borrow(&self) -> &PathOrd {
        PathOrd::new(&self.0)
    }
}

impl Ord for PathKey {
    fn cmp(&self, other: &Self) -> Ordering {
        PathOrd::new(&self.0).cmp(PathOrd::new(&other.0))
    }
}

impl PartialOrd for PathKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The key prefix every child of `path` has ("/" for the root, also named "").
fn child_prefix(path: &str) -> String {
    if path == "/" || path.is_empty() {
        "/".to_string()
    } else {
        format!("{path}/")
    }
}

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

/// A shared ACL list. A thin pointer (one word in each node, where `Arc<[Acl]>` takes two);
/// it reads as the slice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AclList(Arc<Vec<Acl>>);

impl AclList {
    /// Whether both are the same shared list.
    pub fn same(&self, other: &AclList) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The shared list's address: an identity for as long as this handle lives.
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl std::ops::Deref for AclList {
    type Target = [Acl];
    fn deref(&self) -> &[Acl] {
        &self.0
    }
}

impl Borrow<[Acl]> for AclList {
    fn borrow(&self) -> &[Acl] {
        &self.0
    }
}

impl From<&[Acl]> for AclList {
    fn from(acl: &[Acl]) -> Self {
        AclList(Arc::new(acl.to_vec()))
    }
}

impl From<Vec<Acl>> for AclList {
    fn from(acl: Vec<Acl>) -> Self {
        AclList(Arc::new(acl))
    }
}

/// ZooKeeper's ReferenceCountedACLCache, in Rust terms: one [`AclList`] per distinct list,
/// so a million nodes with the same ACL hold a million pointers, not a million lists. The
/// `Arc` counts the references; lists no node uses any more are dropped by `purge`.
#[derive(Debug, Default)]
pub struct AclTable(std::collections::HashSet<AclList>);

impl AclTable {
    /// The shared list equal to `acl`.
    pub fn intern(&mut self, acl: &[Acl]) -> AclList {
        if let Some(a) = self.0.get(acl) {
            return a.clone();
        }
        let a = AclList::from(acl);
        self.0.insert(a.clone());
        a
    }

    /// Forgets lists only the table still holds (ZooKeeper purges on snapshot).
    pub fn purge(&mut self) {
        self.0.retain(|a| Arc::strong_count(&a.0) > 1);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a node counts for in `approximate_data_size`: its path and its data.
fn node_size(path: &str, data: Option<&Bytes>) -> u64 {
    let path = if path == "/" { 0 } else { path.len() };
    (path + data.map_or(0, |d| d.len())) as u64
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

    /// The `count` children of the node whose key prefix is `prefix` (see
    /// [`child_prefix`]), in the map's order, with their full paths. They are the `count`
    /// entries from the prefix on (after the root itself, for the root's), so no key needs
    /// comparing; debug builds check that they all are children.
    fn child_entries(&self, prefix: String, count: u32) -> impl Iterator<Item = (&PathKey, &Node)> {
        let skip = usize::from(prefix == "/");
        self.nodes
            .range::<PathOrd, _>((Bound::Included(PathOrd::new(&prefix)), Bound::Unbounded))
            .skip(skip)
            .take(count as usize)
            .map(move |(k, n)| {
                debug_assert!(
                    k.as_str()
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|name| !name.is_empty() && !name.contains('/')),
                    "{} is not a child under {prefix}",
                    k.as_str()
                );
                (k, &**n)
            })
    }

    /// Calls `f` with every node below `path` (not `path` itself), parents before children.
    /// `""` is the root; below `"/"` there is nothing, as in Java's `path + "/" + child`.
    fn for_each_below(&self, path: &str, mut f: impl FnMut(&str, &Node)) {
        if path == "/" {
            return;
        }
        let Some(top) = self.get(path) else {
            return;
        };
        let mut stack = vec![(child_prefix(path), top.kids)];
        while let Some((prefix, count)) = stack.pop() {
            for (k, n) in self.child_entries(prefix, count) {
                let k = k.as_str();
                f(k, n);
                if n.kids > 0 {
                    stack.push((format!("{k}/"), n.kids));
                }
            }
        }
    }

    /// The names of the children of `path` in the order Java's `HashSet` gives them.
    pub fn child_refs(&self, path: &str) -> Option<Vec<&str>> {
        let n = self.get(path)?;
        Some(self.child_refs_of(path, n))
    }

    /// [`Self::child_refs`] of the node `n`, already looked up at `path`.
    pub fn child_refs_of<'a>(&'a self, path: &str, n: &'a Node) -> Vec<&'a str> {
        let skip = child_prefix(path).len();
        self.children_of(path, n)
            .into_iter()
            .map(|(full, _)| &full[skip..])
            .collect()
    }

    /// The children of the node `n` at `path`, in Java's order, as (full path, node).
    pub fn children_of<'a>(&'a self, path: &str, n: &'a Node) -> Vec<(&'a str, &'a Node)> {
        if n.kids == 0 {
            return Vec::new();
        }
        let prefix = child_prefix(path);
        let skip = prefix.len();
        // The node is read (for its sequence) only where two children share a bucket.
        let items: Vec<(&PathKey, &Node)> = self.child_entries(prefix, n.kids).collect();
        let order = javaset::java_order(
            &items,
            1usize << n.table,
            |(k, _)| javaset::java_string_hash(&k.0[skip..]),
            |(_, c)| c.seq,
        );
        order
            .into_iter()
            .map(|i| {
                let (k, c) = items[i as usize];
                (k.as_str(), c)
            })
            .collect()
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

    /// Every node parent-first, children in the order ZooKeeper would write them.
    pub fn preorder(&self) -> Vec<(String, &Node)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec!["/".to_string()];
        while let Some(p) = stack.pop() {
            let Some(n) = self.get(&p) else {
                continue;
            };
            let prefix = if p == "/" { "" } else { p.as_str() };
            for c in self.child_refs_of(&p, n).into_iter().rev() {
                stack.push(format!("{prefix}/{c}"));
            }
            out.push((p, n));
        }
        out
    }

    /// Rebuilds a tree from nodes listed parent-first (a snapshot's order).
    pub fn from_nodes(nodes: Vec<(String, Node)>, last_zxid: i64) -> Result<DataTree, String> {
        let mut t = DataTree {
            nodes: BTreeMap::new(),
            next_seq: 0,
            digest: 0,
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_processed_zxid: last_zxid,
            data_size: 0,
            quotas: QuotaTrie::default(),
            acls: AclTable::default(),
        };
        // The lists the nodes arrive with, by address, and the table's list for each: nodes
        // share their lists, so each list is hashed once, not once per node. The input list
        // is kept, so its address cannot come back for another.
        let mut interned: HashMap<usize, (AclList, AclList)> = HashMap::new();
        for (path, mut node) in nodes {
            node.acl = match interned.get(&node.acl.addr()) {
                Some((_, table)) => table.clone(),
                None => {
                    let table = t.acls.intern(&node.acl);
                    interned.insert(node.acl.addr(), (node.acl.clone(), table.clone()));
                    table
                }
            };
            // Children are counted as they are added below.
            (node.kids, node.table) = (0, 0);
            if path == "/" {
                if let Some(old) = t.node_mut("/") {
                    (node.kids, node.table) = (old.kids, old.table);
                }
                t.nodes.insert(path.into(), Box::new(node));
                continue;
            }
            let owner = node.stat.ephemeral_owner;
            // Two lookups per node: its slot, then its parent.
            match t.nodes.entry(path.as_str().into()) {
                // Listed twice: the later entry replaces the node, which keeps its place
                // among its siblings and its children (as Java's `nodes.put` and
                // `addChild` leave them).
                btree_map::Entry::Occupied(mut o) => {
                    let old = o.get_mut();
                    (node.seq, node.kids, node.table) = (old.seq, old.kids, old.table);
                    **old = node;
                }
                btree_map::Entry::Vacant(v) => {
                    node.seq = t.next_seq;
                    v.insert(Box::new(node));
                    let Some(parent) = t.nodes.get_mut(PathOrd::new(parent_of(&path))) else {
                        return Err(format!("node {path} comes before its parent"));
                    };
                    parent.add_child();
                    t.next_seq += 1;
                }
            }
            t.index_owner(&path, owner);
        }
        if !t.contains("/") {
            return Err("no root node".into());
        }
        t.setup_quota();
        t.digest = t.compute_digest();
        t.data_size = t.count_data_size();
        Ok(t)
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

    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        self.child_refs(path)
            .map(|v| v.into_iter().map(str::to_string).collect())
    }

    /// Every descendant of `path` (not counting `path`), as getAllChildrenNumber counts them.
    pub fn descendant_count(&self, path: &str) -> usize {
        if path == "/" {
            // ZooKeeper keeps the root under two keys and subtracts both.
            return self.nodes.len() - 1;
        }
        let mut count = 0;
        self.for_each_below(path, |_, _| count += 1);
        count
    }

    /// The session's ephemeral paths in the order ZooKeeper lists them (it hands out a clone
    /// of the session's HashSet).
    pub fn ephemerals(&self, session: i64) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|s| JavaHashSet::clone_order(s.ordered()))
            .unwrap_or_default()
    }

    pub fn has_ephemerals(&self, session: i64) -> bool {
        self.ephemerals.get(&session).is_some_and(|s| !s.is_empty())
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    /// Applies one transaction. Errors recorded in the transaction come back as data; the
    /// tree is left unchanged by a failed sub-operation of a multi.
    pub fn apply(&mut self, txn: &Txn, changes: &mut Vec<Change>) -> ApplyResult {
        let zxid = txn.hdr.zxid;
        let mut rc = ApplyResult::default();
        match &txn.body {
            TxnBody::Multi(subs) => {
                let failed = subs.iter().any(|(op, _)| *op == OpCode::Error);
                let mut post_failed = false;
                for (op, body) in subs {
                    if failed {
                        let err = match body {
                            TxnBody::Error(e) => {
                                post_failed = true;
                                e.err
                            }
                            _ if post_failed => ErrorCode::RuntimeInconsistency.code(),
                            _ => 0,
                        };
                        rc.multi.push(SubResult {
                            op: OpCode::Error,
                            err,
                            path: String::new(),
                            stat: None,
                        });
                        continue;
                    }
                    let r = self.apply_one(*op, body, &txn.hdr, changes);
                    rc.multi.push(SubResult {
                        op: if r.err != 0 { OpCode::Error } else { *op },
                        err: r.err,
                        path: r.path,
                        stat: r.stat,
                    });
                }
            }
            body => {
                let op = OpCode::from_i32(txn.hdr.op).unwrap_or(OpCode::Error);
                rc = self.apply_one(op, body, &txn.hdr, changes);
                if rc.err == ErrorCode::NodeExists.code() {
                    // Replaying a create over a fuzzy snapshot that already has the node: the
                    // parent still moves to the txn's cversion and pzxid (ZooKeeper's
                    // DataTree.processTxn does the same).
                    if let Some(c) = creation(body, txn.hdr.client_id) {
                        let parent = parent_of(&rc.path).to_string();
                        self.set_cversion_pzxid(parent, c.parent_cversion, txn.hdr.zxid);
                    }
                }
            }
        }
        if zxid > self.last_processed_zxid {
            self.last_processed_zxid = zxid;
        }
        rc
    }

    fn apply_one(
        &mut self,
        op: OpCode,
        body: &TxnBody,
        hdr: &jute::TxnHeader,
        changes: &mut Vec<Change>,
    ) -> ApplyResult {
        let mut rc = ApplyResult::default();
        let res = match body {
            TxnBody::Create(_) | TxnBody::CreateContainer(_) | TxnBody::CreateTtl(_) => {
                match creation(body, hdr.client_id) {
                    Some(c) => {
                        rc.path = c.path.clone();
                        self.create_node(
                            c.path,
                            c.data.clone(),
                            c.acl,
                            c.owner,
                            c.parent_cversion,
                            hdr.zxid,
                            hdr.time,
                            changes,
                        )
                    }
                    None => Err(ErrorCode::SystemError),
                }
            }
            TxnBody::Delete(t) => {
                rc.path = t.path.clone();
                self.delete_node(&t.path, hdr.zxid, changes).map(|_| None)
            }
            TxnBody::SetData(t) => {
                rc.path = t.path.clone();
                let mut bytes_diff = 0;
                // One lookup: the digest is taken out and put back around the change.
                let r = match self.nodes.get_mut(PathOrd::new(&t.path)) {
                    None => Err(ErrorCode::NoNode),
                    Some(n) => {
                        self.digest = self.digest.wrapping_sub(node_digest(&t.path, n));
                        self.data_size = (self.data_size + node_size(&t.path, t.data.as_ref()))
                            .saturating_sub(node_size(&t.path, n.data.as_ref()));
                        bytes_diff = data_len(&t.data) - data_len(&n.data);
                        n.data = t.data.as_ref().map(|d| Bytes::copy_from_slice(d));
                        n.stat.version = t.version;
                        n.stat.mzxid = hdr.zxid;
                        n.stat.mtime = hdr.time;
                        changes.push(Change::DataChanged {
                            path: t.path.clone(),
                            acl: n.acl.clone(),
                        });
                        self.digest = self.digest.wrapping_add(node_digest(&t.path, n));
                        Ok(Some(n.client_stat()))
                    }
                };
                if r.is_ok() {
                    if let Some(prefix) = self.quotas.max_prefix(&t.path) {
                        self.update_quota_stat(&prefix, bytes_diff, 0);
                    }
                }
                r
            }
            TxnBody::SetAcl(t) => {
                rc.path = t.path.clone();
                self.digest_out(&t.path);
                let acl = self.acls.intern(&t.acl);
                let r = match self.node_mut(&t.path) {
                    None => Err(ErrorCode::NoNode),
                    Some(n) => {
                        n.acl = acl;
                        n.stat.aversion = t.version;
                        Ok(Some(n.client_stat()))
                    }
                };
                self.digest_in(&t.path);
                r
            }
            TxnBody::Check(t) => {
                rc.path = t.path.clone();
                Ok(self.get(&t.path).map(|n| n.client_stat()))
            }
            TxnBody::CreateSession(_) => Ok(None),
            TxnBody::CloseSession(t) => {
                // Delete what the txn names; ephemerals the session still owns go too, so a
                // txn written without the list (older formats) is handled the same way.
                let mut paths = t.paths2_delete.clone();
                for p in self.ephemerals(hdr.client_id) {
                    if !paths.contains(&p) {
                        paths.push(p);
                    }
                }
                for p in paths {
                    let _ = self.delete_node(&p, hdr.zxid, changes);
                }
                self.ephemerals.remove(&hdr.client_id);
                Ok(None)
            }
            TxnBody::Error(e) => Err(ErrorCode::from_i32(e.err).unwrap_or(ErrorCode::SystemError)),
            TxnBody::Multi(_) => Err(ErrorCode::BadArguments),
        };
        let _ = op;
        match res {
            Ok(stat) => rc.stat = stat,
            Err(e) => rc.err = e.code(),
        }
        rc
    }

    /// `DataTree.createNode`'s quota bookkeeping: a new limit node gives its path a quota, a
    /// new stats node is filled with the subtree's current counts, and a node inside a quota
    /// subtree counts towards it.
    fn quota_after_create(&mut self, path: &str, bytes: i64) {
        let parent = java_parent(path);
        if let Some(real) = parent.strip_prefix(QUOTA_ROOT) {
            let child = child_name(path);
            if child == LIMIT_NODE {
                if let Err(e) = self.quotas.add(real) {
                    tracing::warn!("quota limit node {path} names no path ({e}); ignored");
                }
            }
            if child == STAT_NODE {
                self.update_quota_for_path(real);
            }
        }
        if let Some(prefix) = self.quotas.max_prefix(path) {
            self.update_quota_stat(&prefix, bytes, 1);
        }
    }

    /// `DataTree.deleteNode`'s quota bookkeeping.
    fn quota_after_delete(&mut self, path: &str, bytes: i64) {
        let parent = java_parent(path);
        if parent.starts_with(ZOOKEEPER) && child_name(path) == LIMIT_NODE {
            match java_substring_from(parent, QUOTA_ROOT.len()) {
                Some(real) => {
                    if let Err(e) = self.quotas.delete(real) {
                        tracing::warn!("quota limit node {path} names no path ({e}); ignored");
                    }
                }
                None => tracing::warn!("limit node {path} is outside {QUOTA_ROOT}; ignored"),
            }
        }
        if let Some(prefix) = self.quotas.max_prefix(path) {
            self.update_quota_stat(&prefix, -bytes, -1);
        }
    }

    /// `DataTree.updateQuotaStat`: adds to the counts in the stats node of `prefix`, in place
    /// (its Stat does not change).
    fn update_quota_stat(&mut self, prefix: &str, bytes_diff: i64, count_diff: i64) {
        let stat_path = quota::stat_path(prefix);
        let Some(node) = self.node_mut(&stat_path) else {
            tracing::error!("missing quota stats node {stat_path}");
            return;
        };
        match StatsTrack::parse(node.data.as_deref()) {
            Ok(mut t) => {
                t.set_count(t.count().wrapping_add(count_diff));
                t.set_bytes(t.bytes().wrapping_add(bytes_diff));
                node.data = Some(Bytes::from(t.to_text()));
            }
            // ZooKeeper's apply throws here; leave the node as it is.
            Err(_) => tracing::error!("quota stats node {stat_path} does not parse; not updated"),
        }
    }

    /// `DataTree.updateQuotaForPath`: recounts the subtree at `path` (itself included) into
    /// its stats node.
    fn update_quota_for_path(&mut self, path: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        if let Some(n) = self.get(path) {
            count += 1;
            bytes += data_len(&n.data);
            // Java walks `path + "/" + child`: for "/" that names nothing below it.
            // ("" is the root, which is also the key "/").
            self.for_each_below(path, |_, d| {
                count += 1;
                bytes += data_len(&d.data);
            });
        }
        let stat_path = quota::stat_path(path);
        let Some(node) = self.node_mut(&stat_path) else {
            tracing::warn!("missing quota stats node {stat_path}");
            return;
        };
        let mut t = StatsTrack::default();
        t.set_count(count);
        t.set_bytes(bytes);
        node.data = Some(Bytes::from(t.to_text()));
    }

    /// `DataTree.setupQuota`, after a snapshot is loaded: every leaf limit node under
    /// /zookeeper/quota gives its path a quota and that path's stats are recounted.
    pub fn setup_quota(&mut self) {
        self.quotas.clear();
        let end = format!("/{LIMIT_NODE}");
        let mut limits: Vec<String> = Vec::new();
        self.for_each_below(QUOTA_ROOT, |k, n| {
            if n.kids == 0 && k.ends_with(&end) {
                limits.push(k.to_string());
            }
        });
        limits.sort_unstable();
        for p in limits {
            let Some(i) = p.find(&end) else { continue };
            let real = p[QUOTA_ROOT.len()..i].to_string();
            self.update_quota_for_path(&real);
            if let Err(e) = self.quotas.add(&real) {
                tracing::warn!("quota limit node {p} names no path ({e}); ignored");
            }
        }
    }

    /// `ZooKeeperServer.checkQuota` against the applied tree: would adding `count_diff` nodes
    /// and `bytes_diff` bytes at `path` pass a limit? Soft limits come back as a warning.
    pub fn check_quota(
        &self,
        path: &str,
        bytes_diff: i64,
        count_diff: i64,
    ) -> Result<QuotaWarning, QuotaRefusal> {
        let Some(prefix) = self.quotas.max_prefix(path) else {
            return Ok(None);
        };
        let limit = self
            .get(&quota::limit_path(&prefix))
            .map(|n| n.data.as_deref());
        let stats = || {
            self.get(&quota::stat_path(&prefix))
                .map(|n| n.data.as_ref().map(|d| d.to_vec()))
        };
        quota::check_limits(&prefix, limit, stats, bytes_diff, count_diff)
    }

    /// Files a node under containers, TTL nodes or its session's ephemerals.
    fn index_owner(&mut self, path: &str, owner: i64) {
        match owner_kind(owner) {
            OwnerKind::Container => {
                self.containers.insert(path.to_string());
            }
            OwnerKind::Ttl => {
                self.ttls.insert(path.to_string());
            }
            OwnerKind::Normal => {
                self.ephemerals
                    .entry(owner)
                    .or_insert_with(|| JavaHashSet::with_initial_capacity(16))
                    .insert(path.to_string());
            }
            OwnerKind::Void => {}
        }
    }

    fn set_cversion_pzxid(&mut self, path: String, cversion: i32, zxid: i64) {
        self.digest_out(&path);
        if let Some(n) = self.node_mut(&path) {
            let cv = if cversion == -1 {
                n.stat.cversion + 1
            } else {
                cversion
            };
            if cv > n.stat.cversion {
                n.stat.cversion = cv;
                n.stat.pzxid = zxid;
            }
        }
        self.digest_in(&path);
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
        changes: &mut Vec<Change>,
    ) -> Result<Option<Stat>, ErrorCode> {
        let acl = self.acls.intern(acl);
        let parent_path = parent_of(path);
        let stat = StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: zxid,
        };
        let acl_arc = acl.clone();
        let bytes = data_len(&data);
        let mut node = Node::new(data, acl, stat);
        let out = node.client_stat();
        let digest = node_digest(path, &node);
        let size = node_size(path, node.data.as_ref());
        // Two lookups in all, on a path the replay of millions of creates runs through: the
        // node's slot (taken if free), then the parent. A node whose parent is missing cannot
        // be in the tree, so the slot taken is given back only on that error.
        match self.nodes.entry(path.into()) {
            btree_map::Entry::Occupied(mut o) => {
                // As ZooKeeper does, the existing node takes the txn's ACL (this only happens
                // when a log is replayed over a snapshot that already holds the node).
                let n = o.get_mut();
                self.digest = self.digest.wrapping_sub(node_digest(path, n));
                n.acl = acl_arc;
                self.digest = self.digest.wrapping_add(node_digest(path, n));
                return Err(ErrorCode::NodeExists);
            }
            btree_map::Entry::Vacant(v) => {
                node.seq = self.next_seq;
                v.insert(Box::new(node));
            }
        }
        let Some(parent) = self.nodes.get_mut(PathOrd::new(parent_path)) else {
            self.nodes.remove(PathOrd::new(path));
            return Err(ErrorCode::NoNode);
        };
        self.next_seq += 1;
        self.digest = self.digest.wrapping_sub(node_digest(parent_path, parent));
        let pcv = if parent_cversion == -1 {
            parent.stat.cversion + 1
        } else {
            parent_cversion
        };
        if pcv > parent.stat.cversion {
            parent.stat.cversion = pcv;
            parent.stat.pzxid = zxid;
        }
        parent.add_child();
        let parent_acl = parent.acl.clone();
        self.digest = self.digest.wrapping_add(node_digest(parent_path, parent));
        self.data_size += size;
        self.digest = self.digest.wrapping_add(digest);
        self.index_owner(path, owner);
        self.quota_after_create(path, bytes);
        changes.push(Change::Created {
            path: path.to_string(),
            acl: acl_arc,
            parent_acl,
        });
        Ok(Some(out))
    }

    fn delete_node(
        &mut self,
        path: &str,
        zxid: i64,
        changes: &mut Vec<Change>,
    ) -> Result<(), ErrorCode> {
        if path == "/" {
            // The root is never deleted (the request is refused before it becomes a txn).
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = parent_of(path);
        // Two lookups: the node comes out, then the parent is updated. As in ZooKeeper the
        // parent's pzxid moves even when the node is already gone (a replay over a fuzzy
        // snapshot); only a missing parent leaves everything as it was.
        let removed = self.nodes.remove(PathOrd::new(path));
        let Some(parent) = self.nodes.get_mut(PathOrd::new(parent_path)) else {
            if let Some(n) = removed {
                // Only in a tree that lost a node's parent; put the node back.
                self.nodes.insert(path.into(), n);
            }
            return Err(ErrorCode::NoNode);
        };
        self.digest = self.digest.wrapping_sub(node_digest(parent_path, parent));
        if removed.is_some() {
            parent.kids -= 1;
        }
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        let parent_acl = parent.acl.clone();
        self.digest = self.digest.wrapping_add(node_digest(parent_path, parent));
        let node = removed.ok_or(ErrorCode::NoNode)?;
        self.digest = self.digest.wrapping_sub(node_digest(path, &node));
        self.data_size = self
            .data_size
            .saturating_sub(node_size(path, node.data.as_ref()));
        let owner = node.stat.ephemeral_owner;
        match owner_kind(owner) {
            OwnerKind::Container => {
                self.containers.remove(path);
            }
            OwnerKind::Ttl => {
                self.ttls.remove(path);
            }
            OwnerKind::Normal => {
                if let Some(s) = self.ephemerals.get_mut(&owner) {
                    s.remove(path);
                }
            }
            OwnerKind::Void => {}
        }
        self.quota_after_delete(path, data_len(&node.data));
        changes.push(Change::Deleted {
            path: path.to_string(),
            acl: node.acl.clone(),
            parent_acl,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::TxnBody;
    use jute::{CreateTxn, DeleteTxn, SetAclTxn, SetDataTxn, TxnHeader};

    fn txn(zxid: i64, op: OpCode, body: TxnBody) -> Txn {
        Txn {
            hdr: TxnHeader {
                client_id: 7,
                cxid: 1,
                zxid,
                time: 1000 + zxid,
                op: op.code(),
            },
            body,
            digest: None,
        }
    }

    #[test]
    fn incremental_digest_matches_a_full_recount() {
        let mut t = DataTree::new();
        let mut ch = Vec::new();
        let create = |path: &str, eph: bool| {
            TxnBody::Create(CreateTxn {
                path: path.into(),
                data: Some(Bytes::from_static(b"x")),
                acl: Acl::open_unsafe(),
                ephemeral: eph,
                parent_c_version: -1,
            })
        };
        let steps = vec![
            (OpCode::Create, create("/a", false)),
            (OpCode::Create, create("/a/b", true)),
            (
                OpCode::SetData,
                TxnBody::SetData(SetDataTxn {
                    path: "/a".into(),
                    data: None,
                    version: 1,
                }),
            ),
            (
                OpCode::SetAcl,
                TxnBody::SetAcl(SetAclTxn {
                    path: "/".into(),
                    acl: Acl::read_unsafe(),
                    version: 1,
                }),
            ),
            (OpCode::Create, create("/zookeeper/x", false)),
            (
                OpCode::Delete,
                TxnBody::Delete(DeleteTxn {
                    path: "/a/b".into(),
                }),
            ),
        ];
        for (i, (op, body)) in steps.into_iter().enumerate() {
            let rc = t.apply(&txn(i as i64 + 1, op, body), &mut ch);
            assert_eq!(rc.err, 0);
            assert_eq!(t.digest(), t.compute_digest(), "after step {i}");
        }
        assert_ne!(t.digest(), DataTree::new().digest());
    }

    #[test]
    fn nodes_with_equal_acls_share_one_list() {
        let mut t = DataTree::new();
        let mut ch = Vec::new();
        let digest_acl = vec![Acl {
            perms: jute::Perms::ALL,
            id: jute::Id::new("digest", "u:hash"),
        }];
        for (i, p) in ["/a", "/b", "/c"].into_iter().enumerate() {
            let body = TxnBody::Create(CreateTxn {
                path: p.into(),
                data: None,
                acl: digest_acl.clone(),
                ephemeral: false,
                parent_c_version: -1,
            });
            assert_eq!(
                t.apply(&txn(i as i64 + 1, OpCode::Create, body), &mut ch)
                    .err,
                0
            );
        }
        ch.clear();
        let (a, c) = (t.get("/a").unwrap(), t.get("/c").unwrap());
        assert!(a.acl.same(&c.acl));
        // world:anyone (system nodes), read-only (/zookeeper/config), and the digest list.
        assert_eq!(t.acl_count(), 3);
        for (i, p) in ["/a", "/b", "/c"].into_iter().enumerate() {
            let body = TxnBody::Delete(DeleteTxn { path: p.into() });
            assert_eq!(
                t.apply(&txn(i as i64 + 10, OpCode::Delete, body), &mut ch)
                    .err,
                0
            );
        }
        ch.clear();
        t.purge_unused_acls();
        assert_eq!(t.acl_count(), 2);
    }

    fn data_of(t: &DataTree, p: &str) -> String {
        String::from_utf8_lossy(t.get(p).and_then(|n| n.data.as_deref()).unwrap_or_default())
            .into_owned()
    }

    #[test]
    fn quota_stats_follow_creates_deletes_and_set_data() {
        let mut t = DataTree::new();
        let mut ch = Vec::new();
        let mut z = 0;
        let mut apply = |t: &mut DataTree, op: OpCode, body: TxnBody| {
            z += 1;
            let rc = t.apply(&txn(z, op, body), &mut ch);
            assert_eq!(rc.err, 0, "txn {z}");
        };
        let create = |path: &str, data: &'static [u8]| {
            TxnBody::Create(CreateTxn {
                path: path.into(),
                data: Some(Bytes::from_static(data)),
                acl: Acl::open_unsafe(),
                ephemeral: false,
                parent_c_version: -1,
            })
        };
        let digest0 = t.digest();
        apply(&mut t, OpCode::Create, create("/q", b"abc"));
        apply(&mut t, OpCode::Create, create("/q/x", b"12345"));
        apply(&mut t, OpCode::Create, create("/zookeeper/quota/q", b""));
        let limits = b"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3";
        apply(
            &mut t,
            OpCode::Create,
            create("/zookeeper/quota/q/zookeeper_limits", limits),
        );
        let stats = "/zookeeper/quota/q/zookeeper_stats";
        apply(&mut t, OpCode::Create, create(stats, b"count=0,bytes=0"));
        // The stats node is filled with the subtree's counts when it is created.
        assert_eq!(data_of(&t, stats), "count=2,bytes=8");
        apply(&mut t, OpCode::Create, create("/q/y", b"zz"));
        assert_eq!(data_of(&t, stats), "count=3,bytes=10");
        assert!(t.check_quota("/q/z", 0, 1).is_err(), "hard count limit 3");
        assert_eq!(t.check_quota("/other", 0, 1), Ok(None));
        apply(
            &mut t,
            OpCode::SetData,
            TxnBody::SetData(SetDataTxn {
                path: "/q".into(),
                data: None,
                version: 1,
            }),
        );
        assert_eq!(data_of(&t, stats), "count=3,bytes=7");
        apply(
            &mut t,
            OpCode::Delete,
            TxnBody::Delete(DeleteTxn {
                path: "/q/x".into(),
            }),
        );
        assert_eq!(data_of(&t, stats), "count=2,bytes=2");
        assert_eq!(t.digest(), t.compute_digest());
        // A snapshot load recounts the stats and rebuilds the set of quota paths.
        let nodes: Vec<(String, Node)> = t
            .preorder()
            .into_iter()
            .map(|(p, n)| (p, n.clone()))
            .collect();
        let mut stale = nodes.clone();
        for (p, n) in stale.iter_mut() {
            if p == stats {
                n.data = Some(Bytes::from_static(b"count=99,bytes=99"));
            }
        }
        let loaded = DataTree::from_nodes(stale, t.last_processed_zxid).unwrap();
        assert_eq!(data_of(&loaded, stats), "count=2,bytes=2");
        assert!(loaded.check_quota("/q/z", 0, 1).is_ok());
        assert_eq!(loaded.digest(), t.digest());
        // Deleting the limit node ends the quota; stats no longer move.
        apply(
            &mut t,
            OpCode::Delete,
            TxnBody::Delete(DeleteTxn {
                path: "/zookeeper/quota/q/zookeeper_limits".into(),
            }),
        );
        apply(&mut t, OpCode::Create, create("/q/w", b"w"));
        assert_eq!(data_of(&t, stats), "count=2,bytes=2");
        assert_eq!(t.check_quota("/q/v", 0, 1), Ok(None));
        assert_ne!(t.digest(), digest0);
        assert_eq!(t.digest(), t.compute_digest());
    }

    /// A boxed node must fit a 128-byte malloc chunk (120 bytes of payload with glibc): one
    /// field more and a million nodes take 16 MB more.
    #[test]
    fn a_node_fits_its_allocation_class() {
        assert!(
            std::mem::size_of::<Node>() <= 120,
            "{}",
            std::mem::size_of::<Node>()
        );
    }

    proptest::proptest! {
        /// The map's order is (separator count, bytes), however the comparison computes it.
        #[test]
        fn path_order_is_depth_then_bytes(
            p in "[/ab]{0,20}", x in "[/ab.]{0,12}", y in "[/ab.]{0,12}"
        ) {
            let (a, b) = (format!("{p}{x}"), format!("{p}{y}"));
            let seps = |s: &str| s.matches('/').count();
            let want = seps(&a).cmp(&seps(&b)).then_with(|| a.cmp(&b));
            proptest::prop_assert_eq!(PathOrd::new(&a).cmp(PathOrd::new(&b)), want);
        }

        /// Children listed from the depth-ordered map come out as a Java `HashSet` of child
        /// names orders them, through creates, deletes and table growth, and subtree counts
        /// agree with a plain walk; names are chosen to sort around the separator.
        #[test]
        fn child_listings_match_a_java_hash_set(
            ops in proptest::collection::vec((0usize..6, 0usize..40, proptest::bool::ANY), 1..300)
        ) {
            let names = ["a", "b", "-x", "a b", "a!", "zz", "\u{e9}t\u{e9}", "0"];
            let mut t = DataTree::new();
            let mut model: BTreeMap<String, JavaHashSet> = BTreeMap::new();
            // The root's first child is /zookeeper, which the model does not descend into.
            let mut root = JavaHashSet::with_initial_capacity(8);
            root.insert("zookeeper".into());
            model.insert("/".into(), root);
            let mut zxid = 1;
            let mut ch = Vec::new();
            for (parent_pick, name_pick, delete) in ops {
                let parents: Vec<String> = model.keys().cloned().collect();
                let parent = &parents[parent_pick % parents.len()];
                let name = format!("{}{}", names[name_pick % names.len()], name_pick / 8);
                let path = if parent == "/" { format!("/{name}") } else { format!("{parent}/{name}") };
                let exists = model.contains_key(&path);
                // A delete of a missing node and a create of an existing one are applied too,
                // as a log replayed over a fuzzy snapshot applies them.
                let mut want = 0;
                let body = if delete {
                    if exists && !model[&path].is_empty() { continue; }
                    if exists {
                        model.remove(&path);
                        model.get_mut(parent).unwrap().remove(&name);
                    } else {
                        want = ErrorCode::NoNode.code();
                    }
                    TxnBody::Delete(DeleteTxn { path: path.clone() })
                } else {
                    if exists {
                        want = ErrorCode::NodeExists.code();
                    } else {
                        model.insert(path.clone(), JavaHashSet::with_initial_capacity(8));
                        model.get_mut(parent).unwrap().insert(name.clone());
                    }
                    TxnBody::Create(CreateTxn {
                        path: path.clone(),
                        data: None,
                        acl: Acl::open_unsafe(),
                        ephemeral: false,
                        parent_c_version: -1,
                    })
                };
                let op = if delete { OpCode::Delete } else { OpCode::Create };
                let pzxid = t.get(parent).unwrap().stat.pzxid;
                let r = t.apply(&txn(zxid, op, body), &mut ch);
                proptest::prop_assert_eq!(r.err, want);
                // A delete moves the parent's pzxid even when the node was already gone.
                if delete {
                    proptest::prop_assert_eq!(t.get(parent).unwrap().stat.pzxid, zxid.max(pzxid));
                }
                zxid += 1;
            }
            for (path, set) in &model {
                let want = set.ordered();
                proptest::prop_assert_eq!(t.children(path), Some(want), "children of {}", path);
                let below = model.keys().filter(|k| k.starts_with(&format!("{path}/"))).count();
                if path != "/" {
                    proptest::prop_assert_eq!(t.descendant_count(path), below);
                }
                proptest::prop_assert_eq!(t.get(path).map(|n| n.child_count()), Some(set.len()));
            }
            proptest::prop_assert_eq!(t.compute_digest(), t.digest());
            // Rebuilt from its own nodes, parent first, as from a snapshot: the same children
            // (in the order of that reload), counts and digest.
            let nodes = t.preorder().into_iter().map(|(p, n)| (p, n.clone())).collect();
            let r = DataTree::from_nodes(nodes, zxid).unwrap();
            for (path, set) in &model {
                let mut got = r.children(path).unwrap();
                got.sort();
                let mut want = set.ordered();
                want.sort();
                proptest::prop_assert_eq!(got, want, "children of {} after a reload", path);
                proptest::prop_assert_eq!(r.get(path).unwrap().child_count(), set.len());
            }
            proptest::prop_assert_eq!(r.digest(), t.digest());
        }
    }
}
