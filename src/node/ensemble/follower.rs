//! Following (and observing): the leader's packets (epoch, synchronisation, proposals,
//! commits, pings, syncs, revalidations), and this member's clients: writes, syncs and
//! closeSession forwarded to the leader, sessions created and revalidated through it.

use super::*;
use crate::zab::learner;

impl Node {
    pub(in crate::node) fn send_leader(&mut self, p: &Packet) {
        if let Some(l) = self.following().and_then(|f| f.link.as_ref()) {
            l.send(p);
        }
    }

    pub(in crate::node) fn leader_packet(&mut self, p: Packet) {
        let Some(kind) = PacketType::from_i32(p.kind) else {
            warn!("unknown packet type {} from the leader", p.kind);
            return;
        };
        let phase = match self.following() {
            Some(f) => f.phase(),
            None => return,
        };
        match kind {
            PacketType::LeaderInfo => {
                let last = self.last_zxid();
                let acts = self
                    .following()
                    .map(|f| f.zab.leader_info(jute::epoch_of(p.zxid), last));
                self.run_learner(acts.unwrap_or_default());
            }
            PacketType::Diff if phase == FPhase::Sync => {
                debug!("leader sends a DIFF up to 0x{:x}", p.zxid);
            }
            PacketType::Snap => {
                let acts = self.following().map(|f| f.zab.snap(p.zxid));
                self.run_learner(acts.unwrap_or_default());
            }
            PacketType::Trunc => {
                let acts = self.following().map(|f| f.zab.trunc(p.zxid));
                self.run_learner(acts.unwrap_or_default());
            }
            PacketType::Proposal if phase != FPhase::Discovery => {
                self.learn_txn(p.data.unwrap_or_default(), p.zxid, "proposal");
            }
            PacketType::Commit if phase != FPhase::Discovery => self.commit_up_to(p.zxid),
            PacketType::NewLeader => {
                // The leader's configuration, made active at UPTODATE.
                let text = p.data.as_deref().map(String::from_utf8_lossy);
                if let (Some(text), Some(e)) = (text, self.ensemble.as_mut()) {
                    if e.reconfig && text.len() > 1 {
                        match e.view.with_text(&text) {
                            Ok(q) if q.version as i64 > e.config_version => {
                                e.newleader_config = Some(q)
                            }
                            Ok(_) => {}
                            Err(why) => warn!("the leader's configuration does not parse: {why}"),
                        }
                    }
                }
                let applied = self.last_zxid();
                let acts = self.following().map(|f| f.zab.new_leader(p.zxid, applied));
                self.run_learner(acts.unwrap_or_default());
            }
            PacketType::UpToDate => {
                let acts = self.following().map(|f| f.zab.up_to_date());
                self.run_learner(acts.unwrap_or_default());
                let seen = self
                    .ensemble
                    .as_mut()
                    .and_then(|e| e.newleader_config.take());
                if let (Some(q), Some(leader)) = (seen, self.following().map(|f| f.leader)) {
                    let leader_votes = crate::zab::election::Members::from_config(&q)
                        .weights
                        .get(&leader)
                        .is_some_and(|w| *w > 0);
                    if self.activate_config(q, true) {
                        self.hand_off(
                            leader,
                            "the leader's configuration changes this server's role",
                        );
                    } else if !leader_votes {
                        self.look("the leader is not a voter of the configuration it established");
                    }
                }
            }
            PacketType::Ping => {
                let touched = self
                    .following()
                    .map(|f| std::mem::take(&mut f.touched))
                    .unwrap_or_default();
                let mut b = BytesMut::with_capacity(12 * touched.len());
                for (id, to) in touched {
                    b.put_i64(id);
                    b.put_i32(to);
                }
                let mut reply = Packet::new(PacketType::Ping, p.zxid, Some(b.freeze()));
                reply.auth = p.auth;
                self.send_leader(&reply);
            }
            PacketType::Sync => {
                // The leader answers syncs in the order they were forwarded.
                use super::observer_master::SyncFor;
                let session = match self.following().and_then(|f| f.syncs.pop_front()) {
                    Some(SyncFor::Session(s)) => s,
                    Some(SyncFor::Observer(id)) => return self.observer_synced(id),
                    None => return,
                };
                let outcome = super::Outcome {
                    zxid: self.last_zxid(),
                    rc: Default::default(),
                };
                if self.queue.complete(session, Awaits::Sync, outcome).is_ok() {
                    self.release(session);
                }
            }
            PacketType::Revalidate => {
                let d = p.data.unwrap_or_default();
                let (Some(session), Some(valid)) = (be_i64(&d, 0), d.get(8).map(|b| *b != 0))
                else {
                    return;
                };
                let reply = Packet::new(PacketType::Revalidate, p.zxid, Some(d.clone()));
                if self.observer_revalidated(&reply, session) {
                    return;
                }
                let Some((conn, timeout, ro)) = self
                    .following()
                    .and_then(|f| f.revalidating.remove(&session))
                else {
                    return;
                };
                self.finish_reconnect(conn, session, timeout, ro, valid);
            }
            PacketType::Inform if phase != FPhase::Discovery => {
                // An observer: the txn is already committed; log it and apply it.
                if let Some(zxid) = self.learn_txn(p.data.unwrap_or_default(), p.zxid, "INFORM") {
                    self.commit_up_to(zxid);
                }
            }
            PacketType::CommitAndActivate | PacketType::InformAndActivate
                if phase != FPhase::Discovery =>
            {
                let d = p.data.unwrap_or_default();
                let Some(designated) = be_i64(&d, 0) else {
                    warn!("{kind:?} without the leader's id; ignored");
                    return;
                };
                // Relayed to this follower's observers as INFORMANDACTIVATE.
                if let Some(f) = self.following() {
                    f.activating = Some((p.zxid, designated));
                }
                let was_observer = self.ens().is_some_and(|e| e.observer);
                if kind == PacketType::InformAndActivate {
                    self.learn_txn(d.slice(8..), p.zxid, "INFORMANDACTIVATE");
                }
                self.commit_up_to(p.zxid);
                if let Some(f) = self.following() {
                    f.activating = None;
                }
                let changed = self.ens().is_some_and(|e| e.observer != was_observer);
                self.activated(designated, changed);
            }
            _ => debug!("ignoring packet {kind:?} from the leader in {phase:?}"),
        }
    }

    /// Carries out the learner's decisions, in order; a `Look` ends them.
    pub(in crate::node) fn run_learner(&mut self, acts: Vec<learner::Action>) {
        for a in acts {
            match a {
                learner::Action::WriteAcceptedEpoch(epoch) => {
                    self.write_epoch(epoch::ACCEPTED_EPOCH, epoch);
                    if let Some(e) = self.ensemble.as_mut() {
                        e.accepted_epoch = epoch;
                    }
                }
                learner::Action::WriteCurrentEpoch(epoch) => {
                    self.write_epoch(epoch::CURRENT_EPOCH, epoch);
                    if let Some(e) = self.ensemble.as_mut() {
                        e.current_epoch = epoch;
                    }
                }
                learner::Action::SendAckEpoch {
                    current_epoch,
                    last_zxid,
                } => {
                    let mut b = BytesMut::with_capacity(4);
                    b.put_i32(current_epoch);
                    let p = Packet::new(PacketType::AckEpoch, last_zxid, Some(b.freeze()));
                    self.send_leader(&p);
                }
                learner::Action::SendAck(zxid) => {
                    self.send_leader(&Packet::new(PacketType::Ack, zxid, None));
                }
                learner::Action::LogBarrier => {
                    if !block(|| self.log.barrier()) {
                        error!("the txn log writer failed; exiting");
                        std::process::exit(70);
                    }
                }
                learner::Action::Truncate(zxid) => {
                    // A reconfiguration seen in the history cut off is gone with it.
                    if let Some(e) = self.ensemble.as_mut() {
                        e.last_seen = None;
                    }
                    self.truncate_to(zxid)
                }
                learner::Action::ExpectSnapshot(zxid) => {
                    if let Some(f) = self.following() {
                        f.snap_zxid = Some(zxid);
                    }
                }
                learner::Action::Serve { epoch } => {
                    let now = self.instant();
                    let since = self
                        .ens()
                        .map(|e| now.saturating_duration_since(e.looking_since));
                    let last = self.last_zxid();
                    if let Some(f) = self.following() {
                        info!(
                            "FOLLOWING leader {}: up to date at 0x{last:x} ({since:?} since LOOKING); serving clients",
                            f.leader
                        );
                    }
                    self.next_zxid = jute::make_zxid(epoch, 1).max(self.last_zxid() + 1);
                    self.set_config_node();
                    self.settle_vote(epoch);
                    if let Some(e) = self.ensemble.as_mut() {
                        e.om_failures = 0;
                    }
                    self.start_observer_master();
                }
                learner::Action::Look(why) => return self.look(&why),
            }
        }
    }

    pub(in crate::node) fn settle_vote(&self, epoch: i64) {
        if let Some(tx) = self.ens().and_then(|e| e.election.clone()) {
            let _ = tx.send(Cmd::Settled { epoch });
        }
    }

    pub(in crate::node) fn set_config_node(&mut self) {
        if let Some((text, version)) = self
            .ens()
            .map(|e| (e.config_text.clone(), e.config_version))
        {
            self.tree
                .set_config(text.as_bytes(), version, self.wall_ms());
        }
    }

    /// A txn from the leader (PROPOSAL, or INFORM to an observer): queued and handed to the
    /// log unless this node already has it. Returns its zxid when it was new.
    pub(in crate::node) fn learn_txn(
        &mut self,
        raw: Bytes,
        packet_zxid: i64,
        what: &str,
    ) -> Option<i64> {
        let txn = match Txn::decode(raw.clone()) {
            Ok(t) => t,
            Err(e) => {
                self.look(&format!(
                    "undecodable {what} 0x{packet_zxid:x} from the leader: {e}"
                ));
                return None;
            }
        };
        let zxid = txn.hdr.zxid;
        if zxid <= self.zab_last_logged() {
            return None; // already part of this node's history
        }
        if txn.hdr.op == OpCode::Reconfig.code() {
            self.reconfig_seen(&txn);
        }
        self.proposals.push_back(Proposal {
            txn,
            then: Then::Nothing,
            raw: raw.clone(),
        });
        if !self.log.append(zxid, raw) {
            warn!("the txn log writer is gone; 0x{zxid:x} is not logged");
        }
        if let Some(f) = self.following() {
            f.zab.logged(zxid);
        }
        Some(zxid)
    }

    /// For the simulation's record: the tree was replaced or rolled back.
    pub(in crate::node) fn note_reset(&mut self) {
        let (z, d) = (self.tree.last_processed_zxid, self.tree.digest());
        if let Some(log) = self.applied_log.as_mut() {
            log.push(Applied::Reset(z, d));
        }
    }

    pub(in crate::node) fn zab_last_logged(&self) -> i64 {
        self.proposals
            .back()
            .map(|p| p.txn.hdr.zxid)
            .unwrap_or(self.last_zxid())
    }

    /// The leader's snapshot replaces this node's state; it is written to disk, and later
    /// records dropped from the log, before NEWLEADER is acknowledged.
    pub(in crate::node) fn install_snapshot(&mut self, data: Bytes) {
        if let Some(e) = self.ensemble.as_mut() {
            e.last_seen = None;
        }
        let Some(zxid) = self.following().and_then(|f| f.snap_zxid.take()) else {
            return;
        };
        let loaded = match snap::deserialize_stream(data, zxid) {
            Ok(l) => l,
            Err(e) => {
                self.look(&format!("the leader's snapshot is unreadable: {e}"));
                return;
            }
        };
        info!(
            "installing the leader's snapshot at 0x{zxid:x}: {} nodes, {} sessions",
            loaded.tree.node_count(),
            loaded.sessions.len()
        );
        self.abandon_snapshot("the leader's snapshot replaces the tree");
        self.proposals.clear();
        if let Some(f) = self.following() {
            f.zab.forget_unacked();
        }
        self.tree = loaded.tree;
        self.note_reset();
        self.committed_sessions = loaded.sessions.iter().copied().collect();
        self.overlay = Overlay::new(&self.tree);
        self.digest_log.clear();
        if let Some(e) = self.ensemble.as_mut() {
            e.committed_log.clear();
            e.committed_floor = zxid;
        }
        let parts = snap::serialize_parts(&self.tree, &loaded.sessions);
        // What this node logged past that point, and its own snapshots past it, hold a
        // history the leader replaced.
        let res = block(|| self.log.install_snapshot(zxid, &parts));
        if let Err(e) = res {
            error!("cannot store the leader's snapshot: {e}; exiting");
            std::process::exit(70);
        }
        self.since_snapshot = 0;
    }

    /// TRUNC: this node logged txns the leader does not have; drop them and reload.
    pub(in crate::node) fn truncate_to(&mut self, zxid: i64) {
        info!("the leader asks to truncate the log after 0x{zxid:x}");
        self.abandon_snapshot("the log is being truncated");
        self.proposals.clear();
        if let Some(f) = self.following() {
            f.zab.forget_unacked();
        }
        // A snapshot taken past the truncation point holds what is being dropped: it goes too.
        let res = block(|| {
            self.log.truncate_after(zxid)?;
            self.log.recover().map_err(std::io::Error::other)
        });
        match res {
            Ok((tree, sessions)) => {
                let reached = tree.last_processed_zxid;
                self.tree = tree;
                self.note_reset();
                if reached != zxid {
                    // The log no longer holds the way to exactly that point (a snapshot from
                    // a leader replaced the records before it): resynchronise from what the
                    // log does hold, which the leader will DIFF or SNAP.
                    self.committed_sessions = sessions.into_iter().collect();
                    self.overlay = Overlay::new(&self.tree);
                    if let Some(e) = self.ensemble.as_mut() {
                        e.committed_log.clear();
                        e.committed_floor = reached;
                    }
                    self.look(&format!(
                        "asked to truncate to 0x{zxid:x}, the log recovers to 0x{reached:x}: synchronising again"
                    ));
                    return;
                }
                self.committed_sessions = sessions.into_iter().collect();
                self.overlay = Overlay::new(&self.tree);
                if let Some(e) = self.ensemble.as_mut() {
                    e.committed_log.clear();
                    e.committed_floor = self.tree.last_processed_zxid;
                }
            }
            Err(e) => {
                error!("truncating the log failed: {e}; exiting");
                std::process::exit(70);
            }
        }
    }

    /// The log made proposals up to `zxid` durable: acknowledge each to the leader.
    pub(in crate::node) fn follower_durable(&mut self, zxid: i64) {
        let acts = self.following().map(|f| f.zab.durable(zxid));
        self.run_learner(acts.unwrap_or_default());
    }

    /// A client of this follower: a new session is created by the leader; an existing
    /// one is revalidated by it.
    pub(in crate::node) fn follower_connect(
        &mut self,
        conn: ConnId,
        session: i64,
        timeout: u32,
        ro: bool,
        resp: ConnectResponse,
    ) {
        let now_ms = self.now();
        if session == 0 {
            let id = resp.session_id;
            self.sessions.add(id, timeout, now_ms);
            self.bind(conn, id);
            let mut b = BytesMut::with_capacity(4);
            b.put_i32(timeout as i32);
            self.forward(id, 0, OpCode::CreateSession.code(), b.freeze(), Vec::new());
            self.queue
                .push_awaited(id, Awaits::Cxid(0), Then::Connected { conn, resp });
            if let Some(f) = self.following() {
                f.touched.insert(id, timeout as i32);
            }
            return;
        }
        let mut b = BytesMut::with_capacity(12);
        b.put_i64(session);
        b.put_i32(timeout as i32);
        self.send_leader(&Packet::new(PacketType::Revalidate, -1, Some(b.freeze())));
        if let Some(f) = self.following() {
            f.revalidating.insert(session, (conn, timeout, ro));
        }
    }

    pub(in crate::node) fn finish_reconnect(
        &mut self,
        conn: ConnId,
        id: i64,
        timeout: u32,
        ro: bool,
        valid: bool,
    ) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        if valid {
            if let Some(old) = self.session_conn.get(&id).copied() {
                if old != conn {
                    self.close_conn(old);
                }
            }
            let now_ms = self.now();
            self.sessions.add(id, timeout, now_ms);
            self.bind(conn, id);
            if let Some(f) = self.following() {
                f.touched.insert(id, timeout as i32);
            }
            info!("renewed session 0x{id:x} with negotiated timeout {timeout} (revalidated by the leader)");
        } else {
            info!("invalid session 0x{id:x}, probably expired (the leader says)");
        }
        let resp = connect_answer(valid, id, timeout, ro);
        self.send_connect(conn, &resp);
        if !valid {
            self.close_conn(conn);
            return;
        }
        // Requests the client pipelined behind its handshake, in order.
        self.release_early(conn);
    }

    /// A client's request, sent to the leader as a REQUEST packet.
    pub(in crate::node) fn forward(
        &mut self,
        session: i64,
        cxid: i32,
        op: i32,
        payload: Bytes,
        auth: Vec<Id>,
    ) {
        let mut b = BytesMut::with_capacity(16 + payload.len());
        b.put_i64(session);
        b.put_i32(cxid);
        b.put_i32(op);
        b.put_slice(&payload);
        let mut p = Packet::new(PacketType::Request, -1, Some(b.freeze()));
        p.auth = auth;
        self.send_leader(&p);
    }

    /// A request from a client of this follower keeps its session alive at the leader.
    pub(in crate::node) fn follower_touch(&mut self, session: i64) {
        if self.is_local_session(session) {
            // The leader never hears of a local session.
            return;
        }
        let timeout = self.sessions.get(session).map_or(0, |s| s.timeout_ms) as i32;
        if let Some(f) = self.following() {
            f.touched.insert(session, timeout);
        }
    }

    /// A follower's client write, closeSession or sync: forwarded to the leader, and
    /// answered from the session's commit queue once the leader's commit (or sync answer)
    /// arrives. Reads are answered here, behind the session's forwarded requests.
    pub(in crate::node) fn follower_forward(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        op: i32,
        payload: Bytes,
        start: Instant,
    ) {
        let auth = self.conn_auth(conn);
        let Some(f) = self.following() else {
            return;
        };
        let code = OpCode::from_i32(op).unwrap_or(OpCode::Error);
        let (awaits, then) = match code {
            OpCode::Sync => {
                let path = SyncRequest::decode(&mut Reader::new(payload.clone()))
                    .map(|r| r.path)
                    .unwrap_or_default();
                f.syncs
                    .push_back(super::observer_master::SyncFor::Session(session));
                let then = Then::Sync {
                    conn,
                    xid,
                    path,
                    start,
                };
                (Awaits::Sync, then)
            }
            OpCode::CloseSession => {
                info!("closing session 0x{session:x} at the client's request");
                let then = Then::Closed {
                    conn: Some(conn),
                    xid: Some(xid),
                };
                (Awaits::Cxid(xid), then)
            }
            _ => (Awaits::Cxid(xid), Then::reply(conn, xid, op, start)),
        };
        self.queue.push_awaited(session, awaits, then);
        self.forward(session, xid, op, payload, auth);
    }

    /// On a follower, a txn that answers none of its clients' requests: a session the
    /// leader expired is closed here too.
    pub(in crate::node) fn follower_unmatched(&mut self, txn: &Txn) -> Then {
        if txn.hdr.op == OpCode::CloseSession.code() {
            let conn = self.session_conn.get(&txn.hdr.client_id).copied();
            if conn.is_some() {
                return Then::Closed { conn, xid: None };
            }
        }
        Then::Nothing
    }
}
