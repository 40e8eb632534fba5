//! The on-disk dataDir in ZooKeeper's own format (`version-2/log.<zxid>`,
//! `version-2/snapshot.<zxid>`), so that ferrozk can start on a Java ZooKeeper's dataDir and
//! hand its own back. `log` owns the txn log (format, the writer thread with group commit,
//! reading), `snap` the snapshots, `recovery` the start-up path (newest valid snapshot plus
//! the log after it).
//!
//! The log is written with `write` + `fdatasync` into a file preallocated with
//! `posix_fallocate`, not through a memory map: for a sequential append-only log a map saves
//! nothing (the bytes are copied once either way), and a full disk or an I/O error on a
//! mapped page arrives as SIGBUS instead of an error we can report and survive.

pub mod epoch;
pub mod log;
pub mod mem;
pub mod recovery;
pub mod snap;
pub mod store;
pub mod tools;

use std::path::{Path, PathBuf};

/// The directory ZooKeeper keeps its files in under dataDir and dataLogDir.
pub const VERSION_DIR: &str = "version-2";

/// Settings of the storage layer, from zoo.cfg.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub snap_dir: PathBuf,
    pub log_dir: PathBuf,
    pub force_sync: bool,
    pub prealloc_bytes: u64,
    pub snap_count: u64,
    pub max_batch: usize,
    /// `flushDelay` (ms, 0): how long the writer may wait to gather a batch.
    pub flush_delay_ms: u64,
    pub fsync_warn_ms: u64,
    /// `autopurge.snapRetainCount` (3) and `autopurge.purgeInterval` in hours (0 = off).
    pub purge_keep: usize,
    pub purge_interval_hours: u64,
    pub compression: snap::Compression,
}

impl StorageConfig {
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        let s = &cfg.settings;
        StorageConfig {
            snap_dir: cfg.data_dir.join(VERSION_DIR),
            log_dir: cfg.data_log_dir.join(VERSION_DIR),
            force_sync: s.force_sync,
            prealloc_bytes: s.pre_alloc_kib.saturating_mul(1024),
            snap_count: s.snap_count,
            max_batch: s.max_batch_size,
            flush_delay_ms: s.flush_delay_ms,
            fsync_warn_ms: s.fsync_warning_ms,
            purge_keep: s.snap_retain_count,
            purge_interval_hours: s.purge_interval_hours,
            compression: snap::Compression::from_setting(s.snapshot_compression),
        }
    }
}

/// `log.<hex zxid>` / `snapshot.<hex zxid>`: lower-case hex, no padding.
pub fn file_name(prefix: &str, zxid: i64) -> String {
    format!("{prefix}.{zxid:x}")
}

/// The zxid in a `prefix.<hex>` file name (a compression suffix is allowed after it).
pub fn zxid_of(name: &str, prefix: &str) -> Option<i64> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('.')?;
    let hex = rest.split('.').next()?;
    u64::from_str_radix(hex, 16).ok().map(|z| z as i64)
}

/// Files named `prefix.<zxid>` in `dir`, sorted by zxid.
pub fn list(dir: &Path, prefix: &str) -> std::io::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            for e in rd {
                let e = e?;
                if let Some(z) = e.file_name().to_str().and_then(|n| zxid_of(n, prefix)) {
                    out.push((z, e.path()));
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    out.sort();
    Ok(out)
}

/// Creates `dir` (and parents) and fsyncs the parent so the new entry survives a crash.
pub fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        if let Some(p) = dir.parent() {
            sync_dir(p)?;
        }
    }
    Ok(())
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_zookeepers() {
        assert_eq!(file_name("log", 0x1_0000_0001), "log.100000001");
        assert_eq!(zxid_of("snapshot.1a", "snapshot"), Some(0x1a));
        assert_eq!(zxid_of("snapshot.1a.gz", "snapshot"), Some(0x1a));
        assert_eq!(zxid_of("log.xyz", "log"), None);
        assert_eq!(zxid_of("logs.1", "log"), None);
    }
}
