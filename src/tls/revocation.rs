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
use webpki::{CertRevocationList, EndEntityCert, KeyUsage, OwnedCertRevocationList};

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

type CrlCache = Mutex<HashMap<String, (Instant, Arc<OwnedCertRevocationList>)>>;

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

    /// The path from the peer's certificate up to (not including) the trust store's anchor.
    fn path(&self, chain: &[CertificateDer<'_>]) -> Result<Vec<Link>, String> {
        use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
        use x509_parser::prelude::*;
        let parse = |d: &[u8]| -> Option<(Vec<u8>, Vec<u8>)> {
            let (_, c) = X509Certificate::from_der(d).ok()?;
            Some((c.subject().as_raw().to_vec(), c.issuer().as_raw().to_vec()))
        };
        let mut out: Vec<Link> = Vec::new();
        let mut cur = chain.first().ok_or("no certificate")?.clone().into_owned();
        for _ in 0..chain.len().max(1) + 1 {
            if self.trust.contains(&cur) {
                break;
            }
            let (_, c) = X509Certificate::from_der(&cur)
                .map_err(|e| format!("a certificate cannot be parsed: {e}"))?;
            let issuer_name = c.issuer().as_raw().to_vec();
            let from_trust = self
                .trust
                .iter()
                .find(|t| parse(t).is_some_and(|(s, _)| s == issuer_name));
            let issuer = from_trust
                .or_else(|| {
                    chain[1..]
                        .iter()
                        .find(|t| parse(t).is_some_and(|(s, _)| s == issuer_name))
                })
                .ok_or("the certificate's issuer is not in the path")?
                .clone()
                .into_owned();
            let mut link = Link {
                serial: c.raw_serial().to_vec(),
                issuer_name,
                issuer: issuer.clone(),
                crl_urls: Vec::new(),
                ocsp_urls: Vec::new(),
            };
            for ext in c.extensions() {
                match ext.parsed_extension() {
                    ParsedExtension::CRLDistributionPoints(points) => {
                        for p in &points.points {
                            if let Some(DistributionPointName::FullName(names)) =
                                &p.distribution_point
                            {
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
                            if d.access_method
                                == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP
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
            out.push(link);
            if from_trust.is_some() {
                break;
            }
            cur = issuer;
        }
        Ok(out)
    }

    /// Whether the peer's certificates (`chain`, its own first) are shown not revoked.
    pub async fn check(&self, chain: &[CertificateDer<'_>], usage: Usage) -> Result<(), String> {
        if chain.is_empty() {
            return Ok(());
        }
        let path = self.path(chain)?;
        let mut need_crl = Vec::new();
        let mut unknown = Vec::new();
        for link in &path {
            if self.ocsp && !link.ocsp_urls.is_empty() {
                match self.ocsp_status(link).await {
                    Status::Good => continue,
                    Status::Revoked(why) => return Err(format!("certificate revoked ({why})")),
                    Status::Unknown(why) => unknown.push(why),
                }
            }
            need_crl.push(link);
        }
        if need_crl.is_empty() {
            return Ok(());
        }
        let mut crls: Vec<CertRevocationList<'static>> = Vec::new();
        for link in &need_crl {
            let mut found = false;
            for url in &link.crl_urls {
                match crl(url).await {
                    Ok(c) => {
                        found |= CertRevocationList::from((*c).clone()).issuer()
                            == contents(&link.issuer_name);
                        crls.push(CertRevocationList::from((*c).clone()));
                    }
                    Err(e) => unknown.push(e),
                }
            }
            if !found {
                unknown.push(if link.crl_urls.is_empty() {
                    "the certificate names no CRL distribution point".to_string()
                } else {
                    "no CRL from its distribution points covers it".to_string()
                });
                return Err(format!(
                    "could not determine revocation status: {}",
                    unknown.join("; ")
                ));
            }
        }
        // The whole path, against the CRLs fetched: their signatures, dates and entries. The
        // certificates OCSP settled have no CRL here, hence unknown statuses are allowed when
        // there are some; every other one was seen above to have a CRL from its issuer.
        let refs: Vec<&CertRevocationList<'_>> = crls.iter().collect();
        let policy = if need_crl.len() == path.len() {
            webpki::UnknownStatusPolicy::Deny
        } else {
            webpki::UnknownStatusPolicy::Allow
        };
        let options = webpki::RevocationOptionsBuilder::new(&refs)
            .map_err(|_| "no CRL".to_string())?
            .with_depth(webpki::RevocationCheckDepth::Chain)
            .with_status_policy(policy)
            .with_expiration_policy(webpki::ExpirationPolicy::Enforce)
            .build();
        let ee = EndEntityCert::try_from(&chain[0]).map_err(|e| e.to_string())?;
        let usage = match usage {
            Usage::Client => KeyUsage::client_auth(),
            Usage::Server => KeyUsage::server_auth(),
        };
        ee.verify_for_usage(
            self.algs,
            &self.anchors,
            &chain[1..],
            UnixTime::now(),
            usage,
            Some(options),
            None,
        )
        .map(|_| ())
        .map_err(|e| match e {
            webpki::Error::CertRevoked => "certificate revoked (CRL)".to_string(),
            e => format!("revocation check failed: {e}"),
        })
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
            if let Some(next) = &single.next_update {
                if next.0.to_system_time() + SKEW < wall {
                    return Err("the answer is out of date".into());
                }
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

/// The CRL at `url`, from the cache when fetched less than 30 seconds ago.
async fn crl(url: &str) -> Result<Arc<OwnedCertRevocationList>, String> {
    if let Some((at, c)) = crl_cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(url)
    {
        if at.elapsed() < CRL_CACHE {
            return Ok(c.clone());
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
    let c = Arc::new(
        OwnedCertRevocationList::from_der(&der).map_err(|e| format!("{url}: not a CRL: {e}"))?,
    );
    let mut cache = crl_cache().lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() > 1000 {
        cache.clear();
    }
    cache.insert(url.to_string(), (Instant::now(), c.clone()));
    Ok(c)
}
