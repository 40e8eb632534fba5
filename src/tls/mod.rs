//! TLS on the client port, as ZooKeeper's Netty server has it: the server's certificate from
//! the configured key store, client certificates checked against the trust store (need, want
//! or none), the protocols and cipher suites zoo.cfg allows, and the x509 identity a client
//! certificate gives its connection. The stores are re-read when their files change: new
//! connections get the new certificate; a file that does not load is logged and the last
//! good configuration keeps serving.

pub mod dn;
mod fetch;
pub mod keystore;
pub mod quorum;
pub mod reload;
pub mod revocation;

use crate::config::{ClientAuth, ClientTls, TlsCommon, X509Settings};
use jute::Id;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::net::IpAddr;
use std::sync::Arc;
use tracing::{info, warn};

/// The client port's TLS configuration, replaced as a whole when the stores change.
pub struct ServerTls {
    settings: ClientTls,
    x509: X509Settings,
    current: reload::Reloadable<Built>,
}

/// A configuration and the revocation checks (`ssl.crl`, `ssl.ocsp`) that go with its trust
/// store.
#[derive(Clone)]
pub struct Built {
    pub config: Arc<ServerConfig>,
    pub revocation: Option<Arc<revocation::Revocation>>,
    /// Client certificates checked against the trust store, for identities given outside a
    /// handshake (the AdminServer's `Authorization: x509`).
    pub trust: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
}

/// The files of a key store and a trust store, watched for changes.
fn store_files(c: &TlsCommon) -> Vec<String> {
    let mut v = Vec::new();
    for s in std::iter::once(&c.key_store).chain(c.trust_store.as_ref()) {
        v.push(s.location.clone());
        v.extend(s.password_path.clone());
    }
    v
}

/// The crypto provider with the cipher suites `ssl.ciphersuites` names (IANA names, as Java
/// uses them), or all of ring's.
fn provider(s: &TlsCommon) -> Result<CryptoProvider, String> {
    // ring rather than rustls's default aws-lc-rs: no C++/cmake build, a fraction of the build
    // time; what it lacks (post-quantum key exchange) ZooKeeper's Java clients do not offer.
    #[allow(deprecated)]
    let mut p = rustls::crypto::ring::default_provider();
    if !s.ciphersuites.is_empty() {
        let name = |cs: &rustls::SupportedCipherSuite| {
            format!("{:?}", cs.suite()).replacen("TLS13_", "TLS_", 1)
        };
        let unknown: Vec<&String> = s
            .ciphersuites
            .iter()
            .filter(|n| !p.cipher_suites.iter().any(|cs| &name(cs) == *n))
            .collect();
        if !unknown.is_empty() {
            info!("ssl.ciphersuites: not available here, skipped: {unknown:?}");
        }
        p.cipher_suites
            .retain(|cs| s.ciphersuites.iter().any(|n| *n == name(cs)));
        if p.cipher_suites.is_empty() {
            return Err(format!(
                "ssl.ciphersuites names no cipher suite available here ({})",
                s.ciphersuites.join(",")
            ));
        }
    }
    Ok(p)
}

fn build(s: &ClientTls) -> Result<Built, String> {
    let provider = Arc::new(provider(&s.common)?);
    let trust = match roots(&s.common)? {
        Some(r) => Some(
            WebPkiClientVerifier::builder_with_provider(Arc::new(r), provider)
                .build()
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    Ok(Built {
        config: Arc::new(server_config(&s.common)?),
        revocation: revocation(&s.common)?,
        trust,
    })
}

/// The revocation checks `s` asks for, on its trust store (none without `crl` or `ocsp`).
fn revocation(s: &TlsCommon) -> Result<Option<Arc<revocation::Revocation>>, String> {
    if !(s.crl || s.ocsp) {
        return Ok(None);
    }
    let Some(trust) = trust_certs(s)? else {
        return Ok(None);
    };
    revocation::Revocation::new(s.ocsp, trust, &provider(s)?).map(|r| Some(Arc::new(r)))
}

/// The protocol versions `s` allows that its cipher suites can serve.
fn versions(
    s: &TlsCommon,
    provider: &CryptoProvider,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let has13 = provider
        .cipher_suites
        .iter()
        .any(|cs| cs.version() == &rustls::version::TLS13);
    let has12 = provider
        .cipher_suites
        .iter()
        .any(|cs| cs.version() == &rustls::version::TLS12);
    let wanted = |v: &str| s.protocols.is_empty() || s.protocols.iter().any(|p| p == v);
    let mut versions = Vec::new();
    if wanted("TLSv1.3") && has13 {
        versions.push(&rustls::version::TLS13);
    }
    if wanted("TLSv1.2") && has12 {
        versions.push(&rustls::version::TLS12);
    }
    if versions.is_empty() {
        return Err("no TLS protocol version is left with the configured cipher suites".into());
    }
    Ok(versions)
}

/// The trust store's certificates (None without a trust store).
fn trust_certs(
    s: &TlsCommon,
) -> Result<Option<Vec<rustls::pki_types::CertificateDer<'static>>>, String> {
    let Some(ts) = &s.trust_store else {
        return Ok(None);
    };
    keystore::load_trust(
        &ts.location,
        &ts.current_password()?,
        keystore::store_type(&ts.location, ts.store_type.as_deref())?,
    )
    .map(Some)
}

/// The trust store's certificates as roots.
fn roots(s: &TlsCommon) -> Result<Option<RootCertStore>, String> {
    let (Some(ts), Some(certs)) = (&s.trust_store, trust_certs(s)?) else {
        return Ok(None);
    };
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("{}: no usable certificate", ts.location));
    }
    if ignored > 0 {
        warn!("{}: {ignored} certificates could not be used", ts.location);
    }
    Ok(Some(roots))
}

fn key_material(s: &TlsCommon) -> Result<keystore::KeyMaterial, String> {
    let ks = &s.key_store;
    keystore::load_key(
        &ks.location,
        &ks.current_password()?,
        keystore::store_type(&ks.location, ks.store_type.as_deref())?,
    )
}

/// The AdminServer's HTTPS configuration (blocking file reads: at start-up).
pub fn admin_config(c: &TlsCommon) -> Result<Arc<ServerConfig>, String> {
    server_config(c).map(Arc::new)
}

/// A server configuration: our certificate, and client certificates checked as
/// `client_auth` says against the trust store.
fn server_config(s: &TlsCommon) -> Result<ServerConfig, String> {
    let ks = &s.key_store;
    let key = key_material(s)?;
    let provider = Arc::new(provider(s)?);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(s, &provider)?)
        .map_err(|e| e.to_string())?;
    let verifier = match (s.client_auth, roots(s)?) {
        (ClientAuth::None, _) | (_, None) => WebPkiClientVerifier::no_client_auth(),
        (auth, Some(roots)) => {
            let b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let b = if auth == ClientAuth::Want {
                b.allow_unauthenticated()
            } else {
                b
            };
            b.build().map_err(|e| e.to_string())?
        }
    };
    let mut cfg = builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(key.chain, key.key)
        .map_err(|e| format!("{}: {e}", ks.location))?;
    cfg.alpn_protocols.clear();
    Ok(cfg)
}

impl ServerTls {
    /// Loads the stores (blocking file reads: at start-up, or off the async workers).
    pub fn new(settings: ClientTls, x509: X509Settings) -> Result<Arc<ServerTls>, String> {
        let cfg = build(&settings)?;
        let files = store_files(&settings.common);
        Ok(Arc::new(ServerTls {
            current: reload::Reloadable::new(cfg, files, "TLS", "client"),
            settings,
            x509,
        }))
    }

    pub fn settings(&self) -> &ClientTls {
        &self.settings
    }

    /// The configuration new connections get.
    pub fn config(&self) -> Built {
        self.current.get()
    }

    /// Re-reads the stores if a file changed (blocking: run it off the async workers).
    pub fn reload_if_changed(&self) {
        self.current.reload_if_changed(|| build(&self.settings));
    }

    /// The identities a TLS connection carries: `x509` with the client certificate's subject
    /// (and `super` when that subject is `X509AuthenticationProvider.superUser`). Fails when
    /// `ssl.clientHostnameVerification` is on and the certificate does not name `peer`.
    pub fn identities(
        &self,
        certs: Option<&[rustls::pki_types::CertificateDer<'_>]>,
        peer: IpAddr,
    ) -> Result<Vec<Id>, String> {
        let Some(leaf) = certs.and_then(|c| c.first()) else {
            return Ok(Vec::new());
        };
        if self.settings.client_hostname_verification && !names_address(leaf, peer) {
            return Err(format!(
                "the client certificate does not name the client's address {peer}"
            ));
        }
        self.x509_ids(leaf)
    }

    /// What `Authorization: x509` gives an AdminServer HTTPS client: its certificate checked
    /// against the client port's trust store (no address check, as ZooKeeper's x509 provider
    /// has none outside a connection), then its x509 (and super) ids; none when it fails.
    pub async fn http_identities(
        &self,
        certs: &[rustls::pki_types::CertificateDer<'static>],
    ) -> Vec<Id> {
        let Some((leaf, rest)) = certs.split_first() else {
            return Vec::new();
        };
        let built = self.config();
        let Some(trust) = built.trust else {
            return Vec::new();
        };
        if let Err(e) = trust.verify_client_cert(leaf, rest, rustls::pki_types::UnixTime::now()) {
            warn!("Authorization: x509: the client certificate is not trusted: {e}");
            return Vec::new();
        }
        // ssl.crl / ssl.ocsp apply here too, as to ZooKeeper's x509 provider.
        if let Some(r) = &built.revocation {
            if let Err(e) = r.check(certs, revocation::Usage::Client).await {
                warn!("Authorization: x509: {e}");
                return Vec::new();
            }
        }
        self.x509_ids(leaf).unwrap_or_default()
    }

    fn x509_ids(&self, leaf: &rustls::pki_types::CertificateDer<'_>) -> Result<Vec<Id>, String> {
        if !self.x509.enabled {
            return Ok(Vec::new());
        }
        let subject =
            dn::subject_of(leaf).ok_or("the client certificate cannot be parsed".to_string())?;
        let mut ids = vec![Id::new("x509", &subject)];
        if self.x509.super_user.as_deref() == Some(subject.as_str()) {
            ids.push(Id::new("super", &subject));
        }
        Ok(ids)
    }
}

/// ZooKeeper's hostname check of a certificate against an address: an IP subject alternative
/// name equal to it; without any IP or DNS alternative names, a common name equal to it.
pub(crate) fn names_address(der: &[u8], peer: IpAddr) -> bool {
    use x509_parser::prelude::*;
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return false;
    };
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(peer),
        v4 => v4,
    };
    let mut any_san = false;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::IPAddress(b) => {
                    any_san = true;
                    let ip = match b.len() {
                        4 => IpAddr::from(<[u8; 4]>::try_from(*b).unwrap_or_default()),
                        16 => IpAddr::from(<[u8; 16]>::try_from(*b).unwrap_or_default()),
                        _ => continue,
                    };
                    if ip == peer {
                        return true;
                    }
                }
                GeneralName::DNSName(_) => any_san = true,
                _ => {}
            }
        }
    }
    if any_san {
        return false;
    }
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    cn.is_some_and(|cn| cn == peer.to_string())
}
