//! Kerberos (SASL GSSAPI) on the client port against a real MIT KDC started by the test
//! (compat-tests/kerberos/kdc.sh: realm EXAMPLE.COM on loopback, principals and keytabs made
//! fresh), compared with Apache ZooKeeper 3.9 given the same JAAS file and krb5.conf: the
//! Java client logging in from a keytab (JAAS Krb5LoginModule), kazoo with a ticket cache,
//! `sasl` ACLs by principal, with and without `kerberos.removeRealmFromPrincipal`.

use compat_tests::{run_suite, workspace, zookeeper_version, Server};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The KDC, stopped by PID (its pid file) when dropped.
struct Kdc(PathBuf);

impl Drop for Kdc {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(workspace().join("compat-tests/kerberos/kdc.sh"))
            .arg("stop")
            .arg(&self.0)
            .output();
    }
}

fn kdc(name: &str) -> Kdc {
    let dir = std::env::temp_dir().join(format!("ferrozk-kdc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.display().to_string();
    run_suite(
        "bash",
        &["compat-tests/kerberos/kdc.sh", "start", &d],
        Duration::from_secs(120),
    );
    Kdc(dir)
}

fn krb_section(name: &str, keytab: &Path, principal: &str) -> String {
    format!(
        "{name} {{\n  com.sun.security.auth.module.Krb5LoginModule required\n  useKeyTab=true\n  keyTab=\"{}\"\n  storeKey=true\n  useTicketCache=false\n  principal=\"{principal}\";\n}};\n",
        keytab.display()
    )
}

/// A ticket cache for `principal` from its keytab.
fn kinit(dir: &Path, keytab: &str, principal: &str, cache: &str) -> String {
    let cc = format!("FILE:{}", dir.join(cache).display());
    let st = Command::new("kinit")
        .env("KRB5_CONFIG", dir.join("krb5.conf"))
        .env("KRB5CCNAME", &cc)
        .arg("-kt")
        .arg(dir.join(keytab))
        .arg(principal)
        .status()
        .expect("kinit");
    assert!(st.success(), "kinit {principal}");
    cc
}

fn sequence(
    dir: &Path,
    extra: &str,
    sasl_id: &str,
    start: &dyn Fn(&str, &str) -> Server,
) -> String {
    let jaas = dir.join("jaas.conf");
    std::fs::write(
        &jaas,
        format!(
            "{}{}{}",
            krb_section(
                "Server",
                &dir.join("zookeeper_localhost.keytab"),
                "zookeeper/localhost@EXAMPLE.COM"
            ),
            krb_section("KrbZkcli", &dir.join("zkcli.keytab"), "zkcli@EXAMPLE.COM"),
            krb_section("KrbBob", &dir.join("bob.keytab"), "bob@EXAMPLE.COM"),
        ),
    )
    .unwrap();
    let krb5 = dir.join("krb5.conf");
    let flags = format!(
        "-Djava.security.auth.login.config={} -Djava.security.krb5.conf={}",
        jaas.display(),
        krb5.display()
    );
    let srv = start(
        &format!(
            "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n{extra}"
        ),
        &flags,
    );
    let zkcli = kinit(dir, "zkcli.keytab", "zkcli@EXAMPLE.COM", "zkcli.cc");
    let bob = kinit(dir, "bob.keytab", "bob@EXAMPLE.COM", "bob.cc");
    let script = workspace().join("compat-tests/sasl/kerberos_checks.py");
    let mut all = run_suite(
        "env",
        &[
            &format!("KRB5_CONFIG={}", krb5.display()),
            "/usr/bin/python3",
            &script.display().to_string(),
            &srv.port.to_string(),
            &zkcli,
            &bob,
            sasl_id,
        ],
        Duration::from_secs(180),
    );
    for (section, role) in [
        ("KrbZkcli", "owner"),
        ("KrbBob", "other"),
        ("none", "plain"),
    ] {
        let cmd = format!(
            "FERROZK_JAVA_OPTS='{flags} -Dzookeeper.server.principal=zookeeper/localhost' timeout 90 bash compat-tests/clients/java/run.sh SaslProbe localhost:{} {section} {role}; echo EXIT $?",
            srv.port
        );
        all.push_str(&format!(
            "[java {section} as {role}]\n{}",
            run_suite("bash", &["-c", &cmd], Duration::from_secs(120))
        ));
    }
    all
}

#[test]
fn kerberos_clients_and_acls_are_those_of_zookeeper_3_9() {
    let k = kdc("clients");
    let version = zookeeper_version("ZK39_VERSION");
    for (extra, id) in [
        ("", "zkcli@EXAMPLE.COM"),
        ("kerberos.removeRealmFromPrincipal=true\n", "zkcli"),
    ] {
        let want = sequence(&k.0, extra, id, &|cfg, flags| {
            Server::reference_with_env(
                "compat-tests/differential/start_zk.sh",
                "pid",
                cfg,
                &[("ZK_VERSION", version.as_str()), ("SERVER_JVMFLAGS", flags)],
            )
        });
        let got = sequence(&k.0, extra, id, &|cfg, flags| {
            Server::ferrozk_with_env(cfg, &[("SERVER_JVMFLAGS", flags)])
        });
        assert_eq!(
            got, want,
            "ferrozk differs from ZooKeeper {version} ({extra:?})"
        );
        for line in [
            format!("getACL /krb sasl:{id}=31,world:anyone=1"),
            "bob setData NoAuthError".to_string(),
            "STATES SyncConnected,SaslAuthenticated".to_string(),
            format!("WHOAMI ip=127.0.0.1 ; sasl={id}"),
        ] {
            assert!(got.contains(&line), "{line:?} missing:\n{got}");
        }
    }
}

#[test]
fn quorum_kerberos_with_a_java_3_9_member() {
    use compat_tests::ensemble::Ensemble;
    let k = kdc("quorum");
    let dir = &k.0;
    let jaas = dir.join("quorum-jaas.conf");
    std::fs::write(
        &jaas,
        format!(
            "{}{}{}",
            krb_section(
                "QuorumServer",
                &dir.join("zkquorum_localhost.keytab"),
                "zkquorum/localhost@EXAMPLE.COM"
            ),
            krb_section(
                "QuorumLearner",
                &dir.join("learner_127.0.0.1.keytab"),
                "learner/127.0.0.1@EXAMPLE.COM"
            ),
            // A learner whose host is no member's: refused by its peers.
            krb_section(
                "QuorumLearnerElsewhere",
                &dir.join("learner_localhost.keytab"),
                "learner/localhost@EXAMPLE.COM"
            ),
        ),
    )
    .unwrap();
    let version = zookeeper_version("ZK39_VERSION");
    let mut m = Ensemble::new(
        "qkrb",
        3,
        &[3],
        "tickTime=500\nquorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n\
         quorum.auth.serverRequireSasl=true\nquorum.auth.kerberos.servicePrincipal=zkquorum/localhost\n",
    );
    m.set_java_version(3, Some(&version));
    m.jvm_flags = format!(
        "-Djava.security.auth.login.config={} -Djava.security.krb5.conf={}",
        jaas.display(),
        dir.join("krb5.conf").display()
    );
    m.start_all();
    for i in m.all() {
        m.wait_port(i, Duration::from_secs(90));
    }
    m.wait_stable(Duration::from_secs(90));
    for i in m.all() {
        m.write_and_read_everywhere(i, &format!("/qkrb/member{}", i + 1));
    }
    m.assert_logged(&[0, 1], "authenticated as learner/127.0.0.1@EXAMPLE.COM");
    m.restart_with(
        1,
        &[(
            "quorum.auth.learner.saslLoginContext",
            "QuorumLearnerElsewhere",
        )],
    );
    m.assert_stays_out(1, Duration::from_secs(15));
    m.restart_with(
        1,
        &[("quorum.auth.learner.saslLoginContext", "QuorumLearner")],
    );
    m.wait_stable(Duration::from_secs(90));
    m.write_and_read_everywhere(1, "/qkrb/rejoined");
}
