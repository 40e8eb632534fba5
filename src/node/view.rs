//! The operator's view of the node: what four-letter words, the AdminServer and metrics show.

use super::*;

impl Node {
    /// What operators see of the node.
    pub(super) fn view(&self, q: Query) -> NodeView {
        let now = self.now();
        let wall = self.wall_ms();
        let mut v = NodeView {
            serving: self.serving() || self.read_only,
            mode: if self.read_only {
                "read-only"
            } else {
                self.mode()
            },
            zxid: self.last_zxid(),
            // ZooKeeper files its root under both "" and "/", so it counts one node (and the
            // path "/") more than the tree holds; report what ZooKeeper reports.
            node_count: self.tree.node_count() as u64 + 1,
            approximate_data_size: self.tree.approximate_data_size() + 1,
            ephemerals_count: self.tree.ephemeral_count() as u64,
            watch_count: self.watches.count() as u64,
            global_sessions: self.sessions.len() as u64,
            local_sessions: self.local.len() as u64,
            outstanding_requests: (self.proposals.len() + self.queue.held()) as u64,
            uptime_ms: now,
            last_snapshot: self.last_snapshot,
            ..Default::default()
        };
        v.ensemble = self.ensemble_view();
        let mut conns: Vec<(&ConnId, &Conn)> = self.conns.iter().collect();
        conns.sort_by_key(|(id, _)| **id);
        for (_, c) in conns {
            let st = &c.stats;
            let n = st.count.get();
            v.connections.push(ConnView {
                peer: Some(c.peer),
                outstanding: c.shared.outstanding.load(Ordering::Relaxed) as u64,
                received: st.received,
                sent: st.sent.get(),
                session: c.session,
                last_op: st.last_op.get(),
                established_ms: st.established_ms,
                timeout: self
                    .sessions
                    .get(c.session)
                    .map_or(st.timeout, |s| s.timeout_ms),
                last_cxid: st.last_cxid.get(),
                last_zxid: st.last_zxid.get(),
                last_response_ms: st.last_response_ms.get(),
                last_latency: st.last_latency_us.get() / 1000,
                min_latency: if n == 0 {
                    0
                } else {
                    st.min_latency_us.get() / 1000
                },
                avg_latency: st.sum_latency_us.get().checked_div(n).unwrap_or(0) / 1000,
                max_latency: st.max_latency_us.get() / 1000,
            });
        }
        match q {
            Query::ResetConnections => {
                for c in self.conns.values() {
                    c.stats.reset();
                }
            }
            Query::Dump => {
                for (t, ids) in self.sessions.by_expiry() {
                    let at = wall + t as i64 - now as i64;
                    v.sessions_by_expiry
                        .entry(at)
                        .or_default()
                        .extend(ids.iter().copied());
                    for id in ids {
                        let eph = self.tree.ephemerals(id);
                        if !eph.is_empty() {
                            v.ephemerals.insert(id, eph);
                        }
                    }
                }
            }
            Query::Watches => {
                for (path, ws) in self.watches.data.by_path() {
                    let mut sessions: Vec<i64> = ws
                        .filter_map(|w| self.conns.get(w).map(|c| c.session))
                        .collect();
                    sessions.sort_unstable();
                    for s in &sessions {
                        v.watches_by_session
                            .entry(*s)
                            .or_default()
                            .push(path.clone());
                    }
                    if !sessions.is_empty() {
                        v.watches_by_path.insert(path.clone(), sessions);
                    }
                }
                for paths in v.watches_by_session.values_mut() {
                    paths.sort();
                }
            }
            Query::Hash => v.digests = self.digest_log.iter().copied().collect(),
            Query::Summary | Query::Connections => {}
        }
        v
    }
}
