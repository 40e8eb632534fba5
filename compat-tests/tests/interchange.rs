//! dataDir interchange with Apache ZooKeeper 3.8, both directions
//! (compat-tests/interchange/java_to_java.sh with ferrozk as the second server): Java builds a
//! tree across many snapshots and log rolls and stops; ferrozk starts on that dataDir and
//! serves the identical tree (node by node, Stat and ACLs included, resuming at the exact
//! zxid and accepting the sessions Java created); ferrozk writes more and is killed with
//! SIGKILL; Java's own persistence classes read every file ferrozk wrote (checksums, seals,
//! digests) and Java starts on ferrozk's dataDir and serves the identical tree; finally the
//! sessions left open expire, each with exactly one closeSession.

use compat_tests::{ferrozk_bin, run_suite, workspace};
use std::time::Duration;

#[test]
fn java_to_ferrozk_to_java() {
    let dir = workspace().join("compat-tests/interchange");
    let hook = |what: &str| format!("{} {what}", dir.join("server2-ferrozk.sh").display());
    std::env::set_var("SERVER2_NAME", "ferrozk");
    std::env::set_var("SERVER2_START", hook("start"));
    std::env::set_var("SERVER2_STOP", hook("stop"));
    std::env::set_var("SERVER2_KILL", hook("kill"));
    std::env::set_var("FERROZK_BIN", ferrozk_bin());
    let script = dir.join("java_to_java.sh");
    let out = run_suite(
        "bash",
        &[script.to_str().unwrap(), "--expiry"],
        Duration::from_secs(900),
    );
    assert!(
        out.contains("ALL CHECKS PASSED"),
        "interchange checks failed"
    );
}
