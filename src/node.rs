//! The node runtime: one task that owns the replicated state (the tree), the sessions and the
//! watches, and processes every client request in arrival order. Connections talk to it over
//! channels: requests in, encoded frames out. Nothing here blocks or does I/O, so the loop is a
//! plain sequence of state transitions, and a write's events reach every watcher before the
//! writer's reply leaves.
//!
//! Standalone is a one-node ensemble: a write is prepared into a transaction, committed (here at
//! once; the durability issue inserts the log and its fsync between prep and apply) and applied
//! in zxid order.

use crate::config::Config;
use crate::pipeline::prep::{self, Ctx, Overlay};
use crate::session::{session_password, SessionTracker};
use crate::tree::{owner_kind, ttl_of, Change, DataTree, OwnerKind};
use crate::txn::{Txn, TxnBody};
use crate::watch::{Event, WatchManager, WatcherId};
use bytes::{Bytes, BytesMut};
use jute::*;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
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

/// What connections tell the node.
pub enum Msg {
    Connect {
        conn: ConnId,
        peer: SocketAddr,
        req: ConnectRequest,
        tx: ConnTx,
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

struct Conn {
    tx: ConnTx,
    session: i64,
    auth: Vec<Id>,
    peer: SocketAddr,
}

pub struct Node {
    cfg: Config,
    policy: crate::acl::AclPolicy,
    tree: DataTree,
    sessions: SessionTracker,
    watches: WatchManager,
    conns: HashMap<ConnId, Conn>,
    session_conn: HashMap<i64, ConnId>,
    overlay: Overlay,
    next_zxid: i64,
    start: Instant,
    events: Vec<Event>,
    changes: Vec<Change>,
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Ops ZooKeeper accepts from clients (`Request.isValid`); anything else gets UNIMPLEMENTED and
/// the connection is closed.
fn is_valid_op(op: i32) -> bool {
    use OpCode::*;
    matches!(
        OpCode::from_i32(op),
        Some(
            CloseSession
                | Create
                | Create2
                | CreateTtl
                | CreateContainer
                | Delete
                | Exists
                | GetAcl
                | GetChildren
                | GetAllChildrenNumber
                | GetChildren2
                | GetData
                | GetEphemerals
                | Multi
                | MultiRead
                | Ping
                | Reconfig
                | SetAcl
                | SetData
                | SetWatches
                | SetWatches2
                | Sync
                | CheckWatches
                | RemoveWatches
                | AddWatch
                | WhoAmI
                | Auth
                | Sasl
        )
    )
}

/// The reply body of a request, if it succeeded.
enum Body {
    None,
    Rec(Box<dyn EncodeBox>),
}

trait EncodeBox: Send {
    fn enc(&self, out: &mut BytesMut);
}
impl<T: Encode + Send> EncodeBox for T {
    fn enc(&self, out: &mut BytesMut) {
        self.encode(out)
    }
}

fn body<T: Encode + Send + 'static>(t: T) -> Result<Body, ErrorCode> {
    Ok(Body::Rec(Box::new(t)))
}

impl Node {
    pub fn new(cfg: Config) -> Node {
        let start = Instant::now();
        let sessions = SessionTracker::new(cfg.tick_time, cfg.server_id, wall_ms() as u64);
        Node {
            policy: crate::acl::AclPolicy::from_config(&cfg),
            cfg,
            tree: DataTree::new(),
            sessions,
            watches: WatchManager::default(),
            conns: HashMap::new(),
            session_conn: HashMap::new(),
            overlay: Overlay::default(),
            next_zxid: 1,
            start,
            events: Vec::new(),
            changes: Vec::new(),
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn last_zxid(&self) -> i64 {
        self.tree.last_processed_zxid
    }

    /// Runs until every sender of `rx` is gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let tick = std::time::Duration::from_millis(self.cfg.tick_time.clamp(1, 1000) as u64);
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let container_every =
            std::time::Duration::from_millis(self.cfg.container_check_interval_ms);
        let mut containers = tokio::time::interval_at(
            tokio::time::Instant::now() + container_every,
            container_every,
        );
        loop {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => self.handle(m),
                    None => return,
                },
                _ = ticker.tick() => self.expire_sessions(),
                _ = containers.tick() => self.collect_containers(),
            }
        }
    }

    pub fn handle(&mut self, m: Msg) {
        match m {
            Msg::Connect {
                conn,
                peer,
                req,
                tx,
            } => self.connect(conn, peer, req, tx),
            Msg::Request {
                conn,
                xid,
                op,
                body,
            } => self.request(conn, xid, op, body),
            Msg::Disconnected { conn } => self.disconnected(conn),
        }
    }

    fn send(&self, conn: ConnId, frame: Bytes) {
        if let Some(c) = self.conns.get(&conn) {
            let _ = c.tx.send(Out::Frame(frame));
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

    fn deliver_events(&mut self, zxid: i64) {
        for e in self.events.drain(..) {
            let Some(c) = self.conns.get(&e.watcher) else {
                continue;
            };
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
            let _ = c.tx.send(Out::Frame(out.freeze()));
        }
    }

    fn connect(&mut self, conn: ConnId, peer: SocketAddr, req: ConnectRequest, tx: ConnTx) {
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
        let ip = Id::new("ip", &peer.ip().to_string());
        self.conns.insert(
            conn,
            Conn {
                tx,
                session: 0,
                auth: vec![ip],
                peer,
            },
        );
        let now = self.now();
        let (valid, session) = if req.session_id == 0 {
            let id = self.sessions.next_session_id();
            self.sessions.add(id, timeout, now);
            let txn = self.make_txn(
                id,
                0,
                OpCode::CreateSession,
                TxnBody::CreateSession(CreateSessionTxn {
                    time_out: timeout as i32,
                }),
            );
            self.commit(txn);
            info!(
                "established session 0x{id:x} with negotiated timeout {timeout} for client {peer}"
            );
            (true, id)
        } else {
            let id = req.session_id;
            let pw_ok = req.passwd.as_deref() == Some(&session_password(id)[..]);
            if !pw_ok {
                warn!("incorrect password from {peer} for session 0x{id:x}");
            }
            let ok = pw_ok && self.sessions.revalidate(id, timeout, now);
            if ok {
                if let Some(old) = self.session_conn.get(&id).copied() {
                    if old != conn {
                        self.close_conn(old);
                    }
                }
                info!(
                    "renewed session 0x{id:x} with negotiated timeout {timeout} for client {peer}"
                );
            } else if pw_ok {
                info!("invalid session 0x{id:x} for client {peer}, probably expired");
            }
            (ok, id)
        };
        let resp = ConnectResponse {
            protocol_version: 0,
            time_out: if valid { timeout as i32 } else { 0 },
            session_id: if valid { session } else { 0 },
            passwd: Some(Bytes::copy_from_slice(&if valid {
                session_password(session)
            } else {
                [0u8; 16]
            })),
            read_only: false,
            has_read_only: req.has_read_only,
        };
        let mut out = BytesMut::with_capacity(48);
        let at = begin_frame(&mut out);
        resp.encode(&mut out);
        end_frame(&mut out, at);
        self.send(conn, out.freeze());
        if valid {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session = session;
            }
            self.session_conn.insert(session, conn);
        } else {
            self.close_conn(conn);
        }
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

    fn make_txn(&mut self, session: i64, cxid: i32, op: OpCode, body: TxnBody) -> Txn {
        let zxid = self.next_zxid;
        self.next_zxid += 1;
        Txn {
            hdr: TxnHeader {
                client_id: session,
                cxid,
                zxid,
                time: wall_ms(),
                op: op.code(),
            },
            body,
            digest: None,
        }
    }

    /// Commits and applies one transaction in zxid order and hands out the watch events.
    fn commit(&mut self, txn: Txn) -> crate::tree::ApplyResult {
        self.changes.clear();
        let rc = self.tree.apply(&txn, &mut self.changes);
        // Everything prepared so far is applied: nothing is pending any more.
        self.overlay.clear();
        let changes = std::mem::take(&mut self.changes);
        self.watches.trigger(&changes, &mut self.events);
        self.changes = changes;
        self.deliver_events(txn.hdr.zxid);
        rc
    }

    fn close_session(&mut self, session: i64, cxid: i32) {
        let paths = prep::close_session_paths(&self.tree, &self.overlay, session);
        self.sessions.set_closing(session);
        let txn = self.make_txn(
            session,
            cxid,
            OpCode::CloseSession,
            TxnBody::CloseSession(CloseSessionTxn {
                paths2_delete: paths,
            }),
        );
        self.commit(txn);
        self.sessions.remove(session);
    }

    fn expire_sessions(&mut self) {
        let now = self.now();
        for id in self.sessions.take_expired(now) {
            info!("session 0x{id:x} expired");
            self.close_session(id, 0);
            if let Some(c) = self.session_conn.get(&id).copied() {
                self.close_conn(c);
            }
        }
    }

    fn collect_containers(&mut self) {
        let now = wall_ms();
        let mut doomed = Vec::new();
        for p in self.tree.containers.iter() {
            if let Some(n) = self.tree.get(p) {
                if n.children.is_empty() && n.stat.cversion > 0 {
                    doomed.push(p.clone());
                }
            }
        }
        for p in self.tree.ttls.iter() {
            if let Some(n) = self.tree.get(p) {
                let ttl = ttl_of(n.stat.ephemeral_owner);
                if n.children.is_empty() && ttl != 0 && now - n.stat.mtime > ttl {
                    doomed.push(p.clone());
                }
            }
        }
        for p in doomed {
            let still = self.tree.get(&p).is_some_and(|n| {
                n.children.is_empty() && owner_kind(n.stat.ephemeral_owner) != OwnerKind::Normal
            });
            if still {
                info!("deleting unused container or expired TTL node {p}");
                let txn = self.make_txn(
                    0,
                    0,
                    OpCode::DeleteContainer,
                    TxnBody::Delete(DeleteTxn { path: p }),
                );
                self.commit(txn);
            }
        }
    }

    fn request(&mut self, conn: ConnId, xid: i32, op: i32, payload: Bytes) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
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
        let mut r = Reader::new(payload);
        let req = match Request::decode(op, &mut r) {
            Ok(q) => q,
            Err(e) => {
                warn!("cannot decode request type {op} from session 0x{session:x}: {e}");
                // A write that cannot be read still takes its place in zxid order as an error.
                let zxid = if is_write(op) {
                    let txn = self.make_txn(
                        session,
                        xid,
                        OpCode::Error,
                        TxnBody::Error(ErrorTxn {
                            err: ErrorCode::MarshallingError.code(),
                        }),
                    );
                    self.commit(txn);
                    self.last_zxid()
                } else {
                    self.last_zxid()
                };
                self.reply(conn, xid, zxid, ErrorCode::MarshallingError.code(), None);
                return;
            }
        };
        match req {
            Request::Ping => {
                self.reply(conn, Xid::PING, self.last_zxid(), 0, None);
            }
            Request::Auth(a) => self.auth(conn, xid, a),
            Request::Sasl(_) => {
                warn!("SASL is not enabled; refusing session 0x{session:x}");
                self.reply(
                    conn,
                    xid,
                    self.last_zxid(),
                    ErrorCode::AuthFailed.code(),
                    None,
                );
                self.close_conn(conn);
            }
            Request::CloseSession => {
                info!("closing session 0x{session:x} at the client's request");
                self.close_session(session, xid);
                self.reply(conn, xid, self.last_zxid(), 0, None);
                self.close_conn(conn);
            }
            req if is_write(op) => self.write(conn, session, xid, op, req),
            req => {
                let res = self.read(conn, session, req);
                let zxid = self.last_zxid();
                match res {
                    Ok(Body::None) => self.reply(conn, xid, zxid, 0, None),
                    Ok(Body::Rec(b)) => self.reply(conn, xid, zxid, 0, Some(b.as_ref())),
                    Err(e) => self.reply(conn, xid, zxid, e.code(), None),
                }
            }
        }
    }

    fn auth(&mut self, conn: ConnId, xid: i32, a: AuthPacket) {
        let data = a.auth.unwrap_or_default();
        let ids = match (a.scheme.as_str(), self.conns.get(&conn)) {
            ("digest", _) => self.policy.digest_auth(&data),
            ("ip", Some(c)) => vec![Id::new("ip", &c.peer.ip().to_string())],
            _ => Vec::new(),
        };
        if ids.is_empty() {
            warn!(
                "authentication failed for scheme {}: no such provider",
                a.scheme
            );
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

    fn write(&mut self, conn: ConnId, session: i64, xid: i32, op: i32, req: Request) {
        let auth = self
            .conns
            .get(&conn)
            .map(|c| c.auth.clone())
            .unwrap_or_default();
        let zxid = self.next_zxid;
        let time = wall_ms();
        let ctx = Ctx {
            session,
            zxid,
            time,
            auth: &auth,
            extended_types: self.cfg.extended_types_enabled,
            policy: &self.policy,
        };
        let code = OpCode::from_i32(op).unwrap_or(OpCode::Error);
        let prepared: Result<(OpCode, TxnBody), ErrorCode> = match &req {
            Request::Create(c, r) => prep::prep_write(
                &self.tree,
                &mut self.overlay,
                &ctx,
                &MultiOp::Create(*c, r.clone()),
            ),
            Request::CreateTtl(r) => prep::prep_write(
                &self.tree,
                &mut self.overlay,
                &ctx,
                &MultiOp::CreateTtl(r.clone()),
            ),
            Request::Delete(r) => prep::prep_write(
                &self.tree,
                &mut self.overlay,
                &ctx,
                &MultiOp::Delete(r.clone()),
            ),
            Request::SetData(r) => prep::prep_write(
                &self.tree,
                &mut self.overlay,
                &ctx,
                &MultiOp::SetData(r.clone()),
            ),
            Request::SetAcl(r) => prep::prep_set_acl(&self.tree, &mut self.overlay, &ctx, r)
                .map(|b| (OpCode::SetAcl, b)),
            Request::Multi(m) => {
                match m
                    .ops
                    .iter()
                    .map(normalize_multi_op)
                    .collect::<Result<Vec<_>, _>>()
                {
                    Err(e) => Err(e),
                    Ok(ops) if ops.iter().any(|o| o.is_read()) => Err(ErrorCode::MarshallingError),
                    Ok(ops) => Ok((
                        OpCode::Multi,
                        prep::prep_multi(&self.tree, &mut self.overlay, &ctx, &ops),
                    )),
                }
            }
            Request::Reconfig(_) => Err(ErrorCode::ReconfigDisabled),
            _ => Err(ErrorCode::Unimplemented),
        };
        let (hdr_op, body, err) = match prepared {
            Ok((_, b)) => (code, b, 0),
            Err(e) => (
                OpCode::Error,
                TxnBody::Error(ErrorTxn { err: e.code() }),
                e.code(),
            ),
        };
        let txn = self.make_txn(session, xid, hdr_op, body);
        let rc = self.commit(txn);
        let zxid = self.last_zxid();
        let err = if err != 0 { err } else { rc.err };
        if err != 0 {
            self.reply(conn, xid, zxid, err, None);
            return;
        }
        let stat = rc.stat.clone().unwrap_or_default();
        match code {
            OpCode::Create => {
                self.reply(conn, xid, zxid, 0, Some(&CreateResponse { path: rc.path }))
            }
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => self.reply(
                conn,
                xid,
                zxid,
                0,
                Some(&Create2Response {
                    path: rc.path,
                    stat,
                }),
            ),
            OpCode::Delete => self.reply(conn, xid, zxid, 0, None),
            OpCode::SetData => self.reply(conn, xid, zxid, 0, Some(&SetDataResponse { stat })),
            OpCode::SetAcl => self.reply(conn, xid, zxid, 0, Some(&SetAclResponse { stat })),
            OpCode::Multi => {
                let results = rc
                    .multi
                    .into_iter()
                    .map(|s| match s.op {
                        OpCode::Create => OpResult::Create { path: s.path },
                        OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                            OpResult::Create2 {
                                op: OpCode::Create2,
                                path: s.path,
                                stat: s.stat.unwrap_or_default(),
                            }
                        }
                        OpCode::Delete | OpCode::DeleteContainer => OpResult::Delete,
                        OpCode::SetData => OpResult::SetData {
                            stat: s.stat.unwrap_or_default(),
                        },
                        OpCode::Check => OpResult::Check,
                        _ => OpResult::Error { err: s.err },
                    })
                    .collect();
                self.reply(conn, xid, zxid, 0, Some(&MultiResponse { results }))
            }
            _ => self.reply(conn, xid, zxid, 0, None),
        }
    }

    fn allowed(&self, conn: ConnId, path: &str, perm: i32) -> Result<(), ErrorCode> {
        let Some(n) = self.tree.get(path) else {
            return Ok(());
        };
        let auth = self
            .conns
            .get(&conn)
            .map(|c| c.auth.as_slice())
            .unwrap_or(&[]);
        if self.policy.check(&n.acl, perm, auth) {
            Ok(())
        } else {
            Err(ErrorCode::NoAuth)
        }
    }

    fn read(&mut self, conn: ConnId, session: i64, req: Request) -> Result<Body, ErrorCode> {
        let w: WatcherId = conn;
        match req {
            Request::Exists(r) => {
                if r.path.contains('\0') {
                    return Err(ErrorCode::BadArguments);
                }
                // No ACL check: ZooKeeper 3.8 answers exists for any caller (3.9 added a READ
                // check); the differential oracle is 3.8.
                if r.watch {
                    self.watches.data.add(&r.path, w, crate::watch::STANDARD);
                }
                let n = self.tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
                body(ExistsResponse {
                    stat: n.client_stat(),
                })
            }
            Request::GetData(r) => {
                let (data, stat) = self.get_data(&r.path, r.watch, w)?;
                body(GetDataResponse { data, stat })
            }
            Request::GetChildren(r) => {
                let (children, _) = self.get_children(&r.path, r.watch, w)?;
                body(GetChildrenResponse { children })
            }
            Request::GetChildren2(r) => {
                let (children, stat) = self.get_children(&r.path, r.watch, w)?;
                body(GetChildren2Response { children, stat })
            }
            Request::GetAcl(r) => {
                let n = self.tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
                self.allowed(conn, &r.path, Perms::READ | Perms::ADMIN)?;
                let mut acl = n.acl.clone();
                if self.allowed(conn, &r.path, Perms::ADMIN).is_err() {
                    // Without ADMIN the digest hashes stay hidden, as in ZooKeeper.
                    for a in acl.iter_mut().filter(|a| a.id.scheme == "digest") {
                        let user = a.id.id.split(':').next().unwrap_or("").to_string();
                        a.id.id = format!("{user}:x");
                    }
                }
                body(GetAclResponse {
                    acl,
                    stat: n.client_stat(),
                })
            }
            Request::GetAllChildrenNumber(r) => {
                if self.tree.get(&r.path).is_none() {
                    return Err(ErrorCode::NoNode);
                }
                self.allowed(conn, &r.path, Perms::READ)?;
                body(GetAllChildrenNumberResponse {
                    total_number: self.tree.descendant_count(&r.path) as i32,
                })
            }
            Request::GetEphemerals(r) => {
                let all = self.tree.ephemerals(session);
                let prefix = r.prefix_path.trim();
                let ephemerals = if prefix.is_empty() || prefix == "/" {
                    all
                } else {
                    all.into_iter()
                        .filter(|p| p.starts_with(&r.prefix_path))
                        .collect()
                };
                body(GetEphemeralsResponse { ephemerals })
            }
            Request::Sync(r) => body(SyncResponse { path: r.path }),
            Request::MultiRead(m) => {
                // ZooKeeper rebuilds each read as an Op without its watch flag, so multiRead
                // never leaves watches.
                let mut results = Vec::with_capacity(m.ops.len());
                for op in m.ops {
                    let res = match op {
                        MultiOp::GetChildren(r) => self
                            .get_children(&r.path, false, w)
                            .map(|(children, _)| OpResult::GetChildren { children }),
                        MultiOp::GetData(r) => self
                            .get_data(&r.path, false, w)
                            .map(|(data, stat)| OpResult::GetData { data, stat }),
                        _ => return Err(ErrorCode::MarshallingError),
                    };
                    results.push(res.unwrap_or_else(|e| OpResult::Error { err: e.code() }));
                }
                body(MultiResponse { results })
            }
            Request::SetWatches(s) => {
                self.set_watches(
                    w,
                    s.relative_zxid,
                    &s.data_watches,
                    &s.exist_watches,
                    &s.child_watches,
                    &[],
                    &[],
                );
                Ok(Body::None)
            }
            Request::SetWatches2(s) => {
                self.set_watches(
                    w,
                    s.relative_zxid,
                    &s.data_watches,
                    &s.exist_watches,
                    &s.child_watches,
                    &s.persistent_watches,
                    &s.persistent_recursive_watches,
                );
                Ok(Body::None)
            }
            Request::AddWatch(r) => {
                let mode = AddWatchMode::from_i32(r.mode).ok_or(ErrorCode::MarshallingError)?;
                self.watches
                    .add_persistent(&r.path, w, mode == AddWatchMode::PersistentRecursive);
                body(ErrorResponse { err: 0 })
            }
            Request::CheckWatches(r) => {
                let t = WatcherType::from_i32(r.watcher_type).ok_or(ErrorCode::MarshallingError)?;
                if self.watches.contains(&r.path, t, w) {
                    Ok(Body::None)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            Request::RemoveWatches(r) => {
                let t = WatcherType::from_i32(r.watcher_type).ok_or(ErrorCode::MarshallingError)?;
                if self.watches.remove(&r.path, t, w) {
                    Ok(Body::None)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            Request::WhoAmI => {
                let auth = self
                    .conns
                    .get(&conn)
                    .map(|c| c.auth.clone())
                    .unwrap_or_default();
                body(WhoAmIResponse {
                    client_info: auth
                        .into_iter()
                        .map(|id| ClientInfo {
                            auth_scheme: id.scheme,
                            user: id.id,
                        })
                        .collect(),
                })
            }
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    fn get_data(
        &mut self,
        path: &str,
        watch: bool,
        w: WatcherId,
    ) -> Result<(Option<Bytes>, Stat), ErrorCode> {
        let n = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        self.allowed(w, path, Perms::READ)?;
        let out = (n.data.clone(), n.client_stat());
        if watch {
            self.watches.data.add(path, w, crate::watch::STANDARD);
        }
        Ok(out)
    }

    fn get_children(
        &mut self,
        path: &str,
        watch: bool,
        w: WatcherId,
    ) -> Result<(Vec<String>, Stat), ErrorCode> {
        let n = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        self.allowed(w, path, Perms::READ)?;
        let out = (n.children.ordered(), n.client_stat());
        if watch {
            self.watches.child.add(path, w, crate::watch::STANDARD);
        }
        Ok(out)
    }

    /// Re-registers a reconnecting client's watches, firing at once those whose node changed
    /// after `rel` (the last zxid the client saw). These events carry no zxid (-1).
    #[allow(clippy::too_many_arguments)]
    fn set_watches(
        &mut self,
        w: WatcherId,
        rel: i64,
        data: &[String],
        exist: &[String],
        child: &[String],
        persistent: &[String],
        recursive: &[String],
    ) {
        use crate::watch::STANDARD;
        for p in data {
            match self.tree.get(p) {
                None => self.events.push(Event {
                    watcher: w,
                    event_type: EventType::NodeDeleted,
                    path: p.clone(),
                }),
                Some(n) if n.stat.mzxid > rel => self.events.push(Event {
                    watcher: w,
                    event_type: EventType::NodeDataChanged,
                    path: p.clone(),
                }),
                Some(_) => self.watches.data.add(p, w, STANDARD),
            }
        }
        for p in exist {
            match self.tree.get(p) {
                Some(_) => self.events.push(Event {
                    watcher: w,
                    event_type: EventType::NodeCreated,
                    path: p.clone(),
                }),
                None => self.watches.data.add(p, w, STANDARD),
            }
        }
        for p in child {
            match self.tree.get(p) {
                None => self.events.push(Event {
                    watcher: w,
                    event_type: EventType::NodeDeleted,
                    path: p.clone(),
                }),
                Some(n) if n.stat.pzxid > rel => self.events.push(Event {
                    watcher: w,
                    event_type: EventType::NodeChildrenChanged,
                    path: p.clone(),
                }),
                Some(_) => self.watches.child.add(p, w, STANDARD),
            }
        }
        for p in persistent {
            self.watches.add_persistent(p, w, false);
        }
        for p in recursive {
            self.watches.add_persistent(p, w, true);
        }
        self.deliver_events(-1);
    }

    pub fn node_count(&self) -> usize {
        self.tree.node_count()
    }
}

/// ZooKeeper rebuilds each create of a multi from its flags (`Op.create`), so the op code on
/// the wire does not decide the kind of node: container flags make a createContainer, other
/// modes a plain create (create2 included), and TTL flags without a CreateTTL record fail the
/// whole multi with MARSHALLINGERROR.
fn normalize_multi_op(op: &MultiOp) -> Result<MultiOp, ErrorCode> {
    let kind = |flags: i32| CreateMode::from_i32(flags).unwrap_or(CreateMode::Persistent);
    Ok(match op {
        MultiOp::Create(_, r) => match kind(r.flags) {
            m if m.is_ttl() => return Err(ErrorCode::MarshallingError),
            CreateMode::Container => MultiOp::Create(OpCode::CreateContainer, r.clone()),
            _ => MultiOp::Create(OpCode::Create, r.clone()),
        },
        MultiOp::CreateTtl(r) => match kind(r.flags) {
            m if m.is_ttl() => op.clone(),
            m => {
                let code = if m == CreateMode::Container {
                    OpCode::CreateContainer
                } else {
                    OpCode::Create
                };
                MultiOp::Create(
                    code,
                    CreateRequest {
                        path: r.path.clone(),
                        data: r.data.clone(),
                        acl: r.acl.clone(),
                        flags: r.flags,
                    },
                )
            }
        },
        other => other.clone(),
    })
}

fn is_write(op: i32) -> bool {
    use OpCode::*;
    matches!(
        OpCode::from_i32(op),
        Some(
            Create
                | Create2
                | CreateContainer
                | CreateTtl
                | Delete
                | SetData
                | SetAcl
                | Multi
                | Reconfig
        )
    )
}
