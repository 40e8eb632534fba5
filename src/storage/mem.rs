//! A txn log, snapshot slot and epoch files kept in memory, for the deterministic simulation
//! of an ensemble (tests/sim): the simulation decides when appended records become durable
//! and what a crash loses. Production servers never use it.

use crate::tree::{Change, DataTree};
use crate::txn::Txn;
use bytes::Bytes;
use std::collections::BTreeMap;

#[derive(Default)]
pub struct MemLog {
    /// Appended records (zxid, txn), in order; the first `durable` of them survive a crash.
    pub records: Vec<(i64, Bytes)>,
    pub durable: usize,
    /// The snapshots kept (zxid, file bytes), oldest first: the newest three, as a server
    /// on disk keeps them (autopurge.snapRetainCount's minimum).
    pub snapshots: Vec<(i64, Bytes)>,
    pub accepted_epoch: Option<i64>,
    pub current_epoch: Option<i64>,
}

impl MemLog {
    /// Makes everything appended durable; returns the last zxid, if anything is logged.
    pub fn sync(&mut self) -> Option<i64> {
        self.durable = self.records.len();
        self.records.last().map(|r| r.0)
    }

    /// A crash: what was not durable is gone.
    pub fn crash(&mut self) {
        self.records.truncate(self.durable);
    }

    /// Drops every record after `zxid`, and a snapshot taken past it (it holds what is
    /// being dropped), as the disk version does.
    pub fn truncate_after(&mut self, zxid: i64) {
        self.records.retain(|(z, _)| *z <= zxid);
        self.durable = self.durable.min(self.records.len());
        self.snapshots.retain(|(z, _)| *z <= zxid);
    }

    /// A snapshot written at `zxid`; the oldest beyond three go.
    pub fn add_snapshot(&mut self, zxid: i64, bytes: Bytes) {
        self.snapshots.retain(|(z, _)| *z != zxid);
        self.snapshots.push((zxid, bytes));
        self.snapshots.sort_by_key(|(z, _)| *z);
        let extra = self.snapshots.len().saturating_sub(3);
        self.snapshots.drain(..extra);
    }

    /// What recovery rebuilds from the durable state: the snapshot, then every durable
    /// record after it, and the sessions alive at the end.
    pub fn recover(&self) -> Result<(DataTree, Vec<(i64, i32)>), String> {
        let (mut tree, sessions) = match self.snapshots.last() {
            Some((zxid, bytes)) => {
                let l = super::snap::deserialize(bytes.clone(), *zxid)?;
                (l.tree, l.sessions)
            }
            None => (DataTree::new(), Vec::new()),
        };
        let mut live: BTreeMap<i64, i32> = sessions.into_iter().collect();
        let mut changes: Vec<Change> = Vec::new();
        for (zxid, raw) in &self.records[..self.durable] {
            if *zxid <= tree.last_processed_zxid {
                continue;
            }
            let txn = Txn::decode(raw.clone()).map_err(|e| e.to_string())?;
            super::recovery::replay_txn(&mut tree, &mut live, &txn, &mut changes);
        }
        Ok((tree, live.into_iter().collect()))
    }
}
