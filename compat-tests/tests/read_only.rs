//! Local sessions and read-only mode on an ensemble, as ZooKeeper 3.9 has them
//! (`localSessionsEnabled`, `localSessionsUpgradingEnabled`, `-Dreadonlymode.enabled=true`),
//! seen by kazoo (compat-tests/ensemble/local_ro_checks.py): sessions that only read cost no
//! txn, an ephemeral create upgrades the session, a local session cannot move to another
//! member and expires on its own; then the quorum is lost, the surviving member serves
//! read-only clients (reads, NOTREADONLY for writes, sync and multi; read-write clients
//! refused; `isro`, `srvr`, `mntr`), and a read-only client is back read-write after the heal.
//! The same steps run on three ZooKeeper 3.9 members, on three ferrozk members, and on mixed
//! ensembles with a Java leader and with a ferrozk one; every line must be the same.

use compat_tests::ensemble::Ensemble;
use compat_tests::{python, workspace, zookeeper_version};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CFG: &str = "tickTime=2000\nlocalSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true";

/// compat-tests/ensemble/local_ro_checks.py
fn checks() -> String {
    workspace()
        .join("compat-tests/ensemble/local_ro_checks.py")
        .display()
        .to_string()
}

/// The checks' output on an ensemble whose members `java` run ZooKeeper 3.9; member
/// `survivor` (0-based) is the one left when the quorum is lost.
fn run(kind: &str, java: &[u64], survivor: usize) -> String {
    let mut e = Ensemble::new(&format!("ro-{kind}"), 3, java, CFG);
    let v = zookeeper_version("ZK39_VERSION");
    for id in java {
        e.set_java_version(*id, Some(&v));
    }
    e.jvm_flags = "-Dreadonlymode.enabled=true".into();
    // The Java members first, and the others once the JVMs are up, so that all three take
    // part in the first election and member 3 leads.
    for id in java {
        e.start((*id - 1) as usize);
    }
    if !java.is_empty() && java.len() < 3 {
        // Once its client port is open, a JVM is up and its election under way.
        for id in java {
            e.wait_port((*id - 1) as usize, Duration::from_secs(90));
        }
        std::thread::sleep(Duration::from_millis(1500));
    }
    for i in 0..3 {
        if !java.contains(&(i as u64 + 1)) {
            e.start(i);
        }
    }
    let leader = e.wait_stable(Duration::from_secs(60));
    println!("{kind}: member {} ({}) leads", leader + 1, e.kind(leader));
    if java.len() < 3 {
        assert_eq!(leader, 2, "{kind}: member 3 should lead");
    }
    let hosts: Vec<String> = (0..3).map(|i| e.hosts(&[i])).collect();
    let checks = checks();
    let mut out = python(&[&checks, "local", &hosts[0], &hosts[1], &hosts[2]]);
    let others: Vec<usize> = (0..3).filter(|i| *i != survivor).collect();
    for i in &others {
        e.kill(*i);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while e.field(survivor, "Mode:").as_deref() != Some("read-only") {
        assert!(
            Instant::now() < deadline,
            "{kind}: member {} never served read-only: {}",
            survivor + 1,
            e.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    out.push_str(&python(&[&checks, "ro", &hosts[survivor]]));
    // A read-only client through the heal.
    let ready =
        std::env::temp_dir().join(format!("ferrozk-ro-ready-{kind}-{}", std::process::id()));
    let _ = std::fs::remove_file(&ready);
    let all = e.hosts(&e.all());
    let child = Command::new("/usr/bin/python3")
        .args([&checks, "heal", &all, ready.to_str().unwrap()])
        .current_dir(workspace())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready.exists() {
        assert!(
            Instant::now() < deadline,
            "{kind}: the read-only client never connected"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in &others {
        e.start(*i);
    }
    let res = child.wait_with_output().expect("heal");
    let stdout = String::from_utf8_lossy(&res.stdout).to_string();
    assert!(
        res.status.success(),
        "{kind}: heal failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    out.push_str(&stdout);
    e.wait_stable(Duration::from_secs(60));
    e.wait_same_zxid(Duration::from_secs(30));
    for i in e.all() {
        assert!(!e.log(i).contains("digest mismatch"), "{}", e.log(i));
    }
    println!("--- {kind}\n{out}");
    out
}

/// Local sessions that cannot be upgraded (`localSessionsUpgradingEnabled=false`), on a
/// follower and on the leader of a ferrozk ensemble, on a raw connection: an ephemeral create
/// (alone or in a multi) fails with EPHEMERALONLOCALSESSION and the session goes on. Not
/// compared with ZooKeeper 3.9: its follower logs that error, then forwards the create anyway,
/// and kazoo's connection broke (kazoo also lacks the error code).
#[test]
fn local_sessions_without_upgrades_refuse_ephemerals() {
    let mut e = Ensemble::new(
        "noup",
        3,
        &[],
        "tickTime=2000\nlocalSessionsEnabled=true\nlocalSessionsUpgradingEnabled=false",
    );
    e.start_all();
    let leader = e.wait_stable(Duration::from_secs(60));
    let checks = checks();
    for (who, i) in [("follower", (leader + 1) % 3), ("leader", leader)] {
        let path = format!("/noup-{who}");
        let out = python(&[&checks, "noupgrade", &e.hosts(&[i]), &path]);
        println!("--- on the {who}\n{out}");
        // Error codes: 0 OK, -120 EPHEMERALONLOCALSESSION.
        let want = [
            "persistent create: 0",
            "ephemeral create: -120",
            "ephemeral sequential create2: -120",
            "a multi with an ephemeral create: -120",
            "exists (the session goes on): 0",
            "children: 0",
        ];
        assert_eq!(out.lines().collect::<Vec<_>>(), want, "on the {who}");
    }
}

fn same(kind: &str, got: &str, want: &str) {
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    for (a, b) in g.iter().zip(w.iter()) {
        assert_eq!(a, b, "{kind} differs from ZooKeeper 3.9");
    }
    assert_eq!(
        g.len(),
        w.len(),
        "{kind}: not as many lines as ZooKeeper 3.9"
    );
}

#[test]
fn local_sessions_and_read_only_mode_as_zookeeper() {
    let java = run("java", &[1, 2, 3], 0);
    assert!(
        java.contains("read-only client state: CONNECTED_RO"),
        "{java}"
    );
    let ferrozk = run("ferrozk", &[], 0);
    same("ferrozk", &ferrozk, &java);
    // Member 3 (Java) leads when all start together: ferrozk followers' local sessions
    // write through a Java leader; then a ferrozk leader with a Java follower.
    let java_leads = run("java-leads", &[3], 0);
    same("a mixed ensemble (Java member 3)", &java_leads, &java);
    let ferrozk_leads = run("ferrozk-leads", &[1], 1);
    same("a mixed ensemble (Java member 1)", &ferrozk_leads, &java);
}

/// A ZooKeeper 3.9 follower with local sessions that may not be upgraded still forwards an
/// ephemeral create to its leader: a ferrozk leader must not make a node owned by a session
/// it does not track (nothing would ever delete it).
#[test]
fn a_ferrozk_leader_makes_no_ephemeral_for_a_java_followers_local_session() {
    let mut e = Ensemble::new(
        "stray",
        3,
        &[1],
        "tickTime=2000\nlocalSessionsEnabled=true\nlocalSessionsUpgradingEnabled=false",
    );
    let v = zookeeper_version("ZK39_VERSION");
    e.set_java_version(1, Some(&v));
    e.start_all();
    let leader = e.wait_stable(Duration::from_secs(60));
    assert_ne!(leader, 0, "the Java member should follow");
    let out = python(&[
        &checks(),
        "stray",
        &e.hosts(&[0]),
        &e.hosts(&[leader]),
        "/stray",
    ]);
    println!("{out}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["persistent create: 0", "ephemerals left behind: []"]
    );
}
