//! SASL between ensemble members, as ZooKeeper's `quorum.auth.*` runs it on the election and
//! quorum ports: `QuorumAuthPacket { long magic; int status; buffer token }` records, written
//! bare (no length prefix), DIGEST-MD5 with protocol `zookeeper-quorum` and server name
//! `zk-quorum-sasl-md5`. A member that dials authenticates only with
//! `quorum.auth.learnerRequireSasl`; one that accepts looks at the first eight bytes: the
//! magic starts an exchange, anything else is a peer without SASL, refused only with
//! `quorum.auth.serverRequireSasl`.

use super::digest::{DigestClient, DigestServer, Step};
use std::collections::BTreeMap;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{info, warn};

/// `QuorumAuth.QUORUM_AUTH_MAGIC` as it is on the wire.
pub const MAGIC: [u8; 8] = [0x5f, 0x24, 0x35, 0x01, 0x35, 0x01, 0xed, 0xcc];
const IN_PROGRESS: i32 = 0;
const SUCCESS: i32 = 1;
const ERROR: i32 = -1;
/// Exchanges longer than this fail, as ZooKeeper's server counts them.
const MAX_ROUNDS: usize = 5;
/// The largest token taken (jute.maxbuffer's default).
const MAX_TOKEN: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(10);

/// What this member does: its settings and credentials.
#[derive(Debug, Clone)]
pub struct QuorumAuth {
    pub learner_require: bool,
    pub server_require: bool,
    /// The learner login section's `username` and `password` (DigestLoginModule).
    pub learner: Option<(String, String)>,
    /// The server login section's `user_<name>` entries (DigestLoginModule ones only).
    pub users: BTreeMap<String, String>,
    /// Kerberos: the server section's principal and keytab (an acceptor).
    pub kerberos_server: Option<(String, String)>,
    /// Kerberos: the learner section's principal and keytab (an initiator).
    pub kerberos_learner: Option<(String, String)>,
    /// `quorum.auth.kerberos.servicePrincipal` (`zkquorum/localhost`; `_HOST` is the peer).
    pub service_principal: String,
    /// The members' host names: a Kerberos learner's principal must name one of them.
    pub hosts: Vec<String>,
}

/// The service and host a learner asks a ticket for: the service principal, `_HOST` replaced
/// by the peer's host (only as the whole second part, as in ZooKeeper), realm left off.
fn service_and_host(principal: &str, peer_host: &str) -> (String, String) {
    let no_realm = principal.split('@').next().unwrap_or("");
    let mut parts = no_realm.splitn(2, '/');
    let service = parts.next().unwrap_or("").to_string();
    let host = match parts.next() {
        Some("_HOST") => peer_host.to_lowercase(),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    (service, host)
}

/// A null token (length -1), as the last packet of a GSSAPI exchange.
async fn send_null<S: AsyncWrite + Unpin>(s: &mut S, status: i32) -> io::Result<()> {
    let mut b = Vec::with_capacity(16);
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&status.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    s.write_all(&b).await?;
    s.flush().await
}

fn blocking_err(e: tokio::task::JoinError) -> io::Error {
    io::Error::other(e.to_string())
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, status: i32, token: &[u8]) -> io::Result<()> {
    let mut b = Vec::with_capacity(16 + token.len());
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&status.to_be_bytes());
    b.extend_from_slice(&(token.len() as i32).to_be_bytes());
    b.extend_from_slice(token);
    s.write_all(&b).await?;
    s.flush().await
}

/// The status and token of a packet whose magic was read already.
async fn read_rest<S: AsyncRead + Unpin>(s: &mut S) -> io::Result<(i32, Vec<u8>)> {
    let status = s.read_i32().await?;
    let n = s.read_i32().await?;
    if n < 0 {
        return Ok((status, Vec::new()));
    }
    if n as usize > MAX_TOKEN {
        return Err(io::Error::other(format!("a SASL token of {n} bytes")));
    }
    let mut t = vec![0u8; n as usize];
    s.read_exact(&mut t).await?;
    Ok((status, t))
}

async fn read<S: AsyncRead + Unpin>(s: &mut S) -> io::Result<(i32, Vec<u8>)> {
    let mut m = [0u8; 8];
    s.read_exact(&mut m).await?;
    if m != MAGIC {
        return Err(io::Error::other("not a quorum SASL packet"));
    }
    read_rest(s).await
}

impl QuorumAuth {
    /// The dialling side, right after connecting (the quorum port) or after the initial
    /// message (the election port).
    /// `host` is the peer's host name (for Kerberos, the service principal's `_HOST`).
    pub async fn learner<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        s: &mut S,
        host: &str,
        peer: &str,
    ) -> io::Result<()> {
        if !self.learner_require {
            return Ok(());
        }
        if let Some((principal, keytab)) = &self.kerberos_learner {
            let run = self.gss_learner(s, principal, keytab, host);
            return match tokio::time::timeout(TIMEOUT, run).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(io::Error::other(format!(
                    "quorum SASL (Kerberos) authentication to {peer} failed: {e}"
                ))),
                Err(_) => Err(io::Error::other(format!(
                    "quorum SASL authentication to {peer} timed out"
                ))),
            };
        }
        let (user, pass) = self
            .learner
            .as_ref()
            .ok_or_else(|| io::Error::other("no learner credentials"))?;
        let run = async {
            let mut c = DigestClient::new("zookeeper-quorum", "zk-quorum-sasl-md5", user, pass);
            send(s, IN_PROGRESS, &[]).await?;
            for _ in 0..=MAX_ROUNDS {
                let (status, token) = read(s).await?;
                match status {
                    SUCCESS => {
                        return c.finish(&token).map_err(io::Error::other);
                    }
                    IN_PROGRESS => {
                        let resp = c.respond(&token).map_err(io::Error::other)?;
                        send(s, IN_PROGRESS, &resp).await?;
                    }
                    _ => {
                        return Err(io::Error::other(
                            "the peer refused our quorum SASL credentials",
                        ))
                    }
                }
            }
            Err(io::Error::other("the quorum SASL exchange did not end"))
        };
        match tokio::time::timeout(TIMEOUT, run).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(io::Error::other(format!(
                "quorum SASL authentication to {peer} failed: {e}"
            ))),
            Err(_) => Err(io::Error::other(format!(
                "quorum SASL authentication to {peer} timed out"
            ))),
        }
    }

    /// The Kerberos learner: each library call on a blocking thread (it may ask the KDC).
    async fn gss_learner<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        s: &mut S,
        principal: &str,
        keytab: &str,
        host: &str,
    ) -> io::Result<()> {
        use super::gssapi::GssClient;
        let (service, target) = service_and_host(&self.service_principal, host);
        let (p, k) = (principal.to_string(), keytab.to_string());
        let (mut c, first) = tokio::task::spawn_blocking(move || {
            let mut c = GssClient::new(&p, &k, &service, &target)?;
            let t = c.step(None)?;
            Ok::<_, String>((c, t))
        })
        .await
        .map_err(blocking_err)?
        .map_err(io::Error::other)?;
        send(s, IN_PROGRESS, &first).await?;
        for _ in 0..=MAX_ROUNDS {
            let (status, token) = read(s).await?;
            match status {
                // Only once the server proved its key (its wrapped offer was taken).
                SUCCESS if c.is_complete() => return Ok(()),
                SUCCESS => {
                    return Err(io::Error::other(
                        "the peer ended the exchange before proving its key",
                    ))
                }
                IN_PROGRESS => {
                    let (back, resp) = tokio::task::spawn_blocking(move || {
                        let r = c.step(Some(&token));
                        (c, r)
                    })
                    .await
                    .map_err(blocking_err)?;
                    c = back;
                    send(s, IN_PROGRESS, &resp.map_err(io::Error::other)?).await?;
                }
                _ => {
                    return Err(io::Error::other(
                        "the peer refused our quorum SASL credentials",
                    ))
                }
            }
        }
        Err(io::Error::other("the quorum SASL exchange did not end"))
    }

    /// The Kerberos server side: the learner's principal must be `service/host@REALM` with a
    /// member's host, acting as itself, as ZooKeeper's quorum callback handler requires.
    async fn gss_server<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        s: &mut S,
        principal: &str,
        keytab: &str,
    ) -> io::Result<String> {
        use super::gssapi::{GssServer, GssStep};
        let _ = (principal, keytab);
        // Made at start-up (a keytab that cannot be used stops it).
        let acceptor = super::gssapi::quorum_acceptor()
            .ok_or_else(|| io::Error::other("no quorum Kerberos credential"))?;
        let (_, mut token) = read_rest(s).await?;
        let mut gss = Box::<GssServer>::default();
        for _ in 0..MAX_ROUNDS {
            let (back, step) = tokio::task::spawn_blocking(move || {
                let r = gss.step(acceptor, &token);
                (gss, r)
            })
            .await
            .map_err(blocking_err)?;
            gss = back;
            match step {
                Ok(GssStep::Continue(t)) => {
                    send(s, IN_PROGRESS, &t).await?;
                    token = read(s).await?.1;
                }
                Ok(GssStep::Complete(peer, authzid)) => {
                    let parts: Vec<&str> = authzid.split(['/', '@']).collect();
                    let ok = peer == authzid
                        && parts.len() == 3
                        && self.hosts.iter().any(|h| h == parts[1]);
                    if !ok {
                        let _ = send(s, ERROR, &[]).await;
                        return Err(io::Error::other(format!(
                            "{peer} is not a member's principal (service/host@REALM with a member's host)"
                        )));
                    }
                    send_null(s, SUCCESS).await?;
                    return Ok(peer);
                }
                Err(e) => {
                    let _ = send(s, ERROR, &[]).await;
                    return Err(io::Error::other(e));
                }
            }
        }
        let _ = send(s, ERROR, &[]).await;
        Err(io::Error::other("too many rounds"))
    }

    /// The accepting side, before anything else is read. `first` holds the connection's
    /// first eight bytes; when they are not the magic they belong to the connection (the
    /// caller gives them back to it) and the peer is let in unless SASL is required.
    pub async fn server<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        s: &mut S,
        first: [u8; 8],
        peer: &str,
    ) -> io::Result<bool> {
        if first != MAGIC {
            if self.server_require {
                return Err(io::Error::other(format!(
                    "{peer} did not authenticate, and quorum.auth.serverRequireSasl is set"
                )));
            }
            return Ok(false);
        }
        if let Some((principal, keytab)) = &self.kerberos_server {
            let res =
                match tokio::time::timeout(TIMEOUT, self.gss_server(s, principal, keytab)).await {
                    Ok(r) => r,
                    Err(_) => Err(io::Error::other("timed out")),
                };
            return self.verdict(res, peer);
        }
        let run = async {
            let mut server = DigestServer::new("zookeeper-quorum", "zk-quorum-sasl-md5");
            let (_, mut token) = read_rest(s).await?;
            for _ in 0..MAX_ROUNDS {
                let step = server.step(&token, |u| self.users.get(u).cloned());
                match step {
                    Ok(Step::Continue(challenge)) => {
                        send(s, IN_PROGRESS, &challenge).await?;
                        token = read(s).await?.1;
                    }
                    Ok(Step::Complete {
                        token: last,
                        authcid,
                        authzid,
                    }) => {
                        if authzid.as_deref().is_some_and(|z| z != authcid) {
                            let _ = send(s, ERROR, &[]).await;
                            return Err(io::Error::other(format!(
                                "{authcid} may not act as {}",
                                authzid.unwrap_or_default()
                            )));
                        }
                        send(s, SUCCESS, &last).await?;
                        return Ok(authcid);
                    }
                    Err(e) => {
                        let _ = send(s, ERROR, &[]).await;
                        return Err(io::Error::other(e));
                    }
                }
            }
            let _ = send(s, ERROR, &[]).await;
            Err(io::Error::other("too many rounds"))
        };
        let res = match tokio::time::timeout(TIMEOUT, run).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::other("timed out")),
        };
        self.verdict(res, peer)
    }

    /// What an exchange's outcome means for the connection.
    fn verdict(&self, res: io::Result<String>, peer: &str) -> io::Result<bool> {
        match res {
            Ok(who) => {
                info!("quorum SASL: {peer} authenticated as {who}");
                Ok(true)
            }
            Err(e) if self.server_require => Err(io::Error::other(format!(
                "quorum SASL authentication of {peer} failed: {e}"
            ))),
            Err(e) => {
                warn!("quorum SASL authentication of {peer} failed ({e}); keeping the connection, as quorum.auth.serverRequireSasl is not set");
                Ok(true)
            }
        }
    }
}
