//! The AdminServer's `snapshot` and `restore` commands (ZooKeeper 3.9's), and the rate
//! limit they share.

use super::*;

fn rate_limited(slot: &Mutex<Option<Instant>>, every: Duration) -> bool {
    let mut last = slot.lock().unwrap_or_else(|e| e.into_inner());
    if last.is_some_and(|t| t.elapsed() < every) {
        return true;
    }
    *last = Some(Instant::now());
    false
}

fn rate_interval(cfg: &Config) -> Duration {
    Duration::from_millis(cfg.settings.admin.rate_limit_ms)
}

/// The answer to a snapshot or restore that is switched off or comes too soon after the last.
fn refused(http: &Http, enabled: bool, last: &Mutex<Option<Instant>>, cmd: &str) -> Option<Resp> {
    if !enabled {
        warn!("AdminServer: the {cmd} command is disabled");
        return Some(json_resp(StatusCode::SERVICE_UNAVAILABLE, Map::new(), cmd));
    }
    if rate_limited(last, rate_interval(&http.cfg)) {
        warn!("AdminServer: {cmd} request was rate limited");
        return Some(json_resp(StatusCode::TOO_MANY_REQUESTS, Map::new(), cmd));
    }
    None
}

pub(super) async fn snapshot(http: &Http, params: &[(String, String)]) -> Resp {
    const CMD: &str = "snapshot";
    let enabled = http.cfg.settings.admin.snapshot_enabled;
    if let Some(no) = refused(http, enabled, &http.last_snapshot, CMD) {
        return no;
    }
    let streaming = params
        .iter()
        .find(|(k, _)| k == "streaming")
        .map(|(_, v)| v != "false")
        .unwrap_or(true);
    let (tx, rx) = oneshot::channel::<SnapshotReply>();
    if http
        .node
        .send(OpsRequest::Snapshot { reply: tx })
        .await
        .is_err()
    {
        return json_resp(StatusCode::OK, error_map(crate::ops::NOT_SERVING), CMD);
    }
    let (path, zxid) = match rx.await {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => {
            warn!("AdminServer: snapshot failed: {e}");
            return json_resp(StatusCode::INTERNAL_SERVER_ERROR, error_map(&e), CMD);
        }
        Err(_) => {
            return json_resp(
                StatusCode::INTERNAL_SERVER_ERROR,
                error_map("the snapshot was abandoned"),
                CMD,
            )
        }
    };
    info!("AdminServer: snapshot {} taken", path.display());
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) => {
            return json_resp(
                StatusCode::INTERNAL_SERVER_ERROR,
                error_map(&e.to_string()),
                CMD,
            )
        }
    };
    let size = bytes.len();
    let mut r = if streaming {
        respond(StatusCode::OK, "application/octet-stream", bytes)
    } else {
        json_resp(StatusCode::OK, Map::new(), CMD)
    };
    let h = r.headers_mut();
    if let Ok(v) = format!("0x{zxid:x}").parse() {
        h.insert("last_zxid", v);
    }
    if let Ok(v) = size.to_string().parse() {
        h.insert("snapshot_size", v);
    }
    r
}

/// POST restore: the body is a snapshot (as `snapshot` streams it, compressed or not).
pub(super) async fn restore(http: &Http, body: Incoming) -> Resp {
    const CMD: &str = "restore";
    let enabled = http.cfg.settings.admin.restore_enabled;
    if let Some(no) = refused(http, enabled, &http.last_restore, CMD) {
        return no;
    }
    use http_body_util::BodyExt;
    let raw = match body.collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => return json_resp(StatusCode::BAD_REQUEST, error_map(&e.to_string()), CMD),
    };
    if raw.is_empty() {
        return json_resp(
            StatusCode::BAD_REQUEST,
            error_map("no snapshot in the request body"),
            CMD,
        );
    }
    // Decoding a large snapshot is CPU work: off the async workers.
    let loaded = tokio::task::spawn_blocking(move || {
        let bytes = crate::storage::snap::decode_stream(raw).map_err(|e| e.to_string())?;
        crate::storage::snap::deserialize(bytes, 0)
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            warn!("AdminServer: restore refused: the body is not a snapshot: {e}");
            return json_resp(StatusCode::BAD_REQUEST, error_map(&e), CMD);
        }
    };
    let (tx, rx) = oneshot::channel();
    if http
        .node
        .send(OpsRequest::Restore {
            loaded: Box::new(loaded),
            reply: tx,
        })
        .await
        .is_err()
    {
        return json_resp(StatusCode::OK, error_map(crate::ops::NOT_SERVING), CMD);
    }
    match rx.await {
        Ok(Ok(zxid)) => {
            info!("AdminServer: database restored from a snapshot; serving from zxid 0x{zxid:x}");
            let mut m = Map::new();
            m.insert("last_zxid".into(), zxid.into());
            json_resp(StatusCode::OK, m, CMD)
        }
        Ok(Err(e)) => {
            warn!("AdminServer: restore failed: {e}");
            json_resp(StatusCode::INTERNAL_SERVER_ERROR, error_map(&e), CMD)
        }
        Err(_) => json_resp(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_map("the restore was abandoned"),
            CMD,
        ),
    }
}
