//! `zoo.cfg` -> a typed, validated [`Config`], with ZooKeeper's defaults and its rule for keys it
//! does not know (they are kept as `zookeeper.<key>` system properties, where later lookups of
//! options such as `extendedTypesEnabled` find them).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

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
}

#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub tick_time: u32,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub client_port: u16,
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
    /// The ensemble, when zoo.cfg lists `server.N` lines.
    pub quorum: Option<QuorumConfig>,
}

/// One `server.N=host:quorumPort:electionPort[:participant|observer][;[clientAddr:]clientPort]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    pub id: u64,
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub observer: bool,
    pub client: Option<(Option<String>, u16)>,
}

/// The quorum settings of zoo.cfg (QuorumPeerConfig).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumConfig {
    pub servers: BTreeMap<u64, QuorumServer>,
    pub init_limit: u32,
    pub sync_limit: u32,
    pub standalone_enabled: bool,
    pub quorum_listen_on_all_ips: bool,
    pub peer_type_observer: bool,
    /// Hierarchical quorums (`group.N=sid:sid...`, `weight.sid=w`): each participant's group
    /// and weight. Empty for a majority of participants.
    pub groups: BTreeMap<u64, u64>,
    pub weights: BTreeMap<u64, u64>,
    /// From dataDir/myid, when the file exists.
    pub my_id: Option<u64>,
}

impl QuorumConfig {
    pub fn participants(&self) -> usize {
        self.servers.values().filter(|s| !s.observer).count()
    }

    /// The /zookeeper/config text, as QuorumMaj.toString writes it (version 0).
    pub fn config_text(&self) -> String {
        let mut out = String::new();
        for s in self.servers.values() {
            out.push_str(&format!(
                "server.{}={}:{}:{}:{}",
                s.id,
                s.host,
                s.quorum_port,
                s.election_port,
                if s.observer {
                    "observer"
                } else {
                    "participant"
                }
            ));
            if let Some((addr, port)) = &s.client {
                out.push_str(&format!(";{}:{port}", addr.as_deref().unwrap_or("0.0.0.0")));
            }
            out.push('\n');
        }
        if !self.groups.is_empty() {
            let mut by_group: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
            for (sid, gid) in &self.groups {
                by_group.entry(*gid).or_default().push(*sid);
            }
            for (gid, sids) in by_group {
                let list: Vec<String> = sids.iter().map(|s| s.to_string()).collect();
                out.push_str(&format!("group.{gid}={}\n", list.join(":")));
            }
            for (sid, w) in &self.weights {
                out.push_str(&format!("weight.{sid}={w}\n"));
            }
        }
        out.push_str("version=0");
        out
    }
}

/// Parses the value of a `server.N` line.
pub fn parse_server(id: u64, value: &str) -> Result<QuorumServer, String> {
    let (addrs, client) = match value.split_once(';') {
        Some((a, c)) => (a.trim(), Some(c.trim())),
        None => (value.trim(), None),
    };
    // `[v6]:p:p` or `host:p:p`, optionally `:participant|observer`.
    let (host, rest) = if let Some(r) = addrs.strip_prefix('[') {
        let (h, rest) = r.split_once(']').ok_or("unclosed [ in the address")?;
        (
            h.to_string(),
            rest.strip_prefix(':').ok_or("no port after the address")?,
        )
    } else {
        let (h, rest) = addrs
            .split_once(':')
            .ok_or("expected host:quorumPort:electionPort")?;
        (h.to_string(), rest)
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    let parts: Vec<&str> = rest.split(':').collect();
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{p:?} is not a port"))
    };
    let (quorum_port, election_port, observer) = match parts.as_slice() {
        [q, e] => (port(q)?, port(e)?, false),
        [q, e, t] => (
            port(q)?,
            port(e)?,
            match t.trim().to_ascii_lowercase().as_str() {
                "participant" => false,
                "observer" => true,
                other => return Err(format!("unknown server type {other:?}")),
            },
        ),
        _ => return Err("expected host:quorumPort:electionPort[:type]".into()),
    };
    let client = match client {
        None | Some("") => None,
        Some(c) => match c.rsplit_once(':') {
            Some((a, p)) => Some((
                Some(a.trim_matches(|c| c == '[' || c == ']').to_string()),
                port(p)?,
            )),
            None => Some((None, port(c)?)),
        },
    };
    Ok(QuorumServer {
        id,
        host,
        quorum_port,
        election_port,
        observer,
        client,
    })
}

impl Config {
    pub fn client_address(&self) -> SocketAddr {
        let ip = self
            .client_port_address
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        SocketAddr::new(ip, self.client_port)
    }

    /// A system property set through zoo.cfg (`key` without the `zookeeper.` prefix).
    pub fn property(&self, key: &str) -> Option<&str> {
        self.system_properties
            .get(&format!("zookeeper.{key}"))
            .map(|s| s.as_str())
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Io {
            file: path.display().to_string(),
            err,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
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
        let mut system_properties = BTreeMap::new();
        let mut servers = BTreeMap::new();
        let mut init_limit = None;
        let mut sync_limit = None;
        let mut standalone_enabled = true;
        let mut listen_all = false;
        let mut peer_type_observer = false;
        let mut groups: BTreeMap<u64, u64> = BTreeMap::new();
        let mut weights: BTreeMap<u64, u64> = BTreeMap::new();
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
                k if k.starts_with("server.") => {
                    let id: u64 = k["server.".len()..]
                        .parse()
                        .map_err(|_| invalid(&key, &value, "server.N needs a numeric id"))?;
                    let srv =
                        parse_server(id, &value).map_err(|why| invalid(&key, &value, &why))?;
                    servers.insert(id, srv);
                }
                k if k.starts_with("group.") => {
                    let gid: u64 = k["group.".len()..]
                        .parse()
                        .map_err(|_| invalid(&key, &value, "group.N needs a numeric id"))?;
                    for sid in value.split(':') {
                        let sid: u64 = sid
                            .trim()
                            .parse()
                            .map_err(|_| invalid(&key, &value, "not a list of server ids"))?;
                        if groups.insert(sid, gid).is_some() {
                            return Err(invalid(
                                &key,
                                &value,
                                &format!("server {sid} is in more than one group"),
                            ));
                        }
                    }
                }
                k if k.starts_with("weight.") => {
                    let sid: u64 = k["weight.".len()..]
                        .parse()
                        .map_err(|_| invalid(&key, &value, "weight.N needs a numeric id"))?;
                    let w: u64 = value
                        .trim()
                        .parse()
                        .map_err(|_| invalid(&key, &value, "not a weight"))?;
                    weights.insert(sid, w);
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
            // As ZooKeeper: the client port may come from this server's own line.
            if client_port.is_none() {
                if let Some((addr, port)) = q
                    .my_id
                    .and_then(|id| q.servers.get(&id))
                    .and_then(|s| s.client.clone())
                {
                    client_port = Some(port);
                    if client_port_address.is_none() {
                        client_port_address = addr.and_then(|a| a.parse().ok());
                    }
                }
            }
            Some(q)
        };
        let client_port = client_port.ok_or_else(|| ConfigError::Missing {
            file: file.clone(),
            key: "clientPort".into(),
        })?;
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
        Ok(cfg)
    }
}

/// `jute.maxbuffer` accepts plain bytes, and K/M suffixes for convenience.
fn parse_size(v: &str) -> Option<usize> {
    let v = v.trim();
    let (num, mul) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1024),
        'm' | 'M' => (&v[..v.len() - 1], 1024 * 1024),
        _ => (v, 1),
    };
    let n = if let Some(hex) = num.strip_prefix("0x").or_else(|| num.strip_prefix("0X")) {
        usize::from_str_radix(hex, 16).ok()?
    } else {
        num.parse::<usize>().ok()?
    };
    n.checked_mul(mul)
}

/// Java `Properties` syntax as zoo.cfg files use it: `key=value`, `key: value` or `key value`,
/// `#` and `!` comments, backslash line continuations; values are trimmed as ZooKeeper trims them.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            logical.push_str(stripped);
            continue;
        }
        logical.push_str(line);
        let l = std::mem::take(&mut logical);
        let sep = l.find(['=', ':', ' ', '\t']);
        let (k, v) = match sep {
            Some(i) => {
                let rest = l[i..].trim_start_matches([' ', '\t']);
                let rest = rest
                    .strip_prefix('=')
                    .or_else(|| rest.strip_prefix(':'))
                    .unwrap_or(rest);
                (l[..i].to_string(), rest.trim().to_string())
            }
            None => (l.clone(), String::new()),
        };
        out.push((k.trim().to_string(), v));
    }
    out
}

#[cfg(test)]
mod tests {
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
}
