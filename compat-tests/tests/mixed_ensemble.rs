//! One ensemble of Apache ZooKeeper 3.8 (Debian's package) and ferrozk members, as in a
//! rolling migration: they elect each other, a Java leader synchronises and drives ferrozk
//! followers, a ferrozk leader synchronises and drives a Java follower, writes go through
//! every member, and after the Java leader is killed under a kazoo write load and restarted
//! (it rejoins under a ferrozk leader) every acknowledged write is on every member and all
//! members hold the same tree.

use compat_tests::ensemble::Ensemble;
use compat_tests::{python, workspace};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

fn script(name: &str) -> String {
    workspace()
        .join("tests/ensemble")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn java_and_ferrozk_members_lead_and_follow_each_other() {
    let mut m = Ensemble::new("mixed", 3, &[3], "tickTime=500");
    // The Java member starts first and has the highest id: it leads the first epoch.
    m.start(2);
    // Once its client port is open, the JVM is up and its election under way.
    m.wait_port(2, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(1500));
    m.start(0);
    m.start(1);
    let leader = m.wait_stable(Duration::from_secs(60));
    assert_eq!(leader, 2, "the Java member should lead: {}", m.logs());
    let hosts = m.hosts(&m.all());
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
    // How the ferrozk leader brought the Java member back (DIFF, TRUNC or SNAP).
    for i in 0..2 {
        for l in m
            .log(i)
            .lines()
            .filter(|l| l.contains("synchronising learner 3"))
        {
            println!("server {}: {l}", i + 1);
        }
    }
    // The Java member found nothing wrong in what ferrozk sent it, as learner or as leader:
    // no failed synchronisation, no acknowledgement out of order.
    let java = m.log(2);
    for bad in [
        "Exception when following the leader",
        "received before ACK for",
    ] {
        assert!(
            !java.contains(bad),
            "the Java member logged {bad:?}:\n{}",
            m.logs()
        );
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
    // /zookeeper/config, which each member writes for itself, reads the same on all.
    let configs: Vec<String> = (0..3)
        .map(|i| {
            python(&[
                "-c",
                "import sys\nfrom kazoo.client import KazooClient\nzk = KazooClient(hosts=sys.argv[1])\nzk.start(timeout=30)\nd, st = zk.get('/zookeeper/config')\nprint(repr(d), st.mzxid, st.version, st.aversion)\nzk.stop()\n",
                &format!("127.0.0.1:{}", m.members[i].port),
            ])
        })
        .collect();
    assert!(configs[0].contains("server.3=127.0.0.1:"), "{}", configs[0]);
    assert_eq!(
        configs[0], configs[2],
        "ferrozk and Java /zookeeper/config differ"
    );
    assert_eq!(configs[0], configs[1]);
}
