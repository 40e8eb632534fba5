//! The applications that use ZooKeeper (compat-tests/apps/): each runs from a script that
//! fetches it, drives it as its operators do and prints each step with its duration, against
//! a connect string the test gives: standalone ferrozk, a ferrozk ensemble that loses a member
//! while the application works, or Apache ZooKeeper (the check of the check).

use crate::ensemble::Ensemble;
use crate::{free_port, run_suite};
use std::time::Duration;

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
