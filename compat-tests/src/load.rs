//! A write load on an ensemble from the rolling tests: kazoo sessions spread over all members,
//! each holding an ephemeral node and writing as fast as it can
//! (compat-tests/rolling/load.py), and the check afterwards that nothing acknowledged was lost.

use crate::ensemble::Ensemble;
use crate::{python, workspace};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A script of compat-tests/rolling.
pub fn script(name: &str) -> String {
    workspace()
        .join("compat-tests/rolling")
        .join(name)
        .display()
        .to_string()
}

pub struct Load {
    child: Child,
    stop: std::path::PathBuf,
    started: Instant,
    /// What the load printed so far, read by a thread of its own so that the load never
    /// blocks on a full pipe.
    out: std::sync::Arc<std::sync::Mutex<String>>,
    /// Acknowledged writes so far, counted by the reader thread line by line.
    acks: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Load {
    pub fn start(hosts: &str, sessions: usize, prefix: &str) -> Load {
        let stop = std::env::temp_dir().join(format!(
            "ferrozk-roll-stop-{}-{}",
            std::process::id(),
            prefix.trim_start_matches('/')
        ));
        let _ = std::fs::remove_file(&stop);
        let mut child = Command::new("/usr/bin/python3")
            .args([
                &script("load.py"),
                hosts,
                &sessions.to_string(),
                prefix,
                &stop.display().to_string(),
                "600",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 with kazoo");
        let out = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut stdout = child.stdout.take().unwrap();
        let sink = out.clone();
        let acks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = acks.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // Where the next line not yet counted starts.
            let mut counted = 0;
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut all = sink.lock().unwrap();
                all.push_str(&String::from_utf8_lossy(&buf[..n]));
                if let Some(end) = all.rfind('\n').filter(|e| *e >= counted) {
                    let new = all[counted..end]
                        .lines()
                        .filter(|l| l.starts_with("ACK "))
                        .count();
                    counter.fetch_add(new, std::sync::atomic::Ordering::Relaxed);
                    counted = end + 1;
                }
            }
        });
        let load = Load {
            child,
            stop,
            started: Instant::now(),
            out,
            acks,
        };
        // Every session holds its ephemeral before the roll begins.
        load.wait_for("STARTED", Duration::from_secs(90));
        Load {
            started: Instant::now(),
            ..load
        }
    }

    pub fn wait_for(&self, line: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.out.lock().unwrap().contains(line) {
            assert!(Instant::now() < deadline, "the load never printed {line}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Writes acknowledged so far.
    pub fn acked(&self) -> usize {
        self.acks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Seconds since the load started.
    pub fn at(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Stops the writes and returns what the load printed; its sessions (and their
    /// ephemerals) stay until `close`.
    pub fn stop_writes(&mut self) -> String {
        std::fs::write(&self.stop, b"stop").unwrap();
        self.wait_for("HOLDING", Duration::from_secs(120));
        self.out.lock().unwrap().clone()
    }

    pub fn close(mut self) {
        let close = std::path::PathBuf::from(format!("{}.close", self.stop.display()));
        std::fs::write(&close, b"close").unwrap();
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        let st = self.child.wait().unwrap();
        let _ = std::fs::remove_file(&self.stop);
        let _ = std::fs::remove_file(&close);
        assert!(st.success(), "the load failed: {err}");
    }
}

/// After `stop_writes`: every session survived, every acknowledged write and every session's
/// ephemeral is on every member, and all members hold the same tree under `prefix`; prints the
/// longest gap between two acknowledged writes.
pub fn check(m: &Ensemble, out: &str, prefix: &str, sessions: usize) {
    let acked: std::collections::BTreeSet<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("ACK ").and_then(|r| r.split(' ').next()))
        .collect();
    let gap: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("GAP"))
        .unwrap_or("GAP ? ?")
        .split(' ')
        .collect();
    println!(
        "{} acknowledged writes; longest gap between two: {}s, ending at {}s",
        out.lines().filter(|l| l.starts_with("ACK ")).count(),
        gap.get(1).unwrap_or(&"?"),
        gap.get(2).unwrap_or(&"?"),
    );
    let mut per_second = std::collections::BTreeMap::new();
    for l in out.lines().filter(|l| l.starts_with("ACK ")) {
        if let Some(t) = l.rsplit(' ').next().and_then(|t| t.parse::<f64>().ok()) {
            *per_second.entry(t as u64).or_insert(0) += 1;
        }
    }
    println!("acknowledged writes per second of the load: {per_second:?}");
    for k in 0..sessions {
        assert!(
            out.contains(&format!("SESSION {k} ok")),
            "session {k} did not survive: {}",
            out.lines()
                .filter(|l| l.starts_with("SESSION"))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    assert!(acked.len() > 100, "too few writes acknowledged");
    m.wait_same_zxid(Duration::from_secs(60));
    let views: Vec<String> = m
        .all()
        .into_iter()
        .map(|i| python(&[&script("dump.py"), &m.members[i].port.to_string(), prefix]))
        .collect();
    for (i, v) in views.iter().enumerate() {
        let paths: std::collections::HashSet<&str> =
            v.lines().filter_map(|l| l.split(' ').next()).collect();
        for a in &acked {
            assert!(paths.contains(a), "member {} lost acknowledged {a}", i + 1);
        }
        for k in 0..sessions {
            assert!(
                paths.contains(format!("{prefix}/eph-{k}").as_str()),
                "member {} lost the ephemeral of session {k}",
                i + 1
            );
        }
        assert_eq!(v, &views[0], "member {} differs from member 1", i + 1);
    }
}
