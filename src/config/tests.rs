use super::*;

#[test]
fn server_lines_as_zookeeper_reads_them() {
    let s = parse_server(1, "zk1:2888:3888").unwrap();
    assert_eq!(
        (s.host.as_str(), s.quorum_port, s.election_port, s.observer),
        ("zk1", 2888, 3888, false)
    );
    let s = parse_server(2, "10.0.0.2:2888:3888:observer;2181").unwrap();
    assert!(s.observer);
    assert_eq!(s.client, Some((None, 2181)));
    let s = parse_server(3, "[::1]:2888:3888:participant;127.0.0.1:2182").unwrap();
    assert_eq!(s.host, "::1");
    assert_eq!(s.client, Some((Some("127.0.0.1".into()), 2182)));
    for bad in [
        "zk1:2888",
        "zk1:x:3888",
        "zk1:2888:3888:leader",
        ":2888:3888",
        "[::1:2888:3888",
    ] {
        assert!(parse_server(9, bad).is_err(), "{bad}");
    }
    let dir = std::env::temp_dir().join(format!("ferrozk-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("myid"), "2\n").unwrap();
    let text = format!(
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nserver.1=a:2888:3888;2181\nserver.2=b:2888:3888;0.0.0.0:2182\nserver.3=c:2888:3888:observer;2183\n",
        dir.display()
    );
    let cfg = Config::parse(Path::new("zoo.cfg"), &text).unwrap();
    let q = cfg.quorum.as_ref().unwrap();
    assert_eq!(
        (q.participants(), q.my_id, q.init_limit, q.sync_limit),
        (2, Some(2), 10, 5)
    );
    // No clientPort key: this server's line gives it.
    assert_eq!(cfg.client_port, 2182);
    assert_eq!(
        q.config_text(),
        "server.1=a:2888:3888:participant;0.0.0.0:2181\nserver.2=b:2888:3888:participant;0.0.0.0:2182\nserver.3=c:2888:3888:observer;0.0.0.0:2183\nversion=0"
    );
    let no_limits = text.replace("initLimit=10\n", "");
    assert!(matches!(
        Config::parse(Path::new("zoo.cfg"), &no_limits),
        Err(ConfigError::Missing { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn defaults_and_unknown_keys() {
    let c = Config::parse(
        Path::new("z.cfg"),
        "# c\ntickTime=2000\ndataDir=/tmp/x\nclientPort=2181\nextendedTypesEnabled=true\n4lw.commands.whitelist=*\n",
    )
    .unwrap();
    assert_eq!(c.min_session_timeout, 4000);
    assert_eq!(c.max_session_timeout, 40000);
    assert!(c.extended_types_enabled);
    assert_eq!(c.property("4lw.commands.whitelist"), Some("*"));
    assert_eq!(c.data_log_dir, PathBuf::from("/tmp/x"));
}

#[test]
fn invalid_values_name_key_and_file() {
    let e = Config::parse(
        Path::new("z.cfg"),
        "dataDir=/x\nclientPort=2181\ntickTime=abc\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("tickTime") && e.contains("z.cfg"), "{e}");
    let e = Config::parse(Path::new("z.cfg"), "clientPort=2181\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("dataDir"), "{e}");
}

#[test]
fn hierarchical_quorums_are_parsed_and_written_as_zookeeper_writes_them() {
    let dir = std::env::temp_dir().join(format!("ferrozk-cfg-groups-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("myid"), "1").unwrap();
    let base = format!(
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort=2181\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n",
        dir.display()
    );
    let c = Config::parse(
        Path::new("z.cfg"),
        &format!("{base}group.1=1:2\ngroup.2=3\nweight.3=0\n"),
    )
    .unwrap();
    let q = c.quorum.unwrap();
    assert_eq!(q.groups.get(&3), Some(&2));
    assert_eq!(q.weights.get(&1), Some(&1), "weight 1 unless said");
    assert_eq!(q.weights.get(&3), Some(&0));
    assert!(q
        .config_text()
        .ends_with("group.1=1:2\ngroup.2=3\nweight.1=1\nweight.2=1\nweight.3=0\nversion=0"));
    let e = Config::parse(Path::new("z.cfg"), &format!("{base}group.1=1:2\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("every participant must be in a group"), "{e}");
    let e = Config::parse(
        Path::new("z.cfg"),
        &format!("{base}group.1=1:2\ngroup.2=2:3\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("more than one group"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn settings_have_zookeepers_defaults_and_refuse_bad_values() {
    let base = "tickTime=2000\ndataDir=/tmp/x\nclientPort=2181\n";
    let c = Config::parse(Path::new("z.cfg"), base).unwrap();
    let s = &c.settings;
    assert!(s.force_sync && !s.skip_acl && !s.enforce_quota);
    assert_eq!(
        (
            s.snap_count,
            s.pre_alloc_kib,
            s.max_batch_size,
            s.flush_delay_ms
        ),
        (100_000, 65536, 1000, 0)
    );
    assert_eq!((s.snap_retain_count, s.purge_interval_hours), (3, 0));
    assert_eq!(
        (s.outstanding_limit, s.handshake_timeout_ms),
        (1000, 10_000)
    );
    assert_eq!(s.max_client_queue_bytes, 64 << 20);
    assert_eq!(
        (s.admin.port, s.admin.command_url.as_str()),
        (8080, "/commands")
    );
    assert!(s.admin.enabled && !s.metrics.prometheus);
    let c = Config::parse(
        Path::new("z.cfg"),
        &format!(
            "{base}forceSync=no\nsnapCount=1\nautopurge.snapRetainCount=1\nadmin.commandURL=cmds\n"
        ),
    )
    .unwrap();
    let s = &c.settings;
    assert!(!s.force_sync);
    assert_eq!(
        (s.snap_count, s.snap_retain_count),
        (2, 3),
        "raised to the least allowed"
    );
    assert_eq!(s.admin.command_url, "/cmds");
    for bad in [
        "flushDelay=-1",
        "maxBatchSize=0",
        "skipACL=true",
        "admin.snapshot.enabled=no",
        "metricsProvider.className=com.example.Other",
        "metricsProvider.httpPort=x",
    ] {
        let e = Config::parse(Path::new("z.cfg"), &format!("{base}{bad}\n")).unwrap_err();
        let key = bad.split('=').next().unwrap();
        assert!(
            matches!(&e, ConfigError::Invalid { key: k, .. } if k == key),
            "{bad}: {e}"
        );
    }
}

#[test]
fn features_ferrozk_lacks_are_refused_together_and_tuning_keys_reported() {
    let base = "tickTime=2000\ndataDir=/tmp/x\nclientPort=2181\n";
    let e = Config::parse(
        Path::new("z.cfg"),
        &format!("{base}sslQuorum=true\nlocalSessionsEnabled=true\nauthProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"),
    )
    .unwrap_err();
    match e {
        ConfigError::Unsupported { keys, .. } => {
            assert_eq!(keys.len(), 3, "{keys:?}");
        }
        other => panic!("{other}"),
    }
    let c = Config::parse(
        Path::new("z.cfg"),
        &format!("{base}sslQuorum=false\nauthProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\nnio.numWorkerThreads=4\nmisspeltKey=1\n"),
    )
    .unwrap();
    assert_eq!(c.ignored.len(), 2, "{:?}", c.ignored);
    assert!(c.ignored[0].starts_with("misspeltKey"), "{:?}", c.ignored);
    assert!(
        c.ignored[1].starts_with("nio.numWorkerThreads"),
        "{:?}",
        c.ignored
    );
}
