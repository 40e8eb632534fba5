//! Observers that sync from followers (`observerMasterPort`), as ZooKeeper 3.9 has them,
//! seen by kazoo (compat-tests/ensemble/observer_master_checks.py). Each member listens on
//! its own loopback address (127.0.0.1x) so that every voter can use the same
//! observerMasterPort, as ZooKeeper expects. Three ensembles, each with
//! `reconfigEnabled=true` (the last observer is removed at the end, which the others learn
//! by INFORMANDACTIVATE from their follower):
//! - three ZooKeeper 3.9 voters with a ZooKeeper 3.9 observer and a ferrozk observer
//!   (ferrozk syncing from a Java follower);
//! - three ferrozk voters with a ZooKeeper 3.9 observer, a ferrozk observer and a Debian
//!   ZooKeeper 3.8.0 observer (Java syncing from a ferrozk follower), all with TLS between
//!   members (`sslQuorum=true`), which the observer master port speaks too;
//! - two ferrozk followers under a ZooKeeper 3.9 leader, with a ferrozk and a ZooKeeper 3.9
//!   observer (a ferrozk follower relaying to and from a Java leader).
//!
//! What every observer sees must match what ZooKeeper's observer sees on ZooKeeper's voters.

use compat_tests::ensemble::Ensemble;
use compat_tests::{free_port, python, run_suite, workspace, zookeeper_version};
use std::time::Duration;

/// What each observer runs: Some(version) a ZooKeeper release, None ferrozk, and "debian"
/// for Debian's 3.8.0.
#[derive(Clone, Copy)]
enum Kind {
    Zk39,
    Debian,
    Ferrozk,
}

/// Runs the checks on three voters and the given observers (member ids 1-3, then 4...);
/// returns each observer's lines, without their "observer N: " prefix, and the lines about
/// the ensemble as a whole. With Java and ferrozk voters mixed, the Java ones start first so
/// that every voter takes part in the first election (the highest id leads).
fn run(
    name: &str,
    voters: [Kind; 3],
    observers: &[Kind],
    extra: &str,
) -> (Vec<Vec<String>>, Vec<String>) {
    let n = 3 + observers.len() as u64;
    let kinds: Vec<Kind> = voters.iter().chain(observers).copied().collect();
    let java: Vec<u64> = (1..=n)
        .filter(|id| !matches!(kinds[(*id - 1) as usize], Kind::Ferrozk))
        .collect();
    let om_port = free_port();
    let mut e = Ensemble::new(
        &format!("om-{name}"),
        n,
        &java,
        &format!(
            "tickTime=1000\nobserverMasterPort={om_port}\nreconfigEnabled=true\nskipACL=yes\n{extra}"
        ),
    );
    let v = zookeeper_version("ZK39_VERSION");
    for id in 1..=n {
        match kinds[(id - 1) as usize] {
            Kind::Zk39 => e.set_java_version(id, Some(&v)),
            Kind::Debian => e.set_java_version(id, None),
            Kind::Ferrozk => {}
        }
    }
    // Every member on an address of its own; observers marked as such.
    let lines: Vec<String> = e
        .server_lines()
        .iter()
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
    e.set_server_lines(&lines);
    for i in 3..n as usize {
        e.set_keys(i, &[("peerType", "observer")]);
    }
    // The AdminServer on every member but Debian's 3.8.0 (its package has no Jetty).
    let admin: Vec<u16> = (0..n as usize)
        .map(|i| {
            if matches!(kinds[i], Kind::Debian) {
                return 0;
            }
            let port = free_port();
            e.set_keys(
                i,
                &[
                    ("admin.enableServer", "true"),
                    ("admin.serverAddress", "127.0.0.1"),
                    ("admin.serverPort", &port.to_string()),
                ],
            );
            port
        })
        .collect();
    let java_voters: Vec<usize> = (0..3).filter(|i| java.contains(&(*i as u64 + 1))).collect();
    if !java_voters.is_empty() && java_voters.len() < 3 {
        for &i in &java_voters {
            e.start(i);
        }
        for &i in &java_voters {
            e.wait_port(i, Duration::from_secs(90));
        }
        std::thread::sleep(Duration::from_millis(1500));
        for i in 0..n as usize {
            if !java_voters.contains(&i) {
                e.start(i);
            }
        }
    } else {
        e.start_all();
    }
    // One leader, two followers, the observers observing.
    let leader = e.wait_stable(Duration::from_secs(90));
    let followers: Vec<String> = (0..3)
        .filter(|i| *i != leader)
        .map(|i| format!("{}={}={}={}", i + 1, e.hosts(&[i]), e.pid(i), admin[i]))
        .collect();
    let obs: Vec<String> = (3..n as usize)
        .map(|i| format!("{}={}={}", i + 1, e.hosts(&[i]), admin[i]))
        .collect();
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
    // The ferrozk members say where they synced from; those that stay made the configuration
    // without the last observer active (INFORMANDACTIVATE from their follower).
    for (k, kind) in observers.iter().enumerate() {
        if matches!(kind, Kind::Ferrozk) {
            e.assert_logged(&[3 + k], "(observerMasterPort)");
            if k + 1 < observers.len() {
                let log = e.log(3 + k);
                assert!(
                    log.matches("this server observes").count() >= 2,
                    "{name}: observer {} did not activate the new configuration:\n{log}",
                    k + 4
                );
            }
        }
    }
    if !extra.is_empty() {
        e.assert_logged(&[0, 1, 2], "quorum TLS: sslQuorum=true");
    }
    for i in (0..3).filter(|i| *i != leader) {
        if matches!(kinds[i], Kind::Ferrozk) {
            e.assert_logged(&[i], "observer master: serving observers on");
        }
    }
    if java_voters.len() == 1 {
        assert_eq!(
            java_voters,
            vec![leader],
            "{name}: the Java voter should lead"
        );
    }
    (per, whole)
}

#[test]
fn observers_sync_from_followers_as_zookeeper_39s_do() {
    // Python checks print kazoo's view; make sure kazoo is there before starting servers.
    python(&["-c", "import kazoo"]);
    let (java, java_whole) = run(
        "java",
        [Kind::Zk39, Kind::Zk39, Kind::Zk39],
        &[Kind::Zk39, Kind::Ferrozk],
        "",
    );
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
        [Kind::Ferrozk, Kind::Ferrozk, Kind::Ferrozk],
        &[Kind::Zk39, Kind::Ferrozk, Kind::Debian],
        &tls,
    );
    let _ = std::fs::remove_dir_all(&certs);
    let (mixed, mixed_whole) = run(
        "mixed",
        [Kind::Ferrozk, Kind::Ferrozk, Kind::Zk39],
        &[Kind::Ferrozk, Kind::Zk39],
        "",
    );
    assert_eq!(java_whole, ours_whole);
    assert_eq!(java_whole, mixed_whole);
    // The last observer of each ensemble was removed: it has every line but the last.
    let removed = &reference[..reference.len() - 1];
    for (what, lines, last) in [
        ("ferrozk observer on ZooKeeper voters", &java[1], true),
        ("ZooKeeper 3.9 observer on ferrozk voters", &ours[0], false),
        ("ferrozk observer on ferrozk voters", &ours[1], false),
        (
            "Debian ZooKeeper 3.8.0 observer on ferrozk voters",
            &ours[2],
            true,
        ),
        (
            "ferrozk observer on ferrozk followers of a ZooKeeper leader",
            &mixed[0],
            false,
        ),
        (
            "ZooKeeper 3.9 observer on ferrozk followers of a ZooKeeper leader",
            &mixed[1],
            true,
        ),
    ] {
        let want: &[String] = if last { removed } else { &reference };
        if what.starts_with("Debian") {
            // No AdminServer there: everything but its lines.
            let want: Vec<&String> = want.iter().filter(|l| !l.starts_with("admin")).collect();
            assert_eq!(lines.iter().collect::<Vec<_>>(), want, "{what}");
        } else {
            assert_eq!(lines.as_slice(), want, "{what}");
        }
    }
}
