//! A certificate's subject as Java's `X500Principal.getName()` writes it (RFC 2253): the
//! relative distinguished names last to first, separated by `,`; the values of a multi-valued
//! one joined by `+` in their encoded order; the attribute types CN, C, L, ST, O, OU, STREET,
//! DC and UID by name and every other by its dotted OID with the value as `#` and the hex of
//! its DER encoding; string values with `, = + < > # ; " \` escaped by a backslash, NUL as
//! `\00`, and leading and trailing spaces escaped. This string is ZooKeeper's x509 identity.
//! (Checked against ZooKeeper 3.9.5 on JDK 17 by compat-tests/tests/tls.rs.)

use x509_parser::der_parser::asn1_rs::{Any, Class, Tag};
use x509_parser::prelude::*;

fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// The DER encoding of a value (tag, length, content), for the `#hex` form.
fn der_of(v: &Any) -> Vec<u8> {
    let data = v.data;
    let class = match v.class() {
        Class::Universal => 0x00,
        Class::Application => 0x40,
        Class::ContextSpecific => 0x80,
        Class::Private => 0xc0,
    };
    let constructed = if v.header.is_constructed() { 0x20 } else { 0 };
    let tag = v.tag().0;
    let mut out = Vec::with_capacity(data.len() + 8);
    if tag < 31 {
        out.push(class | constructed | tag as u8);
    } else {
        out.push(class | constructed | 0x1f);
        let mut groups = Vec::new();
        let mut t = tag;
        loop {
            groups.push((t & 0x7f) as u8);
            t >>= 7;
            if t == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().rev().enumerate() {
            out.push(if i + 1 < groups.len() { g | 0x80 } else { *g });
        }
    }
    let n = data.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(data);
    out
}

/// The text of a value, when it is one of the string types Java's `AVA.toRFC2253String`
/// prints as text (Printable, T61, IA5, General, BMP and UTF8 strings); like Java, its bytes
/// are read as UTF-8 whatever the type (a malformed sequence becomes U+FFFD). Other types
/// (VisibleString, UniversalString, ...) are written as `#hex`.
fn string_value(v: &Any) -> Option<String> {
    if v.class() != Class::Universal {
        return None;
    }
    match v.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::GeneralString
        | Tag::T61String
        | Tag::BmpString => Some(String::from_utf8_lossy(v.data).into_owned()),
        _ => None,
    }
}

fn escape(s: &str) -> String {
    let mut body = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match c {
            ',' | '=' | '+' | '<' | '>' | '#' | ';' | '"' | '\\' => {
                body.push('\\');
                body.push(c);
            }
            '\0' => body.push_str("\\00"),
            _ => body.push(c),
        }
    }
    // Leading and trailing spaces (and carriage returns) are escaped.
    let chars: Vec<char> = body.chars().collect();
    let lead = chars
        .iter()
        .position(|c| *c != ' ' && *c != '\r')
        .unwrap_or(chars.len());
    let trail = chars
        .iter()
        .rposition(|c| *c != ' ' && *c != '\r')
        .map(|i| i as isize)
        .unwrap_or(-1);
    let mut out = String::with_capacity(body.len() + 2);
    for (i, c) in chars.iter().enumerate() {
        if i < lead || i as isize > trail {
            out.push('\\');
        }
        out.push(*c);
    }
    out
}

/// `X500Principal.getName()` of a name.
pub fn rfc2253(name: &X509Name) -> String {
    let mut rdns: Vec<String> = Vec::new();
    for rdn in name.iter() {
        let avas: Vec<String> = rdn
            .iter()
            .map(|ava| {
                let oid = ava.attr_type().to_id_string();
                let value = ava.attr_value();
                match (keyword(&oid), string_value(value)) {
                    (Some(k), Some(s)) => format!("{k}={}", escape(&s)),
                    (k, _) => {
                        let hex: String =
                            der_of(value).iter().map(|b| format!("{b:02x}")).collect();
                        format!("{}=#{hex}", k.map(str::to_string).unwrap_or(oid))
                    }
                }
            })
            .collect();
        rdns.push(avas.join("+"));
    }
    rdns.reverse();
    rdns.join(",")
}

/// The subject of a DER certificate as ZooKeeper's x509 provider names the client.
pub fn subject_of(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(rfc2253(cert.subject()))
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn values_are_escaped_as_java_escapes_them() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a,b+c=d"), "a\\,b\\+c\\=d");
        assert_eq!(escape("#x"), "\\#x");
        assert_eq!(escape(" pad "), "\\ pad\\ ");
        assert_eq!(escape("q\"<>;\\"), "q\\\"\\<\\>\\;\\\\");
    }
}
