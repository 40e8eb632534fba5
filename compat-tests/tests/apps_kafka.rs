//! Kafka 3.9 brokers in ZooKeeper mode, then migrated to KRaft (compat-tests/apps/kafka/):
//! one broker, then three; topics created, altered and deleted; dynamic configs; ACLs through
//! the ZooKeeper-backed authorizer; produce and consume with acks=all; the controller broker
//! killed and replaced through /controller; a broker re-registering under /brokers/ids; then
//! the ZooKeeper-to-KRaft migration (a KRaft controller reading the metadata out of the
//! ZooKeeper service, dual writes, brokers rolled to KRaft) with every topic and message
//! intact. The same check runs on Apache ZooKeeper 3.9 and Debian's 3.8.

use compat_tests::apps::{check_after_loss, ensemble, ports, run};
use compat_tests::{zookeeper_version, Server};

const PASSED: &str = "KAFKA CHECK PASSED";

fn kafka(connect: &str, kill_pid: Option<u32>) {
    let ports = ports(4);
    let pid = kill_pid.map(|p| p.to_string());
    let mut args = vec![connect, ports.as_str()];
    if let Some(p) = &pid {
        args.push(p);
    }
    run("kafka/run.sh", &args, 10, PASSED);
}

#[test]
fn kafka_on_ferrozk() {
    let s = Server::ferrozk_with("");
    kafka(&s.connect_string(), None);
}

#[test]
fn kafka_on_a_ferrozk_ensemble_that_loses_its_leader() {
    let mut e = ensemble("kafka", "tickTime=2000");
    let leader = e.wait_stable(std::time::Duration::from_secs(30));
    kafka(&e.hosts(&e.all()), Some(e.pid(leader)));
    check_after_loss(&mut e, leader);
}

#[test]
fn kafka_on_zookeeper_3_9() {
    let v = zookeeper_version("ZK39_VERSION");
    let s = Server::reference_with_env(
        "compat-tests/differential/start_zk.sh",
        "pid",
        "",
        &[("ZK_VERSION", v.as_str())],
    );
    kafka(&s.connect_string(), None);
}

#[test]
fn kafka_on_debian_zookeeper_3_8() {
    let s = Server::reference();
    kafka(&s.connect_string(), None);
}
