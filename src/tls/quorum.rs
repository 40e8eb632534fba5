//! TLS between ensemble members, as ZooKeeper's `sslQuorum` and `portUnification` have it: the
//! election and quorum ports accept TLS (or, with `portUnification`, TLS and plaintext, told
//! apart by the first bytes, for the documented rolling switch of a live ensemble), and a
//! member dials its peers with TLS when `sslQuorum` is on, presenting its own certificate and
//! checking the peer's against the `ssl.quorum` trust store (and its address, unless
//! `ssl.quorum.hostnameVerification=false`).

use super::revocation::{Revocation, Usage};
use super::{key_material, provider, roots, server_config, versions};
use crate::config::QuorumTls as Settings;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme,
};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A connection between members: plaintext, or TLS from either end; bytes read ahead (to
/// look for quorum SASL) are given back first.
pub struct QStream {
    inner: QInner,
    ahead: Vec<u8>,
}

enum QInner {
    Plain(TcpStream),
    Accepted(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Dialled(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl QStream {
    fn new(inner: QInner) -> Self {
        QStream {
            inner,
            ahead: Vec::new(),
        }
    }

    /// Gives bytes back: the next reads return them first.
    pub fn unread(&mut self, b: &[u8]) {
        let mut v = b.to_vec();
        v.extend_from_slice(&self.ahead);
        self.ahead = v;
    }
}

impl AsyncRead for QStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if !me.ahead.is_empty() {
            let n = me.ahead.len().min(buf.remaining());
            buf.put_slice(&me.ahead[..n]);
            me.ahead.drain(..n);
            return Poll::Ready(Ok(()));
        }
        match &mut me.inner {
            QInner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            QInner::Accepted(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            QInner::Dialled(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for QStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            QInner::Plain(s) => Pin::new(s).poll_write(cx, buf),
            QInner::Accepted(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            QInner::Dialled(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            QInner::Plain(s) => Pin::new(s).poll_flush(cx),
            QInner::Accepted(s) => Pin::new(s.as_mut()).poll_flush(cx),
            QInner::Dialled(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            QInner::Plain(s) => Pin::new(s).poll_shutdown(cx),
            QInner::Accepted(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            QInner::Dialled(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The peer's certificate must chain to the trust store; its name is checked only with
/// hostname verification on.
#[derive(Debug)]
struct PeerVerifier {
    inner: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The quorum's TLS: how its ports accept and how it dials.
pub struct QuorumTls {
    settings: Settings,
    configs: super::reload::Reloadable<Configs>,
}

/// How the ports accept, how a member dials, and the revocation checks (`ssl.quorum.crl`,
/// `ssl.quorum.ocsp`) of both.
type Configs = (
    Arc<ServerConfig>,
    Arc<ClientConfig>,
    Option<Arc<Revocation>>,
);

fn configs(settings: &Settings) -> Result<Configs, String> {
    let c = &settings.common;
    let server = server_config(c)?;
    let client = client_config(c, c.hostname_verification)?;
    Ok((Arc::new(server), Arc::new(client), super::revocation(c)?))
}

/// A client configuration presenting our own certificate and checking the server's against
/// the trust store (its name only with `check_name`).
pub fn client_config(
    c: &crate::config::TlsCommon,
    check_name: bool,
) -> Result<ClientConfig, String> {
    let provider = Arc::new(provider(c)?);
    let roots = Arc::new(roots(c)?.ok_or("a trust store is needed")?);
    let inner = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let key = key_material(c)?;
    ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(c, &provider)?)
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PeerVerifier { inner, check_name }))
        .with_client_auth_cert(key.chain, key.key)
        .map_err(|e| format!("{}: {e}", c.key_store.location))
}

impl QuorumTls {
    /// Loads the `ssl.quorum` stores (blocking file reads: at start-up).
    pub fn new(settings: Settings) -> Result<Arc<QuorumTls>, String> {
        let pair = configs(&settings)?;
        let files = super::store_files(&settings.common);
        Ok(Arc::new(QuorumTls {
            configs: super::reload::Reloadable::new(pair, files, "quorum TLS", "member"),
            settings,
        }))
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn current(&self) -> Configs {
        self.configs.get()
    }

    /// With `sslQuorumReloadCertFiles`: re-reads the stores if a file changed (blocking: run
    /// it off the async workers).
    pub fn reload_if_changed(&self) {
        self.configs.reload_if_changed(|| configs(&self.settings));
    }
}

/// How a member's quorum and election ports speak: plaintext or as `QuorumTls` says, with
/// quorum SASL when `quorum.auth.enableSasl` is on.
#[derive(Clone, Default)]
pub struct Transport {
    pub tls: Option<Arc<QuorumTls>>,
    pub auth: Option<Arc<crate::sasl::quorum::QuorumAuth>>,
}

/// Quorum SASL on a connection this member accepted, before anything else is read from it.
/// `wait`: how long to wait for the peer's first bytes.
pub async fn authenticate_accepted(
    t: &Transport,
    s: &mut QStream,
    peer: &str,
    wait: Duration,
) -> io::Result<()> {
    use crate::sasl::quorum::MAGIC;
    use tokio::io::AsyncReadExt;
    let Some(a) = &t.auth else {
        return Ok(());
    };
    let mut got: Vec<u8> = Vec::with_capacity(8);
    let deadline = tokio::time::Instant::now() + wait;
    // Until eight bytes are in, or the ones in cannot begin the magic (a peer without SASL
    // sends its own first message), or nothing comes (a peer that waits for us).
    while got.len() < 8 && MAGIC.starts_with(&got) {
        let mut b = [0u8; 8];
        match tokio::time::timeout_at(deadline, s.read(&mut b[..8 - got.len()])).await {
            Ok(Ok(0)) => return Err(io::Error::other("closed before authenticating")),
            Ok(Ok(n)) => got.extend_from_slice(&b[..n]),
            Ok(Err(e)) => return Err(e),
            Err(_) => break,
        }
    }
    if got == MAGIC {
        a.server(s, MAGIC, peer).await?;
    } else {
        a.server(s, [0; 8], peer).await?;
        s.unread(&got);
    }
    Ok(())
}

/// Quorum SASL on a connection this member dialled to `host` (with
/// `quorum.auth.learnerRequireSasl`).
pub async fn authenticate_dialled(
    t: &Transport,
    s: &mut QStream,
    host: &str,
    peer: &str,
) -> io::Result<()> {
    match &t.auth {
        Some(a) => a.learner(s, host, peer).await,
        None => Ok(()),
    }
}

/// A TLS record's first bytes: a content type (20..=24) and major version 3.
fn looks_like_tls(b: &[u8]) -> bool {
    b.len() >= 2 && (20..=24).contains(&b[0]) && b[1] == 3
}

/// An accepted connection: TLS with `sslQuorum`; with `portUnification`, TLS when its first
/// bytes are a TLS record (waiting at most the detection timeout for them) and plaintext
/// otherwise; plaintext without either.
pub async fn accept(t: &Transport, tcp: TcpStream) -> io::Result<QStream> {
    let Some(t) = &t.tls else {
        return Ok(QStream::new(QInner::Plain(tcp)));
    };
    let tls = if t.settings.port_unification {
        let mut b = [0u8; 5];
        let wait = Duration::from_millis(t.settings.detection_timeout_ms);
        let deadline = tokio::time::Instant::now() + wait;
        let mut seen = 0;
        loop {
            match tokio::time::timeout_at(deadline, tcp.peek(&mut b)).await {
                Ok(Ok(0)) => return Err(io::Error::other("closed before its first bytes")),
                Ok(Ok(n)) => seen = n,
                Ok(Err(e)) => return Err(e),
                Err(_) => break,
            }
            // Decided once five bytes are in, or the ones in cannot start a TLS record.
            let head = &b[..seen];
            let could_be_tls = (20..=24).contains(&head[0]) && (head.len() < 2 || head[1] == 3);
            if seen >= 5 || !could_be_tls {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        looks_like_tls(&b[..seen])
    } else {
        true
    };
    if !tls {
        return Ok(QStream::new(QInner::Plain(tcp)));
    }
    let peer = tcp.peer_addr()?.ip();
    let (server, _, revocation) = t.current();
    let acceptor = tokio_rustls::TlsAcceptor::from(server);
    let wait = Duration::from_millis(t.settings.detection_timeout_ms.max(10_000));
    match tokio::time::timeout(wait, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => {
            // As ZooKeeper's trust manager on the quorum: the member's certificate must name
            // the address it dials from.
            if t.settings.client_hostname_verification {
                let named = s
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .is_some_and(|leaf| super::names_address(leaf, peer));
                if !named {
                    return Err(io::Error::other(format!(
                        "the peer's certificate does not name its address {peer}"
                    )));
                }
            }
            revoked(
                &revocation,
                s.get_ref().1.peer_certificates(),
                Usage::Client,
            )
            .await?;
            Ok(QStream::new(QInner::Accepted(Box::new(s))))
        }
        Ok(Err(e)) => Err(io::Error::other(format!("TLS handshake failed: {e}"))),
        Err(_) => Err(io::Error::other("no TLS handshake in time")),
    }
}

/// A connection this member dialled to `host`: TLS when `sslQuorum` is on.
pub async fn connect(t: &Transport, tcp: TcpStream, host: &str) -> io::Result<QStream> {
    let Some(t) = t.tls.as_ref().filter(|t| t.settings.ssl_quorum) else {
        return Ok(QStream::new(QInner::Plain(tcp)));
    };
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::other(format!("{host}: {e}")))?;
    let (_, client, revocation) = t.current();
    let connector = tokio_rustls::TlsConnector::from(client);
    match tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp)).await {
        Ok(Ok(s)) => {
            revoked(
                &revocation,
                s.get_ref().1.peer_certificates(),
                Usage::Server,
            )
            .await
            .map_err(|e| io::Error::other(format!("{host}: {e}")))?;
            Ok(QStream::new(QInner::Dialled(Box::new(s))))
        }
        Ok(Err(e)) => Err(io::Error::other(format!(
            "TLS handshake with {host} failed: {e}"
        ))),
        Err(_) => Err(io::Error::other(format!(
            "no TLS handshake with {host} in time"
        ))),
    }
}

/// Fails when revocation checks are on and the peer's certificates are not shown unrevoked.
async fn revoked(
    r: &Option<Arc<Revocation>>,
    chain: Option<&[CertificateDer<'static>]>,
    usage: Usage,
) -> io::Result<()> {
    match (r, chain) {
        (Some(r), Some(chain)) => r.check(chain, usage).await.map_err(io::Error::other),
        _ => Ok(()),
    }
}
