//! Applying a transaction: each txn kind's change to the tree, with what it gives back to
//! the client ([`ApplyResult`]) and to the watch manager ([`Change`]).

use super::node::{data_len, node_size};
use super::owners::{ttl_owner, CONTAINER_OWNER};
use super::path::{parent_of, PathOrd};
use super::{node_digest, AclList, DataTree, Node};
use crate::txn::{Txn, TxnBody};
use bytes::Bytes;
use jute::{Acl, ErrorCode, OpCode, Stat, StatPersisted};
use std::collections::btree_map;

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

impl DataTree {
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
        self.unindex_owner(path, node.stat.ephemeral_owner);
        self.quota_after_delete(path, data_len(&node.data));
        changes.push(Change::Deleted {
            path: path.to_string(),
            acl: node.acl.clone(),
            parent_acl,
        });
        Ok(())
    }
}
