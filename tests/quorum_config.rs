//! zoo.cfg with `server.N` lines: one participant with standaloneEnabled serves standalone (as
//! ZooKeeper does); a member of an ensemble needs a myid that names one of the server lines.
//! (Ensembles themselves are tested in tests/ensemble.rs.)

mod common;
use common::*;
use std::process::Command;

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ferrozk-qcfg-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("data")).unwrap();
    d
}

#[test]
fn an_ensemble_member_without_myid_is_refused_with_a_reason() {
    let d = dir("ensemble");
    let cfg = d.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\nserver.1=127.0.0.1:{}:{}\nserver.2=127.0.0.1:{}:{}\nserver.3=127.0.0.1:{}:{}\n",
            d.join("data").display(),
            free_port(),
            free_port(), free_port(), free_port(), free_port(), free_port(), free_port()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrozk"))
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("myid") && err.contains("missing"), "{err}");
    std::fs::write(d.join("data").join("myid"), "7").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrozk"))
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no server line has this id"), "{err}");
}

#[test]
fn one_participant_serves_standalone_with_the_client_port_of_its_line() {
    let port = free_port();
    let d = dir("single");
    std::fs::write(d.join("data").join("myid"), "1").unwrap();
    std::fs::write(
        d.join("zoo.cfg"),
        format!(
            "tickTime=200\ndataDir={}\nadmin.enableServer=false\nserver.1=127.0.0.1:{}:{};127.0.0.1:{port}\n",
            d.join("data").display(),
            free_port(),
            free_port()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrozk"))
        .arg(d.join("zoo.cfg"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "did not serve on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut c = Raw::connect(port, false);
    assert!(c.exists("/zookeeper").is_some());
    let _ = child.kill();
    let _ = child.wait();
}
