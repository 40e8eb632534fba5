//! `ferrozk migrate-check <zoo.cfg>`: the preflight an operator runs on a ZooKeeper member
//! before replacing it with ferrozk. It only reads: the configuration, the dataDir (snapshots,
//! txn logs, epoch files, myid) and the dynamic configuration files beside zoo.cfg, and says in
//! plain lines whether ferrozk can take the member over, and how to switch and switch back.

use crate::config::Config;
use crate::storage::epoch::{self, ACCEPTED_EPOCH, CURRENT_EPOCH};
use crate::storage::log::read_log;
use crate::storage::{list, tools, VERSION_DIR};
use crate::txn::Txn;
use std::io::Write;
use std::path::Path;

/// Runs the check, writing its report to `out`; true when ferrozk can take over.
pub fn check(cfg_path: &Path, out: &mut dyn Write) -> std::io::Result<bool> {
    let mut reasons: Vec<String> = Vec::new();
    writeln!(out, "ferrozk migrate-check {}", cfg_path.display())?;
    let (cfg, refused) = match Config::load_reviewed(cfg_path) {
        Ok(c) => c,
        Err(e) => {
            writeln!(out, "config: {e}")?;
            writeln!(out, "NOT READY: fix zoo.cfg first")?;
            return Ok(false);
        }
    };
    match &cfg.quorum {
        Some(q) if cfg.is_ensemble() => writeln!(
            out,
            "config: ensemble member {} of {} participants{} ({} server lines)",
            cfg.server_id,
            q.participants(),
            if q.servers.get(&cfg.server_id).is_some_and(|s| s.observer) {
                ", an observer"
            } else {
                ""
            },
            q.servers.len()
        )?,
        _ => writeln!(out, "config: standalone server")?,
    }
    writeln!(
        out,
        "dataDir: {}{}",
        cfg.data_dir.display(),
        if cfg.data_log_dir != cfg.data_dir {
            format!(", dataLogDir: {}", cfg.data_log_dir.display())
        } else {
            String::new()
        }
    )?;
    // The files: ZooKeeper writes everything under version-2 and nothing else.
    let snap_dir = cfg.data_dir.join(VERSION_DIR);
    let log_dir = cfg.data_log_dir.join(VERSION_DIR);
    for d in [&cfg.data_dir, &cfg.data_log_dir] {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with("version-") && name != VERSION_DIR {
                    reasons.push(format!(
                        "{} is a data format this server does not read (only {VERSION_DIR})",
                        e.path().display()
                    ));
                }
            }
        }
    }
    let snapshots = list(&snap_dir, "snapshot").unwrap_or_default();
    let logs = list(&log_dir, "log").unwrap_or_default();
    let mut last_zxid = 0i64;
    if snapshots.is_empty() && logs.is_empty() {
        writeln!(
            out,
            "data: none yet (a new member; ferrozk starts empty and syncs from the leader)"
        )?;
    } else {
        let mut report = Vec::new();
        let problems = tools::verify(&cfg.data_dir, &cfg.data_log_dir, &mut report)?;
        for p in &problems {
            reasons.push(format!("data: {p}"));
        }
        match snapshots.last() {
            Some((z, p)) => {
                last_zxid = last_zxid.max(*z);
                writeln!(
                    out,
                    "snapshots: {} (newest {}, zxid 0x{z:x})",
                    snapshots.len(),
                    p.display()
                )?;
            }
            None => writeln!(out, "snapshots: none")?,
        }
        if let Some((_, p)) = logs.last() {
            let f = read_log(p)?;
            if let Some(z) = f
                .records
                .last()
                .and_then(|(_, raw)| Txn::decode(raw.clone()).ok())
                .map(|t| t.hdr.zxid)
            {
                last_zxid = last_zxid.max(z);
            }
            writeln!(
                out,
                "txn logs: {} (newest {}, last zxid 0x{last_zxid:x})",
                logs.len(),
                p.display()
            )?;
        }
        writeln!(
            out,
            "data check: {} files read, {} problems",
            snapshots.len() + logs.len(),
            problems.len()
        )?;
    }
    // The epochs, as start-up will judge them (nothing is written here).
    if cfg.is_ensemble() {
        let of_zxid = jute::epoch_of(last_zxid);
        let read = |dir: &Path, name: &str| epoch::read(dir, name);
        match (
            read(&snap_dir, ACCEPTED_EPOCH),
            read(&snap_dir, CURRENT_EPOCH),
        ) {
            (Ok(a), Ok(c)) => {
                let show = |v: Option<i64>| {
                    v.map_or(format!("missing (will be {of_zxid})"), |v| v.to_string())
                };
                writeln!(
                    out,
                    "epochs: acceptedEpoch {}, currentEpoch {} (in {})",
                    show(a),
                    show(c),
                    snap_dir.display()
                )?;
                let (a, c) = (a.unwrap_or(of_zxid), c.unwrap_or(of_zxid));
                let tmp = read(&snap_dir, &format!("{CURRENT_EPOCH}.tmp"))
                    .ok()
                    .flatten();
                if c < of_zxid && tmp.is_none_or(|t| t < of_zxid) {
                    reasons.push(format!(
                        "currentEpoch {c} is older than the last zxid's epoch {of_zxid} (ZooKeeper would refuse to start too)"
                    ));
                }
                if a < c {
                    reasons.push(format!(
                        "acceptedEpoch {a} is less than currentEpoch {c} (ZooKeeper would refuse to start too)"
                    ));
                }
            }
            (Err(e), _) | (_, Err(e)) => reasons.push(format!("epoch files: {e}")),
        }
        for name in [ACCEPTED_EPOCH, CURRENT_EPOCH] {
            if cfg.data_dir.join(name).exists() {
                writeln!(
                    out,
                    "note: {} was left by an earlier ferrozk; start-up moves it into {VERSION_DIR}",
                    cfg.data_dir.join(name).display()
                )?;
            }
        }
    }
    // Dynamic configuration (ZooKeeper 3.5+ writes these when reconfigEnabled=true).
    let dir = cfg_path.parent().unwrap_or(Path::new("."));
    let stem = cfg_path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut beside: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with(&format!("{stem}.dynamic")))
                .collect()
        })
        .unwrap_or_default();
    beside.sort();
    let in_use = cfg
        .quorum
        .as_ref()
        .and_then(|q| q.dynamic_file.as_ref().map(|f| (f.clone(), q.version)));
    match &in_use {
        Some((file, version)) => writeln!(
            out,
            "dynamic config: {} (version {version:#x}), read as ZooKeeper reads it; with reconfigEnabled=true each reconfiguration writes the next one, as ZooKeeper does",
            file.display()
        )?,
        None => writeln!(out, "dynamic config: none (membership from zoo.cfg)")?,
    }
    for name in &beside {
        if name.ends_with(".dynamic.next") {
            writeln!(
                out,
                "note: {name} holds a reconfiguration that was proposed but never committed; ferrozk does not read it (the next leader's configuration replaces it)"
            )?;
        } else if in_use
            .as_ref()
            .is_none_or(|(f, _)| f.file_name().is_none_or(|n| n.to_string_lossy() != *name))
        {
            writeln!(
                out,
                "note: {name} is an older dynamic config file that zoo.cfg does not name; it is not read"
            )?;
        }
    }
    for r in &refused {
        reasons.push(format!("setting {r}"));
    }
    for w in &cfg.ignored {
        writeln!(out, "note: {w}")?;
    }
    let cfg_shown = cfg_path.display();
    if reasons.is_empty() {
        writeln!(out, "READY: ferrozk can take over this member.")?;
        writeln!(out, "switch:")?;
        writeln!(
            out,
            "  zkServer.sh stop {cfg_shown}     # or stop the Java server as you run it"
        )?;
        writeln!(out, "  ferrozk start {cfg_shown}")?;
        writeln!(
            out,
            "  ferrozk status {cfg_shown}   # Mode: follower/leader before the next member"
        )?;
        writeln!(out, "back:")?;
        writeln!(out, "  ferrozk stop {cfg_shown}")?;
        writeln!(out, "  zkServer.sh start {cfg_shown}")?;
        writeln!(
            out,
            "one member at a time, followers first and the leader last (docs/migration.md)"
        )?;
        Ok(true)
    } else {
        writeln!(out, "NOT READY:")?;
        for r in &reasons {
            writeln!(out, "  - {r}")?;
        }
        Ok(false)
    }
}
