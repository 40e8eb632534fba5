//! ferrozk: a ZooKeeper server, wire-compatible with Apache ZooKeeper 3.8/3.9.

pub mod acl;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod migrate;
pub mod net;
pub mod node;
pub mod ops;
pub mod pipeline;
pub mod quorum;
pub mod sasl;
pub mod session;
pub mod stats;
pub mod storage;
pub mod tls;
pub mod tree;
pub mod txn;
pub mod watch;
pub mod zab;

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Binds the client port (and the AdminServer and metrics ports when configured) and runs
/// the server until SIGTERM or SIGINT, then shuts down cleanly: no new connections, writes
/// in flight are made durable and answered, and the listeners close.
pub async fn run(cfg: config::Config) -> std::io::Result<()> {
    if let Some(q) = &cfg.quorum {
        if q.participants() > 1 || !q.standalone_enabled {
            tracing::info!(
                "ensemble of {} participants: this is server {}",
                q.participants(),
                cfg.server_id
            );
        } else {
            tracing::info!(
                "one participant in the server list and standaloneEnabled: serving standalone, as ZooKeeper does"
            );
        }
    }
    for w in &cfg.ignored {
        tracing::warn!("zoo.cfg: {w}");
    }
    let addr: Option<SocketAddr> = cfg.client_address();
    let cfg = Arc::new(cfg);
    let net_cfg = net::NetConfig {
        max_buffer: cfg.max_buffer,
        max_client_cnxns: cfg.max_client_cnxns,
        max_session_timeout_ms: cfg.max_session_timeout,
        cfg: cfg.clone(),
        whitelist: Arc::new(ops::Whitelist::from_config(&cfg)),
    };
    let summary = format!(
        "tickTime={}ms, sessions {}..{}ms, jute.maxbuffer={}, dataDir={}, dataLogDir={}",
        cfg.tick_time,
        cfg.min_session_timeout,
        cfg.max_session_timeout,
        cfg.max_buffer,
        cfg.data_dir.display(),
        cfg.data_log_dir.display()
    );
    // Before recovery, so that its timings are recorded.
    let prometheus = ops::admin::prometheus_from_config(&cfg);
    // Recovery reads files: off the async workers, and before any client can connect.
    let node_cfg = (*cfg).clone();
    let mut node = tokio::task::spawn_blocking(move || node::Node::new(node_cfg))
        .await
        .map_err(std::io::Error::other)?
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let listener = match addr {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    match &listener {
        Some(l) => tracing::info!(
            "ferrozk {} serving clients on {} ({summary})",
            env!("CARGO_PKG_VERSION"),
            l.local_addr()?,
        ),
        None => tracing::info!(
            "ferrozk {} serving TLS clients only (no clientPort) ({summary})",
            env!("CARGO_PKG_VERSION"),
        ),
    }
    // TLS: the stores are read before serving (a store that does not load stops start-up,
    // naming it), then watched for changes.
    let tls = match cfg.settings.client_tls.clone() {
        None => None,
        Some(t) => {
            let x509 = cfg.settings.x509.clone();
            let tls = tokio::task::spawn_blocking(move || tls::ServerTls::new(t, x509))
                .await
                .map_err(std::io::Error::other)?
                .map_err(|e| std::io::Error::other(format!("client TLS: {e}")))?;
            Some(tls)
        }
    };
    let mut secure_listener = None;
    if let Some(t) = &tls {
        if let Some(port) = t.settings().secure_port {
            let ip = t
                .settings()
                .secure_address
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            let l = TcpListener::bind((ip, port)).await?;
            tracing::info!("serving TLS clients on {}", l.local_addr()?);
            secure_listener = Some(l);
        }
        if t.settings().port_unification {
            tracing::info!("client.portUnification: the client port also takes TLS connections");
        }
        let t = t.clone();
        tls::reload::poll(move || t.reload_if_changed());
    }
    let plain_transport = match &tls {
        Some(t) if t.settings().port_unification => net::Transport::Unified(t.clone()),
        _ => net::Transport::Plain,
    };
    tracing::info!(
        "four-letter words enabled: {}",
        net_cfg.whitelist.list().join(",")
    );
    let (senders, inputs) = node::channels();
    node.set_senders(senders.clone());
    node.start_ensemble().await?;
    let http = Arc::new(ops::admin::Http::new(
        senders.ops.clone(),
        cfg.clone(),
        prometheus,
        tls.clone(),
    ));
    let mut http_tasks = Vec::new();
    let admin = &cfg.settings.admin;
    // HTTPS: the ssl.quorum key store, as ZooKeeper's AdminServer uses it. As in ZooKeeper, a
    // store that does not load leaves the server without its AdminServer (never plain HTTP).
    let mut admin_enabled = admin.enabled;
    let admin_https = match cfg.settings.admin_tls.clone().filter(|_| admin.enabled) {
        None => None,
        Some(a) => {
            let c = a.common.clone();
            match tokio::task::spawn_blocking(move || tls::admin_config(&c))
                .await
                .map_err(std::io::Error::other)?
            {
                Ok(config) => {
                    tracing::info!(
                        "AdminServer HTTPS: {}",
                        if a.force_https {
                            "forceHttps (TLS only)"
                        } else {
                            "portUnification (TLS and plain HTTP)"
                        }
                    );
                    Some(ops::admin::Https {
                        config,
                        force: a.force_https,
                    })
                }
                Err(e) => {
                    tracing::error!("AdminServer HTTPS: {e}; the AdminServer is not started");
                    admin_enabled = false;
                    None
                }
            }
        }
    };
    if admin_enabled {
        let (host, port) = (admin.address.as_str(), admin.port);
        match bind_http(host, port).await {
            Ok(l) => {
                tracing::info!(
                    "AdminServer on {} with command URL {}",
                    l.local_addr()?,
                    http.command_url
                );
                http_tasks.push(tokio::spawn(ops::admin::serve(
                    l,
                    http.clone(),
                    admin_https.clone(),
                )));
            }
            // As ZooKeeper: a server without its AdminServer still serves clients.
            Err(e) => tracing::error!("problem starting the AdminServer on {host}:{port}: {e}"),
        }
    }
    if let Some(h) = http.prometheus.clone() {
        let m = &cfg.settings.metrics;
        let host = m.host.as_str();
        // HTTPS (ZooKeeper 3.10's httpsPort): its own port, or the HTTP port's too (both
        // served there, told apart by the first byte), as Jetty's unified connector.
        let https = match &m.https {
            None => None,
            Some(t) => {
                let c = t.common.clone();
                let config = tokio::task::spawn_blocking(move || tls::admin_config(&c))
                    .await
                    .map_err(std::io::Error::other)?
                    .map_err(|e| std::io::Error::other(format!("Prometheus HTTPS: {e}")))?;
                Some((t.port, config))
            }
        };
        let mut listeners = Vec::new();
        match (m.port, &https) {
            (Some(p), Some((sp, config))) if p == *sp => listeners.push((
                p,
                Some(ops::admin::Https {
                    config: config.clone(),
                    force: false,
                }),
            )),
            (plain, secure) => {
                if let Some(p) = plain {
                    listeners.push((p, None));
                }
                if let Some((sp, config)) = secure {
                    listeners.push((
                        *sp,
                        Some(ops::admin::Https {
                            config: config.clone(),
                            force: true,
                        }),
                    ));
                }
            }
        }
        for (port, https) in listeners {
            // As ZooKeeper: a metrics provider that cannot start stops the server.
            let l = bind_http(host, port).await.map_err(|e| {
                std::io::Error::other(format!(
                    "cannot start the Prometheus endpoint on {host}:{port}: {e}"
                ))
            })?;
            let scheme = match &https {
                None => "http",
                Some(h) if h.force => "https",
                Some(_) => "http and https",
            };
            tracing::info!(
                "Prometheus metrics on {scheme}://{}/metrics",
                l.local_addr()?
            );
            http_tasks.push(tokio::spawn(ops::admin::serve(l, http.clone(), https)));
        }
        // The exporter drains its histograms on upkeep; without a scrape they would grow.
        http_tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                every.tick().await;
                h.run_upkeep();
            }
        }));
    }
    let core = tokio::spawn(node.run(inputs));
    let shutdown_tx = senders.control.clone();
    let to_node = net::ToNode {
        clients: senders.clients.clone(),
        ops: senders.ops.clone(),
    };
    // The node holds senders of its own inputs, so it runs until shutdown (Control::Shutdown).
    drop(senders);
    let res = tokio::select! {
        _ = async {
            let secure = async {
                if let (Some(l), Some(t)) = (secure_listener, tls) {
                    net::serve(l, to_node.clone(), net_cfg.clone(), net::Transport::Tls(t)).await
                }
            };
            let plain = async {
                if let Some(l) = listener {
                    net::serve(l, to_node.clone(), net_cfg.clone(), plain_transport).await
                }
            };
            tokio::join!(plain, secure)
        } => Ok(()),
        // While `serve` runs it holds a sender, so the node ends only by panicking: stop
        // the process rather than keep accepting clients nobody serves.
        end = core => return Err(std::io::Error::other(format!("the node task ended: {end:?}"))),
        sig = shutdown_signal() => {
            tracing::info!("{sig} received: shutting down");
            Ok(())
        }
    };
    // The client listener is closed (the accept loop is gone); stop the HTTP listeners and
    // let the node finish what is in flight.
    for t in http_tasks {
        t.abort();
    }
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    if shutdown_tx
        .send(node::Control::Shutdown { done: done_tx })
        .await
        .is_ok()
    {
        match tokio::time::timeout(std::time::Duration::from_secs(30), done_rx).await {
            Ok(Ok(n)) => tracing::info!("shutdown: {n} writes in flight were completed"),
            _ => tracing::warn!("shutdown: the node did not finish its writes in time"),
        }
    }
    // Give connection writers a moment to flush the last replies.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    tracing::info!("ferrozk stopped");
    res
}

async fn bind_http(host: &str, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind((host.trim(), port)).await
}

/// SIGTERM (service managers, zkServer.sh stop) or SIGINT (Ctrl-C).
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
