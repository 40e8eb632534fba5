//! Operating ferrozk as ZooKeeper is operated: four-letter words, the AdminServer, Prometheus
//! metrics (checked with promtool), zkServer.sh-style control, zktop, logs and SIGTERM.
//! Every test runs a real ferrozk process and talks to it over TCP.

mod common;

use common::{free_port, Raw, Server};
use jute::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

/// Sends a four-letter word (plus `extra` bytes) and reads the answer to EOF.
fn word(port: u16, w: &str, extra: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(w.as_bytes()).unwrap();
    s.write_all(extra).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn mntr(port: u16) -> HashMap<String, String> {
    word(port, "mntr", &[])
        .lines()
        .map(|l| {
            let (k, v) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("bad mntr line {l:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn srvr_field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        .trim()
        .to_string()
}

/// A minimal HTTP/1.1 GET or POST; returns (status, headers, body).
fn http(port: u16, method: &str, path: &str, headers: &[&str]) -> (u16, String, Vec<u8>) {
    http_with_body(port, method, path, headers, &[])
}

fn http_with_body(
    port: u16,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

fn admin_json(port: u16, cmd: &str) -> serde_json::Value {
    let (status, _, body) = http(port, "GET", &format!("/commands/{cmd}"), &[]);
    assert_eq!(status, 200, "{cmd}");
    serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{cmd}: not JSON ({e}): {}", String::from_utf8_lossy(&body)))
}

fn create(c: &mut Raw, path: &str, flags: i32) {
    let (err, _) = c.create(path, b"data", flags);
    assert_eq!(err, 0, "create {path}");
}

#[test]
fn four_letter_words_answer_as_zookeeper_does() {
    let s = Server::start("4lw.commands.whitelist=*");
    assert_eq!(word(s.port, "ruok", &[]), "imok");
    assert_eq!(word(s.port, "isro", &[]), "rw");
    let before = word(s.port, "srvr", &[]);
    assert!(before.starts_with("Zookeeper version: 3.9."), "{before}");
    assert_eq!(srvr_field(&before, "Mode:"), "standalone");
    // A fresh tree: /, /zookeeper, /zookeeper/quota, /zookeeper/config, counted as
    // ZooKeeper counts them (its root is filed twice).
    assert_eq!(srvr_field(&before, "Node count:"), "5");

    let mut c = Raw::connect(s.port, false);
    let local = c.s.local_addr().unwrap();
    create(&mut c, "/a", 0);
    create(&mut c, "/a/b", 0);
    create(&mut c, "/a/e", CreateMode::Ephemeral as i32);
    // A data watch on /a.
    let (h, _) = c.call(
        OpCode::GetData,
        &GetDataRequest {
            path: "/a".into(),
            watch: true,
        },
    );
    assert_eq!(h.err, 0);

    let after = word(s.port, "srvr", &[]);
    assert_eq!(srvr_field(&after, "Node count:"), "8");
    assert_eq!(srvr_field(&after, "Connections:"), "1");
    assert!(srvr_field(&after, "Zxid:").starts_with("0x"));
    for line in ["Latency min/avg/max:", "Received:", "Sent:", "Outstanding:"] {
        srvr_field(&after, line);
    }

    let stat = word(s.port, "stat", &[]);
    assert!(stat.contains("Clients:\n"), "{stat}");
    assert!(stat.contains(&format!(" /{local}[1](queued=0,")), "{stat}");

    let cons = word(s.port, "cons", &[]);
    let mine = cons
        .lines()
        .find(|l| l.contains(&format!("/{local}[")))
        .unwrap_or_else(|| panic!("own connection missing from cons: {cons}"));
    let sid = format!("sid=0x{:x}", c.session_id);
    assert!(mine.contains(&sid), "{mine}");
    assert!(mine.contains(",lop=GETD,"), "{mine}");
    assert!(
        mine.contains(",to=") && mine.contains(",lzxid=0x"),
        "{mine}"
    );

    let m = mntr(s.port);
    // The keys monitoring agents read from ZooKeeper 3.8/3.9's mntr.
    for k in [
        "zk_version",
        "zk_server_state",
        "zk_ephemerals_count",
        "zk_num_alive_connections",
        "zk_avg_latency",
        "zk_outstanding_requests",
        "zk_znode_count",
        "zk_global_sessions",
        "zk_last_client_response_size",
        "zk_packets_sent",
        "zk_packets_received",
        "zk_max_client_response_size",
        "zk_watch_count",
        "zk_auth_failed_count",
        "zk_min_latency",
        "zk_max_file_descriptor_count",
        "zk_approximate_data_size",
        "zk_open_file_descriptor_count",
        "zk_local_sessions",
        "zk_uptime",
        "zk_max_latency",
        "zk_min_client_response_size",
        "zk_avg_readlatency",
        "zk_cnt_readlatency",
        "zk_p99_readlatency",
        "zk_cnt_updatelatency",
        "zk_cnt_fsynctime",
        "zk_sum_snapshottime",
        "zk_digest_mismatches_count",
    ] {
        assert!(m.contains_key(k), "mntr lacks {k}: {m:?}");
    }
    assert_eq!(m["zk_server_state"], "standalone");
    assert_eq!(m["zk_znode_count"], "8");
    assert_eq!(m["zk_ephemerals_count"], "1");
    assert_eq!(m["zk_watch_count"], "1");
    assert_eq!(m["zk_global_sessions"], "1");
    assert_eq!(m["zk_num_alive_connections"], "1");
    assert_eq!(m["zk_digest_mismatches_count"], "0");
    // Three creates were fsynced and answered.
    assert!(m["zk_cnt_updatelatency"].parse::<u64>().unwrap() >= 3);
    assert!(m["zk_cnt_fsynctime"].parse::<u64>().unwrap() >= 1);
    // ZooKeeper's size: paths and data, its root counted once more as "/".
    assert_eq!(
        m["zk_approximate_data_size"],
        (44 + "/a".len() + "/a/b".len() + "/a/e".len() + 3 * 4).to_string()
    );

    let wchs = word(s.port, "wchs", &[]);
    assert_eq!(wchs, "1 connections watching 1 paths\nTotal watches:1\n");
    let session = format!("0x{:x}", c.session_id);
    assert_eq!(word(s.port, "wchc", &[]), format!("{session}\n\t/a\n\n"));
    assert_eq!(word(s.port, "wchp", &[]), format!("/a\n\t{session}\n\n"));

    let dump = word(s.port, "dump", &[]);
    assert!(dump.starts_with("SessionTracker dump:\n"), "{dump}");
    assert!(
        dump.contains(&format!(
            "ephemeral nodes dump:\nSessions with Ephemerals (1):\n{session}:\n\t/a/e\n"
        )),
        "{dump}"
    );

    let conf = word(s.port, "conf", &[]);
    assert!(conf.contains(&format!("clientPort={}\n", s.port)), "{conf}");
    assert!(conf.contains("tickTime=200\n"), "{conf}");
    let envi = word(s.port, "envi", &[]);
    assert!(
        envi.starts_with("Environment:\nzookeeper.version=3.9."),
        "{envi}"
    );
    let dirs = word(s.port, "dirs", &[]);
    assert!(
        dirs.starts_with("datadir_size: ") && dirs.contains("\nlogdir_size: "),
        "{dirs}"
    );
    assert_eq!(word(s.port, "gtmk", &[]), "306");
    assert_eq!(word(s.port, "stmk", &1234i64.to_be_bytes()), "1234");
    assert_eq!(word(s.port, "gtmk", &[]), "1234");

    // hash: the digest log holds an entry every 128 zxids.
    for i in 0..130 {
        let (h, _) = c.call(
            OpCode::SetData,
            &SetDataRequest {
                path: "/a/b".into(),
                data: Some(bytes::Bytes::from(format!("{i}"))),
                version: -1,
            },
        );
        assert_eq!(h.err, 0);
    }
    let hash = word(s.port, "hash", &[]);
    let line = hash.lines().next().unwrap_or_else(|| panic!("empty hash"));
    let (zxid, digest) = line.split_once(": ").unwrap();
    assert_eq!(i64::from_str_radix(zxid, 16).unwrap() % 128, 0, "{hash}");
    digest.parse::<u64>().unwrap();

    assert_eq!(word(s.port, "crst", &[]), "Connection stats reset.\n");
    assert_eq!(word(s.port, "srst", &[]), "Server stats reset.\n");
    let reset = word(s.port, "srvr", &[]);
    assert!(
        srvr_field(&reset, "Received:").parse::<u64>().unwrap() < 5,
        "{reset}"
    );
}

#[test]
fn four_letter_whitelist_refuses_as_zookeeper_does() {
    // No whitelist: only srvr (zkServer.sh needs it).
    let s = Server::start("");
    assert_eq!(
        word(s.port, "ruok", &[]),
        "ruok is not executed because it is not in the whitelist.\n"
    );
    assert_eq!(
        word(s.port, "mntr", &[]),
        "mntr is not executed because it is not in the whitelist.\n"
    );
    assert!(word(s.port, "srvr", &[]).contains("Mode: standalone"));
    let s2 = Server::start("4lw.commands.whitelist=ruok, stat");
    assert_eq!(word(s2.port, "ruok", &[]), "imok");
    assert!(word(s2.port, "stat", &[]).contains("Clients:"));
    assert!(word(s2.port, "cons", &[]).contains("not in the whitelist"));
    // A client session still works after the refusals.
    let mut c = Raw::connect(s.port, false);
    create(&mut c, "/still-served", 0);
    // Read-only mode enables isro, also when asked for as ZooKeeper reads it: a JVM flag.
    assert!(word(s.port, "isro", &[]).contains("not in the whitelist"));
    let ro = Server::start_with_env("", &[("SERVER_JVMFLAGS", "-Dreadonlymode.enabled=true")]);
    assert_eq!(word(ro.port, "isro", &[]), "rw");
}

#[test]
fn admin_server_commands_answer_json() {
    let s = Server::start(
        "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\nadmin.rateLimiterIntervalInMS=600000",
    );
    let mut c = Raw::connect(s.port, false);
    create(&mut c, "/x", 0);
    create(&mut c, "/x/e", CreateMode::Ephemeral as i32);

    let (status, _, body) = http(s.admin_port, "GET", "/commands", &[]);
    assert_eq!(status, 200);
    let page = String::from_utf8(body).unwrap();
    for cmd in [
        "monitor",
        "connections",
        "server_stats",
        "watch_summary",
        "snapshot",
    ] {
        assert!(page.contains(&format!("/commands/{cmd}\"")), "{page}");
    }
    // Every command and alias of ZooKeeper's Commands.java that a standalone server runs.
    for (names, must) in [
        (&["configuration", "conf", "config"][..], "client_port"),
        (&["connections", "cons"], "connections"),
        (&["connection_stat_reset", "crst"], "command"),
        (&["dirs"], "datadir_size"),
        (&["dump"], "session_id_to_ephemeral_paths"),
        (&["environment", "env", "envi"], "zookeeper.version"),
        (&["get_trace_mask", "gtmk"], "tracemask"),
        (&["hash"], "digests"),
        (&["initial_configuration", "icfg"], "initial_configuration"),
        (&["is_read_only", "isro"], "read_only"),
        (&["last_snapshot", "lsnp"], "zxid"),
        (&["monitor", "mntr"], "znode_count"),
        (&["observer_connection_stat_reset", "orst"], "command"),
        (&["observers", "obsr"], "observers"),
        (&["ruok"], "command"),
        (&["server_stats", "srvr"], "server_stats"),
        (&["stats", "stat"], "connections"),
        (&["stat_reset", "srst"], "command"),
        (&["system_properties", "sysp"], "command"),
        (&["voting_view"], "current_config"),
        (&["watch_summary", "wchs"], "num_total_watches"),
        (&["watches", "wchc"], "session_id_to_watched_paths"),
        (&["watches_by_path", "wchp"], "path_to_session_ids"),
        (&["zabstate"], "zabstate"),
    ] {
        for name in names {
            let j = admin_json(s.admin_port, name);
            assert_eq!(j["command"], names[0], "{name}: {j}");
            assert!(j["error"].is_null(), "{name}: {j}");
            assert!(j.get(must).is_some(), "{name} lacks {must}: {j}");
        }
    }
    let m = admin_json(s.admin_port, "monitor");
    assert_eq!(m["znode_count"], 7);
    assert_eq!(m["ephemerals_count"], 1);
    assert_eq!(m["server_state"], "standalone");
    let cons = admin_json(s.admin_port, "connections");
    let sessions: Vec<i64> = cons["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["session_id"].as_i64().unwrap())
        .collect();
    assert_eq!(sessions, vec![c.session_id]);
    let dump = admin_json(s.admin_port, "dump");
    assert_eq!(
        dump["session_id_to_ephemeral_paths"][c.session_id.to_string()],
        serde_json::json!(["/x/e"])
    );
    let icfg = admin_json(s.admin_port, "icfg");
    assert!(icfg["initial_configuration"]
        .as_str()
        .unwrap()
        .contains(&format!("clientPort={}", s.port)));
    let stmk = admin_json(s.admin_port, "set_trace_mask?traceMask=42");
    assert_eq!(stmk["tracemask"], 42);
    let stmk = admin_json(s.admin_port, "stmk");
    assert_eq!(
        stmk["error"],
        "setTraceMask requires long traceMask argument"
    );
    let leader = admin_json(s.admin_port, "leader");
    assert_eq!(leader["error"], "server is not initialized");
    let unknown = admin_json(s.admin_port, "nosuch");
    assert_eq!(unknown["error"], "Unknown command: nosuch");

    // snapshot: only for a caller holding ALL on /, and rate-limited.
    let (st, _, _) = http(s.admin_port, "GET", "/commands/snapshot", &[]);
    assert_eq!(st, 401);
    let (st, _, _) = http(
        s.admin_port,
        "GET",
        "/commands/snapshot",
        &["Authorization: digest super:wrong"],
    );
    // A wrong password still authenticates as some digest id; / is open to anyone, as in
    // ZooKeeper, so lock / down to see the refusal.
    assert_eq!(st, 200);
    let (st, _, _) = http(
        s.admin_port,
        "GET",
        "/commands/snapshot",
        &["Authorization: digest super:test"],
    );
    assert_eq!(st, 429, "second snapshot within the rate-limit interval");
    let s2 = Server::start(
        "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
    );
    let mut c2 = Raw::connect(s2.port, false);
    let (h, _) = c2.call(
        OpCode::SetAcl,
        &SetAclRequest {
            path: "/".into(),
            acl: vec![Acl {
                perms: Perms::ALL,
                id: Id::new("digest", "nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            }],
            version: -1,
        },
    );
    assert_eq!(h.err, 0);
    let (st, _, _) = http(
        s2.admin_port,
        "GET",
        "/commands/snapshot",
        &["Authorization: digest someone:else"],
    );
    assert_eq!(st, 403);
    let (st, head, body) = http(
        s2.admin_port,
        "GET",
        "/commands/snapshot",
        &["Authorization: digest super:test"],
    );
    assert_eq!(st, 200, "{head}");
    assert!(head.to_lowercase().contains("last_zxid: 0x"), "{head}");
    let size = head
        .lines()
        .find_map(|l| {
            l.to_lowercase()
                .strip_prefix("snapshot_size: ")
                .map(str::to_string)
        })
        .unwrap();
    assert_eq!(size.trim().parse::<usize>().unwrap(), body.len());
    // The snapshot streamed is one ferrozk (and ZooKeeper) can read.
    let f = s2.dir.join("streamed.snap");
    std::fs::write(&f, &body).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrozk"))
        .arg("snapshot-dump")
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("/zookeeper"));
}

#[test]
fn prometheus_metrics_pass_promtool_and_carry_zookeeper_names() {
    let mport = free_port();
    let s = Server::start(&format!(
        "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\nmetricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort={mport}"
    ));
    let mut c = Raw::connect(s.port, false);
    for i in 0..20 {
        create(&mut c, &format!("/m{i}"), 0);
        c.exists(&format!("/m{i}"));
    }
    let (status, head, body) = http(mport, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    assert!(
        head.to_lowercase().contains("content-type: text/plain"),
        "{head}"
    );
    let text = String::from_utf8(body).unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
            .trim()
            .parse()
            .unwrap()
    };
    // Every name ZooKeeper's documented alert rules use (zookeeperMonitor.md), and the
    // gauges its dashboards plot.
    assert_eq!(value("znode_count"), 25.0);
    assert_eq!(value("num_alive_connections"), 1.0);
    assert!(value("approximate_data_size") > 0.0);
    value("watch_count");
    assert_eq!(value("election_time_count"), 0.0);
    assert!(value("open_file_descriptor_count") > 0.0);
    assert!(value("fsynctime_sum") >= 0.0);
    assert!(value("fsynctime_count") >= 1.0);
    value("snapshottime_sum");
    value("avg_latency");
    assert!(value("jvm_memory_bytes_used{area=\"heap\"}") > 0.0);
    assert!(value("jvm_memory_bytes_max{area=\"heap\"}") > 0.0);
    assert_eq!(value("updatelatency_count"), 20.0);
    assert!(value("readlatency_count") >= 20.0);
    value("readlatency{quantile=\"0.5\"}");
    value("readlatency{quantile=\"0.99\"}");
    assert!(value("packets_received") >= 40.0);
    assert!(value("process_resident_memory_bytes") > 0.0);
    assert!(text.contains("# TYPE readlatency summary"), "{text}");
    assert!(text.contains("# TYPE znode_count gauge"), "{text}");
    assert!(
        text.contains("# TYPE digest_mismatches_count counter"),
        "{text}"
    );

    // promtool: no parse error; its lints may only object to names ZooKeeper itself uses
    // (counters without _total, gauges and counters ending in _count).
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) must be installed");
    p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    let code = out.status.code();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        matches!(code, Some(0) | Some(3)),
        "promtool failed: {report}"
    );
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.ends_with("counter metrics should have \"_total\" suffix")
                || line.ends_with(
                    "non-histogram and non-summary metrics should not have \"_count\" suffix"
                ),
            "promtool: {line}"
        );
    }
}

fn ferrozk(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrozk"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn start_status_stop_as_zkserver_sh() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("ferrozk-ctl-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let (code, out) = ferrozk(&["status", cfg]);
    assert_eq!(code, 1, "status of a stopped server: {out}");
    assert!(out.contains("It is probably not running"), "{out}");
    let (code, out) = ferrozk(&["start", cfg]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("STARTED"), "{out}");
    let pid_file = dir.join("data").join("zookeeper_server.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = |pid: i32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive(pid));
    let stop_on_failure = scopeguard(pid);
    let (code, out) = ferrozk(&["status", cfg]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Mode: standalone"), "{out}");
    let mut c = Raw::connect(port, false);
    create(&mut c, "/survives-restart", 0);
    drop(c);
    let (code, out) = ferrozk(&["restart", cfg]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("STOPPED") && out.contains("STARTED"), "{out}");
    let new_pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(pid) && alive(new_pid));
    drop(stop_on_failure);
    let stop_on_failure = scopeguard(new_pid);
    let mut c = Raw::connect(port, false);
    assert!(c.exists("/survives-restart").is_some());
    drop(c);
    let (code, out) = ferrozk(&["stop", cfg]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("STOPPED"), "{out}");
    assert!(!alive(new_pid));
    assert!(!pid_file.exists());
    let (code, _) = ferrozk(&["status", cfg]);
    assert_eq!(code, 1);
    drop(stop_on_failure);
    let (code, out) = ferrozk(&["version"]);
    assert_eq!(code, 0);
    assert!(out.contains("ZooKeeper 3.9."), "{out}");
    let log = std::fs::read_to_string(dir.join("data").join("ferrozk-server.out")).unwrap();
    assert!(log.contains("SIGTERM received"), "{log}");
}

/// Kills `pid` when dropped (a failed assertion must not leave a daemon behind).
struct Guard(i32);
fn scopeguard(pid: i32) -> Guard {
    Guard(pid)
}
impl Drop for Guard {
    fn drop(&mut self) {
        if std::path::Path::new(&format!("/proc/{}", self.0)).exists() {
            let _ = Command::new("kill")
                .args(["-9", &self.0.to_string()])
                .status();
        }
    }
}

#[test]
fn sigterm_under_write_load_loses_no_acknowledged_write() {
    let mut s = Server::start("");
    let mut c = Raw::connect(s.port, false);
    create(&mut c, "/load", 0);
    let mut reader = Raw::from_stream(c.s.try_clone().unwrap());
    // Pipelined creates, 64 in flight, until the server goes away.
    let writer = std::thread::spawn(move || {
        let mut sent = 0u32;
        loop {
            for _ in 0..64 {
                let req = CreateRequest {
                    path: format!("/load/n{sent:06}"),
                    data: Some(bytes::Bytes::from_static(b"v")),
                    acl: Acl::open_unsafe(),
                    flags: 0,
                };
                sent += 1;
                let h = RequestHeader {
                    xid: sent as i32,
                    op: OpCode::Create.code(),
                };
                let frame = common::frame_of(&[&|b| h.encode(b), &|b| req.encode(b)]);
                if c.s.write_all(&frame).is_err() {
                    return sent;
                }
            }
            if sent > 1_000_000 {
                return sent;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let acked = std::thread::spawn(move || {
        let mut acked = Vec::new();
        while let Some(frame) = common::read_frame(&mut reader.s) {
            let mut r = Reader::new(frame);
            let Ok(h) = ReplyHeader::decode(&mut r) else {
                break;
            };
            if h.xid > 0 && h.err == 0 {
                acked.push(h.xid as u32);
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(700));
    let status = s.terminate().expect("ferrozk did not exit after SIGTERM");
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    let _ = writer.join();
    let acked = acked.join().unwrap();
    assert!(
        acked.len() > 100,
        "only {} writes acknowledged",
        acked.len()
    );
    let log = s.log();
    assert!(log.contains("SIGTERM received: shutting down"), "{log}");
    assert!(log.contains("ferrozk stopped"), "{log}");
    s.restart();
    let mut c = Raw::connect(s.port, false);
    for xid in &acked {
        let path = format!("/load/n{:06}", xid - 1);
        assert!(c.exists(&path).is_some(), "acknowledged {path} lost");
    }
}

#[test]
fn zktop_reads_ferrozk_stats() {
    let s = Server::start("4lw.commands.whitelist=stat,srst");
    let mut c = Raw::connect(s.port, false);
    create(&mut c, "/zktop", 0);
    // zktop's own parser of `stat` (the module it runs), then its curses UI under a pty.
    let script = format!(
        "import sys; sys.argv=['zktop','--servers','127.0.0.1:{0}']\n\
         import zktop\n\
         s = zktop.ZKServer('127.0.0.1:{0}', 0)\n\
         print(s.unavailable, s.version, s.mode, s.node_count, len(s.sessions))\n",
        s.port
    );
    let out = Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        "False 3.9.3 standalone 6 2",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The curses UI itself, drawn into a file: cbreak/echo need a terminal, so the driver lets
    // those calls fail quietly; everything zktop draws is its own code reading ferrozk's stats.
    let driver = "import curses, sys\n\
        for name in ('cbreak', 'nocbreak', 'echo', 'noecho'):\n\
        \x20   real = getattr(curses, name)\n\
        \x20   def tolerant(*a, _real=real):\n\
        \x20       try:\n\
        \x20           return _real(*a)\n\
        \x20       except curses.error:\n\
        \x20           return None\n\
        \x20   setattr(curses, name, tolerant)\n\
        sys.argv = ['zktop', '--servers', sys.argv[1]]\n\
        import zktop\n\
        zktop.main_func()\n";
    let ui = Command::new("timeout")
        .args(["3", "/usr/bin/python3", "-c", driver])
        .arg(format!("127.0.0.1:{}", s.port))
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .env("LINES", "40")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("python3");
    let screen = String::from_utf8_lossy(&ui.stdout);
    assert!(
        screen.contains("Ensemble -- nodecount:6"),
        "zktop screen: {screen}\nstderr: {}",
        String::from_utf8_lossy(&ui.stderr)
    );
    // And in a real terminal where the machine can make one (`script` from bsdutils). Whether
    // it can is asked first with a probe that only prints a marker; a CI sandbox without
    // pseudo-terminals fails that probe, and the file-drawn UI above is then the check.
    let probe = under_pty("printf ferrozk-pty-probe");
    if !probe.0.contains("ferrozk-pty-probe") {
        eprintln!(
            "no usable pseudo-terminal here (probe printed {:?}, stderr {:?}); the file-drawn UI above was checked",
            probe.0, probe.1
        );
        return;
    }
    let (screen, err) = under_pty(&format!(
        "stty cols 120 rows 40; timeout --foreground 5 zktop --servers 127.0.0.1:{}",
        s.port
    ));
    assert!(
        screen.contains("Ensemble -- nodecount:6"),
        "zktop screen under a pty: {screen}\nstderr: {err}"
    );
}

/// Runs `cmd` under `script` with a pseudo-terminal and returns what it printed. Standard
/// input stays open (an empty pipe) until the command ends: `script` stops as soon as its
/// input reaches end of file, which would cut the command short. `script` runs `cmd` with
/// `$SHELL`, pinned here to /bin/sh as on a machine where SHELL is unset (CI): dash forks
/// rather than execs a list's last command, so a command that must own the terminal (curses
/// sets its modes) needs `timeout --foreground`; plain `timeout` moves it into a background
/// process group, where the kernel stops it with SIGTTOU before it draws anything.
fn under_pty(cmd: &str) -> (String, String) {
    let mut child = Command::new("timeout")
        .args(["10", "script", "-q", "-c", cmd, "/dev/null"])
        .env("TERM", "xterm")
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (bsdutils)");
    let keep_open = child.stdin.take();
    let out = child.wait_with_output().expect("script output");
    drop(keep_open);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        format!("{} ({})", String::from_utf8_lossy(&out.stderr), out.status),
    )
}

#[test]
fn logs_follow_level_and_format_settings() {
    let s = Server::start_with_env("ferrozk.log.level=debug", &[("FERROZK_LOG_FORMAT", "json")]);
    let mut c = Raw::connect(s.port, false);
    create(&mut c, "/logged", 0);
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    let log = s.log();
    let mut saw_session = false;
    let mut saw_debug = false;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let j: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let msg = j["fields"]["message"].as_str().unwrap_or_default();
        saw_session |= msg.starts_with("established session 0x");
        saw_debug |= j["level"] == "DEBUG";
    }
    assert!(saw_session, "{log}");
    assert!(saw_debug, "{log}");
}

#[test]
fn admin_restore_replaces_the_database_durably() {
    let auth = "Authorization: digest super:test";
    let superdigest = "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=";
    // Server A holds /from-a (and an ephemeral); its snapshot is streamed out.
    let a = Server::start(superdigest);
    let mut ca = Raw::connect(a.port, false);
    create(&mut ca, "/from-a", 0);
    create(&mut ca, "/from-a/child", 0);
    let (st, _, snapshot) = http(a.admin_port, "GET", "/commands/snapshot", &[auth]);
    assert_eq!(st, 200);

    // Server B holds other data and a connected client; restore needs auth first.
    let mut b = Server::start(&format!(
        "{superdigest}\nadmin.rateLimiterIntervalInMS=600000"
    ));
    let mut cb = Raw::connect(b.port, false);
    create(&mut cb, "/only-in-b", 0);
    let (st, _, _) = http_with_body(b.admin_port, "POST", "/commands/restore", &[], &snapshot);
    assert_eq!(st, 401);
    let (st, _, body) = http_with_body(b.admin_port, "GET", "/commands/restore", &[auth], &[]);
    assert_eq!(st, 405, "{}", String::from_utf8_lossy(&body));
    let (st, _, body) = http_with_body(
        b.admin_port,
        "POST",
        "/commands/restore",
        &[auth],
        b"not a snapshot",
    );
    assert_eq!(st, 400, "{}", String::from_utf8_lossy(&body));
    // That attempt counted against B's rate limit (the limiter is consulted before the
    // body is read, as in ZooKeeper): restore into a third server.
    let b2 = Server::start(superdigest);
    let mut cb2 = Raw::connect(b2.port, false);
    create(&mut cb2, "/only-in-b2", 0);
    let (st, _, body) = http_with_body(
        b2.admin_port,
        "POST",
        "/commands/restore",
        &[auth],
        &snapshot,
    );
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(j["command"], "restore");
    assert!(j["error"].is_null(), "{j}");
    assert!(j["last_zxid"].as_i64().unwrap() > 0);
    // The old connection was closed; a new session sees A's tree, not B2's.
    assert!(common::closed_by_server(&mut cb2.s));
    let mut fresh = Raw::connect(b2.port, false);
    assert!(fresh.exists("/from-a/child").is_some());
    assert!(fresh.exists("/only-in-b2").is_none());
    create(&mut fresh, "/after-restore", 0);
    drop(fresh);
    // Durable: after a crash the restored tree (and what came after) is still there.
    let mut b2 = b2;
    b2.crash_and_restart();
    let mut again = Raw::connect(b2.port, false);
    assert!(again.exists("/from-a/child").is_some());
    assert!(again.exists("/after-restore").is_some());
    assert!(again.exists("/only-in-b2").is_none());
    assert!(!b2.log().contains("digest mismatch"), "{}", b2.log());
    // Rate limit: a second restore within the interval is refused.
    let (st, _, _) = http_with_body(
        b.admin_port,
        "POST",
        "/commands/restore",
        &[auth],
        &snapshot,
    );
    assert_eq!(st, 429);
    b.stop();
}
