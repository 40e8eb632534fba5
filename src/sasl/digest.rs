//! The server side of DIGEST-MD5 (RFC 2831) as the JDK's SaslServer runs it for ZooKeeper:
//! no QOP or cipher offered (authentication only), UTF-8, md5-sess, one realm (the server
//! name), two steps: a challenge, then the client's response checked and `rspauth` sent back.
//! Written here because no maintained Rust crate has a DIGEST-MD5 server; each rule below is
//! the JDK's, and the exchange is tested against the Java client, kazoo and Java ZooKeeper.

use md5::{Digest, Md5};
use std::collections::BTreeMap;

/// The longest client response taken (the JDK's limit).
const MAX_RESPONSE: usize = 4096;

/// The directives the JDK's parser knows; others are ignored, these may not repeat.
const KNOWN: &[&str] = &[
    "username",
    "realm",
    "nonce",
    "cnonce",
    "nonce-count",
    "qop",
    "digest-uri",
    "response",
    "maxbuf",
    "charset",
    "cipher",
    "authzid",
    "auth-param",
    "rspauth",
];

enum State {
    Start,
    Challenged { nonce: String },
    Done,
}

/// One connection's DIGEST-MD5 exchange.
pub struct DigestServer {
    /// `zookeeper` (clients) or `zookeeper-quorum` (members).
    protocol: &'static str,
    /// The server name, which is also the only realm: `zk-sasl-md5`, `zk-quorum-sasl-md5`.
    realm: &'static str,
    state: State,
}

/// What a step gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this token and wait for the next.
    Continue(Vec<u8>),
    /// Authenticated as `authcid` (the client asked to act as `authzid`): send `token`.
    Complete {
        token: Vec<u8>,
        authcid: String,
        authzid: Option<String>,
    },
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The JDK's encoding of user, realm and password inside A1: ISO-8859-1 when every
/// character fits, UTF-8 otherwise.
fn latin1_or_utf8(s: &str) -> Vec<u8> {
    if s.chars().all(|c| (c as u32) <= 0xff) {
        s.chars().map(|c| c as u8).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

/// The response values of RFC 2831 (md5-sess, nonce count 1) for one exchange: `of("AUTHENTICATE")`
/// is the client's `response`, `of("")` the server's `rspauth`.
struct Values {
    ha1: String,
    tail: String,
    uri: String,
}

impl Values {
    #[allow(clippy::too_many_arguments)]
    fn new(
        user: &str,
        realm: &str,
        password: &str,
        nonce: &str,
        cnonce: &str,
        authzid: Option<&str>,
        qop: &str,
        uri: &str,
    ) -> Values {
        let inner = md5(&[
            &latin1_or_utf8(user),
            b":",
            &latin1_or_utf8(realm),
            b":",
            &latin1_or_utf8(password),
        ]);
        let mut a1 = inner.to_vec();
        a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
        if let Some(z) = authzid {
            a1.extend_from_slice(format!(":{z}").as_bytes());
        }
        Values {
            ha1: hex(&md5(&[&a1])),
            tail: format!("{nonce}:00000001:{cnonce}:{qop}"),
            uri: uri.to_string(),
        }
    }

    fn of(&self, method: &str) -> String {
        let ha2 = hex(&md5(&[format!("{method}:{}", self.uri).as_bytes()]));
        hex(&md5(&[
            format!("{}:{}:{ha2}", self.ha1, self.tail).as_bytes()
        ]))
    }
}

/// Parses `key=value, key="quoted"` directives; known keys case-insensitively, none twice.
fn directives(text: &str) -> Result<BTreeMap<String, String>, String> {
    let b: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut out = BTreeMap::new();
    let lws = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    loop {
        while i < b.len() && (lws(b[i]) || b[i] == ',') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != '=' && b[i] != ',' {
            i += 1;
        }
        let key: String = b[start..i].iter().collect::<String>().trim().to_string();
        if i >= b.len() || b[i] != '=' {
            return Err(format!("directive {key:?} has no value"));
        }
        i += 1;
        while i < b.len() && lws(b[i]) {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == '"' {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err("unterminated quoted value".into()),
                    Some('"') => break,
                    Some('\\') => {
                        i += 1;
                        value.push(*b.get(i).ok_or("unterminated quoted value")?);
                    }
                    Some(&c) => value.push(c),
                }
                i += 1;
            }
            i += 1;
        } else {
            while i < b.len() && b[i] != ',' {
                value.push(b[i]);
                i += 1;
            }
            value = value.trim_end().to_string();
        }
        let lower = key.to_ascii_lowercase();
        if KNOWN.contains(&lower.as_str()) && out.insert(lower, value).is_some() {
            return Err(format!("more than one {key} directive"));
        }
    }
    Ok(out)
}

impl DigestServer {
    pub fn new(protocol: &'static str, realm: &'static str) -> Self {
        DigestServer {
            protocol,
            realm,
            state: State::Start,
        }
    }

    /// The next step, with `password` giving a user's password (None: unknown user).
    pub fn step(
        &mut self,
        token: &[u8],
        password: impl Fn(&str) -> Option<String>,
    ) -> Result<Step, String> {
        match std::mem::replace(&mut self.state, State::Done) {
            // A first token is ignored, as current JDKs ignore it.
            State::Start => {
                use base64::Engine;
                let raw: [u8; 30] = rand::random();
                let nonce = base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw);
                let challenge = format!(
                    "realm=\"{}\",nonce=\"{nonce}\",charset=utf-8,algorithm=md5-sess",
                    self.realm
                );
                self.state = State::Challenged { nonce };
                Ok(Step::Continue(challenge.into_bytes()))
            }
            State::Challenged { nonce } => self.respond(token, &nonce, password),
            State::Done => Err("DIGEST-MD5: server at illegal state".into()),
        }
    }

    fn respond(
        &self,
        token: &[u8],
        nonce: &str,
        password: impl Fn(&str) -> Option<String>,
    ) -> Result<Step, String> {
        if token.len() > MAX_RESPONSE {
            return Err("DIGEST-MD5: response too long".into());
        }
        let text = std::str::from_utf8(token).map_err(|_| "DIGEST-MD5: response not UTF-8")?;
        let d = directives(text).map_err(|e| format!("DIGEST-MD5: {e}"))?;
        let get = |k: &str| d.get(k).map(String::as_str);
        if get("charset").is_some_and(|c| c != "utf-8") {
            return Err("DIGEST-MD5: unknown charset".into());
        }
        if let Some(m) = get("maxbuf") {
            m.parse::<i32>()
                .map_err(|_| "DIGEST-MD5: maxbuf is not a number")?;
        }
        let user = get("username").ok_or("DIGEST-MD5: missing username")?;
        let realm = get("realm").unwrap_or("");
        if realm != self.realm {
            return Err(format!("DIGEST-MD5: wrong realm {realm:?}"));
        }
        if get("nonce") != Some(nonce) {
            return Err("DIGEST-MD5: nonce does not match".into());
        }
        let cnonce = get("cnonce").ok_or("DIGEST-MD5: missing cnonce")?;
        if let Some(nc) = get("nonce-count") {
            if u32::from_str_radix(nc, 16) != Ok(1) {
                return Err("DIGEST-MD5: nonce-count must be 1".into());
            }
        }
        let qop = get("qop").unwrap_or("auth");
        match qop {
            "auth" => {}
            "auth-int" | "auth-conf" => {
                return Err(format!("DIGEST-MD5: server does not support qop {qop}"))
            }
            other => return Err(format!("DIGEST-MD5: invalid qop {other:?}")),
        }
        let uri = get("digest-uri").ok_or("DIGEST-MD5: missing digest-uri")?;
        let expected_uri = format!("{}/{}", self.protocol, self.realm);
        if !uri.eq_ignore_ascii_case(&expected_uri) {
            return Err(format!("DIGEST-MD5: digest-uri {uri:?} does not match"));
        }
        let response = get("response").ok_or("DIGEST-MD5: missing response")?;
        let authzid = get("authzid");
        let pass = password(user)
            .ok_or_else(|| format!("DIGEST-MD5: cannot acquire password for {user}"))?;
        let value = Values::new(user, realm, &pass, nonce, cnonce, authzid, qop, uri);
        if response != value.of("AUTHENTICATE") {
            return Err(format!(
                "DIGEST-MD5: digest response does not match for {user}"
            ));
        }
        Ok(Step::Complete {
            token: format!("rspauth={}", value.of("")).into_bytes(),
            authcid: user.to_string(),
            authzid: authzid.map(str::to_string),
        })
    }
}

/// The client side of the same exchange (a member dialling a peer that asks for SASL): the
/// response to a challenge, as the JDK's client writes it (authzid = the user, charset and
/// QOP `auth`), and the check of the server's `rspauth`.
pub struct DigestClient {
    protocol: &'static str,
    server_name: &'static str,
    user: String,
    password: String,
    /// The server's expected `rspauth` once a response was sent.
    expect: Option<String>,
}

impl DigestClient {
    pub fn new(
        protocol: &'static str,
        server_name: &'static str,
        user: &str,
        password: &str,
    ) -> Self {
        DigestClient {
            protocol,
            server_name,
            user: user.to_string(),
            password: password.to_string(),
            expect: None,
        }
    }

    /// The response to the server's challenge.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, String> {
        use base64::Engine;
        if self.expect.is_some() {
            return Err("DIGEST-MD5: a second challenge".into());
        }
        let text = std::str::from_utf8(challenge).map_err(|_| "DIGEST-MD5: challenge not UTF-8")?;
        let d = directives(text).map_err(|e| format!("DIGEST-MD5: {e}"))?;
        let nonce = d
            .get("nonce")
            .ok_or("DIGEST-MD5: the challenge has no nonce")?;
        let realm = d.get("realm").cloned().unwrap_or_default();
        if let Some(q) = d.get("qop") {
            if !q.split(',').any(|x| x.trim() == "auth") {
                return Err(format!("DIGEST-MD5: the server offers no qop auth ({q})"));
            }
        }
        let raw: [u8; 30] = rand::random();
        let cnonce = base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw);
        let uri = format!("{}/{}", self.protocol, self.server_name);
        let value = Values::new(
            &self.user,
            &realm,
            &self.password,
            nonce,
            &cnonce,
            Some(&self.user),
            "auth",
            &uri,
        );
        let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let response = format!(
            "charset=utf-8,username=\"{}\",realm=\"{}\",nonce=\"{}\",nc=00000001,cnonce=\"{cnonce}\",digest-uri=\"{uri}\",maxbuf=65536,response={},qop=auth,authzid=\"{}\"",
            quote(&self.user),
            quote(&realm),
            quote(nonce),
            value.of("AUTHENTICATE"),
            quote(&self.user)
        );
        self.expect = Some(value.of(""));
        Ok(response.into_bytes())
    }

    /// Checks the server's final token (`rspauth=...`).
    pub fn finish(&self, token: &[u8]) -> Result<(), String> {
        let expect = self
            .expect
            .as_deref()
            .ok_or("DIGEST-MD5: finished before responding")?;
        let text = std::str::from_utf8(token).map_err(|_| "DIGEST-MD5: rspauth not UTF-8")?;
        let d = directives(text).map_err(|e| format!("DIGEST-MD5: {e}"))?;
        match d.get("rspauth") {
            Some(r) if r == expect => Ok(()),
            _ => Err("DIGEST-MD5: the server's rspauth does not match".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exchange for a known nonce and cnonce, as the JDK and pure-sasl compute it.
    #[test]
    fn a_known_exchange_gives_the_jdks_values() {
        let mut s = DigestServer::new("zookeeper", "zk-sasl-md5");
        let Ok(Step::Continue(ch)) = s.step(b"", |_| None) else {
            panic!("no challenge")
        };
        let ch = String::from_utf8(ch).unwrap();
        assert!(ch.starts_with("realm=\"zk-sasl-md5\",nonce=\""), "{ch}");
        assert!(ch.ends_with("\",charset=utf-8,algorithm=md5-sess"), "{ch}");
        let nonce = "AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHHIIIIJJJJ".to_string();
        s.state = State::Challenged {
            nonce: nonce.clone(),
        };
        let resp = format!(
            "qop=auth,realm=\"zk-sasl-md5\",username=\"bob\",nonce=\"{nonce}\",cnonce=\"318959534959558\",nc=00000001,digest-uri=\"zookeeper/zk-sasl-md5\",response=04e62a2c2675be7cfb7db717fb3ca225"
        );
        let step = s
            .step(resp.as_bytes(), |u| {
                (u == "bob").then(|| "bobsecret".into())
            })
            .unwrap();
        assert_eq!(
            step,
            Step::Complete {
                token: b"rspauth=4158d5b818197452c95d9b7b400b658d".to_vec(),
                authcid: "bob".into(),
                authzid: None
            }
        );
        // Nothing after completion.
        assert!(s.step(b"", |_| None).is_err());
    }

    #[test]
    fn our_client_and_server_agree() {
        let mut s = DigestServer::new("zookeeper-quorum", "zk-quorum-sasl-md5");
        let mut c = DigestClient::new("zookeeper-quorum", "zk-quorum-sasl-md5", "test", "pw");
        let Ok(Step::Continue(ch)) = s.step(b"", |_| None) else {
            panic!()
        };
        let resp = c.respond(&ch).unwrap();
        let Ok(Step::Complete {
            token,
            authcid,
            authzid,
        }) = s.step(&resp, |u| (u == "test").then(|| "pw".to_string()))
        else {
            panic!("{}", String::from_utf8_lossy(&resp))
        };
        assert_eq!(
            (authcid.as_str(), authzid.as_deref()),
            ("test", Some("test"))
        );
        c.finish(&token).unwrap();
        assert!(c.finish(b"rspauth=0000").is_err());
    }

    #[test]
    fn wrong_passwords_realms_and_repeated_directives_fail() {
        for (resp, pw) in [
            ("username=\"bob\",realm=\"zk-sasl-md5\",nonce=\"N\",cnonce=\"c\",digest-uri=\"zookeeper/zk-sasl-md5\",response=00", "x"),
            ("username=\"bob\",realm=\"other\",nonce=\"N\",cnonce=\"c\",digest-uri=\"zookeeper/zk-sasl-md5\",response=00", "x"),
            ("username=\"bob\",username=\"bob\",realm=\"zk-sasl-md5\",nonce=\"N\",cnonce=\"c\",digest-uri=\"zookeeper/zk-sasl-md5\",response=00", "x"),
            ("username=\"eve\",realm=\"zk-sasl-md5\",nonce=\"N\",cnonce=\"c\",digest-uri=\"zookeeper/zk-sasl-md5\",response=00", ""),
            ("username=\"bob\",realm=\"zk-sasl-md5\",nonce=\"N\",cnonce=\"c\",digest-uri=\"zookeeper/zk-sasl-md5\",qop=auth-conf,response=00", "x"),
            ("garbage", "x"),
        ] {
            let mut s = DigestServer::new("zookeeper", "zk-sasl-md5");
            s.state = State::Challenged { nonce: "N".into() };
            let known = !pw.is_empty();
            assert!(
                s.step(resp.as_bytes(), |u| (known && u == "bob").then(|| pw.into()))
                    .is_err(),
                "{resp}"
            );
        }
    }
}
