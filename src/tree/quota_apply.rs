//! The tree's quota bookkeeping (ZooKeeper's DataTree): the set of quota paths and the stats
//! nodes kept up to date as nodes are created, deleted and changed, and the quota check
//! against the applied tree. The quota formats and the path trie are in `quota`.

use super::node::data_len;
use super::path::{child_name, java_parent, java_substring_from};
use super::quota::{
    self, QuotaRefusal, QuotaWarning, StatsTrack, LIMIT_NODE, QUOTA_ROOT, STAT_NODE,
};
use super::{DataTree, ZOOKEEPER};
use bytes::Bytes;

impl DataTree {
    /// `DataTree.createNode`'s quota bookkeeping: a new limit node gives its path a quota, a
    /// new stats node is filled with the subtree's current counts, and a node inside a quota
    /// subtree counts towards it.
    pub(super) fn quota_after_create(&mut self, path: &str, bytes: i64) {
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
    pub(super) fn quota_after_delete(&mut self, path: &str, bytes: i64) {
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
    pub(super) fn update_quota_stat(&mut self, prefix: &str, bytes_diff: i64, count_diff: i64) {
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
}
