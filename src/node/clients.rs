//! Client connections: the handshake and sessions, requests in arrival order (answered at
//! once, held in the session's commit queue, forwarded or proposed), and replies out.

use super::*;

impl Node {
    pub(super) fn send(&self, conn: ConnId, frame: Bytes) {
        if let Some(c) = self.conns.get(&conn) {
            self.queue(c, conn, frame);
        }
    }

    /// Queues a frame for the connection's writer, unless the client has left more than
    /// `max_queued` bytes unread: then the connection is dropped at once (the node reaps it
    /// after the current message), and the reason logged.
    pub(super) fn queue(&self, c: &Conn, conn: ConnId, frame: Bytes) {
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
    pub(super) fn reap_overflowed(&mut self) {
        let gone = std::mem::take(&mut *self.overflowed.borrow_mut());
        for conn in gone {
            self.close_conn(conn);
        }
    }

    pub(super) fn close_conn(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            let _ = c.tx.send(Out::Close);
            if self.session_conn.get(&c.session) == Some(&conn) {
                self.session_conn.remove(&c.session);
            }
        }
        self.watches.remove_watcher(conn);
    }

    pub(super) fn reply(
        &self,
        conn: ConnId,
        xid: i32,
        zxid: i64,
        err: i32,
        b: Option<&dyn EncodeBox>,
    ) {
        let mut out = BytesMut::with_capacity(64);
        let at = begin_frame(&mut out);
        ReplyHeader { xid, zxid, err }.encode(&mut out);
        // A body follows an error header only where ZooKeeper sends one (`Body::Failed`).
        if let Some(b) = b {
            b.enc(&mut out);
        }
        end_frame(&mut out, at);
        self.send(conn, out.freeze());
    }

    pub(super) fn reply_body(&self, conn: ConnId, xid: i32, res: Result<Body, ErrorCode>) {
        let zxid = self.last_zxid();
        match res {
            Ok(Body::None) => self.reply(conn, xid, zxid, 0, None),
            Ok(Body::Rec(b)) => self.reply(conn, xid, zxid, 0, Some(b.as_ref())),
            Ok(Body::Failed(e, b)) => self.reply(conn, xid, zxid, e.code(), Some(b.as_ref())),
            Err(e) => self.reply(conn, xid, zxid, e.code(), None),
        }
    }

    /// Sends the queued watch events; `zxid` goes in their header (ZooKeeper 3.9 sends the
    /// triggering zxid, 3.8 sends -1, and clients ignore it).
    pub(super) fn deliver_events(&mut self, zxid: i64) {
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

    pub(super) fn connect(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        req: ConnectRequest,
        tx: ConnTx,
        shared: Arc<ConnShared>,
        ids: Vec<Id>,
    ) {
        if self.shutdown.is_some()
            || self.shutdown_done
            || self.restoring
            || !(self.serving() || self.read_only)
        {
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
            established_ms: self.wall_ms(),
            timeout,
            ..Default::default()
        };
        cs.reset();
        self.conns.insert(
            conn,
            Conn {
                tx,
                session: 0,
                auth: std::iter::once(Id::new("ip", &crate::acl::host_address(peer.ip())))
                    .chain(ids)
                    .collect(),
                peer,
                stats: cs,
                shared,
                early: Vec::new(),
                answered: false,
                sasl: None,
                gss: None,
                gss_busy: false,
            },
        );
        if self.read_only {
            return self.connect_read_only(conn, peer, &req, timeout);
        }
        if self.local_sessions_on() && self.connect_local(conn, peer, &req, timeout, false) {
            return;
        }
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
                self.wall_ms(),
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
        if valid {
            self.release_early(conn);
        } else {
            self.close_conn(conn);
        }
    }

    /// The handshake is answered: the requests the client sent behind it are handled now,
    /// in order.
    pub(super) fn release_early(&mut self, conn: ConnId) {
        let early = match self.conns.get_mut(&conn) {
            Some(c) => {
                c.answered = true;
                std::mem::take(&mut c.early)
            }
            None => return,
        };
        for (xid, op, body) in early {
            self.handle_request(conn, xid, op, body);
        }
    }

    pub(super) fn bind(&mut self, conn: ConnId, session: i64) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = session;
        }
        self.session_conn.insert(session, conn);
    }

    pub(super) fn send_connect(&self, conn: ConnId, resp: &ConnectResponse) {
        let mut out = BytesMut::with_capacity(48);
        let at = begin_frame(&mut out);
        resp.encode(&mut out);
        end_frame(&mut out, at);
        self.send(conn, out.freeze());
    }

    pub(super) fn disconnected(&mut self, conn: ConnId) {
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

    pub(super) fn request(&mut self, conn: ConnId, xid: i32, op: i32, payload: Bytes) {
        stats().packets_received.inc();
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.received += 1;
        }
        self.handle_request(conn, xid, op, payload);
    }

    /// A request, counted; also the way in for requests held until the handshake ended.
    pub(super) fn handle_request(&mut self, conn: ConnId, xid: i32, op: i32, payload: Bytes) {
        let start = Instant::now();
        if self.shutdown.is_some() || self.shutdown_done || self.restoring {
            // Shutting down or restoring: the client reconnects (elsewhere or later).
            self.close_conn(conn);
            return;
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let session = c.session;
        if session == 0 || !c.answered {
            // The handshake is still being answered (a new session being committed, a
            // reconnect the leader revalidates).
            if c.early.len() >= self.outstanding_limit {
                warn!("closing a connection that sent too many requests before its handshake was answered");
                self.close_conn(conn);
            } else {
                c.early.push((xid, op, payload));
            }
            return;
        }
        // Enforced authentication: anything but auth and SASL packets from a connection
        // that has not authenticated with one of the schemes gets SESSIONCLOSEDREQUIRESASLAUTH
        // (a header alone) and the connection closes; the session stays until it expires, and is
        // not touched (as ZooKeeper checks before it submits the request).
        if let Some(schemes) = &self.cfg.settings.sasl.enforce {
            let exempt = op == OpCode::Auth.code() || op == OpCode::Sasl.code();
            let authenticated = self
                .conns
                .get(&conn)
                .is_some_and(|c| c.auth.iter().any(|i| schemes.contains(&i.scheme)));
            if !exempt && !authenticated {
                error!(
                    "session 0x{session:x}: not authenticated with any of the schemes {schemes:?} enforce.auth requires; closing the connection"
                );
                self.reply(
                    conn,
                    xid,
                    0,
                    ErrorCode::SessionClosedRequireSaslAuth.code(),
                    None,
                );
                self.close_conn(conn);
                return;
            }
        }
        let now = self.now();
        if !self.touch_session(session, now) {
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
        // Auth and SASL packets are answered at once, as ZooKeeper answers them outside its
        // pipeline (clients match them by their reserved xid, or wait for them alone). A ping
        // waits behind the session's unanswered requests, as in ZooKeeper's pipeline: some
        // clients use its reply as the sign that every earlier reply has arrived.
        let unordered = op == OpCode::Auth.code() || op == OpCode::Sasl.code();
        if (self.read_only || self.local_sessions_on())
            && self.local_request(conn, session, xid, op, &payload, start)
        {
            return;
        }
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

    /// The identities a connection has authenticated as.
    pub(super) fn conn_auth(&self, conn: ConnId) -> Vec<Id> {
        self.conns
            .get(&conn)
            .map(|c| c.auth.clone())
            .unwrap_or_default()
    }

    pub(super) fn dispatch(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        op: i32,
        payload: Bytes,
        start: Instant,
    ) {
        if self.local_sessions_on() && self.local_held(conn, session, xid, op, &payload, start) {
            return;
        }
        let mut r = Reader::new(payload);
        let req = match Request::decode(op, &mut r) {
            Ok(q) => q,
            Err(e) => {
                warn!("cannot decode request type {op} from session 0x{session:x}: {e}");
                let err = ErrorCode::MarshallingError.code();
                // A write that cannot be read still takes its place in zxid order; a reconfig
                // does not (ZooKeeper reads its body before it assigns a zxid).
                if is_write(op) && op != OpCode::Reconfig.code() {
                    let then = Then::reply(conn, xid, op, start);
                    self.propose_error(session, xid, ErrorCode::MarshallingError, then);
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
            Request::Sasl(r) => {
                self.sasl(conn, session, xid, r.token.as_deref().unwrap_or(&[]));
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
    pub(super) fn done(&self, conn: ConnId, op: i32, xid: i32, start: Instant) {
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

    /// A SASL packet: the next step of the connection's DIGEST-MD5 or Kerberos exchange,
    /// answered with its token; a failed exchange answers AUTHFAILED (SESSIONCLOSEDREQUIRESASLAUTH
    /// when SASL is enforced) and closes the connection, as ZooKeeper does.
    pub(super) fn sasl(&mut self, conn: ConnId, session: i64, xid: i32, token: &[u8]) {
        use crate::sasl::digest::{DigestServer, Step};
        let settings = &self.cfg.settings.sasl;
        let Some(server) = &settings.server else {
            // No JAAS server section: ZooKeeper answers with a null token and leaves the
            // session unauthenticated.
            warn!("SASL is not enabled; ignoring a SASL token from session 0x{session:x}");
            self.reply(conn, xid, 0, 0, Some(&SetSaslResponse { token: None }));
            return;
        };
        if server.kerberos.is_some() {
            return self.gss_step(conn, session, xid, token);
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let password = |user: &str| match (&server.super_password, user) {
            (Some(p), "super") if server.users.contains_key("super") => Some(p.clone()),
            _ => server.users.get(user).cloned(),
        };
        let step = c
            .sasl
            .get_or_insert_with(|| Box::new(DigestServer::new("zookeeper", "zk-sasl-md5")))
            .step(token, password);
        match step {
            Ok(Step::Continue(t)) => self.sasl_reply(conn, xid, Some(t)),
            Ok(Step::Complete { token, authcid, .. }) => {
                self.sasl_authenticated(conn, session, &authcid);
                self.sasl_reply(conn, xid, Some(token));
            }
            Err(e) => self.sasl_failed(conn, session, xid, &e),
        }
    }

    fn sasl_reply(&self, conn: ConnId, xid: i32, token: Option<Vec<u8>>) {
        self.reply(
            conn,
            xid,
            0,
            0,
            Some(&SetSaslResponse {
                token: token.map(Into::into),
            }),
        );
    }

    /// The connection authenticated as `authcid`: its `sasl` id (and `super`).
    fn sasl_authenticated(&mut self, conn: ConnId, session: i64, authcid: &str) {
        let settings = &self.cfg.settings.sasl;
        let default_realm = settings
            .server
            .as_ref()
            .and_then(|s| s.kerberos.as_ref())
            .map(|k| k.default_realm.as_str());
        let id = crate::sasl::authorized_id(
            authcid,
            settings.remove_host,
            settings.remove_realm,
            default_realm,
        );
        info!(
            "session 0x{session:x}: SASL authentication succeeded: authenticationID={authcid}; authorizationID={id}"
        );
        let mut ids = vec![Id::new("sasl", &id)];
        if settings.super_users.contains(&id) {
            ids.push(Id::new("super", ""));
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            for i in ids {
                if !c.auth.contains(&i) {
                    c.auth.push(i);
                }
            }
        }
    }

    fn sasl_failed(&mut self, conn: ConnId, session: i64, xid: i32, e: &str) {
        let peer = self.conns.get(&conn).map(|c| c.peer.to_string());
        warn!(
            "session 0x{session:x} from {}: SASL authentication failed: {e}",
            peer.unwrap_or_default()
        );
        stats().auth_failed_count.inc();
        let settings = &self.cfg.settings.sasl;
        let required = settings.sasl_required();
        if settings.allow_failed && !required {
            self.sasl_reply(conn, xid, None);
            return;
        }
        let err = if required {
            ErrorCode::SessionClosedRequireSaslAuth
        } else {
            ErrorCode::AuthFailed
        };
        self.reply(
            conn,
            xid,
            0,
            err.code(),
            Some(&SetSaslResponse { token: None }),
        );
        self.close_conn(conn);
    }

    /// A Kerberos step, run on a blocking thread (the library reads the keytab and the replay
    /// cache); its result comes back as `Control::SaslStepped`.
    fn gss_step(&mut self, conn: ConnId, session: i64, xid: i32, token: &[u8]) {
        let (Some(acceptor), Some(control)) = (
            crate::sasl::gssapi::acceptor(),
            self.senders.as_ref().map(|s| s.control.clone()),
        ) else {
            return self.sasl_failed(conn, session, xid, "Kerberos is not ready");
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.gss_busy {
            return self.sasl_failed(
                conn,
                session,
                xid,
                "a SASL packet before the last was answered",
            );
        }
        let mut gss = c.gss.take().unwrap_or_default();
        c.gss_busy = true;
        let token = token.to_vec();
        tokio::task::spawn_blocking(move || {
            // Whatever happens in the library's step, the node hears back.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                gss.step(acceptor, &token)
            }))
            .unwrap_or_else(|_| Err("the GSSAPI step failed".into()));
            let _ = control.blocking_send(Control::SaslStepped {
                conn,
                session,
                xid,
                gss,
                result,
            });
        });
    }

    pub(super) fn gss_stepped(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        gss: Box<crate::sasl::gssapi::GssServer>,
        result: Result<crate::sasl::gssapi::GssStep, String>,
    ) {
        use crate::sasl::gssapi::GssStep;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.gss_busy = false;
        c.gss = Some(gss);
        match result {
            Ok(GssStep::Continue(t)) => self.sasl_reply(conn, xid, Some(t)),
            Ok(GssStep::Complete(peer, _)) => {
                self.sasl_authenticated(conn, session, &peer);
                // GSSAPI ends with no token, as the JDK's server.
                self.sasl_reply(conn, xid, None);
            }
            Err(e) => self.sasl_failed(conn, session, xid, &e),
        }
    }

    pub(super) fn auth(&mut self, conn: ConnId, xid: i32, a: AuthPacket) {
        let data = a.auth.unwrap_or_default();
        let ids = match (a.scheme.as_str(), self.conns.get(&conn)) {
            ("digest", _) => self.policy.digest_auth(&data),
            ("ip", Some(c)) => vec![Id::new("ip", &crate::acl::host_address(c.peer.ip()))],
            // As ZooKeeper's x509 provider: the data is ignored; the connection's client
            // certificate (checked at the handshake) is the identity, and a connection
            // without one fails.
            ("x509", Some(c)) if self.policy.x509 => c
                .auth
                .iter()
                .filter(|i| i.scheme == "x509" || i.scheme == "super")
                .cloned()
                .collect(),
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
}

/// ZooKeeper's short operation names (FinalRequestProcessor's lastOp).
pub(super) fn last_op_name(op: i32) -> &'static str {
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
