//! The write path: a write is proposed (its continuation waits in the session's commit
//! queue), handed to the log, committed once a quorum holds it, applied to the tree in zxid
//! order, and answered from the commit queue in the session's request order.

use super::*;

impl Node {
    /// `time` is the txn's time: the one prep stamped on the nodes it creates or changes,
    /// so that the digest computed in prep matches the applied tree.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn propose(
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

    pub(super) fn run_actions(&mut self) {
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
    pub(super) fn persist(&mut self, zxid: i64) {
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

    pub(super) fn commit_up_to(&mut self, zxid: i64) {
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
        self.check_handoff();
    }

    /// The one place replicated state changes: apply in zxid order, fire watches, answer.
    pub(super) fn apply(&mut self, p: Proposal) {
        let zxid = p.txn.hdr.zxid;
        let reconfig = p.txn.hdr.op == OpCode::Reconfig.code();
        if self.ensemble.is_some() {
            self.committed(zxid, &p.raw, reconfig.then_some(&p.txn));
        }
        self.changes.clear();
        let rc = self.tree.apply(&p.txn, &mut self.changes);
        if reconfig && rc.err == 0 {
            self.reconfig_applied(&p.txn);
        }
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
                // Every member forgets a closed session when the txn applies, whoever
                // proposed it (on a leader, a learner's closeSession has no continuation).
                self.sessions.remove(p.txn.hdr.client_id);
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
    pub(super) fn release(&mut self, session: i64) {
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
    pub(super) fn finish(&mut self, session: i64, then: Then, outcome: Outcome) {
        let Outcome { zxid, rc } = outcome;
        match then {
            Then::Nothing => {}
            Then::Connected { conn, resp } => {
                self.send_connect(conn, &resp);
                self.release_early(conn);
            }
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

    pub(super) fn reply_write(
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
        if op == OpCode::Reconfig {
            // The configuration now active here, with /zookeeper/config's Stat.
            let data = self
                .tree
                .get(crate::tree::CONFIG)
                .and_then(|n| n.data.clone());
            let resp = GetDataResponse {
                data,
                stat: rc.stat.unwrap_or_default(),
            };
            return self.reply(conn, xid, zxid, 0, Some(&resp));
        }
        let body = write_response(op, rc);
        self.reply(conn, xid, zxid, 0, body.as_deref());
    }

    pub(super) fn write(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        op: i32,
        req: Request,
        start: Instant,
    ) {
        let auth = self.conn_auth(conn);
        let then = Then::reply(conn, xid, op, start);
        if !self.is_local_session(session) && !self.owns_session(session, 0) {
            // The session was revalidated through another server since.
            self.propose_error(session, xid, ErrorCode::SessionMoved, then);
            return;
        }
        self.prep_and_propose(session, xid, op, req, &auth, then);
    }

    /// Proposes an error txn for a write refused before prep: it keeps its place in zxid
    /// order, and its continuation answers with the error.
    pub(super) fn propose_error(&mut self, session: i64, cxid: i32, err: ErrorCode, then: Then) {
        let then = then.failed(err);
        let body = TxnBody::Error(ErrorTxn { err: err.code() });
        let time = self.wall_ms();
        self.propose(session, cxid, OpCode::Error, body, then, time);
    }

    /// Checks a write against the tree and the changes in flight and proposes its txn (an
    /// error txn when the check fails, so that it keeps its place in order).
    pub(super) fn prep_and_propose(
        &mut self,
        session: i64,
        cxid: i32,
        op: i32,
        req: Request,
        auth: &[Id],
        mut then: Then,
    ) {
        let time = self.wall_ms();
        let ctx = Ctx {
            session,
            zxid: self.next_zxid,
            time,
            auth,
            extended_types: self.cfg.extended_types_enabled,
            policy: &self.policy,
        };
        let code = OpCode::from_i32(op).unwrap_or(OpCode::Error);
        if let Request::Reconfig(r) = &req {
            match self.prep_reconfig(r, auth) {
                Ok(new) => self.propose_reconfig(session, cxid, new, then),
                Err(e) => {
                    let body = TxnBody::Error(ErrorTxn { err: e.code() });
                    self.propose(session, cxid, OpCode::Error, body, then.failed(e), time);
                }
            }
            return;
        }
        let prepared = prep::prep_request(&self.tree, &mut self.overlay, &ctx, req);
        let (hdr_op, body) = match prepared {
            Ok(b) => (code, b),
            Err(e) => {
                then = then.failed(e);
                (OpCode::Error, TxnBody::Error(ErrorTxn { err: e.code() }))
            }
        };
        self.propose(session, cxid, hdr_op, body, then, time);
    }

    /// Proposes closeSession: the session's ephemerals (including pending ones) go with it.
    pub(super) fn close_session(&mut self, session: i64, cxid: i32, then: Then) {
        let paths =
            prep::prep_close_session(&self.tree, &mut self.overlay, session, self.next_zxid);
        self.sessions.set_closing(session);
        let body = TxnBody::CloseSession(CloseSessionTxn {
            paths2_delete: paths,
        });
        self.propose(
            session,
            cxid,
            OpCode::CloseSession,
            body,
            then,
            self.wall_ms(),
        );
    }

    pub(super) fn expire_sessions(&mut self) {
        let now = self.now();
        for id in self.sessions.take_expired(now) {
            info!("session 0x{id:x} expired");
            let conn = self.session_conn.get(&id).copied();
            self.close_session(id, 0, Then::Closed { conn, xid: None });
        }
    }

    pub(super) fn collect_containers(&mut self) {
        let now = self.wall_ms();
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
                    self.wall_ms(),
                );
            }
        }
    }
}
