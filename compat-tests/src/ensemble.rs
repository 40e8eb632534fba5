//! Ensembles of real processes on loopback for the compatibility tests: ferrozk members, and
//! Apache ZooKeeper members where asked (Debian's 3.8.0 package, or a release from Maven
//! Central per member), from zoo.cfg files with `server.N` lines and myid files; each process
//! is stopped by PID when dropped.

use crate::{ferrozk_bin, free_port, zookeeper_classpath};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Member {
    /// Whether the member runs (on its next start) Apache ZooKeeper rather than ferrozk.
    pub java: bool,
    /// The Apache ZooKeeper release the member runs when `java`: None is Debian's 3.8.0 from
    /// /usr/share/java, `Some(v)` is org.apache.zookeeper:zookeeper:v from Maven Central
    /// (set it with [`Ensemble::set_java_version`], which fetches it).
    pub java_version: Option<String>,
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

pub struct Ensemble {
    base: PathBuf,
    pub members: Vec<Member>,
    /// JVM flags every member gets, as zkServer.sh passes SERVER_JVMFLAGS: on the Java
    /// command line, and to ferrozk in that variable (e.g. the JAAS file).
    pub jvm_flags: String,
}

impl Ensemble {
    /// Members 1..=n; the ids in `java` run Apache ZooKeeper; `extra` goes into every zoo.cfg.
    pub fn new(name: &str, n: u64, java: &[u64], extra: &str) -> Ensemble {
        let base = std::env::temp_dir().join(format!("ferrozk-ens-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let mut servers = String::new();
        for id in 1..=n {
            servers.push_str(&format!(
                "server.{id}=127.0.0.1:{}:{}\n",
                free_port(),
                free_port()
            ));
        }
        let mut members = Vec::new();
        for id in 1..=n {
            let dir = base.join(format!("n{id}"));
            std::fs::create_dir_all(dir.join("data")).unwrap();
            std::fs::write(dir.join("data").join("myid"), format!("{id}\n")).unwrap();
            let port = free_port();
            std::fs::write(
                dir.join("zoo.cfg"),
                format!(
                    "initLimit=20\nsyncLimit=5\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n{extra}\n{servers}",
                    dir.join("data").display()
                ),
            )
            .unwrap();
            members.push(Member {
                java: java.contains(&id),
                java_version: None,
                dir,
                port,
                child: None,
            });
        }
        Ensemble {
            base,
            members,
            jvm_flags: String::new(),
        }
    }

    /// Member `id` (1-based) runs Apache ZooKeeper `version` from Maven Central whenever it
    /// runs Java (None: Debian's 3.8.0). The release is fetched here, not at its start.
    pub fn set_java_version(&mut self, id: u64, version: Option<&str>) {
        if let Some(v) = version {
            zookeeper_classpath(v);
        }
        self.members[(id - 1) as usize].java_version = version.map(str::to_string);
    }

    pub fn start(&mut self, i: usize) {
        let flags = self.jvm_flags.clone();
        let m = &mut self.members[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(m.dir.join("server.log"))
            .unwrap();
        let cfg = m.dir.join("zoo.cfg");
        let mut cmd = if m.java {
            let mut c = Command::new(std::env::var("JAVA").unwrap_or_else(|_| "java".into()));
            match &m.java_version {
                None => c.args([
                    "-Xmx256m",
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                    "-Dzookeeper.jmx.log4j.disable=true",
                    "-cp",
                    // Netty's codec and resolver too: Debian's zookeeper.jar does not list
                    // them, and port unification (SslHandler) needs them.
                    "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-simple.jar:/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/netty-transport-native-unix-common.jar",
                ]),
                // The classpath starts with a logback.xml that logs at INFO to stdout.
                Some(v) => c.args([
                    "-Xmx256m",
                    "-Dzookeeper.log.level=INFO",
                    "-Dzookeeper.jmx.log4j.disable=true",
                    "-cp",
                    &zookeeper_classpath(v),
                ]),
            };
            c.args(flags.split_whitespace());
            c.arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                .arg(&cfg);
            c
        } else {
            let mut c = Command::new(ferrozk_bin());
            c.arg(&cfg)
                .env("FERROZK_LOG", "info")
                .env("SERVER_JVMFLAGS", &flags);
            c
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start a member");
        m.child = Some(child);
    }

    pub fn start_all(&mut self) {
        for i in 0..self.members.len() {
            self.start(i);
        }
    }

    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops a member as an operator does (SIGTERM, as zkServer.sh stop), waiting up to 30 s
    /// before it is killed.
    pub fn stop(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// What member `i` runs now: "ferrozk", "Java 3.8.0 (Debian)" or "Java <version>".
    pub fn kind(&self, i: usize) -> String {
        let m = &self.members[i];
        match (m.java, &m.java_version) {
            (false, _) => "ferrozk".to_string(),
            (true, None) => "Java 3.8.0 (Debian)".to_string(),
            (true, Some(v)) => format!("Java {v}"),
        }
    }

    pub fn pid(&self, i: usize) -> u32 {
        self.members[i].child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Waits until the member's client port accepts connections.
    pub fn wait_port(&self, i: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while TcpStream::connect(("127.0.0.1", self.members[i].port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "member {} did not start: {}",
                i + 1,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn srvr(&self, i: usize) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.members[i].port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
        s.write_all(b"srvr").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// A line of `srvr`, after its label ("Mode:", "Zxid:").
    pub fn field(&self, i: usize, key: &str) -> Option<String> {
        let out = self.srvr(i)?;
        let line = out.lines().find(|l| l.starts_with(key))?;
        Some(line[key.len()..].trim().to_string())
    }

    pub fn running(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|i| self.members[*i].child.is_some())
            .collect()
    }

    /// Waits until every running member serves (observers too), one as leader; returns the
    /// leader's index.
    pub fn wait_stable(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let modes: Vec<(usize, Option<String>)> = self
                .running()
                .into_iter()
                .map(|i| (i, self.field(i, "Mode:")))
                .collect();
            let leaders: Vec<usize> = modes
                .iter()
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(i, _)| *i)
                .collect();
            if leaders.len() == 1
                && modes
                    .iter()
                    .all(|(_, m)| matches!(m.as_deref(), Some("leader" | "follower" | "observer")))
            {
                return leaders[0];
            }
            assert!(
                Instant::now() < deadline,
                "no stable ensemble: {modes:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_same_zxid(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let z: Vec<Option<String>> = self
                .running()
                .into_iter()
                .map(|i| self.field(i, "Zxid:"))
                .collect();
            if z.iter().all(|x| x.is_some() && *x == z[0]) {
                return;
            }
            assert!(Instant::now() < deadline, "members disagree: {z:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The connect string of the given members.
    pub fn hosts(&self, which: &[usize]) -> String {
        which
            .iter()
            .map(|i| format!("127.0.0.1:{}", self.members[*i].port))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn all(&self) -> Vec<usize> {
        (0..self.members.len()).collect()
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.members[i].dir.join("server.log")).unwrap_or_default()
    }

    pub fn logs(&self) -> String {
        let mut out = String::new();
        for i in 0..self.members.len() {
            let l = self.log(i);
            let tail: Vec<&str> = l.lines().rev().take(25).collect();
            out.push_str(&format!("--- server {} ({}) ---\n", i + 1, self.kind(i)));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
        if !std::thread::panicking() && std::env::var_os("FERROZK_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }
}

impl Ensemble {
    /// A write through member `via`, then read back from every running member after a sync
    /// (one Python process for all of it).
    pub fn write_and_read_everywhere(&self, via: usize, path: &str) {
        let running = self.running();
        let mut args: Vec<String> = vec![
            "-c".into(),
            "import sys\nfrom kazoo.client import KazooClient\npath = sys.argv[2]\nzk = KazooClient(hosts=sys.argv[1])\nzk.start(timeout=30)\nzk.create(path, b'x', makepath=True)\nzk.stop()\nfor host in sys.argv[3:]:\n    zk = KazooClient(hosts=host)\n    zk.start(timeout=30)\n    zk.sync('/')\n    print(zk.exists(path) is not None)\n    zk.stop()\n".into(),
            format!("127.0.0.1:{}", self.members[via].port),
            path.into(),
        ];
        args.extend(
            running
                .iter()
                .map(|i| format!("127.0.0.1:{}", self.members[*i].port)),
        );
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = crate::python(&refs);
        let seen: Vec<&str> = out.lines().collect();
        assert_eq!(seen.len(), running.len(), "{out}");
        for (i, s) in running.iter().zip(seen) {
            assert_eq!(s.trim(), "True", "{path} on member {}", i + 1);
        }
    }

    /// Checks for `within` that member `i` (running) never serves as leader or follower.
    pub fn assert_stays_out(&self, i: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let mode = self.field(i, "Mode:");
            assert!(
                !matches!(mode.as_deref(), Some("leader" | "follower")),
                "member {} joined:\n{}",
                i + 1,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Asserts that each of `members` logged `text`.
    pub fn assert_logged(&self, members: &[usize], text: &str) {
        for &i in members {
            let log = self.log(i);
            assert!(
                log.contains(text),
                "member {} did not log {text:?}:\n{log}",
                i + 1
            );
        }
    }

    /// Restarts member `i` with zoo.cfg keys set, once its client port is open again.
    pub fn restart_with(&mut self, i: usize, keys: &[(&str, &str)]) {
        self.stop(i);
        self.set_keys(i, keys);
        self.start(i);
        self.wait_port(i, Duration::from_secs(60));
    }

    /// The `server.N` lines every member's zoo.cfg starts with.
    pub fn server_lines(&self) -> Vec<String> {
        let cfg = std::fs::read_to_string(self.members[0].dir.join("zoo.cfg")).unwrap();
        cfg.lines()
            .filter(|l| l.starts_with("server."))
            .map(str::to_string)
            .collect()
    }

    /// Replaces the `server.N` lines of every member's zoo.cfg with `lines`.
    pub fn set_server_lines(&self, lines: &[String]) {
        for m in &self.members {
            let cfg = m.dir.join("zoo.cfg");
            let text = std::fs::read_to_string(&cfg).unwrap();
            let mut kept: Vec<String> = text
                .lines()
                .filter(|l| !l.starts_with("server."))
                .map(str::to_string)
                .collect();
            kept.extend(lines.iter().cloned());
            std::fs::write(&cfg, kept.join("\n") + "\n").unwrap();
        }
    }

    /// Sets zoo.cfg keys of member `i` (replacing their earlier lines).
    pub fn set_keys(&self, i: usize, keys: &[(&str, &str)]) {
        let cfg = self.members[i].dir.join("zoo.cfg");
        let text = std::fs::read_to_string(&cfg).unwrap();
        let mut out: Vec<String> = text
            .lines()
            .filter(|l| !keys.iter().any(|(k, _)| l.starts_with(&format!("{k}="))))
            .map(str::to_string)
            .collect();
        for (k, v) in keys {
            out.push(format!("{k}={v}"));
        }
        std::fs::write(&cfg, out.join("\n") + "\n").unwrap();
    }
}
