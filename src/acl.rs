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
    /// The x509 provider is registered (a TLS client port, or `authProvider.N` names it), and
    /// the subject its `superUser` key names, which matches every x509 ACL.
    pub x509: bool,
    pub x509_super: Option<String>,
    /// The SASL provider is registered (`authProvider.N`), and `letAnySaslUserDoX`.
    pub sasl: bool,
    pub sasl_let_any: Option<String>,
}

impl AclPolicy {
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        AclPolicy {
            skip: cfg.settings.skip_acl,
            super_digest: cfg.settings.super_digest.clone(),
            enforce_quota: cfg.settings.enforce_quota,
            x509: cfg.settings.x509.enabled,
            x509_super: cfg.settings.x509.super_user.clone(),
            sasl: cfg.settings.sasl.provider,
            sasl_let_any: cfg.settings.sasl.let_any.clone(),
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
                    || ids.iter().any(|i| {
                        i.scheme == a.id.scheme && self.matches(&a.id.scheme, &i.id, &a.id.id)
                    }))
        })
    }
}

/// `Id.hashCode()` (jute's generated record hash).
pub fn id_hash(id: &Id) -> i32 {
    use crate::tree::javaset::java_string_hash;
    37i32
        .wrapping_mul(
            37i32
                .wrapping_mul(17)
                .wrapping_add(java_string_hash(&id.scheme)),
        )
        .wrapping_add(java_string_hash(&id.id))
}

/// A connection's identities in the order ZooKeeper hands them out: it keeps them in a
/// ConcurrentHashMap-backed set, so whoAmI and the expansion of `auth:` ACLs follow that
/// set's iteration order, not the order of authentication.
pub fn in_java_order(ids: &[Id]) -> Vec<Id> {
    crate::tree::javaset::concurrent_order(ids.iter().map(|i| (id_hash(i), i.clone())).collect())
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

impl AclPolicy {
    fn matches(&self, scheme: &str, id: &str, expr: &str) -> bool {
        match scheme {
            "digest" => id == expr,
            "ip" => ip_matches(id, expr),
            // X509AuthenticationProvider.matches: the subject exactly, or the super user's
            // subject for any x509 ACL.
            "x509" => self.x509 && (id == expr || self.x509_super.as_deref() == Some(id)),
            // SASLAuthenticationProvider.matches: the id exactly, a client authenticated as
            // `super`, or any client for the `letAnySaslUserDoX` id.
            "sasl" => {
                self.sasl
                    && (id == "super" || id == expr || self.sasl_let_any.as_deref() == Some(expr))
            }
            _ => false,
        }
    }
}

/// `SASLAuthenticationProvider.isValid`: a Kerberos name parses (`service[/host]@REALM`), or
/// the id has no `@` at all.
pub fn is_valid_kerberos_name(id: &str) -> bool {
    let Some((before, realm)) = id.split_once('@') else {
        return true;
    };
    if realm.contains('@') || realm.contains('/') {
        return false;
    }
    match before.split_once('/') {
        Some((svc, host)) => !svc.contains('@') && !host.contains('/'),
        None => true,
    }
}

/// The attribute types `X500Principal` parses: its keywords (any case), or an OID in dotted
/// form, bare or after `OID.`.
fn is_x500_attribute_type(ty: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "CN",
        "C",
        "L",
        "S",
        "ST",
        "O",
        "OU",
        "T",
        "IP",
        "STREET",
        "DC",
        "DNQUALIFIER",
        "DNQ",
        "SURNAME",
        "GIVENNAME",
        "INITIALS",
        "GENERATION",
        "EMAIL",
        "EMAILADDRESS",
        "UID",
        "SERIALNUMBER",
    ];
    if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(ty)) {
        return true;
    }
    let oid = ty
        .strip_prefix("OID.")
        .or_else(|| ty.strip_prefix("oid."))
        .unwrap_or(ty);
    let parts: Vec<&str> = oid.split('.').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether an x509 ACL id parses as an X.500 name (`X500Principal`): comma-separated
/// `type=value` pairs, values possibly quoted or escaped, or `#hex`.
pub fn is_valid_x500_name(id: &str) -> bool {
    // The empty name is a valid X.500 name.
    if id.trim().is_empty() {
        return true;
    }
    let mut chars = id.chars().peekable();
    let mut pairs = 0;
    loop {
        // The attribute type, before '=': a keyword Java knows, or a dotted OID.
        let mut ty = String::new();
        let mut eq = false;
        for c in chars.by_ref() {
            if c == '=' {
                eq = true;
                break;
            }
            ty.push(c);
        }
        if !eq || !is_x500_attribute_type(ty.trim()) {
            return false;
        }
        // The value, up to an unescaped ',' ';' or '+'.
        let mut quoted = false;
        let mut end = false;
        loop {
            match chars.next() {
                None => {
                    end = true;
                    break;
                }
                Some('\\') => {
                    if chars.next().is_none() {
                        return false;
                    }
                }
                Some('"') => quoted = !quoted,
                Some(',' | ';' | '+') if !quoted => break,
                Some(_) => {}
            }
        }
        if quoted {
            return false;
        }
        pairs += 1;
        if end {
            return pairs > 0;
        }
    }
}

/// The identity the ip scheme grants a connection: the peer address as Java's
/// `InetAddress.getHostAddress()` writes it (an IPv4-mapped IPv6 peer is its IPv4 address;
/// IPv6 in eight uncompressed lower-case hex groups).
pub fn host_address(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => a
            .segments()
            .iter()
            .map(|s| format!("{s:x}"))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

/// `Integer.parseInt(s, radix)` for ASCII digits: an optional sign, at least one digit, and
/// the value within an `int`.
fn java_parse_int(s: &str, radix: u32) -> Option<i32> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for c in digits.chars() {
        v = v * radix as i64 + c.to_digit(radix)? as i64;
        if v > 1 << 31 {
            return None;
        }
    }
    i32::try_from(if neg { -v } else { v }).ok()
}

/// `IPAuthenticationProvider.v4addr2Bytes`: four dot-separated decimal ints in 0..=255
/// (Java's parser, so `01` and `+1` are accepted).
fn v4_bytes(addr: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            java_parse_int(p, 10)
                .filter(|v| (0..=255).contains(v))
                .map(|v| v as u8)
        })
        .collect()
}

/// `IPAuthenticationProvider.parseV6addr` (ZooKeeper 3.9): eight hex groups of at most four
/// digits, or fewer around one `::`; no embedded IPv4 form.
fn v6_bytes(addr: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = addr.split("::").collect();
    let groups = |s: &str| -> Vec<String> {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split(':').map(str::to_string).collect()
        }
    };
    let (first, second) = match parts.as_slice() {
        [one] => {
            let g: Vec<String> = one.split(':').map(str::to_string).collect();
            if g.len() != 8 {
                return None;
            }
            (g, Vec::new())
        }
        [a, b] => {
            let (g1, g2) = (groups(a), groups(b));
            if g1.len() + g2.len() >= 8 {
                return None;
            }
            (g1, g2)
        }
        _ => return None,
    };
    let mut out = vec![0u8; 16];
    let mut fill = |at: usize, gs: &[String]| -> Option<()> {
        for (k, g) in gs.iter().enumerate() {
            if g.is_empty() || g.encode_utf16().count() > 4 {
                return None;
            }
            let v = java_parse_int(g, 16)?;
            out[at + 2 * k] = (v >> 8) as u8;
            out[at + 2 * k + 1] = v as u8;
        }
        Some(())
    };
    fill(0, &first)?;
    fill(16 - 2 * second.len(), &second)?;
    Some(out)
}

/// `IPAuthenticationProvider.addr2Bytes` as ZooKeeper 3.9 has it: IPv6 if the text has a
/// colon, IPv4 if it has a dot. (3.8 knows only IPv4: an IPv6 ACL is INVALIDACL there.)
fn addr_bytes(s: &str) -> Option<Vec<u8>> {
    if s.contains(':') {
        v6_bytes(s)
    } else if s.contains('.') {
        v4_bytes(s)
    } else {
        None
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

/// An ip ACL expression `addr[/bits]`: its address bytes and prefix length.
fn ip_expr(expr: &str) -> Option<(Vec<u8>, usize)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (expr, None),
    };
    let acl = addr_bytes(addr)?;
    let max = acl.len() * 8;
    let bits = match bits {
        None => max,
        Some(b) => match java_parse_int(b, 10) {
            Some(n) if n >= 0 && n as usize <= max => n as usize,
            _ => return None,
        },
    };
    Some((acl, bits))
}

/// `IPAuthenticationProvider.isValid`.
pub fn is_valid_ip(expr: &str) -> bool {
    ip_expr(expr).is_some()
}

/// `DigestAuthenticationProvider.isValid`: `id.split(":")` has two parts (Java drops trailing
/// empty parts, so `a:b:` is valid and `a:` is not).
pub fn is_valid_digest(id: &str) -> bool {
    let mut parts: Vec<&str> = id.split(':').collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts.len() == 2
}

/// `IPAuthenticationProvider.matches`: `addr[/bits]` against the client's address.
pub fn ip_matches(id: &str, expr: &str) -> bool {
    let Some((mut acl, bits)) = ip_expr(expr) else {
        return false;
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

    #[test]
    fn ip_and_digest_ids_parse_as_java_does() {
        for ok in [
            "127.0.0.1",
            "01.2.3.4",
            "+1.2.3.4",
            "10.0.0.0/8",
            "0.0.0.0/0",
            "127.0.0.1/32",
            "::1",
            "::",
            "fe80::1/64",
            "0:0:0:0:0:0:0:1",
            "1:2:3:4:5:6:7::",
        ] {
            assert!(is_valid_ip(ok), "{ok}");
        }
        for bad in [
            "1.2.3",
            "1.2.3.4.",
            "256.1.1.1",
            " 1.2.3.4",
            "1.2.3.4/33",
            "1.2.3.4/-1",
            "1.2.3.4/",
            "localhost",
            "::ffff:1.2.3.4",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::8",
            "12345::",
            "::1/129",
        ] {
            assert!(!is_valid_ip(bad), "{bad}");
        }
        assert!(ip_matches("127.0.0.1", "127.0.0.0/8"));
        assert!(ip_matches("127.0.0.1", "127.000.0.1"));
        assert!(!ip_matches("127.0.0.1", "::1"));
        assert!(ip_matches("0:0:0:0:0:0:0:1", "::1"));
        assert!(ip_matches("127.0.0.1", "128.0.0.0/0"));
        assert_eq!(host_address("::1".parse().unwrap()), "0:0:0:0:0:0:0:1");
        assert_eq!(
            host_address("::ffff:127.0.0.1".parse().unwrap()),
            "127.0.0.1"
        );
        for (id, valid) in [
            ("a:b", true),
            (":b", true),
            ("a:b:", true),
            ("a:", false),
            ("a::", false),
            ("a:b:c", false),
            ("", false),
            (":", false),
        ] {
            assert_eq!(is_valid_digest(id), valid, "{id:?}");
        }
    }

    #[test]
    fn x500_names_as_x500principal_parses_them() {
        for ok in [
            "",
            "CN=a,O=b",
            "cn=x+uid=1",
            "OID.2.5.4.3=x",
            "1.2.840.113549.1.9.1=#1603616263",
            "CN=a\\,b",
            "CN=\"a,b\"",
        ] {
            assert!(is_valid_x500_name(ok), "{ok:?}");
        }
        for bad in ["admin", "CN", "FOO=bar", "not a name", "CN=a,", "CN=\"open"] {
            assert!(!is_valid_x500_name(bad), "{bad:?}");
        }
    }
}
