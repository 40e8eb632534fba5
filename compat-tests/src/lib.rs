//! Harness for the compatibility tests: start ferrozk (or the reference Apache ZooKeeper from
//! Debian's package, or a release fetched from Maven Central) on a free loopback port, run a
//! stock-client suite against it with a time bound, and stop what was started by PID.

pub mod apps;
pub mod ensemble;
pub mod load;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The newest Curator 5 release on Maven Central, run beside Debian's 5.4 in the client
/// suites with the ZooKeeper 3.9 client it brings (compat-tests/clients/java/classpath.sh
/// fetches it when FERROZK_CURATOR_VERSION names it).
pub const NEWEST_CURATOR: &str = "5.9.0";

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A port free on loopback, from below Linux's ephemeral range (32768 and up): a port the
/// kernel picked for `bind(0)` could be taken, before the server binds it, by the local end
/// of some test's outgoing connection (proxies and clients open many). Ports are handed out
/// once per test process, from a start that differs between processes.
/// Runs /usr/bin/python3 (Debian's, with kazoo) with `args`; its stdout, or a panic with both
/// outputs when it fails.
pub fn python(args: &[&str]) -> String {
    let out = Command::new("/usr/bin/python3")
        .args(args)
        .output()
        .expect("python3 with kazoo");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = (std::process::id() % 397) * 50;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (12_000 + (start + n) % 20_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn scratch(name: &str, port: u16) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ferrozk-compat-{name}-{}-{port}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The ferrozk binary of this workspace, built on first use.
pub fn ferrozk_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let ws = workspace();
            let status = Command::new(env!("CARGO"))
                .args(["build", "--quiet", "-p", "ferrozk", "--bin", "ferrozk"])
                .current_dir(&ws)
                .status()
                .expect("run cargo build");
            assert!(status.success(), "cargo build of ferrozk failed");
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| ws.join("target"));
            target.join("debug").join("ferrozk")
        })
        .clone()
}

/// A ZooKeeper release chosen in compat-tests/scripts/zookeeper-versions.sh: `"ZK38_VERSION"`
/// (the newest 3.8.x) or `"ZK39_VERSION"` (the newest 3.9.x). An environment variable of the
/// same name overrides it, as in the script.
pub fn zookeeper_version(var: &str) -> String {
    let script = workspace().join("compat-tests/scripts/zookeeper-versions.sh");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source \"$1\" && printf %s \"${{{var}:?}}\""))
        .arg("bash")
        .arg(&script)
        .output()
        .expect("run bash");
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !v.is_empty(),
        "{var} is not set by {}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    v
}

/// The Java classpath of the Apache ZooKeeper server `version` from Maven Central: its jars,
/// and a logback.xml that logs at INFO to stdout. compat-tests/scripts/fetch-zookeeper.sh
/// fetches them into its cache on first use (install-deps.sh fetches the versions of
/// zookeeper-versions.sh ahead of the tests).
pub fn zookeeper_classpath(version: &str) -> String {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static CACHE: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(cp) = cache.get_or_insert_with(HashMap::new).get(version) {
        return cp.clone();
    }
    let script = workspace().join("compat-tests/scripts/fetch-zookeeper.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(version)
        .stdin(Stdio::null())
        .output()
        .expect("run fetch-zookeeper.sh");
    let cp = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !cp.is_empty(),
        "cannot fetch ZooKeeper {version} (compat-tests/scripts/fetch-zookeeper.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cache
        .get_or_insert_with(HashMap::new)
        .insert(version.to_string(), cp.clone());
    cp
}

fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            panic!(
                "{what} did not open port {port}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (at most 20 seconds) until something accepts on loopback `port`.
pub fn wait_for_tcp(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running server under test, stopped by PID when dropped.
pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
    pid_file: Option<PathBuf>,
    pub kind: &'static str,
}

impl Server {
    /// ferrozk with settings equivalent to compat-tests/scripts/start-reference-zk.sh.
    pub fn ferrozk() -> Server {
        Self::ferrozk_with("znode.container.checkIntervalMs=1000\n")
    }

    /// ferrozk on a free port with tickTime 2000, extended types, and `extra` zoo.cfg lines.
    pub fn ferrozk_with(extra: &str) -> Server {
        Self::ferrozk_with_env(extra, &[])
    }

    /// [`Server::ferrozk_with`], with more environment variables (e.g. SERVER_JVMFLAGS).
    pub fn ferrozk_with_env(extra: &str, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let dir = scratch("ferrozk", port);
        let cfg = dir.join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nextendedTypesEnabled=true\nadmin.enableServer=false\n{extra}",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let log = dir.join("server.log");
        let child = Command::new(ferrozk_bin())
            .envs(env.iter().copied())
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start ferrozk");
        wait_for_port(port, "ferrozk", &log);
        Server {
            port,
            dir,
            child: Some(child),
            pid_file: None,
            kind: "ferrozk",
        }
    }

    /// Apache ZooKeeper 3.8 from Debian's package, the oracle, as the client suites expect it.
    pub fn reference() -> Server {
        Self::reference_with("compat-tests/scripts/start-reference-zk.sh", "zk.pid")
    }

    /// The reference server started by `script <port> <dir>`, which leaves its PID in
    /// `<dir>/<pid_file>`.
    pub fn reference_with(script: &str, pid_file: &str) -> Server {
        Self::reference_with_cfg(script, pid_file, "")
    }

    /// As [`Server::reference_with`], with `extra` zoo.cfg lines (the script appends
    /// `$ZK_EXTRA_CFG` to the zoo.cfg it writes).
    pub fn reference_with_cfg(script: &str, pid_file: &str, extra: &str) -> Server {
        Self::reference_with_env(script, pid_file, extra, &[])
    }

    /// As [`Server::reference_with_cfg`], with more environment for the script (e.g.
    /// `ZK_VERSION` for compat-tests/differential/start_zk.sh).
    pub fn reference_with_env(
        script: &str,
        pid_file: &str,
        extra: &str,
        env: &[(&str, &str)],
    ) -> Server {
        let port = free_port();
        let dir = scratch("reference", port);
        let script = workspace().join(script);
        let out = Command::new("bash")
            .env("ZK_EXTRA_CFG", extra)
            .envs(env.iter().copied())
            .arg(&script)
            .arg(port.to_string())
            .arg(&dir)
            .output()
            .expect("run start-reference-zk.sh");
        assert!(
            out.status.success(),
            "reference ZooKeeper did not start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Server {
            port,
            pid_file: Some(dir.join(pid_file)),
            dir,
            child: None,
            kind: "zookeeper",
        }
    }

    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    pub fn is_alive(&mut self) -> bool {
        match &mut self.child {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => true,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(pf) = &self.pid_file {
            if let Ok(pid) = std::fs::read_to_string(pf) {
                let _ = Command::new("kill").arg(pid.trim()).status();
                // Up to 300 ms to exit on SIGTERM, then SIGKILL.
                let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
                let until = Instant::now() + Duration::from_millis(300);
                while proc_dir.exists() && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = Command::new("kill")
                    .args(["-9", pid.trim()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        if std::env::var_os("FERROZK_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Runs a suite command with a time limit, echoing its output; panics unless it exits 0.
pub fn run_suite(program: &str, args: &[&str], limit: Duration) -> String {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(workspace())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program}: {e} (did compat-tests/scripts/install-deps.sh run?)")
        });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = t_out.join().unwrap();
    let stderr = t_err.join().unwrap();
    println!("--- {program} {args:?} stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    match status {
        None => panic!("{program} {args:?} did not finish within {limit:?}"),
        Some(st) if !st.success() => panic!("{program} {args:?} failed with {st}"),
        Some(_) => stdout,
    }
}
