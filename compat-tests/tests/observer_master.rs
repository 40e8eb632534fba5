//! Observers that sync from followers (`observerMasterPort`), as ZooKeeper 3.9 has them,
//! seen by kazoo (compat-tests/ensemble/observer_master_checks.py). Each member listens on
//! its own loopback address (127.0.0.1x) so that every voter can use the same
//! observerMasterPort, as ZooKeeper expects. Two ensembles:
//! - three ZooKeeper 3.9 voters with a ZooKeeper 3.9 observer and a ferrozk observer
//!   (ferrozk syncing from a Java follower);
//! - three ferrozk voters with a ZooKeeper 3.9 observer, a ferrozk observer and a Debian
//!   ZooKeeper 3.8.0 observer (Java syncing from a ferrozk follower), all with TLS between
//!   members (`sslQuorum=true`), which the observer master port speaks too.
//!
//! What every observer sees must match what ZooKeeper's observer sees on ZooKeeper's voters.

use compat_tests::ensemble::Ensemble;
use compat_tests::{free_port, python, run_suite, workspace, zookeeper_version};
use std::time::{Duration, Instant};

/// What each observer runs: Some(version) a ZooKeeper release, None ferrozk, and "debian"
/// for Debian's 3.8.0.
#[derive(Clone, Copy)]
enum Kind {
    Zk39,
    Debian,
    Ferrozk,
}

/// Runs the checks on three voters (ZooKeeper 3.9 when `java_voters`) and the given
/// observers; returns each observer's lines, without their "observer N: " prefix, and the
/// lines about the ensemble as a whole.
fn run(
    name: &str,
    java_voters: bool,
    observers: &[Kind],
    extra: &str,
) -> (Vec<Vec<String>>, Vec<String>) {
    let n = 3 + observers.len() as u64;
    let mut java: Vec<u64> = if java_voters { vec![1, 2, 3] } else { vec![] };
    for (k, kind) in observers.iter().enumerate() {
        if !matches!(kind, Kind::Ferrozk) {
            java.push(4 + k as u64);
        }
    }
    let om_port = free_port();
    let mut e = Ensemble::new(
        &format!("om-{name}"),
        n,
        &java,
        &format!("tickTime=1000\nobserverMasterPort={om_port}\n{extra}"),
    );
    let v = zookeeper_version("ZK39_VERSION");
    for id in 1..=n {
        let kind = if id <= 3 {
            if java_voters {
                Kind::Zk39
            } else {
                Kind::Ferrozk
            }
        } else {
            observers[(id - 4) as usize]
        };
        match kind {
            Kind::Zk39 => e.set_java_version(id, Some(&v)),
            Kind::Debian => e.set_java_version(id, None),
            Kind::Ferrozk => {}
        }
    }
    // Every member on an address of its own; observers marked as such.
    let cfg0 = std::fs::read_to_string(e.members[0].dir.join("zoo.cfg")).unwrap();
    let lines: Vec<String> = cfg0
        .lines()
        .filter(|l| l.starts_with("server."))
        .map(|l| {
            let (key, spec) = l.split_once('=').unwrap();
            let id: u64 = key["server.".len()..].parse().unwrap();
            let spec = spec.replacen("127.0.0.1", &format!("127.0.0.{}", 10 + id), 1);
            if id > 3 {
                format!("{key}={spec}:observer")
            } else {
                format!("{key}={spec}")
            }
        })
        .collect();
    for (i, m) in e.members.iter().enumerate() {
        let cfg = m.dir.join("zoo.cfg");
        let text = std::fs::read_to_string(&cfg).unwrap();
        let mut kept: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with("server."))
            .map(str::to_string)
            .collect();
        kept.extend(lines.iter().cloned());
        if i >= 3 {
            kept.push("peerType=observer".into());
        }
        std::fs::write(&cfg, kept.join("\n") + "\n").unwrap();
    }
    e.start_all();
    // Voters settle: one leader, two followers.
    let deadline = Instant::now() + Duration::from_secs(90);
    let leader = loop {
        let modes: Vec<Option<String>> = (0..3).map(|i| e.field(i, "Mode:")).collect();
        let leaders: Vec<usize> = (0..3)
            .filter(|i| modes[*i].as_deref() == Some("leader"))
            .collect();
        if leaders.len() == 1
            && modes
                .iter()
                .all(|m| matches!(m.as_deref(), Some("leader" | "follower")))
        {
            break leaders[0];
        }
        assert!(
            Instant::now() < deadline,
            "{name}: voters not settled: {modes:?}\n{}",
            e.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let followers: Vec<String> = (0..3)
        .filter(|i| *i != leader)
        .map(|i| format!("{}={}={}", i + 1, e.hosts(&[i]), e.pid(i)))
        .collect();
    let obs: Vec<String> = (3..n as usize).map(|i| e.hosts(&[i])).collect();
    let checks = workspace()
        .join("compat-tests/ensemble/observer_master_checks.py")
        .display()
        .to_string();
    let out = std::process::Command::new("/usr/bin/python3")
        .args([
            &checks,
            "run",
            &obs.join(","),
            &e.hosts(&[leader]),
            &followers.join(","),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{name}: checks failed:\n{text}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        e.logs()
    );
    println!("--- {name} ---\n{text}");
    let mut per: Vec<Vec<String>> = vec![Vec::new(); observers.len()];
    let mut whole = Vec::new();
    for l in text.lines() {
        match l.strip_prefix("observer ").and_then(|r| r.split_once(": ")) {
            Some((i, rest)) => per[i.parse::<usize>().unwrap()].push(rest.to_string()),
            None => whole.push(l.to_string()),
        }
    }
    // The ferrozk members say where they synced from.
    for (k, kind) in observers.iter().enumerate() {
        if matches!(kind, Kind::Ferrozk) {
            e.assert_logged(&[3 + k], "(observerMasterPort)");
        }
    }
    if !extra.is_empty() {
        e.assert_logged(&[0, 1, 2], "quorum TLS: sslQuorum=true");
    }
    if !java_voters {
        e.assert_logged(
            &[(0..3).find(|i| *i != leader).unwrap()],
            "observer master: serving observers on",
        );
    }
    (per, whole)
}

#[test]
fn observers_sync_from_followers_as_zookeeper_39s_do() {
    // Python checks print kazoo's view; make sure kazoo is there before starting servers.
    python(&["-c", "import kazoo"]);
    let (java, java_whole) = run("java", true, &[Kind::Zk39, Kind::Ferrozk], "");
    let reference = java[0].clone();
    assert!(
        reference.iter().all(|l| !l.ends_with("False")),
        "ZooKeeper's own observer:\n{reference:#?}"
    );
    // TLS between members, with the tls suite's certificates (they name 127.0.0.1, not the
    // members' own addresses: no hostname verification).
    let certs = std::env::temp_dir().join(format!("ferrozk-om-certs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&certs);
    run_suite(
        "bash",
        &[
            "compat-tests/tls/make-certs.sh",
            &certs.display().to_string(),
        ],
        Duration::from_secs(120),
    );
    let tls = format!(
        "sslQuorum=true\nssl.quorum.hostnameVerification=false\n\
         ssl.quorum.keyStore.location={}\nssl.quorum.keyStore.password=secret\n\
         ssl.quorum.trustStore.location={}\nssl.quorum.trustStore.password=secret",
        certs.join("server.p12").display(),
        certs.join("trust.p12").display()
    );
    let (ours, ours_whole) = run(
        "ferrozk",
        false,
        &[Kind::Zk39, Kind::Ferrozk, Kind::Debian],
        &tls,
    );
    let _ = std::fs::remove_dir_all(&certs);
    assert_eq!(java_whole, ours_whole);
    for (what, lines) in [
        ("ferrozk observer on ZooKeeper voters", &java[1]),
        ("ZooKeeper 3.9 observer on ferrozk voters", &ours[0]),
        ("ferrozk observer on ferrozk voters", &ours[1]),
        (
            "Debian ZooKeeper 3.8.0 observer on ferrozk voters",
            &ours[2],
        ),
    ] {
        assert_eq!(lines, &reference, "{what}");
    }
}
