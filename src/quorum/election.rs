//! The election connections (ZooKeeper's QuorumCnxManager) and the task that runs fast leader
//! election over them. One connection per pair of servers survives, the one the higher id
//! opened; a lower id that dials in is hung up on and dialled back. Each connection carries
//! length-framed notifications both ways; a peer is sent only the newest notification meant
//! for it (ZooKeeper's send queue holds one), so a slow or absent peer costs nothing.

use crate::config::QuorumServer;
use crate::tls::quorum::{QStream, Transport};
use crate::zab::cnx::{self, InitialMessage};
use crate::zab::election::{Election, Members, Notification, Out, Vote};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// What the election tells the node.
#[derive(Debug)]
pub enum Event {
    /// The round is decided.
    Decided(Vote),
    /// A peer's notification carried a newer configuration (its text).
    NewerConfig(Bytes),
}

/// What the node asks of the election.
pub enum Cmd {
    /// Start a round: the node has stopped serving; its history ends at `last_zxid`.
    Look { last_zxid: i64, current_epoch: i64 },
    /// The node leads or follows in this epoch now: its vote says so to servers that join
    /// later (QuorumPeer.updateElectionVote, ZOOKEEPER-1732).
    Settled { epoch: i64 },
    /// A new configuration is active: its members vote, its servers are dialled (and
    /// peers no longer in it are let go), its text goes in notifications.
    Reconfig {
        servers: BTreeMap<u64, QuorumServer>,
        members: Members,
        config: Bytes,
    },
    /// The node took a role without a round (a reconfiguration named the leader): the
    /// election answers with this vote, as after a decided round.
    Decided(Vote),
}

/// ZooKeeper's finalizeWait: how long a vote that has a quorum waits for a better one.
const FINALIZE_WAIT: Duration = Duration::from_millis(200);
/// Notifications are sent again this long after the last (ZooKeeper doubles from 200 ms up
/// to maxNotificationInterval; this caps lower, so a returning peer hears sooner).
const RESEND_MAX: Duration = Duration::from_secs(2);

struct Shared {
    /// Plaintext, or TLS as `sslQuorum`/`portUnification` say.
    tls: Transport,
    me: i64,
    /// This server's election addresses (several with multiAddress.enabled).
    my_addrs: Vec<(String, u16)>,
    /// How long one address of a server with several may take to connect before the next
    /// is tried (multiAddress.reachabilityCheckTimeoutMs).
    reach: Duration,
    /// Per peer, the newest notification for it. A server that is in no configuration
    /// this one knows (one joining) gets an entry when it connects.
    outbox: Mutex<HashMap<i64, watch::Sender<Option<Bytes>>>>,
    inbox: mpsc::Sender<(i64, Notification)>,
    /// The live connection per peer, so that a new one replaces it.
    live: Mutex<HashMap<i64, CancellationToken>>,
    /// Per peer this server dials or knocks on: its address, what wakes its dialler at once
    /// (a lower id dialled us and was hung up on), and what stops it.
    peers: Mutex<HashMap<i64, Peer>>,
    /// With reconfiguration on, servers in no configuration this one knows may connect
    /// (they are joining), as in ZooKeeper.
    accept_unknown: bool,
}

struct Peer {
    addrs: Vec<(String, u16)>,
    redial: Arc<tokio::sync::Notify>,
    stop: CancellationToken,
}

impl Shared {
    fn outbox(&self, sid: i64) -> Option<watch::Sender<Option<Bytes>>> {
        self.outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&sid)
            .cloned()
    }

    fn ensure_outbox(&self, sid: i64) -> watch::Sender<Option<Bytes>> {
        self.outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(sid)
            .or_insert_with(|| watch::channel(None).0)
            .clone()
    }

    /// Servers outside the configuration get an outbox only while they are connected, and
    /// only so many at once.
    fn strangers_allowed(&self) -> bool {
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner()).len();
        let boxes = self.outbox.lock().unwrap_or_else(|e| e.into_inner()).len();
        boxes < peers + 64
    }

    /// When a connection ends: a server outside the configuration keeps no outbox.
    fn forget_stranger(&self, sid: i64) {
        let known = self
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&sid);
        if !known {
            self.outbox
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&sid);
        }
    }

    fn redial(&self, sid: i64) -> Option<Arc<tokio::sync::Notify>> {
        self.peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&sid)
            .map(|p| p.redial.clone())
    }
}

/// Dials (a lower id) or knocks on (a higher id) each server of `servers` not yet a peer
/// at the same address; stops the diallers of peers no longer listed (their connections end
/// with the next failure; a live one is cut now).
/// `addrs` starting at index `first`, wrapping around.
fn rotated(addrs: &[(String, u16)], first: usize) -> Vec<(String, u16)> {
    let mut v = addrs.to_vec();
    let n = v.len();
    if n > 0 {
        v.rotate_left(first % n);
    }
    v
}

/// The same addresses, in any order (a configuration text lists them sorted).
fn same_addrs(a: &[(String, u16)], b: &[(String, u16)]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

fn set_peers(shared: &Arc<Shared>, servers: &BTreeMap<u64, QuorumServer>) {
    let mut peers = shared.peers.lock().unwrap_or_else(|e| e.into_inner());
    let wanted: HashMap<i64, Vec<(String, u16)>> = servers
        .iter()
        .filter(|(sid, _)| **sid as i64 != shared.me)
        .map(|(sid, s)| (*sid as i64, s.election_addrs()))
        .collect();
    peers.retain(|sid, p| {
        let keep = wanted.get(sid).is_some_and(|w| same_addrs(w, &p.addrs));
        if !keep {
            p.stop.cancel();
            if let Some(k) = shared
                .live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(sid)
            {
                k.cancel();
            }
        }
        keep
    });
    for (sid, addrs) in wanted {
        if peers.contains_key(&sid) {
            continue;
        }
        shared.ensure_outbox(sid);
        let p = Peer {
            addrs: addrs.clone(),
            redial: Arc::new(tokio::sync::Notify::new()),
            stop: CancellationToken::new(),
        };
        let stop = p.stop.clone();
        peers.insert(sid, p);
        // A connection survives only when the higher id opened it: keep one open to each
        // lower id; to a higher id, knock (open and introduce ourselves) when there is
        // something to say, and it dials back, as QuorumCnxManager does.
        let shared = shared.clone();
        if sid < shared.me {
            tokio::spawn(async move {
                tokio::select! {
                    _ = dial(sid, addrs, shared.clone()) => {}
                    _ = stop.cancelled() => {}
                }
            });
        } else {
            tokio::spawn(async move {
                tokio::select! {
                    _ = knock(sid, addrs, shared.clone()) => {}
                    _ = stop.cancelled() => {}
                }
            });
        }
    }
}

/// Binds the election port and runs elections for the node until the process ends.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    me: u64,
    servers: BTreeMap<u64, QuorumServer>,
    listen_all: bool,
    config_text: String,
    members: Members,
    node: mpsc::Sender<Event>,
    tls: Transport,
    accept_unknown: bool,
    reach: Duration,
) -> std::io::Result<mpsc::UnboundedSender<Cmd>> {
    let mine = servers
        .get(&me)
        .ok_or_else(|| std::io::Error::other(format!("myid {me} is not in the server list")))?;
    // One listener per election address (with quorumListenOnAllIPs, per port on all
    // interfaces), as QuorumCnxManager listens on each.
    let mut listeners = Vec::new();
    let mut bound = std::collections::BTreeSet::new();
    for (h, port) in mine.election_addrs() {
        let host = if listen_all { "0.0.0.0".to_string() } else { h };
        if !bound.insert((host.clone(), port)) {
            continue;
        }
        // With several addresses, one that cannot be bound (an interface that is down) is
        // skipped, as ZooKeeper does; the member needs at least one.
        match TcpListener::bind((host.as_str(), port)).await {
            Ok(listener) => {
                info!("election port {} bound", listener.local_addr()?);
                listeners.push(listener);
            }
            Err(e) if mine.addrs.len() > 1 => {
                warn!("cannot bind the election port {host}:{port}: {e}; using the other addresses")
            }
            Err(e) => return Err(e),
        }
    }
    if listeners.is_empty() {
        return Err(std::io::Error::other("no election address could be bound"));
    }
    let (in_tx, in_rx) = mpsc::channel(1024);
    let shared = Arc::new(Shared {
        tls,
        me: me as i64,
        my_addrs: mine.election_addrs(),
        reach,
        outbox: Mutex::new(HashMap::new()),
        inbox: in_tx,
        live: Mutex::new(HashMap::new()),
        peers: Mutex::new(HashMap::new()),
        accept_unknown,
    });
    for listener in listeners {
        tokio::spawn(accept(listener, shared.clone()));
    }
    set_peers(&shared, &servers);
    let election = Election::new(me as i64, members, Bytes::from(config_text));
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    tokio::spawn(drive(election, shared, in_rx, cmd_rx, node));
    Ok(cmd_tx)
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let mut stream = match crate::tls::quorum::accept(&shared.tls, tcp).await {
                Ok(s) => s,
                Err(e) => {
                    warn!("election connection from {peer}: {e}; closing it");
                    return;
                }
            };
            let first =
                tokio::time::timeout(Duration::from_secs(5), read_initial(&mut stream)).await;
            let (sid, addr) = match first {
                Ok(Ok(m)) => (m.sid, Some(m.addresses).filter(|a| !a.is_empty())),
                Ok(Err(e)) => {
                    warn!("election connection from {peer}: {e}; closing it");
                    return;
                }
                Err(_) => {
                    warn!("election connection from {peer} sent no initial message; closing it");
                    return;
                }
            };
            if sid == shared.me || sid < 0 {
                warn!("election connection from {peer} claims server id {sid}; closing it");
                return;
            }
            let known = shared.outbox(sid).is_some();
            if !known && !shared.accept_unknown {
                warn!("election connection from {peer} claims server id {sid}, not a peer; closing it");
                return;
            }
            let survives = cnx::connection_survives(sid, shared.me);
            // Quorum SASL after the initial message, as ZooKeeper's acceptor runs it; a
            // connection that will be closed anyway is not waited for.
            // A SASL learner writes the magic right after its initial message: without
            // serverRequireSasl a short wait tells it from a peer without SASL.
            let require = shared.tls.auth.as_ref().is_some_and(|a| a.server_require);
            let wait = Duration::from_millis(match (survives, require) {
                (true, true) => 10_000,
                (false, _) => 200,
                (true, false) => 500,
            });
            let auth = crate::tls::quorum::authenticate_accepted(
                &shared.tls,
                &mut stream,
                &format!("server {sid} ({peer})"),
                wait,
            )
            .await;
            if !survives {
                debug!("election connection from lower id {sid}: closed, we dial it");
                match (shared.redial(sid), addr) {
                    (Some(n), _) => n.notify_one(),
                    // A server in no configuration this one knows (joining), once it has
                    // authenticated: dialled back once at the address it gave, as
                    // QuorumCnxManager does.
                    (None, Some(addr)) if auth.is_ok() && shared.strangers_allowed() => {
                        let shared = shared.clone();
                        tokio::spawn(async move {
                            dial_once(sid, &addr, &shared).await;
                        });
                    }
                    _ => {}
                }
                return;
            }
            if let Err(e) = auth {
                warn!("election connection from {peer}: {e}; closing it");
                return;
            }
            if !known && !shared.strangers_allowed() {
                warn!("election connection from {peer} (server id {sid}): too many servers outside the configuration; closing it");
                return;
            }
            shared.ensure_outbox(sid);
            run_connection(sid, stream, &shared).await;
        });
    }
}

async fn read_initial(stream: &mut QStream) -> Result<InitialMessage, String> {
    let mut buf = Vec::with_capacity(64);
    loop {
        match InitialMessage::decode(&buf)? {
            Some((m, used)) if used == buf.len() => return Ok(m),
            Some(_) => return Err("bytes after the initial message".into()),
            None => {}
        }
        if buf.len() > 20 + cnx::MAX_ADDRESS_BYTES {
            return Err("initial message too long".into());
        }
        // One byte at a time: what follows the initial message belongs to the connection.
        let b = stream.read_u8().await.map_err(|e| e.to_string())?;
        buf.push(b);
    }
}

async fn dial(sid: i64, addrs: Vec<(String, u16)>, shared: Arc<Shared>) {
    let mut backoff = Duration::from_millis(100);
    // The address tried first: the next one after an address that did not answer or
    // reached something other than the peer's election port (fail-over).
    let mut first = 0;
    loop {
        let order = rotated(&addrs, first);
        match dial_once(sid, &order, &shared).await {
            Dialled::Spoke => backoff = Duration::from_millis(100),
            Dialled::Failed => {}
            Dialled::Garbled(i) => {
                first = (first + i + 1) % addrs.len().max(1);
                warn!("election connection to {sid} at {}:{} did not speak ZooKeeper's election protocol; trying its next address", order[i].0, order[i].1);
            }
        }
        let wake = shared.redial(sid);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = async {
                match wake {
                    Some(n) => n.notified().await,
                    None => std::future::pending().await,
                }
            } => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// A TCP connection to the first of `addrs` that answers; each of several addresses gets
/// `reach` to answer (ZooKeeper's reachability check), a single address 5 s.
pub(crate) async fn connect_first(
    addrs: &[(String, u16)],
    reach: Duration,
    what: &str,
) -> Option<(TcpStream, (String, u16))> {
    let limit = if addrs.len() > 1 {
        reach
    } else {
        Duration::from_secs(5)
    };
    for addr in addrs {
        match tokio::time::timeout(limit, TcpStream::connect((addr.0.as_str(), addr.1))).await {
            Ok(Ok(tcp)) => return Some((tcp, addr.clone())),
            Ok(Err(e)) => debug!("cannot open {what} at {}:{}: {e}", addr.0, addr.1),
            Err(_) => debug!(
                "{what} at {}:{} did not answer within {limit:?}",
                addr.0, addr.1
            ),
        }
    }
    None
}

/// How a dialled connection went.
enum Dialled {
    /// Carried until it ended.
    Spoke,
    /// No address could be opened (or the handshake failed).
    Failed,
    /// The address at this index (of those given) answered with something else.
    Garbled(usize),
}

/// Why opening an election connection failed.
enum Unintroduced {
    /// No address answered, or the connection broke while saying who we are.
    NoAnswer,
    /// The address at this index (of those given) answered, and then its TLS handshake or
    /// quorum authentication failed.
    Refused(usize),
}

/// Opens an election connection to `sid` and introduces this server: the first of `addrs`
/// that answers, the quorum's TLS, our initial message, quorum authentication. `what` names
/// the port in the logs; a failed authentication is a warning when `loud` (knocking, which
/// retries every half second, leaves the warning to the dialling side).
async fn introduce(
    sid: i64,
    addrs: &[(String, u16)],
    shared: &Shared,
    what: &str,
    loud: bool,
) -> Result<(QStream, (String, u16)), Unintroduced> {
    let Some((tcp, addr)) = connect_first(addrs, shared.reach, what).await else {
        return Err(Unintroduced::NoAnswer);
    };
    let at = addrs.iter().position(|a| *a == addr).unwrap_or(0);
    let _ = tcp.set_nodelay(true);
    let mut stream = match crate::tls::quorum::connect(&shared.tls, tcp, &addr.0).await {
        Ok(s) => s,
        Err(e) => {
            debug!("{what}: {e}");
            return Err(Unintroduced::Refused(at));
        }
    };
    let hello = InitialMessage {
        sid: shared.me,
        addresses: shared.my_addrs.clone(),
    };
    if stream.write_all(&hello.encode()).await.is_err() || stream.flush().await.is_err() {
        return Err(Unintroduced::NoAnswer);
    }
    let who = format!("server {sid}");
    match crate::tls::quorum::authenticate_dialled(&shared.tls, &mut stream, &addr.0, &who).await {
        Ok(()) => Ok((stream, addr)),
        Err(e) => {
            if loud {
                warn!("{what}: {e}");
            } else {
                debug!("{what}: {e}");
            }
            Err(Unintroduced::Refused(at))
        }
    }
}

/// One connection to `sid`, carried until it ends.
async fn dial_once(sid: i64, addrs: &[(String, u16)], shared: &Shared) -> Dialled {
    let what = format!("the election connection to {sid}");
    match introduce(sid, addrs, shared, &what, true).await {
        Ok((stream, addr)) => {
            // A connection that does not speak the election protocol counts against its
            // address: the next one is tried first next time.
            let at = addrs.iter().position(|a| *a == addr).unwrap_or(0);
            shared.ensure_outbox(sid);
            if run_connection(sid, stream, shared).await {
                Dialled::Spoke
            } else {
                Dialled::Garbled(at)
            }
        }
        Err(Unintroduced::NoAnswer) => Dialled::Failed,
        Err(Unintroduced::Refused(at)) => Dialled::Garbled(at),
    }
}

/// For a peer with a higher id: whenever a notification is waiting for it and no connection
/// is up, open one and send our initial message; the peer hangs up and dials back.
async fn knock(sid: i64, addrs: Vec<(String, u16)>, shared: Arc<Shared>) {
    let mut first = 0;
    let Some(out) = shared.outbox(sid) else {
        return;
    };
    let mut rx = out.subscribe();
    drop(out);
    loop {
        if rx.changed().await.is_err() {
            return;
        }
        let up = shared
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&sid);
        if up {
            continue;
        }
        let what = format!("the election port of {sid}");
        let order = rotated(&addrs, first);
        if let Ok((mut stream, addr)) = introduce(sid, &order, &shared, &what, false).await {
            // The peer closes this one; wait for that (briefly) before knocking again.
            // With quorum SASL the peer may first wait for our bytes (as ZooKeeper's
            // acceptor does): hang up at once, as ZooKeeper's dialler does.
            if shared.tls.auth.is_none() {
                let mut b = [0u8; 64];
                let r = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut b)).await;
                // A peer hangs up without a word; anything said is not the peer's
                // election port: the next address is tried next time.
                if matches!(r, Ok(Ok(n)) if n > 0) && addrs.len() > 1 {
                    let at = addrs.iter().position(|a| *a == addr).unwrap_or(0);
                    first = (at + 1) % addrs.len();
                    warn!("the election port of {sid} at {}:{} answered with something else; trying its next address", addr.0, addr.1);
                }
            }
        }
        let pause = if shared.tls.auth.is_some() { 500 } else { 100 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// Carries notifications both ways until either side fails or a newer connection to the
/// same peer replaces this one.
/// Returns false when the peer did not speak the election protocol (its first bytes were
/// not a notification): the address reached something else, and the next one should be
/// tried.
async fn run_connection(sid: i64, stream: QStream, shared: &Shared) -> bool {
    let kill = CancellationToken::new();
    if let Some(old) = shared
        .live
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(sid, kill.clone())
    {
        old.cancel();
    }
    let Some(out) = shared.outbox(sid) else {
        return true;
    };
    debug!("election connection with server {sid} up");
    let spoke = std::sync::atomic::AtomicBool::new(false);
    let mut rx = out.subscribe();
    drop(out);
    let (mut rd, mut wr) = tokio::io::split(stream);
    let writer = async {
        // The newest notification for this peer goes out first, then each newer one.
        rx.mark_changed();
        while rx.changed().await.is_ok() {
            let msg = rx.borrow_and_update().clone();
            if let Some(m) = msg {
                wr.write_all(&m).await?;
                wr.flush().await?;
            }
        }
        Ok::<(), std::io::Error>(())
    };
    let reader = async {
        loop {
            let mut prefix = [0u8; 4];
            rd.read_exact(&mut prefix).await?;
            let n = cnx::message_length(prefix).map_err(std::io::Error::other)?;
            let mut msg = vec![0u8; n];
            rd.read_exact(&mut msg).await?;
            match Notification::decode(&msg) {
                Ok(note) => {
                    spoke.store(true, std::sync::atomic::Ordering::Relaxed);
                    if shared.inbox.send((sid, note)).await.is_err() {
                        return Ok(());
                    }
                }
                Err(e) => warn!("bad notification from server {sid}: {e}"),
            }
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    };
    let mut garbled = false;
    let why = tokio::select! {
        r = writer => r.err().map(|e| e.to_string()).unwrap_or_default(),
        r = reader => {
            garbled = r.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::Other);
            r.err().map(|e| e.to_string()).unwrap_or_default()
        }
        _ = kill.cancelled() => "replaced by a newer connection".into(),
    };
    debug!("election connection with server {sid} closed: {why}");
    let mut live = shared.live.lock().unwrap_or_else(|e| e.into_inner());
    if live
        .get(&sid)
        .is_some_and(|k| k.is_cancelled() || *k == kill)
    {
        live.remove(&sid);
        drop(live);
        shared.forget_stranger(sid);
    }
    !garbled || spoke.load(std::sync::atomic::Ordering::Relaxed)
}

async fn drive(
    mut e: Election,
    shared: Arc<Shared>,
    mut inbox: mpsc::Receiver<(i64, Notification)>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    node: mpsc::Sender<Event>,
) {
    let mut out = Vec::new();
    let mut finalize: Option<(tokio::time::Instant, u64)> = None;
    let mut resend_every = Duration::from_millis(200);
    let mut resend_at = tokio::time::Instant::now() + resend_every;
    let mut started = tokio::time::Instant::now();
    loop {
        let far = tokio::time::Instant::now() + Duration::from_secs(3600);
        let fin_at = finalize.map(|(t, _)| t).unwrap_or(far);
        let looking = e.state == crate::zab::election::PeerState::Looking && e.logical_clock > 0;
        tokio::select! {
            c = cmds.recv() => match c {
                Some(Cmd::Look { last_zxid, current_epoch }) => {
                    info!(
                        "LOOKING: election round {} with last zxid 0x{last_zxid:x}, epoch {current_epoch}",
                        e.logical_clock + 1
                    );
                    started = tokio::time::Instant::now();
                    finalize = None;
                    resend_every = Duration::from_millis(200);
                    resend_at = tokio::time::Instant::now() + resend_every;
                    e.start(last_zxid, current_epoch, &mut out);
                }
                Some(Cmd::Settled { epoch }) => e.settled(epoch),
                Some(Cmd::Reconfig { servers, members, config }) => {
                    set_peers(&shared, &servers);
                    e.reconfigure(members, config);
                }
                Some(Cmd::Decided(v)) => {
                    finalize = None;
                    e.adopt(v);
                }
                None => return,
            },
            Some((sid, n)) = inbox.recv() => e.receive(sid, n, &mut out),
            _ = tokio::time::sleep_until(fin_at), if finalize.is_some() => {
                if let Some((_, g)) = finalize.take() {
                    e.finalize_expired(g, &mut out);
                }
            }
            _ = tokio::time::sleep_until(resend_at), if looking => {
                e.resend(&mut out);
                resend_every = (resend_every * 2).min(RESEND_MAX);
                resend_at = tokio::time::Instant::now() + resend_every;
            }
        }
        for o in out.drain(..) {
            match o {
                Out::Send(sid, n) => {
                    if let Some(tx) = shared.outbox(sid) {
                        tx.send_replace(Some(cnx::frame(&n.encode())));
                    }
                }
                Out::NewerConfig(c) => {
                    if node.send(Event::NewerConfig(c)).await.is_err() {
                        return;
                    }
                }
                Out::ArmFinalize(g) => {
                    finalize = Some((tokio::time::Instant::now() + FINALIZE_WAIT, g));
                }
                Out::Decided(v) => {
                    info!(
                        "election decided in {:?}: leader {} (zxid 0x{:x}, epoch {}), this server is {:?}",
                        started.elapsed(),
                        v.leader,
                        v.zxid,
                        v.peer_epoch,
                        v.state
                    );
                    finalize = None;
                    crate::stats::stats()
                        .election_time
                        .add(started.elapsed().as_millis() as u64);
                    if node.send(Event::Decided(v)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
