//! Revocation checks, as `ssl.crl` and `ssl.ocsp` (and their `ssl.quorum.` forms) have the
//! JDK make them in ZooKeeper: every certificate of the peer's path below the trust store's
//! anchor must be shown not revoked. With `crl`, by the CRLs its distribution points publish;
//! with `ocsp`, by the OCSP responder its authority information names, then by CRLs when no
//! responder answers. A status that cannot be determined refuses the peer, as the JDK's
//! checker does (it has no soft-fail in ZooKeeper's set-up).
//!
//! The check runs after the handshake, on the certificates it accepted (fetching is
//! asynchronous; rustls verifies synchronously): a refused peer is closed before it is served.
//! CRLs are cached for 30 seconds (never past their next update).

use super::fetch::fetch;
use rustls::pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use sha1::{Digest, Sha1};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use webpki::{EndEntityCert, KeyUsage};

/// Whose certificate is checked: a client's (or a member that dialled in), or a server's (a
/// member this one dialled).
#[derive(Debug, Clone, Copy)]
pub enum Usage {
    Client,
    Server,
}

/// What the trust store and settings give the checks.
pub struct Revocation {
    ocsp: bool,
    trust: Vec<CertificateDer<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
    algs: &'static [&'static dyn SignatureVerificationAlgorithm],
}

/// One certificate of the peer's path, with what its checks need.
struct Link {
    serial: Vec<u8>,
    /// The issuer's name, DER with its header (hashed for OCSP), and the issuing certificate.
    issuer_name: Vec<u8>,
    issuer: CertificateDer<'static>,
    crl_urls: Vec<String>,
    ocsp_urls: Vec<String>,
    is_ca: bool,
}

impl Link {
    fn facts(&self) -> Facts {
        Facts {
            serial: self.serial.clone(),
            issuer_name: self.issuer_name.clone(),
            issuer: self.issuer.clone(),
            is_ca: self.is_ca,
            crl_urls: self.crl_urls.clone(),
        }
    }
}

/// A certificate of the path, with its issuer's certificate.
fn link(der: &CertificateDer<'static>, issuer: CertificateDer<'static>) -> Result<Link, String> {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    use x509_parser::prelude::*;
    let (_, c) = X509Certificate::from_der(der)
        .map_err(|e| format!("a certificate cannot be parsed: {e}"))?;
    let mut link = Link {
        serial: c.raw_serial().to_vec(),
        issuer_name: c.issuer().as_raw().to_vec(),
        issuer,
        crl_urls: Vec::new(),
        ocsp_urls: Vec::new(),
        is_ca: c.is_ca(),
    };
    for ext in c.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => {
                for p in &points.points {
                    if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                        for n in names {
                            if let GeneralName::URI(u) = n {
                                link.crl_urls.push(u.to_string());
                            }
                        }
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for d in &aia.accessdescs {
                    if d.access_method == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP
                    {
                        if let GeneralName::URI(u) = &d.access_location {
                            link.ocsp_urls.push(u.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(link)
}

enum Status {
    Good,
    Revoked(String),
    Unknown(String),
}

/// The contents of a DER value (its tag and length left off).
fn contents(der: &[u8]) -> &[u8] {
    match der.get(1) {
        Some(&l) if l < 0x80 => der.get(2..).unwrap_or(&[]),
        Some(&l) => der.get(2 + (l & 0x7f) as usize..).unwrap_or(&[]),
        None => &[],
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&x| x == 0).count();
    &b[n.min(b.len().saturating_sub(1))..]
}

const OCSP_SIGNING: &[u8] = &[0x2b, 6, 1, 5, 5, 7, 3, 9];
/// How far an OCSP answer's times may be off (the JDK allows 15 minutes).
const SKEW: Duration = Duration::from_secs(900);
const CRL_CACHE: Duration = Duration::from_secs(30);
/// The longest a whole revocation check may take.
const DEADLINE: Duration = Duration::from_secs(30);

type CrlCache = Mutex<HashMap<String, (Instant, Arc<Vec<u8>>)>>;

fn crl_cache() -> &'static CrlCache {
    static C: OnceLock<CrlCache> = OnceLock::new();
    C.get_or_init(Default::default)
}

impl Revocation {
    pub fn new(
        ocsp: bool,
        trust: Vec<CertificateDer<'static>>,
        provider: &rustls::crypto::CryptoProvider,
    ) -> Result<Revocation, String> {
        let anchors = trust
            .iter()
            .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
            .map(|a| a.to_owned())
            .collect();
        Ok(Revocation {
            ocsp,
            trust,
            anchors,
            algs: provider.signature_verification_algorithms.all,
        })
    }

    /// The path the handshake verified, from the peer's certificate up to (not including)
    /// the trust store's anchor: built again by webpki from the trust store, so that only
    /// certificates of the verified path are looked at (not others the peer sent along).
    fn path(&self, chain: &[CertificateDer<'_>], usage: Usage) -> Result<Vec<Link>, String> {
        use x509_parser::prelude::*;
        if self.trust.iter().any(|t| t.as_ref() == chain[0].as_ref()) {
            // A trusted certificate itself: nothing below an anchor to check.
            return Ok(Vec::new());
        }
        let ee = EndEntityCert::try_from(&chain[0]).map_err(|e| e.to_string())?;
        let usage = match usage {
            Usage::Client => webpki::KeyUsage::client_auth(),
            Usage::Server => webpki::KeyUsage::server_auth(),
        };
        let verified = ee
            .verify_for_usage(
                self.algs,
                &self.anchors,
                &chain[1..],
                UnixTime::now(),
                usage,
                None,
                None,
            )
            .map_err(|e| format!("the certificate path does not verify: {e}"))?;
        let mut certs: Vec<CertificateDer<'static>> = vec![chain[0].clone().into_owned()];
        certs.extend(
            verified
                .intermediate_certificates()
                .map(|c| c.der().into_owned()),
        );
        let anchor_spki = verified.anchor().subject_public_key_info.as_ref();
        let anchor = self
            .trust
            .iter()
            .find(|t| {
                X509Certificate::from_der(t).is_ok_and(|(_, c)| {
                    let raw = c.public_key().raw;
                    raw == anchor_spki || contents(raw) == anchor_spki
                })
            })
            .ok_or("the path's anchor is not in the trust store")?
            .clone();
        let mut out = Vec::new();
        for (i, der) in certs.iter().enumerate() {
            let issuer = certs.get(i + 1).cloned().unwrap_or_else(|| anchor.clone());
            out.push(link(der, issuer)?);
        }
        Ok(out)
    }

    /// Whether the peer's certificates (`chain`, its own first) are shown not revoked, within
    /// 30 seconds in all.
    pub async fn check(&self, chain: &[CertificateDer<'_>], usage: Usage) -> Result<(), String> {
        if chain.is_empty() {
            return Ok(());
        }
        let path = self.path(chain, usage)?;
        match tokio::time::timeout(DEADLINE, self.check_path(&path)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "could not determine revocation status within {DEADLINE:?}"
            )),
        }
    }

    /// Each link: by OCSP first (with `ocsp`), then by CRL; every one must be good.
    async fn check_path(&self, path: &[Link]) -> Result<(), String> {
        for link in path {
            let mut why = Vec::new();
            if self.ocsp && !link.ocsp_urls.is_empty() {
                match self.ocsp_status(link).await {
                    Status::Good => continue,
                    Status::Revoked(w) => return Err(format!("certificate revoked ({w})")),
                    Status::Unknown(w) => why.push(w),
                }
            }
            match crl_status(link).await {
                Status::Good => {}
                Status::Revoked(w) => return Err(format!("certificate revoked ({w})")),
                Status::Unknown(w) => {
                    why.push(w);
                    return Err(format!(
                        "could not determine revocation status: {}",
                        why.join("; ")
                    ));
                }
            }
        }
        Ok(())
    }

    /// The certificate's status from its OCSP responders.
    async fn ocsp_status(&self, link: &Link) -> Status {
        let request = match ocsp_request(link) {
            Ok(r) => r,
            Err(e) => return Status::Unknown(e),
        };
        let mut why = String::new();
        for url in &link.ocsp_urls {
            match fetch(url, Some(("application/ocsp-request", request.clone()))).await {
                Ok(body) => match self.ocsp_answer(&body, link) {
                    Ok(s) => return s,
                    Err(e) => why = format!("{url}: {e}"),
                },
                Err(e) => why = e,
            }
        }
        Status::Unknown(format!("OCSP: {why}"))
    }

    /// Reads a responder's answer: signed by the issuer or by a responder it delegated to,
    /// current, about this certificate.
    fn ocsp_answer(&self, body: &[u8], link: &Link) -> Result<Status, String> {
        use x509_cert::der::{Decode, Encode};
        use x509_ocsp::{BasicOcspResponse, CertStatus, OcspResponse, OcspResponseStatus};
        let r = OcspResponse::from_der(body).map_err(|e| e.to_string())?;
        if r.response_status != OcspResponseStatus::Successful {
            return Err(format!("responder answered {:?}", r.response_status));
        }
        let rb = r.response_bytes.ok_or("no response")?;
        let basic =
            BasicOcspResponse::from_der(rb.response.as_bytes()).map_err(|e| e.to_string())?;
        let tbs = basic
            .tbs_response_data
            .to_der()
            .map_err(|e| e.to_string())?;
        let sig_alg = basic
            .signature_algorithm
            .to_der()
            .map_err(|e| e.to_string())?;
        let sig = basic.signature.raw_bytes();
        let now = UnixTime::now();
        let mut signers = vec![link.issuer.clone()];
        for c in basic.certs.iter().flatten() {
            let der = CertificateDer::from(c.to_der().map_err(|e| e.to_string())?);
            // A delegated responder: issued by the certificate's issuer for OCSP signing.
            let anchor =
                webpki::anchor_from_trusted_cert(&link.issuer).map_err(|e| e.to_string())?;
            let delegated = EndEntityCert::try_from(&der).is_ok_and(|e| {
                e.verify_for_usage(
                    self.algs,
                    &[anchor],
                    &[],
                    now,
                    KeyUsage::required(OCSP_SIGNING),
                    None,
                    None,
                )
                .is_ok()
            });
            if delegated {
                signers.push(der);
            }
        }
        let signed = signers.iter().any(|s| {
            EndEntityCert::try_from(s).is_ok_and(|e| {
                self.algs.iter().any(|a| {
                    a.signature_alg_id().as_ref() == contents(&sig_alg)
                        && e.verify_signature(*a, &tbs, sig).is_ok()
                })
            })
        });
        if !signed {
            return Err("the answer's signature does not verify".into());
        }
        let (name_hash, key_hash) = cert_id_hashes(link)?;
        let wall = SystemTime::now();
        for single in &basic.tbs_response_data.responses {
            let id = &single.cert_id;
            if strip_zeros(id.serial_number.as_bytes()) != strip_zeros(&link.serial)
                || id.issuer_name_hash.as_bytes() != name_hash
                || id.issuer_key_hash.as_bytes() != key_hash
            {
                continue;
            }
            if single.this_update.0.to_system_time() > wall + SKEW {
                return Err("the answer is from the future".into());
            }
            // Without a next update, an answer is current only near its this-update (as the
            // JDK has it): an old answer cannot be replayed.
            let until = match &single.next_update {
                Some(next) => next.0.to_system_time(),
                None => single.this_update.0.to_system_time(),
            };
            if until + SKEW < wall {
                return Err("the answer is out of date".into());
            }
            return Ok(match single.cert_status {
                CertStatus::Good(_) => Status::Good,
                CertStatus::Revoked(_) => Status::Revoked("OCSP".into()),
                CertStatus::Unknown(_) => {
                    Status::Unknown("OCSP: the responder does not know it".into())
                }
            });
        }
        Err("the answer is not about this certificate".into())
    }
}

/// SHA-1 of the issuer's name and of its public key, as an OCSP CertID has them.
fn cert_id_hashes(link: &Link) -> Result<(Vec<u8>, Vec<u8>), String> {
    use x509_parser::prelude::*;
    let (_, issuer) = X509Certificate::from_der(&link.issuer).map_err(|e| e.to_string())?;
    let name = Sha1::digest(&link.issuer_name).to_vec();
    let key = Sha1::digest(&issuer.public_key().subject_public_key.data).to_vec();
    Ok((name, key))
}

fn ocsp_request(link: &Link) -> Result<Vec<u8>, String> {
    use x509_cert::der::asn1::{Null, ObjectIdentifier, OctetString};
    use x509_cert::der::{Any, Encode};
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::AlgorithmIdentifierOwned;
    use x509_ocsp::{CertId, OcspRequest, Request, TbsRequest, Version};
    let (name, key) = cert_id_hashes(link)?;
    let e = |e: x509_cert::der::Error| e.to_string();
    let req = OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: CertId {
                    hash_algorithm: AlgorithmIdentifierOwned {
                        oid: ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
                        parameters: Some(Any::from(Null)),
                    },
                    issuer_name_hash: OctetString::new(name).map_err(e)?,
                    issuer_key_hash: OctetString::new(key).map_err(e)?,
                    serial_number: SerialNumber::new(strip_zeros(&link.serial)).map_err(e)?,
                },
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    req.to_der().map_err(e)
}

/// A link's status from the CRLs its distribution points publish: the first that is
/// authoritative for it (issued and signed by its issuer, current, covering its kind of
/// certificate) decides.
async fn crl_status(link: &Link) -> Status {
    let mut why = "the certificate names no CRL distribution point".to_string();
    for url in &link.crl_urls {
        for fresh in [false, true] {
            let der = match crl_der(url, fresh).await {
                Ok(d) => d,
                Err(e) => {
                    why = e;
                    break;
                }
            };
            let facts = link.facts();
            let u = url.clone();
            let verdict = tokio::task::spawn_blocking(move || crl_verdict(&der, &facts, &u))
                .await
                .unwrap_or(Verdict::Unknown("the CRL check failed".into()));
            match verdict {
                Verdict::Good => return Status::Good,
                Verdict::Revoked => return Status::Revoked("CRL".into()),
                // A cached CRL past its next update: fetch it again, once.
                Verdict::Stale if !fresh => continue,
                Verdict::Stale => {
                    why = format!("{url}: the CRL is past its next update");
                    break;
                }
                Verdict::Unknown(w) => {
                    why = format!("{url}: {w}");
                    break;
                }
            }
        }
    }
    Status::Unknown(why)
}

/// What a CRL's check needs of a link (owned, for a blocking thread).
struct Facts {
    serial: Vec<u8>,
    issuer_name: Vec<u8>,
    issuer: CertificateDer<'static>,
    is_ca: bool,
    crl_urls: Vec<String>,
}

enum Verdict {
    Good,
    Revoked,
    Stale,
    Unknown(String),
}

fn crl_verdict(der: &[u8], f: &Facts, url: &str) -> Verdict {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    use x509_parser::prelude::*;
    let Ok((_, crl)) = CertificateRevocationList::from_der(der) else {
        return Verdict::Unknown("not a CRL".into());
    };
    if crl.issuer().as_raw() != f.issuer_name.as_slice() {
        return Verdict::Unknown("the CRL is not the certificate issuer's".into());
    }
    let Ok((_, issuer)) = X509Certificate::from_der(&f.issuer) else {
        return Verdict::Unknown("the issuer cannot be parsed".into());
    };
    if crl.verify_signature(issuer.public_key()).is_err() {
        return Verdict::Unknown("the CRL's signature does not verify".into());
    }
    let now = ASN1Time::now();
    if crl.last_update() > now {
        return Verdict::Unknown("the CRL is from the future".into());
    }
    if crl.next_update().is_some_and(|n| n < now) {
        return Verdict::Stale;
    }
    for ext in crl.extensions() {
        if let ParsedExtension::IssuingDistributionPoint(idp) = ext.parsed_extension() {
            if idp.only_some_reasons.is_some()
                || idp.indirect_crl
                || idp.only_contains_attribute_certs
                || (idp.only_contains_user_certs && f.is_ca)
                || (idp.only_contains_ca_certs && !f.is_ca)
            {
                return Verdict::Unknown("the CRL does not cover this certificate".into());
            }
            if let Some(DistributionPointName::FullName(names)) = &idp.distribution_point {
                let named = names.iter().any(|n| {
                    matches!(n, GeneralName::URI(u) if *u == url || f.crl_urls.iter().any(|c| c == u))
                });
                if !named {
                    return Verdict::Unknown(
                        "the CRL's distribution point is not the certificate's".into(),
                    );
                }
            }
        }
    }
    let serial = strip_zeros(&f.serial);
    if crl
        .iter_revoked_certificates()
        .any(|r| strip_zeros(r.raw_serial()) == serial)
    {
        Verdict::Revoked
    } else {
        Verdict::Good
    }
}

/// The CRL at `url` (DER), from the cache when fetched less than 30 seconds ago (unless
/// `fresh`).
async fn crl_der(url: &str, fresh: bool) -> Result<Arc<Vec<u8>>, String> {
    if !fresh {
        if let Some((at, c)) = crl_cache()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(url)
        {
            if at.elapsed() < CRL_CACHE {
                return Ok(c.clone());
            }
        }
    }
    let body = fetch(url, None).await?;
    let der = if body.starts_with(b"-----BEGIN") {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateRevocationListDer::from_pem_slice(&body)
            .map_err(|e| format!("{url}: {e}"))?
            .as_ref()
            .to_vec()
    } else {
        body.to_vec()
    };
    let c = Arc::new(der);
    let mut cache = crl_cache().lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() > 1000 {
        cache.clear();
    }
    cache.insert(url.to_string(), (Instant::now(), c.clone()));
    Ok(c)
}
