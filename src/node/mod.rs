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
use crate::storage::recovery::{self, RecoveryError};
use crate::storage::store::{FileStore, MemStore, Store};
use crate::storage::{snap, StorageConfig};
use crate::tree::{owner_kind, ttl_of, ApplyResult, Change, DataTree, OwnerKind};
use crate::txn::{Txn, TxnBody};
use crate::watch::{Event, WatchManager};
use crate::zab::election::Vote;
use crate::zab::{Action, Broadcast};
use bytes::{Bytes, BytesMut};
use jute::*;
use rand::SeedableRng;
use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

mod apply;
mod clients;
mod ensemble;
mod local;
pub use ensemble::SimView;
mod snapshots;
mod view;

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
    /// While looking, a peer's election notification carried a newer configuration.
    NewerConfig(Bytes),
    Control(Control),
}

/// The process's and the node's own orders to the node.
pub enum Control {
    /// Stop taking requests, finish the writes in flight, close every connection, and
    /// answer with how many writes were in flight.
    Shutdown { done: oneshot::Sender<usize> },
    /// The snapshot written after a restore is durable (serve again, then answer the
    /// AdminServer, so that a client that connects on hearing the answer is served), or failed.
    RestoreDone {
        result: Result<(), String>,
        zxid: i64,
        reply: oneshot::Sender<Result<i64, String>>,
    },
    /// The snapshot thread finished writing its file.
    SnapshotWritten,
    /// A GSSAPI step ran (off the node's thread): its exchange, back, and what it gave.
    SaslStepped {
        conn: ConnId,
        session: i64,
        xid: i32,
        gss: Box<crate::sasl::gssapi::GssServer>,
        result: Result<crate::sasl::gssapi::GssStep, String>,
    },
}

/// The senders of the node's inputs, handed to their producers.
#[derive(Clone)]
pub struct Senders {
    pub clients: mpsc::Sender<ClientEvent>,
    pub ops: mpsc::Sender<OpsRequest>,
    pub links: mpsc::Sender<LinkEvent>,
    pub votes: mpsc::Sender<crate::quorum::election::Event>,
    pub control: mpsc::Sender<Control>,
}

/// The node's inputs, one bounded channel per producer.
pub struct Receivers {
    clients: mpsc::Receiver<ClientEvent>,
    ops: mpsc::Receiver<OpsRequest>,
    links: mpsc::Receiver<LinkEvent>,
    votes: mpsc::Receiver<crate::quorum::election::Event>,
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
    /// Requests sent before the handshake was answered (a new session's createSession is
    /// being committed; a follower asks the leader first): handled once the ConnectResponse
    /// is sent, in order, as ZooKeeper stops reading a connection until then; dropped if
    /// the session is not valid.
    early: Vec<(i32, i32, Bytes)>,
    /// The ConnectResponse has been sent.
    answered: bool,
    /// The connection's SASL exchange, from its first SASL packet.
    sasl: Option<Box<crate::sasl::digest::DigestServer>>,
    /// Its Kerberos exchange (None while a step runs off the node's thread).
    gss: Option<Box<crate::sasl::gssapi::GssServer>>,
    /// A Kerberos step is running.
    gss_busy: bool,
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
    /// A client write's continuation; an error found before apply is filled in later.
    fn reply(conn: ConnId, xid: i32, op: i32, start: Instant) -> Then {
        Then::Reply {
            conn,
            xid,
            op: OpCode::from_i32(op).unwrap_or(OpCode::Error),
            prep_err: 0,
            start,
        }
    }

    /// The answer is this error, whatever the apply gives.
    fn failed(mut self, err: ErrorCode) -> Then {
        if let Then::Reply { prep_err, .. } = &mut self {
            *prep_err = err.code();
        }
        self
    }

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
    log: Box<dyn Store>,
    durable_rx: Option<mpsc::UnboundedReceiver<i64>>,
    /// Sessions as of the last applied zxid (what a snapshot records).
    committed_sessions: HashMap<i64, i32>,
    since_snapshot: u64,
    snap_every: u64,
    /// A snapshot being walked, when it started, and when its last slice was taken.
    snap_job: Option<(snap::Fuzzy, Instant, Instant)>,
    /// The thread writing the last snapshot file, until the node has reaped its result.
    snap_writer: Option<std::thread::JoinHandle<SnapshotReply>>,
    /// Callers waiting for the snapshot being taken (the AdminServer's snapshot command).
    snap_waiters: Vec<oneshot::Sender<SnapshotReply>>,
    /// The zxid and time (s) of the last snapshot written.
    last_snapshot: Option<(i64, i64)>,
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
    /// Local sessions (`localSessionsEnabled`, and read-only mode's): this member's alone.
    local: SessionTracker,
    /// Serving read-only clients while looking for a quorum (`readonlymode.enabled`).
    read_only: bool,
    /// Set when the member began looking with proposals the quorum had not committed (now
    /// applied, as its history): it serves no read-only clients until an election ends, as
    /// they could read what the quorum truncates.
    read_only_blocked: bool,
    /// Read-only mode was refused for this looking period (see `read_only_blocked`).
    read_only_refused: bool,
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
    /// Every random choice the node makes (see `build`).
    rng: rand::rngs::StdRng,
    /// What happened to the tree, in order, when a simulation asks.
    pub applied_log: Option<Vec<Applied>>,
    events: Vec<Event>,
    changes: Vec<Change>,
    actions: Vec<Action>,
}

/// The server id session ids carry in their top byte: the member's myid, or 1 on a standalone
/// server, as ZooKeeper's standalone server makes them.
fn session_server_id(cfg: &Config) -> u64 {
    if cfg.is_ensemble() {
        cfg.server_id
    } else {
        1
    }
}

impl Clock {
    /// Wall-clock milliseconds since the Unix epoch (what txns stamp on the nodes they
    /// change): the machine's, or the simulated clock's from a fixed start.
    pub fn wall_ms(&self) -> i64 {
        match self {
            Clock::Real => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            Clock::Manual(ms) => 1_700_000_000_000 + ms.load(Ordering::Acquire) as i64,
        }
    }
}

impl Node {
    /// Recovers the dataDir and starts the txn log writer.
    pub fn new(cfg: Config) -> Result<Node, RecoveryError> {
        let start = Instant::now();
        let storage = StorageConfig::from_config(&cfg);
        let truncate = cfg.settings.truncate_corrupt_log;
        let rec = recovery::recover(&storage, truncate)?;
        stats().dbinittime.add(start.elapsed().as_micros() as u64);
        let recovered_snapshot = (rec.snapshots_read > 0).then_some(rec.tree.last_processed_zxid);
        // A member of an ensemble reads its epochs where ZooKeeper keeps them.
        let epochs = if cfg.is_ensemble() {
            let e = crate::storage::epoch::load(&storage.snap_dir, rec.tree.last_processed_zxid)
                .map_err(RecoveryError::Epoch)?;
            Some(e)
        } else {
            None
        };
        let (durable_tx, durable_rx) = mpsc::unbounded_channel();
        let log = Box::new(FileStore::start(storage.clone(), move |zxid| {
            let _ = durable_tx.send(zxid);
        })?);
        let mut node = Node::build(
            cfg,
            storage,
            rec.tree,
            rec.sessions,
            log,
            Clock::Real,
            epochs,
        );
        node.durable_rx = Some(durable_rx);
        node.snapshot_on_start = rec.txns_replayed > 0;
        node.last_snapshot = recovered_snapshot.map(|z| (z, node.wall_ms() / 1000));
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
        let of_zxid = jute::epoch_of(tree.last_processed_zxid);
        let epochs = crate::storage::epoch::Epochs {
            accepted: epochs.0.unwrap_or(of_zxid),
            current: epochs.1.unwrap_or(of_zxid),
        };
        let log = Box::new(MemStore::new(mem));
        let mut node = Node::build(cfg, storage, tree, sessions, log, clock, Some(epochs));
        node.applied_log = Some(Vec::new());
        Ok(node)
    }

    fn build(
        cfg: Config,
        storage: StorageConfig,
        tree: DataTree,
        recovered_sessions: Vec<(i64, i32)>,
        log: Box<dyn Store>,
        clock: Clock,
        epochs: Option<crate::storage::epoch::Epochs>,
    ) -> Node {
        let session_sid = session_server_id(&cfg);
        let cfg_tick = cfg.tick_time;
        let mut sessions = SessionTracker::new(cfg.tick_time, session_sid, clock.wall_ms() as u64);
        // Randomness (the snapshot interval's spread) from the OS in production, from the
        // server id in the simulation, so that a seed replays the same run.
        let mut rng = match &clock {
            Clock::Real => rand::rngs::StdRng::from_os_rng(),
            Clock::Manual(_) => rand::rngs::StdRng::seed_from_u64(cfg.server_id),
        };
        for (id, timeout) in &recovered_sessions {
            // Restored sessions get a full timeout from now to reconnect.
            sessions.add(*id, (*timeout).max(0) as u32, 0);
        }
        let overlay = Overlay::new(&tree);
        let snap_every = snapshots::snapshot_threshold(&mut rng, storage.snap_count);
        let ensemble =
            epochs.and_then(|e| ensemble::Ensemble::from_config(&cfg, e, tree.last_processed_zxid));
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
            snap_writer: None,
            snap_waiters: Vec::new(),
            last_snapshot: None,
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
            local: SessionTracker::new(cfg_tick, session_sid, 0),
            read_only: false,
            read_only_blocked: false,
            read_only_refused: false,
            watches: WatchManager::default(),
            conns: HashMap::new(),
            session_conn: HashMap::new(),
            overlay,
            proposals: VecDeque::new(),
            queue: Queue::default(),
            start: Instant::now(),
            clock,
            rng,
            applied_log: None,
            events: Vec::new(),
            changes: Vec::new(),
            actions: Vec::new(),
        }
    }

    /// The most queued inputs of one kind handled per wake-up of the run loop.
    const BATCH: usize = 64;

    /// Wall-clock milliseconds, from the node's clock.
    fn wall_ms(&self) -> i64 {
        self.clock.wall_ms()
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

    /// Gives the node the senders of its own inputs (a restore's completion, the election and
    /// quorum tasks it starts).
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
                // Each wake-up drains what is already queued (up to a batch), so that the
                // cost of polling every input is paid once per batch, not per request.
                m = rx.clients.recv() => match m {
                    Some(m) => {
                        self.handle(Input::Client(m));
                        for _ in 0..Self::BATCH {
                            let Ok(m) = rx.clients.try_recv() else { break };
                            self.handle(Input::Client(m));
                        }
                    }
                    None => return,
                },
                Some(m) = rx.control.recv() => self.handle(Input::Control(m)),
                Some(m) = rx.links.recv() => {
                    self.handle(Input::Link(m));
                    for _ in 0..Self::BATCH {
                        let Ok(m) = rx.links.try_recv() else { break };
                        self.handle(Input::Link(m));
                    }
                }
                Some(ev) = rx.votes.recv() => match ev {
                    crate::quorum::election::Event::Decided(v) => self.handle(Input::Elected(v)),
                    crate::quorum::election::Event::NewerConfig(c) => {
                        self.handle(Input::NewerConfig(c))
                    }
                },
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
        self.reap_snapshot();
        self.ensemble_tick();
        self.local_tick();
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
                ids,
            }) => self.connect(conn, peer, req, tx, shared, ids),
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
            Input::Control(Control::RestoreDone {
                result: Ok(()),
                zxid,
                reply,
            }) => {
                info!("restore complete: serving again");
                self.restoring = false;
                let _ = reply.send(Ok(zxid));
            }
            // The thread is returning: join it now, so that the next snapshot is not held up.
            Input::Control(Control::SnapshotWritten) => self.reap_snapshot_blocking(),
            Input::Control(Control::SaslStepped {
                conn,
                session,
                xid,
                gss,
                result,
            }) => self.gss_stepped(conn, session, xid, gss, result),
            Input::Control(Control::RestoreDone { result: Err(e), .. }) => {
                error!("the snapshot of a restored database failed: {e}");
                // The restored state is only in memory, and the txn log cannot describe it:
                // stop, so that recovery serves the state from before the restore.
                error!("the snapshot of a restored database could not be written; exiting");
                std::process::exit(70);
            }
            Input::Elected(v) => self.elected(v),
            Input::NewerConfig(c) => self.newer_config(c),
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

    /// Nodes written per slice: a few milliseconds of work.
    const SNAPSHOT_SLICE: usize = 2000;

    pub fn node_count(&self) -> usize {
        self.tree.node_count()
    }
}
