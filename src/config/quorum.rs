//! The ensemble part of zoo.cfg: `server.N` lines, hierarchical quorums, and the text of
//! `/zookeeper/config` as ZooKeeper writes it.

use std::collections::BTreeMap;

/// One `server.N=host:quorumPort:electionPort[:participant|observer][;[clientAddr:]clientPort]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    pub id: u64,
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub observer: bool,
    pub client: Option<(Option<String>, u16)>,
    /// Every address of the server, as listed (`a1:q:e|a2:q:e` with `multiAddress.enabled`):
    /// (host, quorum port, election port). The first is `host`, `quorum_port`, `election_port`.
    pub addrs: Vec<(String, u16, u16)>,
}

impl QuorumServer {
    /// The quorum (leader-learner) addresses, in the order listed.
    pub fn quorum_addrs(&self) -> Vec<(String, u16)> {
        self.addrs.iter().map(|(h, q, _)| (h.clone(), *q)).collect()
    }

    /// The election addresses, in the order listed.
    pub fn election_addrs(&self) -> Vec<(String, u16)> {
        self.addrs.iter().map(|(h, _, e)| (h.clone(), *e)).collect()
    }
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
    /// The configuration's version: the hex suffix of the dynamic config file's name
    /// (`zoo.cfg.dynamic.100000000`), or a `version=` line of a static zoo.cfg; 0 otherwise.
    pub version: u64,
    /// The dynamic config file the membership was read from, when zoo.cfg names one.
    pub dynamic_file: Option<std::path::PathBuf>,
}

impl QuorumConfig {
    pub fn participants(&self) -> usize {
        self.servers.values().filter(|s| !s.observer).count()
    }

    /// The /zookeeper/config text, as QuorumMaj.toString writes it.
    pub fn config_text(&self) -> String {
        let mut out = String::new();
        for s in self.servers.values() {
            // As QuorumServer.toString: the addresses sorted by host, IPv6 in brackets.
            let mut addrs = s.addrs.clone();
            addrs.sort_by(|a, b| a.0.cmp(&b.0));
            let bracket = |h: &str| {
                if h.contains(':') {
                    format!("[{h}]")
                } else {
                    h.to_string()
                }
            };
            let listed: Vec<String> = addrs
                .iter()
                .map(|(h, q, e)| format!("{}:{q}:{e}", bracket(h)))
                .collect();
            out.push_str(&format!(
                "server.{}={}:{}",
                s.id,
                listed.join("|"),
                if s.observer {
                    "observer"
                } else {
                    "participant"
                }
            ));
            if let Some((addr, port)) = &s.client {
                out.push_str(&format!(
                    ";{}:{port}",
                    bracket(addr.as_deref().unwrap_or("0.0.0.0"))
                ));
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
        out.push_str(&format!("version={:x}", self.version));
        out
    }
}

/// The membership keys of a configuration: `server.N`, `group.N`, `weight.N`.
#[derive(Debug, Default)]
pub struct Membership {
    pub servers: BTreeMap<u64, QuorumServer>,
    pub groups: BTreeMap<u64, u64>,
    pub weights: BTreeMap<u64, u64>,
}

/// True for the keys that describe membership rather than the server (ZooKeeper moves exactly
/// these to the dynamic file).
pub(super) fn is_membership_key(key: &str) -> bool {
    key.starts_with("server.") || key.starts_with("group") || key.starts_with("weight")
}

impl Membership {
    /// Adds one membership key; an error is (why) for the key and value given.
    pub fn add(&mut self, key: &str, value: &str) -> Result<(), String> {
        if let Some(id) = key.strip_prefix("server.") {
            // A Java long, not negative (ferrozk keeps ids as signed 64-bit numbers too).
            let id: u64 = id
                .parse::<i64>()
                .ok()
                .filter(|i| *i >= 0)
                .ok_or("server.N needs a numeric id")? as u64;
            self.servers.insert(id, parse_server(id, value)?);
        } else if let Some(gid) = key.strip_prefix("group.") {
            let gid: u64 = gid.parse().map_err(|_| "group.N needs a numeric id")?;
            for sid in value.split(':') {
                let sid: u64 = sid.trim().parse().map_err(|_| "not a list of server ids")?;
                if self.groups.insert(sid, gid).is_some() {
                    return Err(format!("server {sid} is in more than one group"));
                }
            }
        } else if let Some(sid) = key.strip_prefix("weight.") {
            let sid: u64 = sid.parse().map_err(|_| "weight.N needs a numeric id")?;
            let w: u64 = value.trim().parse().map_err(|_| "not a weight")?;
            self.weights.insert(sid, w);
        } else {
            return Err("not a membership key (server.N, group.N or weight.N)".into());
        }
        Ok(())
    }
}

/// The version ZooKeeper gives a dynamic config file from its name: the part after the last
/// `.`, read as hex (`zoo.cfg.dynamic.100000000` is 0x100000000); None when that part is not hex.
pub fn version_from_file_name(path: &std::path::Path) -> Option<u64> {
    let name = path.to_string_lossy();
    let (_, suffix) = name.rsplit_once('.')?;
    u64::from_str_radix(suffix, 16).ok()
}

/// Parses the value of a `server.N` line:
/// `host:q:e[:type][|host:q:e[:type]...][;[clientAddr:]clientPort]`. Several addresses (a
/// member reachable on several networks) need `multiAddress.enabled`, which the caller checks.
pub fn parse_server(id: u64, value: &str) -> Result<QuorumServer, String> {
    let (addrs, client) = match value.split_once(';') {
        Some((a, c)) => (a.trim(), Some(c.trim())),
        None => (value.trim(), None),
    };
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{p:?} is not a port"))
    };
    let mut all = Vec::new();
    let mut kind: Option<bool> = None;
    for one in addrs.split('|') {
        let one = one.trim();
        // `[v6]:p:p` or `host:p:p`, optionally `:participant|observer`.
        let (host, rest) = if let Some(r) = one.strip_prefix('[') {
            let (h, rest) = r.split_once(']').ok_or("unclosed [ in the address")?;
            (
                h.to_string(),
                rest.strip_prefix(':').ok_or("no port after the address")?,
            )
        } else {
            let (h, rest) = one
                .split_once(':')
                .ok_or("expected host:quorumPort:electionPort")?;
            (h.to_string(), rest)
        };
        if host.is_empty() {
            return Err("empty host".into());
        }
        let parts: Vec<&str> = rest.split(':').collect();
        let (q, e, observer) = match parts.as_slice() {
            [q, e] => (port(q)?, port(e)?, None),
            [q, e, t] => (
                port(q)?,
                port(e)?,
                Some(match t.trim().to_ascii_lowercase().as_str() {
                    "participant" => false,
                    "observer" => true,
                    other => return Err(format!("unknown server type {other:?}")),
                }),
            ),
            _ => return Err("expected host:quorumPort:electionPort[:type]".into()),
        };
        if let Some(o) = observer {
            if kind.is_some_and(|k| k != o) {
                return Err("the addresses of one server give it different types".into());
            }
            kind = Some(o);
        }
        all.push((host, q, e));
    }
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
    let (host, quorum_port, election_port) = all[0].clone();
    Ok(QuorumServer {
        id,
        host,
        quorum_port,
        election_port,
        observer: kind.unwrap_or(false),
        client,
        addrs: all,
    })
}

impl QuorumConfig {
    /// A copy of this configuration with the membership and version of a configuration
    /// text (what /zookeeper/config, election notifications, NEWLEADER and reconfig txns
    /// carry: `server.N=...`, `group.N=...`, `weight.N=...` lines and `version=<hex>`).
    pub fn with_text(&self, text: &str) -> Result<QuorumConfig, String> {
        let mut m = Membership::default();
        let mut version = 0;
        for (k, v) in super::parse_properties(text) {
            if k == "version" {
                version = u64::from_str_radix(v.trim(), 16)
                    .map_err(|_| format!("version={v}: not hex"))?;
            } else {
                m.add(&k, &v).map_err(|why| format!("{k}={v}: {why}"))?;
            }
        }
        self.with_membership(m, version)
    }

    /// A copy with another membership (checked as zoo.cfg's is) and version.
    pub fn with_membership(&self, m: Membership, version: u64) -> Result<Self, String> {
        let Membership {
            servers,
            groups,
            mut weights,
        } = m;
        if servers.is_empty() {
            return Err("no server lines".into());
        }
        if !groups.is_empty() {
            for s in servers.values().filter(|s| !s.observer) {
                if !groups.contains_key(&s.id) {
                    return Err(format!("server.{} is in no group", s.id));
                }
                weights.entry(s.id).or_insert(1);
            }
        }
        Ok(QuorumConfig {
            servers,
            groups,
            weights,
            version,
            ..self.clone()
        })
    }

    /// The same membership: servers (ids, addresses, types, client addresses), groups and
    /// weights; the version aside.
    pub fn same_members(&self, o: &QuorumConfig) -> bool {
        self.servers == o.servers && self.groups == o.groups && self.weights == o.weights
    }

    /// The text of a dynamic config file as ZooKeeper writes it: the membership lines of
    /// `config_text` (no version line), sorted as strings, joined by newlines, no newline at
    /// the end.
    pub fn dynamic_file_text(&self) -> String {
        let text = self.config_text();
        let mut lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("version="))
            .collect();
        lines.sort_unstable();
        lines.join("\n")
    }
}

/// Writes `<zoo.cfg>.dynamic.<hex version>` with the membership, then points zoo.cfg at it
/// (`dynamicConfigFile=`), as a ZooKeeper member does when a configuration becomes active.
/// zoo.cfg keeps its other lines and comments; its membership lines, `peerType` and old
/// `dynamicConfigFile` lines go (and its `clientPort*` lines when this member's client
/// address is in the membership, as ZooKeeper erases them). Both files are replaced
/// atomically. Returns the dynamic file's path.
pub fn write_dynamic_config(
    static_file: &std::path::Path,
    q: &QuorumConfig,
    my_id: u64,
    serving: Option<std::net::SocketAddr>,
) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    let name = format!(
        "{}.dynamic.{:x}",
        static_file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "zoo.cfg".into()),
        q.version
    );
    let dir = static_file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let dynamic = std::fs::canonicalize(dir)?.join(name);
    let replace = |path: &std::path::Path, text: &str| -> std::io::Result<()> {
        let tmp = path.with_extension("ferrozk-tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    replace(&dynamic, &q.dynamic_file_text())?;
    let erase_client = q.servers.get(&my_id).is_some_and(|s| s.client.is_some());
    let old = std::fs::read_to_string(static_file)?;
    let mut out = String::new();
    for line in old.lines() {
        let t = line.trim_start();
        let key = t.split(['=', ':', ' ', '\t']).next().unwrap_or("").trim();
        let drop = !(t.starts_with('#') || t.starts_with('!'))
            && (is_membership_key(key)
                || key == "version"
                || key.starts_with("dynamicConfigFile")
                || key.starts_with("peerType")
                || (erase_client && key.starts_with("clientPort")));
        if !drop {
            out.push_str(line);
            out.push('\n');
        }
    }
    // A configuration that no longer gives this member a client address, in a zoo.cfg whose
    // clientPort an earlier one erased: the address it serves on is written back, so that
    // it starts again on it.
    let has_port = out.lines().any(|l| {
        l.trim_start().starts_with("clientPort=") || l.trim_start().starts_with("clientPort ")
    });
    if let (false, false, Some(addr)) = (erase_client, has_port, serving) {
        out.push_str(&format!("clientPort={}\n", addr.port()));
        if !addr.ip().is_unspecified() && !out.contains("clientPortAddress") {
            out.push_str(&format!("clientPortAddress={}\n", addr.ip()));
        }
    }
    out.push_str(&format!("dynamicConfigFile={}\n", dynamic.display()));
    replace(static_file, &out)?;
    Ok(dynamic)
}
