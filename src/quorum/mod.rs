//! Sockets between the servers of an ensemble. `election` runs fast leader election over the
//! election port; the rest carries ZAB QuorumPackets between the leader and its learners over
//! the quorum port. What the packets mean is decided in `node` (the runtime that owns the
//! state) and `zab` (the pure agreement rules); this module only moves bytes and reports.

pub mod election;
pub mod packet;

use crate::tls::quorum::{QStream, Transport};
use bytes::{Bytes, BytesMut};
use packet::Packet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub type LinkId = u64;

/// The node's handle on a leader-learner connection: packets out, and a switch to cut it.
#[derive(Clone)]
pub struct Link {
    pub id: LinkId,
    pub peer: SocketAddr,
    tx: mpsc::UnboundedSender<Bytes>,
    kill: CancellationToken,
}

impl Link {
    pub fn send(&self, p: &Packet) {
        let _ = self.tx.send(p.encode());
    }

    /// Already-encoded packets (a SNAP stream, or one proposal encoded once for all).
    pub fn send_raw(&self, b: Bytes) {
        let _ = self.tx.send(b);
    }

    pub fn close(&self) {
        self.kill.cancel();
    }

    pub fn is_closed(&self) -> bool {
        self.kill.is_cancelled()
    }

    /// A link with no socket behind it: what the node sends comes out of the receiver (the
    /// deterministic simulation carries it).
    #[doc(hidden)]
    pub fn detached(peer: SocketAddr) -> (Link, mpsc::UnboundedReceiver<Bytes>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = NEXT_LINK.fetch_add(1, Ordering::Relaxed);
        (
            Link {
                id,
                peer,
                tx,
                kill: CancellationToken::new(),
            },
            rx,
        )
    }
}

/// What a link tells the node.
pub enum LinkEvent {
    Up(Link),
    /// An observer dialled this follower's observer master port.
    ObserverUp(Link),
    Packet(LinkId, Packet),
    /// The snapshot stream that followed a SNAP packet.
    Snapshot(LinkId, Bytes),
    Down(LinkId, String),
}

static NEXT_LINK: AtomicU64 = AtomicU64::new(1);

/// `to_leader`: this node dialled the link to follow a leader. Only such a link reads the
/// snapshot stream after a SNAP packet; on a link a stranger opened to the quorum port, SNAP is
/// an ordinary packet, which a leader ignores.
fn start_link(
    id: LinkId,
    stream: QStream,
    peer: SocketAddr,
    node: mpsc::Sender<LinkEvent>,
    max: usize,
    to_leader: bool,
) -> Link {
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let kill = CancellationToken::new();
    let link = Link {
        id,
        peer,
        tx,
        kill: kill.clone(),
    };
    let (rd, mut wr) = tokio::io::split(stream);
    let k = kill.clone();
    tokio::spawn(async move {
        // Everything queued goes out in one write where it can.
        let mut buf = BytesMut::new();
        loop {
            // What was queued before the link was closed still goes out (a leader that
            // hands over closes its links right after COMMITANDACTIVATE).
            let first = tokio::select! {
                biased;
                m = rx.recv() => m,
                _ = k.cancelled() => None,
            };
            let Some(first) = first else { break };
            // A large buffer (a SNAP stream) goes out as it is, not copied; small packets
            // are gathered into one write.
            let mut big = None;
            if first.len() >= 1 << 20 {
                big = Some(first);
            } else {
                buf.extend_from_slice(&first);
                while buf.len() < 1 << 20 {
                    match rx.try_recv() {
                        Ok(b) if b.len() >= 1 << 20 => {
                            big = Some(b);
                            break;
                        }
                        Ok(b) => buf.extend_from_slice(&b),
                        Err(_) => break,
                    }
                }
            }
            if !buf.is_empty() && wr.write_all(&buf).await.is_err() {
                k.cancel();
                break;
            }
            buf.clear();
            if let Some(b) = big {
                if wr.write_all(&b).await.is_err() {
                    k.cancel();
                    break;
                }
            }
            // On TLS, write_all may leave the last records in the TLS buffer.
            if wr.flush().await.is_err() {
                k.cancel();
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    tokio::spawn(async move {
        let mut rd = BufReader::with_capacity(64 * 1024, rd);
        let why = loop {
            let p = tokio::select! {
                p = packet::read(&mut rd, max) => p,
                _ = kill.cancelled() => break "closed".to_string(),
            };
            let p = match p {
                Ok(p) => p,
                Err(e) => break e.to_string(),
            };
            let snap = to_leader && p.kind == jute::PacketType::Snap.code();
            if node.send(LinkEvent::Packet(id, p)).await.is_err() {
                return;
            }
            if snap {
                let s = tokio::select! {
                    s = packet::read_snapshot(&mut rd, max) => s,
                    _ = kill.cancelled() => break "closed".to_string(),
                };
                match s {
                    Ok(s) => {
                        if node.send(LinkEvent::Snapshot(id, s)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => break format!("reading the leader's snapshot: {e}"),
                }
            }
        };
        kill.cancel();
        let _ = node.send(LinkEvent::Down(id, why)).await;
    });
    link
}

/// Accepts learners on the quorum port; the node decides whether it is leading. With
/// `observer_master`, the listener is a follower's observer master port: it accepts observers
/// until the token is cancelled (the follower leaves its leader).
pub async fn serve_quorum(
    listener: TcpListener,
    node: mpsc::Sender<LinkEvent>,
    max: usize,
    tls: Transport,
    observer_master: Option<CancellationToken>,
) {
    let stop = observer_master.clone().unwrap_or_default();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.cancelled() => return,
        };
        match accepted {
            Ok((tcp, peer)) => {
                debug!("quorum connection from {peer}");
                let _ = tcp.set_nodelay(true);
                let (node, tls) = (node.clone(), tls.clone());
                let om = observer_master.is_some();
                // The TLS handshake (or the wait to tell TLS from plaintext) runs apart, so
                // that one slow peer holds up no other.
                tokio::spawn(async move {
                    let mut stream = match crate::tls::quorum::accept(&tls, tcp).await {
                        Ok(s) => s,
                        Err(e) => {
                            warn!("quorum connection from {peer}: {e}; closing it");
                            return;
                        }
                    };
                    let who = format!("learner {peer}");
                    let wait = Duration::from_secs(10);
                    if let Err(e) =
                        crate::tls::quorum::authenticate_accepted(&tls, &mut stream, &who, wait)
                            .await
                    {
                        warn!("quorum connection from {peer}: {e}; closing it");
                        return;
                    }
                    let id = NEXT_LINK.fetch_add(1, Ordering::Relaxed);
                    let link = start_link(id, stream, peer, node.clone(), max, false);
                    let ev = if om {
                        LinkEvent::ObserverUp(link)
                    } else {
                        LinkEvent::Up(link)
                    };
                    let _ = node.send(ev).await;
                });
            }
            Err(e) => {
                warn!("accepting quorum connections: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A learner dials its leader: up to `attempts` tries a second apart, as ZooKeeper's
/// Learner.connectToLeader. Returns the id the link will have: `Up` reports the link with that
/// id, or `Down` with that id when all tries failed, so that the node can tell this attempt's
/// outcome from an older one's still in its queue.
#[allow(clippy::too_many_arguments)]
pub fn connect_to_leader(
    addrs: Vec<(String, u16)>,
    reach: Duration,
    attempts: u32,
    node: mpsc::Sender<LinkEvent>,
    max: usize,
    cancel: CancellationToken,
    tls: Transport,
) -> LinkId {
    let id = NEXT_LINK.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        let mut last = String::new();
        let mut addrs = addrs;
        // An address whose handshake failed goes last for the next try.
        let demote = |addrs: &mut Vec<(String, u16)>, bad: &(String, u16)| {
            if let Some(i) = addrs.iter().position(|a| a == bad) {
                let a = addrs.remove(i);
                addrs.push(a);
            }
        };
        for i in 0..attempts.max(1) {
            if i > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = cancel.cancelled() => return,
                }
            }
            // The first of the leader's addresses that answers (each of several gets
            // `reach`, ZooKeeper's reachability check).
            let conn = election::connect_first(&addrs, reach, "the leader").await;
            match conn {
                Some((tcp, addr)) => {
                    if cancel.is_cancelled() {
                        return;
                    }
                    let _ = tcp.set_nodelay(true);
                    let peer = tcp
                        .peer_addr()
                        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                    let mut stream = match crate::tls::quorum::connect(&tls, tcp, &addr.0).await {
                        Ok(s) => s,
                        Err(e) => {
                            last = e.to_string();
                            demote(&mut addrs, &addr);
                            continue;
                        }
                    };
                    let who = format!("the leader at {peer}");
                    if let Err(e) =
                        crate::tls::quorum::authenticate_dialled(&tls, &mut stream, &addr.0, &who)
                            .await
                    {
                        warn!("{e}");
                        last = e.to_string();
                        demote(&mut addrs, &addr);
                        continue;
                    }
                    info!("connected to the leader at {peer}");
                    let link = start_link(id, stream, peer, node.clone(), max, true);
                    let _ = node.send(LinkEvent::Up(link)).await;
                    return;
                }
                None => last = "no address of the leader answered".into(),
            }
        }
        if !cancel.is_cancelled() {
            let _ = node
                .send(LinkEvent::Down(
                    id,
                    format!(
                        "cannot connect to the leader at {}: {last}",
                        addrs
                            .iter()
                            .map(|(h, p)| format!("{h}:{p}"))
                            .collect::<Vec<_>>()
                            .join("|")
                    ),
                ))
                .await;
        }
    });
    id
}
