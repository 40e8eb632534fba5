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
                _ => {
                    system_properties.insert(format!("zookeeper.{key}"), value.clone());
                }
            }
        }
        let data_dir = data_dir.ok_or_else(|| ConfigError::Missing {
            file: file.clone(),
            key: "dataDir".into(),
        })?;
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
            server_id: 0,
            extended_types_enabled: false,
            container_check_interval_ms: 60_000,
            max_buffer,
            system_properties,
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
}
