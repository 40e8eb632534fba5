//! The stock-client suites against a three-server ferrozk ensemble, each suite on one member
//! (followers and the leader alike: the suites were written for one server and read what their
//! other sessions wrote without a sync, which ZooKeeper guarantees only on one member), and
//! clients with a connect string of all three failing over to another server with their
//! sessions intact when the server they use is killed.

use compat_tests::ensemble::Ensemble;
use compat_tests::{run_suite, workspace, NEWEST_CURATOR};
use std::io::Read;
use std::process::{Command, Stdio};
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
    let leader = e.wait_stable(Duration::from_secs(30));
    let followers: Vec<usize> = e.all().into_iter().filter(|i| *i != leader).collect();
    // kazoo, RawRecipes and zkCli on followers, Curator and cli_mt on the leader.
    let (on_leader, on_f1, on_f2) = (
        e.hosts(&[leader]),
        e.hosts(&[followers[0]]),
        e.hosts(&[followers[1]]),
    );
    let connect = on_f1.clone();
    check(
        &e,
        &connect,
        "/usr/bin/python3",
        &["compat-tests/clients/kazoo_suite.py"],
        5,
    );
    check(
        &e,
        &on_leader,
        "bash",
        &["compat-tests/clients/java/run.sh", "CuratorSuite"],
        6,
    );
    check(
        &e,
        &on_f2,
        "bash",
        &["compat-tests/clients/java/run.sh", "RawRecipes"],
        6,
    );
    // The newest Curator release (with its ZooKeeper 3.9 client), on a follower.
    let curator = format!("FERROZK_CURATOR_VERSION={NEWEST_CURATOR}");
    check(
        &e,
        &on_f2,
        "env",
        &[
            &curator,
            "bash",
            "compat-tests/clients/java/run.sh",
            "CuratorSuite",
        ],
        6,
    );
    check(
        &e,
        &on_leader,
        "bash",
        &["compat-tests/clients/cli_mt_suite.sh"],
        3,
    );
    check(
        &e,
        &on_f2,
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

#[test]
fn java_client_writes_through_the_loss_of_the_leader_lose_nothing() {
    let mut e = ensemble("java-load");
    let leader = e.wait_stable(Duration::from_secs(5));
    let connect = e.hosts(&e.all());
    // Build the Java suites first (run.sh does), then run the writer directly.
    let _ = run_suite(
        "bash",
        &[
            "compat-tests/clients/java/build.sh",
            "/tmp/ferrozk-java-classes",
        ],
        Duration::from_secs(300),
    );
    let cp = Command::new("bash")
        .args([
            "-c",
            ". compat-tests/clients/java/classpath.sh && echo $FERROZK_JAVA_CP",
        ])
        .current_dir(workspace())
        .output()
        .expect("classpath");
    let cp = format!(
        "/tmp/ferrozk-java-classes:{}",
        String::from_utf8_lossy(&cp.stdout).trim()
    );
    let mut w = Command::new("java")
        .args(["-cp", &cp, "EnsembleLoad", "12", "/jload", &connect])
        .current_dir(workspace())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java");
    std::thread::sleep(Duration::from_secs(4));
    e.kill(leader);
    let next = e.wait_stable(Duration::from_secs(30));
    assert_ne!(next, leader);
    std::thread::sleep(Duration::from_secs(1));
    e.start(leader);
    let mut out = String::new();
    w.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let st = w.wait().unwrap();
    let mut err = String::new();
    w.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(st.success(), "EnsembleLoad failed: {out}\n{err}");
    let done = out.lines().find(|l| l.starts_with("DONE")).unwrap_or("");
    println!("Java writer: {done}");
    assert!(out.contains("SESSION kept"), "{out}");
    let acked: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ACK ")).collect();
    assert!(acked.len() > 50, "too few writes: {done}");
    e.wait_stable(Duration::from_secs(30));
    e.wait_same_zxid(Duration::from_secs(30));
    // Every acknowledged write on every member (each asked directly, after a sync).
    for i in e.all() {
        let script = "import sys\nfrom kazoo.client import KazooClient\nzk = KazooClient(hosts=sys.argv[1])\nzk.start(timeout=30)\nzk.sync('/jload')\nprint('\\n'.join(sorted(zk.get_children('/jload'))))\nzk.stop()\n";
        let o = Command::new("/usr/bin/python3")
            .args(["-c", script, &format!("127.0.0.1:{}", e.members[i].port)])
            .output()
            .expect("python3");
        let names: std::collections::HashSet<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| format!("/jload/{l}"))
            .collect();
        for a in &acked {
            assert!(names.contains(*a), "member {} lost acknowledged {a}", i + 1);
        }
    }
}
