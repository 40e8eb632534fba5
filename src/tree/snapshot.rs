//! The tree as a snapshot sees it: every node parent-first, and the tree rebuilt from such
//! a list.

use super::path::{parent_of, PathOrd};
use super::quota::QuotaTrie;
use super::{AclList, AclTable, DataTree, Node};
use std::collections::{btree_map, BTreeMap, BTreeSet, HashMap};

impl DataTree {
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
}
