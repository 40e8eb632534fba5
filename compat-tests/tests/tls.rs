//! TLS on the client port, with certificates and keystores made by the test
//! (compat-tests/tls/make-certs.sh: openssl and keytool): the stock clients' suites over TLS
//! (kazoo, the Java client with Curator, zkCli), x509 identities and ACL decisions compared
//! with Apache ZooKeeper 3.9 on the same certificates, the three store types, port
//! unification, refused and stalled handshakes, and certificate reload.

use compat_tests::{free_port, run_suite, wait_for_tcp, workspace, zookeeper_version, Server};
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

/// The x509 sequence: the owner's ACLs, the owner and another identity (a certificate naming
/// another address, which the default settings accept), the super user, and two certificates
/// the server must refuse.
fn x509_sequence(secure: u16) -> Vec<String> {
    [
        ("client", "owner"),
        ("super", "other"),
        ("client", "other"),
        ("other-ip", "other"),
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
    // A refused certificate is told from a port not yet open by its failed handshakes.
    wait_for_tcp(secure_java);
    let want = x509_sequence(secure_java);
    drop(java);
    let secure = free_port();
    let mut ferrozk = Server::ferrozk_with(&tls_cfg(secure, &cert("server.jks")));
    wait_for_tcp(secure);
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
        "WHOAMI ip=127.0.0.1 ; x509=CN=elsewhere",
        "setData /x509 NOAUTH",
        "create /x509/o NOAUTH",
    ] {
        assert!(all.contains(line), "{line:?} missing:\n{all}");
    }
    assert_eq!(all.matches("CONNECT failed").count(), 2, "{all}");
    assert!(ferrozk.is_alive(), "{}", ferrozk.log());
}

/// A client suite over TLS against ferrozk serving `key_store`: `env` (VAR=value) and the
/// suite's command line, to which the secure connect string is added. The suites check ACLs
/// as an anonymous client sees them, so they connect without a client certificate, which
/// `ssl.clientAuth=want` allows.
fn suite_over_tls(key_store: &str, env: &[String], command: &[&str], minutes: u64) {
    let secure = free_port();
    let mut srv = Server::ferrozk_with(&format!(
        "znode.container.checkIntervalMs=1000\n{}ssl.clientAuth=want\n",
        tls_cfg(secure, &cert(key_store))
    ));
    let connect = format!("127.0.0.1:{secure}");
    let mut args: Vec<&str> = env.iter().map(String::as_str).collect();
    args.extend_from_slice(command);
    args.push(&connect);
    let out = run_suite("env", &args, Duration::from_secs(minutes * 60));
    assert!(
        out.contains(" passed, 0 failed"),
        "{command:?} over TLS failed"
    );
    assert!(srv.is_alive(), "{}", srv.log());
}

#[test]
fn kazoo_suite_over_tls_with_a_pkcs12_store() {
    suite_over_tls(
        "server.p12",
        &[format!("FERROZK_KAZOO_TLS={},,", cert("ca.pem"))],
        &["/usr/bin/python3", "compat-tests/clients/kazoo_suite.py"],
        5,
    );
}

#[test]
fn curator_suite_over_tls_with_a_jks_store() {
    suite_over_tls(
        "server.jks",
        &[
            format!("FERROZK_JAVA_OPTS={}", java_tls_opts()),
            format!("FERROZK_JAVA_EXTRA_CP={}", netty_cp()),
        ],
        &["bash", "compat-tests/clients/java/run.sh", "CuratorSuite"],
        7,
    );
}

#[test]
fn java_client_recipes_over_tls_with_a_pkcs12_store() {
    suite_over_tls(
        "server.p12",
        &[
            format!("FERROZK_JAVA_OPTS={}", java_tls_opts()),
            format!("FERROZK_JAVA_EXTRA_CP={}", netty_cp()),
        ],
        &["bash", "compat-tests/clients/java/run.sh", "RawRecipes"],
        7,
    );
}

#[test]
fn zkcli_over_tls_with_an_encrypted_pem_store() {
    // Debian's zookeeper.jar lists only part of Netty in its manifest (not netty-resolver or
    // netty-codec, which the TLS socket needs) and zkEnv.sh fixes the classpath: a later -cp
    // in CLIENT_JVMFLAGS completes it. The server's PEM key is encrypted with
    // ssl.keyStore.password (the unification test serves an unencrypted one).
    suite_over_tls(
        "server-enc.pem",
        &[format!(
            "CLIENT_JVMFLAGS={} -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:{}",
            java_tls_opts(),
            netty_cp()
        )],
        &["bash", "compat-tests/clients/zkcli_suite.sh"],
        7,
    );
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
        "{}client.portUnification=true\nnio.sessionlessCnxnTimeout=1500\n\
         ssl.clientHostnameVerification=true\n",
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
        "does not name the client's address",
        "new client connections use it",
        "the previous one keeps serving",
    ] {
        assert!(log.contains(line), "{line:?} not logged:\n{log}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// zoo.cfg lines for TLS between members with the test certificates (the server certificate
/// names 127.0.0.1, so hostname verification holds).
fn quorum_tls_cfg(ssl_quorum: bool, unification: bool) -> String {
    format!(
        "sslQuorum={ssl_quorum}\nportUnification={unification}\n\
         ssl.quorum.keyStore.location={}\nssl.quorum.keyStore.password=secret\n\
         ssl.quorum.trustStore.location={}\nssl.quorum.trustStore.password=secret\n",
        cert("server.p12"),
        cert("trust.p12")
    )
}

/// Sets the quorum TLS lines of member `i`'s zoo.cfg.
fn set_quorum_tls(
    m: &compat_tests::ensemble::Ensemble,
    i: usize,
    ssl_quorum: bool,
    unification: bool,
) {
    let cfg = m.members[i].dir.join("zoo.cfg");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("sslQuorum=") && !l.starts_with("portUnification="))
        .collect();
    let mut out = kept.join("\n");
    out.push_str(&format!(
        "\nsslQuorum={ssl_quorum}\nportUnification={unification}\n"
    ));
    std::fs::write(&cfg, out).unwrap();
}

/// The election port of member `id`, from its server line.
fn election_port(m: &compat_tests::ensemble::Ensemble, id: u64) -> u16 {
    let cfg = std::fs::read_to_string(m.members[0].dir.join("zoo.cfg")).unwrap();
    cfg.lines()
        .find(|l| l.starts_with(&format!("server.{id}=")))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .expect("a server line")
}

#[test]
fn quorum_tls_with_a_java_3_9_member_and_the_rolling_switch_from_plaintext() {
    let version = zookeeper_version("ZK39_VERSION");
    rolling_quorum_tls_switch("qtls39", Some(version.as_str()));
}

#[test]
fn quorum_tls_with_a_debian_3_8_member_and_the_rolling_switch_from_plaintext() {
    // ZooKeeper 3.8 checks the names in both directions on the quorum (it is not in FIPS
    // mode by default): every certificate here names 127.0.0.1.
    rolling_quorum_tls_switch("qtls38", None);
}

/// Members 1 and 2 run ferrozk, member 3 Apache ZooKeeper (`java`: a Maven Central release,
/// or Debian's 3.8.0). First the documented rolling switch of a live plaintext ensemble under
/// a write load: every member to portUnification (accepts both), then each to sslQuorum (dials
/// TLS), then each without portUnification (TLS only).
fn rolling_quorum_tls_switch(name: &str, java: Option<&str>) {
    use compat_tests::ensemble::Ensemble;
    certs();
    compat_tests::ferrozk_bin();
    let mut m = Ensemble::new(
        name,
        3,
        &[3],
        &format!("tickTime=500\n{}", quorum_tls_cfg(false, false)),
    );
    m.set_java_version(3, java);
    m.start_all();
    for i in m.all() {
        m.wait_port(i, Duration::from_secs(90));
    }
    m.wait_stable(Duration::from_secs(90));
    m.write_and_read_everywhere(0, "/qtls/plain");
    // Under a write load from sessions spread over the three members, each with an ephemeral.
    let prefix = format!("/{name}-load");
    let mut load = compat_tests::load::Load::start(&m.hosts(&m.all()), 4, &prefix);
    for (step, (ssl_quorum, unification)) in [(false, true), (true, true), (true, false)]
        .into_iter()
        .enumerate()
    {
        for i in m.all() {
            m.stop(i);
            set_quorum_tls(&m, i, ssl_quorum, unification);
            m.start(i);
            m.wait_port(i, Duration::from_secs(90));
            let leader = m.wait_stable(Duration::from_secs(90));
            println!(
                "step {step}: member {} ({}) now sslQuorum={ssl_quorum} portUnification={unification}; leader member {}",
                i + 1,
                m.kind(i),
                leader + 1
            );
            m.write_and_read_everywhere(i, &format!("/qtls/step{step}-member{}", i + 1));
        }
    }
    let out = load.stop_writes();
    compat_tests::load::check(&m, &out, &prefix, 4);
    load.close();
    // TLS only now: a plaintext stranger on a ferrozk member's election port is refused.
    let election = election_port(&m, 1);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", election)).unwrap();
    use std::io::{Read, Write};
    s.write_all(&[0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0])
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut b = [0u8; 64];
    let closed =
        matches!(s.read(&mut b), Ok(0) | Err(_)) || matches!(s.read(&mut b), Ok(0) | Err(_));
    assert!(closed, "a plaintext election connection stays open");
    // Leadership moves to the Java member and back over TLS.
    let leader = m.wait_stable(Duration::from_secs(30));
    m.stop(leader);
    m.start(leader);
    m.wait_port(leader, Duration::from_secs(90));
    let now = m.wait_stable(Duration::from_secs(90));
    println!(
        "after restarting member {}: leader member {}",
        leader + 1,
        now + 1
    );
    m.write_and_read_everywhere(leader, "/qtls/after-leader-restart");
    for i in m.all().into_iter().filter(|i| !m.members[*i].java) {
        assert!(
            m.log(i)
                .contains("quorum TLS: sslQuorum=true, portUnification=false"),
            "member {}: {}",
            i + 1,
            m.log(i)
        );
    }
}

#[test]
fn quorum_certificates_reload_with_ssl_quorum_reload_cert_files() {
    use compat_tests::ensemble::Ensemble;
    certs();
    let dir = std::env::temp_dir().join(format!("ferrozk-qtls-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("quorum.pem");
    std::fs::copy(cert("server.pem"), &store).unwrap();
    let mut m = Ensemble::new(
        "qtlsreload",
        3,
        &[],
        &format!(
            "tickTime=500\nsslQuorum=true\nsslQuorumReloadCertFiles=true\n\
             ssl.quorum.keyStore.location={}\nssl.quorum.trustStore.location={}\n\
             ssl.quorum.trustStore.password=secret\n",
            store.display(),
            cert("trust.p12")
        ),
    );
    m.start_all();
    for i in m.all() {
        m.wait_port(i, Duration::from_secs(60));
    }
    m.wait_stable(Duration::from_secs(60));
    m.write_and_read_everywhere(0, "/qreload/before");
    let election = election_port(&m, 1);
    // The certificate member 1's election port presents, to a client the CA signed.
    let peer_cn = || {
        compat_tests::python(&[
            "-c",
            "import socket, ssl, sys\nctx = ssl.create_default_context(cafile=sys.argv[2])\nctx.check_hostname = False\nctx.load_cert_chain(sys.argv[3], sys.argv[4])\ns = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5))\nprint(dict(x[0] for x in s.getpeercert()['subject'])['commonName'])\ns.close()\n",
            &election.to_string(),
            &cert("ca.pem"),
            &cert("client.crt"),
            &cert("client.key"),
        ])
        .trim()
        .to_string()
    };
    assert_eq!(peer_cn(), "localhost");
    std::fs::copy(cert("server2.pem"), dir.join("next.pem")).unwrap();
    std::fs::rename(dir.join("next.pem"), &store).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while peer_cn() != "reloaded" {
        assert!(
            std::time::Instant::now() < deadline,
            "the new quorum certificate was not picked up: {}",
            m.log(0)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // New member connections use it: a restarted member rejoins and serves.
    m.stop(1);
    m.start(1);
    m.wait_port(1, Duration::from_secs(60));
    m.wait_stable(Duration::from_secs(60));
    m.write_and_read_everywhere(1, "/qreload/after");
    assert!(m.log(0).contains("new member connections use it"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits (20 s at most) until something listens on `port`.
#[test]
fn admin_server_over_https_forced_and_unified() {
    let admin_cfg = |mode: &str, port: u16| {
        format!(
            "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={port}\n{mode}=true\n\
             ssl.quorum.keyStore.location={}\nssl.quorum.keyStore.password=secret\n",
            cert("server.p12")
        )
    };
    // GET /commands/ruok over https (checked against the test CA) or plain http: the status,
    // or the error's class.
    let get = |scheme: &str, port: u16| {
        compat_tests::python(&[
            "-c",
            "import ssl, sys, urllib.request\nctx = ssl.create_default_context(cafile=sys.argv[3])\ntry:\n    r = urllib.request.urlopen('%s://127.0.0.1:%s/commands/ruok' % (sys.argv[1], sys.argv[2]), context=ctx, timeout=10)\n    print(r.status, r.read().decode())\nexcept Exception as e:\n    print('ERROR', type(e).__name__)\n",
            scheme,
            &port.to_string(),
            &cert("ca.pem"),
        ])
    };
    let unified = free_port();
    let srv = Server::ferrozk_with(&admin_cfg("admin.portUnification", unified));
    wait_for_tcp(unified);
    let https = get("https", unified);
    assert!(
        https.starts_with("200") && https.contains("\"command\""),
        "{https}"
    );
    let http = get("http", unified);
    assert!(
        http.starts_with("200"),
        "plain HTTP on the unified port: {http}"
    );
    drop(srv);
    let forced = free_port();
    let srv = Server::ferrozk_with(&admin_cfg("admin.forceHttps", forced));
    wait_for_tcp(forced);
    let https = get("https", forced);
    assert!(https.starts_with("200"), "{https}");
    let http = get("http", forced);
    assert!(
        http.starts_with("ERROR"),
        "plain HTTP must fail with forceHttps: {http}"
    );
    assert!(
        srv.log().contains("AdminServer HTTPS: forceHttps"),
        "{}",
        srv.log()
    );
}

#[test]
fn a_tls_only_server_starts_serves_and_reports_status() {
    certs();
    let secure = free_port();
    let dir = std::env::temp_dir().join(format!("ferrozk-tls-only-{secure}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("zoo.cfg");
    // No clientPort: ZooKeeper accepts that with a secureClientPort.
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nadmin.enableServer=false\n{}",
            dir.join("data").display(),
            tls_cfg(secure, &cert("server.p12"))
        ),
    )
    .unwrap();
    let ctl = |cmd: &str| {
        let out = std::process::Command::new(compat_tests::ferrozk_bin())
            .arg(cmd)
            .arg(&cfg)
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    /// Stops the server `ferrozk start` left running, even when a check fails.
    struct Stop(PathBuf);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = std::process::Command::new(compat_tests::ferrozk_bin())
                .arg("stop")
                .arg(&self.0)
                .output();
        }
    }
    let (ok, out) = ctl("start");
    let _stop = Stop(cfg.clone());
    assert!(ok, "start: {out}");
    let (ok, status) = ctl("status");
    let (stopped, stop_out) = {
        // Clients and four-letter words over TLS while it runs.
        let conf = compat_tests::python(&[
            "-c",
            "import socket, ssl, sys\nctx = ssl.create_default_context(cafile=sys.argv[2])\nctx.check_hostname = False\nctx.load_cert_chain(sys.argv[3], sys.argv[4])\ns = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5))\ns.sendall(b'conf')\nout = b''\nwhile True:\n    try:\n        b = s.recv(4096)\n    except (ssl.SSLError, OSError):\n        break\n    if not b:\n        break\n    out += b\nprint(out.decode())\n",
            &secure.to_string(),
            &cert("ca.pem"),
            &cert("client.crt"),
            &cert("client.key"),
        ]);
        let kazoo = compat_tests::python(&[
            "-c",
            "import sys\nfrom kazoo.client import KazooClient\nzk = KazooClient(hosts='127.0.0.1:' + sys.argv[1], use_ssl=True, verify_certs=True, ca=sys.argv[2], certfile=sys.argv[3], keyfile=sys.argv[4])\nzk.start(timeout=20)\nzk.create('/tls-only', b'v')\nprint(zk.get('/tls-only')[0].decode())\nzk.stop()\n",
            &secure.to_string(),
            &cert("ca.pem"),
            &cert("client.crt"),
            &cert("client.key"),
        ]);
        let r = ctl("stop");
        assert!(conf.contains("clientPort=-1"), "{conf}");
        assert!(
            conf.contains(&format!("secureClientPort={secure}")),
            "{conf}"
        );
        assert_eq!(kazoo.trim(), "v");
        r
    };
    assert!(ok, "status: {status}");
    assert!(status.contains("Mode: standalone"), "{status}");
    assert!(status.contains("Client SSL: true"), "{status}");
    assert!(stopped, "stop: {stop_out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The AdminServer's `Authorization: x509` (snapshot): what admin_x509.py sees.
fn admin_x509_sequence(start: impl FnOnce(&str) -> Box<dyn std::any::Any>) -> String {
    let secure = free_port();
    let admin = free_port();
    let cfg = format!(
        "{}authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n\
         admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin}\n\
         admin.portUnification=true\nadmin.needClientAuth=true\nadmin.rateLimiterIntervalInMS=0\n\
         admin.snapshot.enabled=true\n\
         ssl.quorum.keyStore.location={}\nssl.quorum.keyStore.password=secret\n\
         ssl.quorum.trustStore.location={}\nssl.quorum.trustStore.password=secret\n",
        tls_cfg(secure, &cert("server.p12")),
        cert("server.p12"),
        cert("trust.p12")
    );
    let _server = start(&cfg);
    wait_for_tcp(secure);
    wait_for_tcp(admin);
    run_suite(
        "/usr/bin/python3",
        &[
            "compat-tests/tls/admin_x509.py",
            &certs().display().to_string(),
            &secure.to_string(),
            &admin.to_string(),
        ],
        Duration::from_secs(180),
    )
}

#[test]
fn admin_authorization_x509_is_decided_as_zookeeper_3_9_decides_it() {
    certs();
    let version = zookeeper_version("ZK39_VERSION");
    let want = admin_x509_sequence(|cfg| {
        Box::new(Server::reference_with_env(
            "compat-tests/differential/start_zk.sh",
            "pid",
            cfg,
            &[("ZK_VERSION", version.as_str())],
        ))
    });
    let got = admin_x509_sequence(|cfg| Box::new(Server::ferrozk_with(cfg)));
    assert_eq!(got, want, "ferrozk differs from ZooKeeper {version}");
    for line in [
        "named in the root ACL 200",
        "the x509 super user 200",
        "trusted, not in the ACL 403",
    ] {
        assert!(got.contains(line), "{line:?} missing:\n{got}");
    }
}

#[test]
fn prometheus_over_https_as_zookeeper_3_10_configures_it() {
    certs();
    // GET /metrics: the status and whether ZooKeeper's znode_count is there, or the error's
    // class; with a client certificate or none.
    let get = |scheme: &str, port: u16, client: bool| {
        compat_tests::python(&[
            "-c",
            "import ssl, sys, urllib.request\nctx = ssl.create_default_context(cafile=sys.argv[3])\nif sys.argv[4] == 'yes':\n    ctx.load_cert_chain(sys.argv[5], sys.argv[6])\ntry:\n    r = urllib.request.urlopen('%s://127.0.0.1:%s/metrics' % (sys.argv[1], sys.argv[2]), context=ctx if sys.argv[1] == 'https' else None, timeout=10)\n    print(r.status, 'znode_count' in r.read().decode())\nexcept Exception as e:\n    print('ERROR', type(e).__name__)\n",
            scheme,
            &port.to_string(),
            &cert("ca.pem"),
            if client { "yes" } else { "no" },
            &cert("client.crt"),
            &cert("client.key"),
        ])
        .trim()
        .to_string()
    };
    let cfg = |lines: &str| {
        format!(
            "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
             metricsProvider.httpHost=127.0.0.1\n{lines}\
             metricsProvider.ssl.keyStore.location={}\nmetricsProvider.ssl.keyStore.password=secret\n\
             metricsProvider.ssl.trustStore.location={}\nmetricsProvider.ssl.trustStore.password=secret\n",
            cert("server.p12"),
            cert("trust.p12")
        )
    };
    // HTTPS only, client certificates needed (the default).
    let https = free_port();
    let srv = Server::ferrozk_with(&cfg(&format!("metricsProvider.httpsPort={https}\n")));
    wait_for_tcp(https);
    assert_eq!(get("https", https, true), "200 True");
    assert!(get("https", https, false).starts_with("ERROR"));
    assert!(get("http", https, false).starts_with("ERROR"));
    assert!(
        srv.log().contains("Prometheus metrics on https://"),
        "{}",
        srv.log()
    );
    drop(srv);
    // One port for both, certificates not needed.
    let both = free_port();
    let srv = Server::ferrozk_with(&cfg(&format!(
        "metricsProvider.httpPort={both}\nmetricsProvider.httpsPort={both}\n\
         metricsProvider.ssl.need.client.auth=false\n"
    )));
    wait_for_tcp(both);
    assert_eq!(get("https", both, false), "200 True");
    assert_eq!(get("https", both, true), "200 True");
    assert_eq!(get("http", both, false), "200 True");
    drop(srv);
}
