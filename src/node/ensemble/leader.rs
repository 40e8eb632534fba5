//! Leading: discovery (the epoch quorum), synchronisation of each learner (DIFF, TRUNC or
//! SNAP, then NEWLEADER), establishment once a quorum acknowledged NEWLEADER, and
//! broadcast (proposals out, ACKs in, COMMITs out, learners' forwarded requests).

use super::*;
use crate::zab::leader as zab_leader;

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
                // With reconfiguration on, a server outside the configuration may follow
                // (without a vote): it is joining, or was removed, as in ZooKeeper.
                let known = self.ens().is_some_and(|e| {
                    sid != e.me && sid >= 0 && (e.reconfig || e.servers.contains_key(&(sid as u64)))
                });
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
                // Its NEWLEADER acknowledgement belonged to the old connection.
                l.disc.replaced(sid);
                if replaced {
                    // What the old connection acknowledged may since have been truncated.
                    self.zab.forget(sid);
                }
                let Some(l) = self.leading() else { return };
                if let Some(lr) = l.learners.get_mut(&id) {
                    lr.sid = sid;
                    lr.observer = p.kind == PacketType::ObserverInfo.code();
                }
                match l.disc.epoch() {
                    Some(epoch) => self.send_leader_info(id, epoch),
                    None => {
                        let acts = l.disc.info(sid, jute::epoch_of(p.zxid));
                        self.run_leader(acts);
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
                self.epoch_acked(id, sid, their_epoch, p.zxid);
            }
            Some(PacketType::Ack) => {
                let epoch = self.leading().and_then(|l| l.disc.epoch()).unwrap_or(-1);
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

    /// ACKEPOCH from learner `sid` (see `zab::leader::Discovery::ack_epoch`).
    pub(in crate::node) fn epoch_acked(
        &mut self,
        id: LinkId,
        sid: i64,
        their_epoch: i64,
        zxid: i64,
    ) {
        let mine = (self.ens().map_or(0, |e| e.current_epoch), self.last_zxid());
        let Some(l) = self.leading() else { return };
        let observer = l.learners.get(&id).is_some_and(|lr| lr.observer);
        l.epoch_waiting.push((id, zxid));
        let acts = l.disc.ack_epoch(sid, their_epoch, zxid, observer, mine);
        if acts.is_empty() {
            debug!("learner {sid} waits for a quorum to acknowledge the epoch");
        }
        self.run_leader(acts);
    }

    /// Carries out the leader's discovery decisions, in order; a `Look` ends them.
    pub(in crate::node) fn run_leader(&mut self, acts: Vec<zab_leader::Action>) {
        for a in acts {
            match a {
                zab_leader::Action::NewEpoch(epoch) => self.new_epoch(epoch),
                zab_leader::Action::SyncWaiting => {
                    let Some(l) = self.leading() else { return };
                    // A learner that left while it waited is not synchronised.
                    let waiting: Vec<(LinkId, i64)> = std::mem::take(&mut l.epoch_waiting)
                        .into_iter()
                        .filter(|(id, _)| l.learners.contains_key(id))
                        .collect();
                    for (id, zxid) in waiting {
                        self.sync_learner(id, zxid);
                    }
                }
                zab_leader::Action::Establish(epoch) => self.establish(epoch),
                zab_leader::Action::UpToDate(sid) => {
                    let Some(l) = self.leading() else { return };
                    for lr in l.learners.values_mut() {
                        if lr.sid == sid && lr.phase == LPhase::NewLeaderAck {
                            lr.up_to_date();
                            lr.phase = LPhase::Serving;
                            info!("learner {sid} is up to date");
                        }
                    }
                }
                zab_leader::Action::Look(why) => return self.look(&why),
            }
        }
    }

    /// The epoch is chosen: one past every accepted epoch of a quorum of voters.
    fn new_epoch(&mut self, epoch: i64) {
        let Some(l) = self.leading() else { return };
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
    }

    pub(in crate::node) fn send_leader_info(&mut self, id: LinkId, epoch: i64) {
        let Some(lr) = self.leading().and_then(|l| l.learners.get_mut(&id)) else {
            return;
        };
        lr.leader_info(epoch);
    }

    /// Brings a learner whose history ends at `peer_zxid` up to this leader's: the txns it
    /// lacks (DIFF) when the committed log still holds them, otherwise a snapshot (SNAP);
    /// then the proposals in flight, and NEWLEADER.
    pub(in crate::node) fn sync_learner(&mut self, id: LinkId, peer_zxid: i64) {
        let last = self.last_zxid();
        let epoch = match self.ens().map(|e| &e.role) {
            Some(Role::Leading(l)) => l.disc.epoch().unwrap_or(0),
            _ => return,
        };
        let config = self.newleader_config(epoch);
        let Some(e) = self.ensemble.as_ref() else {
            return;
        };
        let (mut out, how) = self.sync_packets(peer_zxid);
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
        let Some(lr) = self.leading().and_then(|l| l.learners.get_mut(&id)) else {
            return;
        };
        info!(
            "synchronising learner {} from 0x{peer_zxid:x} to 0x{last:x}: {how}",
            lr.sid
        );
        lr.sync_with(out, epoch, config);
    }

    /// What brings a learner whose history ends at `peer_zxid` to what this member has
    /// applied: TRUNC, a DIFF of the committed txns it lacks, or a SNAP of the tree (the
    /// leader's plan, which a follower serving observers uses too); and a word on which.
    pub(in crate::node) fn sync_packets(&self, peer_zxid: i64) -> (Vec<Bytes>, String) {
        let last = self.last_zxid();
        let mut out: Vec<Bytes> = Vec::new();
        let Some(e) = self.ensemble.as_ref() else {
            return (out, String::new());
        };
        let committed: Vec<i64> = e.committed_log.iter().map(|(z, _)| *z).collect();
        let plan = zab_leader::plan_sync(peer_zxid, last, e.committed_floor, &committed);
        let how = match plan {
            zab_leader::SyncPlan::Trunc(to) => {
                out.push(Packet::new(PacketType::Trunc, to, None).encode());
                format!("TRUNC to 0x{to:x}")
            }
            zab_leader::SyncPlan::Diff(from) => {
                out.push(Packet::new(PacketType::Diff, last, None).encode());
                for (z, txn) in e.committed_log.iter().skip(from) {
                    out.push(Packet::new(PacketType::Proposal, *z, Some(txn.clone())).encode());
                    out.push(Packet::new(PacketType::Commit, *z, None).encode());
                }
                format!("DIFF of {} txns", e.committed_log.len() - from)
            }
            zab_leader::SyncPlan::Snap => {
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
        (out, how)
    }

    pub(in crate::node) fn newleader_acked(&mut self, _id: LinkId, sid: i64) {
        let Some(l) = self.leading() else { return };
        let acts = l.disc.newleader_ack(sid);
        self.run_leader(acts);
    }

    /// A quorum acknowledged NEWLEADER: the epoch is this leader's; serve.
    fn establish(&mut self, epoch: i64) {
        let Some(me) = self.ens().map(|e| e.me) else {
            return;
        };
        let Some(members) = self.ens().map(|e| e.members.clone()) else {
            return;
        };
        let Some(l) = self.leading() else { return };
        let acked = l.disc.newleader_acks().clone();
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
        self.establish_config(epoch, &acked);
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
        self.check_handoff();
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
                    self.wall_ms(),
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
                if self.foreign_local_session(session) {
                    // A learner's local session: it is checked where it lives, but it owns
                    // no ephemeral (ZooKeeper's leader checks such a create as global).
                    if crate::node::local::creates_ephemeral(op, &payload) {
                        let err = ErrorCode::SessionExpired;
                        self.propose_error(session, cxid, err, Then::Nothing);
                        return;
                    }
                } else if self.sessions.get(session).is_none() {
                    // Unknown here (expired or never created): not tracked as owned.
                    self.propose_error(session, cxid, ErrorCode::SessionExpired, Then::Nothing);
                    return;
                } else if !self.owns_session(session, sid) {
                    self.propose_error(session, cxid, ErrorCode::SessionMoved, Then::Nothing);
                    return;
                } else if !self.sessions.touch(session, now_ms) {
                    self.propose_error(session, cxid, ErrorCode::SessionExpired, Then::Nothing);
                    return;
                }
                match Request::decode(op, &mut Reader::new(payload)) {
                    Ok(req) => {
                        self.prep_and_propose(session, cxid, op, req, &p.auth, Then::Nothing)
                    }
                    Err(e) => {
                        warn!("cannot decode forwarded request type {op} from session 0x{session:x}: {e}");
                        self.propose_error(
                            session,
                            cxid,
                            ErrorCode::MarshallingError,
                            Then::Nothing,
                        );
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
    pub(in crate::node) fn committed(&mut self, zxid: i64, raw: &Bytes, reconfig: Option<&Txn>) {
        if self.is_following() {
            self.relay_to_observers(zxid, raw);
        }
        // A reconfiguration commits with the leader of the new configuration named.
        let designated = match (reconfig, self.ens()) {
            (Some(t), Some(e))
                if e.reconfig && !e.replaying && matches!(e.role, Role::Leading(_)) =>
            {
                super::reconfig::txn_config(&e.view, t)
                    .ok()
                    .map(|new| self.designated_leader(&new, zxid))
            }
            _ => None,
        };
        let Some(e) = self.ensemble.as_mut() else {
            return;
        };
        if let Some(d) = designated {
            if d != e.me {
                info!("the new configuration 0x{zxid:x} is led by server {d}; handing over to it");
                e.handoff = Some(d);
            }
        }
        e.committed_log.push_back((zxid, raw.clone()));
        while e.committed_log.len() > COMMIT_LOG_COUNT {
            if let Some((z, _)) = e.committed_log.pop_front() {
                e.committed_floor = z;
            }
        }
        if let Role::Leading(l) = &mut e.role {
            if !l.disc.established() {
                return;
            }
            let (b, mut inform) = match designated {
                None => (Packet::new(PacketType::Commit, zxid, None).encode(), None),
                Some(d) => {
                    let mut informed = BytesMut::with_capacity(8 + raw.len());
                    informed.put_i64(d);
                    informed.extend_from_slice(raw);
                    let id = Bytes::copy_from_slice(&d.to_be_bytes());
                    (
                        Packet::new(PacketType::CommitAndActivate, zxid, Some(id)).encode(),
                        Some(
                            Packet::new(
                                PacketType::InformAndActivate,
                                zxid,
                                Some(informed.freeze()),
                            )
                            .encode(),
                        ),
                    )
                }
            };
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
