//! The Prometheus endpoint's metrics (ZooKeeper's PrometheusMetricsProvider): installing
//! the recorder with its HELP lines, and what a scrape sets and renders. The HTTP side of
//! `/metrics` is in `admin`.

use super::{monitor_values, process, NodeView};
use crate::config::Config;
use crate::stats::{stats, Value};
use metrics_exporter_prometheus::PrometheusHandle;
use tracing::warn;

/// A scrape of `/metrics`: sets the node's gauges from `v` (its summary, when it answered)
/// and the process's, and renders everything recorded.
pub(super) fn render(v: Option<&NodeView>, h: &PrometheusHandle) -> String {
    if let Some(v) = v {
        for (k, val) in monitor_values(v) {
            let x = match val {
                Value::U(x) => x as f64,
                Value::I(x) => x as f64,
                Value::F(x) => x,
                Value::S(_) => continue,
            };
            // Summaries are exported as Prometheus summaries, not as their mntr parts.
            let summary_part = [
                "avg_", "min_", "max_", "cnt_", "sum_", "p50_", "p95_", "p99_", "p999_",
            ]
            .iter()
            .any(|p| {
                k.starts_with(p)
                    && !matches!(k.as_str(), "avg_latency" | "min_latency" | "max_latency")
            });
            // An observer's learner master is a mntr value in ZooKeeper, not a metric.
            if summary_part || k == "observer_master_id" {
                continue;
            }
            if stats().counters().iter().any(|c| c.name == k) {
                metrics::counter!(k).absolute(x as u64);
            } else {
                metrics::gauge!(k).set(x);
            }
        }
    }
    let p = process::read();
    metrics::counter!("process_cpu_seconds_total").absolute(p.cpu_seconds as u64);
    metrics::gauge!("process_open_fds").set(p.open_fds as f64);
    metrics::gauge!("process_max_fds").set(p.max_fds as f64);
    metrics::gauge!("process_resident_memory_bytes").set(p.rss_bytes as f64);
    metrics::gauge!("process_virtual_memory_bytes").set(p.virtual_bytes as f64);
    metrics::gauge!("process_start_time_seconds").set(p.start_time_seconds);
    // ZooKeeper's dashboards read JVM heap figures; the process's memory stands in for them.
    metrics::gauge!("jvm_memory_bytes_used", "area" => "heap").set(p.rss_bytes as f64);
    metrics::gauge!("jvm_memory_bytes_max", "area" => "heap").set(p.memory_limit_bytes as f64);
    metrics::gauge!("jvm_threads_current").set(p.threads as f64);
    h.render()
}

/// Installs the Prometheus recorder when zoo.cfg names ZooKeeper's Prometheus provider.
pub fn prometheus_from_config(cfg: &Config) -> Option<PrometheusHandle> {
    if !cfg.settings.metrics.prometheus {
        return None;
    }
    let b = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_quantiles(&[0.5, 0.9, 0.99])
        .ok()?;
    match b.install_recorder() {
        Ok(h) => {
            describe_all();
            Some(h)
        }
        Err(e) => {
            warn!("cannot start the Prometheus metrics provider: {e}");
            None
        }
    }
}

/// HELP lines, as ZooKeeper's provider writes them (the metric's own name).
fn describe_all() {
    for (k, _) in monitor_values(&NodeView::default()) {
        metrics::describe_gauge!(k.clone(), k);
    }
    for c in stats().counters() {
        metrics::describe_counter!(c.name, c.name);
    }
    for s in stats().summaries() {
        metrics::describe_histogram!(s.name, s.name);
        s.register();
    }
    for (k, what) in [
        (
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        ),
        ("process_open_fds", "Number of open file descriptors."),
        (
            "process_max_fds",
            "Maximum number of open file descriptors.",
        ),
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        ),
        (
            "jvm_memory_bytes_used",
            "Memory used by the ferrozk process (its resident set; ferrozk has no JVM heap).",
        ),
        (
            "jvm_memory_bytes_max",
            "Memory ferrozk may use (the cgroup limit, else the machine's memory).",
        ),
        ("jvm_threads_current", "Threads of the ferrozk process."),
    ] {
        metrics::describe_gauge!(k, what);
    }
}
