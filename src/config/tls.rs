//! The client port's TLS keys, as ZooKeeper reads them from zoo.cfg (each `ssl.*` key becomes
//! the system property `zookeeper.ssl.*`): `secureClientPort`, `secureClientPortAddress`,
//! `client.portUnification`, the key and trust stores, protocols, cipher suites, client
//! authentication and the x509 provider's super user.

use super::settings::Props;
use super::ConfigError;
use std::net::IpAddr;

/// `ssl.clientAuth`: none, want or need (ZooKeeper's default when unset or empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Want,
    Need,
}

/// A key or trust store: `<prefix>.location`, its password (`.password`, or the file
/// `.passwordPath` names) and `.type` (inferred from the file name when unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub location: String,
    /// `.password`, or the contents of `.passwordPath` when the configuration was read.
    pub password: String,
    /// `.passwordPath`: read again whenever the store is (a rotated store may come with a
    /// new password).
    pub password_path: Option<String>,
    pub store_type: Option<String>,
}

/// A password file's contents: one trailing line separator is not part of the password, as
/// in ZooKeeper.
fn read_password(path: &str) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text)
        .to_string())
}

impl StoreSettings {
    /// The password as it is now (the password file read again).
    pub fn current_password(&self) -> Result<String, String> {
        match &self.password_path {
            Some(path) => read_password(path).map_err(|e| format!("cannot read {path}: {e}")),
            None => Ok(self.password.clone()),
        }
    }
}

/// What the client port and the quorum ports share: stores, protocols, suites, client
/// authentication (`<prefix>.*` keys: `ssl.` or `ssl.quorum.`).
#[derive(Debug, Clone)]
pub struct TlsCommon {
    pub key_store: StoreSettings,
    pub trust_store: Option<StoreSettings>,
    pub protocols: Vec<String>,
    pub ciphersuites: Vec<String>,
    pub client_auth: ClientAuth,
    /// `<prefix>hostnameVerification` (true): a peer's certificate must name its address.
    pub hostname_verification: bool,
    /// `<prefix>crl`: a peer's certificates are checked against the CRLs their distribution
    /// points publish.
    pub crl: bool,
    /// `<prefix>ocsp`: ... asked of the OCSP responders they name first, CRLs after.
    pub ocsp: bool,
}

/// TLS between ensemble members: `sslQuorum` (dial and accept TLS), `portUnification`
/// (accept both, for the rolling switch), the `ssl.quorum.*` stores.
#[derive(Debug, Clone)]
pub struct QuorumTls {
    pub ssl_quorum: bool,
    pub port_unification: bool,
    /// `ssl.quorum.handshakeDetectionTimeoutMillis` (5000): how long a unified port waits
    /// for the first bytes before taking a connection as plaintext.
    pub detection_timeout_ms: u64,
    /// `sslQuorumReloadCertFiles`: re-read the `ssl.quorum` stores when their files change.
    pub reload: bool,
    /// `ssl.quorum.clientHostnameVerification` (true, with `ssl.quorum.hostnameVerification`):
    /// a member that dials in must present a certificate naming its address.
    pub client_hostname_verification: bool,
    pub common: TlsCommon,
}

/// HTTPS for the AdminServer: `admin.forceHttps` (TLS only) or `admin.portUnification` (TLS
/// and plain HTTP on one port), with the `ssl.quorum` key store, as ZooKeeper's Jetty server
/// has it; `admin.needClientAuth` (3.9) asks for a client certificate the `ssl.quorum` trust
/// store accepts.
#[derive(Debug, Clone)]
pub struct AdminTls {
    pub force_https: bool,
    pub port_unification: bool,
    pub common: TlsCommon,
}

/// HTTPS for the Prometheus endpoint (ZooKeeper 3.10's `metricsProvider.httpsPort`), with
/// the `metricsProvider.ssl.*` stores; client certificates needed and wanted by default.
#[derive(Debug, Clone)]
pub struct MetricsTls {
    pub port: u16,
    pub common: TlsCommon,
}

/// The TLS side of the client port.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// `secureClientPort` and `secureClientPortAddress` (all addresses when unset). None when
    /// only `client.portUnification` asks for TLS (on the plaintext port).
    pub secure_port: Option<u16>,
    pub secure_address: Option<IpAddr>,
    /// `client.portUnification`: the plaintext port also takes TLS connections.
    pub port_unification: bool,
    /// The `ssl.*` stores, protocols, cipher suites and client authentication.
    pub common: TlsCommon,
    /// `ssl.clientHostnameVerification` (ZooKeeper 3.9, off by default; only with
    /// `ssl.hostnameVerification` on): the client's certificate must name its address.
    pub client_hostname_verification: bool,
}

/// The x509 authentication provider: on with a TLS client port (ZooKeeper registers it then)
/// or when `authProvider.N` names it; `X509AuthenticationProvider.superUser` is the subject
/// that is super.
#[derive(Debug, Clone, Default)]
pub struct X509Settings {
    pub enabled: bool,
    pub super_user: Option<String>,
}

fn store(p: &Props, prefix: &str) -> Result<Option<StoreSettings>, ConfigError> {
    let Some(location) = p
        .text(&format!("{prefix}.location"))
        .filter(|l| !l.is_empty())
    else {
        return Ok(None);
    };
    let path_key = format!("{prefix}.passwordPath");
    let password_path = p.text(&path_key).filter(|v| !v.is_empty());
    let password = match &password_path {
        Some(path) => read_password(path)
            .map_err(|e| p.invalid(&path_key, path, &format!("cannot read it: {e}")))?,
        None => p.text(&format!("{prefix}.password")).unwrap_or_default(),
    };
    Ok(Some(StoreSettings {
        location,
        password,
        password_path,
        store_type: p.text(&format!("{prefix}.type")).filter(|t| !t.is_empty()),
    }))
}

fn list(v: Option<String>) -> Vec<String> {
    v.map(|v| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// The stores and protocol keys under `prefix` (`ssl.` or `ssl.quorum.`).
fn common(
    p: &Props,
    prefix: &str,
    needed_by: &str,
    trust_needed: Option<bool>,
) -> Result<TlsCommon, ConfigError> {
    let key_store = store(p, &format!("{prefix}keyStore"))?.ok_or_else(|| {
        p.invalid(
            &format!("{prefix}keyStore.location"),
            "",
            &format!("{needed_by} needs a key store"),
        )
    })?;
    let auth_key = format!("{prefix}clientAuth");
    let client_auth = match p.get(&auth_key).map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("need") => ClientAuth::Need,
        Some("want") => ClientAuth::Want,
        Some("none") => ClientAuth::None,
        Some(v) => return Err(p.invalid(&auth_key, v, "must be none, want or need")),
    };
    let trust_store = store(p, &format!("{prefix}trustStore"))?;
    // None: needed when client certificates are asked for.
    let needed = trust_needed.unwrap_or(client_auth != ClientAuth::None);
    if trust_store.is_none() && needed {
        let why = match trust_needed {
            Some(_) => format!("{needed_by} checks certificates against a trust store; set one"),
            None => format!(
                "{auth_key} is want or need (need unless set), so client certificates must be checked against a trust store; set one, or {auth_key}=none"
            ),
        };
        return Err(p.invalid(&format!("{prefix}trustStore.location"), "", &why));
    }
    let mut protocols = list(p.text(&format!("{prefix}enabledProtocols")));
    if protocols.is_empty() {
        if let Some(one) = p
            .text(&format!("{prefix}protocol"))
            .filter(|s| !s.is_empty())
        {
            if !one.eq_ignore_ascii_case("TLS") {
                protocols.push(one);
            }
        }
    }
    for proto in &protocols {
        if !matches!(proto.as_str(), "TLSv1.2" | "TLSv1.3") {
            return Err(p.invalid(
                &format!("{prefix}enabledProtocols"),
                proto,
                "only TLSv1.2 and TLSv1.3 are available",
            ));
        }
    }
    Ok(TlsCommon {
        key_store,
        trust_store,
        protocols,
        ciphersuites: list(p.text(&format!("{prefix}ciphersuites"))),
        client_auth,
        hostname_verification: p.boolean(&format!("{prefix}hostnameVerification"), true)?,
        crl: p.boolean(&format!("{prefix}crl"), false)?,
        ocsp: p.boolean(&format!("{prefix}ocsp"), false)?,
    })
}

/// `admin.forceHttps`, `admin.portUnification`, `admin.needClientAuth`.
pub(super) fn parse_admin(p: &Props) -> Result<Option<AdminTls>, ConfigError> {
    let force_https = p.boolean("admin.forceHttps", false)?;
    let port_unification = p.boolean("admin.portUnification", false)?;
    if !force_https && !port_unification {
        return Ok(None);
    }
    let need = p.boolean("admin.needClientAuth", false)?;
    let mut common = common(p, "ssl.quorum.", "HTTPS for the AdminServer", Some(need))?;
    // Jetty's defaults, as ZooKeeper applies none of the quorum's protocol settings there.
    common.protocols.clear();
    common.ciphersuites.clear();
    // Jetty reads the stores itself: no revocation checks there.
    common.crl = false;
    common.ocsp = false;
    common.client_auth = if need {
        ClientAuth::Need
    } else {
        ClientAuth::None
    };
    Ok(Some(AdminTls {
        force_https,
        port_unification,
        common,
    }))
}

/// `metricsProvider.httpsPort` and the `metricsProvider.ssl.*` keys.
pub(super) fn parse_metrics(p: &Props) -> Result<Option<MetricsTls>, ConfigError> {
    let Some(v) = p.get("metricsProvider.httpsPort").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let port = v
        .parse::<u16>()
        .map_err(|_| p.invalid("metricsProvider.httpsPort", v, "not a port number"))?;
    let need = p.boolean("metricsProvider.ssl.need.client.auth", true)?;
    let want = p.boolean("metricsProvider.ssl.want.client.auth", true)?;
    let mut common = common(
        p,
        "metricsProvider.ssl.",
        "the Prometheus endpoint over HTTPS",
        Some(need),
    )?;
    common.client_auth = if need {
        ClientAuth::Need
    } else if want && common.trust_store.is_some() {
        ClientAuth::Want
    } else {
        ClientAuth::None
    };
    common.crl = false;
    common.ocsp = false;
    Ok(Some(MetricsTls { port, common }))
}

/// `sslQuorum`, `portUnification` and the `ssl.quorum.*` keys.
pub(super) fn parse_quorum(p: &Props) -> Result<Option<QuorumTls>, ConfigError> {
    let ssl_quorum = p.boolean("sslQuorum", false)?;
    let port_unification = p.boolean("portUnification", false)?;
    if !ssl_quorum && !port_unification {
        return Ok(None);
    }
    let detection = p.num("ssl.quorum.handshakeDetectionTimeoutMillis", 5000, 0)?;
    Ok(Some(QuorumTls {
        ssl_quorum,
        port_unification,
        detection_timeout_ms: if detection < 1 { 5000 } else { detection },
        reload: p.boolean("sslQuorumReloadCertFiles", false)?,
        client_hostname_verification: p.boolean("ssl.quorum.hostnameVerification", true)?
            && p.boolean("ssl.quorum.clientHostnameVerification", true)?,
        common: common(p, "ssl.quorum.", "TLS between ensemble members", Some(true))?,
    }))
}

pub(super) fn parse(p: &Props) -> Result<(Option<ClientTls>, X509Settings), ConfigError> {
    let secure_port = match p.get("secureClientPort") {
        None | Some("") => None,
        Some(v) => Some(
            v.parse::<u16>()
                .map_err(|_| p.invalid("secureClientPort", v, "not a port number"))?,
        ),
    };
    let secure_address = match p.get("secureClientPortAddress") {
        None | Some("") => None,
        Some(v) => Some(
            v.parse::<IpAddr>()
                .map_err(|_| p.invalid("secureClientPortAddress", v, "not an IP address"))?,
        ),
    };
    if secure_address.is_some() && secure_port.is_none() {
        return Err(p.invalid(
            "secureClientPortAddress",
            p.get("secureClientPortAddress").unwrap_or(""),
            "is set but secureClientPort is not",
        ));
    }
    let port_unification = p.boolean("client.portUnification", false)?;
    let provider_named = p
        .map_keys()
        .any(|(k, v)| k.starts_with("authProvider.") && v.ends_with(".X509AuthenticationProvider"));
    let tls_on = secure_port.is_some() || port_unification;
    let x509 = X509Settings {
        enabled: tls_on || provider_named,
        super_user: p
            .text("X509AuthenticationProvider.superUser")
            .filter(|s| !s.is_empty()),
    };
    if !tls_on {
        return Ok((None, x509));
    }
    let common = common(p, "ssl.", "a TLS client port", None)?;
    Ok((
        Some(ClientTls {
            secure_port,
            secure_address,
            port_unification,
            common,
            client_hostname_verification: p.boolean("ssl.hostnameVerification", true)?
                && p.boolean("ssl.clientHostnameVerification", false)?,
        }),
        x509,
    ))
}
