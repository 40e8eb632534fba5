//! Injected faults: a full disk (a small tmpfs this test mounts), a short write and a failed
//! fsync (`FERROZK_INJECT_FAULT`), and a corrupt snapshot. A full disk or a short write stops
//! writes with a clear log line while the process keeps serving reads; a failed fsync ends
//! the process; in every case nothing acknowledged is lost after a restart. A snapshot that
//! does not check out is skipped for an older one.

mod common;
use bytes::Bytes;
use common::*;
use jute::*;
use std::process::Command;
use std::time::Duration;

/// A tmpfs of `mb` MiB mounted for the test's lifetime.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(mb: u32) -> Tmpfs {
        let dir = std::env::temp_dir().join(format!("ferrozk-fullfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("run mount");
        assert!(
            st.success(),
            "mounting a tmpfs needs root; the test suite runs as root"
        );
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_full_disk_stops_writes_cleanly_and_loses_nothing_acknowledged() {
    let fs = Tmpfs::mount(6);
    let data_dir = fs.0.join("data");
    let mut srv = Server::start(&format!(
        "dataDir={}\npreAllocSize=512\nsnapCount=1000000",
        data_dir.display()
    ));
    let mut a = Raw::connect(srv.port, true);
    let mut reader = Raw::connect(srv.port, true);
    a.s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let payload = Bytes::from(vec![b'x'; 200_000]);
    let mut acked = 0;
    for i in 0..100 {
        let xid = a.send(
            OpCode::Create,
            &CreateRequest {
                path: format!("/big{i}"),
                data: Some(payload.clone()),
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        );
        match read_frame(&mut a.s) {
            Some(f) => {
                let h = ReplyHeader::decode(&mut Reader::new(f)).unwrap();
                assert_eq!((h.xid, h.err), (xid, 0));
                acked += 1;
            }
            None => break, // not acknowledged: the disk is full
        }
    }
    assert!(
        acked > 3 && acked < 100,
        "the 6 MiB disk filled after {acked} writes"
    );
    assert!(srv.alive(), "a full disk must not kill the server");
    let log = srv.log();
    assert!(log.contains("No space left on device"), "{log}");
    // Sessions without writes in flight are still served reads (new sessions and writes
    // wait for the disk: both need the log).
    assert!(reader.exists("/big0").is_some());
    srv.stop();
    // Move the dataDir to a roomy disk and restart there: every acknowledged write is back.
    let roomy = srv.dir.join("roomy");
    let st = Command::new("cp")
        .arg("-a")
        .arg(&data_dir)
        .arg(&roomy)
        .status()
        .unwrap();
    assert!(st.success());
    let cfg = std::fs::read_to_string(srv.dir.join("zoo.cfg")).unwrap();
    std::fs::write(
        srv.dir.join("zoo.cfg"),
        cfg.replace(
            &data_dir.display().to_string(),
            &roomy.display().to_string(),
        ),
    )
    .unwrap();
    srv.restart();
    let mut c = Raw::connect(srv.port, true);
    for i in 0..acked {
        let st = c
            .exists(&format!("/big{i}"))
            .unwrap_or_else(|| panic!("/big{i} lost"));
        assert_eq!(st.data_length, 200_000);
    }
    drop(fs);
}

#[test]
fn a_corrupt_newest_snapshot_falls_back_to_an_older_one() {
    let mut srv = Server::start("snapCount=10\npreAllocSize=16");
    let mut a = Raw::connect(srv.port, true);
    let v2 = srv.dir.join("data/version-2");
    let snapshots = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&v2)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("snapshot.")
            })
            .collect()
    };
    // Writes until at least two snapshots are on disk (a snapshot is skipped while another
    // is being written, which a loaded machine makes slow).
    let mut created = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while created < 60 || snapshots().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "{:?}", snapshots());
        assert_eq!(a.create(&format!("/s{created}"), b"v", 0).0, 0);
        created += 1;
        if created >= 60 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    srv.stop();
    let mut snaps = snapshots();
    snaps.sort_by_key(|p| {
        u64::from_str_radix(p.extension().unwrap().to_str().unwrap(), 16).unwrap()
    });
    assert!(snaps.len() >= 2, "{snaps:?}");
    let newest = snaps.last().unwrap();
    let mut bytes = std::fs::read(newest).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(newest, &bytes).unwrap();
    srv.restart();
    assert!(
        srv.log().contains("cannot be read"),
        "the corrupt snapshot is reported"
    );
    let mut b = Raw::connect(srv.port, true);
    for i in 0..created {
        assert!(b.exists(&format!("/s{i}")).is_some(), "/s{i}");
    }
}

/// Creates /w0, /w1, ... one at a time until one is not acknowledged within 3 s; returns
/// how many were.
fn write_until_stuck(port: u16) -> usize {
    let mut a = Raw::connect(port, true);
    a.s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    for i in 0..1000 {
        let xid = a.send(
            OpCode::Create,
            &CreateRequest {
                path: format!("/w{i}"),
                data: Some(Bytes::from_static(b"d")),
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        );
        match read_frame(&mut a.s) {
            Some(f) => assert_eq!(ReplyHeader::decode(&mut Reader::new(f)).unwrap().xid, xid),
            None => return i,
        }
    }
    panic!("the injected fault never happened");
}

fn all_there(srv: &Server, acked: usize) {
    let mut c = Raw::connect(srv.port, true);
    for i in 0..acked {
        assert!(
            c.exists(&format!("/w{i}")).is_some(),
            "acknowledged /w{i} lost"
        );
    }
    assert_eq!(
        c.create("/after", b"", 0).0,
        0,
        "writes work again after the restart"
    );
}

#[test]
fn a_short_write_stops_writes_and_recovery_cuts_the_torn_record() {
    let mut srv = Server::start_with_env("", &[("FERROZK_INJECT_FAULT", "short-write:20")]);
    let acked = write_until_stuck(srv.port);
    assert!(acked >= 15, "{acked}");
    assert!(srv.alive());
    assert!(srv.log().contains("injected short write"), "{}", srv.log());
    srv.crash_and_restart();
    assert!(srv.log().contains("torn record"), "{}", srv.log());
    all_there(&srv, acked);
}

#[test]
fn a_failed_fsync_ends_the_process_and_loses_nothing_acknowledged() {
    let mut srv = Server::start_with_env("", &[("FERROZK_INJECT_FAULT", "fsync-error:20")]);
    let acked = write_until_stuck(srv.port);
    let st = srv
        .exit_status()
        .expect("the process ends after a failed fsync");
    assert_eq!(st.code(), Some(70));
    assert!(
        srv.log().contains("fsync of the txn log failed"),
        "{}",
        srv.log()
    );
    srv.restart();
    all_there(&srv, acked);
}
