//! zoo.cfg files as secured and tuned deployments write them: a setting ferrozk does not
//! implement and that touches security, durability or membership stops start-up with one
//! message naming every such key; the same features switched off, and settings that only tune
//! a Java server, start normally (the latter with a warning); an invalid value of a key
//! ferrozk reads stops start-up naming key and file.

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ferrozk-cfg-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("data")).unwrap();
    d
}

/// Writes a standalone zoo.cfg with `extra` lines and runs ferrozk on it, expecting it to
/// refuse to start; returns what it printed.
fn refused(name: &str, extra: &str) -> String {
    refused_with_java_env(name, extra, None)
}

/// [`refused`], with a `java.env` beside zoo.cfg (as zkEnv.sh sources it).
fn refused_with_java_env(name: &str, extra: &str, java_env: Option<&str>) -> String {
    let d = dir(name);
    // For the ensemble cases (harmless standalone).
    std::fs::write(d.join("data").join("myid"), "1\n").unwrap();
    if let Some(env) = java_env {
        std::fs::write(d.join("java.env"), env).unwrap();
    }
    let cfg = d.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n{extra}\n",
            d.join("data").display(),
            free_port()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrozk"))
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ferrozk started on a zoo.cfg with {extra:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains(&cfg.display().to_string()),
        "names the file: {err}"
    );
    err
}

fn assert_names(err: &str, keys: &[&str]) {
    for k in keys {
        assert!(err.contains(k), "the message names {k}: {err}");
    }
}

#[test]
fn client_tls_settings_ferrozk_lacks_are_refused() {
    let err = refused(
        "tls",
        "secureClientPort=2182\n\
         serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
         authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n\
         ssl.keyStore.location=/etc/zookeeper/secrets/zk.keystore.jks\n\
         ssl.keyStore.password=changeit\n\
         ssl.trustStore.location=/etc/zookeeper/secrets/zk.truststore.jks\n\
         ssl.trustStore.password=changeit\n\
         ssl.clientAuth=need\n\
         ssl.crl=true\n\
         ssl.ocsp=true\n\
         ssl.context.supplier.class=com.example.MySslContext",
    );
    assert_names(&err, &["ssl.context.supplier.class", "Java"]);
    // Keys ferrozk implements, and tuning keys, are not reasons.
    for k in [
        "serverCnxnFactory",
        "secureClientPort",
        "authProvider.x509",
        "ssl.keyStore",
        "ssl.crl",
        "ssl.ocsp",
    ] {
        assert!(!err.contains(k), "{k} in {err}");
    }
}

#[test]
fn client_tls_with_a_store_that_does_not_load_stops_start_up_naming_it() {
    let err = refused(
        "tlsfile",
        "secureClientPort=0\n\
         ssl.keyStore.location=/nonexistent/zk.keystore.jks\n\
         ssl.keyStore.password=changeit\n\
         ssl.clientAuth=none",
    );
    assert_names(&err, &["/nonexistent/zk.keystore.jks"]);
    // Client authentication without a trust store to check certificates against.
    let err = refused(
        "tlstrust",
        "secureClientPort=0\n\
         ssl.keyStore.location=/nonexistent/zk.keystore.jks",
    );
    assert_names(&err, &["ssl.trustStore.location", "ssl.clientAuth"]);
}

#[test]
fn kerberos_foreign_providers_and_unavailable_enforced_schemes_are_refused() {
    // A JAAS Server section logging in with Kerberos, found through java.env as zkServer.sh
    // finds it.
    let d = std::env::temp_dir().join(format!("ferrozk-cfg-{}-krb-jaas", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let jaas = d.join("jaas.conf");
    std::fs::write(
        &jaas,
        "Server {\n com.sun.security.auth.module.Krb5LoginModule required\n useKeyTab=true\n keyTab=\"/etc/zk.keytab\"\n storeKey=true\n principal=\"zookeeper/h.example.com@EXAMPLE.COM\";\n};\n",
    )
    .unwrap();
    let err = refused_with_java_env(
        "krb",
        "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         kerberos.removeHostFromPrincipal=true\n\
         kerberos.removeRealmFromPrincipal=true",
        Some(&format!(
            "export SERVER_JVMFLAGS=\"$SERVER_JVMFLAGS -Djava.security.auth.login.config={}\"\n",
            jaas.display()
        )),
    );
    // Kerberos is supported; a keytab that cannot be read stops start-up, naming it.
    assert_names(
        &err,
        &[
            "java.security.auth.login.config",
            "Kerberos",
            "/etc/zk.keytab",
        ],
    );
    let err = refused("provider", "authProvider.1=com.example.OurLdapProvider");
    assert_names(&err, &["authProvider.1", "Java"]);
    // Enforcing a scheme nobody registers, as ZooKeeper refuses it.
    let err = refused(
        "enforce",
        "enforce.auth.enabled=true\nenforce.auth.schemes=sasl",
    );
    assert_names(&err, &["enforce.auth.schemes", "sasl"]);
    let err = refused("enforce-empty", "enforce.auth.enabled=true");
    assert_names(&err, &["enforce.auth.schemes"]);
}

#[test]
fn quorum_tls_and_quorum_sasl_are_refused() {
    // Quorum TLS is supported (reloading, revocation checks); a Java SSLContext supplier not.
    let err = refused(
        "qtls",
        "sslQuorum=true\n\
         portUnification=true\n\
         ssl.quorum.keyStore.location=/etc/zk/quorum.p12\n\
         ssl.quorum.keyStore.password=secret\n\
         ssl.quorum.trustStore.location=/etc/zk/trust.p12\n\
         ssl.quorum.crl=true\n\
         ssl.quorum.context.supplier.class=com.example.QuorumSsl\n\
         sslQuorumReloadCertFiles=true",
    );
    assert_names(&err, &["ssl.quorum.context.supplier.class"]);
    for k in [
        "sslQuorum",
        "portUnification=",
        "ssl.quorum.keyStore",
        "ssl.quorum.crl",
    ] {
        assert!(!err.contains(k), "{k} in {err}");
    }
    // Quorum SASL (supported) needs its JAAS sections and ZooKeeper's order of switches.
    let members = format!(
        "initLimit=10\nsyncLimit=5\nstandaloneEnabled=false\nserver.1=127.0.0.1:{}:{}\n",
        free_port(),
        free_port()
    );
    let err = refused(
        "qsasl",
        &format!("{members}quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true"),
    );
    assert_names(&err, &["quorum.auth.enableSasl", "JAAS"]);
    let err = refused(
        "qsasl-order",
        &format!("{members}quorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true"),
    );
    assert_names(
        &err,
        &["quorum.auth.serverRequireSasl", "learnerRequireSasl"],
    );
}

#[test]
fn membership_features_are_read_and_a_bad_observer_master_port_stops_start_up() {
    // Every membership key ZooKeeper has is now read; a value that is not a port stops
    // start-up and is named, and the other membership keys are not blamed.
    let err = refused(
        "members",
        "reconfigEnabled=true\n\
         multiAddress.enabled=true\n\
         observerMasterPort=70000",
    );
    assert_names(&err, &["observerMasterPort", "70000"]);
    assert!(
        !err.contains("reconfigEnabled") && !err.contains("multiAddress"),
        "{err}"
    );
}

#[test]
fn invalid_values_of_keys_ferrozk_reads_stop_start_up() {
    for (name, line, key) in [
        ("snapcount", "snapCount=lots", "snapCount"),
        ("prealloc", "preAllocSize=-5", "preAllocSize"),
        ("forcesync", "forceSync=maybe", "forceSync"),
        (
            "outstanding",
            "globalOutstandingLimit=0",
            "globalOutstandingLimit",
        ),
        (
            "adminport",
            "admin.enableServer=true\nadmin.serverPort=99999",
            "admin.serverPort",
        ),
        (
            "compression",
            "snapshot.compression.method=zstd",
            "snapshot.compression.method",
        ),
        ("quota", "enforceQuota=yes", "enforceQuota"),
    ] {
        let err = refused(name, line);
        assert_names(&err, &[key, "invalid value"]);
    }
}

#[test]
fn features_switched_off_and_java_tuning_keys_start_normally() {
    let port = free_port();
    let d = dir("off");
    std::fs::write(
        d.join("zoo.cfg"),
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n\
             sslQuorum=false\nportUnification=false\nreconfigEnabled=false\nreadonlymode.enabled=false\n\
             localSessionsEnabled=false\nquorum.auth.enableSasl=false\nenforce.auth.enabled=false\n\
             authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\n\
             serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
             commitProcessor.numWorkerThreads=8\nsomeTypoKey=1\n",
            d.join("data").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(d.join("server.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrozk"))
        .arg(d.join("zoo.cfg"))
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!(
                "did not serve: {}",
                std::fs::read_to_string(d.join("server.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = Raw::connect(port, false);
    assert!(c.exists("/zookeeper").is_some());
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(d.join("server.log")).unwrap();
    for k in [
        "serverCnxnFactory",
        "commitProcessor.numWorkerThreads",
        "someTypoKey",
    ] {
        assert!(
            log.contains(k) && log.contains("no effect"),
            "{k} reported as having no effect: {log}"
        );
    }
}
