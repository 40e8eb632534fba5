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
    assert_eq!(cfg.client_port, Some(2182));
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
fn several_addresses_per_server_as_zookeeper_reads_them() {
    let s = parse_server(1, "zk1b:2889:3889|zk1a:2888:3888:participant;2181").unwrap();
    assert_eq!(
        s.addrs,
        vec![
            ("zk1b".to_string(), 2889, 3889),
            ("zk1a".to_string(), 2888, 3888)
        ]
    );
    assert_eq!((s.host.as_str(), s.quorum_port), ("zk1b", 2889));
    assert!(parse_server(1, "a:1:2:observer|b:3:4:participant").is_err());
    let dir = std::env::temp_dir().join(format!("ferrozk-multiaddr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("myid"), "1\n").unwrap();
    let base = format!(
        "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir={}\nclientPort=2181\n",
        dir.display()
    );
    let lines = "server.1=[::1]:2888:3888|127.0.0.1:2889:3889\nserver.2=127.0.0.2:2888:3888\n";
    let e = Config::parse(Path::new("z.cfg"), &format!("{base}{lines}")).unwrap_err();
    assert!(
        e.to_string().contains("server.1") && e.to_string().contains("multiAddress.enabled"),
        "{e}"
    );
    let c = Config::parse(
        Path::new("z.cfg"),
        &format!("{base}multiAddress.enabled=true\n{lines}"),
    )
    .unwrap();
    assert_eq!(c.quorum.unwrap().servers[&1].addrs.len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
    let q = QuorumConfig {
        servers: [(
            1,
            parse_server(1, "[::1]:2888:3888|127.0.0.1:2889:3889").unwrap(),
        )]
        .into(),
        init_limit: 5,
        sync_limit: 2,
        standalone_enabled: true,
        quorum_listen_on_all_ips: false,
        peer_type_observer: false,
        groups: Default::default(),
        weights: Default::default(),
        my_id: Some(1),
        version: 0,
        dynamic_file: None,
    };
    // As QuorumServer.toString: sorted by host, IPv6 in brackets.
    assert_eq!(
        q.config_text(),
        "server.1=127.0.0.1:2889:3889|[::1]:2888:3888:participant\nversion=0"
    );
}

#[test]
fn features_ferrozk_lacks_are_refused_together_and_tuning_keys_reported() {
    let base = "tickTime=2000\ndataDir=/tmp/x\nclientPort=2181\n";
    let e = Config::parse(
        Path::new("z.cfg"),
        &format!("{base}ssl.context.supplier.class=a.B\nDigestAuthenticationProvider.digestAlg=SHA-256\nauthProvider.ldap=com.example.LdapProvider\n"),
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

#[test]
fn dynamic_config_files_as_zookeeper_reads_them() {
    let dir = std::env::temp_dir().join(format!("ferrozk-dyncfg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("myid"), "2\n").unwrap();
    let dynamic = dir.join("zoo.cfg.dynamic.100000000");
    std::fs::write(
        &dynamic,
        "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
         server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n\
         server.3=127.0.0.1:2890:3890:participant;0.0.0.0:2183",
    )
    .unwrap();
    let base = format!(
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\ndynamicConfigFile={}\n",
        dir.display(),
        dynamic.display()
    );
    let cfg = Config::parse(Path::new("zoo.cfg"), &base).unwrap();
    let q = cfg.quorum.as_ref().unwrap();
    assert_eq!((q.participants(), q.version), (3, 0x100000000));
    // ZooKeeper's editStaticConfig removes clientPort: this server's line gives it.
    assert_eq!(cfg.client_address().unwrap().to_string(), "127.0.0.1:2182");
    assert!(q
        .config_text()
        .ends_with("server.3=127.0.0.1:2890:3890:participant;0.0.0.0:2183\nversion=100000000"));
    // A clientPort that agrees is fine; one that differs stops start-up, as in ZooKeeper.
    assert!(Config::parse(
        Path::new("zoo.cfg"),
        &format!("{base}clientPort=2182\nclientPortAddress=127.0.0.1\n")
    )
    .is_ok());
    let e = Config::parse(Path::new("zoo.cfg"), &format!("{base}clientPort=2190\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("must agree"), "{e}");
    // Membership lines in zoo.cfg beside a dynamic file are refused.
    let e = Config::parse(
        Path::new("zoo.cfg"),
        &format!("{base}server.4=127.0.0.1:2891:3891\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("server.4") && e.contains("separate dynamic config file"),
        "{e}"
    );
    // The dynamic file holds membership only, and no version line.
    for (bad, key) in [
        ("version=100000000", "version"),
        ("tickTime=2000", "tickTime"),
    ] {
        std::fs::write(
            &dynamic,
            format!("server.2=127.0.0.1:2889:3889;2182\n{bad}\n"),
        )
        .unwrap();
        let e = Config::parse(Path::new("zoo.cfg"), &base)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(key) && e.contains("zoo.cfg.dynamic.100000000"),
            "{e}"
        );
    }
    // A missing dynamic file names itself.
    std::fs::remove_file(&dynamic).unwrap();
    let e = Config::parse(Path::new("zoo.cfg"), &base)
        .unwrap_err()
        .to_string();
    assert!(e.contains("zoo.cfg.dynamic.100000000"), "{e}");
    // A name without a hex suffix is version 0; the 3.4 form may carry a version line.
    assert_eq!(
        version_from_file_name(Path::new("/etc/zk/zoo.cfg.dynamic")),
        None
    );
    assert_eq!(
        version_from_file_name(Path::new("zoo.cfg.dynamic.2a")),
        Some(0x2a)
    );
    let cfg = Config::parse(
        Path::new("zoo.cfg"),
        &format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort=2182\n\
             server.1=a:2888:3888\nserver.2=b:2888:3888\nversion=200000003\n",
            dir.display()
        ),
    )
    .unwrap();
    assert_eq!(cfg.quorum.unwrap().version, 0x200000003);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn read_only_mode_is_a_jvm_property_only() {
    let base = "tickTime=2000\ndataDir=/tmp/x\nclientPort=2181\n";
    let c = Config::parse(
        Path::new("z.cfg"),
        &format!("{base}readonlymode.enabled=true\n"),
    )
    .unwrap();
    assert!(!c.settings.read_only_mode);
    assert!(
        c.ignored
            .iter()
            .any(|m| m.starts_with("readonlymode.enabled in zoo.cfg has no effect")),
        "{:?}",
        c.ignored
    );
    let jvm: BTreeMap<String, String> =
        [("readonlymode.enabled".to_string(), "TRUE".to_string())].into();
    let c = Config::parse_with_jvm(Path::new("z.cfg"), base, &jvm).unwrap();
    assert!(c.settings.read_only_mode);
}

#[test]
fn dynamic_config_files_as_zookeeper_writes_them() {
    let dir = std::env::temp_dir().join(format!("ferrozk-dynwrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("myid"), "1\n").unwrap();
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "# kept\ntickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir={}\nclientPort=2181\nreconfigEnabled=true\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n",
            dir.display()
        ),
    )
    .unwrap();
    let c = Config::load(&cfg).unwrap();
    let mut q = c.quorum.clone().unwrap();
    q = q
        .with_text("server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\nserver.10=127.0.0.1:2890:3890:observer\nserver.2=127.0.0.1:2889:3889:participant\nversion=100000003")
        .unwrap();
    let serving = c.client_address();
    let dynamic = write_dynamic_config(&cfg, &q, 1, serving).unwrap();
    assert!(
        dynamic.ends_with("zoo.cfg.dynamic.100000003"),
        "{dynamic:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&dynamic).unwrap(),
        "server.10=127.0.0.1:2890:3890:observer\nserver.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\nserver.2=127.0.0.1:2889:3889:participant",
        "sorted as strings ('0' before '='), no version, no newline at the end"
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.starts_with("# kept\n"), "{text}");
    assert!(
        !text.contains("server.") && !text.contains("clientPort"),
        "{text}"
    );
    assert!(
        text.contains(&format!("dynamicConfigFile={}", dynamic.display())),
        "{text}"
    );
    // It starts again on what was written, with the client address from its server line.
    let again = Config::load(&cfg).unwrap();
    assert_eq!(again.quorum.as_ref().unwrap().version, 0x100000003);
    assert_eq!(
        again.client_address(),
        serving.map(|a| std::net::SocketAddr::new("127.0.0.1".parse().unwrap(), a.port()))
    );
    // A later configuration without this member's client address: the port comes back.
    let q2 = q
        .with_text("server.1=127.0.0.1:2888:3888:participant\nserver.2=127.0.0.1:2889:3889:participant\nversion=100000009")
        .unwrap();
    write_dynamic_config(&cfg, &q2, 1, again.client_address()).unwrap();
    let third = Config::load(&cfg).unwrap();
    assert_eq!(third.client_address().map(|a| a.port()), Some(2181));
    let _ = std::fs::remove_dir_all(&dir);
}
