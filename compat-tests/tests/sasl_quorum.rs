//! Quorum SASL (DIGEST-MD5 from the JAAS QuorumServer and QuorumLearner sections) between
//! ferrozk members and an Apache ZooKeeper 3.9 member: the documented rolling switch of a live
//! ensemble (enableSasl, then learnerRequireSasl, then serverRequireSasl, each member restarted
//! in turn), writes read back everywhere at each step, and a member with wrong credentials
//! kept out until it has the right ones.

use compat_tests::ensemble::Ensemble;
use compat_tests::zookeeper_version;
use std::time::Duration;

fn jaas(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let f = dir.join("jaas.conf");
    std::fs::write(
        &f,
        "QuorumServer {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  user_test=\"test-secret\";\n};\n\
         QuorumLearner {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"test\"\n  password=\"test-secret\";\n};\n\
         QuorumLearnerWrong {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"test\"\n  password=\"wrong\";\n};\n",
    )
    .unwrap();
    f
}

/// Restarts every member in turn with `keys` added, checking the ensemble after each.
fn roll(m: &mut Ensemble, keys: &[(&str, &str)], step: &str) {
    for i in m.all() {
        m.stop(i);
        m.set_keys(i, keys);
        m.start(i);
        m.wait_port(i, Duration::from_secs(90));
        m.wait_stable(Duration::from_secs(90));
        m.write_and_read_everywhere(i, &format!("/qsasl/{step}-member{}", i + 1));
    }
}

#[test]
fn quorum_sasl_rolling_switch_with_a_java_3_9_member() {
    let version = zookeeper_version("ZK39_VERSION");
    let mut m = Ensemble::new("qsasl", 3, &[3], "tickTime=500\n");
    m.set_java_version(3, Some(&version));
    let dir = std::env::temp_dir().join(format!("ferrozk-qsasl-{}", std::process::id()));
    // ZooKeeper 3.9's fips-mode (on by default) turns DIGEST-MD5 off in its learner.
    m.jvm_flags = format!(
        "-Djava.security.auth.login.config={} -Dzookeeper.fips-mode=false",
        jaas(&dir).display()
    );
    m.start_all();
    for i in m.all() {
        m.wait_port(i, Duration::from_secs(90));
    }
    m.wait_stable(Duration::from_secs(90));
    m.write_and_read_everywhere(0, "/qsasl/plain");
    roll(&mut m, &[("quorum.auth.enableSasl", "true")], "enabled");
    roll(
        &mut m,
        &[("quorum.auth.learnerRequireSasl", "true")],
        "learners",
    );
    roll(
        &mut m,
        &[("quorum.auth.serverRequireSasl", "true")],
        "servers",
    );
    m.assert_logged(&[0, 1], "authenticated as test");
    // A ferrozk member with the wrong password stays out, and is logged by its peers.
    m.restart_with(
        1,
        &[("quorum.auth.learner.saslLoginContext", "QuorumLearnerWrong")],
    );
    m.assert_stays_out(1, Duration::from_secs(15));
    m.assert_logged(&[0], "quorum SASL authentication of");
    m.restart_with(
        1,
        &[("quorum.auth.learner.saslLoginContext", "QuorumLearner")],
    );
    m.wait_stable(Duration::from_secs(90));
    m.write_and_read_everywhere(1, "/qsasl/rejoined");
    let _ = std::fs::remove_dir_all(&dir);
}
