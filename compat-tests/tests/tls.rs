//! TLS on the client port, with certificates and keystores made by the test
//! (compat-tests/tls/make-certs.sh: openssl and keytool): the stock clients' suites over TLS
//! (kazoo, the Java client with Curator, zkCli), x509 identities and ACL decisions compared
//! with Apache ZooKeeper 3.9 on the same certificates, the three store types, port
//! unification, refused and stalled handshakes, and certificate reload.

use compat_tests::{free_port, run_suite, workspace, zookeeper_version, Server};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The test certificates, made once per run.
fn certs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("ferrozk-tls-certs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        run_suite(
            "bash",
            &["compat-tests/tls/make-certs.sh", &d.display().to_string()],
            Duration::from_secs(120),
        );
        d
    })
}

fn cert(name: &str) -> String {
    certs().join(name).display().to_string()
}

/// zoo.cfg lines for a TLS client port on `secure`, with the server key store `key_store`.
fn tls_cfg(secure: u16, key_store: &str) -> String {
    format!(
        "secureClientPort={secure}\nsecureClientPortAddress=127.0.0.1\n\
         serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
         ssl.keyStore.location={key_store}\nssl.keyStore.password=secret\n\
         ssl.trustStore.location={}\nssl.trustStore.password=secret\n\
         ssl.enabledProtocols=TLSv1.3,TLSv1.2\n\
         X509AuthenticationProvider.superUser=CN=zk admin,O=ferrozk\n\
         4lw.commands.whitelist=*\n",
        cert("trust.p12")
    )
}

/// Debian's Netty jars, which the Java client's TLS socket needs.
fn netty_cp() -> String {
    [
        "netty-handler",
        "netty-common",
        "netty-buffer",
        "netty-transport",
        "netty-codec",
        "netty-resolver",
        "netty-transport-native-epoll",
        "netty-transport-native-unix-common",
    ]
    .iter()
    .map(|j| format!("/usr/share/java/{j}.jar"))
    .collect::<Vec<_>>()
    .join(":")
}

/// The Java client's TLS settings as system properties, without a client certificate: the
/// suites check ACLs as an anonymous client sees them, so they run against
/// `ssl.clientAuth=want` (the x509 identities have tests of their own).
fn java_tls_opts() -> String {
    format!(
        "-Dzookeeper.client.secure=true \
         -Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty \
         -Dzookeeper.ssl.trustStore.location={} -Dzookeeper.ssl.trustStore.password=secret",
        cert("trust.p12")
    )
}

/// What TlsProbe prints for one client certificate and role (and its exit status).
fn probe(secure: u16, client: &str, role: &str) -> String {
    let cmd = format!(
        "FERROZK_JAVA_EXTRA_CP={} timeout 90 bash compat-tests/clients/java/run.sh TlsProbe 127.0.0.1:{secure} {} {} {role}; echo EXIT $?",
        netty_cp(),
        cert(&format!("{client}.p12")),
        cert("trust.p12")
    );
    run_suite("bash", &["-c", &cmd], Duration::from_secs(120))
}

/// The x509 sequence: the owner's ACLs, another identity, the super user, and two
/// certificates the server must refuse.
fn x509_sequence(secure: u16) -> Vec<String> {
    [
        ("client", "owner"),
        ("super", "other"),
        ("client", "other"),
        ("stranger", "other"),
        ("expired", "other"),
        ("super", "super"),
    ]
    .iter()
    .map(|(c, r)| format!("[{c} as {r}]\n{}", probe(secure, c, r)))
    .collect()
}

#[test]
fn x509_identities_and_acl_decisions_are_those_of_zookeeper_3_9() {
    certs();
    let secure_java = free_port();
    let version = zookeeper_version("ZK39_VERSION");
    let java = Server::reference_with_env(
        "compat-tests/differential/start_zk.sh",
        "pid",
        &tls_cfg(secure_java, &cert("server.jks")),
        &[("ZK_VERSION", version.as_str())],
    );
    let want = x509_sequence(secure_java);
    drop(java);
    let secure = free_port();
    let mut ferrozk = Server::ferrozk_with(&tls_cfg(secure, &cert("server.jks")));
    let got = x509_sequence(secure);
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(g, w, "ferrozk differs from ZooKeeper {version}");
    }
    // The sequence tested what it means to.
    let all = got.join("\n");
    for line in [
        "WHOAMI ip=127.0.0.1 ; x509=1.2.840.113549.1.9.1=#160f6f6e65406578616d706c652e636f6d,CN=client \\#1 \\<one\\>,OU=ops+UID=42,O=Acme\\, Inc.,C=US",
        "WHOAMI ip=127.0.0.1 ; super= ; x509=CN=zk admin,O=ferrozk",
        "create with x509 id 'not a name' INVALIDACL",
        "setData /x509 NOAUTH",
    ] {
        assert!(all.contains(line), "{line:?} missing:\n{all}");
    }
    assert_eq!(all.matches("CONNECT failed").count(), 2, "{all}");
    assert!(ferrozk.is_alive(), "{}", ferrozk.log());
}

#[test]
fn kazoo_suite_over_tls_with_a_pkcs12_store() {
    let secure = free_port();
    // The suite checks ACLs as an anonymous client sees them: TLS without a client
    // certificate, which ssl.clientAuth=want allows.
    let mut srv = Server::ferrozk_with(&format!(
        "znode.container.checkIntervalMs=1000\n{}ssl.clientAuth=want\n",
        tls_cfg(secure, &cert("server.p12"))
    ));
    let tls = format!("{},,", cert("ca.pem"));
    let out = run_suite(
        "env",
        &[
            &format!("FERROZK_KAZOO_TLS={tls}"),
            "/usr/bin/python3",
            "compat-tests/clients/kazoo_suite.py",
            &format!("127.0.0.1:{secure}"),
        ],
        Duration::from_secs(300),
    );
    assert!(out.contains(" passed, 0 failed"), "kazoo over TLS failed");
    assert!(srv.is_alive(), "{}", srv.log());
}

#[test]
fn curator_suite_over_tls_with_a_jks_store() {
    let secure = free_port();
    let mut srv = Server::ferrozk_with(&format!(
        "znode.container.checkIntervalMs=1000\n{}ssl.clientAuth=want\n",
        tls_cfg(secure, &cert("server.jks"))
    ));
    let out = run_suite(
        "env",
        &[
            &format!("FERROZK_JAVA_OPTS={}", java_tls_opts()),
            &format!("FERROZK_JAVA_EXTRA_CP={}", netty_cp()),
            "bash",
            "compat-tests/clients/java/run.sh",
            "CuratorSuite",
            &format!("127.0.0.1:{secure}"),
        ],
        Duration::from_secs(400),
    );
    assert!(out.contains(" passed, 0 failed"), "Curator over TLS failed");
    assert!(srv.is_alive(), "{}", srv.log());
}

#[test]
fn zkcli_over_tls_with_a_pem_store() {
    let secure = free_port();
    let mut srv = Server::ferrozk_with(&format!(
        "znode.container.checkIntervalMs=1000\n{}ssl.clientAuth=want\n",
        tls_cfg(secure, &cert("server.pem"))
    ));
    let out = run_suite(
        "env",
        &[
            // Debian's zookeeper.jar lists only part of Netty in its manifest (not
            // netty-resolver or netty-codec, which the TLS socket needs) and zkEnv.sh fixes
            // the classpath: a later -cp in CLIENT_JVMFLAGS completes it.
            &format!(
                "CLIENT_JVMFLAGS={} -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:{}",
                java_tls_opts(),
                netty_cp()
            ),
            "bash",
            "compat-tests/clients/zkcli_suite.sh",
            &format!("127.0.0.1:{secure}"),
        ],
        Duration::from_secs(400),
    );
    assert!(out.contains(" passed, 0 failed"), "zkCli over TLS failed");
    assert!(srv.is_alive(), "{}", srv.log());
}

#[test]
fn unification_refused_handshakes_and_certificate_reload() {
    let secure = free_port();
    // The key store is a copy the checks rewrite.
    let dir = std::env::temp_dir().join(format!("ferrozk-tls-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_store = dir.join("server.pem");
    std::fs::copy(cert("server.pem"), &key_store).unwrap();
    let mut srv = Server::ferrozk_with(&format!(
        "{}client.portUnification=true\nnio.sessionlessCnxnTimeout=1500\n",
        tls_cfg(secure, &key_store.display().to_string())
    ));
    let plain_only = Server::ferrozk();
    let out = run_suite(
        "/usr/bin/python3",
        &[
            &workspace()
                .join("compat-tests/tls/tls_checks.py")
                .display()
                .to_string(),
            &certs().display().to_string(),
            &srv.port.to_string(),
            &secure.to_string(),
            &plain_only.port.to_string(),
            &key_store.display().to_string(),
        ],
        Duration::from_secs(180),
    );
    assert!(out.contains(" passed, 0 failed"), "TLS checks failed");
    assert!(srv.is_alive(), "{}", srv.log());
    let log = srv.log();
    for line in [
        "unsuccessful TLS handshake",
        "new client connections use it",
        "the previous one keeps serving",
    ] {
        assert!(log.contains(line), "{line:?} not logged:\n{log}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
