//! Listing a node's children (a range of the node map, put in the order Java's child
//! `HashSet` gives them) and walking a subtree.

use super::path::{child_prefix, PathKey, PathOrd};
use super::{javaset, DataTree, Node};
use std::ops::Bound;

impl DataTree {
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
    pub(super) fn for_each_below(&self, path: &str, mut f: impl FnMut(&str, &Node)) {
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
            |(k, _)| javaset::java_string_hash(&k.as_str()[skip..]),
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
}
