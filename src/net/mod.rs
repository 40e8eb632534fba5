//! Bytes on sockets: the client port. Each connection gets a reader task (length-prefixed
//! frames, the handshake, size limits, idle limits) and a writer task that batches whatever the
//! node queued into as few writes as possible. A broken connection is closed and logged; it
//! never affects another.

use crate::config::Config;
use crate::ops::{self, FourLetterCtx, OpsRequest, Whitelist};
use crate::stats::stats;
use crate::tls::ServerTls;
use bytes::{Bytes, BytesMut};
use jute::Id;
use jute::{ConnectRequest, Decode, Reader, RequestHeader};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

pub type ConnId = u64;

/// What a connection's writer receives.
#[derive(Debug)]
pub enum Out {
    Frame(Bytes),
    /// Flush what was queued, then close the connection.
    Close,
}

pub type ConnTx = mpsc::UnboundedSender<Out>;

/// What a connection's tasks and the node share: the bounds on a client that sends faster
/// than it reads.
#[derive(Default)]
pub struct ConnShared {
    /// Reply bytes queued for the writer and not yet written to the socket.
    pub queued: AtomicUsize,
    /// Requests handed to the node and not yet answered; the reader stops reading at the
    /// limit (`globalOutstandingLimit`) until the node catches up.
    pub outstanding: AtomicUsize,
    pub wake: tokio::sync::Notify,
    /// Cancelled when the connection must go at once (its queue overflowed).
    pub kill: tokio_util::sync::CancellationToken,
}

/// What connections tell the node, in each connection's order.
pub enum ClientEvent {
    Connect {
        conn: ConnId,
        peer: SocketAddr,
        req: ConnectRequest,
        tx: ConnTx,
        shared: Arc<ConnShared>,
        /// Identities the transport established (x509 from a client certificate).
        ids: Vec<Id>,
    },
    Request {
        conn: ConnId,
        xid: i32,
        op: i32,
        body: Bytes,
    },
    Disconnected {
        conn: ConnId,
    },
}

/// Where connections send: their events, and the questions of four-letter words.
#[derive(Clone)]
pub struct ToNode {
    pub clients: mpsc::Sender<ClientEvent>,
    pub ops: mpsc::Sender<OpsRequest>,
}

/// How long a new connection may take to send its handshake: ZooKeeper's sessionless
/// connection timeout, `nio.sessionlessCnxnTimeout` (10000 ms).
pub fn handshake_timeout(cfg: &Config) -> Duration {
    Duration::from_millis(cfg.settings.handshake_timeout_ms)
}

/// Unread reply bytes a connection may accumulate before it is dropped:
/// `ferrozk.maxClientQueueBytes`, by default 64 MiB (and never less than two of the largest
/// frames, 2 x jute.maxbuffer).
pub fn max_queued_bytes(cfg: &Config) -> usize {
    cfg.settings.max_client_queue_bytes
}

/// Requests one connection may have in the node before its reader pauses:
/// `globalOutstandingLimit` (1000), as ZooKeeper throttles reading at that many.
pub fn outstanding_limit(cfg: &Config) -> usize {
    cfg.settings.outstanding_limit
}

#[derive(Clone)]
pub struct NetConfig {
    pub max_buffer: usize,
    pub max_client_cnxns: u32,
    pub max_session_timeout_ms: u32,
    pub cfg: Arc<Config>,
    pub whitelist: Arc<Whitelist>,
}

/// Connections per client address, for `maxClientCnxns`.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, u32>>);

impl PerIp {
    fn try_add(&self, ip: IpAddr, max: u32) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(ip).or_insert(0);
        if max != 0 && *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    fn remove(&self, ip: IpAddr) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&ip);
            }
        }
    }
}

/// How a listener's connections begin: plaintext, TLS, or either (`client.portUnification`:
/// a first byte 0x16, a TLS handshake record, means TLS).
#[derive(Clone)]
pub enum Transport {
    Plain,
    Tls(Arc<ServerTls>),
    Unified(Arc<ServerTls>),
}

/// A connected byte stream and how it splits into a reader's and a writer's half.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    type R: AsyncRead + Unpin + Send + 'static;
    type W: AsyncWrite + Unpin + Send + 'static;
    fn halves(self) -> (Self::R, Self::W);
}

impl Stream for TcpStream {
    type R = OwnedReadHalf;
    type W = OwnedWriteHalf;
    fn halves(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        self.into_split()
    }
}

type TlsStream = tokio_rustls::server::TlsStream<TcpStream>;

impl Stream for TlsStream {
    type R = tokio::io::ReadHalf<TlsStream>;
    type W = tokio::io::WriteHalf<TlsStream>;
    fn halves(self) -> (Self::R, Self::W) {
        tokio::io::split(self)
    }
}

/// The TLS handshake of a connection, then the connection itself. A failed handshake, or a
/// client certificate the x509 provider refuses, closes only this connection, logged.
async fn secure(
    id: ConnId,
    stream: TcpStream,
    peer: SocketAddr,
    node: ToNode,
    cfg: NetConfig,
    tls: Arc<ServerTls>,
) {
    let built = tls.config();
    let acceptor = tokio_rustls::TlsAcceptor::from(built.config);
    let limit = handshake_timeout(&cfg.cfg);
    let stream = match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            stats().unsuccessful_handshake.inc();
            warn!("unsuccessful TLS handshake with {peer} (connection {id}): {e}");
            return;
        }
        Err(_) => {
            stats().unsuccessful_handshake.inc();
            info!("closing connection {id} from {peer}: no TLS handshake within {limit:?}");
            return;
        }
    };
    if let (Some(r), Some(chain)) = (&built.revocation, stream.get_ref().1.peer_certificates()) {
        if let Err(e) = r.check(chain, crate::tls::revocation::Usage::Client).await {
            stats().auth_failed_count.inc();
            warn!("closing TLS connection {id} from {peer}: {e}");
            return;
        }
    }
    let ids = match tls.identities(stream.get_ref().1.peer_certificates(), peer.ip()) {
        Ok(ids) => ids,
        Err(e) => {
            stats().auth_failed_count.inc();
            warn!("closing TLS connection {id} from {peer}: authentication failed: {e}");
            return;
        }
    };
    connection(id, stream, peer, node, cfg, ids).await
}

/// Accepts client connections until the listener fails.
pub async fn serve(listener: TcpListener, node: ToNode, cfg: NetConfig, transport: Transport) {
    let next = Arc::new(AtomicU64::new(1));
    let per_ip = Arc::new(PerIp::default());
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !per_ip.try_add(peer.ip(), cfg.max_client_cnxns) {
            stats().connection_rejected.inc();
            warn!(
                "too many connections from {} - max is {}",
                peer.ip(),
                cfg.max_client_cnxns
            );
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let id = next.fetch_add(1, Ordering::Relaxed);
        let node = node.clone();
        let cfg = cfg.clone();
        let per_ip = per_ip.clone();
        let transport = transport.clone();
        tokio::spawn(async move {
            match transport {
                Transport::Plain => connection(id, stream, peer, node, cfg, Vec::new()).await,
                Transport::Tls(tls) => secure(id, stream, peer, node, cfg, tls).await,
                Transport::Unified(tls) => {
                    let mut b = [0u8; 1];
                    let limit = handshake_timeout(&cfg.cfg);
                    match tokio::time::timeout(limit, stream.peek(&mut b)).await {
                        Ok(Ok(1)) if b[0] == 0x16 => secure(id, stream, peer, node, cfg, tls).await,
                        Ok(Ok(1)) => connection(id, stream, peer, node, cfg, Vec::new()).await,
                        _ => debug!("connection {id} from {peer} closed before its first byte"),
                    }
                }
            }
            per_ip.remove(peer.ip());
        });
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("closed by peer")]
    Eof,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("Len error {0}")]
    Len(i64),
    #[error("no handshake within {0:?}")]
    HandshakeTimeout(Duration),
    #[error("no request within the session timeout")]
    Idle,
    #[error("malformed {0}: {1}")]
    Malformed(&'static str, jute::DecodeError),
    #[error("server shutting down")]
    NodeGone,
    #[error("the client does not read its replies")]
    Overflow,
}

async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    max: usize,
    buf: &mut BytesMut,
) -> Result<Bytes, ConnError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(ConnError::Eof),
        Err(e) => return Err(e.into()),
    }
    let n = i32::from_be_bytes(len);
    if n < 0 || n as usize > max {
        return Err(ConnError::Len(n as i64));
    }
    buf.resize(n as usize, 0);
    r.read_exact(&mut buf[..]).await?;
    Ok(buf.split().freeze())
}

/// ZooKeeper's four-letter words, recognised from the first four bytes of a connection.
fn four_letter(b: [u8; 4]) -> Option<&'static str> {
    let s = std::str::from_utf8(&b).ok()?;
    ops::FOUR_LETTER_WORDS.iter().copied().find(|w| *w == s)
}

/// Answers a four-letter word and closes the connection, as ZooKeeper does.
async fn four_letter_word<S: AsyncRead + AsyncWrite + Unpin>(
    word: &'static str,
    mut stream: S,
    peer: SocketAddr,
    node: &ToNode,
    cfg: &NetConfig,
) {
    let text = if !cfg.whitelist.enabled(word) {
        info!("four-letter word {word} from {peer} refused: not in 4lw.commands.whitelist");
        format!("{word} is not executed because it is not in the whitelist.\n")
    } else {
        debug!("four-letter word {word} from {peer}");
        let mut trace_mask = None;
        if word == "stmk" {
            let mut b = [0u8; 8];
            match tokio::time::timeout(handshake_timeout(&cfg.cfg), stream.read_exact(&mut b)).await
            {
                Ok(Ok(_)) => trace_mask = Some(i64::from_be_bytes(b)),
                _ => return,
            }
        }
        // Words that need nothing from the node are answered even while it is not serving.
        let view = match ops::query_for(word) {
            Some(q) => ops::admin::ask(&node.ops, q).await,
            None => Some(ops::NodeView {
                serving: true,
                ..Default::default()
            }),
        };
        let (data_dir_size, log_dir_size) = if matches!(word, "conf" | "dirs") {
            let c = cfg.cfg.clone();
            tokio::task::spawn_blocking(move || {
                (
                    ops::process::dir_size(&c.data_dir.join("version-2")),
                    ops::process::dir_size(&c.data_log_dir.join("version-2")),
                )
            })
            .await
            .unwrap_or((0, 0))
        } else {
            (0, 0)
        };
        let ctx = FourLetterCtx {
            cfg: &cfg.cfg,
            peer,
            data_dir_size,
            log_dir_size,
            trace_mask,
        };
        ops::four_letter_text(word, view.as_ref(), &ctx)
    };
    let _ = stream.write_all(text.as_bytes()).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
    // Clients often send a newline after the word ("stat\n"): closing with it unread would
    // reset the connection, and a client still shutting down its side (zktop, `nc -q`) then
    // fails. Read what is left, briefly and boundedly, until the client closes.
    let mut rest = [0u8; 512];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        for _ in 0..8 {
            match stream.read(&mut rest).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
}

async fn connection<S: Stream>(
    id: ConnId,
    mut stream: S,
    peer: SocketAddr,
    node: ToNode,
    cfg: NetConfig,
    ids: Vec<Id>,
) {
    // The first four bytes: a four-letter word or the length of the ConnectRequest.
    let mut first = [0u8; 4];
    let handshake = handshake_timeout(&cfg.cfg);
    match tokio::time::timeout(handshake, stream.read_exact(&mut first)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            debug!("connection {id} from {peer} closed before its handshake: {e}");
            return;
        }
        Err(_) => {
            stats().sessionless_connections_expired.inc();
            info!("closing connection {id} from {peer}: no handshake within {handshake:?}");
            return;
        }
    }
    if let Some(word) = four_letter(first) {
        return four_letter_word(word, stream, peer, &node, &cfg).await;
    }
    let (rd, wr) = stream.halves();
    // Buffered: a client pipelining requests has many frames read per system call.
    let mut rd = BufReader::with_capacity(16 * 1024, rd);
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(ConnShared::default());
    let writer = tokio::spawn(write_loop(wr, rx, shared.clone()));
    let res = tokio::select! {
        r = read_loop(id, first, &mut rd, peer, &node, &cfg, tx, &shared, ids) => r,
        _ = shared.kill.cancelled() => Err(ConnError::Overflow),
    };
    match &res {
        Err(ConnError::Malformed("ConnectRequest", _)) | Err(ConnError::HandshakeTimeout(_)) => {
            stats().unsuccessful_handshake.inc();
        }
        Err(ConnError::Len(_)) => stats().large_requests_rejected.inc(),
        _ => {}
    }
    match &res {
        Err(ConnError::Eof) | Ok(()) => debug!("connection {id} from {peer} closed"),
        Err(e) => info!("closing connection {id} from {peer}: {e}"),
    }
    let _ = node
        .clients
        .send(ClientEvent::Disconnected { conn: id })
        .await;
    // The writer ends when the node drops its sender (after Disconnected) or sends Close.
    let _ = writer.await;
}

#[allow(clippy::too_many_arguments)]
async fn read_loop<R: AsyncRead + Unpin>(
    id: ConnId,
    len: [u8; 4],
    rd: &mut BufReader<R>,
    peer: SocketAddr,
    node: &ToNode,
    cfg: &NetConfig,
    tx: mpsc::UnboundedSender<Out>,
    shared: &Arc<ConnShared>,
    ids: Vec<Id>,
) -> Result<(), ConnError> {
    let limit = outstanding_limit(&cfg.cfg);
    let mut buf = BytesMut::with_capacity(1024);
    // The rest of the handshake: the ConnectRequest.
    let handshake = handshake_timeout(&cfg.cfg);
    let first = tokio::time::timeout(handshake, async {
        let n = i32::from_be_bytes(len);
        if n < 0 || n as usize > cfg.max_buffer {
            return Err(ConnError::Len(n as i64));
        }
        buf.resize(n as usize, 0);
        rd.read_exact(&mut buf[..]).await?;
        Ok(buf.split().freeze())
    })
    .await
    .map_err(|_| ConnError::HandshakeTimeout(handshake))??;
    let mut r = Reader::new(first);
    let req =
        ConnectRequest::decode(&mut r).map_err(|e| ConnError::Malformed("ConnectRequest", e))?;
    let idle = Duration::from_millis(
        req.time_out.clamp(1, cfg.max_session_timeout_ms as i32) as u64 + 2_000,
    );
    node.clients
        .send(ClientEvent::Connect {
            conn: id,
            peer,
            req,
            tx,
            shared: shared.clone(),
            ids,
        })
        .await
        .map_err(|_| ConnError::NodeGone)?;
    loop {
        let frame = match tokio::time::timeout(idle, read_frame(rd, cfg.max_buffer, &mut buf)).await
        {
            Ok(f) => f?,
            Err(_) => return Err(ConnError::Idle),
        };
        stats().bytes_received_count.add(frame.len() as u64 + 4);
        let mut r = Reader::new(frame);
        let h =
            RequestHeader::decode(&mut r).map_err(|e| ConnError::Malformed("RequestHeader", e))?;
        // Throttle: with `limit` requests unanswered, stop reading until one is answered;
        // TCP then slows the client down.
        while shared.outstanding.load(Ordering::Acquire) >= limit {
            // Bounded: a connection the node closed meanwhile ends within the idle limit.
            if tokio::time::timeout(idle, shared.wake.notified())
                .await
                .is_err()
            {
                return Err(ConnError::Idle);
            }
        }
        shared.outstanding.fetch_add(1, Ordering::AcqRel);
        node.clients
            .send(ClientEvent::Request {
                conn: id,
                xid: h.xid,
                op: h.op,
                body: r.rest(),
            })
            .await
            .map_err(|_| ConnError::NodeGone)?;
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::UnboundedReceiver<Out>,
    shared: Arc<ConnShared>,
) {
    let mut batch = BytesMut::with_capacity(8192);
    loop {
        let first = tokio::select! {
            m = rx.recv() => match m {
                Some(m) => m,
                None => break,
            },
            // Dropped for not reading: whatever is queued is discarded.
            _ = shared.kill.cancelled() => return,
        };
        let mut close = false;
        let mut next = Some(first);
        while let Some(m) = next {
            match m {
                Out::Frame(b) => batch.extend_from_slice(&b),
                Out::Close => {
                    close = true;
                    break;
                }
            }
            if batch.len() > 256 * 1024 {
                break;
            }
            next = rx.try_recv().ok();
        }
        if !batch.is_empty() {
            // Flushed: on TLS, write_all may leave the last records in the TLS buffer.
            let written = tokio::select! {
                r = async {
                    wr.write_all(&batch).await?;
                    wr.flush().await
                } => r.is_ok(),
                _ = shared.kill.cancelled() => return,
            };
            if !written {
                break;
            }
            shared.queued.fetch_sub(batch.len(), Ordering::AcqRel);
        }
        batch.clear();
        if close {
            break;
        }
    }
    let _ = wr.shutdown().await;
}
