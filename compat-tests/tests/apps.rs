//! The applications that operators run on ZooKeeper, each driven as its operators drive it
//! (compat-tests/apps/<app>/), on standalone ferrozk, on a ferrozk ensemble that loses its
//! leader while the application works, and on Apache ZooKeeper 3.9 and Debian's 3.8 (where a
//! failure means a wrong check, not a finding).

use compat_tests::apps::App;

/// Kafka 3.9 brokers in ZooKeeper mode, then migrated to KRaft: one broker, then three;
/// topics created, altered and deleted; dynamic configs; ACLs through the ZooKeeper-backed
/// authorizer; produce and consume with acks=all; the controller broker killed and replaced
/// through /controller; a broker re-registering under /brokers/ids; then the ZooKeeper-to-KRaft
/// migration (a KRaft controller reading the metadata out of the ZooKeeper service, dual
/// writes, brokers rolled to KRaft) with every topic, message, config and ACL intact.
const KAFKA: App = App {
    script: "kafka/run.sh",
    ports: 4,
    passed: "KAFKA CHECK PASSED",
    minutes: 10,
};

/// Dubbo 3 with its registry, config center and metadata report on ZooKeeper: providers in
/// JVMs of their own and a consumer; a call works, a second provider appears, a provider
/// killed disappears within the session timeout, calls go on while a ZooKeeper server dies.
const DUBBO: App = App {
    script: "dubbo/run.sh",
    ports: 2,
    passed: "DUBBO CHECK PASSED",
    minutes: 5,
};

#[test]
fn kafka_on_ferrozk() {
    KAFKA.on_ferrozk();
}

#[test]
fn kafka_on_a_ferrozk_ensemble_losing_its_leader() {
    KAFKA.on_ferrozk_ensemble_losing_its_leader("kafka");
}

#[test]
fn kafka_on_zookeeper_3_9() {
    KAFKA.on_zookeeper_3_9();
}

#[test]
fn kafka_on_debian_zookeeper_3_8() {
    KAFKA.on_debian_zookeeper_3_8();
}

#[test]
fn dubbo_on_ferrozk() {
    DUBBO.on_ferrozk();
}

#[test]
fn dubbo_on_a_ferrozk_ensemble_losing_its_leader() {
    DUBBO.on_ferrozk_ensemble_losing_its_leader("dubbo");
}

#[test]
fn dubbo_on_zookeeper_3_9() {
    DUBBO.on_zookeeper_3_9();
}

#[test]
fn dubbo_on_debian_zookeeper_3_8() {
    DUBBO.on_debian_zookeeper_3_8();
}

/// HBase 2 (two HMasters and a RegionServer in one JVM) on an external ZooKeeper quorum: a
/// table created, put and get; the active master killed and the backup taking over through
/// /hbase/master; reads, writes and table administration after.
const HBASE: App = App {
    script: "hbase/run.sh",
    ports: 1,
    passed: "HBASE CHECK PASSED",
    minutes: 5,
};

#[test]
fn hbase_on_ferrozk() {
    HBASE.on_ferrozk();
}

#[test]
fn hbase_on_a_ferrozk_ensemble_losing_its_leader() {
    HBASE.on_ferrozk_ensemble_losing_its_leader("hbase");
}

#[test]
fn hbase_on_zookeeper_3_9() {
    HBASE.on_zookeeper_3_9();
}

#[test]
fn hbase_on_debian_zookeeper_3_8() {
    HBASE.on_debian_zookeeper_3_8();
}

/// ClickHouse (Debian's 18.16): two replicas of a ReplicatedMergeTree table coordinated
/// through ZooKeeper: inserts replicate both ways (de-duplicated, quorum inserts), an ALTER
/// replicates, a replica stopped and restarted catches up, leader election and the replicas'
/// ephemerals are as they should be, and dropping the table removes its subtree.
const CLICKHOUSE: App = App {
    script: "clickhouse/run.sh",
    ports: 6,
    passed: "CLICKHOUSE CHECK PASSED",
    minutes: 5,
};

#[test]
fn clickhouse_on_ferrozk() {
    CLICKHOUSE.on_ferrozk();
}

#[test]
fn clickhouse_on_a_ferrozk_ensemble_losing_its_leader() {
    CLICKHOUSE.on_ferrozk_ensemble_losing_its_leader("clickhouse");
}

#[test]
fn clickhouse_on_zookeeper_3_9() {
    CLICKHOUSE.on_zookeeper_3_9();
}

#[test]
fn clickhouse_on_debian_zookeeper_3_8() {
    CLICKHOUSE.on_debian_zookeeper_3_8();
}

/// Patroni (Debian's 3.0.2) with PostgreSQL 15 and the ZooKeeper DCS: two members bootstrap
/// (one leader, one streaming replica, the leader lock and member nodes as ephemerals of one
/// session); the leader's machine killed and the replica promoted once the dead session
/// expires (not earlier); the old leader rewound and back as a replica.
const PATRONI: App = App {
    script: "patroni/run.sh",
    ports: 4,
    passed: "PATRONI CHECK PASSED",
    minutes: 6,
};

#[test]
fn patroni_on_ferrozk() {
    PATRONI.on_ferrozk();
}

#[test]
fn patroni_on_a_ferrozk_ensemble_losing_its_leader() {
    PATRONI.on_ferrozk_ensemble_losing_its_leader("patroni");
}

#[test]
fn patroni_on_zookeeper_3_9() {
    PATRONI.on_zookeeper_3_9();
}

#[test]
fn patroni_on_debian_zookeeper_3_8() {
    PATRONI.on_debian_zookeeper_3_8();
}
