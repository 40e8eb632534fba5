//! Snapshots while serving (a slice of the tree at a time between requests, assembled and
//! written off the node task), the AdminServer's snapshot and restore, and autopurge.

use super::*;

impl Node {
    /// Starts a snapshot once enough txns were applied. The log rolls, and the tree is then
    /// written a slice at a time between requests (`snapshot_step`), so a large tree does
    /// not stop the node; the file is assembled and written on a thread of its own.
    pub(super) fn maybe_snapshot(&mut self) {
        self.since_snapshot += 1;
        if self.since_snapshot < self.snap_every {
            return;
        }
        if self.snap_job.is_some() || self.snap_writer.is_some() {
            // As ZooKeeper's SyncRequestProcessor: the log rolls and the count starts over,
            // but no second snapshot is queued behind the one still being taken (which
            // would otherwise follow it at once, back to back, under a heavy write load).
            warn!("too busy to snapshot, skipping");
            self.since_snapshot = 0;
            self.snap_every = snapshot_threshold(&mut self.rng, self.storage.snap_count);
            self.log.roll();
            return;
        }
        self.start_snapshot();
    }

    /// The AdminServer's restore, as ZooKeeper 3.9's `restoreFromSnapshot`: the snapshot's
    /// tree and sessions replace the database. Every connection is closed (clients reconnect;
    /// sessions the snapshot does not hold are expired to them). The new state takes the
    /// current zxid, so that the txn log stays in order, and is written as a snapshot before
    /// anyone is served again: a crash before that recovers the state from before.
    pub(super) fn restore(
        &mut self,
        loaded: snap::Loaded,
        reply: oneshot::Sender<Result<i64, String>>,
    ) {
        if self.ensemble.is_some() {
            let _ = reply.send(Err(
                "restore is only supported on a standalone server".into()
            ));
            return;
        }
        if !self.proposals.is_empty() || self.snap_job.is_some() || self.restoring {
            let _ = reply.send(Err(
                "writes or a snapshot are in progress; retry the restore".into(),
            ));
            return;
        }
        let before = (self.tree.node_count(), self.sessions.len());
        let zxid = self.last_zxid().max(loaded.tree.last_processed_zxid);
        let mut tree = loaded.tree;
        tree.last_processed_zxid = zxid;
        self.tree = tree;
        self.overlay = Overlay::new(&self.tree);
        self.next_zxid = zxid + 1;
        self.zab = Broadcast::standalone(zxid);
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for c in conns {
            self.close_conn(c);
        }
        self.watches = WatchManager::default();
        self.queue.clear();
        self.sessions = SessionTracker::new(
            self.cfg.tick_time,
            session_server_id(&self.cfg),
            self.wall_ms() as u64,
        );
        let now = self.now();
        for (id, timeout) in &loaded.sessions {
            self.sessions.add(*id, (*timeout).max(0) as u32, now);
        }
        self.committed_sessions = loaded.sessions.into_iter().collect();
        self.digest_log.clear();
        info!(
            "restored from a snapshot: {} nodes and {} sessions before, {} nodes and {} sessions now, serving from zxid 0x{zxid:x} once it is on disk",
            before.0,
            before.1,
            self.tree.node_count(),
            self.sessions.len()
        );
        self.restoring = true;
        let (tx, rx) = oneshot::channel();
        self.snap_waiters.push(tx);
        self.start_snapshot();
        let node = self.senders.as_ref().map(|s| s.control.clone());
        tokio::spawn(async move {
            let res = rx
                .await
                .unwrap_or_else(|_| Err("the snapshot was abandoned".into()));
            let res = res.map(|_| ());
            match node {
                Some(node) => {
                    let _ = node
                        .send(Control::RestoreDone {
                            result: res,
                            zxid,
                            reply,
                        })
                        .await;
                }
                None => {
                    let _ = reply.send(res.map(|_| zxid));
                }
            }
        });
    }

    /// The AdminServer's snapshot command: the caller hears when the file is written.
    pub(super) fn snapshot_now(&mut self, reply: oneshot::Sender<SnapshotReply>) {
        self.snap_waiters.push(reply);
        if self.snap_job.is_none() {
            // Joins the snapshot being written, if there is one.
            self.start_snapshot();
        }
    }

    pub(super) fn start_snapshot(&mut self) {
        if self.snap_writer.is_some() {
            return; // the previous one is still being written; its waiters hear of it
        }
        self.since_snapshot = 0;
        self.snap_every = snapshot_threshold(&mut self.rng, self.storage.snap_count);
        // As ZooKeeper purges its ACL cache when it snapshots.
        self.tree.purge_unused_acls();
        self.log.roll();
        let sessions: Vec<(i64, i32)> = self
            .committed_sessions
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        let now = Instant::now();
        self.snap_job = Some((snap::Fuzzy::start(&self.tree, sessions), now, now));
    }

    /// Before the tree is replaced or rolled back (TRUNC, a leader's snapshot): a snapshot
    /// still being walked would mix two trees, and one being written would name a zxid the
    /// log no longer reaches. The walk is dropped; a file already being written is waited for,
    /// so that the caller's clean-up of snapshots past its new point sees it.
    pub(super) fn abandon_snapshot(&mut self, why: &str) {
        if self.snap_job.take().is_some() {
            info!("abandoning the snapshot being taken: {why}");
            for w in self.snap_waiters.drain(..) {
                let _ = w.send(Err(format!("snapshot abandoned: {why}")));
            }
            return;
        }
        if self.snap_writer.is_some() {
            info!("waiting for the snapshot being written before: {why}");
            self.reap_snapshot_blocking();
        }
    }

    /// The snapshot thread's result, once it has finished: the snapshot's figures, and the
    /// callers waiting for it.
    pub(super) fn reap_snapshot(&mut self) {
        if self.snap_writer.as_ref().is_some_and(|h| h.is_finished()) {
            self.reap_snapshot_blocking();
        }
    }

    pub(super) fn reap_snapshot_blocking(&mut self) {
        let Some(h) = self.snap_writer.take() else {
            return;
        };
        let res = match tokio::runtime::Handle::try_current() {
            Ok(rt) if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| h.join())
            }
            _ => h.join(),
        }
        .unwrap_or_else(|_| Err("the snapshot thread panicked".into()));
        if let Ok((_, zxid)) = &res {
            self.last_snapshot = Some((*zxid, self.wall_ms() / 1000));
        }
        for w in self.snap_waiters.drain(..) {
            let _ = w.send(res.clone());
        }
    }

    pub(super) fn snapshot_step(&mut self) {
        let Some((job, _, last)) = self.snap_job.as_mut() else {
            return;
        };
        let done = job.step(&self.tree, Self::SNAPSHOT_SLICE);
        *last = Instant::now();
        if !done {
            return;
        }
        let Some((job, started, _)) = self.snap_job.take() else {
            return;
        };
        let (digest_zxid, digest) = (self.tree.last_processed_zxid, self.tree.digest());
        let dir = self.storage.snap_dir.clone();
        let compression = self.storage.compression;
        // The node hears of the end through its control channel (the simulation, which has
        // none, through its ticks).
        let wake = self.senders.as_ref().map(|s| s.control.clone());
        let (zxid, nodes) = (job.zxid, job.visited);
        let walked = started.elapsed();
        let spawned = std::thread::Builder::new()
            .name("ferrozk-snapshot".into())
            .spawn(move || {
                lower_priority();
                let parts = job.finish(digest_zxid, digest);
                let size: usize = parts.iter().map(|p| p.len()).sum();
                let written = snap::write_file(&dir, zxid, &parts, compression);
                drop(parts);
                release_free_memory();
                let res = match written {
                    Ok(p) => {
                        info!(
                            "snapshot {} written: {nodes} nodes, {size} bytes (walked in {walked:?}, {:?} in all)",
                            p.display(),
                            started.elapsed()
                        );
                        stats().snapshottime.add(started.elapsed().as_micros() as u64);
                        Ok((p, zxid))
                    }
                    Err(e) => {
                        error!("writing snapshot 0x{zxid:x} failed: {e}");
                        Err(e.to_string())
                    }
                };
                if let Some(w) = wake {
                    let _ = w.blocking_send(Control::SnapshotWritten);
                }
                res
            });
        match spawned {
            Ok(h) => self.snap_writer = Some(h),
            Err(e) => {
                error!("cannot start the snapshot thread: {e}");
                for w in self.snap_waiters.drain(..) {
                    let _ = w.send(Err(format!("cannot start the snapshot thread: {e}")));
                }
            }
        }
    }

    pub(super) fn purge(&self) {
        let (snap_dir, log_dir, keep) = (
            self.storage.snap_dir.clone(),
            self.storage.log_dir.clone(),
            self.storage.purge_keep,
        );
        tokio::task::spawn_blocking(move || {
            match crate::storage::tools::purge(&snap_dir, &log_dir, keep) {
                Ok(gone) => info!(
                    "autopurge removed {} old snapshot and log files",
                    gone.len()
                ),
                Err(e) => warn!("autopurge failed: {e}"),
            }
        });
    }
}

/// Txns between snapshots: snapCount/2 plus a random part up to snapCount/2, as ZooKeeper
/// does, so that members of an ensemble do not all snapshot at once.
pub(super) fn snapshot_threshold(rng: &mut impl rand::Rng, snap_count: u64) -> u64 {
    let half = (snap_count / 2).max(1);
    half + rng.random_range(0..half)
}

/// Hands memory freed inside the allocator's arenas back to the system. A snapshot's slices
/// (a couple of hundred bytes per znode) are freed once the file is written, but glibc keeps
/// them, scattered among the tree's allocations, and the resident set would stay that much
/// larger until the next snapshot reuses them.
pub(super) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only reorganises the allocator's own free lists; it takes no
    // pointers of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs the calling thread at the lowest CPU priority (nice 19), so that on a busy machine a
/// snapshot being assembled and written yields the cores to the node task and the log writer,
/// whose latency clients see. Linux keeps nice values per thread.
pub(super) fn lower_priority() {
    // SAFETY: setpriority takes plain integers and touches no memory of ours; `who` 0 is the
    // calling thread.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
    if rc != 0 {
        tracing::debug!(
            "could not lower the snapshot thread's priority: {}",
            std::io::Error::last_os_error()
        );
    }
}
