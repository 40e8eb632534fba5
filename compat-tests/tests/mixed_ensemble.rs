//! One ensemble of Apache ZooKeeper 3.8 (Debian's package) and ferrozk members, as in a
//! rolling migration: they elect each other, a Java leader synchronises and drives ferrozk
//! followers, a ferrozk leader synchronises and drives a Java follower, writes go through
//! every member, and after the Java leader is killed under a kazoo write load and restarted
//! (it rejoins under a ferrozk leader) every acknowledged write is on every member and all
//! members hold the same tree.

use compat_tests::{ferrozk_bin, free_port, workspace};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Member {
    java: bool,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

struct Mixed {
    base: PathBuf,
    members: Vec<Member>,
}

impl Mixed {
    /// Members 1..=n; the ids in `java` run Apache ZooKeeper.
    fn new(n: u64, java: &[u64]) -> Mixed {
        let base = std::env::temp_dir().join(format!("ferrozk-mixed-{}", std::process::id()));
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
                    "tickTime=500\ninitLimit=20\nsyncLimit=5\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n{servers}",
                    dir.join("data").display()
                ),
            )
            .unwrap();
            members.push(Member {
                java: java.contains(&id),
                dir,
                port,
                child: None,
            });
        }
        Mixed { base, members }
    }

    fn start(&mut self, i: usize) {
        let m = &mut self.members[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(m.dir.join("server.log"))
            .unwrap();
        let cfg = m.dir.join("zoo.cfg");
        let mut cmd = if m.java {
            let mut c = Command::new(std::env::var("JAVA").unwrap_or_else(|_| "java".into()));
            c.args([
                "-Xmx256m",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                "-Dzookeeper.jmx.log4j.disable=true",
                "-cp",
                "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-simple.jar",
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            ])
            .arg(&cfg);
            c
        } else {
            let mut c = Command::new(ferrozk_bin());
            c.arg(&cfg).env("FERROZK_LOG", "info");
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

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
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

    fn field(&self, i: usize, key: &str) -> Option<String> {
        let out = self.srvr(i)?;
        let line = out.lines().find(|l| l.starts_with(key))?;
        Some(line[key.len()..].trim().to_string())
    }

    fn running(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|i| self.members[*i].child.is_some())
            .collect()
    }

    fn wait_stable(&self, within: Duration) -> usize {
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
                    .all(|(_, m)| matches!(m.as_deref(), Some("leader") | Some("follower")))
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

    fn wait_same_zxid(&self, within: Duration) {
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

    fn hosts(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for (i, m) in self.members.iter().enumerate() {
            let l = std::fs::read_to_string(m.dir.join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = l.lines().rev().take(25).collect();
            let kind = if m.java { "java" } else { "ferrozk" };
            out.push_str(&format!("--- server {} ({kind}) ---\n", i + 1));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Mixed {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }
}

fn script(name: &str) -> String {
    workspace()
        .join("tests/ensemble")
        .join(name)
        .display()
        .to_string()
}

fn python(args: &[&str]) -> String {
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

#[test]
fn java_and_ferrozk_members_lead_and_follow_each_other() {
    let mut m = Mixed::new(3, &[3]);
    // The Java member starts first and has the highest id: it leads the first epoch.
    m.start(2);
    // Once its client port is open, the JVM is up and its election under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", m.members[2].port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "Java did not start: {}",
            m.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    m.start(0);
    m.start(1);
    let leader = m.wait_stable(Duration::from_secs(60));
    assert_eq!(leader, 2, "the Java member should lead: {}", m.logs());
    let hosts = m.hosts();
    let mut load = Command::new("/usr/bin/python3")
        .args([&script("load.py"), &hosts, "12", "/mix"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with kazoo");
    std::thread::sleep(Duration::from_secs(3));
    // The Java leader dies: a ferrozk member takes over, then the Java member comes back
    // and follows it.
    m.kill(2);
    let next = m.wait_stable(Duration::from_secs(30));
    assert!(!m.members[next].java);
    std::thread::sleep(Duration::from_secs(1));
    m.start(2);
    let mut out = String::new();
    load.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let st = load.wait().unwrap();
    let mut err = String::new();
    load.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(st.success(), "load failed: {out}\n{err}");
    let leader = m.wait_stable(Duration::from_secs(60));
    assert!(!m.members[leader].java, "a ferrozk member should lead now");
    assert_eq!(m.field(2, "Mode:").as_deref(), Some("follower"));
    m.wait_same_zxid(Duration::from_secs(30));
    let acked: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("ACK /mix/"))
        .collect();
    let done = out.lines().find(|l| l.starts_with("DONE")).unwrap_or("");
    println!("load: {done}");
    assert!(acked.len() > 50, "too few writes acknowledged: {done}");
    let views: Vec<String> = (0..3)
        .map(|i| python(&[&script("dump.py"), &m.members[i].port.to_string(), "/mix"]))
        .collect();
    for (i, v) in views.iter().enumerate() {
        let names: std::collections::HashSet<&str> =
            v.lines().filter_map(|l| l.split(' ').next()).collect();
        for a in &acked {
            assert!(
                names.contains(a),
                "server {} lost acknowledged /mix/{a}",
                i + 1
            );
        }
        assert_eq!(v, &views[0], "server {} differs from server 1", i + 1);
    }
    // And writes still go through the Java follower to the ferrozk leader.
    python(&[
        "-c",
        "import sys\nfrom kazoo.client import KazooClient\nzk = KazooClient(hosts=sys.argv[1])\nzk.start(timeout=30)\nzk.create('/through-java', b'x')\nzk.stop()\n",
        &format!("127.0.0.1:{}", m.members[2].port),
    ]);
    m.wait_same_zxid(Duration::from_secs(30));
    for i in 0..3 {
        let out = python(&[
            "-c",
            "import sys\nfrom kazoo.client import KazooClient\nzk = KazooClient(hosts=sys.argv[1])\nzk.start(timeout=30)\nzk.sync('/')\nprint(zk.exists('/through-java') is not None)\nzk.stop()\n",
            &format!("127.0.0.1:{}", m.members[i].port),
        ]);
        assert_eq!(out.trim(), "True", "server {}", i + 1);
    }
}
