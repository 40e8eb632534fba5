//! Several addresses per member (`multiAddress.enabled`, `server.N=a1:q:e|a2:q:e`), as
//! ZooKeeper 3.9 has them: each member's first address is on a network nobody can reach
//! (a documentation network, not this machine's), its second on loopback; members listen on every address
//! (`quorumListenOnAllIPs=true`), and elections and leader connections fail over to the
//! address that answers. Seen by kazoo (compat-tests/ensemble/reconfig_checks.py):
//! /zookeeper/config, writes through every member, the leader killed, a new one elected, the
//! old one back. The same steps on three ZooKeeper 3.9 members, three ferrozk members and a
//! mixed ensemble; every line printed must be the same.

use compat_tests::ensemble::Ensemble;
use compat_tests::{free_port, python, workspace, zookeeper_version};
use std::time::Duration;

fn checks() -> String {
    workspace()
        .join("compat-tests/ensemble/reconfig_checks.py")
        .display()
        .to_string()
}

/// An address in a documentation network (TEST-NET-3, then TEST-NET-2) that is not this
/// machine's (some machines have one of them on their own interface), so that connections
/// to it fail or hang.
fn unreachable(id: usize) -> String {
    for net in ["203.0.113", "198.51.100"] {
        let a = format!("{net}.{}", 10 + id);
        if std::net::TcpListener::bind((a.as_str(), 0)).is_err() {
            return a;
        }
    }
    panic!("no unassigned documentation address for member {id}");
}

fn run(kind: &str, java: &[u64]) -> String {
    let mut e = Ensemble::new(
        &format!("ma-{kind}"),
        3,
        java,
        "tickTime=2000\nmultiAddress.enabled=true\nmultiAddress.reachabilityCheckTimeoutMs=500\nquorumListenOnAllIPs=true",
    );
    let v = zookeeper_version("ZK39_VERSION");
    for id in java {
        e.set_java_version(*id, Some(&v));
    }
    // ZooKeeper reads multiple addresses only with the JVM property set.
    e.jvm_flags = "-Dzookeeper.multiAddress.enabled=true".into();
    // Each member: an unreachable address first, then the loopback one Ensemble::new chose.
    let mut names = Vec::new();
    let mut lines = Vec::new();
    for l in e.server_lines() {
        let (key, spec) = l.split_once('=').unwrap();
        let id: usize = key["server.".len()..].parse().unwrap();
        let parts: Vec<&str> = spec.split(':').collect();
        let (qa, ea) = (free_port(), free_port());
        names.push(format!("{}=m{id}q", parts[1]));
        names.push(format!("{}=m{id}e", parts[2]));
        names.push(format!("{qa}=m{id}q-unreachable"));
        names.push(format!("{ea}=m{id}e-unreachable"));
        names.push(format!("{}=m{id}c", e.members[id - 1].port));
        lines.push(format!("{key}={}:{qa}:{ea}|{spec}", unreachable(id)));
    }
    let names = names.join(",");
    e.set_server_lines(&lines);
    e.start_all();
    let leader = e.wait_stable(Duration::from_secs(90));
    let checks = checks();
    let every = e.hosts(&e.all());
    let mut out = String::new();
    out.push_str(&python(&[&checks, "config", &e.hosts(&[0]), &names]));
    out.push_str(&python(&[&checks, "write", &every, "/three"]));
    e.kill(leader);
    let new_leader = e.wait_stable(Duration::from_secs(90));
    out.push_str(&format!("a new leader: {}\n", new_leader != leader));
    let two = e.hosts(&e.running());
    out.push_str(&python(&[&checks, "write", &two, "/two"]));
    e.start(leader);
    e.wait_port(leader, Duration::from_secs(60));
    e.wait_stable(Duration::from_secs(90));
    out.push_str(&python(&[&checks, "write", &every, "/again"]));
    out.push_str(&python(&[&checks, "config", &e.hosts(&[leader]), &names]));
    e.wait_same_zxid(Duration::from_secs(30));
    // Every ferrozk member that followed reached its leader on the second (loopback)
    // address, the first having failed.
    for i in e.all() {
        if !java.contains(&(i as u64 + 1)) && i != leader {
            assert!(
                e.log(i).contains("connected to the leader at 127.0.0.1:"),
                "{kind}: member {} never reached a leader's loopback address:\n{}",
                i + 1,
                e.log(i)
            );
        }
    }
    println!("--- {kind}\n{out}");
    out
}

#[test]
fn several_addresses_per_member_as_zookeeper_3_9() {
    let java = run("java", &[1, 2, 3]);
    assert_eq!(run("ferrozk", &[]), java);
    // A Java member beside ferrozk members, and the other way round.
    assert_eq!(run("mixed-1", &[1]), java);
    assert_eq!(run("mixed-2", &[1, 2]), java);
}
