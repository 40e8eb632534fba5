//! ferrozk: a ZooKeeper server, wire-compatible with Apache ZooKeeper 3.8/3.9.

pub mod acl;
pub mod config;
pub mod net;
pub mod node;
pub mod pipeline;
pub mod session;
pub mod storage;
pub mod tree;
pub mod txn;
pub mod watch;
pub mod zab;

use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Binds the client port and runs the server until the process ends.
pub async fn run(cfg: config::Config) -> std::io::Result<()> {
    let addr: SocketAddr = cfg.client_address();
    let net_cfg = net::NetConfig {
        max_buffer: cfg.max_buffer,
        max_client_cnxns: cfg.max_client_cnxns,
        max_session_timeout_ms: cfg.max_session_timeout,
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
    // Recovery reads files: off the async workers, and before any client can connect.
    let node = tokio::task::spawn_blocking(move || node::Node::new(cfg))
        .await
        .map_err(std::io::Error::other)?
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(
        "ferrozk {} serving clients on {} ({summary})",
        env!("CARGO_PKG_VERSION"),
        listener.local_addr()?,
    );
    let (tx, rx) = tokio::sync::mpsc::channel(4096);
    let core = tokio::spawn(node.run(rx));
    tokio::select! {
        _ = net::serve(listener, tx, net_cfg) => Ok(()),
        // While `serve` runs it holds a sender, so the node ends only by panicking: stop
        // the process rather than keep accepting clients nobody serves.
        end = core => Err(std::io::Error::other(format!("the node task ended: {end:?}"))),
    }
}
