//! Offline tools on ZooKeeper data files, the counterparts of zkTxnLogToolkit.sh,
//! zkSnapShotToolkit.sh and zkCleanup.sh: dump a txn log or a snapshot, verify a dataDir, and
//! purge old snapshots and logs (also what `autopurge.*` runs in the server).

use super::log::{read_log, LogEnd};
use super::{list, snap, zxid_of, VERSION_DIR};
use crate::txn::{Txn, TxnBody};
use std::io::Write;
use std::path::{Path, PathBuf};

fn version_dir(d: &Path) -> PathBuf {
    if d.ends_with(VERSION_DIR) {
        d.to_path_buf()
    } else {
        d.join(VERSION_DIR)
    }
}

fn describe(t: &Txn) -> String {
    let b = match &t.body {
        TxnBody::CreateSession(c) => format!("createSession timeout={}", c.time_out),
        TxnBody::CloseSession(c) => format!("closeSession {:?}", c.paths2_delete),
        TxnBody::Create(c) => format!(
            "create {} ephemeral={} len={}",
            c.path,
            c.ephemeral,
            c.data.as_ref().map_or(-1, |d| d.len() as i64)
        ),
        TxnBody::CreateContainer(c) => format!("createContainer {}", c.path),
        TxnBody::CreateTtl(c) => format!("createTTL {} ttl={}", c.path, c.ttl),
        TxnBody::Delete(d) => format!("delete {}", d.path),
        TxnBody::SetData(s) => format!("setData {} version={}", s.path, s.version),
        TxnBody::SetAcl(s) => format!("setACL {} version={}", s.path, s.version),
        TxnBody::Check(c) => format!("check {} version={}", c.path, c.version),
        TxnBody::Error(e) => format!("error {}", e.err),
        TxnBody::Multi(m) => format!("multi of {}", m.len()),
    };
    format!(
        "session 0x{:x} cxid 0x{:x} zxid 0x{:x} time {} {b}{}",
        t.hdr.client_id,
        t.hdr.cxid,
        t.hdr.zxid,
        t.hdr.time,
        t.digest
            .as_ref()
            .map_or(String::new(), |d| format!(" digest {}", d.tree_digest))
    )
}

/// Prints every record of a txn log; false if the file is corrupt.
pub fn dump_log(path: &Path, out: &mut dyn Write) -> std::io::Result<bool> {
    let f = read_log(path)?;
    writeln!(out, "ZooKeeper Transactional Log File {}", path.display())?;
    let mut ok = true;
    for (end, raw) in &f.records {
        match Txn::decode(raw.clone()) {
            Ok(t) => writeln!(out, "{}", describe(&t))?,
            Err(e) => {
                writeln!(out, "record ending at offset {end}: cannot decode: {e}")?;
                ok = false;
            }
        }
    }
    match f.end {
        LogEnd::Clean => writeln!(out, "EOF reached after {} txns.", f.records.len())?,
        LogEnd::Torn { offset } => writeln!(
            out,
            "EOF reached after {} txns; torn record at offset {offset}.",
            f.records.len()
        )?,
        LogEnd::Corrupt { offset, why } => {
            writeln!(out, "CORRUPT at offset {offset}: {why}")?;
            ok = false;
        }
    }
    Ok(ok)
}

/// Prints a snapshot's sessions and nodes; false if it does not read back whole.
pub fn dump_snapshot(path: &Path, out: &mut dyn Write) -> std::io::Result<bool> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let zxid = zxid_of(name, "snapshot").unwrap_or(0);
    let bytes = snap::read_file(path)?;
    match snap::deserialize(bytes, zxid) {
        Ok(l) => {
            writeln!(out, "ZNode Details (count={}):", l.tree.node_count())?;
            for (p, n) in l.tree.preorder() {
                let s = &n.stat;
                writeln!(
                    out,
                    "{p}\n  cZxid = 0x{:x}\n  ctime = {}\n  mZxid = 0x{:x}\n  mtime = {}\n  pZxid = 0x{:x}\n  cversion = {}\n  dataVersion = {}\n  aclVersion = {}\n  ephemeralOwner = 0x{:x}\n  dataLength = {}",
                    s.czxid, s.ctime, s.mzxid, s.mtime, s.pzxid, s.cversion, s.version, s.aversion, s.ephemeral_owner,
                    n.data.as_ref().map_or(0, |d| d.len())
                )?;
            }
            writeln!(out, "Session Details (sid, timeout, ephemeralCount):")?;
            for (id, to) in &l.sessions {
                writeln!(out, "0x{id:x}, {to}, {}", l.tree.ephemerals(*id).len())?;
            }
            match l.digest {
                Some((z, d)) => writeln!(
                    out,
                    "Digest: zxid 0x{z:x} digest {d} (tree {})",
                    l.tree.digest()
                )?,
                None => writeln!(out, "Digest: none")?,
            }
            Ok(true)
        }
        Err(e) => {
            writeln!(out, "INVALID snapshot {}: {e}", path.display())?;
            Ok(false)
        }
    }
}

/// Checks every snapshot and log of a dataDir (and dataLogDir): seals, checksums, decodable
/// records, zxids increasing across files. Returns the problems found.
pub fn verify(
    data_dir: &Path,
    log_dir: &Path,
    out: &mut dyn Write,
) -> std::io::Result<Vec<String>> {
    let mut problems = Vec::new();
    for (z, p) in list(&version_dir(data_dir), "snapshot")? {
        let loaded = snap::read_file(&p)
            .map_err(|e| e.to_string())
            .and_then(|b| snap::deserialize(b, z));
        match loaded {
            Ok(l) => writeln!(out, "ok   {} ({} nodes)", p.display(), l.tree.node_count())?,
            Err(e) => problems.push(format!("{}: {e}", p.display())),
        }
    }
    let mut last = i64::MIN;
    for (start, p) in list(&version_dir(log_dir), "log")? {
        let f = read_log(&p)?;
        let mut n = 0;
        for (end, raw) in &f.records {
            match Txn::decode(raw.clone()) {
                Ok(t) => {
                    if t.hdr.zxid <= last {
                        problems.push(format!(
                            "{}: zxid 0x{:x} (record ending at {end}) does not follow 0x{last:x}",
                            p.display(),
                            t.hdr.zxid
                        ));
                    }
                    if n == 0 && t.hdr.zxid != start {
                        problems.push(format!(
                            "{}: first zxid 0x{:x} differs from the file name",
                            p.display(),
                            t.hdr.zxid
                        ));
                    }
                    last = t.hdr.zxid;
                }
                Err(e) => problems.push(format!("{}: record ending at {end}: {e}", p.display())),
            }
            n += 1;
        }
        match f.end {
            LogEnd::Corrupt { offset, why } => problems.push(format!(
                "{}: corrupt at offset {offset}: {why}",
                p.display()
            )),
            LogEnd::Torn { offset } => writeln!(
                out,
                "note {}: torn last record at offset {offset} (never acknowledged)",
                p.display()
            )?,
            LogEnd::Clean => {}
        }
        writeln!(out, "ok   {} ({n} txns)", p.display())?;
    }
    Ok(problems)
}

/// Keeps the newest `keep` snapshots (at least 3) and the logs that can still be needed to
/// replay after the oldest of them; deletes the rest. Returns the deleted files.
pub fn purge(data_dir: &Path, log_dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let keep = keep.max(3);
    let snaps = list(&version_dir(data_dir), "snapshot")?;
    if snaps.len() <= keep {
        return Ok(Vec::new());
    }
    let oldest_kept = snaps[snaps.len() - keep].0;
    let mut gone = Vec::new();
    for (_, p) in &snaps[..snaps.len() - keep] {
        std::fs::remove_file(p)?;
        gone.push(p.clone());
    }
    let logs = list(&version_dir(log_dir), "log")?;
    // The newest log starting at or before the oldest kept snapshot may hold txns after it.
    let needed_from = logs
        .iter()
        .rposition(|(z, _)| *z <= oldest_kept)
        .unwrap_or(0);
    for (_, p) in &logs[..needed_from] {
        std::fs::remove_file(p)?;
        gone.push(p.clone());
    }
    Ok(gone)
}
