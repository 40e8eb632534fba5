//! The txn log: ZooKeeper's `log.<zxid>` files. A file is a `FileHeader{"ZKLG", 2, dbid 0}`
//! followed by records `{long adler32(txn), int len, txn bytes, byte 'B'}`; a zero length
//! marks the end (the rest of the file is preallocated zeros).
//!
//! Appends happen on a dedicated writer thread, never on a tokio worker: it takes whatever
//! proposals are queued (up to `maxBatchSize`), writes them with one `write`, makes them
//! durable with one `fdatasync` (unless `forceSync=no`), and reports the last durable zxid.

use super::{file_name, StorageConfig};
use bytes::Bytes;
use jute::{Decode, Encode, FileHeader, Reader};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;
use tracing::{error, info, warn};

/// "ZKLG".
pub const LOG_MAGIC: i32 = 0x5A4B_4C47;
const EOR: u8 = b'B';

/// Appends one record (checksum, length, bytes, end-of-record) for `txn`.
pub fn encode_record(txn: &[u8], out: &mut Vec<u8>) {
    let mut a = adler2::Adler32::new();
    a.write_slice(txn);
    out.extend_from_slice(&(a.checksum() as i64).to_be_bytes());
    out.extend_from_slice(&(txn.len() as i32).to_be_bytes());
    out.extend_from_slice(txn);
    out.push(EOR);
}

pub fn header_bytes() -> Vec<u8> {
    let mut b = bytes::BytesMut::new();
    FileHeader {
        magic: LOG_MAGIC,
        version: 2,
        dbid: 0,
    }
    .encode(&mut b);
    b.to_vec()
}

/// How reading a log file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEnd {
    /// A zero length or the end of the file: everything was read.
    Clean,
    /// The last record is incomplete (a write torn by a crash): it was never acknowledged.
    Torn { offset: u64 },
    /// A complete record whose checksum does not match, or garbage: the log is corrupt here.
    Corrupt { offset: u64, why: String },
}

/// Every complete record of one log file, with where each ends, and how the file ended.
pub struct LogFile {
    pub path: PathBuf,
    pub records: Vec<(u64, Bytes)>,
    pub end: LogEnd,
}

pub fn read_log(path: &Path) -> std::io::Result<LogFile> {
    let mut buf = Vec::new();
    File::open(path)?.read_to_end(&mut buf)?;
    let data = Bytes::from(buf);
    let mut out = LogFile {
        path: path.to_path_buf(),
        records: Vec::new(),
        end: LogEnd::Clean,
    };
    if data.len() < 16 {
        out.end = if data.iter().all(|b| *b == 0) {
            LogEnd::Clean
        } else {
            LogEnd::Torn { offset: 0 }
        };
        return Ok(out);
    }
    let hdr = FileHeader::decode(&mut Reader::new(data.slice(0..16)));
    match hdr {
        Ok(h) if h.magic == LOG_MAGIC => {}
        _ => {
            out.end = LogEnd::Corrupt {
                offset: 0,
                why: "not a ZooKeeper txn log (bad magic)".into(),
            };
            return Ok(out);
        }
    }
    let mut pos = 16usize;
    loop {
        if pos + 12 > data.len() {
            // Not even a record header: a clean end if only zeros remain.
            if data[pos..].iter().any(|b| *b != 0) {
                out.end = LogEnd::Torn { offset: pos as u64 };
            }
            return Ok(out);
        }
        let sum = i64::from_be_bytes(data[pos..pos + 8].try_into().unwrap_or([0; 8]));
        let len = i32::from_be_bytes(data[pos + 8..pos + 12].try_into().unwrap_or([0; 4]));
        if len == 0 {
            return Ok(out);
        }
        let start = pos + 12;
        if len < 0 || start + len as usize + 1 > data.len() {
            out.end = LogEnd::Torn { offset: pos as u64 };
            return Ok(out);
        }
        let end = start + len as usize;
        let txn = data.slice(start..end);
        let mut a = adler2::Adler32::new();
        a.write_slice(&txn);
        if data[end] != EOR {
            // A record cut short by a crash leaves zeros where the rest should be.
            out.end = if data[end..].iter().all(|b| *b == 0) {
                LogEnd::Torn { offset: pos as u64 }
            } else {
                LogEnd::Corrupt {
                    offset: pos as u64,
                    why: "missing end-of-record byte".into(),
                }
            };
            return Ok(out);
        }
        if a.checksum() as i64 != sum {
            let tail_is_zero = data[end + 1..].iter().all(|b| *b == 0);
            out.end = if tail_is_zero {
                LogEnd::Torn { offset: pos as u64 }
            } else {
                LogEnd::Corrupt {
                    offset: pos as u64,
                    why: "checksum mismatch".into(),
                }
            };
            return Ok(out);
        }
        pos = end + 1;
        out.records.push((pos as u64, txn));
    }
}

/// What the node tells the writer.
pub enum LogCmd {
    /// Append this txn (header, body, digest) as the proposal with this zxid.
    Append { zxid: i64, txn: Bytes },
    /// Start a new file with the next append (after a snapshot).
    Roll,
    /// Drop every record after this zxid (a learner told by its leader to truncate, or
    /// replacing its state with the leader's snapshot); the next append starts a new file.
    TruncateAfter {
        zxid: i64,
        done: mpsc::Sender<std::io::Result<()>>,
    },
    /// Answered once everything appended before it is durable.
    Barrier { done: mpsc::Sender<()> },
}

/// The writer thread's handle; dropping it stops the thread after the queue is written.
pub struct LogWriter {
    tx: mpsc::Sender<LogCmd>,
}

impl LogWriter {
    /// Starts the writer thread. `durable` is called with the highest zxid made durable
    /// after each batch; it must not block for long.
    pub fn start(
        cfg: StorageConfig,
        durable: impl Fn(i64) + Send + 'static,
    ) -> std::io::Result<LogWriter> {
        super::ensure_dir(&cfg.log_dir)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("ferrozk-txnlog".into())
            .spawn(move || writer_loop(cfg, rx, durable))?;
        Ok(LogWriter { tx })
    }

    fn send(&self, cmd: LogCmd) -> bool {
        self.tx.send(cmd).is_ok()
    }

    pub fn append(&self, zxid: i64, txn: Bytes) -> bool {
        self.send(LogCmd::Append { zxid, txn })
    }

    pub fn roll(&self) {
        self.send(LogCmd::Roll);
    }

    /// Blocks until every record after `zxid` is gone from the log directory.
    pub fn truncate_after(&self, zxid: i64) -> std::io::Result<()> {
        let (done, rx) = mpsc::channel();
        if !self.send(LogCmd::TruncateAfter { zxid, done }) {
            return Err(std::io::Error::other("the txn log writer is gone"));
        }
        rx.recv()
            .map_err(|_| std::io::Error::other("the txn log writer is gone"))?
    }

    /// Blocks until everything appended so far is durable; false if the writer failed.
    pub fn barrier(&self) -> bool {
        let (done, rx) = mpsc::channel();
        self.send(LogCmd::Barrier { done }) && rx.recv().is_ok()
    }
}

/// The zxid in a txn record's header (`long clientId, int cxid, long zxid, ...`).
fn record_zxid(txn: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(txn.get(12..20)?.try_into().ok()?))
}

/// Removes every record after `zxid` from the logs in `dir`: later files are deleted, the
/// file holding `zxid` is cut after its record.
pub fn truncate_logs_after(dir: &Path, zxid: i64) -> std::io::Result<()> {
    let files = super::list(dir, "log")?;
    for (start, path) in files.iter().rev() {
        if *start > zxid {
            std::fs::remove_file(path)?;
            info!("truncation removed {}", path.display());
            continue;
        }
        let log = read_log(path)?;
        let mut keep = 16u64;
        for (end, txn) in &log.records {
            match record_zxid(txn) {
                Some(z) if z <= zxid => keep = *end,
                _ => break,
            }
        }
        truncate_at(path, keep)?;
        info!("truncated {} after zxid 0x{zxid:x}", path.display());
        break;
    }
    super::sync_dir(dir)
}

struct Current {
    file: File,
    /// Bytes written so far (header and records).
    pos: u64,
    /// Bytes reserved on disk.
    allocated: u64,
}

fn open_new(cfg: &StorageConfig, zxid: i64) -> std::io::Result<Current> {
    let t = Instant::now();
    let path = cfg.log_dir.join(file_name("log", zxid));
    // A file of this name can only exist if a crash left it without a single durable record
    // (recovery would otherwise have moved past `zxid`): start it afresh.
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    let hdr = header_bytes();
    file.write_all(&hdr)?;
    let mut cur = Current {
        file,
        pos: hdr.len() as u64,
        allocated: hdr.len() as u64,
    };
    reserve(&mut cur, cfg.prealloc_bytes)?;
    if cfg.force_sync {
        cur.file.sync_all()?;
        super::sync_dir(&cfg.log_dir)?;
    }
    info!("new txn log {} ({:?})", path.display(), t.elapsed());
    Ok(cur)
}

/// Keeps at least 4 KiB reserved past the write position, growing by `step` (preAllocSize).
/// The space is allocated for real, so a full disk is an error here and not a hole that
/// fails later.
fn reserve(cur: &mut Current, step: u64) -> std::io::Result<()> {
    if step == 0 || cur.pos + 4096 < cur.allocated {
        return Ok(());
    }
    let mut target = cur.allocated.max(cur.pos);
    while cur.pos + 4096 >= target {
        target += step;
    }
    // SAFETY: posix_fallocate on an open file descriptor; no memory is shared.
    let rc = unsafe {
        libc::posix_fallocate(
            std::os::fd::AsRawFd::as_raw_fd(&cur.file),
            0,
            target as libc::off_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    cur.allocated = target;
    Ok(())
}

/// Faults the tests inject through `FERROZK_INJECT_FAULT` (`short-write:N` or
/// `fsync-error:N`: after N good batches). Unset in production; parsed once.
#[derive(Default)]
struct Faults {
    short_write_after: Option<u64>,
    fsync_error_after: Option<u64>,
    batches: u64,
}

impl Faults {
    fn from_env() -> Faults {
        let mut f = Faults::default();
        if let Ok(v) = std::env::var("FERROZK_INJECT_FAULT") {
            let n = |s: &str| s.parse::<u64>().ok();
            match v.split_once(':') {
                Some(("short-write", k)) => f.short_write_after = n(k),
                Some(("fsync-error", k)) => f.fsync_error_after = n(k),
                _ => warn!("ignoring FERROZK_INJECT_FAULT={v}"),
            }
            warn!("fault injection active: {v}");
        }
        f
    }

    fn hit(at: Option<u64>, batches: u64) -> bool {
        at.is_some_and(|n| batches >= n)
    }
}

/// `fdatasync`, or the end of the process: after a failed fsync the kernel may already have
/// dropped the dirty pages, so retrying could acknowledge data that is not on disk. Only a
/// restart, which recovers from what the disk really holds, is safe (ZooKeeper exits too).
fn sync_or_exit(c: &Current, faults: &Faults) {
    let r = if Faults::hit(faults.fsync_error_after, faults.batches) {
        Err(std::io::Error::other("injected fsync failure"))
    } else {
        c.file.sync_data()
    };
    if let Err(e) = r {
        error!(
            "fsync of the txn log failed: {e}; exiting so that recovery reads what the disk holds"
        );
        std::process::exit(70);
    }
}

fn writer_loop(cfg: StorageConfig, rx: mpsc::Receiver<LogCmd>, durable: impl Fn(i64)) {
    let mut cur: Option<Current> = None;
    let mut buf = Vec::with_capacity(1 << 16);
    let mut failed = false;
    let mut faults = Faults::from_env();
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        // `flushDelay` > 0 waits that long for more proposals to share the fsync.
        let deadline = Instant::now() + std::time::Duration::from_millis(cfg.flush_delay_ms);
        while batch.len() < cfg.max_batch {
            let next = if cfg.flush_delay_ms == 0 {
                rx.try_recv().ok()
            } else {
                rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .ok()
            };
            match next {
                Some(c) => batch.push(c),
                None => break,
            }
        }
        if failed {
            continue; // nothing more is acknowledged once a write failed
        }
        let mut last = None;
        let mut barriers = Vec::new();
        crate::stats::stats()
            .sync_processor_batch_size
            .add(batch.len() as u64);
        let res = (|| -> std::io::Result<()> {
            for cmd in batch {
                match cmd {
                    LogCmd::Roll => {
                        flush(&mut cur, &mut buf, cfg.prealloc_bytes, &faults)?;
                        if let (Some(c), true) = (&cur, cfg.force_sync) {
                            sync_or_exit(c, &faults);
                        }
                        cur = None;
                    }
                    LogCmd::TruncateAfter { zxid, done } => {
                        flush(&mut cur, &mut buf, cfg.prealloc_bytes, &faults)?;
                        if let (Some(c), true) = (&cur, cfg.force_sync) {
                            sync_or_exit(c, &faults);
                        }
                        cur = None;
                        let _ = done.send(truncate_logs_after(&cfg.log_dir, zxid));
                    }
                    LogCmd::Barrier { done } => barriers.push(done),
                    LogCmd::Append { zxid, txn } => {
                        if cur.is_none() {
                            cur = Some(open_new(&cfg, zxid)?);
                        }
                        encode_record(&txn, &mut buf);
                        last = Some(zxid);
                    }
                }
            }
            flush(&mut cur, &mut buf, cfg.prealloc_bytes, &faults)?;
            if let (Some(c), true) = (&cur, cfg.force_sync) {
                let t = Instant::now();
                sync_or_exit(c, &faults);
                let took = t.elapsed();
                crate::stats::stats().fsynctime.add(took.as_micros() as u64);
                let ms = took.as_millis() as u64;
                if ms > cfg.fsync_warn_ms {
                    crate::stats::stats().fsync_threshold_exceed_count.inc();
                    warn!(
                        "fsync of the txn log took {ms} ms (fsync.warningthresholdms={})",
                        cfg.fsync_warn_ms
                    );
                }
            }
            Ok(())
        })();
        faults.batches += 1;
        match res {
            Ok(()) => {
                if let Some(z) = last {
                    durable(z);
                }
                for b in barriers {
                    let _ = b.send(());
                }
            }
            Err(e) => {
                error!("writing the txn log failed: {e}; no further writes will be acknowledged");
                failed = true;
            }
        }
    }
    if let Some(c) = cur {
        let _ = c.file.sync_all();
    }
}

fn flush(
    cur: &mut Option<Current>,
    buf: &mut Vec<u8>,
    step: u64,
    faults: &Faults,
) -> std::io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    let Some(c) = cur else {
        buf.clear();
        return Ok(());
    };
    c.pos += buf.len() as u64;
    reserve(c, step)?;
    if Faults::hit(faults.short_write_after, faults.batches) {
        c.file.write_all(&buf[..buf.len() / 2])?;
        return Err(std::io::Error::other("injected short write"));
    }
    c.file.write_all(buf)?;
    buf.clear();
    Ok(())
}

/// Cuts a log file back to `offset` (dropping a torn last record) and zeroes the rest of
/// the reserved space so that a reader stops there.
pub fn truncate_at(path: &Path, offset: u64) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(offset))?;
    let zeros = vec![0u8; 64 * 1024];
    let mut at = offset;
    while at < len {
        let n = ((len - at) as usize).min(zeros.len());
        f.write_all(&zeros[..n])?;
        at += n as u64;
    }
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_torn_tails_are_recognised() {
        let dir = std::env::temp_dir().join(format!("ferrozk-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("log.1");
        let mut b = header_bytes();
        encode_record(b"first", &mut b);
        encode_record(b"second", &mut b);
        let full = b.len();
        b.extend_from_slice(&[0; 100]);
        std::fs::write(&p, &b).unwrap();
        let l = read_log(&p).unwrap();
        assert_eq!(l.records.len(), 2);
        assert_eq!(l.end, LogEnd::Clean);
        // Cut the second record short: torn, one record survives.
        std::fs::write(&p, &b[..full - 3]).unwrap();
        let l = read_log(&p).unwrap();
        assert_eq!(l.records.len(), 1);
        assert!(matches!(l.end, LogEnd::Torn { .. }));
        // Flip a byte inside the first record with the second intact after it: corrupt.
        let mut c = b.clone();
        c[16 + 12] ^= 1;
        std::fs::write(&p, &c).unwrap();
        let l = read_log(&p).unwrap();
        assert_eq!(l.records.len(), 0);
        assert!(matches!(l.end, LogEnd::Corrupt { offset: 16, .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
