//! The differential test: one seeded random sequence of operations goes to Apache ZooKeeper
//! 3.8 and to ferrozk, and every reply and event must match (compat-tests/differential).
//! `FERROZK_DIFF_SEEDS` and `FERROZK_DIFF_STEPS` run it longer.

use compat_tests::{run_suite, Server};
use std::time::Duration;

#[test]
fn same_answers_as_zookeeper() {
    let seeds: u64 = std::env::var("FERROZK_DIFF_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let steps = std::env::var("FERROZK_DIFF_STEPS").unwrap_or_else(|_| "300".into());
    for seed in 1..=seeds {
        // Fresh servers per seed: zxids are compared exactly.
        // Container collection is off on both sides: it runs on a timer, not in step order.
        let reference = Server::reference_with("compat-tests/differential/start_zk.sh", "pid");
        let mut candidate = Server::ferrozk_with("znode.container.checkIntervalMs=2147483647\n");
        let seed = seed.to_string();
        let out = run_suite(
            "/usr/bin/python3",
            &[
                "compat-tests/differential/zkdiff.py",
                "--reference",
                &reference.connect_string(),
                "--candidate",
                &candidate.connect_string(),
                "--seed",
                &seed,
                "--steps",
                &steps,
            ],
            Duration::from_secs(600),
        );
        assert!(
            out.contains(" passed, 0 failed"),
            "seed {seed}: no clean summary"
        );
        assert!(candidate.is_alive(), "ferrozk died:\n{}", candidate.log());
    }
}
