//! Server statistics, kept once and read by every surface that reports them: the `mntr` and
//! `srvr` four-letter words, the AdminServer and Prometheus. Counters and summaries are plain
//! relaxed atomics (a handful of nanoseconds on the hot path); a summary also feeds a
//! `metrics` histogram, which is a no-op unless the Prometheus provider is configured.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

/// count/sum/min/max of a quantity, as ZooKeeper's AvgMinMaxCounter, with optional
/// percentiles (ZooKeeper's "advanced" summaries) from a histogram of recent values.
pub struct Summary {
    pub name: &'static str,
    cnt: AtomicU64,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
    /// Values are recorded in units of 1/scale of what is reported (latencies in µs,
    /// reported in ms as ZooKeeper does).
    scale: u64,
    pct: Option<Mutex<hdrhistogram::Histogram<u64>>>,
    /// Exported to Prometheus as a summary (ServerStats' latency is not: ZooKeeper exports
    /// it as the avg/min/max_latency gauges).
    exported: bool,
    prom: OnceLock<metrics::Histogram>,
}

impl Summary {
    fn new(name: &'static str, scale: u64, advanced: bool) -> Summary {
        Summary {
            name,
            cnt: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
            scale,
            pct: advanced.then(|| {
                Mutex::new(
                    hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 2)
                        .unwrap_or_else(|_| hdrhistogram::Histogram::new(2).expect("histogram")),
                )
            }),
            exported: true,
            prom: OnceLock::new(),
        }
    }

    /// Records one value, in recording units (µs for latencies).
    pub fn add(&self, v: u64) {
        self.cnt.fetch_add(1, Relaxed);
        self.sum.fetch_add(v, Relaxed);
        self.min.fetch_min(v, Relaxed);
        self.max.fetch_max(v, Relaxed);
        if let Some(p) = &self.pct {
            if let Ok(mut h) = p.lock() {
                h.saturating_record(v.max(1));
            }
        }
        if self.exported {
            self.prom
                .get_or_init(|| metrics::histogram!(self.name))
                .record(v as f64 / self.scale as f64);
        }
    }

    /// Registers the Prometheus summary, so that it is exported before its first value.
    pub fn register(&self) {
        if self.exported {
            self.prom.get_or_init(|| metrics::histogram!(self.name));
        }
    }

    pub fn reset(&self) {
        self.cnt.store(0, Relaxed);
        self.sum.store(0, Relaxed);
        self.min.store(u64::MAX, Relaxed);
        self.max.store(0, Relaxed);
        if let Some(p) = &self.pct {
            if let Ok(mut h) = p.lock() {
                h.reset();
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.cnt.load(Relaxed)
    }

    /// In reported units.
    pub fn min(&self) -> u64 {
        match self.min.load(Relaxed) {
            u64::MAX => 0,
            v => v / self.scale,
        }
    }

    pub fn max(&self) -> u64 {
        self.max.load(Relaxed) / self.scale
    }

    pub fn sum(&self) -> u64 {
        self.sum.load(Relaxed) / self.scale
    }

    /// The mean in reported units, rounded to 4 decimals as ZooKeeper prints it.
    pub fn avg(&self) -> f64 {
        let n = self.cnt.load(Relaxed);
        if n == 0 {
            return 0.0;
        }
        let v = self.sum.load(Relaxed) as f64 / n as f64 / self.scale as f64;
        (v * 10_000.0).round() / 10_000.0
    }

    /// p50/p95/p99/p999 in reported units, for advanced summaries.
    pub fn percentiles(&self) -> Option<[u64; 4]> {
        let h = self.pct.as_ref()?.lock().ok()?;
        let q = |p: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(p) / self.scale
            }
        };
        Some([q(0.5), q(0.95), q(0.99), q(0.999)])
    }

    /// `mntr` lines: avg_, min_, max_, cnt_, sum_ and (advanced) p50_ .. p999_.
    pub fn dump(&self, out: &mut Vec<(String, Value)>) {
        let n = self.name;
        out.push((format!("avg_{n}"), Value::F(self.avg())));
        out.push((format!("min_{n}"), Value::U(self.min())));
        out.push((format!("max_{n}"), Value::U(self.max())));
        out.push((format!("cnt_{n}"), Value::U(self.count())));
        out.push((format!("sum_{n}"), Value::U(self.sum())));
        if let Some([p50, p95, p99, p999]) = self.percentiles() {
            out.push((format!("p50_{n}"), Value::U(p50)));
            out.push((format!("p95_{n}"), Value::U(p95)));
            out.push((format!("p99_{n}"), Value::U(p99)));
            out.push((format!("p999_{n}"), Value::U(p999)));
        }
    }
}

/// A monotonic count, as ZooKeeper's SimpleCounter.
pub struct Counter {
    pub name: &'static str,
    v: AtomicU64,
}

impl Counter {
    const fn new(name: &'static str) -> Counter {
        Counter {
            name,
            v: AtomicU64::new(0),
        }
    }

    pub fn inc(&self) {
        self.v.fetch_add(1, Relaxed);
    }

    pub fn add(&self, n: u64) {
        self.v.fetch_add(n, Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.v.load(Relaxed)
    }

    pub fn reset(&self) {
        self.v.store(0, Relaxed);
    }
}

/// A value as `mntr` and the AdminServer print it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U(u64),
    I(i64),
    F(f64),
    S(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::U(v) => write!(f, "{v}"),
            Value::I(v) => write!(f, "{v}"),
            // Java prints a double with at least one decimal: 0.0, 1.5.
            Value::F(v) if v.fract() == 0.0 && v.is_finite() => write!(f, "{v:.1}"),
            Value::F(v) => write!(f, "{v}"),
            Value::S(s) => f.write_str(s),
        }
    }
}

impl From<&Value> for serde_json::Value {
    fn from(v: &Value) -> Self {
        match v {
            Value::U(v) => (*v).into(),
            Value::I(v) => (*v).into(),
            Value::F(v) => serde_json::Number::from_f64(*v)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::S(s) => s.clone().into(),
        }
    }
}

/// Everything the server counts, by ZooKeeper's metric names.
pub struct Stats {
    // ServerStats (srvr): reset by `srst`.
    pub packets_received: Counter,
    pub packets_sent: Counter,
    /// Request latency, recorded in µs and reported in ms.
    pub latency: Summary,
    pub last_response_size: AtomicU64,
    pub min_response_size: AtomicU64,
    pub max_response_size: AtomicU64,
    pub fsync_threshold_exceed_count: Counter,
    pub auth_failed_count: Counter,
    // ServerMetrics counters.
    pub digest_mismatches_count: Counter,
    pub connection_request_count: Counter,
    pub connection_rejected: Counter,
    pub unsuccessful_handshake: Counter,
    pub sessionless_connections_expired: Counter,
    pub large_requests_rejected: Counter,
    pub stale_sessions_expired: Counter,
    pub bytes_received_count: Counter,
    pub response_bytes: Counter,
    pub snap_count: Counter,
    pub commit_count: Counter,
    pub revalidate_count: Counter,
    pub connection_revalidate_count: Counter,
    pub connection_drop_count: Counter,
    pub outstanding_changes_queued: Counter,
    // ServerMetrics summaries.
    pub readlatency: Summary,
    pub updatelatency: Summary,
    pub fsynctime: Summary,
    pub snapshottime: Summary,
    pub dbinittime: Summary,
    pub startup_txns_loaded: Summary,
    pub startup_txns_load_time: Summary,
    pub startup_snap_load_time: Summary,
    pub sync_processor_batch_size: Summary,
    /// Never observed by a standalone server; exported so that rules over it evaluate.
    pub election_time: Summary,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            packets_received: Counter::new("packets_received"),
            packets_sent: Counter::new("packets_sent"),
            latency: Summary {
                exported: false,
                ..Summary::new("latency", 1000, false)
            },
            last_response_size: AtomicU64::new(0),
            min_response_size: AtomicU64::new(u64::MAX),
            max_response_size: AtomicU64::new(0),
            fsync_threshold_exceed_count: Counter::new("fsync_threshold_exceed_count"),
            auth_failed_count: Counter::new("auth_failed_count"),
            digest_mismatches_count: Counter::new("digest_mismatches_count"),
            connection_request_count: Counter::new("connection_request_count"),
            connection_rejected: Counter::new("connection_rejected"),
            unsuccessful_handshake: Counter::new("unsuccessful_handshake"),
            sessionless_connections_expired: Counter::new("sessionless_connections_expired"),
            large_requests_rejected: Counter::new("large_requests_rejected"),
            stale_sessions_expired: Counter::new("stale_sessions_expired"),
            bytes_received_count: Counter::new("bytes_received_count"),
            response_bytes: Counter::new("response_bytes"),
            snap_count: Counter::new("snap_count"),
            commit_count: Counter::new("commit_count"),
            revalidate_count: Counter::new("revalidate_count"),
            connection_revalidate_count: Counter::new("connection_revalidate_count"),
            connection_drop_count: Counter::new("connection_drop_count"),
            outstanding_changes_queued: Counter::new("outstanding_changes_queued"),
            readlatency: Summary::new("readlatency", 1000, true),
            updatelatency: Summary::new("updatelatency", 1000, true),
            fsynctime: Summary::new("fsynctime", 1000, false),
            snapshottime: Summary::new("snapshottime", 1000, false),
            dbinittime: Summary::new("dbinittime", 1000, false),
            startup_txns_loaded: Summary::new("startup_txns_loaded", 1, false),
            startup_txns_load_time: Summary::new("startup_txns_load_time", 1000, false),
            startup_snap_load_time: Summary::new("startup_snap_load_time", 1000, false),
            sync_processor_batch_size: Summary::new("sync_processor_batch_size", 1, false),
            election_time: Summary::new("election_time", 1000, false),
        }
    }

    pub fn counters(&self) -> [&Counter; 17] {
        [
            &self.digest_mismatches_count,
            &self.connection_request_count,
            &self.connection_rejected,
            &self.unsuccessful_handshake,
            &self.sessionless_connections_expired,
            &self.large_requests_rejected,
            &self.stale_sessions_expired,
            &self.bytes_received_count,
            &self.response_bytes,
            &self.snap_count,
            &self.commit_count,
            &self.revalidate_count,
            &self.connection_revalidate_count,
            &self.connection_drop_count,
            &self.outstanding_changes_queued,
            &self.fsync_threshold_exceed_count,
            &self.auth_failed_count,
        ]
    }

    pub fn summaries(&self) -> [&Summary; 10] {
        [
            &self.readlatency,
            &self.updatelatency,
            &self.fsynctime,
            &self.snapshottime,
            &self.dbinittime,
            &self.startup_txns_loaded,
            &self.startup_txns_load_time,
            &self.startup_snap_load_time,
            &self.sync_processor_batch_size,
            &self.election_time,
        ]
    }

    /// A reply of `n` bytes left the server.
    pub fn sent(&self, n: usize) {
        self.packets_sent.inc();
        let n = n as u64;
        self.response_bytes.add(n);
        self.last_response_size.store(n, Relaxed);
        self.min_response_size.fetch_min(n, Relaxed);
        self.max_response_size.fetch_max(n, Relaxed);
    }

    /// `srst`: the ServerStats part.
    pub fn reset_server_stats(&self) {
        self.packets_received.reset();
        self.packets_sent.reset();
        self.latency.reset();
        self.last_response_size.store(0, Relaxed);
        self.min_response_size.store(u64::MAX, Relaxed);
        self.max_response_size.store(0, Relaxed);
        self.fsync_threshold_exceed_count.reset();
        self.auth_failed_count.reset();
    }

    pub fn response_sizes(&self) -> (u64, u64, u64) {
        let min = match self.min_response_size.load(Relaxed) {
            u64::MAX => 0,
            v => v,
        };
        (
            self.last_response_size.load(Relaxed),
            min,
            self.max_response_size.load(Relaxed),
        )
    }
}

/// The process-wide statistics.
pub fn stats() -> &'static Stats {
    static S: OnceLock<Stats> = OnceLock::new();
    S.get_or_init(Stats::new)
}
