//! The DataTree: the only place that changes replicated state, and only by applying
//! transactions in zxid order. It knows nothing of connections, watches or auth; `apply`
//! returns the result for the client and the changes the watch manager turns into events.

pub mod javaset;

use crate::txn::{Txn, TxnBody};
use bytes::Bytes;
use javaset::JavaHashSet;
use jute::{Acl, ErrorCode, OpCode, Stat, StatPersisted};
use std::collections::{BTreeMap, BTreeSet, HashMap};
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

#[derive(Debug, Clone)]
pub struct Node {
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub stat: StatPersisted,
    pub children: JavaHashSet,
}

impl Node {
    /// A node as a snapshot stores it; children are added as their own nodes are loaded.
    pub fn restored(data: Option<Bytes>, acl: Vec<Acl>, stat: StatPersisted) -> Node {
        Node::new(data, acl, stat)
    }

    fn new(data: Option<Bytes>, acl: Vec<Acl>, stat: StatPersisted) -> Node {
        Node {
            // Its own allocation: the bytes arrive as a slice of a request frame or of a
            // whole snapshot or log buffer, which would otherwise stay alive with the node.
            data: data.map(|d| Bytes::copy_from_slice(&d)),
            acl,
            stat,
            children: JavaHashSet::with_initial_capacity(8),
        }
    }

    /// The Stat clients see: derived counts, the cversion translated from creates to changes
    /// (`cversion * 2 - children`, as `DataNode.copyStat` does), and ephemeralOwner shown only
    /// for real ephemerals (containers and TTL nodes show 0).
    pub fn client_stat(&self) -> Stat {
        let s = &self.stat;
        let n = self.children.len() as i32;
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
        acl: Arc<[Acl]>,
        parent_acl: Arc<[Acl]>,
    },
    Deleted {
        path: String,
        acl: Arc<[Acl]>,
        parent_acl: Arc<[Acl]>,
    },
    DataChanged {
        path: String,
        acl: Arc<[Acl]>,
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

pub const ZOOKEEPER: &str = "/zookeeper";
pub const QUOTA: &str = "/zookeeper/quota";
pub const CONFIG: &str = "/zookeeper/config";

pub struct DataTree {
    /// A B-tree rather than a hash map: it never rehashes the whole table as it grows (a
    /// hash map of 1M nodes stalls the node for over a second when it doubles), and it keeps
    /// subtrees contiguous for prefix scans.
    nodes: BTreeMap<String, Node>,
    /// Sum of the node digests (ZooKeeper's tree digest, DigestCalculator version 2).
    digest: u64,
    /// Ephemeral paths per owning session, in Java's set order for getEphemerals.
    ephemerals: HashMap<i64, JavaHashSet>,
    pub containers: BTreeSet<String>,
    pub ttls: BTreeSet<String>,
    pub last_processed_zxid: i64,
    /// Sum of path and data lengths over all nodes (ZooKeeper's approximate_data_size).
    data_size: u64,
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
            digest: 0,
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_processed_zxid: 0,
            data_size: 0,
        };
        let empty = || Some(Bytes::new());
        let mut root = Node::new(empty(), Acl::open_unsafe(), StatPersisted::default());
        root.children.insert("zookeeper".into());
        let mut zk = Node::new(empty(), Acl::open_unsafe(), StatPersisted::default());
        zk.children.insert("quota".into());
        zk.children.insert("config".into());
        // ZooKeeper sets the config node's ACL with version -1, which lands in aversion.
        let config = Node::new(
            empty(),
            Acl::read_unsafe(),
            StatPersisted {
                aversion: -1,
                ..Default::default()
            },
        );
        t.nodes.insert("/".into(), root);
        t.nodes.insert(ZOOKEEPER.into(), zk);
        t.nodes.insert(
            QUOTA.into(),
            Node::new(empty(), Acl::open_unsafe(), StatPersisted::default()),
        );
        t.nodes.insert(CONFIG.into(), config);
        t.digest = t.compute_digest();
        t.data_size = t.count_data_size();
        t
    }

    fn count_data_size(&self) -> u64 {
        self.nodes
            .iter()
            .map(|(p, n)| node_size(p, n.data.as_ref()))
            .sum()
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
            let Some(n) = self.nodes.get(&p) else {
                continue;
            };
            let prefix = if p == "/" { String::new() } else { p.clone() };
            for c in n.children.ordered().into_iter().rev() {
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
            digest: 0,
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_processed_zxid: last_zxid,
            data_size: 0,
        };
        for (path, mut node) in nodes {
            node.children = JavaHashSet::with_initial_capacity(8);
            if path != "/" {
                let parent = t
                    .nodes
                    .get_mut(parent_of(&path))
                    .ok_or_else(|| format!("node {path} comes before its parent"))?;
                parent.children.insert(child_name(&path).to_string());
                t.index_owner(&path, node.stat.ephemeral_owner);
            }
            t.nodes.insert(path, node);
        }
        if !t.nodes.contains_key("/") {
            return Err("no root node".into());
        }
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
        self.nodes
            .iter()
            .fold(0u64, |acc, (p, n)| acc.wrapping_add(node_digest(p, n)))
    }

    fn digest_out(&mut self, path: &str) {
        if let Some(n) = self.nodes.get(path) {
            self.digest = self.digest.wrapping_sub(node_digest(path, n));
        }
    }

    fn digest_in(&mut self, path: &str) {
        if let Some(n) = self.nodes.get(path) {
            self.digest = self.digest.wrapping_add(node_digest(path, n));
        }
    }

    /// The node at `path`; `""` is the root too, as ZooKeeper keeps the root under both keys.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(if path.is_empty() { "/" } else { path })
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_special(path: &str) -> bool {
        matches!(path, "/" | ZOOKEEPER | QUOTA | CONFIG)
    }

    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        self.get(path).map(|n| n.children.ordered())
    }

    /// Every descendant of `path` (not counting `path`), as getAllChildrenNumber counts them.
    pub fn descendant_count(&self, path: &str) -> usize {
        if path == "/" {
            // ZooKeeper keeps the root under two keys and subtracts both.
            return self.nodes.len() - 1;
        }
        let prefix = format!("{path}/");
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .count()
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
                            c.acl.clone(),
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
                self.digest_out(&t.path);
                let r = match self.nodes.get_mut(&t.path) {
                    None => Err(ErrorCode::NoNode),
                    Some(n) => {
                        self.data_size = self.data_size + node_size(&t.path, t.data.as_ref())
                            - node_size(&t.path, n.data.as_ref());
                        n.data = t.data.as_ref().map(|d| Bytes::copy_from_slice(d));
                        n.stat.version = t.version;
                        n.stat.mzxid = hdr.zxid;
                        n.stat.mtime = hdr.time;
                        changes.push(Change::DataChanged {
                            path: t.path.clone(),
                            acl: n.acl.as_slice().into(),
                        });
                        Ok(Some(n.client_stat()))
                    }
                };
                self.digest_in(&t.path);
                r
            }
            TxnBody::SetAcl(t) => {
                rc.path = t.path.clone();
                self.digest_out(&t.path);
                let r = match self.nodes.get_mut(&t.path) {
                    None => Err(ErrorCode::NoNode),
                    Some(n) => {
                        n.acl = t.acl.clone();
                        n.stat.aversion = t.version;
                        Ok(Some(n.client_stat()))
                    }
                };
                self.digest_in(&t.path);
                r
            }
            TxnBody::Check(t) => {
                rc.path = t.path.clone();
                Ok(self.nodes.get(&t.path).map(|n| n.client_stat()))
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
        if let Some(n) = self.nodes.get_mut(&path) {
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
        acl: Vec<Acl>,
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
        changes: &mut Vec<Change>,
    ) -> Result<Option<Stat>, ErrorCode> {
        let parent_path = parent_of(path);
        if !self.nodes.contains_key(parent_path) {
            return Err(ErrorCode::NoNode);
        }
        if self.nodes.contains_key(path) {
            // As ZooKeeper does, the existing node takes the txn's ACL (this only happens
            // when a log is replayed over a snapshot that already holds the node).
            self.digest_out(path);
            if let Some(n) = self.nodes.get_mut(path) {
                n.acl = acl;
            }
            self.digest_in(path);
            return Err(ErrorCode::NodeExists);
        }
        self.digest_out(parent_path);
        let parent = self.nodes.get_mut(parent_path).expect("checked above");
        let pcv = if parent_cversion == -1 {
            parent.stat.cversion + 1
        } else {
            parent_cversion
        };
        if pcv > parent.stat.cversion {
            parent.stat.cversion = pcv;
            parent.stat.pzxid = zxid;
        }
        parent.children.insert(child_name(path).to_string());
        let parent_acl: Arc<[Acl]> = parent.acl.as_slice().into();
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
        self.digest_in(parent_path);
        let acl_arc: Arc<[Acl]> = acl.as_slice().into();
        let node = Node::new(data, acl, stat);
        let out = node.client_stat();
        self.data_size += node_size(path, node.data.as_ref());
        self.nodes.insert(path.to_string(), node);
        self.digest_in(path);
        self.index_owner(path, owner);
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
        let parent_path = parent_of(path).to_string();
        if !self.nodes.contains_key(&parent_path) {
            return Err(ErrorCode::NoNode);
        }
        self.digest_out(&parent_path);
        let parent = self.nodes.get_mut(&parent_path).ok_or(ErrorCode::NoNode)?;
        parent.children.remove(child_name(path));
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        let parent_acl: Arc<[Acl]> = parent.acl.as_slice().into();
        self.digest_in(&parent_path);
        self.digest_out(path);
        let node = self.nodes.remove(path).ok_or(ErrorCode::NoNode)?;
        self.data_size -= node_size(path, node.data.as_ref());
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
        changes.push(Change::Deleted {
            path: path.to_string(),
            acl: node.acl.as_slice().into(),
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
}
