//! Replicated ensembles of real ferrozk processes on loopback, started from ordinary zoo.cfg
//! files with `server.N` lines and myid files: election, replication through any member,
//! losing and regaining the leader and followers under a kazoo write load, and sessions
//! that survive the loss of the leader.

mod common;
#[path = "ensemble/linear.rs"]
mod linear;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Member {
    id: u64,
    dir: PathBuf,
    client_port: u16,
    child: Option<Child>,
}

struct Cluster {
    base: PathBuf,
    members: Vec<Member>,
    /// With `with_proxies`: the proxy carrying traffic from member i to member j, per port
    /// (quorum, election).
    proxies: std::collections::BTreeMap<(usize, usize), [Proxy; 2]>,
    /// Members stopped with SIGSTOP: alive, but deaf and silent.
    paused: Vec<usize>,
}

impl Cluster {
    fn new(name: &str, n: usize) -> Cluster {
        Self::with_observers(name, n, 0)
    }

    /// `n` members, the last `observers` of them observers.
    fn with_observers(name: &str, n: usize, observers: usize) -> Cluster {
        let base = std::env::temp_dir().join(format!("ferrozk-ens-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let mut servers = String::new();
        let mut members = Vec::new();
        for id in 1..=n as u64 {
            let kind = if id as usize > n - observers {
                ":observer"
            } else {
                ""
            };
            servers.push_str(&format!(
                "server.{id}=127.0.0.1:{}:{}{kind}\n",
                free_port(),
                free_port()
            ));
            let dir = base.join(format!("n{id}"));
            std::fs::create_dir_all(dir.join("data")).unwrap();
            std::fs::write(dir.join("data").join("myid"), format!("{id}\n")).unwrap();
            members.push(Member {
                id,
                dir,
                client_port: free_port(),
                child: None,
            });
        }
        for m in &members {
            std::fs::write(
                m.dir.join("zoo.cfg"),
                format!(
                    "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n{servers}",
                    m.dir.join("data").display(),
                    m.client_port
                ),
            )
            .unwrap();
        }
        Cluster {
            base,
            members,
            proxies: Default::default(),
            paused: Vec::new(),
        }
    }

    /// `n` members whose traffic to each other goes through proxies that can black-hole it
    /// (a network partition): member i reaches member j at the ports of proxy (i, j).
    fn with_proxies(name: &str, n: usize) -> Cluster {
        let base = std::env::temp_dir().join(format!("ferrozk-ens-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let real: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let mut proxies = std::collections::BTreeMap::new();
        for i in 0..n {
            for (j, (q, e)) in real.iter().enumerate() {
                if i != j {
                    proxies.insert((i, j), [Proxy::start(*q), Proxy::start(*e)]);
                }
            }
        }
        let mut members = Vec::new();
        for i in 0..n {
            let id = i as u64 + 1;
            let dir = base.join(format!("n{id}"));
            std::fs::create_dir_all(dir.join("data")).unwrap();
            std::fs::write(dir.join("data").join("myid"), format!("{id}\n")).unwrap();
            let mut servers = String::new();
            for (j, (q, e)) in real.iter().enumerate() {
                let (q, e) = match proxies.get(&(i, j)) {
                    Some([pq, pe]) => (pq.port, pe.port),
                    None => (*q, *e),
                };
                servers.push_str(&format!("server.{}=127.0.0.1:{q}:{e}\n", j + 1));
            }
            let client_port = free_port();
            std::fs::write(
                dir.join("zoo.cfg"),
                format!(
                    "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={client_port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n{servers}",
                    dir.join("data").display()
                ),
            )
            .unwrap();
            members.push(Member {
                id,
                dir,
                client_port,
                child: None,
            });
        }
        Cluster {
            base,
            members,
            proxies,
            paused: Vec::new(),
        }
    }

    /// Cuts (or restores) all traffic between member `i` and every other member.
    fn isolate(&self, i: usize, cut: bool) {
        for ((a, b), ps) in &self.proxies {
            if *a == i || *b == i {
                for p in ps {
                    p.cut.store(cut, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }
    }

    fn start(&mut self, i: usize) {
        let m = &mut self.members[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(m.dir.join("server.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ferrozk"))
            .arg(m.dir.join("zoo.cfg"))
            .env("FERROZK_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ferrozk");
        m.child = Some(child);
    }

    fn start_all(&mut self) {
        for i in 0..self.members.len() {
            self.start(i);
        }
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes a member (SIGSTOP), as a long pause or a partition from everyone would.
    fn pause(&mut self, i: usize) {
        signal(self.pid(i), "-STOP");
        self.paused.push(i);
    }

    fn resume(&mut self, i: usize) {
        signal(self.pid(i), "-CONT");
        self.paused.retain(|p| *p != i);
    }

    fn pid(&self, i: usize) -> u32 {
        self.members[i].child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn srvr(&self, i: usize) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.members[i].client_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
        s.write_all(b"srvr").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// The mode of a member the helpers treat as absent (paused or isolated).
    fn mode_of_paused(&self, i: usize) -> Option<String> {
        self.mode(i)
    }

    fn mode(&self, i: usize) -> Option<String> {
        let out = self.srvr(i)?;
        let line = out.lines().find(|l| l.starts_with("Mode: "))?;
        Some(line["Mode: ".len()..].to_string())
    }

    fn zxid(&self, i: usize) -> Option<i64> {
        let out = self.srvr(i)?;
        let line = out.lines().find(|l| l.starts_with("Zxid: 0x"))?;
        i64::from_str_radix(&line["Zxid: 0x".len()..], 16).ok()
    }

    fn running(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|i| self.members[*i].child.is_some() && !self.paused.contains(i))
            .collect()
    }

    /// Waits until every running member serves, one as leader and the rest as followers;
    /// returns the leader's index.
    fn wait_stable(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let modes: Vec<(usize, Option<String>)> = self
                .running()
                .into_iter()
                .map(|i| (i, self.mode(i)))
                .collect();
            let leaders: Vec<usize> = modes
                .iter()
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(i, _)| *i)
                .collect();
            let all_serving = modes.iter().all(|(_, m)| {
                matches!(
                    m.as_deref(),
                    Some("leader") | Some("follower") | Some("observer")
                )
            });
            if leaders.len() == 1 && all_serving {
                return leaders[0];
            }
            assert!(
                Instant::now() < deadline,
                "no stable ensemble: {modes:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every running member reports the same last zxid.
    fn wait_same_zxid(&self, within: Duration) -> i64 {
        let deadline = Instant::now() + within;
        loop {
            let z: Vec<Option<i64>> = self.running().into_iter().map(|i| self.zxid(i)).collect();
            if z.iter().all(|x| x.is_some() && *x == z[0]) {
                return z[0].unwrap_or(0);
            }
            assert!(
                Instant::now() < deadline,
                "members disagree on the last zxid: {z:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn hosts(&self, which: &[usize]) -> String {
        which
            .iter()
            .map(|i| format!("127.0.0.1:{}", self.members[*i].client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn all(&self) -> Vec<usize> {
        (0..self.members.len()).collect()
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.members[i].dir.join("server.log")).unwrap_or_default()
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for (i, m) in self.members.iter().enumerate() {
            let l = self.log(i);
            let tail: Vec<&str> = l.lines().rev().take(30).collect();
            out.push_str(&format!("--- server {} ---\n", m.id));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// The elections each member logged, with how long each took.
    fn elections(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, m) in self.members.iter().enumerate() {
            for l in self.log(i).lines() {
                if let Some(at) = l.find("election decided in ") {
                    out.push(format!("server {}: {}", m.id, &l[at..]));
                }
            }
        }
        out
    }
}

/// A TCP proxy on loopback that can black-hole its traffic: while cut, nothing is read or
/// forwarded and new connections wait, as across a network partition.
struct Proxy {
    port: u16,
    cut: Arc<std::sync::atomic::AtomicBool>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

use std::sync::Arc;

impl Proxy {
    fn start(target: u16) -> Proxy {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, st) = (cut.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(SeqCst) {
                let Ok((down, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let (c, st) = (c.clone(), st.clone());
                std::thread::spawn(move || {
                    while c.load(SeqCst) && !st.load(SeqCst) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    let Ok(up) = TcpStream::connect(("127.0.0.1", target)) else {
                        return;
                    };
                    let _ = down.set_nonblocking(false);
                    for (from, to) in [
                        (down.try_clone().unwrap(), up.try_clone().unwrap()),
                        (up, down),
                    ] {
                        let (c, st) = (c.clone(), st.clone());
                        std::thread::spawn(move || pump(from, to, &c, &st));
                    }
                });
            }
        });
        Proxy { port, cut, stop }
    }
}

fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    cut: &std::sync::atomic::AtomicBool,
    stop: &std::sync::atomic::AtomicBool,
) {
    use std::sync::atomic::Ordering::SeqCst;
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if stop.load(SeqCst) {
            break;
        }
        if cut.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").arg(sig).arg(pid.to_string()).status();
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in self.paused.clone() {
            self.resume(i);
        }
        for i in 0..self.members.len() {
            self.kill(i);
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }
}

fn script(name: &str) -> String {
    format!("{}/tests/ensemble/{name}", env!("CARGO_MANIFEST_DIR"))
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

fn dump(c: &Cluster, i: usize, root: &str) -> String {
    python(&[
        &script("dump.py"),
        &c.members[i].client_port.to_string(),
        root,
    ])
}

#[test]
fn three_servers_elect_a_leader_and_replicate_through_any_member() {
    let mut c = Cluster::new("basic", 3);
    c.start_all();
    let leader = c.wait_stable(Duration::from_secs(30));
    let follower = (leader + 1) % 3;
    // Writes through a follower (forwarded to the leader) and through the leader.
    python(&[
        "-c",
        "import sys\n\
         from kazoo.client import KazooClient\n\
         for port in sys.argv[1:]:\n\
         \x20   zk = KazooClient(hosts='127.0.0.1:' + port)\n\
         \x20   zk.start(timeout=30)\n\
         \x20   zk.ensure_path('/r')\n\
         \x20   for i in range(20):\n\
         \x20       zk.create('/r/p%s-%02d' % (port, i), b'd%d' % i)\n\
         \x20   zk.set('/r', port.encode())\n\
         \x20   zk.stop()\n",
        &c.members[follower].client_port.to_string(),
        &c.members[leader].client_port.to_string(),
    ]);
    c.wait_same_zxid(Duration::from_secs(10));
    let views: Vec<String> = (0..3).map(|i| dump(&c, i, "/r")).collect();
    assert_eq!(views[0].lines().count(), 40, "{}", views[0]);
    assert_eq!(views[0], views[1]);
    assert_eq!(views[0], views[2]);
    let modes: Vec<String> = (0..3).filter_map(|i| c.mode(i)).collect();
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "{modes:?}"
    );
    assert_eq!(
        modes.iter().filter(|m| *m == "follower").count(),
        2,
        "{modes:?}"
    );
    // Every server's epoch files say the epoch the leader established.
    for m in &c.members {
        // In dataDir/version-2, where ZooKeeper keeps them.
        let v2 = m.dir.join("data").join("version-2");
        let cur = std::fs::read_to_string(v2.join("currentEpoch")).unwrap();
        let acc = std::fs::read_to_string(v2.join("acceptedEpoch")).unwrap();
        assert!(!m.dir.join("data").join("currentEpoch").exists());
        assert_eq!((cur.trim(), acc.trim()), ("1", "1"));
    }
    eprintln!("elections: {:#?}", c.elections());
}

#[test]
fn losing_the_leader_and_a_follower_under_load_loses_no_acknowledged_write() {
    let mut c = Cluster::new("load", 3);
    c.start_all();
    let first = c.wait_stable(Duration::from_secs(30));
    let load = Load::start(&c.hosts(&c.all()), 14, "/load");
    std::thread::sleep(Duration::from_secs(3));
    // The leader dies; the others elect a new one and carry on.
    c.kill(first);
    let second = c.wait_stable(Duration::from_secs(20));
    assert_ne!(second, first);
    std::thread::sleep(Duration::from_secs(1));
    c.start(first);
    c.wait_stable(Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    // Then a follower dies and comes back.
    let leader = c.wait_stable(Duration::from_secs(20));
    let victim = (0..3).find(|i| *i != leader).unwrap_or(0);
    c.kill(victim);
    std::thread::sleep(Duration::from_secs(2));
    c.start(victim);
    let (acked, done) = load.finish();
    c.wait_stable(Duration::from_secs(20));
    c.wait_same_zxid(Duration::from_secs(20));
    eprintln!("load: {done}; elections: {:#?}", c.elections());
    assert!(acked.len() > 100, "too few writes acknowledged: {done}");
    assert_same_everywhere(&c, "/load", &acked);
}

#[test]
fn a_session_on_a_follower_survives_the_loss_of_the_leader() {
    let mut c = Cluster::new("session", 3);
    c.start_all();
    let leader = c.wait_stable(Duration::from_secs(30));
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let hosts = c.hosts(&followers);
    let pid = c.pid(leader).to_string();
    let out = python(&[&script("failover.py"), &hosts, &pid]);
    // The test's handle on the killed process is dropped, not left running.
    c.kill(leader);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec!["session same", "held True", "lost False", "write ok"],
        "{}",
        c.logs()
    );
    eprintln!("elections: {:#?}", c.elections());
}

/// Runs the load script in the background; `finish` returns its acknowledged paths.
struct Load(Child);

impl Load {
    fn start(hosts: &str, seconds: u32, root: &str) -> Load {
        Load(
            Command::new("/usr/bin/python3")
                .args([&script("load.py"), hosts, &seconds.to_string(), root])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("python3 with kazoo"),
        )
    }

    fn finish(mut self) -> (Vec<String>, String) {
        let mut out = String::new();
        self.0
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let st = self.0.wait().unwrap();
        let mut err = String::new();
        self.0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(st.success(), "load failed: {out}\n{err}");
        let acked = out
            .lines()
            .filter_map(|l| l.strip_prefix("ACK "))
            .map(|p| p.rsplit('/').next().unwrap_or("").to_string())
            .collect();
        let done = out
            .lines()
            .find(|l| l.starts_with("DONE"))
            .unwrap_or("")
            .to_string();
        (acked, done)
    }
}

/// Every member holds every acknowledged write, and all hold the same subtree.
fn assert_same_everywhere(c: &Cluster, root: &str, acked: &[String]) {
    let views: Vec<String> = c.running().into_iter().map(|i| dump(c, i, root)).collect();
    for (i, v) in views.iter().enumerate() {
        let names: std::collections::HashSet<&str> =
            v.lines().filter_map(|l| l.split(' ').next()).collect();
        for a in acked {
            assert!(
                names.contains(a.as_str()),
                "member {i} lost acknowledged {root}/{a}"
            );
        }
        assert_eq!(v, &views[0], "member {i} differs from the first");
    }
}

#[test]
fn a_paused_leader_is_replaced_and_rejoins_as_a_follower() {
    let mut c = Cluster::new("pause", 3);
    c.start_all();
    let first = c.wait_stable(Duration::from_secs(30));
    let load = Load::start(&c.hosts(&c.all()), 10, "/p");
    std::thread::sleep(Duration::from_secs(2));
    // The leader stops dead mid-load: no pings, no acks, no closed sockets.
    c.pause(first);
    let second = c.wait_stable(Duration::from_secs(20));
    assert_ne!(second, first);
    std::thread::sleep(Duration::from_secs(2));
    // It wakes believing it leads; it must notice it lost its quorum and follow.
    c.resume(first);
    let (acked, done) = load.finish();
    let leader = c.wait_stable(Duration::from_secs(30));
    assert_eq!(leader, second, "the woken leader must not take over");
    assert_eq!(c.mode(first).as_deref(), Some("follower"));
    c.wait_same_zxid(Duration::from_secs(20));
    eprintln!("load: {done}; elections: {:#?}", c.elections());
    assert!(acked.len() > 50, "too few writes acknowledged: {done}");
    assert_same_everywhere(&c, "/p", &acked);
    assert!(
        c.log(first).contains("not a quorum") || c.log(first).contains("LOOKING"),
        "{}",
        c.log(first)
    );
}

#[test]
fn five_servers_survive_losing_two_and_catch_them_up() {
    let mut c = Cluster::new("five", 5);
    c.start_all();
    let leader = c.wait_stable(Duration::from_secs(30));
    let load = Load::start(&c.hosts(&c.all()), 8, "/f");
    std::thread::sleep(Duration::from_secs(2));
    let follower = (leader + 1) % 5;
    c.kill(leader);
    c.kill(follower);
    let next = c.wait_stable(Duration::from_secs(20));
    assert!(next != leader && next != follower);
    std::thread::sleep(Duration::from_secs(2));
    c.start(leader);
    c.start(follower);
    let (acked, done) = load.finish();
    c.wait_stable(Duration::from_secs(30));
    assert_eq!(c.running().len(), 5);
    c.wait_same_zxid(Duration::from_secs(20));
    eprintln!("load: {done}; elections: {:#?}", c.elections());
    assert!(acked.len() > 50, "too few writes acknowledged: {done}");
    assert_same_everywhere(&c, "/f", &acked);
}

/// Per key, the register operations a history of register.py holds.
fn register_histories(out: &str) -> std::collections::BTreeMap<i64, Vec<linear::Op>> {
    let mut by_key: std::collections::BTreeMap<i64, Vec<linear::Op>> = Default::default();
    for line in out.lines() {
        let j: serde_json::Value = serde_json::from_str(line).expect("a JSON history line");
        let ok = j["ok"].as_bool();
        let i = |k: &str| j[k].as_i64().unwrap_or(-1);
        let kind = match j["op"].as_str() {
            Some("read") => linear::Kind::Read {
                value: i("value"),
                version: i("version") as i32,
            },
            Some("write") => linear::Kind::Write {
                value: i("value"),
                version: ok.map(|_| i("version") as i32),
            },
            _ => linear::Kind::Cas {
                expected: i("expected") as i32,
                value: i("value"),
                outcome: ok.map(|done| done.then(|| i("version") as i32)),
            },
        };
        by_key.entry(i("key")).or_default().push(linear::Op {
            call: j["call"].as_u64().unwrap_or(0),
            ret: if ok.is_none() {
                u64::MAX
            } else {
                j["ret"].as_u64().unwrap_or(u64::MAX)
            },
            kind,
        });
    }
    by_key
}

#[test]
fn register_histories_stay_linearizable_through_leader_and_follower_loss() {
    let mut c = Cluster::new("linear", 3);
    c.start_all();
    let first = c.wait_stable(Duration::from_secs(30));
    let mut work = Command::new("/usr/bin/python3")
        .args([&script("register.py"), &c.hosts(&c.all()), "12", "4", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with kazoo");
    std::thread::sleep(Duration::from_secs(3));
    c.kill(first);
    c.wait_stable(Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    c.start(first);
    let leader = c.wait_stable(Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    let victim = (0..3).find(|i| *i != leader).unwrap_or(0);
    c.kill(victim);
    std::thread::sleep(Duration::from_secs(2));
    c.start(victim);
    let mut out = String::new();
    work.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let st = work.wait().unwrap();
    let mut err = String::new();
    work.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(st.success(), "register workload failed: {err}");
    let histories = register_histories(&out);
    let mut total = 0;
    let mut unknown = 0;
    for (key, ops) in &histories {
        total += ops.len();
        unknown += ops.iter().filter(|o| o.ret == u64::MAX).count();
        let init = linear::State {
            value: 0,
            version: 0,
        };
        if let Err(e) = linear::check(ops, init) {
            panic!("key {key}: {e}");
        }
        // The checker is not blind: the same history with one read answered by a value
        // nobody wrote must fail.
        let mut tampered = ops.clone();
        if let Some(r) = tampered
            .iter_mut()
            .find(|o| matches!(o.kind, linear::Kind::Read { .. }))
        {
            r.kind = linear::Kind::Read {
                value: -1,
                version: 1,
            };
            assert!(
                linear::check(&tampered, init).is_err(),
                "tampered key {key} passed"
            );
        }
    }
    eprintln!(
        "linearizable: {total} operations on {} keys ({unknown} of unknown outcome); elections: {:#?}",
        histories.len(),
        c.elections()
    );
    assert!(total > 200, "too few operations: {total}\n{err}");
}

#[test]
fn an_observer_learns_every_commit_and_forwards_writes_without_voting() {
    let mut c = Cluster::with_observers("observer", 4, 1);
    c.start_all();
    let leader = c.wait_stable(Duration::from_secs(30));
    assert_ne!(leader, 3, "an observer cannot lead");
    assert_eq!(c.mode(3).as_deref(), Some("observer"));
    // Writes through the observer, and through the leader; the observer sees them all.
    let load = Load::start(&c.hosts(&[3, leader]), 4, "/o");
    let (acked, done) = load.finish();
    assert!(acked.len() > 20, "too few writes: {done}");
    c.wait_same_zxid(Duration::from_secs(20));
    assert_same_everywhere(&c, "/o", &acked);
    // Two voters of three still commit with the observer alive but the third voter gone; the
    // observer's acknowledgement would not make a quorum of one voter.
    let victim = (0..3).find(|i| *i != leader).unwrap_or(0);
    c.kill(victim);
    let load = Load::start(&c.hosts(&[3]), 2, "/o2");
    let (acked, done) = load.finish();
    assert!(acked.len() > 5, "writes stopped without a voter: {done}");
    let other = (0..3).find(|i| *i != leader && *i != victim).unwrap_or(0);
    c.kill(other);
    // The leader alone (with the observer) is no quorum: it stops serving.
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.mode(leader).as_deref() == Some("leader") {
        assert!(
            Instant::now() < deadline,
            "a leader without a voting quorum kept leading"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_leader_partitioned_from_its_followers_steps_down_and_loses_nothing() {
    let mut c = Cluster::with_proxies("partition", 3);
    c.start_all();
    let first = c.wait_stable(Duration::from_secs(30));
    let others: Vec<usize> = (0..3).filter(|i| *i != first).collect();
    // One writer on the leader itself, one on the followers.
    let on_leader = Load::start(&c.hosts(&[first]), 10, "/pl");
    let on_followers = Load::start(&c.hosts(&others), 10, "/pf");
    std::thread::sleep(Duration::from_secs(2));
    // The leader keeps its clients but loses its followers (packets vanish, no resets).
    c.isolate(first, true);
    c.paused.push(first);
    let second = c.wait_stable(Duration::from_secs(30));
    assert_ne!(second, first);
    // The isolated leader gives up within syncLimit and serves nobody.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = c.mode_of_paused(first);
        if m.as_deref() != Some("leader") && m.as_deref() != Some("follower") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the isolated leader kept serving as {m:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    c.isolate(first, false);
    c.paused.retain(|p| *p != first);
    let (acked_l, done_l) = on_leader.finish();
    let (acked_f, done_f) = on_followers.finish();
    let leader = c.wait_stable(Duration::from_secs(30));
    assert_eq!(leader, second, "the healed member must not take over");
    c.wait_same_zxid(Duration::from_secs(20));
    eprintln!(
        "through the old leader: {done_l}; through the others: {done_f}; elections: {:#?}",
        c.elections()
    );
    assert!(
        acked_f.len() > 50,
        "too few writes through the majority: {done_f}"
    );
    assert_same_everywhere(&c, "/pl", &acked_l);
    assert_same_everywhere(&c, "/pf", &acked_f);
}

#[test]
fn a_session_moved_to_another_server_is_refused_on_its_old_connection() {
    let mut c = Cluster::new("moved", 3);
    c.start_all();
    let leader = c.wait_stable(Duration::from_secs(30));
    let f: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    // For both kinds of old server: a follower, then the leader itself.
    for (old, new) in [(f[0], f[1]), (leader, f[0])] {
        let mut a = Raw::connect(c.members[old].client_port, false);
        assert_eq!(a.create(&format!("/before-{old}"), b"", 0).0, 0);
        // The client reattaches its session through another server (as after a timeout).
        let mut b = Raw::connect_with(
            c.members[new].client_port,
            a.session_id,
            a.passwd.clone(),
            30000,
            false,
            0,
        )
        .expect("reattach");
        assert_eq!(b.session_id, a.session_id, "the session is kept");
        assert_eq!(b.create(&format!("/after-{old}"), b"", 0).0, 0);
        // A write on the stale connection is not carried out; ZooKeeper closes it.
        a.send(
            jute::OpCode::Create,
            &jute::CreateRequest {
                path: format!("/stale-{old}"),
                data: None,
                acl: jute::Acl::open_unsafe(),
                flags: 0,
            },
        );
        assert!(
            closed_by_server(&mut a.s),
            "the stale connection stays open"
        );
        assert!(b.exists(&format!("/stale-{old}")).is_none());
        assert!(b.exists(&format!("/after-{old}")).is_some());
    }
}

#[test]
fn hierarchical_quorums_count_groups_and_weights_as_zookeeper_does() {
    // Server 3 alone in a group of weight zero: it follows and serves, but never leads and
    // never counts toward a quorum; servers 1 and 2 are the only quorum.
    let mut c = Cluster::new("groups", 3);
    for m in &c.members {
        let cfg = m.dir.join("zoo.cfg");
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        text.push_str("group.1=1:2\ngroup.2=3\nweight.3=0\n");
        std::fs::write(&cfg, text).unwrap();
    }
    c.start_all();
    let leader = c.wait_stable(Duration::from_secs(30));
    assert_ne!(leader, 2, "a server of weight zero cannot lead");
    // Without server 3 the ensemble carries on.
    c.kill(2);
    let load = Load::start(&c.hosts(&[0, 1]), 2, "/g");
    let (acked, done) = load.finish();
    assert!(
        acked.len() > 5,
        "writes stopped without the weightless server: {done}"
    );
    // Without the other server of group 1, server 3's presence is no quorum.
    c.start(2);
    c.wait_stable(Duration::from_secs(30));
    let other = if leader == 0 { 1 } else { 0 };
    c.kill(other);
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.mode(leader).as_deref() == Some("leader") {
        assert!(
            Instant::now() < deadline,
            "a quorum was counted from weight zero"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The quorum and election ports of member `i`, from its zoo.cfg.
fn peer_ports(c: &Cluster, i: usize) -> (u16, u16) {
    let cfg = std::fs::read_to_string(c.members[i].dir.join("zoo.cfg")).unwrap();
    let prefix = format!("server.{}=", c.members[i].id);
    let line = cfg.lines().find(|l| l.starts_with(&prefix)).unwrap();
    let mut parts = line[prefix.len()..].split(':').skip(1);
    let q = parts.next().unwrap().parse().unwrap();
    let e = parts
        .next()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (q, e)
}

/// Sends `bytes` to `port` and waits for the server to close the connection; false when it
/// is still open after five seconds.
fn closed_after(port: u16, bytes: &[u8]) -> bool {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(bytes).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

#[test]
fn strangers_on_the_quorum_and_election_ports_are_closed_and_change_nothing() {
    use ferrozk::quorum::packet::Packet;
    use jute::PacketType;
    let mut c = Cluster::new("strangers", 3);
    c.start_all();
    let leader = c.wait_stable(Duration::from_secs(30));
    let (quorum, election) = peer_ports(&c, leader);
    // A SNAP packet, then a snapshot stream announcing 2^24 sessions that never come: only a
    // learner reads snapshot streams, from the leader it dialled; here it is a first packet
    // that is not FOLLOWERINFO.
    let mut snap = Packet::new(PacketType::Snap, 0, None).encode().to_vec();
    snap.extend_from_slice(&(1i32 << 24).to_be_bytes());
    assert!(closed_after(quorum, &snap), "SNAP from a stranger");
    // Session touches from a link that never said who it is.
    let mut touches = Vec::new();
    for s in 0..100i64 {
        touches.extend_from_slice(&(0x7700_0000_0000 + s).to_be_bytes());
        touches.extend_from_slice(&30_000i32.to_be_bytes());
    }
    let ping = Packet::new(PacketType::Ping, 0, Some(touches.into())).encode();
    assert!(closed_after(quorum, &ping), "PING from a stranger");
    // FOLLOWERINFO from a server id that is not in the configuration.
    let mut info = Vec::new();
    info.extend_from_slice(&99i64.to_be_bytes());
    info.extend_from_slice(&0x10000i32.to_be_bytes());
    info.extend_from_slice(&0i64.to_be_bytes());
    let fi = Packet::new(PacketType::FollowerInfo, 0, Some(info.into())).encode();
    assert!(closed_after(quorum, &fi), "FOLLOWERINFO from server 99");
    // A packet whose data claims more than jute.maxbuffer (QuorumPackets are not framed:
    // type, zxid, then the data's own length).
    let mut big = Vec::new();
    big.extend_from_slice(&(PacketType::FollowerInfo.code()).to_be_bytes());
    big.extend_from_slice(&0i64.to_be_bytes());
    big.extend_from_slice(&i32::MAX.to_be_bytes());
    assert!(closed_after(quorum, &big), "an oversized quorum packet");
    // An election connection whose initial message announces an absurd address length.
    let mut hello = Vec::new();
    hello.extend_from_slice(&(-65536i64).to_be_bytes());
    hello.extend_from_slice(&7i64.to_be_bytes());
    hello.extend_from_slice(&i32::MAX.to_be_bytes());
    assert!(
        closed_after(election, &hello),
        "an oversized election hello"
    );
    // The ensemble kept its leader and still commits through every member.
    assert_eq!(c.wait_stable(Duration::from_secs(10)), leader);
    for m in &c.members {
        python(&[
            "-c",
            "import sys\n\
             from kazoo.client import KazooClient\n\
             zk = KazooClient(hosts='127.0.0.1:' + sys.argv[1])\n\
             zk.start(timeout=30)\n\
             zk.create('/after-strangers-' + sys.argv[1], b'x')\n\
             zk.stop()\n",
            &m.client_port.to_string(),
        ]);
    }
    c.wait_same_zxid(Duration::from_secs(10));
    let views: Vec<String> = (0..3).map(|i| dump(&c, i, "/")).collect();
    assert_eq!(views[0], views[1]);
    assert_eq!(views[0], views[2]);
    assert_eq!(
        views[0].matches("after-strangers-").count(),
        3,
        "{}",
        views[0]
    );
}

/// Strangers on a follower's observer master port (`observerMasterPort`): a voter's
/// FOLLOWERINFO, a first packet that is not OBSERVERINFO, and an observer that completes the
/// handshake and then sends a REQUEST or a REVALIDATE too short to forward are each closed;
/// the follower keeps its leader, and writes still commit through it.
#[test]
fn strangers_on_the_observer_master_port_are_closed_and_the_follower_keeps_its_leader() {
    use ferrozk::quorum::packet::Packet;
    use jute::PacketType;
    let mut c = Cluster::new("om-strangers", 3);
    // All members share 127.0.0.1 here, so each gets a port of its own.
    let om_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    for (m, p) in c.members.iter().zip(&om_ports) {
        let cfg = m.dir.join("zoo.cfg");
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        text.push_str(&format!("observerMasterPort={p}\n"));
        std::fs::write(&cfg, text).unwrap();
    }
    c.start_all();
    let leader = c.wait_stable(Duration::from_secs(30));
    let f = (leader + 1) % 3;
    let port = om_ports[f];
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the follower never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let info = |kind: PacketType| {
        let mut d = Vec::new();
        d.extend_from_slice(&99i64.to_be_bytes());
        d.extend_from_slice(&0x10000i32.to_be_bytes());
        d.extend_from_slice(&0i64.to_be_bytes());
        Packet::new(kind, 0, Some(d.into())).encode().to_vec()
    };
    assert!(
        closed_after(port, &info(PacketType::FollowerInfo)),
        "FOLLOWERINFO"
    );
    let ping = Packet::new(PacketType::Ping, 0, None).encode();
    assert!(closed_after(port, &ping), "a PING first");
    // A whole handshake (OBSERVERINFO, ACKEPOCH, the ACK of NEWLEADER), then a bad packet.
    let handshake = |then: Packet| {
        let mut b = info(PacketType::ObserverInfo);
        let mut epoch = Vec::new();
        epoch.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&Packet::new(PacketType::AckEpoch, 0, Some(epoch.into())).encode());
        b.extend_from_slice(&Packet::new(PacketType::Ack, 1 << 32, None).encode());
        b.extend_from_slice(&then.encode());
        b
    };
    let short = Packet::new(PacketType::Request, -1, Some(vec![0u8; 4].into()));
    assert!(closed_after(port, &handshake(short)), "a short REQUEST");
    let short = Packet::new(PacketType::Revalidate, -1, Some(vec![0u8; 9].into()));
    assert!(closed_after(port, &handshake(short)), "a short REVALIDATE");
    assert!(
        c.log(f)
            .contains("too short to carry a session, cxid and type")
            && c.log(f)
                .contains("too short to carry a session and a timeout"),
        "{}",
        c.log(f)
    );
    // The follower kept its leader (no second election anywhere) and writes commit through it.
    assert_eq!(c.wait_stable(Duration::from_secs(10)), leader);
    assert_eq!(
        c.log(f).matches("election round").count(),
        1,
        "{}",
        c.log(f)
    );
    python(&[
        "-c",
        "import sys\n\
         from kazoo.client import KazooClient\n\
         zk = KazooClient(hosts='127.0.0.1:' + sys.argv[1])\n\
         zk.start(timeout=30)\n\
         zk.create('/after-om-strangers', b'x')\n\
         zk.stop()\n",
        &c.members[f].client_port.to_string(),
    ]);
    c.wait_same_zxid(Duration::from_secs(10));
}

/// Pipelined sessions on a leader (its own proposals) and on a follower (forwarded writes
/// and syncs, local reads), with group commit forced to batch on every member: replies in
/// request order, and each read shows the session's writes sent before it and no later one.
#[test]
fn pipelined_sessions_on_leader_and_follower_are_answered_in_request_order() {
    let mut c = Cluster::new("order", 3);
    for m in &c.members {
        let cfg = m.dir.join("zoo.cfg");
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        text.push_str("flushDelay=20\n");
        std::fs::write(&cfg, text).unwrap();
    }
    c.start_all();
    let leader = c.wait_stable(Duration::from_secs(30));
    let follower = (leader + 1) % 3;
    common::order::check_pipelined_order(c.members[follower].client_port, 24);
    common::order::check_pipelined_order(c.members[leader].client_port, 24);
}

/// A client that reconnects to a follower and pipelines a request right behind its
/// ConnectRequest (the follower asks the leader to revalidate the session first): the request
/// is answered after the handshake, not dropped.
#[test]
fn a_request_pipelined_behind_a_reconnect_to_a_follower_is_answered() {
    use bytes::Bytes;
    use jute::*;
    use std::io::Write as _;
    let mut c = Cluster::new("early", 3);
    c.start_all();
    let leader = c.wait_stable(Duration::from_secs(30));
    let port = c.members[(leader + 1) % 3].client_port;
    let mut first = Raw::connect(port, false);
    let (err, _) = first.create("/early", b"here", 0);
    assert_eq!(err, 0);
    let (session, passwd) = (first.session_id, first.passwd.clone());
    drop(first); // the TCP connection goes, the session stays
    let mut s = Raw::tcp(port);
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        time_out: 30000,
        session_id: session,
        passwd: Some(passwd),
        read_only: false,
        has_read_only: false,
    };
    let get = GetDataRequest {
        path: "/early".into(),
        watch: false,
    };
    let h = RequestHeader {
        xid: 1,
        op: OpCode::GetData.code(),
    };
    let mut burst = frame_of(&[&|b| req.encode(b)]);
    burst.extend(frame_of(&[&|b| h.encode(b), &|b| get.encode(b)]));
    s.write_all(&burst).unwrap();
    let resp = ConnectResponse::from_bytes(read_frame(&mut s).expect("handshake")).unwrap();
    assert_eq!(resp.session_id, session, "the session was renewed");
    let mut r = Reader::new(read_frame(&mut s).expect("the pipelined request's reply"));
    let rh = ReplyHeader::decode(&mut r).unwrap();
    assert_eq!((rh.xid, rh.err), (1, 0));
    let data = GetDataResponse::decode(&mut r).unwrap().data;
    assert_eq!(data, Some(Bytes::from_static(b"here")));
}
