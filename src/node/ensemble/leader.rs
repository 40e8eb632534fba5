//! Leading: discovery (the epoch quorum), synchronisation of each learner (DIFF, TRUNC or
//! SNAP, then NEWLEADER), establishment once a quorum acknowledged NEWLEADER, and
//! broadcast (proposals out, ACKs in, COMMITs out, learners' forwarded requests).

use super::*;

impl Node {
    pub(in crate::node) fn learner_packet(&mut self, id: LinkId, p: Packet) {
        let now = self.instant();
        let Some(l) = self.leading() else { return };
        let Some(lr) = l.learners.get_mut(&id) else {
            return;
        };
        lr.last_heard = now;
        let (phase, sid) = (lr.phase, lr.sid);
        match PacketType::from_i32(p.kind) {
            Some(PacketType::FollowerInfo) | Some(PacketType::ObserverInfo)
                if phase == LPhase::Info =>
            {
                let data = p.data.clone().unwrap_or_default();
                let sid = match LearnerInfo::decode(&mut Reader::new(data.clone())) {
                    Ok(i) => i.server_id,
                    // Before 3.4 the info was the bare server id.
                    Err(_) => be_i64(&data, 0).unwrap_or(-1),
                };
                let known = self
                    .ens()
                    .is_some_and(|e| e.servers.contains_key(&(sid as u64)) && sid != e.me);
                let Some(l) = self.leading() else { return };
                if !known {
                    warn!("a learner claims server id {sid}, which is not a peer; closing");
                    if let Some(lr) = l.learners.remove(&id) {
                        lr.link.close();
                    }
                    return;
                }
                // A newer connection from the same server replaces the old one.
                let old: Vec<LinkId> = l
                    .learners
                    .iter()
                    .filter(|(k, o)| **k != id && o.sid == sid)
                    .map(|(k, _)| *k)
                    .collect();
                let replaced = !old.is_empty();
                for k in old {
                    if let Some(o) = l.learners.remove(&k) {
                        o.link.close();
                    }
                }
                if !l.established {
                    // Its NEWLEADER acknowledgement belonged to the old connection.
                    l.newleader_acks.remove(&sid);
                }
                if replaced {
                    // What the old connection acknowledged may since have been truncated.
                    self.zab.forget(sid);
                }
                let Some(l) = self.leading() else { return };
                if let Some(lr) = l.learners.get_mut(&id) {
                    lr.sid = sid;
                    lr.observer = p.kind == PacketType::ObserverInfo.code();
                }
                match l.epoch {
                    Some(epoch) => self.send_leader_info(id, epoch),
                    None => {
                        l.infos.insert(sid, jute::epoch_of(p.zxid));
                        self.maybe_new_epoch();
                    }
                }
            }
            _ if phase == LPhase::Info => {
                // As ZooKeeper's LearnerHandler: a learner introduces itself first.
                warn!(
                    "a quorum connection from {} began with packet type {}, not FOLLOWERINFO or OBSERVERINFO; closing",
                    lr_peer(self, id),
                    p.kind
                );
                if let Some(lr) = self.leading().and_then(|l| l.learners.remove(&id)) {
                    lr.link.close();
                }
            }
            Some(PacketType::AckEpoch) if phase == LPhase::AckEpoch => {
                let their_epoch = p.data.as_deref().and_then(|d| be_i32(d, 0)).unwrap_or(-1) as i64;
                let (my_epoch, my_zxid) =
                    (self.ens().map_or(0, |e| e.current_epoch), self.last_zxid());
                if their_epoch > my_epoch || (their_epoch == my_epoch && p.zxid > my_zxid) {
                    self.look(&format!(
                        "follower {sid} is ahead (epoch {their_epoch}, zxid 0x{:x}) of this leader (epoch {my_epoch}, zxid 0x{my_zxid:x})",
                        p.zxid
                    ));
                    return;
                }
                self.epoch_acked(id, sid, their_epoch, p.zxid);
            }
            Some(PacketType::Ack) => {
                let epoch = self.leading().and_then(|l| l.epoch).unwrap_or(-1);
                if phase == LPhase::NewLeaderAck && p.zxid == jute::make_zxid(epoch, 0) {
                    self.newleader_acked(id, sid);
                } else if matches!(phase, LPhase::NewLeaderAck | LPhase::Serving) {
                    self.zab.ack(sid, p.zxid, &mut self.actions);
                    self.run_actions();
                }
            }
            Some(PacketType::Ping) if matches!(phase, LPhase::NewLeaderAck | LPhase::Serving) => {
                let d = p.data.unwrap_or_default();
                let now_ms = self.now();
                let mut at = 0;
                while let (Some(id), Some(_to)) = (be_i64(&d, at), be_i32(&d, at + 8)) {
                    self.sessions.touch(id, now_ms);
                    at += 12;
                }
            }
            Some(PacketType::Request) if phase == LPhase::Serving => self.learner_request(id, p),
            Some(PacketType::Revalidate)
                if matches!(phase, LPhase::NewLeaderAck | LPhase::Serving) =>
            {
                let d = p.data.unwrap_or_default();
                let (Some(session), Some(to)) = (be_i64(&d, 0), be_i32(&d, 8)) else {
                    return;
                };
                let now_ms = self.now();
                let valid = self.sessions.revalidate(session, to.max(0) as u32, now_ms);
                if valid {
                    self.set_session_owner(session, sid);
                }
                let mut b = BytesMut::with_capacity(9);
                b.put_i64(session);
                b.put_u8(valid as u8);
                if let Some(lr) = self.leading().and_then(|l| l.learners.get(&id)) {
                    lr.link
                        .send(&Packet::new(PacketType::Revalidate, -1, Some(b.freeze())));
                }
            }
            _ => debug!(
                "leader ignores packet type {} from learner {sid} in {phase:?}",
                p.kind
            ),
        }
    }

    /// ACKEPOCH from learner `sid`: as ZooKeeper's leader, no learner is synchronised until
    /// a quorum of voters has acknowledged the new epoch, so that a voter ahead of this leader
    /// is found before any learner takes the epoch on. A learner that had accepted the epoch
    /// already (it says -1) does not count, as in ZooKeeper.
    pub(in crate::node) fn epoch_acked(
        &mut self,
        id: LinkId,
        sid: i64,
        their_epoch: i64,
        zxid: i64,
    ) {
        let Some(members) = self.ens().map(|e| e.members.clone()) else {
            return;
        };
        let Some(l) = self.leading() else { return };
        let observer = l.learners.get(&id).is_some_and(|lr| lr.observer);
        if their_epoch != -1 && !observer {
            l.epoch_acks.insert(sid);
        }
        l.epoch_waiting.push((id, zxid));
        if !members.is_quorum(l.epoch_acks.iter()) {
            debug!(
                "learner {sid} waits for a quorum to acknowledge the epoch ({:?} have)",
                l.epoch_acks
            );
            return;
        }
        // A learner that left while it waited is not synchronised (no snapshot built for it).
        let waiting: Vec<(LinkId, i64)> = std::mem::take(&mut l.epoch_waiting)
            .into_iter()
            .filter(|(id, _)| l.learners.contains_key(id))
            .collect();
        for (id, zxid) in waiting {
            self.sync_learner(id, zxid);
        }
    }

    /// Once a quorum of voters has sent FOLLOWERINFO: the new epoch is one past every
    /// accepted epoch among them.
    pub(in crate::node) fn maybe_new_epoch(&mut self) {
        let Some(e) = self.ensemble.as_ref() else {
            return;
        };
        let members = e.members.clone();
        let Some(l) = self.leading() else { return };
        if l.epoch.is_some() || !members.is_quorum(l.infos.keys()) {
            return;
        }
        let epoch = l.infos.values().copied().max().unwrap_or(0) + 1;
        l.epoch = Some(epoch);
        let waiting: Vec<LinkId> = l
            .learners
            .iter()
            .filter(|(_, lr)| lr.sid >= 0 && lr.phase == LPhase::Info)
            .map(|(k, _)| *k)
            .collect();
        info!("LEADING: new epoch {epoch}");
        self.write_epoch(epoch::ACCEPTED_EPOCH, epoch);
        if let Some(e) = self.ensemble.as_mut() {
            e.accepted_epoch = epoch;
        }
        for id in waiting {
            self.send_leader_info(id, epoch);
        }
        self.maybe_establish();
    }

    pub(in crate::node) fn send_leader_info(&mut self, id: LinkId, epoch: i64) {
        let Some(lr) = self.leading().and_then(|l| l.learners.get_mut(&id)) else {
            return;
        };
        let mut b = BytesMut::with_capacity(4);
        b.put_i32(jute::QUORUM_PROTOCOL_VERSION);
        lr.link.send(&Packet::new(
            PacketType::LeaderInfo,
            jute::make_zxid(epoch, 0),
            Some(b.freeze()),
        ));
        lr.phase = LPhase::AckEpoch;
    }

    /// Brings a learner whose history ends at `peer_zxid` up to this leader's: the txns it
    /// lacks (DIFF) when the committed log still holds them, otherwise a snapshot (SNAP);
    /// then the proposals in flight, and NEWLEADER.
    pub(in crate::node) fn sync_learner(&mut self, id: LinkId, peer_zxid: i64) {
        let last = self.last_zxid();
        let Some(e) = self.ensemble.as_ref() else {
            return;
        };
        let epoch = match &e.role {
            Role::Leading(l) => l.epoch.unwrap_or(0),
            _ => return,
        };
        let mut out: Vec<Bytes> = Vec::new();
        let diff_from = if peer_zxid == last {
            Some(e.committed_log.len())
        } else if peer_zxid == e.committed_floor {
            Some(0)
        } else {
            e.committed_log
                .iter()
                .position(|(z, _)| *z == peer_zxid)
                .map(|i| i + 1)
        };
        let how = match diff_from {
            // The learner logged txns past this leader's history (proposals of an earlier
            // epoch that never committed): it drops them (TRUNC), as LearnerHandler does.
            _ if peer_zxid > last => {
                out.push(Packet::new(PacketType::Trunc, last, None).encode());
                format!("TRUNC to 0x{last:x}")
            }
            Some(from) => {
                out.push(Packet::new(PacketType::Diff, last, None).encode());
                for (z, txn) in e.committed_log.iter().skip(from) {
                    out.push(Packet::new(PacketType::Proposal, *z, Some(txn.clone())).encode());
                    out.push(Packet::new(PacketType::Commit, *z, None).encode());
                }
                format!("DIFF of {} txns", e.committed_log.len() - from)
            }
            None => {
                out.push(Packet::new(PacketType::Snap, last, None).encode());
                let sessions: Vec<(i64, i32)> = self
                    .committed_sessions
                    .iter()
                    .map(|(k, v)| (*k, *v))
                    .collect();
                let parts = snap::serialize_stream_parts(&self.tree, &sessions);
                let n: usize = parts.iter().map(|p| p.len()).sum();
                out.extend(parts);
                format!("SNAP of {n} bytes")
            }
        };
        let observer = match &e.role {
            Role::Leading(l) => l.learners.get(&id).is_some_and(|lr| lr.observer),
            _ => false,
        };
        // An observer learns of the proposals in flight by INFORM once they commit.
        if !observer {
            for p in &self.proposals {
                out.push(
                    Packet::new(PacketType::Proposal, p.txn.hdr.zxid, Some(p.raw.clone())).encode(),
                );
            }
        }
        out.push(
            Packet::new(
                PacketType::NewLeader,
                jute::make_zxid(epoch, 0),
                Some(Bytes::from(e.config_text.clone())),
            )
            .encode(),
        );
        let Some(lr) = self.leading().and_then(|l| l.learners.get_mut(&id)) else {
            return;
        };
        info!(
            "synchronising learner {} from 0x{peer_zxid:x} to 0x{last:x}: {how}",
            lr.sid
        );
        for b in out {
            lr.link.send_raw(b);
        }
        lr.phase = LPhase::NewLeaderAck;
    }

    pub(in crate::node) fn newleader_acked(&mut self, id: LinkId, sid: i64) {
        let Some(l) = self.leading() else { return };
        if l.established {
            if let Some(lr) = l.learners.get_mut(&id) {
                lr.up_to_date();
                lr.phase = LPhase::Serving;
                info!("learner {sid} is up to date");
            }
            return;
        }
        l.newleader_acks.insert(sid);
        self.maybe_establish();
    }

    /// A quorum acknowledged NEWLEADER: the epoch is this leader's; serve.
    pub(in crate::node) fn maybe_establish(&mut self) {
        let Some(e) = self.ensemble.as_ref() else {
            return;
        };
        let (me, members) = (e.me, e.members.clone());
        let Some(l) = self.leading() else { return };
        if l.established || l.epoch.is_none() || !members.is_quorum(l.newleader_acks.iter()) {
            return;
        }
        let epoch = l.epoch.unwrap_or(0);
        l.established = true;
        let acked = l.newleader_acks.clone();
        let mut up = Vec::new();
        for lr in l.learners.values_mut() {
            if lr.phase == LPhase::NewLeaderAck && acked.contains(&lr.sid) {
                lr.up_to_date();
                lr.phase = LPhase::Serving;
                up.push(lr.sid);
            }
        }
        let since_leading = l.since;
        self.write_epoch(epoch::CURRENT_EPOCH, epoch);
        let last = self.last_zxid();
        if let Some(e) = self.ensemble.as_mut() {
            e.current_epoch = epoch;
        }
        self.zab = Broadcast::new(me, members, last);
        for sid in &up {
            self.zab.ack(*sid, last, &mut self.actions);
        }
        self.actions.clear();
        self.next_zxid = jute::make_zxid(epoch, 1);
        self.set_config_node();
        self.settle_vote(epoch);
        self.overlay = Overlay::new(&self.tree);
        let now = self.instant();
        let took = now.saturating_duration_since(since_leading);
        let since = self
            .ens()
            .map(|e| now.saturating_duration_since(e.looking_since));
        info!(
            "LEADING: epoch {epoch} established with followers {up:?} in {took:?} ({since:?} since LOOKING); serving clients"
        );
    }

    /// A learner's client request: prepared and proposed here; the learner answers its
    /// client when the txn commits.
    pub(in crate::node) fn learner_request(&mut self, id: LinkId, p: Packet) {
        let d = p.data.clone().unwrap_or_default();
        let (Some(session), Some(cxid), Some(op)) = (be_i64(&d, 0), be_i32(&d, 8), be_i32(&d, 12))
        else {
            warn!("malformed REQUEST from a learner");
            return;
        };
        let payload = d.slice(16.min(d.len())..);
        let now_ms = self.now();
        let sid = self
            .leading()
            .and_then(|l| l.learners.get(&id))
            .map_or(-1, |lr| lr.sid);
        match OpCode::from_i32(op) {
            Some(OpCode::CreateSession) => {
                let to = be_i32(&payload, 0).unwrap_or(0);
                self.sessions.add(session, to.max(0) as u32, now_ms);
                self.set_session_owner(session, sid);
                let body = TxnBody::CreateSession(CreateSessionTxn { time_out: to });
                self.propose(
                    session,
                    cxid,
                    OpCode::CreateSession,
                    body,
                    Then::Nothing,
                    wall_ms(),
                );
            }
            Some(OpCode::CloseSession) => {
                self.close_session(session, cxid, Then::Nothing);
            }
            Some(OpCode::Sync) => {
                let after = self.zab.last_proposed();
                if after <= self.zab.last_committed() {
                    if let Some(lr) = self.leading().and_then(|l| l.learners.get(&id)) {
                        lr.link.send(&Packet::new(PacketType::Sync, 0, None));
                    }
                } else if let Some(l) = self.leading() {
                    l.syncs.push_back((after, id));
                }
            }
            _ if is_write(op) => {
                if !self.owns_session(session, sid) {
                    let err = ErrorCode::SessionMoved.code();
                    let body = TxnBody::Error(ErrorTxn { err });
                    self.propose(session, cxid, OpCode::Error, body, Then::Nothing, wall_ms());
                    return;
                }
                if !self.sessions.touch(session, now_ms) {
                    let err = ErrorCode::SessionExpired.code();
                    let body = TxnBody::Error(ErrorTxn { err });
                    self.propose(session, cxid, OpCode::Error, body, Then::Nothing, wall_ms());
                    return;
                }
                match Request::decode(op, &mut Reader::new(payload)) {
                    Ok(req) => {
                        self.prep_and_propose(session, cxid, op, req, &p.auth, Then::Nothing)
                    }
                    Err(e) => {
                        warn!("cannot decode forwarded request type {op} from session 0x{session:x}: {e}");
                        let err = ErrorCode::MarshallingError.code();
                        let body = TxnBody::Error(ErrorTxn { err });
                        self.propose(session, cxid, OpCode::Error, body, Then::Nothing, wall_ms());
                    }
                }
            }
            _ => warn!("a learner forwarded request type {op}, which is not a write; ignored"),
        }
    }

    /// After a proposal is handed to the log: send it to the learners being synchronised
    /// or served.
    pub(in crate::node) fn broadcast_proposal(&mut self, zxid: i64, raw: &Bytes) {
        let b = Packet::new(PacketType::Proposal, zxid, Some(raw.clone())).encode();
        let Some(Role::Leading(l)) = self.ensemble.as_mut().map(|e| &mut e.role) else {
            return;
        };
        for lr in l.learners.values_mut() {
            if !lr.observer {
                lr.forward(b.clone());
            }
        }
    }

    /// After a txn is applied: remember it for DIFFs; a leader tells its learners.
    pub(in crate::node) fn committed(&mut self, zxid: i64, raw: &Bytes) {
        let Some(e) = self.ensemble.as_mut() else {
            return;
        };
        e.committed_log.push_back((zxid, raw.clone()));
        while e.committed_log.len() > COMMIT_LOG_COUNT {
            if let Some((z, _)) = e.committed_log.pop_front() {
                e.committed_floor = z;
            }
        }
        if let Role::Leading(l) = &mut e.role {
            if !l.established {
                return;
            }
            let b = Packet::new(PacketType::Commit, zxid, None).encode();
            let mut inform: Option<Bytes> = None;
            for lr in l.learners.values_mut() {
                if lr.observer {
                    let i = inform.get_or_insert_with(|| {
                        Packet::new(PacketType::Inform, zxid, Some(raw.clone())).encode()
                    });
                    lr.forward(i.clone());
                } else {
                    lr.forward(b.clone());
                }
            }
            while l.syncs.front().is_some_and(|(after, _)| *after <= zxid) {
                if let Some((_, id)) = l.syncs.pop_front() {
                    if let Some(lr) = l.learners.get(&id) {
                        lr.link.send(&Packet::new(PacketType::Sync, 0, None));
                    }
                }
            }
        }
    }
}
