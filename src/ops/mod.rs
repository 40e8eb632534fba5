//! Operating the server as ZooKeeper is operated: four-letter words on the client port, the
//! AdminServer's JSON commands, Prometheus metrics. The node answers a [`Query`] with a
//! [`NodeView`] (plain data); this module turns it into ZooKeeper's text and JSON shapes.

pub mod admin;
mod ensemble;
pub mod process;
mod prometheus;

use crate::config::Config;
use crate::stats::{stats, Value};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;

/// The ZooKeeper release whose surface ferrozk presents, and ferrozk's own version.
pub const ZK_VERSION: &str = "3.9.3";
pub fn full_version() -> String {
    format!("{ZK_VERSION}-ferrozk-{}", env!("CARGO_PKG_VERSION"))
}

/// What operators ask the node: four-letter words, the AdminServer, metrics scrapes.
pub enum OpsRequest {
    /// A view of the node for one question.
    Query {
        q: Query,
        reply: tokio::sync::oneshot::Sender<NodeView>,
    },
    /// The ACL of `/` (the AdminServer authorises snapshot against it).
    RootAcl {
        reply: tokio::sync::oneshot::Sender<Vec<jute::Acl>>,
    },
    /// Take a snapshot now and answer with its file once written.
    Snapshot {
        reply: tokio::sync::oneshot::Sender<SnapshotReply>,
    },
    /// Replace the database with a snapshot's (the AdminServer's restore): answers with the
    /// zxid it serves from once the new state is in a snapshot file on disk.
    Restore {
        loaded: Box<crate::storage::snap::Loaded>,
        reply: tokio::sync::oneshot::Sender<Result<i64, String>>,
    },
}

/// A snapshot file and the zxid it was started at, or why there is none.
pub type SnapshotReply = Result<(std::path::PathBuf, i64), String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    Summary,
    Connections,
    ResetConnections,
    Dump,
    Watches,
    Hash,
}

/// One client connection with a session, as `cons` shows it.
#[derive(Debug, Clone, Default)]
pub struct ConnView {
    pub peer: Option<SocketAddr>,
    pub outstanding: u64,
    pub received: u64,
    pub sent: u64,
    pub session: i64,
    pub last_op: &'static str,
    pub established_ms: i64,
    pub timeout: u32,
    pub last_cxid: i64,
    pub last_zxid: i64,
    pub last_response_ms: u64,
    /// Latencies in ms.
    pub last_latency: u64,
    pub min_latency: u64,
    pub avg_latency: u64,
    pub max_latency: u64,
}

/// What the node reports.
#[derive(Debug, Clone, Default)]
pub struct NodeView {
    pub serving: bool,
    /// standalone, leader, follower or observer (what `srvr` prints after `Mode:`).
    pub mode: &'static str,
    pub zxid: i64,
    pub node_count: u64,
    pub approximate_data_size: u64,
    pub ephemerals_count: u64,
    pub watch_count: u64,
    pub global_sessions: u64,
    pub local_sessions: u64,
    pub outstanding_requests: u64,
    pub uptime_ms: u64,
    pub connections: Vec<ConnView>,
    /// Sessions by expiry time (wall-clock ms).
    pub sessions_by_expiry: BTreeMap<i64, Vec<i64>>,
    pub ephemerals: BTreeMap<i64, Vec<String>>,
    /// Data watches by session and by path (what ZooKeeper's wchc/wchp list).
    pub watches_by_session: BTreeMap<i64, Vec<String>>,
    pub watches_by_path: BTreeMap<String, Vec<i64>>,
    pub digests: Vec<(i64, u64)>,
    pub last_snapshot: Option<(i64, i64)>,
    /// In an ensemble, with a role (leading or following): what `mntr` and the AdminServer's
    /// `leader`, `observers`, `zabstate` and `voting_view` say of it.
    pub ensemble: Option<EnsembleView>,
}

/// A member's place in its ensemble, as the AdminServer reports it.
#[derive(Debug, Clone, Default)]
pub struct EnsembleView {
    /// ZooKeeper's ZabState: discovery, synchronization or broadcast.
    pub zab_state: &'static str,
    pub leading: bool,
    pub observer: bool,
    /// The member this one leads as (itself) or syncs from (its leader, or an observer's
    /// learner master), and that member's quorum hosts joined by `|`.
    pub master: i64,
    pub master_hosts: String,
    /// On a follower serving observers (observerMasterPort): how many are synchronised.
    pub synced_observers: Option<u64>,
    /// Whether this member votes in the active configuration.
    pub voting: bool,
    /// This member's line of the active configuration.
    pub me: Option<crate::config::QuorumServer>,
    /// The active configuration's voters.
    pub voters: Vec<crate::config::QuorumServer>,
}

/// Four-letter words ZooKeeper knows.
pub const FOUR_LETTER_WORDS: [&str; 18] = [
    "conf", "cons", "crst", "dump", "envi", "ruok", "srst", "srvr", "stat", "wchs", "wchc", "wchp",
    "mntr", "isro", "dirs", "hash", "gtmk", "stmk",
];

pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// `4lw.commands.whitelist` as ZooKeeper reads it: a comma-separated list or `*`; `srvr`
/// is always enabled (zkServer.sh needs it), and `isro` with read-only mode.
pub struct Whitelist(Vec<String>);

impl Whitelist {
    pub fn from_config(cfg: &Config) -> Whitelist {
        let mut on: Vec<String> = Vec::new();
        if let Some(list) = &cfg.settings.four_letter_words {
            for w in list.split(',').map(str::trim) {
                if w == "*" {
                    on.extend(FOUR_LETTER_WORDS.iter().map(|s| s.to_string()));
                    break;
                }
                if !w.is_empty() {
                    on.push(w.to_string());
                }
            }
        }
        on.push("srvr".into());
        if cfg.settings.read_only_mode {
            on.push("isro".into());
        }
        Whitelist(on)
    }

    pub fn enabled(&self, word: &str) -> bool {
        self.0.iter().any(|w| w == word)
    }

    pub fn list(&self) -> &[String] {
        &self.0
    }
}

/// What a four-letter word needs from the node.
pub fn query_for(word: &str) -> Option<Query> {
    Some(match word {
        "srvr" | "stat" | "mntr" | "srst" | "isro" => Query::Summary,
        "cons" => Query::Connections,
        "crst" => Query::ResetConnections,
        "dump" => Query::Dump,
        "wchs" | "wchc" | "wchp" => Query::Watches,
        "hash" => Query::Hash,
        _ => return None,
    })
}

/// Environment entries (`envi`, AdminServer `environment`), in ZooKeeper's order with the
/// JVM entries replaced by the process's own.
pub fn environment() -> Vec<(String, String)> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let uname = |f: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let p = process::read();
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| {
            std::fs::read_to_string("/etc/passwd")
                .ok()
                .and_then(|s| {
                    s.lines().find_map(|l| {
                        let f: Vec<&str> = l.split(':').collect();
                        (f.get(2) == Some(&uid.to_string().as_str())).then(|| f[0].to_string())
                    })
                })
                .unwrap_or_else(|| uid.to_string())
        });
    vec![
        ("zookeeper.version".into(), full_version()),
        ("host.name".into(), host),
        ("ferrozk.version".into(), env!("CARGO_PKG_VERSION").into()),
        ("os.name".into(), uname("ostype")),
        ("os.arch".into(), std::env::consts::ARCH.into()),
        ("os.version".into(), uname("osrelease")),
        ("user.name".into(), user),
        ("user.home".into(), var("HOME")),
        (
            "user.dir".into(),
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        ),
        (
            "os.memory.rss".into(),
            format!("{}MB", p.rss_bytes / (1024 * 1024)),
        ),
        (
            "os.memory.max".into(),
            format!("{}MB", p.memory_limit_bytes / (1024 * 1024)),
        ),
    ]
}

/// `mntr` keys and values, ZooKeeper's names without the `zk_` prefix.
pub fn monitor_values(v: &NodeView) -> Vec<(String, Value)> {
    let s = stats();
    let p = process::read();
    let (last, min, max) = s.response_sizes();
    let mut out: Vec<(String, Value)> = vec![
        ("version".into(), Value::S(full_version())),
        ("server_state".into(), Value::S(v.mode.into())),
        ("ephemerals_count".into(), Value::U(v.ephemerals_count)),
        (
            "num_alive_connections".into(),
            Value::U(v.connections.len() as u64),
        ),
        ("avg_latency".into(), Value::F(s.latency.avg())),
        (
            "outstanding_requests".into(),
            Value::U(v.outstanding_requests),
        ),
        ("znode_count".into(), Value::U(v.node_count)),
        ("global_sessions".into(), Value::U(v.global_sessions)),
        ("non_mtls_remote_conn_count".into(), Value::U(0)),
        ("last_client_response_size".into(), Value::U(last)),
        ("packets_sent".into(), Value::U(s.packets_sent.get())),
        (
            "packets_received".into(),
            Value::U(s.packets_received.get()),
        ),
        ("max_client_response_size".into(), Value::U(max)),
        ("connection_drop_probability".into(), Value::F(0.0)),
        ("watch_count".into(), Value::U(v.watch_count)),
        (
            "auth_failed_count".into(),
            Value::U(s.auth_failed_count.get()),
        ),
        ("min_latency".into(), Value::U(s.latency.min())),
        ("max_file_descriptor_count".into(), Value::U(p.max_fds)),
        (
            "approximate_data_size".into(),
            Value::U(v.approximate_data_size),
        ),
        ("open_file_descriptor_count".into(), Value::U(p.open_fds)),
        ("local_sessions".into(), Value::U(v.local_sessions)),
        ("uptime".into(), Value::U(v.uptime_ms)),
        ("max_latency".into(), Value::U(s.latency.max())),
        ("outstanding_tls_handshake".into(), Value::U(0)),
        ("min_client_response_size".into(), Value::U(min)),
        ("non_mtls_local_conn_count".into(), Value::U(0)),
        ("quorum_size".into(), Value::U(1)),
        ("proposal_count".into(), Value::U(0)),
    ];
    if let Some(e) = &v.ensemble {
        if let Some(n) = e.synced_observers {
            out.push(("synced_observers".into(), Value::U(n)));
        }
        if e.observer {
            out.push(("observer_master_id".into(), Value::I(e.master)));
        }
    }
    for c in s.counters() {
        out.push((c.name.to_string(), Value::U(c.get())));
    }
    for m in s.summaries() {
        m.dump(&mut out);
    }
    out
}

/// `mntr` text.
pub fn mntr(v: &NodeView) -> String {
    let mut out = String::new();
    for (k, val) in monitor_values(v) {
        let _ = writeln!(out, "zk_{k}\t{val}");
    }
    out
}

/// The line `srvr` and `stat` add after the version on a read-only member.
fn read_only_line(v: &NodeView) -> &'static str {
    if v.mode == "read-only" {
        "READ-ONLY mode; serving only read-only clients\n"
    } else {
        ""
    }
}

fn server_stats_text(v: &NodeView) -> String {
    let s = stats();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        s.latency.min(),
        Value::F(s.latency.avg()),
        s.latency.max()
    );
    let _ = writeln!(out, "Received: {}", s.packets_received.get());
    let _ = writeln!(out, "Sent: {}", s.packets_sent.get());
    let _ = writeln!(out, "Connections: {}", v.connections.len());
    let _ = writeln!(out, "Outstanding: {}", v.outstanding_requests);
    let _ = writeln!(out, "Zxid: 0x{:x}", v.zxid);
    let _ = writeln!(out, "Mode: {}", v.mode);
    let _ = writeln!(out, "Node count: {}", v.node_count);
    out
}

fn peer_text(p: &Option<SocketAddr>) -> String {
    match p {
        Some(a) => format!("/{a}"),
        None => "null".into(),
    }
}

/// One `cons`/`stat` line (without the newline).
pub fn connection_line(c: &ConnView, brief: bool) -> String {
    let mut out = format!(
        " {}[1](queued={},recved={},sent={}",
        peer_text(&c.peer),
        c.outstanding,
        c.received,
        c.sent
    );
    if !brief && c.session != 0 {
        let _ = write!(
            out,
            ",sid=0x{:x},lop={},est={},to={}",
            c.session, c.last_op, c.established_ms, c.timeout
        );
        if c.last_cxid >= 0 {
            let _ = write!(out, ",lcxid=0x{:x}", c.last_cxid);
        }
        let _ = write!(
            out,
            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            c.last_zxid,
            c.last_response_ms,
            c.last_latency,
            c.min_latency,
            c.avg_latency,
            c.max_latency
        );
    }
    out.push(')');
    out
}

/// The line for the connection asking (it has sent one packet: the word itself).
fn asker(peer: SocketAddr) -> ConnView {
    ConnView {
        peer: Some(peer),
        received: 1,
        ..Default::default()
    }
}

fn fmt_date(ms: i64) -> String {
    // ZooKeeper prints java.util.Date; an RFC 3339 UTC time carries the same information.
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Everything a four-letter word's answer needs besides the node's view.
pub struct FourLetterCtx<'a> {
    pub cfg: &'a Config,
    pub peer: SocketAddr,
    pub data_dir_size: u64,
    pub log_dir_size: u64,
    /// The mask `stmk` carries.
    pub trace_mask: Option<i64>,
}

/// The text ZooKeeper answers to a four-letter word.
pub fn four_letter_text(word: &str, v: Option<&NodeView>, ctx: &FourLetterCtx) -> String {
    let serving = v.is_some_and(|v| v.serving);
    let not_serving = || format!("{NOT_SERVING}\n");
    match word {
        "ruok" => "imok".into(),
        "isro" => match v {
            Some(v) if v.mode == "read-only" => "ro",
            _ if serving => "rw",
            _ => "null",
        }
        .into(),
        "gtmk" => stats_trace_mask().to_string(),
        "stmk" => {
            let m = ctx.trace_mask.unwrap_or(0);
            set_trace_mask(m);
            m.to_string()
        }
        "envi" => {
            let mut out = String::from("Environment:\n");
            for (k, val) in environment() {
                let _ = writeln!(out, "{k}={val}");
            }
            out
        }
        _ if !serving => not_serving(),
        _ => {
            let Some(v) = v else {
                return not_serving();
            };
            match word {
                "srvr" => format!(
                    "Zookeeper version: {}\n{}{}",
                    full_version(),
                    read_only_line(v),
                    server_stats_text(v)
                ),
                "stat" => {
                    let mut out = format!(
                        "Zookeeper version: {}\n{}Clients:\n",
                        full_version(),
                        read_only_line(v)
                    );
                    for c in &v.connections {
                        out.push_str(&connection_line(c, true));
                        out.push('\n');
                    }
                    out.push_str(&connection_line(&asker(ctx.peer), true));
                    out.push_str("\n\n");
                    out.push_str(&server_stats_text(v));
                    out
                }
                "cons" => {
                    let mut out = String::new();
                    for c in &v.connections {
                        out.push_str(&connection_line(c, false));
                        out.push('\n');
                    }
                    out.push_str(&connection_line(&asker(ctx.peer), false));
                    out.push_str("\n\n");
                    out
                }
                "crst" => "Connection stats reset.\n".into(),
                "srst" => {
                    stats().reset_server_stats();
                    "Server stats reset.\n".into()
                }
                "conf" => conf_text(ctx),
                "dirs" => format!(
                    "datadir_size: {}\nlogdir_size: {}\n",
                    ctx.data_dir_size, ctx.log_dir_size
                ),
                "mntr" => mntr(v),
                "dump" => dump_text(v),
                "wchs" => {
                    let paths = v.watches_by_path.len();
                    let total: usize = v.watches_by_path.values().map(|s| s.len()).sum();
                    format!(
                        "{} connections watching {paths} paths\nTotal watches:{total}\n",
                        v.watches_by_session.len()
                    )
                }
                "wchc" => {
                    let mut out = String::new();
                    for (s, paths) in &v.watches_by_session {
                        let _ = writeln!(out, "0x{s:x}");
                        for p in paths {
                            let _ = writeln!(out, "\t{p}");
                        }
                    }
                    out.push('\n');
                    out
                }
                "wchp" => {
                    let mut out = String::new();
                    for (p, sessions) in &v.watches_by_path {
                        let _ = writeln!(out, "{p}");
                        for s in sessions {
                            let _ = writeln!(out, "\t0x{s:x}");
                        }
                    }
                    out.push('\n');
                    out
                }
                "hash" => {
                    let mut out = String::new();
                    for (z, d) in &v.digests {
                        let _ = writeln!(out, "{z:x}: {d}");
                    }
                    out
                }
                _ => String::new(),
            }
        }
    }
}

fn conf_text(ctx: &FourLetterCtx) -> String {
    let c = ctx.cfg;
    let mut out = String::new();
    let _ = writeln!(out, "clientPort={}", c.client_port.map_or(-1, i32::from));
    let secure = c
        .settings
        .client_tls
        .as_ref()
        .and_then(|t| t.secure_port)
        .map_or(-1, i32::from);
    let _ = writeln!(out, "secureClientPort={secure}");
    let _ = writeln!(out, "dataDir={}", c.data_dir.join("version-2").display());
    let _ = writeln!(out, "dataDirSize={}", ctx.data_dir_size);
    let _ = writeln!(
        out,
        "dataLogDir={}",
        c.data_log_dir.join("version-2").display()
    );
    let _ = writeln!(out, "dataLogSize={}", ctx.log_dir_size);
    let _ = writeln!(out, "tickTime={}", c.tick_time);
    let _ = writeln!(out, "maxClientCnxns={}", c.max_client_cnxns);
    let _ = writeln!(out, "minSessionTimeout={}", c.min_session_timeout);
    let _ = writeln!(out, "maxSessionTimeout={}", c.max_session_timeout);
    let _ = writeln!(out, "clientPortListenBacklog=-1");
    let _ = writeln!(out, "serverId={}", c.server_id);
    out
}

fn dump_text(v: &NodeView) -> String {
    let mut out = String::from("SessionTracker dump:\n");
    let n: usize = v.sessions_by_expiry.values().map(|s| s.len()).sum();
    let _ = writeln!(
        out,
        "Session Sets ({})/({}):",
        v.sessions_by_expiry.len(),
        n
    );
    for (t, ids) in &v.sessions_by_expiry {
        let _ = writeln!(out, "{} expire at {}:", ids.len(), fmt_date(*t));
        for id in ids {
            let _ = writeln!(out, "\t0x{id:x}");
        }
    }
    let _ = writeln!(out, "ephemeral nodes dump:");
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", v.ephemerals.len());
    for (s, paths) in &v.ephemerals {
        let _ = writeln!(out, "0x{s:x}:");
        for p in paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    let _ = writeln!(out, "Connections dump:");
    let _ = writeln!(out, "Connections Sets (1)/({}):", v.connections.len());
    let _ = writeln!(out, "{} connections:", v.connections.len());
    for c in &v.connections {
        let _ = writeln!(
            out,
            "\tip: {} sessionId: 0x{:x}",
            peer_text(&c.peer),
            c.session
        );
    }
    out
}

static TRACE_MASK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(306);

/// ZooKeeper's ZooTrace mask: kept and reported, as nothing else reads it.
pub fn stats_trace_mask() -> i64 {
    TRACE_MASK.load(std::sync::atomic::Ordering::Relaxed)
}

pub fn set_trace_mask(m: i64) {
    TRACE_MASK.store(m, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(fmt_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(fmt_date(1_795_328_998_158), "2026-11-22T06:29:58Z");
        assert_eq!(fmt_date(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(Value::F(0.0).to_string(), "0.0");
        assert_eq!(Value::F(1.9167).to_string(), "1.9167");
        assert_eq!(Value::F(2.0).to_string(), "2.0");
    }
}
