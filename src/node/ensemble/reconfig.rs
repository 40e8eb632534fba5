//! Dynamic reconfiguration (`reconfigEnabled=true`), as ZooKeeper 3.5+ has it: the leader
//! checks a reconfig request and proposes the new configuration as a txn (type reconfig, a
//! setData of /zookeeper/config whose text carries the txn's zxid as its version); it
//! commits once a quorum of the current voters and a quorum of the new ones hold it, with
//! COMMITANDACTIVATE (INFORMANDACTIVATE to observers) naming the leader of the new
//! configuration. Every member then makes the configuration active: its voters, its peers
//! in elections, `/zookeeper/config`, and the dynamic config file zoo.cfg points at. A member
//! whose role or leader changes takes the new role at once, without an election, as Java's
//! members do, so Java and ferrozk members can be reconfigured together.

use super::*;
use crate::config::{parse_server, QuorumConfig};
use crate::tree::CONFIG;

impl Node {
    /// The reconfig request, checked in ZooKeeper's order (PrepRequestProcessor): the new
    /// configuration, or the error its error txn carries.
    pub(in crate::node) fn prep_reconfig(
        &self,
        r: &ReconfigRequest,
        auth: &[Id],
    ) -> Result<QuorumConfig, ErrorCode> {
        let Some(e) = self.ens().filter(|e| e.reconfig) else {
            return Err(
                if self.ens().is_none() && self.cfg.settings.reconfig_enabled {
                    ErrorCode::Unimplemented
                } else {
                    ErrorCode::ReconfigDisabled
                },
            );
        };
        if e.last_seen
            .as_ref()
            .is_some_and(|l| l.version as i64 > e.config_version)
        {
            return Err(ErrorCode::ReconfigInProgress);
        }
        if r.cur_config_id != -1 && r.cur_config_id != e.config_version {
            return Err(ErrorCode::BadVersion);
        }
        let mut new = match &r.new_members {
            Some(members) => {
                let text = members.replace(',', "\n");
                let mut m = crate::config::Membership::default();
                for (k, v) in crate::config::parse_properties(&text) {
                    if k == "version" {
                        continue;
                    }
                    m.add(&k, &v).map_err(|why| {
                        info!("reconfig refused: {k}={v}: {why}");
                        ErrorCode::BadArguments
                    })?;
                }
                e.view.with_membership(m, 0).map_err(|why| {
                    info!("reconfig refused: {why}");
                    ErrorCode::BadArguments
                })?
            }
            None => {
                if !e.view.groups.is_empty() {
                    info!("reconfig refused: incremental reconfiguration of hierarchical quorums");
                    return Err(ErrorCode::BadArguments);
                }
                let mut servers = e.view.servers.clone();
                let list = |s: &Option<String>| -> Vec<String> {
                    s.as_deref()
                        .unwrap_or("")
                        .split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect()
                };
                for id in list(&r.leaving_servers) {
                    let id = id.parse::<i64>().map_err(|_| ErrorCode::MarshallingError)? as u64;
                    servers.remove(&id);
                }
                for entry in list(&r.joining_servers) {
                    let parts: Vec<&str> = entry.split('=').map(str::trim).collect();
                    let [key, spec] = parts.as_slice() else {
                        info!("reconfig refused: {entry:?} is not server.N=...");
                        return Err(ErrorCode::BadArguments);
                    };
                    let id: u64 = key
                        .rsplit('.')
                        .next()
                        .and_then(|x| x.parse::<i64>().ok())
                        .ok_or(ErrorCode::MarshallingError)?
                        .try_into()
                        .map_err(|_| ErrorCode::BadArguments)?;
                    let s = parse_server(id, spec).map_err(|why| {
                        info!("reconfig refused: {entry}: {why}");
                        ErrorCode::BadArguments
                    })?;
                    if s.client.is_none() {
                        info!("reconfig refused: {entry}: a joining server needs its client port");
                        return Err(ErrorCode::BadArguments);
                    }
                    if let Some(o) = servers.values().find(|o| o.id != id && clashes(o, &s)) {
                        info!(
                            "reconfig refused: server.{id} has an address of server.{}",
                            o.id
                        );
                        return Err(ErrorCode::BadArguments);
                    }
                    servers.insert(id, s);
                }
                QuorumConfig {
                    servers,
                    ..e.view.clone()
                }
            }
        };
        if !self.cfg.settings.multi_address && new.servers.values().any(|s| s.addrs.len() > 1) {
            info!(
                "reconfig refused: several addresses for one server need multiAddress.enabled=true"
            );
            return Err(ErrorCode::BadArguments);
        }
        new.version = self.next_zxid as u64;
        let voters = new.participants();
        if (e.view.standalone_enabled && voters < 2) || voters < 1 {
            info!("reconfig refused: the new configuration would have {voters} voters");
            return Err(ErrorCode::BadArguments);
        }
        let members = crate::zab::election::Members::from_config(&new);
        if !members.is_quorum(self.synced_voters().iter()) {
            return Err(ErrorCode::NewConfigNoQuorum);
        }
        let node = self.tree.get(CONFIG).ok_or(ErrorCode::NoNode)?;
        if !self.policy.check(&node.acl, Perms::WRITE, auth) {
            return Err(ErrorCode::NoAuth);
        }
        Ok(new)
    }

    /// The leader and the followers synchronised with it (not observers): who could
    /// acknowledge a new configuration now.
    fn synced_voters(&self) -> Vec<i64> {
        let Some(e) = self.ens() else {
            return Vec::new();
        };
        let mut out = vec![e.me];
        if let Role::Leading(l) = &e.role {
            out.extend(
                l.learners
                    .values()
                    .filter(|lr| lr.phase == LPhase::Serving && !lr.observer)
                    .map(|lr| lr.sid),
            );
        }
        out
    }

    /// Proposes a checked reconfiguration; from now on proposals need its quorum too.
    pub(in crate::node) fn propose_reconfig(
        &mut self,
        session: i64,
        cxid: i32,
        new: QuorumConfig,
        then: Then,
    ) {
        let zxid = self.next_zxid;
        let text = new.config_text();
        let body = TxnBody::SetData(SetDataTxn {
            path: CONFIG.to_string(),
            data: Some(Bytes::from(text)),
            version: -1,
        });
        let members = crate::zab::election::Members::from_config(&new);
        self.propose(session, cxid, OpCode::Reconfig, body, then, self.wall_ms());
        if self
            .proposals
            .back()
            .is_some_and(|p| p.txn.hdr.zxid == zxid)
        {
            info!("proposing configuration 0x{zxid:x}");
            self.zab.propose_reconfig(zxid, members);
            if let Some(e) = self.ensemble.as_mut() {
                e.last_seen = Some(new);
            }
        }
    }

    /// On a leader committing reconfiguration `zxid`: the leader of the new configuration.
    /// This one if it is a voter there at the same quorum address; otherwise, among the new
    /// voters that acknowledged it, the one that holds the most (then the lowest id), so that
    /// it has everything committed and as much as possible of what was proposed after.
    pub(in crate::node) fn designated_leader(&self, new: &QuorumConfig, zxid: i64) -> i64 {
        let Some(e) = self.ens() else { return -1 };
        let me = e.me as u64;
        let same = |a: Option<&crate::config::QuorumServer>,
                    b: Option<&crate::config::QuorumServer>| match (a, b) {
            (Some(a), Some(b)) => {
                // The same addresses in any order (a configuration text lists them sorted).
                let (mut x, mut y) = (a.quorum_addrs(), b.quorum_addrs());
                x.sort();
                y.sort();
                x == y
            }
            _ => false,
        };
        let members = crate::zab::election::Members::from_config(new);
        let voter = |sid: i64| members.weights.get(&sid).is_some_and(|w| *w > 0);
        if voter(e.me) && same(new.servers.get(&me), e.view.servers.get(&me)) {
            return e.me;
        }
        let mut best: Option<(i64, i64)> = None;
        for sid in members.weights.keys().copied() {
            if sid == e.me || !voter(sid) || !self.zab.has_acked(sid, zxid) {
                continue;
            }
            let held = self.zab.acked(sid).unwrap_or(zxid);
            if best.is_none_or(|(_, h)| held > h) {
                best = Some((sid, held));
            }
        }
        best.map(|(sid, _)| sid)
            .or_else(|| members.weights.keys().copied().find(|s| voter(*s)))
            .unwrap_or(e.me)
    }

    /// A reconfig txn is applied: its configuration becomes active here (unless it is only
    /// history being replayed, or reconfiguration is off, as in ZooKeeper).
    pub(in crate::node) fn reconfig_applied(&mut self, txn: &Txn) {
        let Some(e) = self.ens() else { return };
        if !e.reconfig {
            return;
        }
        if e.replaying {
            return self.reconfig_seen(txn);
        }
        match txn_config(&e.view, txn) {
            Ok(new) => {
                self.activate_config(new, false);
            }
            Err(why) => warn!(
                "the reconfiguration 0x{:x} does not parse ({why}); the configuration stays",
                txn.hdr.zxid
            ),
        }
    }

    /// A reconfiguration logged but not known to be committed (a learner's proposal, a
    /// history replayed): seen, so that a leader this member becomes completes it, with the
    /// quorums of both configurations, as ZooKeeper's does.
    pub(in crate::node) fn reconfig_seen(&mut self, txn: &Txn) {
        let Some(e) = self.ensemble.as_mut().filter(|e| e.reconfig) else {
            return;
        };
        match txn_config(&e.view, txn) {
            Ok(q) if q.version as i64 > e.config_version => {
                if e.last_seen.as_ref().is_none_or(|l| l.version < q.version) {
                    e.last_seen = Some(q);
                }
            }
            Ok(_) => {}
            Err(why) => warn!(
                "the reconfiguration 0x{:x} does not parse ({why})",
                txn.hdr.zxid
            ),
        }
    }

    /// Makes `new` the active configuration if it is newer: voters, peers, the election's
    /// notifications, the dynamic config file, and (`set_node`) /zookeeper/config. Returns
    /// whether this member's own type changed (participant and observer).
    pub(in crate::node) fn activate_config(&mut self, new: QuorumConfig, set_node: bool) -> bool {
        let file = self.cfg.file.clone();
        let serving = self.cfg.client_address();
        let Some(e) = self.ensemble.as_mut() else {
            return false;
        };
        if !e.reconfig || (new.version as i64) <= e.config_version {
            return false;
        }
        let me = e.me as u64;
        let was_observer = e.observer;
        let observer = new.servers.get(&me).is_some_and(|s| s.observer);
        let members = crate::zab::election::Members::from_config(&new);
        if let (Some(a), Some(b)) = (e.view.servers.get(&me), new.servers.get(&me)) {
            if a.client != b.client {
                warn!("configuration 0x{:x} moves this server's client address; it takes effect at the next start", new.version);
            }
        }
        e.observer = observer;
        e.servers = new.servers.clone();
        e.members = members.clone();
        e.config_text = new.config_text();
        e.config_version = new.version as i64;
        if e.last_seen
            .as_ref()
            .is_some_and(|l| l.version <= new.version)
        {
            e.last_seen = None;
        }
        e.view = new.clone();
        let voters: Vec<u64> = members.weights.keys().map(|s| *s as u64).collect();
        info!(
            "configuration 0x{:x} active: voters {voters:?}, this server {}",
            new.version,
            if observer {
                "observes"
            } else if voters.contains(&me) {
                "votes"
            } else {
                "is not a voter"
            }
        );
        if let Some(tx) = &e.election {
            let _ = tx.send(Cmd::Reconfig {
                servers: new.servers.clone(),
                members: members.clone(),
                config: Bytes::from(e.config_text.clone()),
            });
        }
        // A leader that stays leads with the new voters (and commits what they hold); one
        // handing over commits nothing more.
        if matches!(e.role, Role::Leading(_)) && e.handoff.is_none() {
            self.zab.activate(members, &mut self.actions);
        }
        if e_sim(self) {
            // The simulation has no files.
        } else if let Err(err) =
            block(|| crate::config::write_dynamic_config(&file, &new, me, serving))
        {
            error!(
                "cannot write the dynamic config file of configuration 0x{:x} beside {}: {err}",
                new.version,
                file.display()
            );
        }
        if set_node {
            self.set_config_node();
        }
        was_observer != observer
    }

    /// After the configuration `zxid` is applied on a learner (COMMITANDACTIVATE or
    /// INFORMANDACTIVATE): follow the leader it names, or take the role it gives.
    pub(in crate::node) fn activated(&mut self, designated: i64, role_changed: bool) {
        if !self.ens().is_some_and(|e| e.reconfig) {
            // As ZooKeeper: with reconfiguration off the configuration stays, and so does
            // this member's leader.
            return;
        }
        let leader = self.following().map(|f| f.leader);
        if leader.is_some_and(|l| l != designated) || role_changed {
            self.hand_off(
                designated,
                "a reconfiguration changed this server's leader or role",
            );
        }
    }

    /// Takes the role a reconfiguration gives, without an election (as ZooKeeper's members
    /// do): lead if `leader` is this server, else follow (or observe) `leader`.
    pub(in crate::node) fn hand_off(&mut self, leader: i64, why: &str) {
        if !self.leave_role(why) {
            return;
        }
        let Some(e) = self.ens() else { return };
        let state = if leader == e.me {
            crate::zab::election::PeerState::Leading
        } else if e.observer {
            crate::zab::election::PeerState::Observing
        } else {
            crate::zab::election::PeerState::Following
        };
        let v = Vote {
            leader,
            zxid: self.last_zxid(),
            election_epoch: 0,
            peer_epoch: e.current_epoch,
            state,
        };
        info!("taking the role the reconfiguration gives: leader {leader}, this server {state:?}");
        if let Some(tx) = e.election.clone() {
            let _ = tx.send(Cmd::Decided(v));
        }
        self.elected(v);
    }

    /// While looking: a peer's notification carried a newer configuration. It becomes
    /// active here, and a new round starts with its voters, as in ZooKeeper (this is how a
    /// member that missed reconfigurations catches up).
    pub(in crate::node) fn newer_config(&mut self, text: Bytes) {
        let Some(e) = self.ens().filter(|e| e.reconfig) else {
            return;
        };
        if !matches!(e.role, Role::Looking) {
            return;
        }
        let text = String::from_utf8_lossy(&text).into_owned();
        match e.view.with_text(&text) {
            Ok(q) if q.version as i64 > e.config_version => {
                let v = q.version;
                self.activate_config(q, true);
                self.look(&format!("configuration 0x{v:x} learnt from a peer"));
            }
            Ok(_) => {}
            Err(why) => warn!("a peer's configuration does not parse: {why}"),
        }
    }

    /// At the end of a commit: a leader whose committed reconfiguration named another
    /// leader follows it now.
    pub(in crate::node) fn check_handoff(&mut self) {
        let Some(to) = self.ensemble.as_mut().and_then(|e| e.handoff.take()) else {
            return;
        };
        self.hand_off(to, "the new configuration has another leader");
    }

    /// The configuration a new leader sends in NEWLEADER: with reconfiguration on, an
    /// unversioned one gets the new epoch's first zxid as its version (as ZooKeeper's
    /// leader does), and is made active at establishment.
    pub(in crate::node) fn newleader_config(&self, epoch: i64) -> String {
        match self.config_to_establish(epoch) {
            Some(q) => q.config_text(),
            None => self
                .ens()
                .map(|e| e.config_text.clone())
                .unwrap_or_default(),
        }
    }

    /// The configuration a new leader makes active when its epoch is established (and
    /// sends in NEWLEADER): one seen in its history and not yet active, else, for an
    /// unversioned one, the same members with the epoch's first zxid as version.
    pub(in crate::node) fn config_to_establish(&self, epoch: i64) -> Option<QuorumConfig> {
        let e = self.ens().filter(|e| e.reconfig)?;
        match &e.last_seen {
            Some(l) if l.version as i64 > e.config_version => Some(l.clone()),
            _ if e.config_version == 0 => {
                let mut bumped = e.view.clone();
                bumped.version = jute::make_zxid(epoch, 0) as u64;
                Some(bumped)
            }
            _ => None,
        }
    }

    /// At establishment: the configuration to establish becomes active. If this leader is
    /// not a voter of it, the acknowledged voter with the lowest id leads instead.
    pub(in crate::node) fn establish_config(&mut self, epoch: i64, acked: &BTreeSet<i64>) {
        let Some(q) = self.config_to_establish(epoch) else {
            // Nothing newer was seen: whatever was is stale.
            if let Some(e) = self.ensemble.as_mut() {
                e.last_seen = None;
            }
            return;
        };
        let me = self.ens().map_or(-1, |e| e.me);
        let members = crate::zab::election::Members::from_config(&q);
        let voter = |sid: &i64| members.weights.get(sid).is_some_and(|w| *w > 0);
        if !voter(&me) {
            let next = acked.iter().copied().find(|s| *s != me && voter(s));
            if let (Some(e), Some(n)) = (self.ensemble.as_mut(), next) {
                info!(
                    "this leader is not a voter of configuration 0x{:x}; server {n} leads it",
                    q.version
                );
                e.handoff = Some(n);
            }
        }
        self.activate_config(q, false);
        if let Some(e) = self.ensemble.as_mut() {
            e.last_seen = None;
        }
    }
}

/// The configuration a reconfig txn carries (a setData of /zookeeper/config), read against
/// `view` (the settings that are not membership).
pub(super) fn txn_config(view: &QuorumConfig, txn: &Txn) -> Result<QuorumConfig, String> {
    let TxnBody::SetData(t) = &txn.body else {
        return Err("not a setData of /zookeeper/config".into());
    };
    view.with_text(&String::from_utf8_lossy(
        t.data.as_deref().unwrap_or_default(),
    ))
}

fn e_sim(n: &Node) -> bool {
    n.ens().is_some_and(|e| e.sim_connects.is_some())
}

/// Two servers share an address (ZooKeeper's check ignores wildcard and loopback hosts).
fn clashes(a: &crate::config::QuorumServer, b: &crate::config::QuorumServer) -> bool {
    let local = |h: &str| {
        h == "0.0.0.0"
            || h == "::"
            || h == "localhost"
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
    };
    if a.host != b.host || local(&a.host) {
        return false;
    }
    let pa = [a.quorum_port, a.election_port];
    let pb = [b.quorum_port, b.election_port];
    pa.iter().any(|p| pb.contains(p))
}
