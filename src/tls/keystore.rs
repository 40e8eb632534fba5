//! Key and trust material from the keystores ZooKeeper operators have: JKS (Java's old
//! default), PKCS12 (keytool's and openssl's) and PEM, with the type given by
//! `ssl.keyStore.type` / `ssl.trustStore.type` or inferred from the file name as ZooKeeper's
//! `KeyStoreFileType.fromFilename` infers it.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    Jks,
    Pkcs12,
    Pem,
}

/// The store type: the configured one, or the file name's extension (`.jks`, `.pem`,
/// `.p12`/`.pfx`). BCFKS (Bouncy Castle's FIPS store) has no reader here and is refused.
pub fn store_type(location: &str, configured: Option<&str>) -> Result<StoreType, String> {
    let name = match configured.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.to_ascii_uppercase(),
        None => {
            let ext = Path::new(location)
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_uppercase())
                .unwrap_or_default();
            match ext.as_str() {
                "P12" | "PFX" => "PKCS12".to_string(),
                "" => {
                    return Err(format!(
                        "cannot tell the store type of {location} from its name; set the type key"
                    ))
                }
                other => other.to_string(),
            }
        }
    };
    match name.as_str() {
        "JKS" => Ok(StoreType::Jks),
        "PKCS12" => Ok(StoreType::Pkcs12),
        "PEM" => Ok(StoreType::Pem),
        "BCFKS" => Err("BCFKS keystores are not supported; convert to PKCS12 or PEM".into()),
        other => Err(format!("unknown keystore type {other:?} for {location}")),
    }
}

/// A certificate chain (the server's or client's own first) and its private key.
pub struct KeyMaterial {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// Runs a keystore decoder so that a corrupt file is an error, never a crash.
fn guarded<T>(path: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(format!("{path} is not a keystore that can be read")))
}

/// An `ENCRYPTED PRIVATE KEY` block (PKCS#8, PBES2 as `openssl pkcs8 -topk8` and ZooKeeper's
/// PEM reader have it), decrypted with the key store's password; None without such a block.
fn encrypted_pem_key(
    data: &[u8],
    password: &str,
) -> Option<Result<PrivateKeyDer<'static>, String>> {
    use base64::Engine;
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    let text = std::str::from_utf8(data).ok()?;
    let start = text.find(BEGIN)? + BEGIN.len();
    let body = &text[start..start + text[start..].find(END)?];
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    Some((|| {
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("encrypted private key: {e}"))?;
        let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
            .map_err(|e| format!("encrypted private key: {e}"))?;
        let plain = info.decrypt(password).map_err(|e| {
            format!("encrypted private key cannot be decrypted with the key store password: {e}")
        })?;
        Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            plain.as_bytes().to_vec(),
        )))
    })())
}

/// The private key entry of a keystore, with its chain. A store with several keys gives the
/// first (by alias), as Java's default key manager does when no alias is chosen.
pub fn load_key(path: &str, password: &str, ty: StoreType) -> Result<KeyMaterial, String> {
    let data = read(path)?;
    guarded(path, || match ty {
        StoreType::Pem => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&data)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{path}: {e}"))?;
            let key = match encrypted_pem_key(&data, password) {
                Some(k) => k.map_err(|e| format!("{path}: {e}"))?,
                None => PrivateKeyDer::from_pem_slice(&data).map_err(|e| {
                    format!("{path}: no private key (PKCS#8, RSA, EC or encrypted PKCS#8 PEM block): {e}")
                })?,
            };
            if chain.is_empty() {
                return Err(format!("{path}: no CERTIFICATE block"));
            }
            Ok(KeyMaterial { chain, key })
        }
        StoreType::Pkcs12 => {
            let ks = p12_keystore::KeyStore::from_pkcs12(
                &data,
                password,
                p12_keystore::Pkcs12ImportPolicy::Relaxed,
            )
            .map_err(|e| format!("{path}: {e}"))?;
            let mut keys: Vec<(&String, &p12_keystore::PrivateKeyChain)> = ks
                .entries()
                .filter_map(|(alias, e)| match e {
                    p12_keystore::KeyStoreEntry::PrivateKeyChain(c) => Some((alias, c)),
                    _ => None,
                })
                .collect();
            keys.sort_by(|a, b| a.0.cmp(b.0));
            let (_, chain) = keys
                .first()
                .ok_or_else(|| format!("{path}: no private key entry"))?;
            Ok(KeyMaterial {
                chain: chain
                    .certs()
                    .iter()
                    .map(|c| CertificateDer::from(c.as_der().to_vec()))
                    .collect(),
                key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec())),
            })
        }
        StoreType::Jks => {
            let mut ks = jks::KeyStore::new();
            ks.load(&data[..], password.as_bytes())
                .map_err(|e| format!("{path}: {e}"))?;
            let mut aliases: Vec<String> = ks
                .aliases()
                .into_iter()
                .filter(|a| ks.is_private_key_entry(a))
                .collect();
            aliases.sort();
            let alias = aliases
                .first()
                .ok_or_else(|| format!("{path}: no private key entry"))?;
            let entry = ks
                .get_private_key_entry(alias, password.as_bytes())
                .map_err(|e| format!("{path}: {e}"))?;
            Ok(KeyMaterial {
                chain: entry
                    .certificate_chain
                    .into_iter()
                    .map(|c| CertificateDer::from(c.content))
                    .collect(),
                key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(entry.private_key)),
            })
        }
    })
}

/// The trusted certificates of a trust store: every CERTIFICATE block of a PEM file, the
/// trusted-certificate entries of a PKCS12 or JKS store (key entries are not trust anchors,
/// as for ZooKeeper's PKIX trust manager).
pub fn load_trust(
    path: &str,
    password: &str,
    ty: StoreType,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let data = read(path)?;
    let certs = guarded(path, || match ty {
        StoreType::Pem => CertificateDer::pem_slice_iter(&data)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{path}: {e}")),
        StoreType::Pkcs12 => {
            let ks = p12_keystore::KeyStore::from_pkcs12(
                &data,
                password,
                p12_keystore::Pkcs12ImportPolicy::Raw,
            )
            .map_err(|e| format!("{path}: {e}"))?;
            let mut out = Vec::new();
            for (_, e) in ks.entries() {
                if let p12_keystore::KeyStoreEntry::Certificate(c) = e {
                    out.push(CertificateDer::from(c.as_der().to_vec()))
                }
            }
            Ok(out)
        }
        StoreType::Jks => {
            let mut ks = jks::KeyStore::new();
            // A trust store may be read without its password (the integrity check is then
            // skipped in Java); here the password is needed when the store has one.
            ks.load(&data[..], password.as_bytes())
                .map_err(|e| format!("{path}: {e}"))?;
            let mut out = Vec::new();
            for alias in ks.aliases() {
                if let Ok(t) = ks.get_trusted_certificate_entry(&alias) {
                    out.push(CertificateDer::from(t.certificate.content));
                }
            }
            Ok(out)
        }
    })?;
    if certs.is_empty() {
        return Err(format!("{path}: no certificates"));
    }
    Ok(certs)
}
