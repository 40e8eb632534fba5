//! Access control as ZooKeeper decides it: authentication schemes (digest, ip, super) and the
//! permission check every operation makes against a node's ACL.

use base64::Engine;
use jute::{Acl, Id};
use sha1::Digest;
use std::net::IpAddr;

/// Who may do what, from zoo.cfg (`skipACL`, `DigestAuthenticationProvider.superDigest`,
/// and `enforceQuota`, which decides whether hard quota limits refuse writes).
#[derive(Debug, Clone, Default)]
pub struct AclPolicy {
    pub skip: bool,
    pub super_digest: Option<String>,
    pub enforce_quota: bool,
}

impl AclPolicy {
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        AclPolicy {
            skip: cfg.property("skipACL") == Some("yes"),
            super_digest: cfg
                .property("DigestAuthenticationProvider.superDigest")
                .map(str::to_string),
            // Java's Boolean.parseBoolean: "true" in any case, anything else is false.
            enforce_quota: cfg
                .property("enforceQuota")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        }
    }

    /// The identities a digest `auth` packet grants: `user:base64(sha1("user:password"))`, plus
    /// `super:` when it matches the configured super digest.
    pub fn digest_auth(&self, auth: &[u8]) -> Vec<Id> {
        let s = String::from_utf8_lossy(auth);
        let digest = generate_digest(&s);
        let mut ids = Vec::new();
        if self.super_digest.as_deref() == Some(digest.as_str()) {
            ids.push(Id::new("super", ""));
        }
        ids.push(Id::new("digest", &digest));
        ids
    }

    /// `ZooKeeperServer.checkACL`: some entry granting any bit of `perm` must match one of the
    /// caller's identities. An empty ACL allows everything; `super` bypasses the check.
    pub fn check(&self, acl: &[Acl], perm: i32, ids: &[Id]) -> bool {
        if self.skip || acl.is_empty() || ids.iter().any(|i| i.scheme == "super") {
            return true;
        }
        acl.iter().any(|a| {
            a.perms & perm != 0
                && ((a.id.scheme == "world" && a.id.id == "anyone")
                    || ids
                        .iter()
                        .any(|i| i.scheme == a.id.scheme && matches(&a.id.scheme, &i.id, &a.id.id)))
        })
    }
}

/// `DigestAuthenticationProvider.generateDigest`.
pub fn generate_digest(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = sha1::Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

fn matches(scheme: &str, id: &str, expr: &str) -> bool {
    match scheme {
        "digest" => id == expr,
        "ip" => ip_matches(id, expr),
        _ => false,
    }
}

fn addr_bytes(s: &str) -> Option<Vec<u8>> {
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some(a.octets().to_vec()),
        IpAddr::V6(a) => Some(a.octets().to_vec()),
    }
}

fn mask(b: &mut [u8], bits: usize) {
    for (i, byte) in b.iter_mut().enumerate() {
        let start = i * 8;
        if start >= bits {
            *byte = 0;
        } else if start + 8 > bits {
            *byte &= 0xffu8 << (8 - (bits - start));
        }
    }
}

/// `IPAuthenticationProvider.matches`: `addr[/bits]` against the client's address.
pub fn ip_matches(id: &str, expr: &str) -> bool {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (expr, None),
    };
    let Some(mut acl) = addr_bytes(addr) else {
        return false;
    };
    let bits = match bits {
        None => acl.len() * 8,
        Some(b) => match b.parse::<usize>() {
            Ok(n) if n <= acl.len() * 8 => n,
            _ => return false,
        },
    };
    let Some(mut remote) = addr_bytes(id) else {
        return false;
    };
    if remote.len() != acl.len() {
        return false;
    }
    mask(&mut acl, bits);
    mask(&mut remote, bits);
    acl == remote
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::Perms;

    #[test]
    fn digest_is_zookeepers() {
        // DigestAuthenticationProvider.generateDigest("super:test") from ZooKeeper's docs.
        assert_eq!(
            generate_digest("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn checks() {
        let p = AclPolicy::default();
        let ip = vec![Id::new("ip", "127.0.0.1")];
        let acl = vec![Acl {
            perms: Perms::READ,
            id: Id::new("ip", "127.0.0.0/8"),
        }];
        assert!(p.check(&acl, Perms::READ, &ip));
        assert!(!p.check(&acl, Perms::WRITE, &ip));
        assert!(!p.check(&acl, Perms::READ, &[Id::new("ip", "10.0.0.1")]));
        assert!(p.check(&acl, Perms::WRITE, &[Id::new("super", "")]));
        assert!(p.check(&[], Perms::WRITE, &ip));
    }
}
