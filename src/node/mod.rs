//! The node runtime: one task that owns the replicated state (the tree), the sessions, the
//! watches and the agreement state, and handles every client request in arrival order.
//! Connections talk to it over channels: requests in, encoded frames out. The txn log is
//! written and fsynced on a thread of its own (`storage::log`), snapshots are assembled and
//! written off the task; the ensemble code still waits on the log in a few protocol steps
//! (truncation, NEWLEADER's barrier, leaving a role).
//!
//! A write goes prep -> propose -> persist -> commit -> apply -> reply, in zxid order. Every
//! request of a session that is not answered at once waits in the session's commit queue
//! (`pipeline::commit`), so a session's replies leave in the order its requests arrived: a
//! write's reply when its txn is applied, a read right after the session's earlier writes
//! are applied (and before its later ones are), on a standalone server, a leader and a
//! follower alike. Events a txn triggers leave before its reply.

use crate::acl::AclPolicy;
use crate::config::Config;
use crate::net::{ClientEvent, ConnId, ConnShared, ConnTx, Out};
use crate::ops::{ConnView, NodeView, OpsRequest, Query, SnapshotReply};
use crate::pipeline::commit::{Awaits, CommitQueue, Released};
use crate::pipeline::prep::{self, Ctx, Overlay};
use crate::pipeline::read::ReadCtx;
use crate::pipeline::{is_valid_op, is_write, write_response, Body, EncodeBox};
use crate::quorum::LinkEvent;
use crate::session::{session_password, SessionTracker};
use crate::stats::stats;
use crate::storage::log::LogWriter;
use crate::storage::recovery::{self, RecoveryError};
use crate::storage::{snap, StorageConfig};
use crate::tree::{owner_kind, ttl_of, ApplyResult, Change, DataTree, OwnerKind};
use crate::txn::{Txn, TxnBody};
use crate::watch::{Event, WatchManager};
use crate::zab::election::Vote;
use crate::zab::{Action, Broadcast};
use bytes::{Bytes, BytesMut};
use jute::*;
use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

mod ensemble;

/// A change of the tree as the deterministic simulation sees it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A txn applied: its zxid and the tree digest after it.
    Txn(i64, u64),
    /// The tree replaced (a leader's snapshot) or rolled back (a truncation): it is now the
    /// tree at this zxid, with this digest.
    Reset(i64, u64),
}

/// Where the node reads the time: the machine's clock, or one the deterministic simulation
/// moves (milliseconds since the node was made).
#[derive(Clone, Default)]
pub enum Clock {
    #[default]
    Real,
    Manual(Arc<std::sync::atomic::AtomicU64>),
}

/// Everything the node task receives, each kind from the producer that owns its type.
pub enum Input {
    Client(ClientEvent),
    Ops(OpsRequest),
    Link(LinkEvent),
    /// Leader election decided.
    Elected(Vote),
    Control(Control),
}

/// The process's and the node's own orders to the node.
pub enum Control {
    /// Stop taking requests, finish the writes in flight, close every connection, and
    /// answer with how many writes were in flight.
    Shutdown { done: oneshot::Sender<usize> },
    /// The snapshot written after a restore is durable (serve again), or failed.
    RestoreDone { ok: bool },
}

/// The senders of the node's inputs, handed to their producers.
#[derive(Clone)]
pub struct Senders {
    pub clients: mpsc::Sender<ClientEvent>,
    pub ops: mpsc::Sender<OpsRequest>,
    pub links: mpsc::Sender<LinkEvent>,
    pub votes: mpsc::Sender<Vote>,
    pub control: mpsc::Sender<Control>,
}

/// The node's inputs, one bounded channel per producer.
pub struct Receivers {
    clients: mpsc::Receiver<ClientEvent>,
    ops: mpsc::Receiver<OpsRequest>,
    links: mpsc::Receiver<LinkEvent>,
    votes: mpsc::Receiver<Vote>,
    control: mpsc::Receiver<Control>,
}

/// The node's input channels: clients' requests (4096 in flight before connection readers
/// wait), operator questions, leader-learner links, election results and control.
pub fn channels() -> (Senders, Receivers) {
    let (clients, clients_rx) = mpsc::channel(4096);
    let (ops, ops_rx) = mpsc::channel(256);
    let (links, links_rx) = mpsc::channel(4096);
    let (votes, votes_rx) = mpsc::channel(16);
    let (control, control_rx) = mpsc::channel(16);
    (
        Senders {
            clients,
            ops,
            links,
            votes,
            control,
        },
        Receivers {
            clients: clients_rx,
            ops: ops_rx,
            links: links_rx,
            votes: votes_rx,
            control: control_rx,
        },
    )
}

struct Conn {
    tx: ConnTx,
    session: i64,
    auth: Vec<Id>,
    peer: SocketAddr,
    stats: ConnStats,
    shared: Arc<ConnShared>,
}

/// Per-connection figures `cons` shows. Cells: replies are sent through `&self`.
#[derive(Default)]
struct ConnStats {
    received: u64,
    sent: Cell<u64>,
    last_op: Cell<&'static str>,
    established_ms: i64,
    timeout: u32,
    last_cxid: Cell<i64>,
    last_zxid: Cell<i64>,
    last_response_ms: Cell<u64>,
    last_latency_us: Cell<u64>,
    min_latency_us: Cell<u64>,
    max_latency_us: Cell<u64>,
    sum_latency_us: Cell<u64>,
    count: Cell<u64>,
}

impl ConnStats {
    fn reset(&self) {
        self.sent.set(0);
        self.last_op.set("NA");
        self.last_cxid.set(-1);
        self.last_zxid.set(-1);
        self.last_response_ms.set(0);
        self.last_latency_us.set(0);
        self.min_latency_us.set(u64::MAX);
        self.max_latency_us.set(0);
        self.sum_latency_us.set(0);
        self.count.set(0);
    }
}

/// What to do once a proposal is committed and applied.
enum Then {
    /// A new session: send the handshake answer.
    Connected {
        conn: ConnId,
        resp: ConnectResponse,
    },
    /// A client write: answer it from the apply result (or the error prep found).
    Reply {
        conn: ConnId,
        xid: i32,
        op: OpCode,
        prep_err: i32,
        start: Instant,
    },
    /// closeSession: answer (if the client asked) and close the connection.
    Closed {
        conn: Option<ConnId>,
        xid: Option<i32>,
    },
    /// A follower's sync: answer once the leader has answered it.
    Sync {
        conn: ConnId,
        xid: i32,
        path: String,
        start: Instant,
    },
    Nothing,
}

impl Then {
    /// A continuation that answers a client's request: it goes into the session's commit
    /// queue, so that the answer leaves in the session's request order.
    fn answers_client(&self) -> bool {
        match self {
            Then::Connected { .. } | Then::Reply { .. } | Then::Sync { .. } => true,
            Then::Closed { xid, .. } => xid.is_some(),
            Then::Nothing => false,
        }
    }
}

/// What an applied txn (or a leader's sync answer) gives the continuation waiting for it.
struct Outcome {
    zxid: i64,
    rc: ApplyResult,
}

/// A request answered from the local tree, held behind its session's earlier requests.
struct Held {
    conn: ConnId,
    xid: i32,
    op: i32,
    body: Bytes,
    start: Instant,
}

type Queue = CommitQueue<Then, Outcome, Held>;

struct Proposal {
    txn: Txn,
    then: Then,
    /// The txn as logged and as sent to learners, encoded once.
    raw: Bytes,
}

pub struct Node {
    cfg: Config,
    storage: StorageConfig,
    log: LogWriter,
    durable_rx: Option<mpsc::UnboundedReceiver<i64>>,
    /// Sessions as of the last applied zxid (what a snapshot records).
    committed_sessions: HashMap<i64, i32>,
    since_snapshot: u64,
    snap_every: u64,
    /// A snapshot being walked, when it started, and when its last slice was taken.
    snap_job: Option<(snap::Fuzzy, Instant, Instant)>,
    snapshotting: Arc<AtomicBool>,
    /// Callers waiting for the snapshot being taken (the AdminServer's snapshot command).
    snap_waiters: Arc<std::sync::Mutex<Vec<oneshot::Sender<SnapshotReply>>>>,
    /// The zxid and time (s) of the last snapshot written.
    last_snapshot: Arc<std::sync::Mutex<Option<(i64, i64)>>>,
    /// Tree digests every 128 zxids, the latest 1024 (ZooKeeper's digest log, `hash`).
    digest_log: VecDeque<(i64, u64)>,
    /// Set once shutdown began: who to tell when the writes in flight are done.
    shutdown: Option<(oneshot::Sender<usize>, usize)>,
    shutdown_done: bool,
    /// Recovery replayed txns from the log: snapshot the recovered tree once serving, as
    /// ZooKeeper snapshots after loading (it does so before serving), so that the next
    /// start reads a snapshot instead of the same log again.
    snapshot_on_start: bool,
    /// Between a restore and the snapshot that makes it durable: clients are refused.
    restoring: bool,
    /// The node's own input, for work that finishes off its task (a restore's snapshot).
    senders: Option<Senders>,
    /// Connections over `max_queued`, to close after the current message.
    overflowed: std::cell::RefCell<Vec<ConnId>>,
    max_queued: usize,
    outstanding_limit: usize,
    policy: AclPolicy,
    tree: DataTree,
    sessions: SessionTracker,
    watches: WatchManager,
    zab: Broadcast,
    /// Set when zoo.cfg lists an ensemble: the node's role in it.
    ensemble: Option<ensemble::Ensemble>,
    conns: HashMap<ConnId, Conn>,
    session_conn: HashMap<i64, ConnId>,
    overlay: Overlay,
    next_zxid: i64,
    /// Proposed, not yet applied, in zxid order.
    proposals: VecDeque<Proposal>,
    /// Every session's requests not answered yet, in arrival order.
    queue: Queue,
    start: Instant,
    clock: Clock,
    /// What happened to the tree, in order, when a simulation asks.
    pub applied_log: Option<Vec<Applied>>,
    events: Vec<Event>,
    changes: Vec<Change>,
    actions: Vec<Action>,
}

/// Txns between snapshots: snapCount/2 plus a random part up to snapCount/2, as ZooKeeper
/// does, so that members of an ensemble do not all snapshot at once.
fn snapshot_threshold(snap_count: u64) -> u64 {
    let half = (snap_count / 2).max(1);
    half + rand::random_range(0..half)
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Node {
    /// Recovers the dataDir and starts the txn log writer.
    pub fn new(cfg: Config) -> Result<Node, RecoveryError> {
        let start = Instant::now();
        let storage = StorageConfig::from_config(&cfg);
        let truncate = cfg.property("ferrozk.truncateCorruptLog") == Some("yes");
        let rec = recovery::recover(&storage, truncate)?;
        stats().dbinittime.add(start.elapsed().as_micros() as u64);
        let recovered_snapshot = (rec.snapshots_read > 0).then_some(rec.tree.last_processed_zxid);
        let (durable_tx, durable_rx) = mpsc::unbounded_channel();
        let log = LogWriter::start(storage.clone(), move |zxid| {
            let _ = durable_tx.send(zxid);
        })?;
        let mut node = Node::build(cfg, storage, rec.tree, rec.sessions, log, Clock::Real);
        node.durable_rx = Some(durable_rx);
        node.snapshot_on_start = rec.txns_replayed > 0;
        *node.last_snapshot.lock().unwrap_or_else(|e| e.into_inner()) =
            recovered_snapshot.map(|z| (z, wall_ms() / 1000));
        node.start = start;
        Ok(node)
    }

    /// A node whose log, snapshot and epoch files live in `mem` and whose time is `clock`:
    /// what the deterministic simulation runs. It recovers from what `mem` holds durably.
    #[doc(hidden)]
    pub fn in_memory(
        cfg: Config,
        mem: Arc<std::sync::Mutex<crate::storage::mem::MemLog>>,
        clock: Clock,
    ) -> Result<Node, String> {
        let (tree, sessions, epochs) = {
            let m = mem.lock().unwrap_or_else(|e| e.into_inner());
            let (t, s) = m.recover()?;
            (t, s, (m.accepted_epoch, m.current_epoch))
        };
        let storage = StorageConfig::from_config(&cfg);
        let mut node = Node::build(cfg, storage, tree, sessions, LogWriter::memory(mem), clock);
        if let Some(e) = node.ensemble.as_mut() {
            if let Some(a) = epochs.0 {
                e.accepted_epoch = a;
            }
            if let Some(c) = epochs.1 {
                e.current_epoch = c;
            }
        }
        node.applied_log = Some(Vec::new());
        Ok(node)
    }

    fn build(
        cfg: Config,
        storage: StorageConfig,
        tree: DataTree,
        recovered_sessions: Vec<(i64, i32)>,
        log: LogWriter,
        clock: Clock,
    ) -> Node {
        let mut sessions = SessionTracker::new(cfg.tick_time, cfg.server_id, wall_ms() as u64);
        for (id, timeout) in &recovered_sessions {
            // Restored sessions get a full timeout from now to reconnect.
            sessions.add(*id, (*timeout).max(0) as u32, 0);
        }
        let overlay = Overlay::new(&tree);
        let snap_every = snapshot_threshold(storage.snap_count);
        let ensemble = ensemble::Ensemble::from_config(&cfg, &storage, tree.last_processed_zxid);
        Node {
            ensemble,
            policy: AclPolicy::from_config(&cfg),
            committed_sessions: recovered_sessions.into_iter().collect(),
            log,
            durable_rx: None,
            storage,
            since_snapshot: 0,
            snap_every,
            snap_job: None,
            snapshotting: Arc::new(AtomicBool::new(false)),
            snap_waiters: Arc::default(),
            last_snapshot: Arc::new(std::sync::Mutex::new(None)),
            digest_log: VecDeque::new(),
            shutdown: None,
            shutdown_done: false,
            snapshot_on_start: false,
            restoring: false,
            senders: None,
            overflowed: Default::default(),
            max_queued: crate::net::max_queued_bytes(&cfg),
            outstanding_limit: crate::net::outstanding_limit(&cfg),
            cfg,
            zab: Broadcast::standalone(tree.last_processed_zxid),
            next_zxid: tree.last_processed_zxid + 1,
            tree,
            sessions,
            watches: WatchManager::default(),
            conns: HashMap::new(),
            session_conn: HashMap::new(),
            overlay,
            proposals: VecDeque::new(),
            queue: Queue::default(),
            start: Instant::now(),
            clock,
            applied_log: None,
            events: Vec::new(),
            changes: Vec::new(),
            actions: Vec::new(),
        }
    }

    /// The time now, from the node's clock.
    fn instant(&self) -> Instant {
        match &self.clock {
            Clock::Real => Instant::now(),
            Clock::Manual(ms) => {
                self.start + std::time::Duration::from_millis(ms.load(Ordering::Acquire))
            }
        }
    }

    fn now(&self) -> u64 {
        self.instant()
            .saturating_duration_since(self.start)
            .as_millis() as u64
    }

    fn last_zxid(&self) -> i64 {
        self.tree.last_processed_zxid
    }

    /// Runs until every sender of `rx` is gone.
    /// Gives the node a sender of its own input channel.
    pub fn set_senders(&mut self, senders: Senders) {
        self.senders = Some(senders);
    }

    pub async fn run(mut self, mut rx: Receivers) {
        let Some(mut durable) = self.durable_rx.take() else {
            return;
        };
        // An ensemble member pings and checks its peers every half tick, as ZooKeeper does.
        let tick_ms = if self.ensemble.is_some() {
            (self.cfg.tick_time / 2).clamp(1, 1000)
        } else {
            self.cfg.tick_time.clamp(1, 1000)
        };
        let tick = std::time::Duration::from_millis(tick_ms as u64);
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let every = std::time::Duration::from_millis(self.cfg.container_check_interval_ms);
        let mut containers = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        if std::mem::take(&mut self.snapshot_on_start) {
            info!("snapshotting the recovered tree (0x{:x})", self.last_zxid());
            self.start_snapshot();
        }
        // Autopurge, as ZooKeeper's DatadirCleanupManager: off unless purgeInterval > 0.
        let hours = self.storage.purge_interval_hours;
        let purge_every = std::time::Duration::from_secs(3600 * hours.max(1));
        let mut purge =
            tokio::time::interval_at(tokio::time::Instant::now() + purge_every, purge_every);
        loop {
            tokio::select! {
                // The node runs until the client listener (the last sender of client
                // events) is gone.
                m = rx.clients.recv() => match m {
                    Some(m) => self.handle(Input::Client(m)),
                    None => return,
                },
                Some(m) = rx.control.recv() => self.handle(Input::Control(m)),
                Some(m) = rx.links.recv() => self.handle(Input::Link(m)),
                Some(v) = rx.votes.recv() => self.handle(Input::Elected(v)),
                Some(m) = rx.ops.recv() => self.handle(Input::Ops(m)),
                Some(zxid) = durable.recv() => self.log_durable(zxid),
                _ = ticker.tick() => self.tick(),
                _ = containers.tick(), if self.serving() && !self.is_following() => self.collect_containers(),
                _ = purge.tick(), if hours > 0 => self.purge(),
                // An idle node walks a pending snapshot; a busy one does so between messages
                // (see `handle`). `yield_now` lets the task yield first, which also renews its
                // cooperative budget: an always-ready branch here would starve `recv`.
                _ = tokio::task::yield_now(), if self.snap_job.is_some() => self.snapshot_step(),
            }
        }
    }

    /// The txn log made everything up to `zxid` durable.
    pub fn log_durable(&mut self, zxid: i64) {
        if self.is_following() {
            self.follower_durable(zxid);
        } else {
            self.zab.durable(zxid, &mut self.actions);
            self.run_actions();
        }
        self.reap_overflowed();
    }

    /// Every tick (half a tick in an ensemble): liveness checks, pings, session expiry.
    pub fn tick(&mut self) {
        self.ensemble_tick();
        if self.serving() && !self.is_following() {
            self.expire_sessions();
        }
    }

    pub fn handle(&mut self, m: Input) {
        self.handle_msg(m);
        self.reap_overflowed();
        if self
            .snap_job
            .as_ref()
            .is_some_and(|(_, _, last)| last.elapsed() >= std::time::Duration::from_millis(2))
        {
            self.snapshot_step();
        }
    }

    fn handle_msg(&mut self, m: Input) {
        match m {
            Input::Client(ClientEvent::Connect {
                conn,
                peer,
                req,
                tx,
                shared,
            }) => self.connect(conn, peer, req, tx, shared),
            Input::Client(ClientEvent::Request {
                conn,
                xid,
                op,
                body,
            }) => self.request(conn, xid, op, body),
            Input::Client(ClientEvent::Disconnected { conn }) => self.disconnected(conn),
            Input::Ops(OpsRequest::Query { q, reply }) => {
                let _ = reply.send(self.view(q));
            }
            Input::Ops(OpsRequest::RootAcl { reply }) => {
                let acl = self
                    .tree
                    .get("/")
                    .map(|n| n.acl.clone())
                    .unwrap_or_default();
                let _ = reply.send(acl.to_vec());
            }
            Input::Ops(OpsRequest::Snapshot { reply }) => self.snapshot_now(reply),
            Input::Ops(OpsRequest::Restore { loaded, reply }) => self.restore(*loaded, reply),
            Input::Control(Control::RestoreDone { ok: true }) => {
                info!("restore complete: serving again");
                self.restoring = false;
            }
            Input::Control(Control::RestoreDone { ok: false }) => {
                // The restored state is only in memory, and the txn log cannot describe it:
                // stop, so that recovery serves the state from before the restore.
                error!("the snapshot of a restored database could not be written; exiting");
                std::process::exit(70);
            }
            Input::Elected(v) => self.elected(v),
            Input::Link(ev) => self.link_event(ev),
            Input::Control(Control::Shutdown { done }) => {
                info!(
                    "shutting down: {} writes in flight, {} connections",
                    self.proposals.len(),
                    self.conns.len()
                );
                self.shutdown = Some((done, self.proposals.len()));
                self.check_shutdown();
            }
        }
    }

    /// Once shutting down and nothing is in flight: close every connection and report.
    fn check_shutdown(&mut self) {
        if self.shutdown.is_none() || !self.proposals.is_empty() {
            return;
        }
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for c in conns {
            self.close_conn(c);
        }
        if let Some((done, n)) = self.shutdown.take() {
            let _ = done.send(n);
        }
        // Anything arriving from now on is refused.
        self.shutdown_done = true;
    }

    /// What operators see of the node.
    fn view(&self, q: Query) -> NodeView {
        let now = self.now();
        let wall = wall_ms();
        let mut v = NodeView {
            serving: self.serving(),
            mode: self.mode(),
            zxid: self.last_zxid(),
            // ZooKeeper files its root under both "" and "/", so it counts one node (and the
            // path "/") more than the tree holds; report what ZooKeeper reports.
            node_count: self.tree.node_count() as u64 + 1,
            approximate_data_size: self.tree.approximate_data_size() + 1,
            ephemerals_count: self.tree.ephemeral_count() as u64,
            watch_count: self.watches.count() as u64,
            global_sessions: self.sessions.len() as u64,
            outstanding_requests: (self.proposals.len() + self.queue.held()) as u64,
            uptime_ms: now,
            last_snapshot: *self.last_snapshot.lock().unwrap_or_else(|e| e.into_inner()),
            ..Default::default()
        };
        let mut conns: Vec<(&ConnId, &Conn)> = self.conns.iter().collect();
        conns.sort_by_key(|(id, _)| **id);
        for (_, c) in conns {
            let st = &c.stats;
            let n = st.count.get();
            v.connections.push(ConnView {
                peer: Some(c.peer),
                outstanding: c.shared.outstanding.load(Ordering::Relaxed) as u64,
                received: st.received,
                sent: st.sent.get(),
                session: c.session,
                last_op: st.last_op.get(),
                established_ms: st.established_ms,
                timeout: self
                    .sessions
                    .get(c.session)
                    .map_or(st.timeout, |s| s.timeout_ms),
                last_cxid: st.last_cxid.get(),
                last_zxid: st.last_zxid.get(),
                last_response_ms: st.last_response_ms.get(),
                last_latency: st.last_latency_us.get() / 1000,
                min_latency: if n == 0 {
                    0
                } else {
                    st.min_latency_us.get() / 1000
                },
                avg_latency: st.sum_latency_us.get().checked_div(n).unwrap_or(0) / 1000,
                max_latency: st.max_latency_us.get() / 1000,
            });
        }
        match q {
            Query::ResetConnections => {
                for c in self.conns.values() {
                    c.stats.reset();
                }
            }
            Query::Dump => {
                for (t, ids) in self.sessions.by_expiry() {
                    let at = wall + t as i64 - now as i64;
                    v.sessions_by_expiry
                        .entry(at)
                        .or_default()
                        .extend(ids.iter().copied());
                    for id in ids {
                        let eph = self.tree.ephemerals(id);
                        if !eph.is_empty() {
                            v.ephemerals.insert(id, eph);
                        }
                    }
                }
            }
            Query::Watches => {
                for (path, ws) in self.watches.data.by_path() {
                    let mut sessions: Vec<i64> = ws
                        .filter_map(|w| self.conns.get(w).map(|c| c.session))
                        .collect();
                    sessions.sort_unstable();
                    for s in &sessions {
                        v.watches_by_session
                            .entry(*s)
                            .or_default()
                            .push(path.clone());
                    }
                    if !sessions.is_empty() {
                        v.watches_by_path.insert(path.clone(), sessions);
                    }
                }
                for paths in v.watches_by_session.values_mut() {
                    paths.sort();
                }
            }
            Query::Hash => v.digests = self.digest_log.iter().copied().collect(),
            Query::Summary | Query::Connections => {}
        }
        v
    }

    // ---- output -------------------------------------------------------------------------

    fn send(&self, conn: ConnId, frame: Bytes) {
        if let Some(c) = self.conns.get(&conn) {
            self.queue(c, conn, frame);
        }
    }

    /// Queues a frame for the connection's writer, unless the client has left more than
    /// `max_queued` bytes unread: then the connection is dropped at once (the node reaps it
    /// after the current message), and the reason logged.
    fn queue(&self, c: &Conn, conn: ConnId, frame: Bytes) {
        if c.shared.kill.is_cancelled() {
            return;
        }
        let n = frame.len();
        let queued = c.shared.queued.fetch_add(n, Ordering::AcqRel) + n;
        if queued > self.max_queued {
            warn!(
                "closing connection from {} (session 0x{:x}): {queued} bytes of replies unread, more than {}; the client is not reading",
                c.peer, c.session, self.max_queued
            );
            stats().connection_drop_count.inc();
            c.shared.kill.cancel();
            self.overflowed.borrow_mut().push(conn);
            return;
        }
        stats().sent(n);
        c.stats.sent.set(c.stats.sent.get() + 1);
        let _ = c.tx.send(Out::Frame(frame));
    }

    /// Drops the connections whose clients stopped reading.
    fn reap_overflowed(&mut self) {
        let gone = std::mem::take(&mut *self.overflowed.borrow_mut());
        for conn in gone {
            self.close_conn(conn);
        }
    }

    fn close_conn(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            let _ = c.tx.send(Out::Close);
            if self.session_conn.get(&c.session) == Some(&conn) {
                self.session_conn.remove(&c.session);
            }
        }
        self.watches.remove_watcher(conn);
    }

    fn reply(&self, conn: ConnId, xid: i32, zxid: i64, err: i32, b: Option<&dyn EncodeBox>) {
        let mut out = BytesMut::with_capacity(64);
        let at = begin_frame(&mut out);
        ReplyHeader { xid, zxid, err }.encode(&mut out);
        if err == 0 {
            if let Some(b) = b {
                b.enc(&mut out);
            }
        }
        end_frame(&mut out, at);
        self.send(conn, out.freeze());
    }

    fn reply_body(&self, conn: ConnId, xid: i32, res: Result<Body, ErrorCode>) {
        let zxid = self.last_zxid();
        match res {
            Ok(Body::None) => self.reply(conn, xid, zxid, 0, None),
            Ok(Body::Rec(b)) => self.reply(conn, xid, zxid, 0, Some(b.as_ref())),
            Err(e) => self.reply(conn, xid, zxid, e.code(), None),
        }
    }

    /// Sends the queued watch events; `zxid` goes in their header (ZooKeeper 3.9 sends the
    /// triggering zxid, 3.8 sends -1, and clients ignore it).
    fn deliver_events(&mut self, zxid: i64) {
        let mut events = std::mem::take(&mut self.events);
        for e in events.drain(..) {
            let Some(c) = self.conns.get(&e.watcher) else {
                continue;
            };
            // Only watchers who may READ the node hear about it (CVE-2024-23944).
            if let Some(acl) = &e.acl {
                if !self.policy.check(acl, Perms::READ, &c.auth) {
                    continue;
                }
            }
            let mut out = BytesMut::with_capacity(32 + e.path.len());
            let at = begin_frame(&mut out);
            ReplyHeader {
                xid: Xid::NOTIFICATION,
                zxid,
                err: 0,
            }
            .encode(&mut out);
            WatcherEvent {
                event_type: e.event_type.code(),
                state: KeeperState::SyncConnected.code(),
                path: e.path,
            }
            .encode(&mut out);
            end_frame(&mut out, at);
            self.queue(c, e.watcher, out.freeze());
        }
        self.events = events;
    }

    // ---- sessions -----------------------------------------------------------------------

    fn connect(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        req: ConnectRequest,
        tx: ConnTx,
        shared: Arc<ConnShared>,
    ) {
        if self.shutdown.is_some() || self.shutdown_done || self.restoring || !self.serving() {
            let _ = tx.send(Out::Close);
            return;
        }
        if req.last_zxid_seen > self.last_zxid() {
            info!(
                "refusing session 0x{:x} from {peer}: it has seen zxid 0x{:x}, our last zxid is 0x{:x}; client must try another server",
                req.session_id, req.last_zxid_seen, self.last_zxid()
            );
            let _ = tx.send(Out::Close);
            return;
        }
        let timeout = (req.time_out.max(0) as u32)
            .clamp(self.cfg.min_session_timeout, self.cfg.max_session_timeout);
        stats().packets_received.inc();
        stats().connection_request_count.inc();
        let cs = ConnStats {
            received: 1,
            established_ms: wall_ms(),
            timeout,
            ..Default::default()
        };
        cs.reset();
        self.conns.insert(
            conn,
            Conn {
                tx,
                session: 0,
                auth: vec![Id::new("ip", &crate::acl::host_address(peer.ip()))],
                peer,
                stats: cs,
                shared,
            },
        );
        let now = self.now();
        let ro = req.has_read_only;
        let answer =
            |valid: bool, session: i64| ensemble::connect_answer(valid, session, timeout, ro);
        if self.is_following() {
            if req.session_id == 0 {
                let id = self.sessions.next_session_id();
                info!("establishing session 0x{id:x} with negotiated timeout {timeout} for client {peer} through the leader");
                self.follower_connect(conn, 0, timeout, ro, answer(true, id));
                return;
            }
            let id = req.session_id;
            if req.passwd.as_deref() != Some(&session_password(id)[..]) {
                warn!("incorrect password from {peer} for session 0x{id:x}");
                self.send_connect(conn, &answer(false, id));
                self.close_conn(conn);
                return;
            }
            self.follower_connect(conn, id, timeout, ro, answer(true, id));
            return;
        }
        if req.session_id == 0 {
            let id = self.sessions.next_session_id();
            self.sessions.add(id, timeout, now);
            self.set_session_owner(id, 0);
            self.bind(conn, id);
            info!(
                "established session 0x{id:x} with negotiated timeout {timeout} for client {peer}"
            );
            let body = TxnBody::CreateSession(CreateSessionTxn {
                time_out: timeout as i32,
            });
            let resp = answer(true, id);
            self.propose(
                id,
                0,
                OpCode::CreateSession,
                body,
                Then::Connected { conn, resp },
                wall_ms(),
            );
            return;
        }
        let id = req.session_id;
        let pw_ok = req.passwd.as_deref() == Some(&session_password(id)[..]);
        let valid = pw_ok && self.sessions.revalidate(id, timeout, now);
        if valid {
            if let Some(old) = self.session_conn.get(&id).copied() {
                if old != conn {
                    self.close_conn(old);
                }
            }
            self.set_session_owner(id, 0);
            self.bind(conn, id);
            info!("renewed session 0x{id:x} with negotiated timeout {timeout} for client {peer}");
        } else if pw_ok {
            info!("invalid session 0x{id:x} for client {peer}, probably expired");
        } else {
            warn!("incorrect password from {peer} for session 0x{id:x}");
        }
        self.send_connect(conn, &answer(valid, id));
        if !valid {
            self.close_conn(conn);
        }
    }

    fn bind(&mut self, conn: ConnId, session: i64) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = session;
        }
        self.session_conn.insert(session, conn);
    }

    fn send_connect(&self, conn: ConnId, resp: &ConnectResponse) {
        let mut out = BytesMut::with_capacity(48);
        let at = begin_frame(&mut out);
        resp.encode(&mut out);
        end_frame(&mut out, at);
        self.send(conn, out.freeze());
    }

    fn disconnected(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            debug!(
                "connection from {} for session 0x{:x} closed",
                c.peer, c.session
            );
            if self.session_conn.get(&c.session) == Some(&conn) {
                self.session_conn.remove(&c.session);
            }
        }
        self.watches.remove_watcher(conn);
    }

    /// Proposes closeSession: the session's ephemerals (including pending ones) go with it.
    fn close_session(&mut self, session: i64, cxid: i32, then: Then) {
        let paths =
            prep::prep_close_session(&self.tree, &mut self.overlay, session, self.next_zxid);
        self.sessions.set_closing(session);
        let body = TxnBody::CloseSession(CloseSessionTxn {
            paths2_delete: paths,
        });
        self.propose(session, cxid, OpCode::CloseSession, body, then, wall_ms());
    }

    fn expire_sessions(&mut self) {
        let now = self.now();
        for id in self.sessions.take_expired(now) {
            info!("session 0x{id:x} expired");
            let conn = self.session_conn.get(&id).copied();
            self.close_session(id, 0, Then::Closed { conn, xid: None });
        }
    }

    fn collect_containers(&mut self) {
        let now = wall_ms();
        let mut doomed = Vec::new();
        for p in self.tree.containers.iter() {
            if let Some(n) = self.tree.get(p) {
                if n.child_count() == 0 && n.stat.cversion > 0 {
                    doomed.push(p.clone());
                }
            }
        }
        for p in self.tree.ttls.iter() {
            if let Some(n) = self.tree.get(p) {
                let ttl = ttl_of(n.stat.ephemeral_owner);
                if n.child_count() == 0 && ttl != 0 && now - n.stat.mtime > ttl {
                    doomed.push(p.clone());
                }
            }
        }
        for p in doomed {
            // Checked against pending changes too, as deleteContainer goes through prep.
            let still = self.overlay.get(&self.tree, &p).is_ok_and(|r| {
                r.child_count == 0 && owner_kind(r.stat.ephemeral_owner) != OwnerKind::Normal
            });
            if still {
                info!("deleting unused container or expired TTL node {p}");
                let body = TxnBody::Delete(DeleteTxn { path: p.clone() });
                self.overlay.remove_node(&self.tree, &p, self.next_zxid);
                self.propose(
                    0,
                    0,
                    OpCode::DeleteContainer,
                    body,
                    Then::Nothing,
                    wall_ms(),
                );
            }
        }
    }

    // ---- the write path: propose, persist, commit, apply ---------------------------------

    /// `time` is the txn's time: the one prep stamped on the nodes it creates or changes,
    /// so that the digest computed in prep matches the applied tree.
    #[allow(clippy::too_many_arguments)]
    fn propose(
        &mut self,
        session: i64,
        cxid: i32,
        op: OpCode,
        body: TxnBody,
        then: Then,
        time: i64,
    ) {
        let zxid = self.next_zxid;
        if self.ensemble.is_some() && !(self.mode() == "leader" && self.serving()) {
            // Only an established leader proposes (a loop that made the node give up its
            // role mid-way ends here).
            return;
        }
        if self.ensemble.is_some() && jute::counter_of(zxid) >= 0xffff_ffff {
            // As ZooKeeper's Leader.propose: the counter is spent; a new epoch must begin.
            self.look("the zxid counter of this epoch is exhausted; electing a new epoch");
            return;
        }
        self.next_zxid += 1;
        let txn = Txn {
            hdr: TxnHeader {
                client_id: session,
                cxid,
                zxid,
                time,
                op: op.code(),
            },
            body,
            // Prep has recorded this txn's changes: the digest after it is applied.
            digest: Some(TxnDigest {
                version: crate::storage::snap::DIGEST_VERSION,
                tree_digest: self.overlay.digest as i64,
            }),
        };
        let then = if session != 0 && then.answers_client() {
            self.queue.push_awaited(session, Awaits::Zxid(zxid), then);
            Then::Nothing
        } else {
            then
        };
        let raw = txn.to_bytes();
        self.proposals.push_back(Proposal { txn, then, raw });
        self.zab.propose(zxid, &mut self.actions);
        self.run_actions();
    }

    fn run_actions(&mut self) {
        while !self.actions.is_empty() {
            let batch = std::mem::take(&mut self.actions);
            for a in batch {
                match a {
                    Action::Persist(zxid) => self.persist(zxid),
                    Action::Commit(zxid) => self.commit_up_to(zxid),
                }
            }
        }
    }

    /// Hands a proposal to the log writer; it reports back through `durable_rx`.
    fn persist(&mut self, zxid: i64) {
        let Some(p) = self.proposals.iter().rev().find(|p| p.txn.hdr.zxid == zxid) else {
            return;
        };
        let raw = p.raw.clone();
        if !self.log.append(zxid, raw.clone()) {
            warn!("the txn log writer is gone; 0x{zxid:x} will not be acknowledged");
        }
        if self.ensemble.is_some() {
            self.broadcast_proposal(zxid, &raw);
        }
    }

    /// Starts a snapshot once enough txns were applied. The log rolls, and the tree is then
    /// written a slice at a time between requests (`snapshot_step`), so a large tree does
    /// not stop the node; the file is assembled and written on a thread of its own.
    fn maybe_snapshot(&mut self) {
        self.since_snapshot += 1;
        if self.since_snapshot < self.snap_every {
            return;
        }
        if self.snap_job.is_some() || self.snapshotting.load(Ordering::Acquire) {
            // As ZooKeeper's SyncRequestProcessor: the log rolls and the count starts over,
            // but no second snapshot is queued behind the one still being taken (which
            // would otherwise follow it at once, back to back, under a heavy write load).
            warn!("too busy to snapshot, skipping");
            self.since_snapshot = 0;
            self.snap_every = snapshot_threshold(self.storage.snap_count);
            self.log.roll();
            return;
        }
        self.start_snapshot();
    }

    /// The AdminServer's restore, as ZooKeeper 3.9's `restoreFromSnapshot`: the snapshot's
    /// tree and sessions replace the database. Every connection is closed (clients reconnect;
    /// sessions the snapshot does not hold are expired to them). The new state takes the
    /// current zxid, so that the txn log stays in order, and is written as a snapshot before
    /// anyone is served again: a crash before that recovers the state from before.
    fn restore(&mut self, loaded: snap::Loaded, reply: oneshot::Sender<Result<i64, String>>) {
        if self.ensemble.is_some() {
            let _ = reply.send(Err(
                "restore is only supported on a standalone server".into()
            ));
            return;
        }
        if !self.proposals.is_empty() || self.snap_job.is_some() || self.restoring {
            let _ = reply.send(Err(
                "writes or a snapshot are in progress; retry the restore".into(),
            ));
            return;
        }
        let before = (self.tree.node_count(), self.sessions.len());
        let zxid = self.last_zxid().max(loaded.tree.last_processed_zxid);
        let mut tree = loaded.tree;
        tree.last_processed_zxid = zxid;
        self.tree = tree;
        self.overlay = Overlay::new(&self.tree);
        self.next_zxid = zxid + 1;
        self.zab = Broadcast::standalone(zxid);
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for c in conns {
            self.close_conn(c);
        }
        self.watches = WatchManager::default();
        self.queue.clear();
        self.sessions =
            SessionTracker::new(self.cfg.tick_time, self.cfg.server_id, wall_ms() as u64);
        let now = self.now();
        for (id, timeout) in &loaded.sessions {
            self.sessions.add(*id, (*timeout).max(0) as u32, now);
        }
        self.committed_sessions = loaded.sessions.into_iter().collect();
        self.digest_log.clear();
        info!(
            "restored from a snapshot: {} nodes and {} sessions before, {} nodes and {} sessions now, serving from zxid 0x{zxid:x} once it is on disk",
            before.0,
            before.1,
            self.tree.node_count(),
            self.sessions.len()
        );
        self.restoring = true;
        let (tx, rx) = oneshot::channel();
        self.snap_waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        self.start_snapshot();
        let node = self.senders.as_ref().map(|s| s.control.clone());
        tokio::spawn(async move {
            let res = rx
                .await
                .unwrap_or_else(|_| Err("the snapshot was abandoned".into()));
            if let Some(node) = node {
                let _ = node.send(Control::RestoreDone { ok: res.is_ok() }).await;
            }
            let _ = reply.send(res.map(|_| zxid));
        });
    }

    /// The AdminServer's snapshot command: the caller hears when the file is written.
    fn snapshot_now(&mut self, reply: oneshot::Sender<SnapshotReply>) {
        self.snap_waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(reply);
        if self.snap_job.is_none() {
            // Joins the snapshot being written, if there is one.
            self.start_snapshot();
        }
    }

    fn start_snapshot(&mut self) {
        if self.snapshotting.swap(true, Ordering::AcqRel) {
            return; // the previous one is still being written
        }
        self.since_snapshot = 0;
        self.snap_every = snapshot_threshold(self.storage.snap_count);
        // As ZooKeeper purges its ACL cache when it snapshots.
        self.tree.purge_unused_acls();
        self.log.roll();
        let sessions: Vec<(i64, i32)> = self
            .committed_sessions
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        let now = Instant::now();
        self.snap_job = Some((snap::Fuzzy::start(&self.tree, sessions), now, now));
    }

    /// Before the tree is replaced or rolled back (TRUNC, a leader's snapshot): a snapshot
    /// still being walked would mix two trees, and one being written would name a zxid the
    /// log no longer reaches. The walk is dropped; a file already being written is waited for,
    /// so that the caller's clean-up of snapshots past its new point sees it.
    pub(super) fn abandon_snapshot(&mut self, why: &str) {
        if self.snap_job.take().is_some() {
            info!("abandoning the snapshot being taken: {why}");
            self.snapshotting.store(false, Ordering::Release);
            for w in self
                .snap_waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain(..)
            {
                let _ = w.send(Err(format!("snapshot abandoned: {why}")));
            }
            return;
        }
        let busy = self.snapshotting.clone();
        let wait = || {
            while busy.load(Ordering::Acquire) {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        };
        if busy.load(Ordering::Acquire) {
            info!("waiting for the snapshot being written before: {why}");
            match tokio::runtime::Handle::try_current() {
                Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                    tokio::task::block_in_place(wait)
                }
                _ => wait(),
            }
        }
    }

    /// Nodes written per slice: a few milliseconds of work.
    const SNAPSHOT_SLICE: usize = 2000;

    fn snapshot_step(&mut self) {
        let Some((job, _, last)) = self.snap_job.as_mut() else {
            return;
        };
        let done = job.step(&self.tree, Self::SNAPSHOT_SLICE);
        *last = Instant::now();
        if !done {
            return;
        }
        let Some((job, started, _)) = self.snap_job.take() else {
            return;
        };
        let (digest_zxid, digest) = (self.tree.last_processed_zxid, self.tree.digest());
        let dir = self.storage.snap_dir.clone();
        let compression = self.storage.compression;
        let busy = self.snapshotting.clone();
        let waiters = self.snap_waiters.clone();
        let last_snapshot = self.last_snapshot.clone();
        let (zxid, nodes) = (job.zxid, job.visited);
        let walked = started.elapsed();
        let spawned = std::thread::Builder::new()
            .name("ferrozk-snapshot".into())
            .spawn(move || {
                lower_priority();
                let parts = job.finish(digest_zxid, digest);
                let size: usize = parts.iter().map(|p| p.len()).sum();
                let written = snap::write_file(&dir, zxid, &parts, compression);
                drop(parts);
                release_free_memory();
                let res = match written {
                    Ok(p) => {
                        info!(
                            "snapshot {} written: {nodes} nodes, {size} bytes (walked in {walked:?}, {:?} in all)",
                            p.display(),
                            started.elapsed()
                        );
                        stats().snapshottime.add(started.elapsed().as_micros() as u64);
                        *last_snapshot.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some((zxid, wall_ms() / 1000));
                        Ok((p, zxid))
                    }
                    Err(e) => {
                        error!("writing snapshot 0x{zxid:x} failed: {e}");
                        Err(e.to_string())
                    }
                };
                busy.store(false, Ordering::Release);
                for w in waiters.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
                    let _ = w.send(res.clone());
                }
            });
        if let Err(e) = spawned {
            error!("cannot start the snapshot thread: {e}");
            self.snapshotting.store(false, Ordering::Release);
            self.snap_waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        }
    }

    fn purge(&self) {
        let (snap_dir, log_dir, keep) = (
            self.storage.snap_dir.clone(),
            self.storage.log_dir.clone(),
            self.storage.purge_keep,
        );
        tokio::task::spawn_blocking(move || {
            match crate::storage::tools::purge(&snap_dir, &log_dir, keep) {
                Ok(gone) => info!(
                    "autopurge removed {} old snapshot and log files",
                    gone.len()
                ),
                Err(e) => warn!("autopurge failed: {e}"),
            }
        });
    }

    fn commit_up_to(&mut self, zxid: i64) {
        while self
            .proposals
            .front()
            .is_some_and(|p| p.txn.hdr.zxid <= zxid)
        {
            let Some(p) = self.proposals.pop_front() else {
                break;
            };
            self.apply(p);
        }
        self.overlay.retire(zxid);
        self.check_shutdown();
    }

    /// The one place replicated state changes: apply in zxid order, fire watches, answer.
    fn apply(&mut self, p: Proposal) {
        let zxid = p.txn.hdr.zxid;
        if self.ensemble.is_some() {
            self.committed(zxid, &p.raw);
        }
        self.changes.clear();
        let rc = self.tree.apply(&p.txn, &mut self.changes);
        if let Some(log) = self.applied_log.as_mut() {
            log.push(Applied::Txn(zxid, self.tree.digest()));
        }
        if let Some(d) = &p.txn.digest {
            if d.tree_digest as u64 != self.tree.digest() {
                stats().digest_mismatches_count.inc();
                warn!(
                    "digest mismatch at zxid 0x{zxid:x}: prepared {} applied {}",
                    d.tree_digest,
                    self.tree.digest()
                );
            }
        }
        if zxid % 128 == 0 {
            if self.digest_log.len() >= 1024 {
                self.digest_log.pop_front();
            }
            self.digest_log.push_back((zxid, self.tree.digest()));
        }
        match &p.txn.body {
            TxnBody::CreateSession(c) => {
                self.committed_sessions
                    .insert(p.txn.hdr.client_id, c.time_out);
            }
            TxnBody::CloseSession(_) => {
                self.committed_sessions.remove(&p.txn.hdr.client_id);
                self.forget_session_owner(p.txn.hdr.client_id);
            }
            _ => {}
        }
        self.maybe_snapshot();
        let changes = std::mem::take(&mut self.changes);
        self.watches.trigger(&changes, &mut self.events);
        self.changes = changes;
        self.deliver_events(zxid);
        let session = p.txn.hdr.client_id;
        let outcome = Outcome { zxid, rc };
        if !matches!(p.then, Then::Nothing) || session == 0 {
            return self.finish(session, p.then, outcome);
        }
        // A client's request of this node: its answer leaves in the session's order. A
        // follower knows its forwarded requests by cxid, the proposer by zxid.
        let following = self.is_following();
        let awaits = if following {
            Awaits::Cxid(p.txn.hdr.cxid)
        } else {
            Awaits::Zxid(zxid)
        };
        match self.queue.complete(session, awaits, outcome) {
            Ok(()) => self.release(session),
            Err(outcome) if following => {
                let then = self.follower_unmatched(&p.txn);
                self.finish(session, then, outcome);
            }
            Err(_) => {}
        }
    }

    /// Answers, in order, what the session's commit queue lets go now.
    fn release(&mut self, session: i64) {
        let mut out = Vec::new();
        self.queue.release(session, &mut out);
        for r in out {
            match r {
                Released::Done(then, outcome) => self.finish(session, then, outcome),
                Released::Held(h) => {
                    self.dispatch(h.conn, session, h.xid, h.op, h.body, h.start);
                }
            }
        }
    }

    /// Runs the continuation of an applied txn (or of a sync the leader answered).
    fn finish(&mut self, session: i64, then: Then, outcome: Outcome) {
        let Outcome { zxid, rc } = outcome;
        match then {
            Then::Nothing => {}
            Then::Connected { conn, resp } => self.send_connect(conn, &resp),
            Then::Closed { conn, xid } => {
                self.sessions.remove(session);
                if let Some(conn) = conn {
                    if let Some(xid) = xid {
                        self.reply(conn, xid, zxid, 0, None);
                    }
                    self.close_conn(conn);
                }
            }
            Then::Reply {
                conn,
                xid,
                op,
                prep_err,
                start,
            } => {
                self.reply_write(conn, xid, zxid, op, prep_err, rc);
                self.done(conn, op.code(), xid, start);
            }
            Then::Sync {
                conn,
                xid,
                path,
                start,
            } => {
                self.reply(conn, xid, zxid, 0, Some(&SyncResponse { path }));
                self.done(conn, OpCode::Sync.code(), xid, start);
            }
        }
    }

    fn reply_write(
        &self,
        conn: ConnId,
        xid: i32,
        zxid: i64,
        op: OpCode,
        prep_err: i32,
        rc: ApplyResult,
    ) {
        let err = if prep_err != 0 { prep_err } else { rc.err };
        if err == ErrorCode::SessionMoved.code() {
            // As ZooKeeper: a connection-level error; the client's session lives on where it
            // moved, and this stale connection is closed rather than answered.
            info!("closing a connection of session moved elsewhere");
            let conn_id = conn;
            if let Some(c) = self.conns.get(&conn_id) {
                let _ = c.tx.send(Out::Close);
            }
            return;
        }
        if err != 0 {
            return self.reply(conn, xid, zxid, err, None);
        }
        let body = write_response(op, rc);
        self.reply(conn, xid, zxid, 0, body.as_deref());
    }

    // ---- requests -----------------------------------------------------------------------

    fn request(&mut self, conn: ConnId, xid: i32, op: i32, payload: Bytes) {
        let start = Instant::now();
        stats().packets_received.inc();
        if self.shutdown.is_some() || self.shutdown_done || self.restoring {
            // Shutting down or restoring: the client reconnects (elsewhere or later).
            self.close_conn(conn);
            return;
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.stats.received += 1;
        let session = c.session;
        if session == 0 {
            return;
        }
        let now = self.now();
        if !self.sessions.touch(session, now) {
            // The session expired or is closing: the client learns it on reconnect.
            self.close_conn(conn);
            return;
        }
        if !is_valid_op(op) {
            warn!("received packet of unknown type {op} from session 0x{session:x}; closing the connection");
            self.reply(conn, xid, -1, ErrorCode::Unimplemented.code(), None);
            self.close_conn(conn);
            return;
        }
        // Pings and auth packets are answered at once, as ZooKeeper answers them outside
        // its pipeline (clients match them by their reserved xids, not by order).
        let unordered = op == OpCode::Ping.code() || op == OpCode::Auth.code();
        if self.is_following() {
            self.follower_touch(session);
            if !unordered && (is_write(op) || op == OpCode::Sync.code()) {
                return self.follower_forward(conn, session, xid, op, payload, start);
            }
        }
        if !unordered && !is_write(op) && self.queue.busy(session) {
            // Answered from the local tree, but not before the session's earlier requests.
            let held = Held {
                conn,
                xid,
                op,
                body: payload,
                start,
            };
            return self.queue.hold(session, held);
        }
        self.dispatch(conn, session, xid, op, payload, start);
    }

    fn dispatch(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        op: i32,
        payload: Bytes,
        start: Instant,
    ) {
        let mut r = Reader::new(payload);
        let req = match Request::decode(op, &mut r) {
            Ok(q) => q,
            Err(e) => {
                warn!("cannot decode request type {op} from session 0x{session:x}: {e}");
                let err = ErrorCode::MarshallingError.code();
                if is_write(op) {
                    // A write that cannot be read still takes its place in zxid order.
                    let code = OpCode::from_i32(op).unwrap_or(OpCode::Error);
                    let then = Then::Reply {
                        conn,
                        xid,
                        op: code,
                        prep_err: err,
                        start,
                    };
                    self.propose(
                        session,
                        xid,
                        OpCode::Error,
                        TxnBody::Error(ErrorTxn { err }),
                        then,
                        wall_ms(),
                    );
                } else {
                    self.reply(conn, xid, self.last_zxid(), err, None);
                    self.done(conn, op, xid, start);
                }
                return;
            }
        };
        match req {
            Request::Ping => {
                self.reply(conn, Xid::PING, self.last_zxid(), 0, None);
                self.done(conn, op, xid, start);
            }
            Request::Auth(a) => {
                self.auth(conn, xid, a);
                self.done(conn, op, xid, start);
            }
            Request::Sasl(_) => {
                // No SASL provider is configured: ZooKeeper answers with a null token and
                // leaves the session unauthenticated.
                warn!("SASL is not enabled; ignoring a SASL token from session 0x{session:x}");
                self.reply(conn, xid, 0, 0, Some(&SetSaslResponse { token: None }));
                self.done(conn, op, xid, start);
            }
            Request::CloseSession => {
                info!("closing session 0x{session:x} at the client's request");
                self.close_session(
                    session,
                    xid,
                    Then::Closed {
                        conn: Some(conn),
                        xid: Some(xid),
                    },
                );
            }
            req if is_write(op) => self.write(conn, session, xid, op, req, start),
            req => {
                let Some(c) = self.conns.get(&conn) else {
                    return;
                };
                let mut ctx = ReadCtx {
                    tree: &self.tree,
                    watches: &mut self.watches,
                    policy: &self.policy,
                    auth: &c.auth,
                    watcher: conn,
                    session,
                    events: &mut self.events,
                };
                let res = ctx.read(req);
                // Events for changes a reconnecting client missed come before the reply.
                self.deliver_events(-1);
                self.reply_body(conn, xid, res);
                self.done(conn, op, xid, start);
            }
        }
    }

    /// A request was answered: the figures `srvr`, `cons` and `mntr` show.
    fn done(&self, conn: ConnId, op: i32, xid: i32, start: Instant) {
        let us = start.elapsed().as_micros() as u64;
        let s = stats();
        s.latency.add(us);
        if is_write(op) {
            s.updatelatency.add(us);
        } else if op != OpCode::Ping.code() {
            s.readlatency.add(us);
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let st = &c.stats;
        let before = c
            .shared
            .outstanding
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .unwrap_or(0);
        if before == self.outstanding_limit {
            c.shared.wake.notify_one();
        }
        st.last_op.set(last_op_name(op));
        if xid >= 0 {
            st.last_cxid.set(xid as i64);
        }
        st.last_zxid.set(self.last_zxid());
        st.last_response_ms.set(self.now());
        st.last_latency_us.set(us);
        st.min_latency_us.set(st.min_latency_us.get().min(us));
        st.max_latency_us.set(st.max_latency_us.get().max(us));
        st.sum_latency_us.set(st.sum_latency_us.get() + us);
        st.count.set(st.count.get() + 1);
    }

    fn auth(&mut self, conn: ConnId, xid: i32, a: AuthPacket) {
        let data = a.auth.unwrap_or_default();
        let ids = match (a.scheme.as_str(), self.conns.get(&conn)) {
            ("digest", _) => self.policy.digest_auth(&data),
            ("ip", Some(c)) => vec![Id::new("ip", &crate::acl::host_address(c.peer.ip()))],
            _ => Vec::new(),
        };
        if ids.is_empty() {
            warn!(
                "authentication failed for scheme {}: no such provider",
                a.scheme
            );
            stats().auth_failed_count.inc();
            self.reply(conn, xid, 0, ErrorCode::AuthFailed.code(), None);
            self.close_conn(conn);
            return;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            info!(
                "session 0x{:x}: auth success for scheme {} and address {}",
                c.session, a.scheme, c.peer
            );
            for id in ids {
                if !c.auth.contains(&id) {
                    c.auth.push(id);
                }
            }
        }
        self.reply(conn, xid, 0, 0, None);
    }

    fn write(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        op: i32,
        req: Request,
        start: Instant,
    ) {
        let auth = self
            .conns
            .get(&conn)
            .map(|c| c.auth.clone())
            .unwrap_or_default();
        let code = OpCode::from_i32(op).unwrap_or(OpCode::Error);
        if !self.owns_session(session, 0) {
            // The session was revalidated through another server since.
            let err = ErrorCode::SessionMoved.code();
            let then = Then::Reply {
                conn,
                xid,
                op: code,
                prep_err: err,
                start,
            };
            let body = TxnBody::Error(ErrorTxn { err });
            self.propose(session, xid, OpCode::Error, body, then, wall_ms());
            return;
        }
        let then = Then::Reply {
            conn,
            xid,
            op: code,
            prep_err: 0,
            start,
        };
        self.prep_and_propose(session, xid, op, req, &auth, then);
    }

    /// Checks a write against the tree and the changes in flight and proposes its txn (an
    /// error txn when the check fails, so that it keeps its place in order).
    fn prep_and_propose(
        &mut self,
        session: i64,
        cxid: i32,
        op: i32,
        req: Request,
        auth: &[Id],
        mut then: Then,
    ) {
        let time = wall_ms();
        let ctx = Ctx {
            session,
            zxid: self.next_zxid,
            time,
            auth,
            extended_types: self.cfg.extended_types_enabled,
            policy: &self.policy,
        };
        let code = OpCode::from_i32(op).unwrap_or(OpCode::Error);
        let prepared = prep::prep_request(&self.tree, &mut self.overlay, &ctx, req);
        let (hdr_op, body) = match prepared {
            Ok(b) => (code, b),
            Err(e) => {
                if let Then::Reply { prep_err, .. } = &mut then {
                    *prep_err = e.code();
                }
                (OpCode::Error, TxnBody::Error(ErrorTxn { err: e.code() }))
            }
        };
        self.propose(session, cxid, hdr_op, body, then, time);
    }

    pub fn node_count(&self) -> usize {
        self.tree.node_count()
    }
}

/// ZooKeeper's short operation names (FinalRequestProcessor's lastOp).
fn last_op_name(op: i32) -> &'static str {
    match OpCode::from_i32(op) {
        Some(OpCode::Ping) => "PING",
        Some(OpCode::CreateSession) => "SESS",
        Some(OpCode::Multi) => "MULT",
        Some(OpCode::MultiRead) => "MLTR",
        Some(OpCode::Create | OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer) => {
            "CREA"
        }
        Some(OpCode::Delete | OpCode::DeleteContainer) => "DELE",
        Some(OpCode::SetData) => "SETD",
        Some(OpCode::Reconfig) => "RECO",
        Some(OpCode::SetAcl) => "SETA",
        Some(OpCode::CloseSession) => "CLOS",
        Some(OpCode::Sync) => "SYNC",
        Some(OpCode::Check) => "CHEC",
        Some(OpCode::Exists) => "EXIS",
        Some(OpCode::GetData) => "GETD",
        Some(OpCode::SetWatches) => "SETW",
        Some(OpCode::SetWatches2) => "STW2",
        Some(OpCode::AddWatch) => "ADDW",
        Some(OpCode::GetAcl) => "GETA",
        Some(OpCode::GetChildren | OpCode::GetChildren2) => "GETC",
        Some(OpCode::GetAllChildrenNumber) => "GETACN",
        Some(OpCode::CheckWatches) => "CHKW",
        Some(OpCode::RemoveWatches) => "REMW",
        Some(OpCode::WhoAmI) => "HOMI",
        Some(OpCode::GetEphemerals) => "GETE",
        _ => "NA",
    }
}

/// Hands memory freed inside the allocator's arenas back to the system. A snapshot's slices
/// (a couple of hundred bytes per znode) are freed once the file is written, but glibc keeps
/// them, scattered among the tree's allocations, and the resident set would stay that much
/// larger until the next snapshot reuses them.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only reorganises the allocator's own free lists; it takes no
    // pointers of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs the calling thread at the lowest CPU priority (nice 19), so that on a busy machine a
/// snapshot being assembled and written yields the cores to the node task and the log writer,
/// whose latency clients see. Linux keeps nice values per thread.
fn lower_priority() {
    // SAFETY: setpriority takes plain integers and touches no memory of ours; `who` 0 is the
    // calling thread.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
    if rc != 0 {
        tracing::debug!(
            "could not lower the snapshot thread's priority: {}",
            std::io::Error::last_os_error()
        );
    }
}
