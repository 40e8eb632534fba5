//! `zoo.cfg` -> a typed, validated [`Config`], with ZooKeeper's defaults and its rule for keys it
//! does not know (they are kept as `zookeeper.<key>` system properties, where later lookups of
//! options such as `extendedTypesEnabled` find them).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

mod properties;
mod quorum;
mod sasl;
mod settings;
mod tls;

pub use properties::parse_properties;
use properties::parse_size;
use quorum::is_membership_key;
pub use quorum::{
    parse_server, version_from_file_name, write_dynamic_config, Membership, QuorumConfig,
    QuorumServer,
};
pub use sasl::{
    jvm_properties, server_jvm_properties, KerberosSettings, SaslServerSettings, SaslSettings,
};
pub use settings::{AdminSettings, MetricsSettings, Settings, SnapshotCompression};
pub use tls::{
    AdminTls, ClientAuth, ClientTls, MetricsTls, QuorumTls, StoreSettings, TlsCommon, X509Settings,
};

/// ZooKeeper's `ZooKeeperServer.DEFAULT_TICK_TIME`.
pub const DEFAULT_TICK_TIME: u32 = 3000;
/// ZooKeeper's default `jute.maxbuffer`: 1 MiB - 1.
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {file}: {err}")]
    Io { file: String, err: std::io::Error },
    #[error("invalid value {value:?} for {key} in {file}: {why}")]
    Invalid {
        file: String,
        key: String,
        value: String,
        why: String,
    },
    #[error("{key} is not set in {file}")]
    Missing { file: String, key: String },
    #[error("{file} asks for what ferrozk does not support yet, so it will not start: {}", keys.join("; "))]
    Unsupported { file: String, keys: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub tick_time: u32,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    /// `clientPort`; None for a server that takes only TLS clients (`secureClientPort`).
    pub client_port: Option<u16>,
    pub client_port_address: Option<IpAddr>,
    pub max_client_cnxns: u32,
    pub min_session_timeout: u32,
    pub max_session_timeout: u32,
    pub server_id: u64,
    pub extended_types_enabled: bool,
    pub container_check_interval_ms: u64,
    pub max_buffer: usize,
    /// Keys ZooKeeper does not parse itself, stored as it stores them: `zookeeper.<key>`.
    pub system_properties: BTreeMap<String, String>,
    /// The other keys ferrozk reads, typed and validated.
    pub settings: Settings,
    /// Keys that have no effect here (tuning of a Java server, or unknown): logged at start.
    pub ignored: Vec<String>,
    /// The ensemble, when zoo.cfg lists `server.N` lines.
    pub quorum: Option<QuorumConfig>,
}

impl Config {
    /// The plaintext client port's address (None on a TLS-only server).
    pub fn client_address(&self) -> Option<SocketAddr> {
        let ip = self
            .client_port_address
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Some(SocketAddr::new(ip, self.client_port?))
    }

    /// Where `srvr` and the other four-letter words can be asked: the plaintext port, or on a
    /// TLS-only server the secure one (with TLS), the unspecified address as loopback.
    pub fn local_client_address(&self) -> Option<(SocketAddr, bool)> {
        let (mut addr, tls) = match self.client_address() {
            Some(a) => (a, false),
            None => {
                let t = self.settings.client_tls.as_ref()?;
                let ip = t
                    .secure_address
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                (SocketAddr::new(ip, t.secure_port?), true)
            }
        };
        if addr.ip().is_unspecified() {
            addr.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        Some((addr, tls))
    }

    /// True when zoo.cfg makes this server a member of a replicated ensemble (more than one
    /// participant, or `standaloneEnabled=false`).
    pub fn is_ensemble(&self) -> bool {
        self.quorum
            .as_ref()
            .is_some_and(|q| q.participants() > 1 || !q.standalone_enabled)
    }

    /// A system property set through zoo.cfg (`key` without the `zookeeper.` prefix).
    pub fn property(&self, key: &str) -> Option<&str> {
        self.system_properties
            .get(&format!("zookeeper.{key}"))
            .map(|s| s.as_str())
    }

    /// Reads zoo.cfg, with the JVM properties zkServer.sh would pass the server
    /// (`SERVER_JVMFLAGS`, `JVMFLAGS`, the configuration directory's `java.env`).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Io {
            file: path.display().to_string(),
            err,
        })?;
        Self::parse_with_jvm(path, &text, &jvm_of(path))
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        Self::parse_with_jvm(path, text, &BTreeMap::new())
    }

    /// zoo.cfg's text, with the JVM's `-D` properties (zoo.cfg's keys win over
    /// `zookeeper.*` ones, as ZooKeeper sets them after the JVM starts).
    pub fn parse_with_jvm(
        path: &Path,
        text: &str,
        jvm: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        Self::parse_reviewed(path, text, jvm).and_then(|(cfg, refused)| {
            if refused.is_empty() {
                Ok(cfg)
            } else {
                Err(ConfigError::Unsupported {
                    file: path.display().to_string(),
                    keys: refused,
                })
            }
        })
    }

    /// Like [`Config::load`], but the settings ferrozk does not support are returned beside
    /// the configuration instead of refusing it (for `migrate-check`).
    pub fn load_reviewed(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Io {
            file: path.display().to_string(),
            err,
        })?;
        Self::parse_reviewed(path, &text, &jvm_of(path))
    }

    fn parse_reviewed(
        path: &Path,
        text: &str,
        jvm: &BTreeMap<String, String>,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let file = path.display().to_string();
        let props = parse_properties(text);
        let invalid = |key: &str, value: &str, why: &str| ConfigError::Invalid {
            file: file.clone(),
            key: key.to_string(),
            value: value.to_string(),
            why: why.to_string(),
        };
        let mut tick_time = DEFAULT_TICK_TIME;
        let mut data_dir = None;
        let mut data_log_dir = None;
        let mut client_port = None;
        let mut client_port_address = None;
        let mut max_client_cnxns = 60;
        let mut min_session_timeout: i64 = -1;
        let mut max_session_timeout: i64 = -1;
        let mut max_buffer = DEFAULT_MAX_BUFFER;
        let mut system_properties: BTreeMap<String, String> = jvm
            .iter()
            .filter(|(k, _)| k.starts_with("zookeeper."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut init_limit = None;
        let mut sync_limit = None;
        let mut standalone_enabled = true;
        let mut listen_all = false;
        let mut peer_type_observer = false;
        let mut dynamic_file: Option<PathBuf> = None;
        let mut static_membership: Vec<(String, String)> = Vec::new();
        for (key, value) in props {
            let int = |v: &str| -> Result<i64, ConfigError> {
                v.parse::<i64>()
                    .map_err(|_| invalid(&key, v, "not an integer"))
            };
            match key.as_str() {
                "dataDir" => data_dir = Some(PathBuf::from(&value)),
                "dataLogDir" => data_log_dir = Some(PathBuf::from(&value)),
                "clientPort" => {
                    let p = int(&value)?;
                    if !(0..=65535).contains(&p) {
                        return Err(invalid(&key, &value, "not a port number"));
                    }
                    client_port = Some(p as u16);
                }
                "clientPortAddress" => {
                    let ip = value
                        .parse::<IpAddr>()
                        .map_err(|_| invalid(&key, &value, "not an IP address"))?;
                    client_port_address = Some(ip);
                }
                "tickTime" => {
                    let t = int(&value)?;
                    if t <= 0 || t > i32::MAX as i64 {
                        return Err(invalid(&key, &value, "must be a positive number of ms"));
                    }
                    tick_time = t as u32;
                }
                "maxClientCnxns" => {
                    let n = int(&value)?;
                    if n < 0 || n > i32::MAX as i64 {
                        return Err(invalid(&key, &value, "must be 0 (no limit) or positive"));
                    }
                    max_client_cnxns = n as u32;
                }
                "minSessionTimeout" => min_session_timeout = int(&value)?,
                "maxSessionTimeout" => max_session_timeout = int(&value)?,
                "jute.maxbuffer" => {
                    let n =
                        parse_size(&value).ok_or_else(|| invalid(&key, &value, "not a size"))?;
                    if n == 0 {
                        return Err(invalid(&key, &value, "must be positive"));
                    }
                    max_buffer = n;
                }
                "initLimit" => init_limit = Some(int(&value)?),
                "syncLimit" => sync_limit = Some(int(&value)?),
                "standaloneEnabled" => standalone_enabled = value.eq_ignore_ascii_case("true"),
                "quorumListenOnAllIPs" => listen_all = value.eq_ignore_ascii_case("true"),
                "peerType" => {
                    peer_type_observer = match value.to_ascii_lowercase().as_str() {
                        "observer" => true,
                        "participant" => false,
                        _ => return Err(invalid(&key, &value, "must be participant or observer")),
                    }
                }
                "electionAlg" if value.trim() != "3" => {
                    return Err(invalid(&key, &value, "only electionAlg=3 exists"));
                }
                "dynamicConfigFile" => dynamic_file = Some(PathBuf::from(&value)),
                k if is_membership_key(k) || k == "version" => {
                    static_membership.push((key.clone(), value.clone()))
                }
                _ => {
                    system_properties.insert(format!("zookeeper.{key}"), value.clone());
                }
            }
        }
        let data_dir = data_dir.ok_or_else(|| ConfigError::Missing {
            file: file.clone(),
            key: "dataDir".into(),
        })?;
        let (membership, version) =
            read_membership(&file, dynamic_file.as_deref(), &static_membership)?;
        let Membership {
            servers,
            groups,
            mut weights,
        } = membership;
        let quorum = if servers.is_empty() {
            None
        } else {
            let my_id = std::fs::read_to_string(data_dir.join("myid"))
                .ok()
                .map(|t| {
                    t.trim()
                        .parse::<u64>()
                        .map_err(|_| invalid("myid", t.trim(), "not a server id"))
                })
                .transpose()?;
            if !groups.is_empty() {
                // As QuorumHierarchical: every participant in a group, weight 1 by default.
                for s in servers.values().filter(|s| !s.observer) {
                    if !groups.contains_key(&s.id) {
                        return Err(invalid(
                            &format!("group (server.{})", s.id),
                            "",
                            "every participant must be in a group",
                        ));
                    }
                    weights.entry(s.id).or_insert(1);
                }
            }
            let q = QuorumConfig {
                groups,
                weights,
                servers,
                init_limit: init_limit.unwrap_or(0).max(0) as u32,
                sync_limit: sync_limit.unwrap_or(0).max(0) as u32,
                standalone_enabled,
                quorum_listen_on_all_ips: listen_all,
                peer_type_observer,
                my_id,
                version,
                dynamic_file: dynamic_file.clone(),
            };
            if q.participants() > 1 || !standalone_enabled {
                match q.my_id {
                    None => {
                        return Err(invalid(
                            "myid",
                            &data_dir.join("myid").display().to_string(),
                            "the file is missing; a member of an ensemble needs it",
                        ))
                    }
                    Some(id) if !q.servers.contains_key(&id) => {
                        return Err(invalid(
                            "myid",
                            &id.to_string(),
                            "no server line has this id",
                        ))
                    }
                    _ => {}
                }
                for (k, v) in [("initLimit", init_limit), ("syncLimit", sync_limit)] {
                    if v.is_none() {
                        return Err(ConfigError::Missing {
                            file: file.clone(),
                            key: k.into(),
                        });
                    }
                }
            }
            // As ZooKeeper (QuorumPeerConfig.setupClientPort): a client address on this server's
            // own line must agree with clientPort/clientPortAddress, and then it is the one used.
            if let Some((addr, port)) = q
                .my_id
                .and_then(|id| q.servers.get(&id))
                .and_then(|s| s.client.clone())
            {
                let line_ip = match &addr {
                    Some(host) => Some(resolve(host, port).ok_or_else(|| {
                        invalid(
                            &format!("server.{}", q.my_id.unwrap_or(0)),
                            host,
                            "the client address does not resolve",
                        )
                    })?),
                    None => None,
                };
                if let Some(static_port) = client_port {
                    let static_ip = client_port_address.filter(|ip: &IpAddr| !ip.is_unspecified());
                    let differs = match static_ip {
                        Some(ip) => {
                            static_port != port
                                || line_ip.is_some_and(|l| l != ip)
                                || line_ip.is_none()
                        }
                        None => static_port != port,
                    };
                    if differs {
                        return Err(invalid(
                            "clientPort",
                            &format!("{}:{static_port}", static_ip.map(|i| i.to_string()).unwrap_or_else(|| "0.0.0.0".into())),
                            &format!(
                                "this server's line (server.{}) gives the client address {}:{port}; they must agree",
                                q.my_id.unwrap_or(0),
                                addr.as_deref().unwrap_or("0.0.0.0")
                            ),
                        ));
                    }
                }
                client_port = Some(port);
                if line_ip.is_some() {
                    client_port_address = line_ip;
                }
            }
            Some(q)
        };
        let min = if min_session_timeout < 0 {
            2 * tick_time as i64
        } else {
            min_session_timeout
        };
        let max = if max_session_timeout < 0 {
            20 * tick_time as i64
        } else {
            max_session_timeout
        };
        if min > max {
            return Err(invalid(
                "minSessionTimeout",
                &min.to_string(),
                "must not be larger than maxSessionTimeout",
            ));
        }
        if max > i32::MAX as i64 {
            return Err(invalid("maxSessionTimeout", &max.to_string(), "too large"));
        }
        let ensemble = quorum
            .as_ref()
            .is_some_and(|q| q.participants() > 1 || !q.standalone_enabled);
        let settings = Settings::parse(&system_properties, jvm, &file, max_buffer, ensemble)?;
        // Several addresses per server need multiAddress.enabled (zoo.cfg, or the JVM's
        // zookeeper.multiAddress.enabled), as in ZooKeeper.
        if let Some(s) = quorum
            .as_ref()
            .and_then(|q| q.servers.values().find(|s| s.addrs.len() > 1))
        {
            if !settings.multi_address {
                return Err(invalid(
                    &format!("server.{}", s.id),
                    "",
                    "lists several addresses: set multiAddress.enabled=true",
                ));
            }
        }
        // As ZooKeeper: a client port, a secure client port, or both.
        let secure = settings
            .client_tls
            .as_ref()
            .is_some_and(|t| t.secure_port.is_some());
        if client_port.is_none() && !secure {
            return Err(ConfigError::Missing {
                file: file.clone(),
                key: "clientPort".into(),
            });
        }
        let (refused, ignored) = settings::review(&system_properties);
        let mut cfg = Config {
            file: path.to_path_buf(),
            tick_time,
            data_log_dir: data_log_dir.unwrap_or_else(|| data_dir.clone()),
            data_dir,
            client_port,
            client_port_address,
            max_client_cnxns,
            min_session_timeout: min as u32,
            max_session_timeout: max as u32,
            // A member of an ensemble is the server its myid names (session ids carry it).
            server_id: quorum
                .as_ref()
                .filter(|q| q.participants() > 1 || !q.standalone_enabled)
                .and_then(|q| q.my_id)
                .unwrap_or(0),
            extended_types_enabled: false,
            container_check_interval_ms: 60_000,
            max_buffer,
            system_properties,
            settings,
            ignored,
            quorum,
        };
        if let Some(v) = cfg.property("extendedTypesEnabled") {
            cfg.extended_types_enabled = v.eq_ignore_ascii_case("true");
        }
        if let Some(v) = cfg.property("znode.container.checkIntervalMs") {
            let v = v.to_string();
            cfg.container_check_interval_ms =
                v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    invalid(
                        "znode.container.checkIntervalMs",
                        &v,
                        "not a positive integer",
                    )
                })?;
        }
        Ok((cfg, refused))
    }
}

/// Resolves a host named in a server line's client part, as ZooKeeper's InetSocketAddress does.
fn resolve(host: &str, port: u16) -> Option<IpAddr> {
    use std::net::ToSocketAddrs;
    (host, port).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

/// The membership and its version, as QuorumPeerConfig reads them: from the file that
/// `dynamicConfigFile` names (only membership keys; no `version` line, the version is the hex
/// suffix of its name) or else from zoo.cfg itself (the 3.4 form, where a `version=` line counts).
fn read_membership(
    file: &str,
    dynamic: Option<&Path>,
    static_keys: &[(String, String)],
) -> Result<(Membership, u64), ConfigError> {
    let mut m = Membership::default();
    let invalid = |file: &str, key: &str, value: &str, why: &str| ConfigError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        value: value.to_string(),
        why: why.to_string(),
    };
    let Some(path) = dynamic else {
        let mut version = 0;
        for (k, v) in static_keys {
            if k == "version" {
                version = u64::from_str_radix(v.trim(), 16)
                    .map_err(|_| invalid(file, k, v, "not a hex config version"))?;
            } else {
                m.add(k, v).map_err(|why| invalid(file, k, v, &why))?;
            }
        }
        return Ok((m, version));
    };
    if let Some((k, v)) = static_keys.iter().find(|(k, _)| is_membership_key(k)) {
        return Err(invalid(
            file,
            k,
            v,
            "must be in the separate dynamic config file, as dynamicConfigFile is set",
        ));
    }
    let dyn_file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Io {
        file: dyn_file.clone(),
        err,
    })?;
    for (k, v) in parse_properties(&text) {
        if k == "version" {
            return Err(invalid(
                &dyn_file,
                &k,
                &v,
                "a dynamic config file has no version line; its version is the hex suffix of its name",
            ));
        }
        if !is_membership_key(&k) {
            return Err(invalid(
                &dyn_file,
                &k,
                &v,
                "a dynamic config file holds only server.N, group.N and weight.N lines",
            ));
        }
        m.add(&k, &v)
            .map_err(|why| invalid(&dyn_file, &k, &v, &why))?;
    }
    Ok((m, version_from_file_name(path).unwrap_or(0)))
}

/// The server's JVM properties for the zoo.cfg at `path`.
fn jvm_of(path: &Path) -> BTreeMap<String, String> {
    server_jvm_properties(path.parent().unwrap_or(Path::new(".")))
}

#[cfg(test)]
mod tests;
