//! Start-up: the newest snapshot that reads back whole, then every logged txn after it, in
//! zxid order. A torn last record (a crash in the middle of an append) is cut off; a record
//! that is complete but does not check out stops start-up with the file and offset, unless
//! the operator asked to start from the last good point.

use super::log::{read_log, truncate_at, LogEnd};
use super::snap;
use super::{list, StorageConfig};
use crate::tree::{Change, DataTree};
use crate::txn::{Txn, TxnBody};
use std::time::Instant;
use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("txn log {file} is corrupt at offset {offset}: {why} (set `ferrozk.truncateCorruptLog=yes` in zoo.cfg to start from the last good record, losing what follows)")]
    CorruptLog {
        file: String,
        offset: u64,
        why: String,
    },
    #[error("epoch files: {0}")]
    Epoch(String),
    #[error("no snapshot in {dir} could be read: {why}")]
    NoValidSnapshot { dir: String, why: String },
    #[error("txn log {file}: record after zxid 0x{after:x} cannot be read: {why}")]
    BadTxn {
        file: String,
        after: i64,
        why: String,
    },
}

/// What start-up recovered.
pub struct Recovered {
    pub tree: DataTree,
    /// Sessions alive at the last zxid, with their timeouts.
    pub sessions: Vec<(i64, i32)>,
    pub snapshots_read: usize,
    pub txns_replayed: u64,
}

/// Replays one logged txn on a recovering tree, and on the sessions alive: the one replay
/// step of every store (the dataDir here, the simulation's memory log in `mem`).
pub fn replay_txn(
    tree: &mut DataTree,
    live: &mut std::collections::BTreeMap<i64, i32>,
    txn: &Txn,
    changes: &mut Vec<Change>,
) {
    match &txn.body {
        TxnBody::CreateSession(c) => {
            live.insert(txn.hdr.client_id, c.time_out);
        }
        TxnBody::CloseSession(_) => {
            live.remove(&txn.hdr.client_id);
        }
        _ => {}
    }
    changes.clear();
    let _ = tree.apply(txn, changes);
}

pub fn recover(cfg: &StorageConfig, truncate_corrupt: bool) -> Result<Recovered, RecoveryError> {
    let started = Instant::now();
    let (mut tree, mut sessions, snapshots_read) = load_newest_snapshot(cfg)?;
    let snap_zxid = tree.last_processed_zxid;
    let logs = list(&cfg.log_dir, "log")?;
    // The log that holds snap_zxid + 1 starts at or before it: the newest such, and all after.
    let first = logs
        .iter()
        .rposition(|(z, _)| *z <= snap_zxid + 1)
        .unwrap_or(0);
    let mut replayed = 0u64;
    let mut mismatches = 0u64;
    let mut bytes = 0u64;
    let mut changes: Vec<Change> = Vec::new();
    let mut live: std::collections::BTreeMap<i64, i32> = sessions.drain(..).collect();
    for (_, path) in &logs[first.min(logs.len())..] {
        let file = read_log(path)?;
        let shown = path.display().to_string();
        for (end, raw) in &file.records {
            bytes += raw.len() as u64;
            let txn = Txn::decode(raw.clone()).map_err(|e| RecoveryError::BadTxn {
                file: shown.clone(),
                after: tree.last_processed_zxid,
                why: e.to_string(),
            })?;
            let _ = end;
            if txn.hdr.zxid <= tree.last_processed_zxid {
                continue;
            }
            replay_txn(&mut tree, &mut live, &txn, &mut changes);
            if let Some(d) = &txn.digest {
                if d.tree_digest as u64 != tree.digest() {
                    mismatches += 1;
                    if mismatches <= 10 {
                        warn!(
                            "digest mismatch replaying zxid 0x{:x}: logged {} computed {}",
                            txn.hdr.zxid,
                            d.tree_digest,
                            tree.digest()
                        );
                    }
                }
            }
            replayed += 1;
            if replayed.is_multiple_of(100_000) {
                info!(
                    "recovery: {replayed} txns ({bytes} bytes) replayed, {:?} elapsed",
                    started.elapsed()
                );
            }
        }
        match file.end {
            LogEnd::Clean => {}
            LogEnd::Torn { offset } => {
                warn!("txn log {shown} ends with a torn record at offset {offset}; cutting it off");
                truncate_at(path, offset)?;
            }
            LogEnd::Corrupt { offset, why } => {
                if truncate_corrupt {
                    warn!("txn log {shown} is corrupt at offset {offset} ({why}); starting from the last good record as configured");
                    truncate_at(path, offset)?;
                } else {
                    return Err(RecoveryError::CorruptLog {
                        file: shown,
                        offset,
                        why,
                    });
                }
            }
        }
    }
    info!(
        "recovered to zxid 0x{:x}: {} nodes, {} sessions, {} txns ({} bytes) replayed in {:?}",
        tree.last_processed_zxid,
        tree.node_count(),
        live.len(),
        replayed,
        bytes,
        started.elapsed()
    );
    Ok(Recovered {
        tree,
        sessions: live.into_iter().collect(),
        snapshots_read,
        txns_replayed: replayed,
    })
}

/// A tree, its sessions, and how many snapshots were read to get it.
type Base = (DataTree, Vec<(i64, i32)>, usize);

fn load_newest_snapshot(cfg: &StorageConfig) -> Result<Base, RecoveryError> {
    // A `.tmp` file is a snapshot a crash interrupted: never read, and no reason to refuse
    // to start when it is the only one (the logs then start from the beginning).
    let snaps: Vec<_> = list(&cfg.snap_dir, "snapshot")?
        .into_iter()
        .filter(|(_, p)| !p.to_string_lossy().ends_with(".tmp"))
        .collect();
    if snaps.is_empty() {
        return Ok((DataTree::new(), Vec::new(), 0));
    }
    let mut why = String::new();
    for (zxid, path) in snaps.iter().rev() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".tmp") {
            continue;
        }
        let bytes = match snap::read_file(path) {
            Ok(b) => b,
            Err(e)
                if e.kind() == std::io::ErrorKind::InvalidData
                    || e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                warn!(
                    "snapshot {} cannot be read ({e}); trying an older one",
                    path.display()
                );
                why = e.to_string();
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let t = Instant::now();
        match snap::deserialize(bytes, *zxid) {
            Ok(l) => {
                if let Some((dz, d)) = l.digest {
                    if dz > 0 && dz == *zxid && d as u64 != l.tree.digest() {
                        warn!(
                            "snapshot {name}: recorded digest {d} differs from the tree's {}",
                            l.tree.digest()
                        );
                    }
                }
                info!(
                    "loaded snapshot {name}: {} nodes, {} sessions in {:?}",
                    l.tree.node_count(),
                    l.sessions.len(),
                    t.elapsed()
                );
                return Ok((l.tree, l.sessions, 1));
            }
            Err(e) => {
                warn!(
                    "snapshot {} cannot be read ({e}); trying an older one",
                    path.display()
                );
                why = e;
            }
        }
    }
    Err(RecoveryError::NoValidSnapshot {
        dir: cfg.snap_dir.display().to_string(),
        why,
    })
}
