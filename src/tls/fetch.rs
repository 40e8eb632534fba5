//! Fetching what a certificate points to for its revocation status: a CRL from a distribution
//! point (`http:` or `file:`), an OCSP answer from a responder (`http:` POST). Bounded in time
//! and size; the answer's body, or why there is none.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// How long one fetch may take (the JDK's CRL and OCSP timeouts are 15 seconds).
const TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer taken.
const MAX_BYTES: usize = 16 << 20;

/// The body at `url`: GET, or POST of `body` with `content_type`.
pub async fn fetch(url: &str, post: Option<(&str, Vec<u8>)>) -> Result<Bytes, String> {
    match tokio::time::timeout(TIMEOUT, fetch_now(url, post)).await {
        Ok(r) => r.map_err(|e| format!("{url}: {e}")),
        Err(_) => Err(format!("{url}: no answer within {TIMEOUT:?}")),
    }
}

async fn fetch_now(url: &str, post: Option<(&str, Vec<u8>)>) -> Result<Bytes, String> {
    if let Some(path) = url.strip_prefix("file://") {
        use tokio::io::AsyncReadExt;
        let f = tokio::fs::File::open(path)
            .await
            .map_err(|e| e.to_string())?;
        // Only a regular file (not a device or a pipe), and no more than the limit of it.
        let md = f.metadata().await.map_err(|e| e.to_string())?;
        if !md.is_file() {
            return Err("not a regular file".into());
        }
        let mut data = Vec::new();
        f.take(MAX_BYTES as u64 + 1)
            .read_to_end(&mut data)
            .await
            .map_err(|e| e.to_string())?;
        if data.len() > MAX_BYTES {
            return Err("too large".into());
        }
        return Ok(Bytes::from(data));
    }
    let uri: hyper::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http: and file: locations are fetched".into());
    }
    let host = uri.host().ok_or("no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or(host);
    let builder = hyper::Request::builder()
        .uri(path)
        .header(hyper::header::HOST, authority);
    let req = match post {
        Some((content_type, body)) => builder
            .method(hyper::Method::POST)
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body))),
        None => builder
            .method(hyper::Method::GET)
            .body(Full::new(Bytes::new())),
    }
    .map_err(|e| e.to_string())?;
    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let body = Limited::new(resp.into_body(), MAX_BYTES)
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(body.to_bytes())
}
