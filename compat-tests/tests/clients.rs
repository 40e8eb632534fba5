//! Stock clients against a running ferrozk: kazoo, the Java client with Curator recipes, the
//! C client's cli_mt, and zkCli.sh. Each suite is a program of its own (compat-tests/clients)
//! that also passes against Apache ZooKeeper; here it must pass against ferrozk.

use compat_tests::{run_suite, Server, NEWEST_CURATOR};
use std::time::Duration;

fn check(mut srv: Server, program: &str, args: &[&str], minutes: u64) {
    let connect = srv.connect_string();
    let mut a: Vec<&str> = args.to_vec();
    a.push(&connect);
    let out = run_suite(program, &a, Duration::from_secs(minutes * 60));
    assert!(
        out.contains(" passed, 0 failed"),
        "suite summary missing or failures reported"
    );
    assert!(
        srv.is_alive(),
        "ferrozk died during the suite:\n{}",
        srv.log()
    );
    // Every txn carries the digest prep computed; the node checks it against the applied tree.
    assert!(!srv.log().contains("digest mismatch"), "{}", srv.log());
}

#[test]
fn kazoo() {
    check(
        Server::ferrozk(),
        "/usr/bin/python3",
        &["compat-tests/clients/kazoo_suite.py"],
        4,
    );
}

#[test]
fn java_curator_recipes() {
    check(
        Server::ferrozk(),
        "bash",
        &["compat-tests/clients/java/run.sh", "CuratorSuite"],
        6,
    );
}

#[test]
fn java_curator_recipes_newest_release() {
    let version = format!("FERROZK_CURATOR_VERSION={NEWEST_CURATOR}");
    check(
        Server::ferrozk(),
        "env",
        &[
            &version,
            "bash",
            "compat-tests/clients/java/run.sh",
            "CuratorSuite",
        ],
        6,
    );
}

#[test]
fn java_raw_client_recipes() {
    check(
        Server::ferrozk(),
        "bash",
        &["compat-tests/clients/java/run.sh", "RawRecipes"],
        6,
    );
}

#[test]
fn c_client_cli_mt() {
    check(
        Server::ferrozk(),
        "bash",
        &["compat-tests/clients/cli_mt_suite.sh"],
        3,
    );
}

#[test]
fn zkcli() {
    check(
        Server::ferrozk(),
        "bash",
        &["compat-tests/clients/zkcli_suite.sh"],
        6,
    );
}

#[test]
fn zkcli_enforced_quota_and_super_user() {
    // The second zkCli session of the suite against hard quotas (enforceQuota) and a super
    // user (super:superpw).
    check(
        Server::ferrozk_with(
            "znode.container.checkIntervalMs=1000\nenforceQuota=true\n\
             DigestAuthenticationProvider.superDigest=super:g9oN2HttPfn8MMWJZ2r45Np/LIA=\n",
        ),
        "bash",
        &[
            "compat-tests/clients/zkcli_suite.sh",
            "--enforce-quota",
            "--super",
            "superpw",
        ],
        6,
    );
}
