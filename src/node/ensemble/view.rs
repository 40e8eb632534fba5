//! What `mntr` and the AdminServer (`leader`, `observers`, `zabstate`, `voting_view`) say of
//! a member's place in its ensemble.

use super::*;

impl Node {
    /// None outside an ensemble or while electing.
    pub(in crate::node) fn ensemble_view(&self) -> Option<crate::ops::EnsembleView> {
        let e = self.ens()?;
        let (zab_state, leading, master, synced_observers) = match &e.role {
            Role::Looking => return None,
            Role::Leading(l) => {
                let state = if l.disc.established() {
                    "broadcast"
                } else if l.disc.epoch().is_some() {
                    "synchronization"
                } else {
                    "discovery"
                };
                (state, true, e.me, None)
            }
            Role::Following(f) => {
                let state = match f.phase() {
                    FPhase::Connecting | FPhase::Discovery => "discovery",
                    FPhase::Sync => "synchronization",
                    FPhase::Serving => "broadcast",
                };
                let synced = f.om.as_ref().map(|o| o.synced() as u64);
                (state, false, f.master, synced)
            }
        };
        let votes = |id: u64| e.members.weights.get(&(id as i64)).is_some_and(|w| *w > 0);
        let master_hosts = e
            .servers
            .get(&(master as u64))
            .map(|s| {
                s.quorum_addrs()
                    .into_iter()
                    .map(|(h, _)| h)
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .unwrap_or_default();
        Some(crate::ops::EnsembleView {
            zab_state,
            leading,
            observer: e.observer,
            master,
            master_hosts,
            synced_observers,
            voting: votes(e.me as u64),
            me: e.servers.get(&(e.me as u64)).cloned(),
            voters: e
                .servers
                .values()
                .filter(|s| votes(s.id))
                .cloned()
                .collect(),
        })
    }
}
