//! Local sessions and read-only mode, as ZooKeeper 3.9 has them.
//!
//! With `localSessionsEnabled`, an ensemble member keeps the sessions its clients open to
//! itself: no createSession txn, no closeSession txn, expiry by the member alone, and a
//! reconnect to another member finds the session expired. A local session's writes go
//! through the quorum as any session's (a leader accepts a write from a session it does not
//! know if the id's top byte names another member: that member's local session). An
//! ephemeral create makes it global first (a createSession txn ahead of the create) when
//! `localSessionsUpgradingEnabled`, and fails with EPHEMERALONLOCALSESSION otherwise.
//!
//! With `readonlymode.enabled`, a member that has looked for a quorum for max(2 s, tickTime)
//! serves clients that said they can live with a read-only server: reads from its tree,
//! NOTREADONLY for every write, sync and check. Its sessions are local ones; a global
//! session is refused (it belongs to the quorum), and so is a new one when local sessions are
//! off, with the bare NOTREADONLY reply header ZooKeeper sends instead of a handshake answer.
//! Once an election ends, every read-only client is disconnected, to reconnect to a member
//! that has a quorum.

use super::*;
use crate::session::Session;
use bytes::BufMut;

/// Requests a read-only member refuses with NOTREADONLY (as ZooKeeper's read-only server).
fn refused_read_only(op: i32) -> bool {
    matches!(
        OpCode::from_i32(op),
        Some(
            OpCode::Sync
                | OpCode::Create
                | OpCode::Create2
                | OpCode::CreateTtl
                | OpCode::CreateContainer
                | OpCode::Delete
                | OpCode::DeleteContainer
                | OpCode::SetData
                | OpCode::Reconfig
                | OpCode::SetAcl
                | OpCode::Multi
                | OpCode::Check
        )
    )
}

/// EPHEMERAL and EPHEMERAL_SEQUENTIAL.
fn is_ephemeral_flag(flags: i32) -> bool {
    flags == 1 || flags == 3
}

/// A create or create2 of an ephemeral node, or a multi that holds one: what a local session
/// cannot do without becoming global.
pub(super) fn creates_ephemeral(op: i32, payload: &Bytes) -> bool {
    let Some(code) = OpCode::from_i32(op) else {
        return false;
    };
    if !matches!(code, OpCode::Create | OpCode::Create2 | OpCode::Multi) {
        return false;
    }
    match Request::decode(op, &mut Reader::new(payload.clone())) {
        Ok(Request::Create(_, c)) => is_ephemeral_flag(c.flags),
        Ok(Request::Multi(m)) => m.ops.iter().any(|o| {
            matches!(o, MultiOp::Create(OpCode::Create | OpCode::Create2, c) if is_ephemeral_flag(c.flags))
        }),
        _ => false,
    }
}

impl Node {
    /// Local sessions are on (they exist only in an ensemble, as in ZooKeeper).
    pub(super) fn local_sessions_on(&self) -> bool {
        self.cfg.is_ensemble() && self.cfg.settings.local_sessions
    }

    pub(super) fn is_local_session(&self, session: i64) -> bool {
        self.local.get(session).is_some()
    }

    /// Touches a session, local or global; false if it is neither (or closing).
    pub(super) fn touch_session(&mut self, session: i64, now: u64) -> bool {
        self.local.touch(session, now) || self.sessions.touch(session, now)
    }

    /// Every tick: enter read-only mode once the member has looked long enough, and expire
    /// local sessions.
    pub(super) fn local_tick(&mut self) {
        if !self.read_only && self.cfg.settings.read_only_mode {
            let grace = std::time::Duration::from_millis(self.cfg.tick_time.max(2000) as u64);
            if self.looking_for().is_some_and(|d| d >= grace) {
                if self.read_only_blocked {
                    warn!("not serving read-only clients: this member holds txns the quorum may not have committed (until an election ends)");
                    // Said once per looking period.
                    self.read_only_blocked = false;
                    self.read_only_refused = true;
                } else if !self.read_only_refused {
                    self.read_only = true;
                    info!("read-only mode: no quorum for {grace:?}, serving read-only clients");
                }
            }
        }
        let now = self.now();
        for id in self.local.take_expired(now) {
            info!("local session 0x{id:x} expired");
            self.local.remove(id);
            if let Some(conn) = self.session_conn.get(&id).copied() {
                self.close_conn(conn);
            }
        }
    }

    /// The member's role changed (it looks again, or an election ended): local sessions and
    /// read-only clients belong to the role that ends, as in ZooKeeper, where each role has
    /// a server (and session tracker) of its own.
    pub(super) fn leave_local_role(&mut self) {
        self.read_only_blocked = false;
        self.read_only_refused = false;
        if self.read_only {
            info!("read-only mode ends: disconnecting its clients");
            self.read_only = false;
            let conns: Vec<ConnId> = self.conns.keys().copied().collect();
            for c in conns {
                self.close_conn(c);
            }
        }
        let ids: Vec<i64> = self.local.iter().map(|s: &Session| s.id).collect();
        for id in ids {
            self.local.remove(id);
            if let Some(conn) = self.session_conn.get(&id).copied() {
                self.close_conn(conn);
            }
        }
    }

    /// The handshake on a read-only member.
    pub(super) fn connect_read_only(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        req: &ConnectRequest,
        timeout: u32,
    ) {
        if !req.read_only {
            info!("refusing session request for not-read-only client {peer}");
            self.close_conn(conn);
            return;
        }
        let id = req.session_id;
        if id != 0 && (self.committed_sessions.contains_key(&id) || self.sessions.get(id).is_some())
        {
            info!("refusing global session 0x{id:x} reconnection in read-only mode from {peer}");
            self.close_conn(conn);
            return;
        }
        if id == 0 && !self.local_sessions_on() {
            // ZooKeeper's read-only server can only make local sessions: without them its
            // answer to a new session is this reply header, not a handshake answer.
            info!("refusing a new read-only session from {peer}: read-only sessions need localSessionsEnabled=true");
            self.reply(
                conn,
                0,
                self.last_zxid(),
                ErrorCode::NotReadOnly.code(),
                None,
            );
            self.close_conn(conn);
            return;
        }
        self.connect_local(conn, peer, req, timeout, true);
    }

    /// A new local session, or the reconnect of one of this member's local sessions; false
    /// when the request is for another session (global, or unknown here).
    pub(super) fn connect_local(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        req: &ConnectRequest,
        timeout: u32,
        read_only: bool,
    ) -> bool {
        let now = self.now();
        let answer = |valid: bool, id: i64| {
            let mut a = ensemble::connect_answer(valid, id, timeout, req.has_read_only);
            a.read_only = valid && read_only;
            a
        };
        if req.session_id == 0 {
            let id = self.sessions.next_session_id();
            self.local.add(id, timeout, now);
            self.bind(conn, id);
            info!("established local session 0x{id:x} with negotiated timeout {timeout} for client {peer}");
            self.send_connect(conn, &answer(true, id));
            self.release_early(conn);
            return true;
        }
        let id = req.session_id;
        if !self.is_local_session(id) {
            if read_only {
                info!("invalid session 0x{id:x} for client {peer}, probably expired");
                self.send_connect(conn, &answer(false, id));
                self.close_conn(conn);
                return true;
            }
            return false;
        }
        let pw_ok = req.passwd.as_deref() == Some(&session_password(id)[..]);
        if !pw_ok || !self.local.revalidate(id, timeout, now) {
            warn!("incorrect password from {peer} for local session 0x{id:x}");
            self.send_connect(conn, &answer(false, id));
            self.close_conn(conn);
            return true;
        }
        if let Some(old) = self.session_conn.get(&id).copied() {
            if old != conn {
                self.close_conn(old);
            }
        }
        self.bind(conn, id);
        info!("renewed local session 0x{id:x} with negotiated timeout {timeout} for client {peer}");
        self.send_connect(conn, &answer(true, id));
        self.release_early(conn);
        true
    }

    /// What a local session's request needs before it is handled as any session's:
    /// answered here (true) or passed on (false). On a read-only member, writes get
    /// NOTREADONLY; a closeSession stays local; an ephemeral create upgrades the session
    /// first or fails.
    pub(super) fn local_request(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        op: i32,
        payload: &Bytes,
        start: Instant,
    ) -> bool {
        if self.read_only && refused_read_only(op) {
            let err = ErrorCode::NotReadOnly.code();
            self.reply(conn, xid, self.last_zxid(), err, None);
            self.done(conn, op, xid, start);
            return true;
        }
        if !self.is_local_session(session) {
            return false;
        }
        // A request held behind the session's earlier ones is carried out by dispatch then.
        if op == OpCode::CloseSession.code() {
            if !self.hold_if_busy(session, conn, xid, op, payload, start) {
                self.close_local_session(conn, session, xid, start);
            }
            return true;
        }
        if !creates_ephemeral(op, payload) {
            return false;
        }
        if !self.cfg.settings.local_sessions_upgrading {
            if !self.hold_if_busy(session, conn, xid, op, payload, start) {
                self.refuse_ephemeral(conn, xid, op, start);
            }
            return true;
        }
        self.upgrade_session(session);
        false
    }

    /// EPHEMERALONLOCALSESSION: a local session that may not be upgraded asked for an
    /// ephemeral node.
    /// Holds `held` behind the session's earlier requests if it has any in flight.
    fn hold_if_busy(
        &mut self,
        session: i64,
        conn: ConnId,
        xid: i32,
        op: i32,
        payload: &Bytes,
        start: Instant,
    ) -> bool {
        if self.queue.busy(session) {
            let held = Held {
                conn,
                xid,
                op,
                body: payload.clone(),
                start,
            };
            self.queue.hold(session, held);
            true
        } else {
            false
        }
    }

    pub(super) fn refuse_ephemeral(&mut self, conn: ConnId, xid: i32, op: i32, start: Instant) {
        let err = ErrorCode::EphemeralOnLocalSession.code();
        self.reply(conn, xid, self.last_zxid(), err, None);
        self.done(conn, op, xid, start);
    }

    /// A request held behind its session's earlier ones, released now, that local sessions
    /// decide (true: answered here): an ephemeral create still refused, or a closeSession of
    /// a session that was local when it arrived.
    pub(super) fn local_held(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        op: i32,
        payload: &Bytes,
        start: Instant,
    ) -> bool {
        if self.is_local_session(session)
            && !self.cfg.settings.local_sessions_upgrading
            && creates_ephemeral(op, payload)
        {
            self.refuse_ephemeral(conn, xid, op, start);
            return true;
        }
        if op != OpCode::CloseSession.code() {
            return false;
        }
        if self.is_local_session(session) || self.sessions.get(session).is_none() {
            // Still local, or expired meanwhile: the member forgets it, no txn.
            self.close_local_session(conn, session, xid, start);
            return true;
        }
        if self.is_following() {
            // Upgraded meanwhile: a global closeSession, through the leader.
            self.follower_forward(conn, session, xid, op, payload.clone(), start);
            return true;
        }
        false
    }

    /// closeSession of a local session: no txn, the member forgets it.
    pub(super) fn close_local_session(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        start: Instant,
    ) {
        info!("closing local session 0x{session:x} at the client's request");
        self.local.remove(session);
        self.reply(conn, xid, self.last_zxid(), 0, None);
        self.done(conn, OpCode::CloseSession.code(), xid, start);
        self.close_conn(conn);
    }

    /// A local session becomes global: a createSession txn, ahead of the request that needs
    /// it (the leader proposes it; a follower forwards it first).
    fn upgrade_session(&mut self, session: i64) {
        let Some(s) = self.local.remove(session) else {
            return;
        };
        let now = self.now();
        info!("upgrading local session 0x{session:x} to a global one");
        self.sessions.add(session, s.timeout_ms, now);
        if self.is_following() {
            let mut b = BytesMut::with_capacity(4);
            b.put_i32(s.timeout_ms as i32);
            // The commit comes back with cxid 0 and answers nothing; it stays in the
            // session's queue so that what follows waits for it.
            self.queue
                .push_awaited(session, Awaits::Cxid(0), Then::Nothing);
            self.forward(
                session,
                0,
                OpCode::CreateSession.code(),
                b.freeze(),
                Vec::new(),
            );
            self.follower_touch(session);
        } else {
            self.set_session_owner(session, 0);
            let body = TxnBody::CreateSession(CreateSessionTxn {
                time_out: s.timeout_ms as i32,
            });
            self.propose(
                session,
                0,
                OpCode::CreateSession,
                body,
                Then::Nothing,
                self.wall_ms(),
            );
        }
    }

    /// On a leader: a learner's write from a session this leader does not know, whose id
    /// names another member, is that member's local session (ZooKeeper's rule).
    pub(super) fn foreign_local_session(&self, session: i64) -> bool {
        self.local_sessions_on()
            && self.sessions.get(session).is_none()
            && !self.is_local_session(session)
            && ((session as u64) >> 56) != (self.cfg.server_id & 0xff)
    }
}
