//! Observers that sync from followers (`observerMasterPort`), as ZooKeeper 3.6+ has them.
//!
//! A follower with the key set, once it is up to date with its leader, listens on that port
//! and serves observers as a leader would: OBSERVERINFO, LEADERINFO with its leader's epoch,
//! ACKEPOCH, a TRUNC, DIFF or SNAP drawn from what it has applied, NEWLEADER, the observer's
//! ACK, UPTODATE. It then relays every commit it applies as INFORM (INFORMANDACTIVATE for a
//! reconfiguration), pings its observers every half tick and passes their sessions' activity
//! to the leader in its own ping answers, and forwards their requests, syncs and
//! revalidations to the leader, relaying the answers. When it loses its leader it closes
//! them all; they find another member.
//!
//! An observer with the key set syncs from a voter at that voter's quorum host and this
//! port number (ZooKeeper's convention: every voter uses the same port), taking the voters
//! other than the leader round robin in an order shuffled per configuration; after failing
//! with every one of them twice in a row it syncs from the leader, whose quorum port always serves
//! observers (a ZooKeeper leader does not listen on observerMasterPort).

use super::*;
use rand::seq::SliceRandom;
use std::time::Duration;

/// A follower's observer master: its listener and the observers it serves.
pub(super) struct ObserverMaster {
    /// Stops the listener.
    cancel: CancellationToken,
    pub(super) observers: HashMap<LinkId, Learner>,
    /// Observers' revalidations forwarded to the leader, in order: (session, observer).
    revalidating: VecDeque<(i64, LinkId)>,
}

impl ObserverMaster {
    pub(super) fn stop(&self) {
        self.cancel.cancel();
        for o in self.observers.values() {
            o.link.close();
        }
    }

    /// Observers synchronised and served (ZooKeeper's `synced_observers`).
    pub(super) fn synced(&self) -> usize {
        self.observers
            .values()
            .filter(|o| o.phase == LPhase::Serving)
            .count()
    }
}

/// Who waits for the leader's answer to a forwarded sync.
pub(super) enum SyncFor {
    Session(i64),
    Observer(LinkId),
}

impl Node {
    /// On a follower up to date with its leader: listen for observers on observerMasterPort
    /// (at this member's quorum host, or every interface with quorumListenOnAllIPs). The
    /// listener is bound by a task of its own, which tries again every half tick while the
    /// port cannot be bound; the follower keeps serving meanwhile.
    pub(in crate::node) fn start_observer_master(&mut self) {
        let port = self.cfg.settings.observer_master_port;
        // Called every half tick: nothing is cloned unless a listener is to be started.
        let wanted = port != 0
            && self.ens().is_some_and(|e| {
                !e.observer
                    && matches!(&e.role, Role::Following(f)
                        if f.om.is_none() && f.phase() == FPhase::Serving)
            });
        if !wanted {
            return;
        }
        let all_ips = self
            .cfg
            .quorum
            .as_ref()
            .is_some_and(|q| q.quorum_listen_on_all_ips);
        let links = self.senders.as_ref().map(|s| s.links.clone());
        let max = self.cfg.max_buffer + 1024;
        let Some(e) = self.ensemble.as_mut() else {
            return;
        };
        let sim = e.sim_connects.is_some();
        if links.is_none() && !sim {
            return;
        }
        let retry = std::time::Duration::from_millis((e.tick_ms / 2).max(50));
        let host = match e.servers.get(&(e.me as u64)).map(|s| s.quorum_addrs()) {
            Some(a) if !all_ips && !a.is_empty() => a[0].0.clone(),
            _ => "0.0.0.0".to_string(),
        };
        let tls = e.tls.clone();
        let Role::Following(f) = &mut e.role else {
            return;
        };
        let cancel = CancellationToken::new();
        f.om = Some(ObserverMaster {
            cancel: cancel.clone(),
            observers: HashMap::new(),
            revalidating: VecDeque::new(),
        });
        let Some(links) = links.filter(|_| !sim) else {
            // The simulation brings observers' links itself.
            return;
        };
        tokio::spawn(async move {
            let mut warned = false;
            let l = loop {
                let bound = tokio::select! {
                    b = tokio::net::TcpListener::bind((host.as_str(), port)) => b,
                    _ = cancel.cancelled() => return,
                };
                match bound {
                    Ok(l) => break l,
                    Err(err) => {
                        if !warned {
                            warned = true;
                            warn!("observer master: cannot listen on {host}:{port} (observerMasterPort): {err}; observers cannot sync from this follower until it can (trying again every half tick)");
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(retry) => {}
                            _ = cancel.cancelled() => return,
                        }
                    }
                }
            };
            info!("observer master: serving observers on {host}:{port}");
            crate::quorum::serve_quorum(l, links, max, tls, Some(cancel)).await;
        });
    }

    /// An observer dialled the observer master port.
    pub(in crate::node) fn observer_up(&mut self, link: Link) {
        let now = self.instant();
        let om = match self.ensemble.as_mut().map(|e| &mut e.role) {
            Some(Role::Following(f)) if f.phase() == FPhase::Serving => f.om.as_mut(),
            _ => None,
        };
        let Some(om) = om else {
            link.close();
            return;
        };
        om.observers.insert(
            link.id,
            Learner {
                link,
                sid: -1,
                observer: true,
                held: Vec::new(),
                phase: LPhase::Info,
                last_heard: now,
            },
        );
    }

    pub(in crate::node) fn observer_down(&mut self, id: LinkId, why: &str) {
        let Some(om) = self.following().and_then(|f| f.om.as_mut()) else {
            return;
        };
        if let Some(o) = om.observers.remove(&id) {
            info!("observer {} left this follower: {why}", o.sid);
        }
        om.revalidating.retain(|(_, l)| *l != id);
    }

    fn close_observer(&mut self, id: LinkId, why: &str) {
        warn!("observer master: {why}; closing the connection");
        if let Some(om) = self.following().and_then(|f| f.om.as_mut()) {
            if let Some(o) = om.observers.remove(&id) {
                o.link.close();
            }
            om.revalidating.retain(|(_, l)| *l != id);
        }
    }

    /// A packet from an observer of this follower.
    pub(in crate::node) fn observer_packet(&mut self, id: LinkId, p: Packet) {
        let now = self.instant();
        let (current_epoch, config_version) = self
            .ens()
            .map_or((0, 0), |e| (e.current_epoch, e.config_version));
        let Some(om) = self.following().and_then(|f| f.om.as_mut()) else {
            return;
        };
        let Some(o) = om.observers.get_mut(&id) else {
            return;
        };
        o.last_heard = now;
        let (phase, sid) = (o.phase, o.sid);
        let kind = PacketType::from_i32(p.kind);
        match (phase, kind) {
            (LPhase::Info, Some(PacketType::ObserverInfo)) => {
                let data = p.data.clone().unwrap_or_default();
                let Ok(info) = LearnerInfo::decode(&mut Reader::new(data)) else {
                    return self.close_observer(id, "an OBSERVERINFO that does not parse");
                };
                if info.config_version > config_version {
                    let why = format!(
                        "observer {} has a later configuration (0x{:x}) than this follower",
                        info.server_id, info.config_version
                    );
                    return self.close_observer(id, &why);
                }
                o.sid = info.server_id;
                o.leader_info(current_epoch);
            }
            (LPhase::Info, Some(PacketType::FollowerInfo)) => self.close_observer(
                id,
                "a voter dialled observerMasterPort (only observers sync from a follower)",
            ),
            (LPhase::Info, _) => self.close_observer(
                id,
                &format!(
                    "a connection began with packet type {}, not OBSERVERINFO",
                    p.kind
                ),
            ),
            (LPhase::AckEpoch, Some(PacketType::AckEpoch)) => {
                let last = self.last_zxid();
                let config = self
                    .ens()
                    .map(|e| {
                        e.last_seen
                            .as_ref()
                            .map_or_else(|| e.config_text.clone(), |l| l.config_text())
                    })
                    .unwrap_or_default();
                let (out, how) = self.sync_packets(p.zxid);
                let Some(o) = self
                    .following()
                    .and_then(|f| f.om.as_mut())
                    .and_then(|om| om.observers.get_mut(&id))
                else {
                    return;
                };
                info!(
                    "observer master: synchronising observer {sid} from 0x{:x} to 0x{last:x}: {how}",
                    p.zxid
                );
                o.sync_with(out, current_epoch, config);
            }
            (LPhase::NewLeaderAck, Some(PacketType::Ack)) => {
                o.up_to_date();
                o.phase = LPhase::Serving;
                info!("observer master: observer {sid} is up to date");
            }
            // The observer's acknowledgement of UPTODATE; an observer acknowledges nothing else.
            (LPhase::Serving, Some(PacketType::Ack)) if p.zxid & 0xffff_ffff == 0 => {}
            (_, Some(PacketType::Ack)) => self.close_observer(
                id,
                &format!(
                    "observer {sid} acknowledged 0x{:x}; observers do not",
                    p.zxid
                ),
            ),
            (LPhase::NewLeaderAck | LPhase::Serving, Some(PacketType::Ping)) => {
                // Its sessions' activity reaches the leader in this follower's next ping.
                let d = p.data.unwrap_or_default();
                let mut at = 0;
                let mut touched = Vec::new();
                while let (Some(s), Some(to)) = (be_i64(&d, at), be_i32(&d, at + 8)) {
                    touched.push((s, to));
                    at += 12;
                }
                if let Some(f) = self.following() {
                    f.touched.extend(touched);
                }
            }
            (LPhase::Serving, Some(PacketType::Request)) => {
                // Forwarded as it is: the leader (perhaps a Java one, which drops the whole
                // link on a short REQUEST) must get a well-formed one.
                let op = p.data.as_deref().and_then(|d| be_i32(d, 12));
                if op.is_none() {
                    return self.close_observer(id, &format!("observer {sid} sent a REQUEST too short to carry a session, cxid and type"));
                }
                if op == Some(OpCode::Sync.code()) {
                    if let Some(f) = self.following() {
                        f.syncs.push_back(SyncFor::Observer(id));
                    }
                }
                self.send_leader(&p);
            }
            (LPhase::NewLeaderAck | LPhase::Serving, Some(PacketType::Revalidate)) => {
                let d = p.data.as_deref().unwrap_or_default();
                let (Some(session), Some(_timeout)) = (be_i64(d, 0), be_i32(d, 8)) else {
                    return self.close_observer(id, &format!("observer {sid} sent a REVALIDATE too short to carry a session and a timeout"));
                };
                om.revalidating.push_back((session, id));
                self.send_leader(&p);
            }
            _ => debug!(
                "observer master: ignoring packet type {} from observer {sid} in {phase:?}",
                p.kind
            ),
        }
    }

    /// The leader answered a revalidation: true if it was an observer's (relayed to it).
    pub(in crate::node) fn observer_revalidated(&mut self, p: &Packet, session: i64) -> bool {
        let Some(om) = self.following().and_then(|f| f.om.as_mut()) else {
            return false;
        };
        if om.revalidating.front().map(|(s, _)| *s) != Some(session) {
            return false;
        }
        if let Some((_, id)) = om.revalidating.pop_front() {
            if let Some(o) = om.observers.get(&id) {
                o.link.send(p);
            }
        }
        true
    }

    /// The leader answered an observer's sync: everything committed before it has been
    /// relayed already, so the answer goes straight on.
    pub(in crate::node) fn observer_synced(&mut self, id: LinkId) {
        if let Some(o) = self
            .following()
            .and_then(|f| f.om.as_mut())
            .and_then(|om| om.observers.get(&id))
        {
            o.link.send(&Packet::new(PacketType::Sync, 0, None));
        }
    }

    /// Every half tick on a serving follower: start the listener if it is not up yet, ping
    /// the observers, drop the silent ones (initLimit while syncing, syncLimit after).
    pub(in crate::node) fn observer_master_tick(&mut self, init: Duration, sync: Duration) {
        self.start_observer_master();
        let last = self.last_zxid();
        let now = self.instant();
        let Some(om) = self.following().and_then(|f| f.om.as_mut()) else {
            return;
        };
        let stale: Vec<(LinkId, i64)> =
            super::tick::ping_learners(&om.observers, last, now, init, sync)
                .into_iter()
                .map(|id| (id, om.observers.get(&id).map_or(-1, |o| o.sid)))
                .collect();
        for (id, sid) in stale {
            self.close_observer(id, &format!("observer {sid} silent for too long"));
        }
    }

    /// A txn this follower applied, relayed to its observers: INFORM, or INFORMANDACTIVATE
    /// naming the leader when it is the reconfiguration the leader activated.
    pub(in crate::node) fn relay_to_observers(&mut self, zxid: i64, raw: &Bytes) {
        let Some(f) = self.following() else { return };
        let activate = f.activating.filter(|(z, _)| *z == zxid).map(|(_, d)| d);
        let Some(om) = f.om.as_mut() else { return };
        if om.observers.is_empty() {
            return;
        }
        let b = match activate {
            None => Packet::new(PacketType::Inform, zxid, Some(raw.clone())).encode(),
            Some(d) => {
                let mut informed = BytesMut::with_capacity(8 + raw.len());
                informed.put_i64(d);
                informed.extend_from_slice(raw);
                Packet::new(PacketType::InformAndActivate, zxid, Some(informed.freeze())).encode()
            }
        };
        for o in om.observers.values_mut() {
            o.forward(b.clone());
        }
    }

    /// On an observer with observerMasterPort: the voter to sync from next (its id and its
    /// addresses at that port), or None to sync from the leader.
    pub(in crate::node) fn pick_learner_master(
        &mut self,
        leader: i64,
    ) -> Option<(i64, Vec<(String, u16)>)> {
        let port = self.cfg.settings.observer_master_port;
        let e = self.ensemble.as_mut()?;
        if port == 0 || !e.observer {
            return None;
        }
        if e.om_order_version != Some(e.config_version) {
            let mut voters: Vec<i64> = e
                .members
                .weights
                .iter()
                .filter(|(s, w)| **w > 0 && **s != e.me)
                .map(|(s, _)| *s)
                .collect();
            voters.shuffle(&mut self.rng);
            info!("observer master candidates (observerMasterPort {port}): {voters:?}");
            e.om_order = voters;
            e.om_order_version = Some(e.config_version);
            e.om_next = 0;
        }
        let candidates: Vec<i64> = e
            .om_order
            .iter()
            .copied()
            .filter(|s| *s != leader)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        // A follower may still be syncing with its leader when the observer first dials it:
        // every follower gets two tries before the leader is asked.
        if e.om_failures >= 2 * candidates.len() {
            warn!(
                "no follower served this observer on observerMasterPort {port} ({} tries in a row); syncing from the leader",
                e.om_failures
            );
            e.om_failures = 0;
            return None;
        }
        let sid = candidates[e.om_next % candidates.len()];
        e.om_next = e.om_next.wrapping_add(1);
        let addrs: Vec<(String, u16)> = e
            .servers
            .get(&(sid as u64))
            .map(|s| s.quorum_addrs())
            .unwrap_or_default()
            .into_iter()
            .map(|(h, _)| (h, port))
            .collect();
        // A voter without an address (not in the server list) is no learner master.
        (!addrs.is_empty()).then_some((sid, addrs))
    }
}
