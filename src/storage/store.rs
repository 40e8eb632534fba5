//! The node's storage as one contract, [`Store`], with two implementations: [`FileStore`]
//! (ZooKeeper's dataDir: the txn log written by its own thread, snapshot files, epoch files)
//! and [`MemStore`] (the same in memory, made durable when the deterministic simulation says
//! so). The node never asks which one it has; the conformance tests at the end run every case
//! on both.

use super::epoch;
use super::log::LogWriter;
use super::mem::MemLog;
use super::{list, recovery, snap, StorageConfig};
use crate::tree::DataTree;
use bytes::Bytes;
use std::io;
use std::sync::{Arc, Mutex};
use tracing::info;

/// What the node needs from its storage. Every method but `append` and `roll` may block (the
/// node calls them off its hot path, in protocol steps that must wait for the disk).
pub trait Store: Send {
    /// Hands the txn with this zxid to the log; false if the log is gone. It becomes durable
    /// later, in order, as the store reports.
    fn append(&self, zxid: i64, txn: Bytes) -> bool;
    /// The next append starts a new log file (after a snapshot).
    fn roll(&self);
    /// Waits until everything appended so far is durable; false if the log failed.
    fn barrier(&self) -> bool;
    /// Drops every record logged after `zxid` and every snapshot taken past it.
    fn truncate_after(&self, zxid: i64) -> io::Result<()>;
    /// An epoch file (`acceptedEpoch`, `currentEpoch`); `None` if it was never written.
    fn read_epoch(&self, name: &str) -> io::Result<Option<i64>>;
    /// Replaces an epoch file durably.
    fn write_epoch(&self, name: &str, value: i64) -> io::Result<()>;
    /// Installs a leader's snapshot at `zxid`, durably: what was logged after it and newer
    /// snapshots go.
    fn install_snapshot(&self, zxid: i64, parts: &[Bytes]) -> io::Result<()>;
    /// Rebuilds the durable state: the newest snapshot and the records after it, and the
    /// sessions alive at the end.
    fn recover(&self) -> Result<(DataTree, Vec<(i64, i32)>), String>;
}

/// The dataDir (and dataLogDir) of a server.
pub struct FileStore {
    log: LogWriter,
    cfg: StorageConfig,
}

impl FileStore {
    /// Starts the txn log writer; `durable` is called with the highest durable zxid after each
    /// group commit.
    pub fn start(cfg: StorageConfig, durable: impl Fn(i64) + Send + 'static) -> io::Result<Self> {
        let log = LogWriter::start(cfg.clone(), durable)?;
        Ok(FileStore { log, cfg })
    }

    fn drop_snapshots_after(&self, zxid: i64) -> io::Result<()> {
        for (z, path) in list(&self.cfg.snap_dir, "snapshot")? {
            if z > zxid {
                std::fs::remove_file(&path)?;
                info!("removed {} (past 0x{zxid:x})", path.display());
            }
        }
        Ok(())
    }
}

impl Store for FileStore {
    fn append(&self, zxid: i64, txn: Bytes) -> bool {
        self.log.append(zxid, txn)
    }

    fn roll(&self) {
        self.log.roll()
    }

    fn barrier(&self) -> bool {
        self.log.barrier()
    }

    fn truncate_after(&self, zxid: i64) -> io::Result<()> {
        self.log.truncate_after(zxid)?;
        self.drop_snapshots_after(zxid)
    }

    fn read_epoch(&self, name: &str) -> io::Result<Option<i64>> {
        epoch::read(&self.cfg.snap_dir, name)
    }

    fn write_epoch(&self, name: &str, value: i64) -> io::Result<()> {
        epoch::write(&self.cfg.snap_dir, name, value)
    }

    fn install_snapshot(&self, zxid: i64, parts: &[Bytes]) -> io::Result<()> {
        self.truncate_after(zxid)?;
        snap::write_file(&self.cfg.snap_dir, zxid, parts, self.cfg.compression).map(|_| ())
    }

    fn recover(&self) -> Result<(DataTree, Vec<(i64, i32)>), String> {
        recovery::recover(&self.cfg, false)
            .map(|r| (r.tree, r.sessions))
            .map_err(|e| e.to_string())
    }
}

/// The simulation's storage: a [`MemLog`] shared with the simulation, which decides when
/// appended records become durable and what a crash loses.
pub struct MemStore {
    mem: Arc<Mutex<MemLog>>,
}

impl MemStore {
    pub fn new(mem: Arc<Mutex<MemLog>>) -> Self {
        MemStore { mem }
    }

    fn with<T>(&self, f: impl FnOnce(&mut MemLog) -> T) -> T {
        let mut m = self.mem.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut m)
    }
}

impl Store for MemStore {
    fn append(&self, zxid: i64, txn: Bytes) -> bool {
        self.with(|m| m.records.push((zxid, txn)));
        true
    }

    fn roll(&self) {}

    fn barrier(&self) -> bool {
        self.with(|m| m.sync());
        true
    }

    fn truncate_after(&self, zxid: i64) -> io::Result<()> {
        self.with(|m| m.truncate_after(zxid));
        Ok(())
    }

    fn read_epoch(&self, name: &str) -> io::Result<Option<i64>> {
        Ok(self.with(|m| match name {
            epoch::ACCEPTED_EPOCH => m.accepted_epoch,
            _ => m.current_epoch,
        }))
    }

    fn write_epoch(&self, name: &str, value: i64) -> io::Result<()> {
        self.with(|m| match name {
            epoch::ACCEPTED_EPOCH => m.accepted_epoch = Some(value),
            _ => m.current_epoch = Some(value),
        });
        Ok(())
    }

    fn install_snapshot(&self, zxid: i64, parts: &[Bytes]) -> io::Result<()> {
        let bytes = Bytes::from(parts.concat());
        self.with(|m| {
            m.truncate_after(zxid);
            m.add_snapshot(zxid, bytes);
        });
        Ok(())
    }

    fn recover(&self) -> Result<(DataTree, Vec<(i64, i32)>), String> {
        self.with(|m| m.recover())
    }
}

#[cfg(test)]
mod conformance {
    //! Every case runs on both stores: what the simulation checks must hold on disk.
    use super::*;
    use crate::txn::{Txn, TxnBody};
    use jute::{Acl, CreateTxn, OpCode, TxnHeader};

    fn create(zxid: i64, path: &str) -> Bytes {
        Txn {
            hdr: TxnHeader {
                client_id: 1,
                cxid: 1,
                zxid,
                time: 1,
                op: OpCode::Create.code(),
            },
            body: TxnBody::Create(CreateTxn {
                path: path.into(),
                data: Some(Bytes::from_static(b"v")),
                acl: Acl::open_unsafe(),
                ephemeral: false,
                parent_c_version: -1,
            }),
            digest: None,
        }
        .to_bytes()
    }

    fn paths(tree: &DataTree) -> Vec<String> {
        let mut v: Vec<String> = tree.children("/").unwrap_or_default();
        v.sort();
        v
    }

    /// Runs `case` on a fresh file store and a fresh memory store.
    fn on_both(name: &str, case: impl Fn(&dyn Store)) {
        let dir = std::env::temp_dir().join(format!("ferrozk-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = crate::config::Config::parse(
            std::path::Path::new("zoo.cfg"),
            &format!("dataDir={}\nclientPort=2181\n", dir.display()),
        )
        .unwrap();
        let storage = StorageConfig::from_config(&cfg);
        std::fs::create_dir_all(&storage.snap_dir).unwrap();
        {
            let file = FileStore::start(storage, |_| {}).unwrap();
            case(&file);
        }
        let _ = std::fs::remove_dir_all(&dir);
        let mem = MemStore::new(Arc::new(Mutex::new(MemLog::default())));
        case(&mem);
    }

    #[test]
    fn appended_records_are_recovered_after_a_barrier() {
        on_both("append", |s| {
            for (z, p) in [(1, "/a"), (2, "/b"), (3, "/c")] {
                assert!(s.append(z, create(z, p)));
            }
            assert!(s.barrier());
            let (tree, _) = s.recover().unwrap();
            assert_eq!(tree.last_processed_zxid, 3);
            assert_eq!(paths(&tree), ["a", "b", "c", "zookeeper"]);
        });
    }

    #[test]
    fn truncation_drops_later_records_and_later_snapshots() {
        on_both("truncate", |s| {
            for (z, p) in [(1, "/a"), (2, "/b"), (3, "/c")] {
                s.append(z, create(z, p));
            }
            s.barrier();
            s.truncate_after(2).unwrap();
            let (tree, _) = s.recover().unwrap();
            assert_eq!(tree.last_processed_zxid, 2);
            assert_eq!(paths(&tree), ["a", "b", "zookeeper"]);
            // Appending after a truncation continues from there.
            s.append(3, create(3, "/d"));
            s.barrier();
            assert_eq!(paths(&s.recover().unwrap().0), ["a", "b", "d", "zookeeper"]);
        });
    }

    #[test]
    fn epochs_read_back_what_was_written() {
        on_both("epochs", |s| {
            assert_eq!(s.read_epoch(epoch::ACCEPTED_EPOCH).unwrap(), None);
            s.write_epoch(epoch::ACCEPTED_EPOCH, 3).unwrap();
            s.write_epoch(epoch::CURRENT_EPOCH, 2).unwrap();
            assert_eq!(s.read_epoch(epoch::ACCEPTED_EPOCH).unwrap(), Some(3));
            assert_eq!(s.read_epoch(epoch::CURRENT_EPOCH).unwrap(), Some(2));
        });
    }

    #[test]
    fn an_installed_snapshot_replaces_the_history_and_the_log_continues_after_it() {
        on_both("install", |s| {
            // This member had logged a history the leader does not have.
            s.append(1, create(1, "/mine"));
            s.append(2, create(2, "/mine2"));
            s.barrier();
            // The leader's tree at zxid 5.
            let mut leader = DataTree::new();
            let mut ch = Vec::new();
            for (z, p) in [(4, "/x"), (5, "/y")] {
                let t = Txn::decode(create(z, p)).unwrap();
                leader.apply(&t, &mut ch);
            }
            let parts = snap::serialize_parts(&leader, &[]);
            s.install_snapshot(5, &parts).unwrap();
            s.append(6, create(6, "/z"));
            s.barrier();
            let (tree, _) = s.recover().unwrap();
            assert_eq!(tree.last_processed_zxid, 6);
            assert_eq!(paths(&tree), ["x", "y", "z", "zookeeper"]);
            // A truncation below the snapshot takes the snapshot with it.
            s.truncate_after(2).unwrap();
            let (tree, _) = s.recover().unwrap();
            assert_eq!(tree.last_processed_zxid, 2);
            assert_eq!(paths(&tree), ["mine", "mine2", "zookeeper"]);
        });
    }
}
