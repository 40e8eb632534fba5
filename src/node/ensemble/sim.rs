//! Hooks for the deterministic simulation (tests/sim): it drives the node without sockets
//! and reads its state through these.

use super::*;

impl Node {
    /// Runs this member without sockets: elections go to `election` (the simulation runs
    /// the cores), connections it wants are listed in `connects`. Starts LOOKING.
    #[doc(hidden)]
    pub fn sim_start(&mut self, election: mpsc::UnboundedSender<Cmd>, connects: SimConnects) {
        if let Some(e) = self.ensemble.as_mut() {
            e.election = Some(election);
            e.sim_connects = Some(connects);
        }
        self.look("starting up");
    }

    #[doc(hidden)]
    pub fn sim_tree(&self) -> Vec<(String, i64, i64, i32)> {
        self.tree.stats()
    }

    /// The czxid of a node of the tree, if it exists.
    #[doc(hidden)]
    pub fn sim_czxid(&self, path: &str) -> Option<i64> {
        self.tree.get(path).map(|n| n.stat.czxid)
    }

    /// The active configuration's text (what a restart reads from its dynamic file).
    #[doc(hidden)]
    pub fn sim_config(&self) -> Option<String> {
        self.ens()
            .filter(|e| e.reconfig)
            .map(|e| e.config_text.clone())
    }

    #[doc(hidden)]
    pub fn sim_view(&self) -> SimView {
        SimView {
            mode: self.mode(),
            serving: self.serving(),
            epoch: self.ens().map_or(0, |e| e.current_epoch),
            last_zxid: self.last_zxid(),
            digest: self.tree.digest(),
        }
    }
}

/// What the deterministic simulation reads of a node after each step.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimView {
    pub mode: &'static str,
    pub serving: bool,
    /// The epoch this node leads or follows in (its currentEpoch).
    pub epoch: i64,
    pub last_zxid: i64,
    pub digest: u64,
}
