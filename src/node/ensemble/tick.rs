//! The ensemble's clock: pings, and the liveness checks of initLimit and syncLimit.

use super::*;
use std::time::Duration;

/// Pings the learners being served (a leader's, or a follower's observers) with `last`, and
/// returns those silent for too long: a learner still being synchronised (a large SNAP) has
/// initLimit, as in ZooKeeper; one being served, syncLimit.
pub(super) fn ping_learners(
    learners: &HashMap<LinkId, Learner>,
    last: i64,
    now: Instant,
    init: Duration,
    sync: Duration,
) -> Vec<LinkId> {
    let ping = Packet::new(PacketType::Ping, last, None).encode();
    let mut stale = Vec::new();
    for (id, lr) in learners {
        let limit = if lr.phase == LPhase::Serving {
            sync
        } else {
            init
        };
        if now.saturating_duration_since(lr.last_heard) > limit {
            stale.push(*id);
        } else if lr.phase == LPhase::Serving {
            lr.link.send_raw(ping.clone());
        }
    }
    stale
}

impl Node {
    /// Every half tick: pings, and the liveness checks of initLimit and syncLimit.
    pub(in crate::node) fn ensemble_tick(&mut self) {
        let Some(e) = self.ensemble.as_ref() else {
            return;
        };
        let tick = std::time::Duration::from_millis(e.tick_ms);
        let init = tick * e.init_limit as u32;
        let sync = tick * e.sync_limit as u32;
        let (me, members) = (e.me, e.members.clone());
        // A reconfiguration in flight needs its own quorum too (as ZooKeeper's leader checks).
        let pending = e.last_seen.as_ref().map(Members::from_config);
        let last = self.last_zxid();
        let now = self.instant();
        let age = |t: Instant| now.saturating_duration_since(t);
        match self.ensemble.as_mut().map(|e| &mut e.role) {
            Some(Role::Leading(l)) => {
                if !l.disc.established() {
                    if age(l.since) > init {
                        self.look("no quorum of followers synchronised within initLimit");
                    }
                    return;
                }
                let stale = ping_learners(&l.learners, last, now, init, sync);
                let mut forget = Vec::new();
                for id in stale {
                    if let Some(lr) = l.learners.remove(&id) {
                        warn!(
                            "learner {} silent for more than syncLimit; dropping it",
                            lr.sid
                        );
                        lr.link.close();
                        if lr.sid >= 0 && !l.learners.values().any(|o| o.sid == lr.sid) {
                            forget.push(lr.sid);
                        }
                    }
                }
                let mut synced: BTreeSet<i64> = l
                    .learners
                    .values()
                    .filter(|lr| lr.phase == LPhase::Serving)
                    .map(|lr| lr.sid)
                    .collect();
                synced.insert(me);
                for sid in forget {
                    self.zab.forget(sid);
                }
                if !members.is_quorum(synced.iter())
                    || pending
                        .as_ref()
                        .is_some_and(|p| !p.is_quorum(synced.iter()))
                {
                    self.look(&format!(
                        "only {synced:?} are synchronised with this leader: not a quorum"
                    ));
                }
            }
            Some(Role::Following(f)) => {
                let limit = if f.phase() == FPhase::Serving {
                    sync
                } else {
                    init
                };
                let (leader, master) = (f.leader, f.master);
                let (serving, connecting) = (
                    f.phase() == FPhase::Serving,
                    f.phase() == FPhase::Connecting,
                );
                let (late, silent) = (
                    !serving && age(f.since) > init,
                    !connecting && age(f.last_heard) > limit,
                );
                let timed_out = late || silent;
                if timed_out && master != leader && !serving {
                    // An observer that could not sync from a follower tries another next.
                    if let Some(e) = self.ensemble.as_mut() {
                        e.om_failures += 1;
                    }
                }
                let from = || {
                    if master != leader {
                        format!("server {master} (syncing from it, leader {leader})")
                    } else {
                        format!("leader {leader}")
                    }
                };
                if late {
                    self.look(&format!(
                        "not synchronised with {} within initLimit",
                        from()
                    ));
                } else if silent {
                    self.look(&format!("nothing heard from {} within the limit", from()));
                } else if serving {
                    self.observer_master_tick(init, sync);
                }
            }
            _ => {}
        }
    }
}
