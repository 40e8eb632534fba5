//! The load generator's own correctness, against a running ferrozk: counts of sent, answered
//! and failed requests agree; a known delay (a loopback proxy holding every reply for a set
//! time) is reported within tolerance; the JSON line parses.

use compat_tests::{free_port, Server};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrozk-bench"))
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ferrozk-bench {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

#[test]
fn counts_of_sent_answered_and_failed_agree() {
    let s = Server::ferrozk();
    let server = s.connect_string();
    // Deletes of nodes never created fail with NONODE, every one of them.
    let r = bench(&[
        "--server",
        &server,
        "mix",
        "--sessions",
        "4",
        "--inflight",
        "8",
        "--mix",
        "get=3,delete=1,set=1",
        "--keys",
        "50",
        "--count",
        "6000",
        "--warmup",
        "0",
    ]);
    assert_eq!(r["sent"], 6000, "{r}");
    assert_eq!(r["answered"], 6000, "{r}");
    assert_eq!(r["ops"], 6000, "{r}");
    let lat = &r["latency_ms"];
    let n = |op: &str| lat[op]["count"].as_u64().unwrap_or(0);
    assert_eq!(n("get") + n("delete") + n("set"), 6000, "{r}");
    assert!(n("delete") > 0);
    assert_eq!(r["failed"].as_u64().unwrap(), n("delete"), "{r}");
    assert_eq!(r["errors"]["-101"].as_u64().unwrap(), n("delete"), "{r}");
    // Throughput is operations over wall-clock time.
    let secs = r["seconds"].as_f64().unwrap();
    let rate = r["ops_per_sec"].as_f64().unwrap();
    // (`seconds` is printed to the millisecond.)
    assert!((rate * secs - 6000.0).abs() <= 6000.0 * 0.005 + 1.0, "{r}");
}

/// Forwards one connection to `upstream`, holding every chunk from the server for `delay`.
fn delaying_proxy(upstream: String, delay: Duration) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in l.incoming() {
            let Ok(client) = client else { return };
            let server = TcpStream::connect(&upstream).unwrap();
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (mut c_rd, mut s_wr) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = c_rd.read(&mut buf) {
                    if n == 0 || s_wr.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            let (mut s_rd, mut c_wr) = (server, client);
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = s_rd.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let at = Instant::now();
                    std::thread::sleep(delay.saturating_sub(at.elapsed()));
                    if c_wr.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_known_delay_is_reported_within_tolerance() {
    let s = Server::ferrozk();
    let port = delaying_proxy(s.connect_string(), Duration::from_millis(25));
    let _ = free_port();
    let r = bench(&[
        "--server",
        &format!("127.0.0.1:{port}"),
        "mix",
        "--sessions",
        "1",
        "--inflight",
        "1",
        "--mix",
        "get=1",
        "--keys",
        "5",
        "--count",
        "40",
        "--warmup",
        "0",
    ]);
    let get = &r["latency_ms"]["get"];
    let p50 = get["p50"].as_f64().unwrap();
    let p99 = get["p99"].as_f64().unwrap();
    assert!(
        (25.0..32.0).contains(&p50),
        "p50 {p50} ms for a 25 ms delay: {r}"
    );
    assert!(p99 < 45.0, "p99 {p99} ms for a 25 ms delay: {r}");
    assert_eq!(r["answered"], 40);
}

#[test]
fn every_mode_prints_json() {
    let s = Server::ferrozk();
    let server = s.connect_string();
    let storm = bench(&["--server", &server, "storm", "--sessions", "200"]);
    assert_eq!(storm["connected"], 200, "{storm}");
    assert_eq!(storm["failed"], 0);
    let fan = bench(&[
        "--server",
        &server,
        "fanout",
        "--watchers",
        "20",
        "--rounds",
        "2",
    ]);
    assert_eq!(fan["answered"], 40, "{fan}");
    assert_eq!(fan["last_event_ms"].as_array().unwrap().len(), 2);
    let ch = bench(&[
        "--server",
        &server,
        "children",
        "--children",
        "300",
        "--sessions",
        "1",
        "--duration",
        "0.5",
    ]);
    assert!(ch["ops"].as_u64().unwrap() > 0, "{ch}");
    let pop = bench(&["--server", &server, "populate", "--count", "2000"]);
    assert_eq!(pop["ops"], 2000, "{pop}");
    assert_eq!(pop["failed"], 0);
    let w = bench(&[
        "--server",
        &server,
        "write",
        "--seconds",
        "1",
        "--inflight",
        "2",
    ]);
    assert!(w["ops"].as_u64().unwrap() > 0, "{w}");
}
