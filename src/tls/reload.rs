//! A TLS configuration rebuilt when its stores' files change: checked every two seconds (file
//! time and size, off the async workers); new connections get the rebuilt one; a file that
//! does not load is logged and the last good configuration stays.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use tracing::{info, warn};

/// A file as last seen: path, modification time, length.
type Stamp = (String, Option<SystemTime>, u64);

fn stamp(path: &str) -> Stamp {
    let md = std::fs::metadata(path).ok();
    (
        path.to_string(),
        md.as_ref().and_then(|m| m.modified().ok()),
        md.map(|m| m.len()).unwrap_or(0),
    )
}

pub struct Reloadable<T> {
    current: RwLock<T>,
    files: Vec<String>,
    seen: Mutex<Vec<Stamp>>,
    /// For the log: "TLS" or "quorum TLS", and whose connections ("client", "member").
    what: &'static str,
    whose: &'static str,
}

impl<T: Clone> Reloadable<T> {
    pub fn new(value: T, files: Vec<String>, what: &'static str, whose: &'static str) -> Self {
        let seen = files.iter().map(|f| stamp(f)).collect();
        Reloadable {
            current: RwLock::new(value),
            files,
            seen: Mutex::new(seen),
            what,
            whose,
        }
    }

    /// What new connections get.
    pub fn get(&self) -> T {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Rebuilds with `build` if a file changed (blocking: run it off the async workers).
    pub fn reload_if_changed(&self, build: impl FnOnce() -> Result<T, String>) {
        let now: Vec<Stamp> = self.files.iter().map(|f| stamp(f)).collect();
        {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if *seen == now {
                return;
            }
            *seen = now;
        }
        match build() {
            Ok(v) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = v;
                info!(
                    "{} key or trust store changed: new {} connections use it",
                    self.what, self.whose
                );
            }
            Err(e) => warn!(
                "{} key or trust store changed but cannot be used ({e}); the previous one keeps serving",
                self.what
            ),
        }
    }
}

/// Runs `check` every two seconds on a blocking thread, for as long as the process runs.
pub fn poll(check: impl Fn() + Send + Sync + 'static) {
    let check = Arc::new(check);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(2));
        loop {
            every.tick().await;
            let c = check.clone();
            let _ = tokio::task::spawn_blocking(move || c()).await;
        }
    });
}
