//! The applications that use ZooKeeper (compat-tests/apps/): each runs from a script that
//! fetches it, drives it as its operators do and prints each step with its duration, against
//! a connect string the test gives: standalone ferrozk, a ferrozk ensemble that loses a member
//! while the application works, or Apache ZooKeeper (the check of the check).

use crate::ensemble::Ensemble;
use crate::{free_port, run_suite, zookeeper_version, Server};
use std::time::Duration;

/// An application check: its script under compat-tests/apps, how many free ports it takes,
/// the line it prints when it passed, and its time bound.
pub struct App {
    pub script: &'static str,
    pub ports: usize,
    pub passed: &'static str,
    pub minutes: u64,
}

impl App {
    fn run(&self, connect: &str, kill_pid: Option<u32>) {
        let ports = ports(self.ports);
        let pid = kill_pid.map(|p| p.to_string());
        let mut args = vec![connect, ports.as_str()];
        if let Some(p) = &pid {
            args.push(p);
        }
        run(self.script, &args, self.minutes, self.passed);
    }

    /// On a standalone ferrozk.
    pub fn on_ferrozk(&self) {
        let s = Server::ferrozk_with("");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.run(&s.connect_string(), None)
        }));
        if let Err(e) = r {
            // What the server saw, for the failure's report.
            let log = s.log();
            let tail: Vec<&str> = log.lines().rev().take(300).collect();
            eprintln!("---- last 300 lines of the ferrozk server's log");
            for l in tail.into_iter().rev() {
                eprintln!("  | {l}");
            }
            std::panic::resume_unwind(e);
        }
    }

    /// On a three-member ferrozk ensemble whose leader the application's check kills while it
    /// works; then the ensemble is checked ([`check_after_loss`]).
    pub fn on_ferrozk_ensemble_losing_its_leader(&self, name: &str) {
        let mut e = ensemble(name, "tickTime=2000");
        let leader = e.wait_stable(Duration::from_secs(30));
        self.run(&e.hosts(&e.all()), Some(e.pid(leader)));
        check_after_loss(&mut e, leader);
    }

    /// On Apache ZooKeeper: the newest 3.9 release from Maven Central.
    pub fn on_zookeeper_3_9(&self) {
        let v = zookeeper_version("ZK39_VERSION");
        let s = Server::reference_with_env(
            "compat-tests/differential/start_zk.sh",
            "pid",
            "",
            &[("ZK_VERSION", v.as_str())],
        );
        self.run(&s.connect_string(), None);
    }

    /// On Apache ZooKeeper: Debian's 3.8.0.
    pub fn on_debian_zookeeper_3_8(&self) {
        let s = Server::reference();
        self.run(&s.connect_string(), None);
    }
}

/// Runs `compat-tests/apps/<script>` with `args`, bounded by `minutes`; panics unless it exits
/// 0 and prints `passed`. Returns its output.
pub fn run(script: &str, args: &[&str], minutes: u64, passed: &str) -> String {
    let path = format!("compat-tests/apps/{script}");
    let mut a = vec![path.as_str()];
    a.extend_from_slice(args);
    let out = run_suite("bash", &a, Duration::from_secs(minutes * 60));
    assert!(out.contains(passed), "{script}: no \"{passed}\" line");
    out
}

/// `n` free loopback ports, comma-separated (for the application's own listeners).
pub fn ports(n: usize) -> String {
    (0..n)
        .map(|_| free_port().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A three-member ferrozk ensemble, stable, with `extra` in every zoo.cfg.
pub fn ensemble(name: &str, extra: &str) -> Ensemble {
    let mut e = Ensemble::new(name, 3, &[], extra);
    e.start_all();
    e.wait_stable(Duration::from_secs(60));
    e
}

/// After an application ran on `e` while the application killed member `lost` (by its PID):
/// the two others still form the ensemble and agree, no member logged a digest mismatch, and
/// the lost member restarts and catches up.
pub fn check_after_loss(e: &mut Ensemble, lost: usize) {
    e.kill(lost);
    e.wait_stable(Duration::from_secs(60));
    e.start(lost);
    e.wait_stable(Duration::from_secs(60));
    e.wait_same_zxid(Duration::from_secs(60));
    for i in e.all() {
        assert!(!e.log(i).contains("digest mismatch"), "{}", e.log(i));
    }
}
