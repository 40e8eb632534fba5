//! Certificate revocation on the TLS client port (`ssl.crl`, `ssl.ocsp`), decided as Apache
//! ZooKeeper 3.9 decides it on the same certificates: a root, an intermediate, clients with
//! and without CRL distribution points and OCSP responders (compat-tests/tls/
//! make-revocation-certs.sh), the CRLs and a delegated OCSP responder served by
//! compat-tests/tls/revocation_server.py on loopback.

use compat_tests::{free_port, run_suite, wait_for_tcp, workspace, zookeeper_version, Server};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CLIENTS: &[&str] = &["good", "revoked", "ocsp-revoked", "ocsp-only", "bare"];

/// A process of the test's own, stopped by PID when dropped.
struct Owned(Child);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cfg(dir: &str, secure: u16, mode: &str) -> String {
    format!(
        "secureClientPort={secure}\nsecureClientPortAddress=127.0.0.1\n\
         serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
         ssl.keyStore.location={dir}/server.p12\nssl.keyStore.password=secret\n\
         ssl.trustStore.location={dir}/trust.p12\nssl.trustStore.password=secret\n\
         {mode}=true\n"
    )
}

/// What revocation_probe.py prints for every client against the server on `secure`.
fn probe(dir: &str, secure: u16) -> String {
    let script = workspace().join("compat-tests/tls/revocation_probe.py");
    let mut args = vec![script.display().to_string(), secure.to_string(), dir.into()];
    args.extend(CLIENTS.iter().map(|c| c.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_suite("/usr/bin/python3", &args, Duration::from_secs(300))
        .lines()
        .filter(|l| l.ends_with(" accepted") || l.ends_with(" refused"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The certificates (in a fresh directory) and their CRL and OCSP server on a free port,
/// logging its requests to `revocation-server.log` there.
fn pki(name: &str) -> (PathBuf, Owned) {
    let port = free_port();
    let dir: PathBuf = std::env::temp_dir().join(format!("ferrozk-{name}-{port}"));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.display().to_string();
    run_suite(
        "bash",
        &[
            "compat-tests/tls/make-revocation-certs.sh",
            &d,
            &port.to_string(),
        ],
        Duration::from_secs(120),
    );
    let log = std::fs::File::create(dir.join("revocation-server.log")).unwrap();
    let server = Owned(
        Command::new("/usr/bin/python3")
            .arg(workspace().join("compat-tests/tls/revocation_server.py"))
            .arg(port.to_string())
            .arg(&d)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("revocation_server.py"),
    );
    (dir, server)
}

#[test]
fn crl_and_ocsp_decisions_are_those_of_zookeeper_3_9() {
    let (dir, _server) = pki("revocation");
    let d = dir.display().to_string();
    let version = zookeeper_version("ZK39_VERSION");
    for (mode, expected) in [
        (
            "ssl.crl",
            "good accepted\nrevoked refused\nocsp-revoked accepted\nocsp-only refused\nbare refused",
        ),
        (
            "ssl.ocsp",
            "good accepted\nrevoked refused\nocsp-revoked refused\nocsp-only accepted\nbare refused",
        ),
    ] {
        let secure = free_port();
        let java = Server::reference_with_env(
            "compat-tests/differential/start_zk.sh",
            "pid",
            &cfg(&d, secure, mode),
            &[("ZK_VERSION", version.as_str())],
        );
        wait_for_tcp(secure);
        let want = probe(&d, secure);
        drop(java);
        let secure = free_port();
        let mut ferrozk = Server::ferrozk_with(&cfg(&d, secure, mode));
        wait_for_tcp(secure);
        let got = probe(&d, secure);
        assert_eq!(got, want, "{mode}: ferrozk differs from ZooKeeper {version}");
        // The certificates test what they are meant to.
        assert_eq!(got, expected, "{mode}");
        let log = ferrozk.log();
        for line in ["certificate revoked", "could not determine revocation status"] {
            assert!(log.contains(line), "{mode}: {line:?} not logged:\n{log}");
        }
        assert!(ferrozk.is_alive(), "{}", ferrozk.log());
    }
    let served = std::fs::read_to_string(dir.join("revocation-server.log")).unwrap_or_default();
    assert!(
        served.contains("GET /inter.crl"),
        "no CRL fetched:\n{served}"
    );
    assert!(served.contains("/ocsp"), "no OCSP request:\n{served}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_member_with_a_revoked_certificate_is_kept_out_of_the_quorum() {
    use compat_tests::ensemble::Ensemble;
    let (dir, _server) = pki("qrevocation");
    let d = dir.display().to_string();
    // PEM key stores: the member's certificate, the intermediate, the key.
    for c in ["good", "revoked"] {
        let mut pem = std::fs::read(dir.join(format!("{c}.chain.pem"))).unwrap();
        pem.extend(std::fs::read(dir.join(format!("{c}.key"))).unwrap());
        std::fs::write(dir.join(format!("{c}.store.pem")), pem).unwrap();
    }
    let mut m = Ensemble::new(
        "qrevoke",
        3,
        &[],
        &format!(
            "tickTime=500\nsslQuorum=true\nssl.quorum.crl=true\n\
             ssl.quorum.keyStore.location={d}/good.store.pem\n\
             ssl.quorum.trustStore.location={d}/trust.p12\nssl.quorum.trustStore.password=secret\n"
        ),
    );
    m.set_keys(
        2,
        &[(
            "ssl.quorum.keyStore.location",
            &format!("{d}/revoked.store.pem"),
        )],
    );
    m.start(0);
    m.start(1);
    m.wait_port(0, Duration::from_secs(60));
    m.wait_port(1, Duration::from_secs(60));
    m.wait_stable(Duration::from_secs(60));
    m.start(2);
    m.wait_port(2, Duration::from_secs(60));
    // The revoked member's connections are refused both ways, and it never serves.
    m.assert_stays_out(2, Duration::from_secs(15));
    // The higher id dials, so members 1 and 2 are those that see its certificate.
    m.assert_logged(&[0, 1], "certificate revoked (CRL)");
    // With a good certificate it joins.
    m.restart_with(
        2,
        &[(
            "ssl.quorum.keyStore.location",
            &format!("{d}/good.store.pem"),
        )],
    );
    m.wait_stable(Duration::from_secs(60));
    let _ = std::fs::remove_dir_all(&dir);
}
