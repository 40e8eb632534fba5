//! The stock-client suites against a three-server ferrozk ensemble, with a connect string of
//! all three (clients land on followers and the leader alike), and clients failing over to
//! another server with their sessions intact when the server they use is killed.

use compat_tests::ensemble::Ensemble;
use compat_tests::run_suite;
use std::time::Duration;

/// The settings the standalone suites run with (compat-tests/scripts/start-reference-zk.sh).
const CFG: &str = "tickTime=2000\nmaxClientCnxns=0\nextendedTypesEnabled=true\nznode.container.checkIntervalMs=1000";

fn ensemble(name: &str) -> Ensemble {
    let mut e = Ensemble::new(name, 3, &[], CFG);
    e.start_all();
    e.wait_stable(Duration::from_secs(60));
    e
}

fn check(e: &Ensemble, connect: &str, program: &str, args: &[&str], minutes: u64) {
    let mut a: Vec<&str> = args.to_vec();
    a.push(connect);
    let out = run_suite(program, &a, Duration::from_secs(minutes * 60));
    assert!(
        out.contains(" passed, 0 failed"),
        "suite summary missing or failures reported"
    );
    for i in e.all() {
        assert!(!e.log(i).contains("digest mismatch"), "{}", e.log(i));
    }
}

#[test]
fn client_suites_against_an_ensemble() {
    let e = ensemble("suites");
    let connect = e.hosts(&e.all());
    check(
        &e,
        &connect,
        "/usr/bin/python3",
        &["compat-tests/clients/kazoo_suite.py"],
        5,
    );
    check(
        &e,
        &connect,
        "bash",
        &["compat-tests/clients/java/run.sh", "CuratorSuite"],
        6,
    );
    check(
        &e,
        &connect,
        "bash",
        &["compat-tests/clients/java/run.sh", "RawRecipes"],
        6,
    );
    check(
        &e,
        &connect,
        "bash",
        &["compat-tests/clients/cli_mt_suite.sh"],
        3,
    );
    check(
        &e,
        &connect,
        "bash",
        &["compat-tests/clients/zkcli_suite.sh"],
        6,
    );
    // Nothing made the ensemble re-elect along the way.
    assert_eq!(e.running().len(), 3);
    e.wait_stable(Duration::from_secs(5));
}

#[test]
fn java_client_and_curator_keep_their_sessions_when_their_server_dies() {
    // First with the leader among the client's servers, then with followers only (the
    // ensemble then keeps its leader while the client moves).
    for round in 0..2 {
        let mut e = ensemble(&format!("failover{round}"));
        let leader = e.wait_stable(Duration::from_secs(5));
        let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
        let servers = if round == 0 {
            vec![leader, followers[0]]
        } else {
            followers.clone()
        };
        let pids = servers
            .iter()
            .map(|i| format!("{}={}", e.members[*i].port, e.pid(*i)))
            .collect::<Vec<_>>()
            .join(",");
        let connect = e.hosts(&servers);
        check(
            &e,
            &connect,
            "bash",
            &[
                "compat-tests/clients/java/run.sh",
                "EnsembleFailover",
                &pids,
            ],
            3,
        );
        // Whichever member the suite killed is gone; the rest still form an ensemble.
        for i in e.all() {
            let alive = std::net::TcpStream::connect(("127.0.0.1", e.members[i].port)).is_ok();
            if !alive {
                e.kill(i);
            }
        }
        e.wait_stable(Duration::from_secs(30));
    }
}
