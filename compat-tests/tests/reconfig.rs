//! Dynamic reconfiguration (`reconfigEnabled=true`) as ZooKeeper 3.9 has it, seen by kazoo
//! (compat-tests/ensemble/reconfig_checks.py): three voters get a versioned configuration at
//! their first election; two servers started with a configuration naming themselves join as
//! non-voting followers and are added as voters; refusals (NOAUTH without the super user,
//! BADVERSION, NEWCONFIGNOQUORUM, BADARGUMENTS); the leader is removed and hands over;
//! writes go through every member; the ensemble shrinks back; every member's zoo.cfg points
//! at the dynamic config file of the last configuration, and a restarted member rejoins on
//! it. The same steps run on ZooKeeper 3.9 members, on ferrozk members and on mixed
//! ensembles (with ZooKeeper 3.9 and with Debian's 3.8.0); every line printed must be the
//! same.

use compat_tests::ensemble::Ensemble;
use compat_tests::{python, workspace, zookeeper_version};
use std::time::{Duration, Instant};

/// `DigestAuthenticationProvider.superDigest` for super:secret.
const CFG: &str = "tickTime=2000\nreconfigEnabled=true\nDigestAuthenticationProvider.superDigest=super:lK75jTNcA+U9vtVEw5vB51mj/w4=";

fn checks() -> String {
    workspace()
        .join("compat-tests/ensemble/reconfig_checks.py")
        .display()
        .to_string()
}

/// The `server.N=` lines Ensemble::new wrote (the same in every member's zoo.cfg).
fn server_lines(e: &Ensemble) -> Vec<String> {
    std::fs::read_to_string(e.members[0].dir.join("zoo.cfg"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("server."))
        .map(str::to_string)
        .collect()
}

/// Keeps only the server lines of `ids` in member `i`'s zoo.cfg.
fn keep_servers(e: &Ensemble, i: usize, ids: &[u64]) {
    let cfg = e.members[i].dir.join("zoo.cfg");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            !l.starts_with("server.")
                || ids.iter().any(|id| l.starts_with(&format!("server.{id}=")))
        })
        .collect();
    std::fs::write(&cfg, kept.join("\n") + "\n").unwrap();
}

fn wait_mode(e: &Ensemble, i: usize, modes: &[&str], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let m = e.field(i, "Mode:");
        if m.as_deref().is_some_and(|m| modes.contains(&m)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "member {} is {m:?}, not {modes:?}:\n{}",
            i + 1,
            e.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs the steps; the members `java` run ZooKeeper 3.9 from Maven Central, or Debian's
/// 3.8.0 package with `debian`.
fn run(kind: &str, java: &[u64]) -> String {
    run_on(kind, java, false)
}

fn run_on(kind: &str, java: &[u64], debian: bool) -> String {
    let mut e = Ensemble::new(&format!("rc-{kind}"), 5, java, CFG);
    let v = zookeeper_version("ZK39_VERSION");
    for id in java {
        e.set_java_version(*id, if debian { None } else { Some(&v) });
    }
    let lines = server_lines(&e);
    // Ports named by member and role, and the joining servers' lines with client ports.
    let mut names = Vec::new();
    let mut joining = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let (_, spec) = l.split_once('=').unwrap();
        let parts: Vec<&str> = spec.split(':').collect();
        names.push(format!("{}=m{}q", parts[1], i + 1));
        names.push(format!("{}=m{}e", parts[2], i + 1));
        names.push(format!("{}=m{}c", e.members[i].port, i + 1));
        if i >= 3 {
            joining.push((l.clone(), e.members[i].port));
        }
    }
    let names = names.join(",");
    for i in 0..3 {
        keep_servers(&e, i, &[1, 2, 3]);
    }
    keep_servers(&e, 3, &[1, 2, 3, 4]);
    keep_servers(&e, 4, &[1, 2, 3, 5]);
    let checks = checks();
    let host = |e: &Ensemble, i: usize| e.hosts(&[i]);
    let mut out = String::new();
    let mut step = |what: &str, text: String| {
        out.push_str(&format!("## {what}\n{text}"));
    };

    // Member 3 first, so that it takes part in the first election and leads (the highest
    // id among equal histories): the leader removed later is member 3 in every run.
    e.start(2);
    e.wait_port(2, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    e.start(0);
    e.start(1);
    let leader = e.wait_stable(Duration::from_secs(60));
    assert_eq!(leader, 2, "{kind}: member 3 should lead:\n{}", e.logs());
    step(
        "three voters",
        python(&[&checks, "config", &host(&e, 0), &names]),
    );
    e.start(3);
    e.start(4);
    for i in [3, 4] {
        wait_mode(&e, i, &["follower"], Duration::from_secs(60));
    }
    // A write load through every member while the configuration changes.
    let stop = e.members[0].dir.join("load-stop");
    let acked = e.members[0].dir.join("load-acked");
    let every = (0..5).map(|i| host(&e, i)).collect::<Vec<_>>().join(",");
    let load = std::process::Command::new("/usr/bin/python3")
        .args([
            &checks,
            "load",
            &every,
            stop.to_str().unwrap(),
            acked.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("python3");
    let line = |i: usize, role: &str| {
        let (l, port) = &joining[i];
        format!("{l}:{role};127.0.0.1:{port}")
    };
    let add = format!("{},{}", line(0, "participant"), line(1, "participant"));
    let r = |e: &Ensemble,
             at: usize,
             auth: &str,
             add: &str,
             remove: &str,
             members: &str,
             from: &str| {
        python(&[
            &checks,
            "reconfig",
            &host(e, at),
            &names,
            auth,
            add,
            remove,
            members,
            from,
        ])
    };
    step(
        "add without the super user",
        r(&e, 0, "-", &add, "-", "-", "-"),
    );
    step(
        "add from a stale version",
        r(&e, 0, "secret", &add, "-", "-", "stale"),
    );
    let absent = "server.6=127.0.0.1:1:2:participant;127.0.0.1:3,server.7=127.0.0.1:4:5:participant;127.0.0.1:6";
    step(
        "only absent servers",
        r(&e, 1, "secret", "-", "-", absent, "-"),
    );
    step(
        "down to one voter",
        r(&e, 1, "secret", "-", "1,2", "-", "-"),
    );
    // Curator's EnsembleTracker, given member 1 only, follows the configuration as the
    // joiners are added (the newest Curator release, with its ZooKeeper 3.9 client).
    let expected = format!(
        "127.0.0.1:{},127.0.0.1:{}",
        e.members[3].port, e.members[4].port
    );
    let first = host(&e, 0);
    let ready = std::env::temp_dir().join(format!(
        "ferrozk-tracking-ready-{}-{}",
        std::process::id(),
        e.members[0].port
    ));
    let _ = std::fs::remove_file(&ready);
    let ready_env = format!("FERROZK_TRACKING_READY={}", ready.display());
    let tracking = std::thread::spawn(move || {
        compat_tests::run_suite(
            "env",
            &[
                &ready_env,
                &format!("FERROZK_CURATOR_VERSION={}", compat_tests::NEWEST_CURATOR),
                "bash",
                "compat-tests/clients/java/run.sh",
                "EnsembleTracking",
                &expected,
                &first,
            ],
            Duration::from_secs(300),
        )
    });
    // Its client connected before the configuration changes.
    let until = std::time::Instant::now() + Duration::from_secs(120);
    while !ready.exists() && std::time::Instant::now() < until && !tracking.is_finished() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_file(&ready);
    step(
        "add an observer and a voter through a follower",
        r(
            &e,
            (leader + 1) % 3,
            "secret",
            &format!("{},{}", line(0, "observer"), line(1, "participant")),
            "-",
            "-",
            "current",
        ),
    );
    wait_mode(&e, 3, &["observer"], Duration::from_secs(60));
    step(
        "the observer made a voter",
        r(&e, 3, "secret", &line(0, "participant"), "-", "-", "-"),
    );
    wait_mode(&e, 3, &["follower", "leader"], Duration::from_secs(60));
    step("writes", python(&[&checks, "write", &every, "/five"]));
    step(
        "as member 5 sees it",
        python(&[&checks, "config", &host(&e, 4), &names]),
    );
    let tracked = tracking.join().expect("the EnsembleTracking check");
    assert!(
        tracked.contains(" passed, 0 failed"),
        "{kind}: EnsembleTracking:\n{tracked}"
    );
    let leader = e.wait_stable(Duration::from_secs(60));
    let id = (leader + 1).to_string();
    step(
        "remove the leader",
        r(&e, (leader + 1) % 5, "secret", "-", &id, "-", "-"),
    );
    let new_leader = e.wait_stable(Duration::from_secs(60));
    assert_ne!(new_leader, leader, "{kind}: the removed leader still leads");
    step("writes after", python(&[&checks, "write", &every, "/four"]));
    step(
        "remove the joiners",
        r(&e, new_leader, "secret", "-", "4,5", "-", "-"),
    );
    e.wait_stable(Duration::from_secs(60));
    step("writes at two", python(&[&checks, "write", &every, "/two"]));
    // zkCli: a removed server (still following without a vote) added back, and `config`.
    let again = format!("reconfig -add {}", line(1, "participant"));
    step(
        "zkCli",
        python(&[
            &checks,
            "zkcli",
            &host(&e, new_leader),
            &names,
            &again,
            "addauth digest super:secret",
            &again,
            "config",
        ]),
    );
    e.wait_stable(Duration::from_secs(60));
    std::fs::write(&stop, "").unwrap();
    let status = load.wait_with_output().expect("the load");
    assert!(status.status.success(), "{kind}: the load failed");
    step(
        "the load",
        python(&[&checks, "verify", &every, acked.to_str().unwrap()]),
    );
    // The files: each member points at the dynamic file of the configuration it has.
    let mut files = String::new();
    for m in &e.members {
        let cfg = std::fs::read_to_string(m.dir.join("zoo.cfg")).unwrap();
        let dynamic = cfg
            .lines()
            .find_map(|l| l.strip_prefix("dynamicConfigFile="))
            .map(str::to_string);
        let servers_left = cfg.lines().any(|l| l.starts_with("server."));
        let exists = dynamic
            .as_deref()
            .is_some_and(|d| std::path::Path::new(d).exists());
        files.push_str(&format!(
            "files: dynamicConfigFile set {}, file exists {exists}, server lines left in zoo.cfg {servers_left}\n",
            dynamic.is_some()
        ));
        if let Some(d) = dynamic.filter(|_| exists) {
            let mut text = std::fs::read_to_string(d).unwrap();
            for pair in names.split(',') {
                let (port, name) = pair.split_once('=').unwrap();
                text = text.replace(&format!(":{port}"), &format!(":{name}"));
            }
            files.push_str(&format!("files: dynamic file {text:?}\n"));
        }
    }
    step("files", files);
    // A voter restarted on its dynamic file rejoins with the same configuration.
    let voter = (0..3)
        .find(|i| *i != leader && *i != new_leader)
        .unwrap_or(0);
    e.stop(voter);
    e.start(voter);
    e.wait_port(voter, Duration::from_secs(60));
    wait_mode(&e, voter, &["follower", "leader"], Duration::from_secs(60));
    step(
        "a voter restarted",
        python(&[&checks, "config", &host(&e, voter), &names]),
    );
    e.wait_same_zxid(Duration::from_secs(30));
    for i in e.all() {
        assert!(!e.log(i).contains("digest mismatch"), "{}", e.log(i));
    }
    println!("--- {kind}\n{out}");
    out
}

/// ZooKeeper 3.9's lines, from one run shared by the tests of this file.
fn zookeeper() -> String {
    static JAVA: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JAVA.get_or_init(|| run("java", &[1, 2, 3, 4, 5])).clone()
}

#[test]
fn reconfiguration_as_zookeeper_3_9() {
    let java = zookeeper();
    let ferrozk = run("ferrozk", &[]);
    assert_eq!(ferrozk, java);
}

#[test]
fn reconfiguration_with_java_and_ferrozk_members() {
    let java = zookeeper();
    // Java voters with ferrozk joiners, and the other way round.
    assert_eq!(run("joiners-ferrozk", &[1, 2, 3]), java);
    assert_eq!(run("joiners-java", &[4, 5]), java);
    // Debian's ZooKeeper 3.8.0 joining ferrozk voters.
    assert_eq!(run_on("joiners-debian", &[4, 5], true), java);
}
