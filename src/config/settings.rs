//! Every zoo.cfg key ferrozk reads besides the core ones (ports, directories, times, the
//! ensemble), as typed and validated fields, and the policy for the rest:
//!
//! - a key ferrozk reads with a value it cannot use stops start-up, naming key and file;
//! - a key that turns on a ZooKeeper feature touching security, durability or membership that
//!   ferrozk does not have (a Java class to load, reconfiguration, read-only mode, local
//!   sessions, multiple addresses per member, ...) stops start-up too, all such keys
//!   named in one message: serving plaintext, unauthenticated or with another membership than
//!   the operator configured would be worse than not serving;
//! - a key that only tunes a JVM server (thread pools, Netty, JMX, GC pauses) is accepted and
//!   reported once at start-up as having no effect, and so is a key nobody knows (ZooKeeper
//!   keeps it silently as a `zookeeper.<key>` system property).

use super::ConfigError;
use std::collections::BTreeMap;

/// Where the settings come from: zoo.cfg's keys that are not core ones, as ZooKeeper stores
/// them (`zookeeper.<key>`).
pub(super) struct Props<'a> {
    map: &'a BTreeMap<String, String>,
    file: &'a str,
}

impl Props<'_> {
    /// Every key (without the `zookeeper.` prefix) and its value.
    pub(super) fn map_keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map
            .iter()
            .map(|(k, v)| (k.strip_prefix("zookeeper.").unwrap_or(k.as_str()), v.trim()))
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.map.get(&format!("zookeeper.{key}")).map(|v| v.trim())
    }

    pub(super) fn invalid(&self, key: &str, value: &str, why: &str) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            why: why.to_string(),
        }
    }

    /// A whole number of at least `min`.
    pub(super) fn num(&self, key: &str, default: u64, min: u64) -> Result<u64, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n >= min => Ok(n),
                Ok(_) => Err(self.invalid(key, v, &format!("must be at least {min}"))),
                Err(_) => Err(self.invalid(key, v, "not a whole number")),
            },
        }
    }

    /// `true`/`false` as Java's Boolean.parseBoolean reads them, refusing anything else
    /// (Java would read a misspelt value as false).
    pub(super) fn boolean(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(self.invalid(key, v, "must be true or false")),
        }
    }

    /// `yes`/`no` keys (forceSync, skipACL).
    fn yes_no(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("yes") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("no") => Ok(false),
            Some(v) => Err(self.invalid(key, v, "must be yes or no")),
        }
    }

    fn port(&self, key: &str, default: u16) -> Result<u16, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<u16>()
                .map_err(|_| self.invalid(key, v, "not a port number")),
        }
    }

    pub(super) fn text(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_string)
    }
}

/// How snapshots are compressed (`snapshot.compression.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotCompression {
    #[default]
    None,
    Gzip,
    Snappy,
}

/// The AdminServer's keys.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// `admin.enableServer` (true).
    pub enabled: bool,
    /// `admin.serverAddress` (0.0.0.0) and `admin.serverPort` (8080).
    pub address: String,
    pub port: u16,
    /// `admin.commandURL` (/commands), always starting with '/'.
    pub command_url: String,
    /// `admin.rateLimiterIntervalInMS` (300000): the least time between two snapshot or
    /// restore commands.
    pub rate_limit_ms: u64,
    /// `admin.snapshot.enabled` and `admin.restore.enabled` (true).
    pub snapshot_enabled: bool,
    pub restore_enabled: bool,
}

/// The metrics provider's keys.
#[derive(Debug, Clone)]
pub struct MetricsSettings {
    /// `metricsProvider.className`: ZooKeeper's Prometheus provider, or none.
    pub prometheus: bool,
    /// `metricsProvider.httpHost` (0.0.0.0) and `metricsProvider.httpPort` (7000; none when
    /// only `metricsProvider.httpsPort` is set, as in ZooKeeper 3.10).
    pub host: String,
    pub port: Option<u16>,
    /// `metricsProvider.httpsPort` (ZooKeeper 3.10) with the `metricsProvider.ssl.*` stores.
    pub https: Option<super::tls::MetricsTls>,
}

/// The typed settings (see the module's header for what happens to other keys).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `forceSync` (yes): fsync the txn log before acknowledging.
    pub force_sync: bool,
    /// `preAllocSize` in KiB (65536): the txn log file grows by this much at a time.
    pub pre_alloc_kib: u64,
    /// `snapCount` (100000, at least 2): txns between snapshots (randomised by half).
    pub snap_count: u64,
    /// `maxBatchSize` (1000): the most txns written with one fsync.
    pub max_batch_size: usize,
    /// `flushDelay` in ms (0): how long the log writer waits to gather a batch.
    pub flush_delay_ms: u64,
    /// `fsync.warningthresholdms` (1000): an fsync slower than this is logged.
    pub fsync_warning_ms: u64,
    /// `autopurge.snapRetainCount` (3, at least 3) and `autopurge.purgeInterval` in hours
    /// (0: off).
    pub snap_retain_count: usize,
    pub purge_interval_hours: u64,
    pub snapshot_compression: SnapshotCompression,
    /// `ferrozk.truncateCorruptLog` (no): start by cutting a txn log at its first corrupt
    /// record instead of refusing to start.
    pub truncate_corrupt_log: bool,
    /// `globalOutstandingLimit` (1000): requests one connection may have in flight.
    pub outstanding_limit: usize,
    /// `ferrozk.maxClientQueueBytes` (64 MiB, at least 2 x jute.maxbuffer): unread reply
    /// bytes a connection may hold before it is closed.
    pub max_client_queue_bytes: usize,
    /// `nio.sessionlessCnxnTimeout` in ms (10000): time allowed for a handshake.
    pub handshake_timeout_ms: u64,
    /// `skipACL` (no), `DigestAuthenticationProvider.superDigest`, `enforceQuota` (false).
    pub skip_acl: bool,
    /// `reconfigEnabled` (false): dynamic reconfiguration (the reconfig op, versioned
    /// configurations, dynamic config files).
    pub reconfig_enabled: bool,
    /// `multiAddress.enabled` (false): `server.N` lines may list several addresses.
    pub multi_address: bool,
    /// `multiAddress.reachabilityCheckEnabled` (true) and `...TimeoutMs` (1000): how long
    /// an address of a server with several may take to answer before the next is tried.
    pub reachability_check: bool,
    pub reachability_timeout_ms: u64,
    /// `observerMasterPort` (0: off). On a follower, the port observers may sync from; on an
    /// observer, the port it dials on the voters to sync from one of them.
    pub observer_master_port: u16,
    pub super_digest: Option<String>,
    pub enforce_quota: bool,
    /// `4lw.commands.whitelist`: the words allowed besides srvr.
    pub four_letter_words: Option<String>,
    pub admin: AdminSettings,
    pub metrics: MetricsSettings,
    /// The client port's TLS (`secureClientPort`, `client.portUnification`, `ssl.*`).
    pub client_tls: Option<super::tls::ClientTls>,
    /// TLS between members (`sslQuorum`, `portUnification`, `ssl.quorum.*`).
    pub quorum_tls: Option<super::tls::QuorumTls>,
    /// HTTPS for the AdminServer (`admin.forceHttps`, `admin.portUnification`).
    pub admin_tls: Option<super::tls::AdminTls>,
    pub x509: super::tls::X509Settings,
    /// SASL on the client port, the `sasl` scheme and enforced authentication.
    pub sasl: super::sasl::SaslSettings,
    /// `localSessionsEnabled` (false): an ensemble member keeps the sessions its clients
    /// open to itself, without a txn, until one creates an ephemeral node.
    pub local_sessions: bool,
    /// `localSessionsUpgradingEnabled` (false): a local session that creates an ephemeral
    /// node becomes a global one; without it the create fails (EPHEMERALONLOCALSESSION).
    pub local_sessions_upgrading: bool,
    /// `-Dreadonlymode.enabled=true` among the JVM flags (false), as ZooKeeper reads it: a
    /// member cut off from its quorum serves read-only clients.
    pub read_only_mode: bool,
}

impl Settings {
    pub(super) fn parse(
        map: &BTreeMap<String, String>,
        jvm: &BTreeMap<String, String>,
        file: &str,
        max_buffer: usize,
        ensemble: bool,
    ) -> Result<Settings, ConfigError> {
        let p = Props { map, file };
        let compression = match p.get("snapshot.compression.method") {
            None => SnapshotCompression::None,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "" => SnapshotCompression::None,
                "gz" => SnapshotCompression::Gzip,
                "snappy" => SnapshotCompression::Snappy,
                _ => {
                    return Err(p.invalid(
                        "snapshot.compression.method",
                        v,
                        "must be gz, snappy or empty",
                    ))
                }
            },
        };
        let mut command_url = p.text("admin.commandURL").unwrap_or("/commands".into());
        if !command_url.starts_with('/') {
            command_url.insert(0, '/');
        }
        let prometheus = match p.get("metricsProvider.className") {
            None => false,
            Some(c) if c.ends_with("PrometheusMetricsProvider") => true,
            Some(c) => {
                return Err(p.invalid(
                    "metricsProvider.className",
                    c,
                    "only ZooKeeper's PrometheusMetricsProvider is supported",
                ))
            }
        };
        let (client_tls, x509) = super::tls::parse(&p)?;
        let metrics_https = if prometheus {
            super::tls::parse_metrics(&p)?
        } else {
            None
        };
        // As ZooKeeper: the quorum's TLS keys matter only to an ensemble member, and the
        // AdminServer's only when it runs.
        let quorum_tls = if ensemble {
            super::tls::parse_quorum(&p)?
        } else {
            None
        };
        let admin_tls = if p.boolean("admin.enableServer", true)? {
            super::tls::parse_admin(&p)?
        } else {
            None
        };
        let sasl = super::sasl::parse(&p, jvm, x509.enabled, ensemble)?;
        Ok(Settings {
            sasl,
            admin_tls,
            client_tls,
            quorum_tls,
            x509,
            force_sync: p.yes_no("forceSync", true)?,
            pre_alloc_kib: p.num("preAllocSize", 65536, 1)?,
            snap_count: p.num("snapCount", 100_000, 0)?.max(2),
            max_batch_size: p.num("maxBatchSize", 1000, 1)? as usize,
            flush_delay_ms: p.num("flushDelay", 0, 0)?,
            fsync_warning_ms: p.num("fsync.warningthresholdms", 1000, 0)?,
            // As ZooKeeper: fewer than 3 is raised to 3.
            snap_retain_count: p.num("autopurge.snapRetainCount", 3, 0)?.max(3) as usize,
            purge_interval_hours: p.num("autopurge.purgeInterval", 0, 0)?,
            snapshot_compression: compression,
            truncate_corrupt_log: p.yes_no("ferrozk.truncateCorruptLog", false)?,
            outstanding_limit: p.num("globalOutstandingLimit", 1000, 1)? as usize,
            max_client_queue_bytes: (p.num("ferrozk.maxClientQueueBytes", 64 << 20, 1)? as usize)
                .max(2 * max_buffer),
            handshake_timeout_ms: p.num("nio.sessionlessCnxnTimeout", 10_000, 1)?,
            skip_acl: p.yes_no("skipACL", false)?,
            super_digest: p.text("DigestAuthenticationProvider.superDigest"),
            enforce_quota: p.boolean("enforceQuota", false)?,
            local_sessions: p.boolean("localSessionsEnabled", false)?,
            reconfig_enabled: p.boolean("reconfigEnabled", false)?,
            multi_address: p.boolean("multiAddress.enabled", false)?,
            reachability_check: p.boolean("multiAddress.reachabilityCheckEnabled", true)?,
            reachability_timeout_ms: p.num("multiAddress.reachabilityCheckTimeoutMs", 1000, 0)?,
            observer_master_port: observer_master_port(&p)?,
            local_sessions_upgrading: p.boolean("localSessionsUpgradingEnabled", false)?,
            // Only the JVM property, as ZooKeeper reads it (Boolean.getBoolean: "true" in any
            // case); the zoo.cfg key is reported as having no effect.
            read_only_mode: jvm
                .get("readonlymode.enabled")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            four_letter_words: p.text("4lw.commands.whitelist"),
            admin: AdminSettings {
                enabled: p.boolean("admin.enableServer", true)?,
                address: p.text("admin.serverAddress").unwrap_or("0.0.0.0".into()),
                port: p.port("admin.serverPort", 8080)?,
                command_url,
                rate_limit_ms: p.num("admin.rateLimiterIntervalInMS", 300_000, 0)?,
                snapshot_enabled: p.boolean("admin.snapshot.enabled", true)?,
                restore_enabled: p.boolean("admin.restore.enabled", true)?,
            },
            metrics: MetricsSettings {
                prometheus,
                host: p
                    .text("metricsProvider.httpHost")
                    .unwrap_or("0.0.0.0".into()),
                port: match (p.get("metricsProvider.httpPort"), &metrics_https) {
                    (None | Some(""), Some(_)) => None,
                    _ => Some(p.port("metricsProvider.httpPort", 7000)?),
                },
                https: metrics_https,
            },
        })
    }
}

/// Keys ferrozk reads itself (outside this module too: logging).
const KNOWN: &[&str] = &[
    "forceSync",
    "preAllocSize",
    "snapCount",
    "maxBatchSize",
    "flushDelay",
    "fsync.warningthresholdms",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "snapshot.compression.method",
    "ferrozk.truncateCorruptLog",
    "globalOutstandingLimit",
    "ferrozk.maxClientQueueBytes",
    "nio.sessionlessCnxnTimeout",
    "skipACL",
    "DigestAuthenticationProvider.superDigest",
    "enforceQuota",
    "4lw.commands.whitelist",
    "admin.enableServer",
    "admin.serverAddress",
    "admin.serverPort",
    "admin.commandURL",
    "admin.rateLimiterIntervalInMS",
    "admin.snapshot.enabled",
    "admin.restore.enabled",
    "metricsProvider.className",
    "metricsProvider.httpHost",
    "metricsProvider.httpPort",
    "metricsProvider.httpsPort",
    "metricsProvider.ssl.keyStore.location",
    "metricsProvider.ssl.keyStore.password",
    "metricsProvider.ssl.keyStore.passwordPath",
    "metricsProvider.ssl.keyStore.type",
    "metricsProvider.ssl.trustStore.location",
    "metricsProvider.ssl.trustStore.password",
    "metricsProvider.ssl.trustStore.passwordPath",
    "metricsProvider.ssl.trustStore.type",
    "metricsProvider.ssl.need.client.auth",
    "metricsProvider.ssl.want.client.auth",
    "metricsProvider.ssl.enabledProtocols",
    "metricsProvider.ssl.ciphersuites",
    "secureClientPort",
    "secureClientPortAddress",
    "client.portUnification",
    "client.certReload",
    "ssl.keyStore.location",
    "ssl.keyStore.password",
    "ssl.keyStore.passwordPath",
    "ssl.keyStore.type",
    "ssl.trustStore.location",
    "ssl.trustStore.password",
    "ssl.trustStore.passwordPath",
    "ssl.trustStore.type",
    "ssl.protocol",
    "ssl.enabledProtocols",
    "ssl.ciphersuites",
    "ssl.clientAuth",
    "ssl.hostnameVerification",
    "ssl.clientHostnameVerification",
    "ssl.authProvider",
    "X509AuthenticationProvider.superUser",
    "sslQuorum",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "admin.forceHttps",
    "admin.portUnification",
    "admin.needClientAuth",
    "ssl.quorum.keyStore.location",
    "ssl.quorum.keyStore.password",
    "ssl.quorum.keyStore.passwordPath",
    "ssl.quorum.keyStore.type",
    "ssl.quorum.trustStore.location",
    "ssl.quorum.trustStore.password",
    "ssl.quorum.trustStore.passwordPath",
    "ssl.quorum.trustStore.type",
    "ssl.quorum.protocol",
    "ssl.quorum.enabledProtocols",
    "ssl.quorum.ciphersuites",
    "ssl.quorum.clientAuth",
    "ssl.quorum.hostnameVerification",
    "ssl.quorum.handshakeDetectionTimeoutMillis",
    "ssl.quorum.clientHostnameVerification",
    "ssl.crl",
    "ssl.ocsp",
    "superUser",
    "sasl.serverconfig",
    "quorum.auth.enableSasl",
    "quorum.auth.learnerRequireSasl",
    "quorum.auth.serverRequireSasl",
    "quorum.auth.learner.saslLoginContext",
    "quorum.auth.server.saslLoginContext",
    "quorum.auth.kerberos.servicePrincipal",
    "kerberos.removeHostFromPrincipal",
    "kerberos.removeRealmFromPrincipal",
    "kerberos.canonicalizeHostNames",
    "letAnySaslUserDoX",
    "SASLAuthenticationProvider.superPassword",
    "enforce.auth.schemes",
    "requireClientAuthScheme",
    "ssl.quorum.crl",
    "ssl.quorum.ocsp",
    "extendedTypesEnabled",
    "observerMasterPort",
    "znode.container.checkIntervalMs",
    "ferrozk.log.level",
    "ferrozk.log.format",
];

/// ZooKeeper keys that only tune a Java server: accepted, with no effect here.
const TUNING: &[&str] = &[
    "ssl.sslProvider",
    "ssl.allowReverseDnsLookup",
    "ssl.handshakeDetectionTimeoutMillis",
    "ssl.quorum.allowReverseDnsLookup",
    "fips-mode",
    "netty.server.outstandingHandshake.limit",
    "netty.server.earlyDropSecureConnectionHandshakes",
    "serverCnxnFactory",
    "clientCnxnSocket",
    "cnxTimeout",
    "electionPortBindRetry",
    "tcpKeepAlive",
    "clientTcpKeepAlive",
    "clientPortListenBacklog",
    "maxCnxns",
    "connectToLearnerMasterLimit",
    "quorum.cnxn.threads.size",
    "syncEnabled",
    "leaderServes",
    "jute.maxbuffer.extrasize",
    "zookeeper.jmx.log4j.disable",
    "jvm.pause.info-threshold.ms",
    "jvm.pause.warn-threshold.ms",
    "jvm.pause.sleep.time.ms",
    "jvm.pause.monitor",
    "netty.server.outstandingHandshake.limit",
    "nio.numSelectorThreads",
    "nio.numWorkerThreads",
    "nio.directBufferBytes",
    "nio.shutdownTimeout",
    "commitProcessor.numWorkerThreads",
    "commitProcessor.maxReadBatchSize",
    "commitProcessor.maxCommitBatchSize",
    "fastleader.minNotificationInterval",
    "fastleader.maxNotificationInterval",
    "learner.asyncSending",
    "learner.closeSocketAsync",
    "leader.closeSocketAsync",
    "requestThrottleLimit",
    "requestThrottleStallTime",
    "requestThrottleDropStale",
    "requestStaleLatencyCheck",
    "requestStaleConnectionCheck",
    "throttledOpWaitTime",
    "largeRequestMaxBytes",
    "largeRequestThreshold",
    "digest.enabled",
    "snapshotSizeFactor",
    "txnLogSizeLimitInKb",
    "maxConcurrentSnapSyncs",
    "maxConcurrentDiffSyncs",
    "metricsProvider.exportJvmInfo",
    "metricsProvider.numWorkerThreads",
    "metricsProvider.maxQueueSize",
    "metricsProvider.workerShutdownTimeoutMs",
    "admin.idleTimeout",
    "audit.enable",
    "audit.impl.class",
    "watchManagerName",
];

/// `observerMasterPort` as ZooKeeper reads it: zero or less (or no key) leaves it off.
fn observer_master_port(p: &Props) -> Result<u16, ConfigError> {
    let Some(v) = p.get("observerMasterPort") else {
        return Ok(0);
    };
    match v.trim().parse::<i64>() {
        Ok(n) if n <= 0 => Ok(0),
        Ok(n) if n <= u16::MAX as i64 => Ok(n as u16),
        _ => Err(p.invalid("observerMasterPort", v, "not a port number")),
    }
}

/// Why a key, with this value, asks for something ferrozk does not have; `None` when the
/// value leaves the feature off (or the key is not such a key).
fn unsupported(key: &str, value: &str) -> Option<&'static str> {
    let on = |v: &str| v.trim().eq_ignore_ascii_case("true");
    let k = key;
    Some(match k {
        "ssl.context.supplier.class" | "ssl.quorum.context.supplier.class" => {
            "a Java SSLContext supplier class cannot run in ferrozk"
        }
        "ssl.authProvider" if !value.trim().eq_ignore_ascii_case("x509") => {
            "TLS authentication providers other than x509 are not supported"
        }
        _ if k.starts_with("authProvider.") => {
            // The digest, ip, x509 and SASL providers are built in; naming SASL registers the
            // `sasl` scheme, naming the others changes nothing.
            let v = value.trim();
            if v.ends_with(".DigestAuthenticationProvider")
                || v.ends_with(".IPAuthenticationProvider")
                || v.ends_with(".X509AuthenticationProvider")
                || v.ends_with(".SASLAuthenticationProvider")
            {
                return None;
            }
            "authentication providers other than ZooKeeper's digest, ip, x509 and SASL ones are Java classes ferrozk cannot run"
        }
        "DigestAuthenticationProvider.digestAlg" => {
            let v = value.trim();
            if v.eq_ignore_ascii_case("SHA1") || v.eq_ignore_ascii_case("SHA-1") {
                return None;
            }
            "digest schemes other than SHA1 are not supported yet"
        }
        "snapshot.trust.empty" if on(value) => {
            "starting without a snapshot on a non-empty log is not supported"
        }
        _ => return None,
    })
}

/// What start-up must say about the non-core keys: the keys that stop it (with why), and the
/// keys that have no effect (tuning of a Java server, or unknown).
pub(super) fn review(map: &BTreeMap<String, String>) -> (Vec<String>, Vec<String>) {
    let mut refused = Vec::new();
    let mut ignored = Vec::new();
    for (full, value) in map {
        let key = full.strip_prefix("zookeeper.").unwrap_or(full);
        if let Some(why) = unsupported(key, value) {
            refused.push(format!("{key}={value} ({why})"));
        } else if key == "readonlymode.enabled" {
            ignored.push(format!(
                "{key} in zoo.cfg has no effect, as in ZooKeeper: read-only mode is the JVM property -Dreadonlymode.enabled=true (SERVER_JVMFLAGS or java.env)"
            ));
        } else if key == "requireClientAuthScheme" {
            ignored.push(format!(
                "{key} is read by no ZooKeeper release (3.6 to 3.9) and enforces nothing; set sessionRequireClientSASLAuth=true or enforce.auth.enabled=true with enforce.auth.schemes"
            ));
        } else if KNOWN.contains(&key) || key.starts_with("superUser.") {
        } else if TUNING.contains(&key) {
            ignored.push(format!(
                "{key} tunes a Java server and has no effect in ferrozk"
            ));
        } else if !key.starts_with("authProvider.") && !is_off_switch(key) {
            ignored.push(format!(
                "{key} is not a setting ferrozk knows; it has no effect"
            ));
        }
    }
    (refused, ignored)
}

/// A feature key set to leave the feature off: nothing to say.
fn is_off_switch(key: &str) -> bool {
    matches!(
        key,
        "client.portUnification"
            | "portUnification"
            | "sslQuorum"
            | "sslQuorumReloadCertFiles"
            | "client.certReload"
            | "admin.forceHttps"
            | "admin.portUnification"
            | "admin.needClientAuth"
            | "enforce.auth.enabled"
            | "sessionRequireClientSASLAuth"
            | "allowSaslFailedClients"
            | "quorum.auth.enableSasl"
            | "quorum.auth.learnerRequireSasl"
            | "quorum.auth.serverRequireSasl"
            | "reconfigEnabled"
            | "localSessionsEnabled"
            | "localSessionsUpgradingEnabled"
            | "multiAddress.enabled"
            | "multiAddress.reachabilityCheckEnabled"
            | "multiAddress.reachabilityCheckTimeoutMs"
            | "snapshot.trust.empty"
            | "DigestAuthenticationProvider.digestAlg"
    )
}
