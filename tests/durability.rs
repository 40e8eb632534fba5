//! Durability over TCP with a real process: what was acknowledged survives SIGKILL, across
//! snapshots and log rolls; sessions and their ephemerals come back; a corrupt log stops
//! start-up with the file and offset unless told to truncate.

mod common;
use bytes::Bytes;
use common::*;
use jute::*;
use std::path::Path;
use std::process::Command;

fn set(c: &mut Raw, path: &str, data: &[u8]) -> Stat {
    let (h, mut r) = c.call(
        OpCode::SetData,
        &SetDataRequest {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            version: -1,
        },
    );
    assert_eq!(h.err, 0);
    SetDataResponse::decode(&mut r).unwrap().stat
}

fn get(c: &mut Raw, path: &str) -> Option<(Option<Bytes>, Stat)> {
    let (h, mut r) = c.call(
        OpCode::GetData,
        &GetDataRequest {
            path: path.into(),
            watch: false,
        },
    );
    (h.err == 0).then(|| {
        let g = GetDataResponse::decode(&mut r).unwrap();
        (g.data, g.stat)
    })
}

fn files(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix) && !n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn acknowledged_writes_sessions_and_ephemerals_survive_sigkill() {
    let mut srv = Server::start("");
    let mut a = Raw::connect(srv.port, true);
    assert_eq!(a.create("/d", b"root", 0).0, 0);
    let mut paths = Vec::new();
    for i in 0..100 {
        let (err, p) = a.create(
            "/d/n-",
            format!("v{i}").as_bytes(),
            CreateMode::PersistentSequential.code(),
        );
        assert_eq!(err, 0);
        paths.push(p);
    }
    let last = set(&mut a, "/d", b"changed");
    assert_eq!(a.create("/d/eph", b"", CreateMode::Ephemeral.code()).0, 0);
    let (id, pw) = (a.session_id, a.passwd.clone());
    let before = get(&mut a, "/d").unwrap();

    srv.crash_and_restart();

    let mut b = Raw::connect(srv.port, true);
    let after = get(&mut b, "/d").unwrap();
    assert_eq!(after, before, "data and Stat are back exactly");
    assert_eq!(after.1.mzxid, last.mzxid);
    for (i, p) in paths.iter().enumerate() {
        assert_eq!(
            get(&mut b, p).unwrap().0.unwrap(),
            format!("v{i}").as_bytes()
        );
    }
    let e = b
        .exists("/d/eph")
        .expect("the ephemeral of a live session is restored");
    assert_eq!(e.ephemeral_owner, id);
    // The session itself is restored: its owner can reattach with id and password.
    let mut a2 = Raw::connect_with(srv.port, id, pw, 4000, true, 0).unwrap();
    assert_eq!(a2.session_id, id);
    // zxids continue after the recovered ones.
    let s = set(&mut a2, "/d", b"again");
    assert!(s.mzxid > last.mzxid);
    assert!(!srv.log().contains("digest mismatch"), "{}", srv.log());
}

#[test]
fn snapshots_and_log_rolls_recover_the_same_tree() {
    // flushDelay and a small maxBatchSize exercise the writer's batching paths too.
    let mut srv = Server::start("snapCount=20\npreAllocSize=16\nflushDelay=2\nmaxBatchSize=3");
    let mut a = Raw::connect(srv.port, true);
    a.create("/s", b"", 0);
    for i in 0..150 {
        a.create(&format!("/s/k{i}"), b"x", 0);
        if i % 3 == 0 {
            set(&mut a, &format!("/s/k{i}"), format!("y{i}").as_bytes());
        }
    }
    let want: Vec<_> = (0..150)
        .map(|i| get(&mut a, &format!("/s/k{i}")).unwrap())
        .collect();
    let v2 = srv.dir.join("data/version-2");
    // Give the background snapshot writer a moment, then check files exist.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!files(&v2, "snapshot.").is_empty(), "snapshots were taken");
    assert!(
        files(&v2, "log.").len() >= 2,
        "the log rolled after a snapshot"
    );

    srv.crash_and_restart();

    let mut b = Raw::connect(srv.port, true);
    for (i, w) in want.iter().enumerate() {
        assert_eq!(&get(&mut b, &format!("/s/k{i}")).unwrap(), w, "/s/k{i}");
    }
    assert!(
        srv.log().contains("loaded snapshot"),
        "recovery started from a snapshot"
    );
}

#[test]
fn a_corrupt_log_stops_startup_naming_file_and_offset() {
    let mut srv = Server::start("");
    let mut a = Raw::connect(srv.port, true);
    for i in 0..20 {
        a.create(&format!("/c{i}"), b"payload", 0);
    }
    drop(a);
    let v2 = srv.dir.join("data/version-2");
    let log = v2.join(&files(&v2, "log.")[0]);
    // Flip a byte inside the third record's txn bytes, leaving the records after it whole.
    let mut bytes = std::fs::read(&log).unwrap();
    let mut pos = 16usize;
    for _ in 0..2 {
        let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        pos += 12 + len + 1;
    }
    bytes[pos + 12 + 10] ^= 0xff;
    srv.stop();
    std::fs::write(&log, &bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrozk"))
        .arg(srv.dir.join("zoo.cfg"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "start-up must refuse a corrupt log");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains(&log.display().to_string()) && msg.contains(&format!("offset {pos}")),
        "{msg}"
    );
    // With truncation allowed it starts from the last good record.
    let cfg = std::fs::read_to_string(srv.dir.join("zoo.cfg")).unwrap();
    std::fs::write(
        srv.dir.join("zoo.cfg"),
        format!("{cfg}ferrozk.truncateCorruptLog=yes\n"),
    )
    .unwrap();
    srv.restart();
    let mut b = Raw::connect(srv.port, true);
    assert!(b.exists("/").is_some());
}

#[test]
fn compressed_snapshots_gz_and_snappy_recover() {
    for method in ["gz", "snappy"] {
        let mut srv = Server::start(&format!(
            "snapCount=20\npreAllocSize=16\nsnapshot.compression.method={method}"
        ));
        let mut a = Raw::connect(srv.port, true);
        for i in 0..80 {
            assert_eq!(
                a.create(&format!("/z{i}"), format!("v{i}").as_bytes(), 0).0,
                0
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        let v2 = srv.dir.join("data/version-2");
        let snaps = files(&v2, "snapshot.");
        assert!(
            snaps.iter().any(|n| n.ends_with(&format!(".{method}"))),
            "{snaps:?}"
        );
        srv.crash_and_restart();
        assert!(
            srv.log().contains(&format!(".{method}: ")),
            "recovered from a {method} snapshot"
        );
        let mut b = Raw::connect(srv.port, true);
        for i in 0..80 {
            assert_eq!(
                get(&mut b, &format!("/z{i}")).unwrap().0.unwrap(),
                format!("v{i}").as_bytes()
            );
        }
    }
}

#[test]
fn quota_stats_and_limits_survive_snapshots_and_log_replay() {
    // Stats nodes change in place as txns apply; a restart rebuilds them from the snapshot
    // (recounted) plus the replayed log, and the hard limit still holds.
    let mut srv = Server::start("snapCount=20\npreAllocSize=16\nenforceQuota=true");
    let mut a = Raw::connect(srv.port, true);
    a.create("/q", b"root", 0);
    a.create("/zookeeper/quota/q", b"", 0);
    let limits = b"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=40";
    assert_eq!(
        a.create("/zookeeper/quota/q/zookeeper_limits", limits, 0).0,
        0
    );
    assert_eq!(
        a.create("/zookeeper/quota/q/zookeeper_stats", b"count=0,bytes=0", 0)
            .0,
        0
    );
    for i in 0..45 {
        let (err, _) = a.create(&format!("/q/k{i}"), b"xy", 0);
        // 40 nodes in all: /q and 39 children.
        let want = if i < 39 {
            0
        } else {
            ErrorCode::QuotaExceeded.code()
        };
        assert_eq!(err, want, "/q/k{i}");
        if i % 4 == 0 && err == 0 {
            set(&mut a, &format!("/q/k{i}"), b"longer data");
        }
    }
    let stats = "/zookeeper/quota/q/zookeeper_stats";
    let before = get(&mut a, stats).unwrap();
    // 40 nodes; "root" + 39 * "xy" + 10 of them grown by 9 bytes.
    assert_eq!(
        before.0.as_deref(),
        Some(&b"count=40,bytes=172"[..]),
        "{:?}",
        before.0
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    srv.crash_and_restart();
    let mut b = Raw::connect(srv.port, true);
    assert_eq!(get(&mut b, stats).unwrap(), before);
    assert_eq!(
        b.create("/q/more", b"", 0).0,
        ErrorCode::QuotaExceeded.code()
    );
    assert!(srv.log().contains("loaded snapshot"), "{}", srv.log());
    assert!(!srv.log().contains("digest mismatch"), "{}", srv.log());
}

#[test]
fn a_snapshot_count_reached_during_a_snapshot_is_skipped_and_nothing_is_lost() {
    // A count of 2-4 txns with a tree of thousands of nodes: the count comes round while the
    // walk or the file is still in progress. ZooKeeper then rolls the log and starts the
    // count over instead of queueing another snapshot; recovery must still find every write.
    let mut srv = Server::start("snapCount=4\npreAllocSize=16");
    let mut a = Raw::connect(srv.port, true);
    assert_eq!(a.create("/busy", b"", 0).0, 0);
    for i in 0..6000 {
        assert_eq!(a.create(&format!("/busy/n{i}"), b"v", 0).0, 0);
    }
    for i in (0..6000).step_by(7) {
        set(&mut a, &format!("/busy/n{i}"), format!("w{i}").as_bytes());
    }
    let log = srv.log();
    assert!(
        log.contains("too busy to snapshot, skipping"),
        "no count came round during a snapshot"
    );
    let v2 = srv.dir.join("data/version-2");
    assert!(files(&v2, "log.").len() >= 2, "the log rolled");

    srv.crash_and_restart();

    let mut b = Raw::connect(srv.port, true);
    for i in 0..6000 {
        let want = if i % 7 == 0 {
            format!("w{i}")
        } else {
            "v".to_string()
        };
        let (data, _) = get(&mut b, &format!("/busy/n{i}")).expect("acknowledged create");
        assert_eq!(data.unwrap(), want.as_bytes(), "/busy/n{i}");
    }
    assert!(!srv.log().contains("digest mismatch"), "{}", srv.log());
}

#[test]
fn a_first_snapshot_cut_short_by_a_crash_does_not_stop_startup() {
    // A crash while the first snapshot is being written leaves only its `.tmp` file and the
    // logs, which start at the first txn: start-up replays them.
    let mut srv = Server::start("");
    let mut a = Raw::connect(srv.port, true);
    assert_eq!(a.create("/t", b"kept", 0).0, 0);
    srv.stop();
    let v2 = srv.dir.join("data/version-2");
    for s in files(&v2, "snapshot.") {
        std::fs::remove_file(v2.join(s)).unwrap();
    }
    std::fs::write(v2.join("snapshot.5.tmp"), b"cut short").unwrap();
    srv.restart();
    let mut b = Raw::connect(srv.port, true);
    assert_eq!(get(&mut b, "/t").unwrap().0.unwrap(), &b"kept"[..]);
}
