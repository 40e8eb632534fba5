//! HTTP: ZooKeeper's AdminServer (`/commands/<name>`, JSON with `command` and `error`) and
//! the Prometheus endpoint (`/metrics`; the metrics themselves are in `prometheus`). Both ask
//! the node for a [`NodeView`] through the same channel the client connections use, so they
//! see what clients see.

pub use super::prometheus::prometheus_from_config;
use super::{
    environment, full_version, monitor_values, process, prometheus, NodeView, OpsRequest, Query,
    SnapshotReply,
};
use crate::acl::AclPolicy;
use crate::config::Config;
use crate::stats::{stats, Value};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jute::{Id, Perms};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{json, Map, Value as Json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

#[path = "admin_snapshot.rs"]
mod snapshot;
use snapshot::{restore, snapshot};

/// Asks the node; `None` when it is not serving.
pub async fn ask(node: &mpsc::Sender<OpsRequest>, q: Query) -> Option<NodeView> {
    let (tx, rx) = oneshot::channel();
    node.send(OpsRequest::Query { q, reply: tx }).await.ok()?;
    tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .ok()?
        .ok()
}

pub struct Http {
    pub node: mpsc::Sender<OpsRequest>,
    pub cfg: Arc<Config>,
    pub policy: AclPolicy,
    pub prometheus: Option<PrometheusHandle>,
    pub command_url: String,
    /// The client port's TLS, whose trust store and x509 settings `Authorization: x509`
    /// uses (ZooKeeper 3.9's x509 provider for HTTP).
    pub client_tls: Option<Arc<crate::tls::ServerTls>>,
    /// When the last snapshot and restore commands ran (ZooKeeper's RateLimiter).
    last_snapshot: Mutex<Option<Instant>>,
    last_restore: Mutex<Option<Instant>>,
}

impl Http {
    pub fn new(
        node: mpsc::Sender<OpsRequest>,
        cfg: Arc<Config>,
        prometheus: Option<PrometheusHandle>,
        client_tls: Option<Arc<crate::tls::ServerTls>>,
    ) -> Http {
        let command_url = cfg.settings.admin.command_url.clone();
        Http {
            policy: AclPolicy::from_config(&cfg),
            node,
            cfg,
            prometheus,
            client_tls,
            command_url,
            last_snapshot: Mutex::new(None),
            last_restore: Mutex::new(None),
        }
    }
}

type Resp = Response<Full<Bytes>>;

fn respond(status: StatusCode, ctype: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = ctype.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn json_resp(status: StatusCode, mut body: Map<String, Json>, command: &str) -> Resp {
    body.entry("command").or_insert_with(|| command.into());
    body.entry("error").or_insert(Json::Null);
    let text = serde_json::to_string_pretty(&Json::Object(body)).unwrap_or_default();
    respond(status, "application/json", text)
}

/// Serves one listener (the AdminServer's or the metrics provider's) until the process ends.
/// HTTPS on an AdminServer port: TLS only (`admin.forceHttps`), or TLS and plain HTTP told
/// apart by the first byte (`admin.portUnification`: 0x16 begins a TLS handshake).
#[derive(Clone)]
pub struct Https {
    pub config: Arc<rustls::ServerConfig>,
    pub force: bool,
}

pub async fn serve(listener: TcpListener, http: Arc<Http>, https: Option<Https>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!("http accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let http = http.clone();
        let https = https.clone();
        tokio::spawn(async move {
            let Some(https) = https else {
                return serve_connection(stream, http, peer, None).await;
            };
            let tls = https.force || {
                let mut b = [0u8; 1];
                matches!(
                    tokio::time::timeout(Duration::from_secs(30), stream.peek(&mut b)).await,
                    Ok(Ok(1)) if b[0] == 0x16
                )
            };
            if !tls {
                return serve_connection(stream, http, peer, None).await;
            }
            let acceptor = tokio_rustls::TlsAcceptor::from(https.config);
            match tokio::time::timeout(Duration::from_secs(30), acceptor.accept(stream)).await {
                Ok(Ok(s)) => {
                    let certs = s
                        .get_ref()
                        .1
                        .peer_certificates()
                        .map(|c| Arc::new(c.to_vec()));
                    serve_connection(s, http, peer, certs).await
                }
                Ok(Err(e)) => info!("HTTPS handshake with {peer} failed: {e}"),
                Err(_) => info!("HTTPS handshake with {peer} timed out"),
            }
        });
    }
}

/// The certificates an HTTPS client presented.
type PeerCerts = Option<Arc<Vec<rustls::pki_types::CertificateDer<'static>>>>;

async fn serve_connection<S>(stream: S, http: Arc<Http>, peer: SocketAddr, certs: PeerCerts)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let http = http.clone();
        let certs = certs.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(&http, req, peer, certs).await) }
    });
    let conn = http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(stream), svc);
    if let Err(e) = conn.await {
        tracing::debug!("http connection from {peer}: {e}");
    }
}

fn query_params(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.to_string(), String::new()),
        })
        .collect()
}

/// The AdminServer's command names: canonical name first, then aliases.
const COMMANDS: &[&[&str]] = &[
    &["configuration", "conf", "config"],
    &["connection_stat_reset", "crst"],
    &["connections", "cons"],
    &["dirs"],
    &["dump"],
    &["environment", "env", "envi"],
    &["get_trace_mask", "gtmk"],
    &["hash"],
    &["initial_configuration", "icfg"],
    &["is_read_only", "isro"],
    &["last_snapshot", "lsnp"],
    &["leader", "lead"],
    &["monitor", "mntr"],
    &["observer_connection_stat_reset", "orst"],
    &["observers", "obsr"],
    &["restore", "rest"],
    &["ruok"],
    &["server_stats", "srvr"],
    &["set_trace_mask", "stmk"],
    &["snapshot", "snap"],
    &["stat_reset", "srst"],
    &["stats", "stat"],
    &["system_properties", "sysp"],
    &["voting_view"],
    &["watch_summary", "wchs"],
    &["watches", "wchc"],
    &["watches_by_path", "wchp"],
    &["zabstate"],
];

fn canonical(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|names| names.contains(&name))
        .map(|names| names[0])
}

async fn handle(http: &Http, req: Request<Incoming>, peer: SocketAddr, certs: PeerCerts) -> Resp {
    let path = req.uri().path().to_string();
    if path == "/metrics" {
        if let Some(h) = &http.prometheus {
            return metrics(http, h).await;
        }
    }
    let Some(rest) = path.strip_prefix(&http.command_url) else {
        return respond(StatusCode::NOT_FOUND, "text/plain", "not found\n");
    };
    let name = rest.trim_start_matches('/').trim_end_matches('/');
    if name.is_empty() {
        let mut page = String::new();
        for names in COMMANDS {
            page.push_str(&format!(
                "<a href=\"{0}/{1}\">{1}</a>\n<br/>\n",
                http.command_url, names[0]
            ));
        }
        return respond(StatusCode::OK, "text/html", page);
    }
    let params = query_params(req.uri().query());
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(cmd) = canonical(name) else {
        warn!("AdminServer: unknown command {name:?} from {peer}");
        let mut m = Map::new();
        m.insert("command".into(), name.into());
        m.insert("error".into(), format!("Unknown command: {name}").into());
        return json_resp(StatusCode::OK, m, name);
    };
    let is_post = req.method() == Method::POST;
    if cmd == "restore" {
        if !is_post {
            return json_resp(
                StatusCode::METHOD_NOT_ALLOWED,
                error_map("restore is a POST command"),
                cmd,
            );
        }
    } else if is_post {
        return json_resp(
            StatusCode::METHOD_NOT_ALLOWED,
            error_map(&format!("{cmd} is a GET command")),
            cmd,
        );
    }
    if cmd == "snapshot" || cmd == "restore" {
        if let Err(resp) = authorize(http, auth.as_deref(), peer, certs.as_deref(), cmd).await {
            return resp;
        }
        return if cmd == "snapshot" {
            snapshot(http, &params).await
        } else {
            restore(http, req.into_body()).await
        };
    }
    let (status, body) = run(http, cmd, &params).await;
    json_resp(status, body, cmd)
}

fn error_map(e: &str) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("error".into(), e.into());
    m
}

/// `Authorization: <scheme> <auth>` checked as ZooKeeper does for snapshot and restore:
/// the caller must hold ALL on `/` (the super user always does).
async fn authorize(
    http: &Http,
    auth: Option<&str>,
    peer: SocketAddr,
    certs: Option<&Vec<rustls::pki_types::CertificateDer<'static>>>,
    cmd: &str,
) -> Result<(), Resp> {
    let Some(auth) = auth else {
        warn!("AdminServer {cmd}: auth info is missing (from {peer})");
        return Err(json_resp(
            StatusCode::UNAUTHORIZED,
            error_map("Auth info is missing for the command"),
            cmd,
        ));
    };
    let (scheme, data) = match auth.split_once(' ') {
        Some((s, d)) => (s, Some(d)),
        None => (auth, None),
    };
    let ids: Vec<Id> = match (scheme, data) {
        ("digest", Some(d)) => http.policy.digest_auth(d.as_bytes()),
        ("ip", None) => vec![Id::new("ip", &peer.ip().to_string())],
        // The HTTPS client's certificate, checked against the client port's trust store.
        ("x509", None) => match (&http.client_tls, certs) {
            (Some(t), Some(c)) => t.http_identities(c).await,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    if ids.is_empty() {
        warn!("AdminServer {cmd}: authentication failed for scheme {scheme} from {peer}");
        return Err(json_resp(
            StatusCode::UNAUTHORIZED,
            error_map("Not authenticated"),
            cmd,
        ));
    }
    let Some(root_acl) = ask_root_acl(&http.node).await else {
        return Err(json_resp(
            StatusCode::OK,
            error_map(super::NOT_SERVING),
            cmd,
        ));
    };
    if !http.policy.check(&root_acl, Perms::ALL, &ids) {
        warn!("AdminServer {cmd}: {peer} is not authorized");
        return Err(json_resp(
            StatusCode::FORBIDDEN,
            error_map("Not authorized"),
            cmd,
        ));
    }
    Ok(())
}

async fn ask_root_acl(node: &mpsc::Sender<OpsRequest>) -> Option<Vec<jute::Acl>> {
    let (tx, rx) = oneshot::channel();
    node.send(OpsRequest::RootAcl { reply: tx }).await.ok()?;
    rx.await.ok()
}

fn jvalues(pairs: &[(String, Value)]) -> Map<String, Json> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), Json::from(v)))
        .collect()
}

fn conn_json(c: &super::ConnView, brief: bool) -> Json {
    let mut m = Map::new();
    m.insert(
        "remote_socket_address".into(),
        c.peer.map(|p| p.to_string()).into(),
    );
    m.insert("interest_ops".into(), 1.into());
    m.insert("outstanding_requests".into(), c.outstanding.into());
    m.insert("packets_received".into(), c.received.into());
    m.insert("packets_sent".into(), c.sent.into());
    if !brief && c.session != 0 {
        m.insert("session_id".into(), c.session.into());
        m.insert("last_operation".into(), c.last_op.into());
        m.insert("established".into(), c.established_ms.into());
        m.insert("session_timeout".into(), c.timeout.into());
        m.insert("last_cxid".into(), c.last_cxid.into());
        m.insert("last_zxid".into(), c.last_zxid.into());
        m.insert("last_response_time".into(), c.last_response_ms.into());
        m.insert("last_latency".into(), c.last_latency.into());
        m.insert("min_latency".into(), c.min_latency.into());
        m.insert("avg_latency".into(), c.avg_latency.into());
        m.insert("max_latency".into(), c.max_latency.into());
    }
    Json::Object(m)
}

fn dir_sizes(cfg: &Config) -> (u64, u64) {
    (
        process::dir_size(&cfg.data_dir.join("version-2")),
        process::dir_size(&cfg.data_log_dir.join("version-2")),
    )
}

fn server_stats_json(v: &NodeView, dirs: (u64, u64)) -> Map<String, Json> {
    let s = stats();
    let (last, min, max) = s.response_sizes();
    let sizes = json!({"last_buffer_size": last, "min_buffer_size": min, "max_buffer_size": max});
    let mut st = Map::new();
    st.insert("packets_sent".into(), s.packets_sent.get().into());
    st.insert("packets_received".into(), s.packets_received.get().into());
    st.insert(
        "fsync_threshold_exceed_count".into(),
        s.fsync_threshold_exceed_count.get().into(),
    );
    st.insert("client_response_stats".into(), sizes.clone());
    st.insert("data_dir_size".into(), dirs.0.into());
    st.insert("log_dir_size".into(), dirs.1.into());
    st.insert("provider_null".into(), false.into());
    st.insert("server_state".into(), v.mode.into());
    st.insert("last_processed_zxid".into(), v.zxid.into());
    st.insert("outstanding_requests".into(), v.outstanding_requests.into());
    st.insert("avg_latency".into(), Json::from(&Value::F(s.latency.avg())));
    st.insert("max_latency".into(), s.latency.max().into());
    st.insert("min_latency".into(), s.latency.min().into());
    st.insert(
        "num_alive_client_connections".into(),
        v.connections.len().into(),
    );
    st.insert("uptime".into(), v.uptime_ms.into());
    st.insert("auth_failed_count".into(), s.auth_failed_count.get().into());
    st.insert("non_mtlsremote_conn_count".into(), 0.into());
    st.insert("non_mtlslocal_conn_count".into(), 0.into());
    let mut m = Map::new();
    m.insert("version".into(), full_version().into());
    m.insert("read_only".into(), false.into());
    m.insert("server_stats".into(), Json::Object(st));
    m.insert("client_response".into(), sizes);
    m.insert("node_count".into(), v.node_count.into());
    m
}

/// Runs a GET command other than snapshot.
async fn run(
    http: &Http,
    cmd: &str,
    params: &[(String, String)],
) -> (StatusCode, Map<String, Json>) {
    let cfg = &http.cfg;
    let mut m = Map::new();
    // Commands that do not need a running server.
    match cmd {
        "environment" => {
            for (k, v) in environment() {
                m.insert(k, v.into());
            }
            return (StatusCode::OK, m);
        }
        "get_trace_mask" => {
            m.insert("tracemask".into(), super::stats_trace_mask().into());
            return (StatusCode::OK, m);
        }
        "set_trace_mask" => {
            match params.iter().find(|(k, _)| k == "traceMask") {
                None => {
                    m.insert(
                        "error".into(),
                        "setTraceMask requires long traceMask argument".into(),
                    );
                }
                Some((_, v)) => match v.parse::<i64>() {
                    Ok(mask) => {
                        super::set_trace_mask(mask);
                        m.insert("tracemask".into(), mask.into());
                    }
                    Err(_) => {
                        m.insert(
                            "error".into(),
                            format!("setTraceMask requires long traceMask argument, got {v}")
                                .into(),
                        );
                    }
                },
            }
            return (StatusCode::OK, m);
        }
        "system_properties" => {
            for (k, v) in &cfg.system_properties {
                m.insert(k.clone(), v.clone().into());
            }
            return (StatusCode::OK, m);
        }
        "zabstate" => {
            // Answered while electing too, as ZooKeeper's (then with no server behind it).
            let v = ask(&http.node, Query::Summary).await;
            match v
                .as_ref()
                .and_then(|v| v.ensemble.as_ref().map(|e| (v.zxid, e)))
            {
                Some((zxid, e)) => super::ensemble::zab_state(&mut m, cfg, zxid, e),
                None => {
                    m.insert("voting".into(), false.into());
                    m.insert("zabstate".into(), "".into());
                }
            }
            return (StatusCode::OK, m);
        }
        _ => {}
    }
    let q = match cmd {
        "connections" | "stats" => Query::Connections,
        "connection_stat_reset" => Query::ResetConnections,
        "dump" => Query::Dump,
        "watches" | "watches_by_path" | "watch_summary" => Query::Watches,
        "hash" => Query::Hash,
        _ => Query::Summary,
    };
    let Some(v) = ask(&http.node, q).await.filter(|v| v.serving) else {
        m.insert("error".into(), super::NOT_SERVING.into());
        return (StatusCode::OK, m);
    };
    match cmd {
        "configuration" => {
            m.insert(
                "client_port".into(),
                cfg.client_port.map_or(-1, i32::from).into(),
            );
            m.insert(
                "data_dir".into(),
                cfg.data_dir.join("version-2").display().to_string().into(),
            );
            m.insert(
                "data_log_dir".into(),
                cfg.data_log_dir
                    .join("version-2")
                    .display()
                    .to_string()
                    .into(),
            );
            m.insert("tick_time".into(), cfg.tick_time.into());
            m.insert("max_client_cnxns".into(), cfg.max_client_cnxns.into());
            m.insert("min_session_timeout".into(), cfg.min_session_timeout.into());
            m.insert("max_session_timeout".into(), cfg.max_session_timeout.into());
            m.insert("server_id".into(), cfg.server_id.into());
            m.insert("client_port_listen_backlog".into(), (-1).into());
        }
        "connection_stat_reset" | "observer_connection_stat_reset" | "ruok" => {}
        "stat_reset" => stats().reset_server_stats(),
        "connections" => {
            let conns: Vec<Json> = v.connections.iter().map(|c| conn_json(c, false)).collect();
            m.insert("connections".into(), conns.into());
            m.insert("secure_connections".into(), Json::Array(vec![]));
        }
        "dirs" => {
            let cfg2 = cfg.clone();
            let (d, l) = tokio::task::spawn_blocking(move || dir_sizes(&cfg2))
                .await
                .unwrap_or((0, 0));
            m.insert("datadir_size".into(), d.into());
            m.insert("logdir_size".into(), l.into());
        }
        "dump" => {
            let expiry: Map<String, Json> = v
                .sessions_by_expiry
                .iter()
                .map(|(t, ids)| (t.to_string(), ids.clone().into()))
                .collect();
            let eph: Map<String, Json> = v
                .ephemerals
                .iter()
                .map(|(s, p)| (s.to_string(), p.clone().into()))
                .collect();
            m.insert("expiry_time_to_session_ids".into(), expiry.into());
            m.insert("session_id_to_ephemeral_paths".into(), eph.into());
        }
        "hash" => {
            let d: Vec<Json> = v
                .digests
                .iter()
                .map(|(z, d)| json!({"zxid": z, "digest": d}))
                .collect();
            m.insert("digests".into(), d.into());
        }
        "initial_configuration" => {
            let file = cfg.file.clone();
            let text = tokio::fs::read_to_string(&file).await.unwrap_or_default();
            m.insert("initial_configuration".into(), text.into());
        }
        "is_read_only" => {
            m.insert("read_only".into(), (v.mode == "read-only").into());
        }
        "last_snapshot" => {
            let (z, t) = v.last_snapshot.unwrap_or((0, 0));
            m.insert("zxid".into(), format!("{z:x}").into());
            m.insert("timestamp".into(), t.into());
        }
        "leader" => match &v.ensemble {
            Some(e) => {
                m.insert("is_leader".into(), e.leading.into());
                m.insert("leader_id".into(), e.master.into());
                m.insert("leader_ip".into(), e.master_hosts.clone().into());
            }
            None => {
                m.insert("error".into(), "server is not initialized".into());
            }
        },
        "monitor" => {
            m.extend(jvalues(&monitor_values(&v)));
        }
        "observers" => {
            m.insert(
                "synced_observers".into(),
                v.ensemble
                    .as_ref()
                    .and_then(|e| e.synced_observers)
                    .unwrap_or(0)
                    .into(),
            );
            m.insert("observers".into(), Json::Array(vec![]));
        }
        "server_stats" | "stats" => {
            let cfg2 = cfg.clone();
            let dirs = tokio::task::spawn_blocking(move || dir_sizes(&cfg2))
                .await
                .unwrap_or((0, 0));
            m.extend(server_stats_json(&v, dirs));
            if cmd == "stats" {
                let conns: Vec<Json> = v.connections.iter().map(|c| conn_json(c, true)).collect();
                m.insert("connections".into(), conns.into());
                m.insert("secure_connections".into(), Json::Array(vec![]));
            }
        }
        "voting_view" => {
            m.insert(
                "current_config".into(),
                super::ensemble::voting_view(cfg, &v),
            );
        }
        "watch_summary" => {
            let total: usize = v.watches_by_path.values().map(|s| s.len()).sum();
            m.insert("num_connections".into(), v.watches_by_session.len().into());
            m.insert("num_paths".into(), v.watches_by_path.len().into());
            m.insert("num_total_watches".into(), total.into());
        }
        "watches" => {
            let w: Map<String, Json> = v
                .watches_by_session
                .iter()
                .map(|(s, p)| (s.to_string(), p.clone().into()))
                .collect();
            m.insert("session_id_to_watched_paths".into(), w.into());
        }
        "watches_by_path" => {
            let w: Map<String, Json> = v
                .watches_by_path
                .iter()
                .map(|(p, s)| (p.clone(), s.clone().into()))
                .collect();
            m.insert("path_to_session_ids".into(), w.into());
        }
        _ => {}
    }
    (StatusCode::OK, m)
}

/// `/metrics`: gauges are read from the node at scrape time; counters and summaries are
/// kept as they happen.
async fn metrics(http: &Http, h: &PrometheusHandle) -> Resp {
    let v = ask(&http.node, Query::Summary).await;
    respond(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        prometheus::render(v.as_ref(), h),
    )
}
