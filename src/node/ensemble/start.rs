//! Starting the ensemble machinery (election and quorum ports, quorum TLS and SASL), and
//! the timings it uses.

use super::*;

impl Node {
    /// How long one address of a member with several may take to connect before the next
    /// is tried: multiAddress.reachabilityCheckTimeoutMs, or 5 s without the check.
    pub(in crate::node) fn reach(&self) -> std::time::Duration {
        let s = &self.cfg.settings;
        if s.reachability_check && s.reachability_timeout_ms > 0 {
            std::time::Duration::from_millis(s.reachability_timeout_ms)
        } else {
            std::time::Duration::from_secs(5)
        }
    }

    /// Starts the election machinery; the node begins LOOKING.
    pub async fn start_ensemble(&mut self) -> std::io::Result<()> {
        let Some(tx) = self.senders.clone() else {
            return Ok(());
        };
        let Some(q) = self.cfg.quorum.clone() else {
            return Ok(());
        };
        // The quorum's stores (file reads, off the async workers).
        let tls = match self.cfg.settings.quorum_tls.clone() {
            None => None,
            Some(t) => Some(
                tokio::task::spawn_blocking(move || crate::tls::quorum::QuorumTls::new(t))
                    .await
                    .map_err(std::io::Error::other)?
                    .map_err(|e| std::io::Error::other(format!("quorum TLS: {e}")))?,
            ),
        };
        if let Some(t) = &tls {
            info!(
                "quorum TLS: sslQuorum={}, portUnification={}",
                t.settings().ssl_quorum,
                t.settings().port_unification
            );
            if t.settings().reload {
                let t = t.clone();
                crate::tls::reload::poll(move || t.reload_if_changed());
            }
        }
        let auth = self.cfg.settings.sasl.quorum.clone().map(|mut a| {
            // A Kerberos learner's principal must name one of these hosts.
            a.hosts = q
                .servers
                .values()
                .flat_map(|s| s.addrs.iter().map(|(h, _, _)| h.clone()))
                .collect();
            std::sync::Arc::new(a)
        });
        if let Some(a) = &auth {
            info!(
                "quorum SASL ({}): learnerRequireSasl={}, serverRequireSasl={}",
                if a.kerberos_server.is_some() || a.kerberos_learner.is_some() {
                    "Kerberos"
                } else {
                    "DIGEST-MD5"
                },
                a.learner_require,
                a.server_require
            );
        }
        // A reconfiguration in the recovered history newer than the configuration on disk
        // (proposed, perhaps committed, before a crash): seen, to be completed by a leader.
        let in_tree = self
            .tree
            .get(crate::tree::CONFIG)
            .and_then(|n| n.data.clone())
            .map(|d| String::from_utf8_lossy(&d).into_owned());
        if let (Some(text), Some(e)) = (in_tree, self.ensemble.as_mut()) {
            if e.reconfig {
                if let Ok(seen) = e.view.with_text(&text) {
                    if seen.version as i64 > e.config_version {
                        info!("configuration 0x{:x} is in the recovered history: seen, not yet active", seen.version);
                        e.last_seen = Some(seen);
                    }
                }
            }
        }
        if self.cfg.settings.reconfig_enabled && q.dynamic_file.is_none() {
            // As ZooKeeper: the zoo.cfg a reconfiguration will rewrite is kept as it was.
            let mut bak = self.cfg.file.clone().into_os_string();
            bak.push(".bak");
            if let Err(e) = tokio::fs::copy(&self.cfg.file, &bak).await {
                warn!(
                    "cannot keep a copy of {} as {bak:?}: {e}",
                    self.cfg.file.display()
                );
            }
        }
        let tls = crate::tls::quorum::Transport { tls, auth };
        if let Some(e) = self.ensemble.as_mut() {
            e.tls = tls.clone();
        }
        let Some(e) = self.ensemble.as_ref() else {
            return Ok(());
        };
        let me = e.me as u64;
        let cmd = crate::quorum::election::start(
            me,
            q.servers.clone(),
            q.quorum_listen_on_all_ips,
            e.config_text.clone(),
            e.members.clone(),
            tx.votes.clone(),
            tls.clone(),
            e.reconfig,
            self.reach(),
        )
        .await?;
        let mine = q
            .servers
            .get(&me)
            .ok_or_else(|| std::io::Error::other("myid is not in the server list"))?;
        // One listener per quorum address (per port on all interfaces with
        // quorumListenOnAllIPs), as ZooKeeper's leader listens on each.
        let mut bound = BTreeSet::new();
        let mut listening = 0;
        for (h, port) in mine.quorum_addrs() {
            let host = if q.quorum_listen_on_all_ips {
                "0.0.0.0".to_string()
            } else {
                h
            };
            if !bound.insert((host.clone(), port)) {
                continue;
            }
            let l = match tokio::net::TcpListener::bind((host.as_str(), port)).await {
                Ok(l) => l,
                Err(e) if mine.addrs.len() > 1 => {
                    warn!(
                        "cannot bind the quorum port {host}:{port}: {e}; using the other addresses"
                    );
                    continue;
                }
                Err(e) => return Err(e),
            };
            info!("quorum port {} bound", l.local_addr()?);
            listening += 1;
            tokio::spawn(crate::quorum::serve_quorum(
                l,
                tx.links.clone(),
                self.cfg.max_buffer + 1024,
                tls.clone(),
                None,
            ));
        }
        if listening == 0 {
            return Err(std::io::Error::other("no quorum address could be bound"));
        }
        if let Some(e) = self.ensemble.as_mut() {
            e.election = Some(cmd);
        }
        self.look("starting up");
        Ok(())
    }
}
