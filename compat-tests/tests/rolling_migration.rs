//! The migration an operator makes: a running Apache ZooKeeper ensemble of three or five
//! members (Debian's 3.8.0 package, the newest 3.9 release from Maven Central, or a mix) is moved to ferrozk one member
//! at a time, each member stopped and started again as ferrozk on its own zoo.cfg, myid and
//! dataDir, under a write load from sessions spread over all members, each holding an
//! ephemeral node; then moved back to Java (each member to its own release) the same way.
//! Checks: no session expires, every acknowledged write is on every member at the end, all
//! trees are equal (data, Stat and ACLs), every ephemeral is still there. The longest gap
//! between two acknowledged writes is printed for each run.

use compat_tests::ensemble::Ensemble;
use compat_tests::load::{check, script, Load};
use compat_tests::{python, zookeeper_version};
use std::process::Command;
use std::time::{Duration, Instant};

/// Reads what the Java members logged since the last look, for failures while following a
/// leader. A follower whose leader stops sees its connection end (EOF, reset): that is
/// expected. Any other failure is a bug, unless the learner and the leader it followed are
/// both Debian's ZooKeeper 3.8.0 and the failure is ZOOKEEPER-4394 (a COMMIT during a DIFF
/// synchronisation makes the learner fail with a NullPointerException; fixed in later
/// releases): that is reported, not failed. A 3.9 leader or learner gets no such excuse.
struct Follow {
    seen: Vec<usize>,
    /// Quorum port -> member index.
    ports: std::collections::HashMap<String, usize>,
}

impl Follow {
    fn new(m: &Ensemble) -> Follow {
        let mut cfg = std::fs::read_to_string(m.members[0].dir.join("zoo.cfg")).unwrap();
        if let Some(l) = cfg.lines().find(|l| l.starts_with("dynamicConfigFile=")) {
            cfg = std::fs::read_to_string(&l["dynamicConfigFile=".len()..]).unwrap();
        }
        let mut ports = std::collections::HashMap::new();
        for l in cfg.lines().filter(|l| l.starts_with("server.")) {
            let (k, v) = l.split_once('=').unwrap();
            let id: usize = k["server.".len()..].parse().unwrap();
            let port = v.split(':').nth(1).unwrap().to_string();
            ports.insert(port, id - 1);
        }
        Follow {
            seen: vec![0; m.members.len()],
            ports,
        }
    }

    fn scan(&mut self, m: &Ensemble) {
        for i in m.all() {
            let log = m.log(i);
            let new = &log[self.seen[i].min(log.len())..];
            self.seen[i] = log.len();
            let lines: Vec<&str> = new.lines().collect();
            let mut leader: Option<usize> = None;
            for (k, l) in lines.iter().enumerate() {
                if let Some(at) = l.find("Successfully connected to leader, using address: ") {
                    let addr = &l[at..];
                    leader = addr
                        .rsplit(':')
                        .next()
                        .and_then(|p| self.ports.get(p.trim()).copied());
                }
                if !l.contains("Exception when following the leader") {
                    continue;
                }
                let why = lines.get(k + 1).copied().unwrap_or("");
                if why.contains("EOFException") || why.contains("SocketException") {
                    continue;
                }
                // Debian's 3.8.0 learner syncing from a Java leader (any release): the bug is
                // the 3.8.0 learner's (fixed in 3.8.1); a ferrozk leader is never excused.
                let debian = |j: usize| m.members[j].java && m.members[j].java_version.is_none();
                let java = |j: usize| m.members[j].java;
                if debian(i) && leader.is_some_and(java) && why.contains("\"pif\" is null") {
                    println!(
                        "note: Java member {} hit ZOOKEEPER-4394 while syncing from Java member {} (a bug of ZooKeeper 3.8.0's learner, with a Java leader)",
                        i + 1,
                        leader.map_or(0, |j| j + 1)
                    );
                    continue;
                }
                panic!(
                    "member {} ({}) failed to follow member {:?} ({}): {l}\n{why}",
                    i + 1,
                    m.kind(i),
                    leader.map(|j| j + 1),
                    leader.map_or("?".to_string(), |j| m.kind(j))
                );
            }
        }
    }
}

/// /zookeeper/config as member `i` serves it (data, Stat and ACL).
fn config_node(m: &Ensemble, i: usize) -> String {
    python(&[
        &script("dump.py"),
        &m.members[i].port.to_string(),
        "/zookeeper/config",
    ])
}

/// Has the Java members (ZooKeeper 3.5+ with reconfigEnabled=true) move their membership into
/// dynamic config files, as they do when they first establish an epoch: zoo.cfg loses its
/// server lines and names `zoo.cfg.dynamic.<version>`. Then every member is stopped,
/// `migrate-check` finds the files ready (reconfiguration stays on: ferrozk has it), and the
/// ensemble is started again on those files. Returns /zookeeper/config as a Java follower
/// serves it.
fn move_membership_to_dynamic_files(m: &mut Ensemble) -> String {
    m.start_all();
    for i in m.all() {
        m.wait_port(i, Duration::from_secs(90));
    }
    m.wait_stable(Duration::from_secs(90));
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in m.all() {
        let cfg = m.members[i].dir.join("zoo.cfg");
        while !std::fs::read_to_string(&cfg)
            .unwrap()
            .contains("dynamicConfigFile=")
        {
            assert!(
                Instant::now() < deadline,
                "member {} never wrote a dynamic config file: {}",
                i + 1,
                m.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    for i in m.all() {
        m.stop(i);
    }
    for i in m.all() {
        let cfg = m.members[i].dir.join("zoo.cfg");
        let text = std::fs::read_to_string(&cfg).unwrap();
        assert!(!text.contains("\nserver."), "{text}");
        assert!(text.contains("reconfigEnabled=true"), "{text}");
        if i == 0 {
            println!("member 1's zoo.cfg as Java left it:\n{text}");
        }
    }
    let (ok, report) = migrate_check(&m.members[0].dir.join("zoo.cfg"));
    assert!(
        ok && report.contains("zoo.cfg.dynamic.100000000 (version 0x100000000)"),
        "{report}"
    );
    m.start_all();
    for i in m.all() {
        m.wait_port(i, Duration::from_secs(90));
    }
    let leader = m.wait_stable(Duration::from_secs(90));
    let follower = (leader + 1) % m.members.len();
    let view = config_node(m, follower);
    println!(
        "/zookeeper/config on Java follower {}: {}",
        follower + 1,
        view.trim()
    );
    assert!(
        view.contains("version=100000000"),
        "the first epoch's config version: {view}"
    );
    view
}

/// Replaces member `i` by the other implementation on the same zoo.cfg, myid and dataDir.
fn switch(m: &mut Ensemble, i: usize, sigkill: bool, load: &Load, follow: &mut Follow) {
    let from = m.kind(i);
    let t = Instant::now();
    if sigkill {
        m.kill(i);
    } else {
        m.stop(i);
    }
    m.members[i].java = !m.members[i].java;
    m.start(i);
    m.wait_port(i, Duration::from_secs(90));
    let leader = m.wait_stable(Duration::from_secs(90));
    println!(
        "at {:.1}s: member {} {from} -> {} in {:.1}s ({}); leader now member {}",
        load.at(),
        i + 1,
        m.kind(i),
        t.elapsed().as_secs_f64(),
        if sigkill { "SIGKILL" } else { "SIGTERM" },
        leader + 1
    );
    // Let the load run through the new member for a moment: 50 more acknowledged writes
    // (2 s at most, as a fixed pause was before).
    let (base, until) = (load.acked(), Instant::now() + Duration::from_secs(2));
    while load.acked() < base + 50 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    follow.scan(m);
}

/// The members in the order of a roll: followers first and the leader last, or the leader
/// first.
fn order(m: &Ensemble, leader_last: bool) -> Vec<usize> {
    let leader = m.wait_stable(Duration::from_secs(60));
    let mut o: Vec<usize> = m.all().into_iter().filter(|i| *i != leader).collect();
    if leader_last {
        o.push(leader);
    } else {
        o.insert(0, leader);
    }
    o
}

/// Rolls an ensemble of Java members to ferrozk and back; `versions[i]` is member i+1's
/// ZooKeeper release (None: Debian's 3.8.0, Some: a release from Maven Central). With
/// `first_leader`, that member (1-based; give it the highest id) starts alone and leads the
/// first epoch; otherwise all start at once.
fn roll_there_and_back(
    name: &str,
    versions: &[Option<&str>],
    first_leader: Option<u64>,
    leader_last: bool,
    sigkill_at: Option<usize>,
    dynamic: bool,
) {
    // Built (and the Java releases fetched) before anything is timed.
    compat_tests::ferrozk_bin();
    let n = versions.len() as u64;
    let java: Vec<u64> = (1..=n).collect();
    let extra = if dynamic {
        "tickTime=500\nreconfigEnabled=true"
    } else {
        "tickTime=500"
    };
    let mut m = Ensemble::new(name, n, &java, extra);
    for (id, v) in (1..=n).zip(versions) {
        m.set_java_version(id, *v);
    }
    let config_view = dynamic.then(|| move_membership_to_dynamic_files(&mut m));
    if config_view.is_some() {
        // Running already.
    } else if let Some(id) = first_leader {
        let first = (id - 1) as usize;
        m.start(first);
        // Once its client port is open, the JVM is up and its election under way.
        m.wait_port(first, Duration::from_secs(90));
        std::thread::sleep(Duration::from_millis(1500));
        for i in m.all().into_iter().filter(|i| *i != first) {
            m.start(i);
        }
    } else {
        m.start_all();
    }
    for i in m.all() {
        m.wait_port(i, Duration::from_secs(90));
    }
    let leader = m.wait_stable(Duration::from_secs(90));
    if let Some(id) = first_leader {
        assert_eq!(
            leader + 1,
            id as usize,
            "member {id} should lead: {}",
            m.logs()
        );
    }
    println!(
        "start: {}; leader member {}",
        m.all()
            .into_iter()
            .map(|i| format!("member {} {}", i + 1, m.kind(i)))
            .collect::<Vec<_>>()
            .join(", "),
        leader + 1
    );
    let prefix = format!("/{name}");
    let sessions = 6;
    let mut load = Load::start(&m.hosts(&m.all()), sessions, &prefix);
    let mut step = 0;
    let mut follow = Follow::new(&m);
    // Every member to ferrozk, then every member back to Java.
    for _round in 0..2 {
        for i in order(&m, leader_last) {
            switch(&mut m, i, sigkill_at == Some(step), &load, &mut follow);
            if let Some(view) = &config_view {
                // The same membership and version from every ferrozk member and every Java
                // follower.
                for j in m.all() {
                    if m.members[j].java && m.field(j, "Mode:").as_deref() != Some("follower") {
                        continue;
                    }
                    assert_eq!(
                        &config_node(&m, j),
                        view,
                        "/zookeeper/config of member {} as {}",
                        j + 1,
                        m.kind(j)
                    );
                }
            }
            step += 1;
        }
    }
    assert!(
        m.members.iter().all(|x| x.java),
        "every member is Java again"
    );
    let out = load.stop_writes();
    check(&m, &out, &prefix, sessions);
    load.close();
    // Nothing the Java members found wrong in what ferrozk left them.
    for i in m.all() {
        let log = m.log(i);
        for bad in [
            "Unable to load database on disk",
            "is older than the last zxid",
        ] {
            assert!(!log.contains(bad), "member {} logged {bad:?}", i + 1);
        }
    }
}

#[test]
fn three_java_members_to_ferrozk_and_back_leader_last() {
    roll_there_and_back("roll3last", &[None, None, None], None, true, None, false);
}

#[test]
fn five_java_members_to_ferrozk_and_back_leader_last() {
    roll_there_and_back(
        "roll5last",
        &[None, None, None, None, None],
        None,
        true,
        None,
        false,
    );
}

#[test]
fn three_members_leader_first_with_a_member_sigkilled_mid_roll() {
    // The fourth switch (the first member back to Java) is a SIGKILL of a ferrozk member.
    roll_there_and_back(
        "roll3kill",
        &[None, None, None],
        None,
        false,
        Some(3),
        false,
    );
}

#[test]
fn three_java_3_9_members_on_dynamic_config_files_to_ferrozk_and_back_leader_last() {
    // The members first run with reconfigEnabled=true, so that Java moves their membership
    // into zoo.cfg.dynamic.100000000 files; the roll runs on those files.
    let v = zookeeper_version("ZK39_VERSION");
    let v = Some(v.as_str());
    roll_there_and_back("roll39last", &[v, v, v], None, true, None, true);
}

#[test]
fn three_3_9_members_leader_first_with_a_member_sigkilled_mid_roll() {
    // As with 3.8.0: the fourth switch is a SIGKILL of a ferrozk member, which comes back
    // as Java 3.9.
    let v = zookeeper_version("ZK39_VERSION");
    let v = Some(v.as_str());
    roll_there_and_back("roll39kill", &[v, v, v], None, false, Some(3), false);
}

#[test]
fn five_3_9_members_leader_first_with_a_member_sigkilled_mid_roll() {
    // The third switch (a Java follower, midway to ferrozk) is a SIGKILL: the member comes
    // back as ferrozk on a dataDir Java did not close.
    let v = zookeeper_version("ZK39_VERSION");
    let v = Some(v.as_str());
    roll_there_and_back("roll5kill39", &[v, v, v, v, v], None, false, Some(2), false);
}

#[test]
fn two_debian_3_8_members_and_one_3_9_member_to_ferrozk_and_back() {
    // Member 3 runs 3.9 and leads the first epoch: Debian's 3.8.0 followers, then ferrozk
    // followers, under a 3.9 leader; the leader last; then every member back to its own
    // release (the 3.9 member last, syncing from a Debian 3.8.0 leader).
    let v = zookeeper_version("ZK39_VERSION");
    roll_there_and_back(
        "roll38and39",
        &[None, None, Some(v.as_str())],
        Some(3),
        true,
        None,
        false,
    );
}

fn migrate_check(cfg: &std::path::Path) -> (bool, String) {
    let out = Command::new(compat_tests::ferrozk_bin())
        .arg("migrate-check")
        .arg(cfg)
        .output()
        .expect("run ferrozk migrate-check");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => (true, text),
        Some(1) => (false, text),
        other => panic!("migrate-check exited with {other:?}: {text}"),
    }
}

#[test]
fn migrate_check_on_java_and_ferrozk_data_dirs() {
    let mut m = Ensemble::new("mcheck", 3, &[1, 2, 3], "tickTime=500");
    m.start_all();
    for i in m.all() {
        m.wait_port(i, Duration::from_secs(90));
    }
    m.wait_stable(Duration::from_secs(90));
    python(&[
        "-c",
        "import sys\nfrom kazoo.client import KazooClient\nzk = KazooClient(hosts=sys.argv[1])\nzk.start(timeout=30)\nfor i in range(50):\n    zk.create('/m/n', b'x', sequence=True, makepath=True)\nzk.stop()\n",
        &m.hosts(&m.all()),
    ]);
    m.wait_same_zxid(Duration::from_secs(30));
    for i in m.all() {
        m.stop(i);
    }
    let cfg = m.members[0].dir.join("zoo.cfg");
    // A Java member's dataDir: ready, and the report names what it found.
    let (ok, text) = migrate_check(&cfg);
    assert!(ok, "{text}");
    for want in [
        "ensemble member 1 of 3",
        "txn logs: ",
        "epochs: acceptedEpoch 1, currentEpoch 1",
        "READY",
        "ferrozk start",
        "zkServer.sh start",
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
    // The same member after ferrozk ran on it: still ready (for the way back too).
    m.members[0].java = false;
    m.members[1].java = false;
    m.start(0);
    m.start(1);
    m.wait_stable(Duration::from_secs(60));
    m.stop(0);
    m.stop(1);
    let (ok, text) = migrate_check(&cfg);
    assert!(ok, "{text}");
    // A setting ferrozk does not have: not ready, and the reason names the key.
    let secured = m.members[0].dir.join("secured.cfg");
    let mut text_cfg = std::fs::read_to_string(&cfg).unwrap();
    text_cfg.push_str("reconfigEnabled=true\nDigestAuthenticationProvider.digestAlg=SHA-256\n");
    std::fs::write(&secured, text_cfg).unwrap();
    let (ok, text) = migrate_check(&secured);
    assert!(!ok, "{text}");
    assert!(
        text.contains("NOT READY")
            && text.contains("DigestAuthenticationProvider.digestAlg")
            && !text.contains("setting reconfigEnabled"),
        "{text}"
    );
    // Epochs that ZooKeeper itself would refuse: not ready.
    let v2 = m.members[0].dir.join("data").join("version-2");
    std::fs::write(v2.join("acceptedEpoch"), "0").unwrap();
    let (ok, text) = migrate_check(&cfg);
    assert!(
        !ok && text.contains("acceptedEpoch 0 is less than currentEpoch"),
        "{text}"
    );
}
