//! `ferrozk-bench`: a load generator for any ZooKeeper server. Every mode prints one JSON
//! line on stdout (and, unless --json, a readable summary on stderr).

use bench::*;
use bytes::Bytes;
use clap::{Parser, Subcommand};
use jute::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "A ZooKeeper-protocol load generator")]
struct Cli {
    /// host:port of the server
    #[arg(long, default_value = "127.0.0.1:2181", global = true)]
    server: String,
    /// Only the JSON line (no summary, no progress).
    #[arg(long, global = true)]
    json: bool,
    /// Runtime worker threads of the load generator.
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// An operation mix over `keys` nodes: N sessions, each with `inflight` requests pipelined.
    Mix {
        #[arg(long, default_value_t = 32)]
        sessions: usize,
        #[arg(long, default_value_t = 1)]
        inflight: usize,
        /// Weights: get, set, create, delete, exists, children, multi (e.g. get=90,set=10).
        #[arg(long, default_value = "get=90,set=10")]
        mix: String,
        #[arg(long, default_value_t = 100)]
        size: usize,
        #[arg(long, default_value_t = 1000)]
        keys: u64,
        #[arg(long, default_value = "/bench")]
        prefix: String,
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Send exactly this many requests instead of running for a duration.
        #[arg(long, default_value_t = 0)]
        count: u64,
        /// Do not create the prefix and keys first.
        #[arg(long)]
        no_setup: bool,
    },
    /// setData of `size` bytes on one node (or sequential creates), one session.
    Write {
        #[arg(long, default_value_t = 1)]
        inflight: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        size: usize,
        #[arg(long)]
        create: bool,
        #[arg(long, default_value = "/bench")]
        path: String,
    },
    /// Creates `count` znodes of `size` bytes under `path` (in 1000 parents), pipelined.
    Populate {
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 100)]
        size: usize,
        #[arg(long, default_value_t = 256)]
        inflight: usize,
        #[arg(long, default_value = "/pop")]
        path: String,
    },
    /// N sessions connect at once: time until all are connected, and failures.
    Storm {
        #[arg(long, default_value_t = 10_000)]
        sessions: usize,
    },
    /// N sessions watch one node; a write; time from the write to each event (and the last).
    Fanout {
        #[arg(long, default_value_t = 1000)]
        watchers: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Lists a parent with `children` children: N sessions pipelining getChildren.
    Children {
        #[arg(long, default_value_t = 10_000)]
        children: u64,
        #[arg(long, default_value_t = 4)]
        sessions: usize,
        #[arg(long, default_value_t = 1)]
        inflight: usize,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
    },
    /// Polls until a session is established and a read is answered; prints the wait.
    WaitReady {
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
}

fn out(json_only: bool, r: &serde_json::Value) {
    println!("{r}");
    if !json_only {
        eprint!("{}", summary(r));
    }
}

async fn populate(
    server: &str,
    count: u64,
    size: usize,
    inflight: usize,
    path: &str,
) -> std::io::Result<(Recorder, f64)> {
    let parents = 1000.min(count.max(1));
    prepare_keys(server, path, 0, 0).await?;
    let mut c = Client::connect(server, 30_000).await?;
    for p in 0..parents {
        c.send(&Request::Create(
            OpCode::Create,
            CreateRequest {
                path: format!("{path}/p{p}"),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        ))
        .await?;
    }
    c.flush().await?;
    for _ in 0..parents {
        c.reply().await?;
    }
    let data = Bytes::from(vec![b'x'; size]);
    let mut rec = Recorder::default();
    let t = Instant::now();
    let mut sent_at = std::collections::VecDeque::new();
    let mut i = 0u64;
    while i < count || !sent_at.is_empty() {
        while i < count && sent_at.len() < inflight {
            c.send(&Request::Create(
                OpCode::Create,
                CreateRequest {
                    path: format!("{path}/p{}/n{i}", i % parents),
                    data: Some(data.clone()),
                    acl: Acl::open_unsafe(),
                    flags: 0,
                },
            ))
            .await?;
            rec.sent += 1;
            sent_at.push_back(Instant::now());
            i += 1;
        }
        c.flush().await?;
        let (h, _) = c.reply().await?;
        if let Some(t0) = sent_at.pop_front() {
            rec.record(Op::Create, t0.elapsed(), h.err);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    c.close().await?;
    Ok((rec, secs))
}

async fn main_async(cli: Cli) -> std::io::Result<()> {
    let server = cli.server.clone();
    match cli.cmd {
        Cmd::Mix {
            sessions,
            inflight,
            mix,
            size,
            keys,
            prefix,
            warmup,
            duration,
            count,
            no_setup,
        } => {
            let ops = parse_mix(&mix).map_err(std::io::Error::other)?;
            if !no_setup {
                prepare_keys(&server, &prefix, keys, size).await?;
            }
            let cfg = MixConfig {
                server: server.clone(),
                sessions,
                inflight,
                mix: ops,
                size,
                keys,
                prefix,
                warmup: Duration::from_secs_f64(warmup),
                duration: Duration::from_secs_f64(duration),
                count,
                progress: !cli.json,
            };
            let (rec, secs) = run_mix(cfg).await?;
            let settings = json!({"server": server, "sessions": sessions, "inflight": inflight,
                "mix": mix, "size": size, "keys": keys, "warmup_s": warmup, "count": count});
            out(cli.json, &report("mix", settings, &rec, secs));
        }
        Cmd::Write {
            inflight,
            seconds,
            size,
            create,
            path,
        } => {
            let prefix = path;
            prepare_keys(&server, &prefix, 1, size).await?;
            let cfg = MixConfig {
                server: server.clone(),
                sessions: 1,
                inflight,
                mix: vec![(if create { Op::Create } else { Op::Set }, 1)],
                size,
                keys: 1,
                prefix,
                warmup: Duration::ZERO,
                duration: Duration::from_secs(seconds),
                count: 0,
                progress: false,
            };
            let (rec, secs) = run_mix(cfg).await?;
            let settings = json!({"server": server, "sessions": 1, "inflight": inflight, "size": size, "create": create});
            out(cli.json, &report("write", settings, &rec, secs));
        }
        Cmd::Populate {
            count,
            size,
            inflight,
            path,
        } => {
            let (rec, secs) = populate(&server, count, size, inflight, &path).await?;
            let settings =
                json!({"server": server, "count": count, "size": size, "inflight": inflight});
            out(cli.json, &report("populate", settings, &rec, secs));
        }
        Cmd::Storm { sessions } => {
            raise_fd_limit();
            let (took, failed, clients) = session_storm(&server, sessions).await;
            let connected = clients.len();
            for c in clients {
                drop(c);
            }
            let r = json!({"mode": "storm", "settings": {"server": server, "sessions": sessions},
                "seconds": (took.as_secs_f64() * 1000.0).round() / 1000.0,
                "connected": connected, "failed": failed});
            println!("{r}");
            if !cli.json {
                eprintln!(
                    "storm: {connected} of {sessions} sessions connected in {:.3} s, {failed} failed",
                    took.as_secs_f64()
                );
            }
        }
        Cmd::Fanout { watchers, rounds } => {
            raise_fd_limit();
            let mut all = Recorder::default();
            let mut last = Vec::new();
            for r in 0..rounds {
                let rec = watch_fanout(&server, watchers, &format!("/fanout-{r}")).await?;
                if let Some(h) = rec.hist.values().next() {
                    last.push(h.max() as f64 / 1000.0);
                }
                all.merge(&rec);
            }
            let mut r = report(
                "fanout",
                json!({"server": server, "watchers": watchers, "rounds": rounds}),
                &all,
                0.0,
            );
            // The latencies are from the write to each event.
            if let Some(l) = r["latency_ms"].as_object_mut() {
                if let Some(v) = l.remove("get") {
                    l.insert("event".into(), v);
                }
            }
            r["last_event_ms"] = json!(last);
            out(cli.json, &r);
        }
        Cmd::Children {
            children,
            sessions,
            inflight,
            duration,
        } => {
            let prefix = "/children-bench".to_string();
            prepare_keys(&server, &prefix, children, 0).await?;
            let cfg = MixConfig {
                server: server.clone(),
                sessions,
                inflight,
                mix: vec![(Op::Children, 1)],
                size: 0,
                keys: children,
                prefix,
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs_f64(duration),
                count: 0,
                progress: !cli.json,
            };
            let (rec, secs) = run_mix(cfg).await?;
            let settings = json!({"server": server, "children": children, "sessions": sessions, "inflight": inflight});
            out(cli.json, &report("children", settings, &rec, secs));
        }
        Cmd::WaitReady { timeout } => {
            let t = Instant::now();
            loop {
                if let Ok(Ok(mut c)) =
                    tokio::time::timeout(Duration::from_secs(5), Client::connect(&server, 30_000))
                        .await
                {
                    let r = c
                        .call(&Request::Exists(ExistsRequest {
                            path: "/".into(),
                            watch: false,
                        }))
                        .await;
                    if r.is_ok() {
                        println!("{{\"ready_after_s\":{:.3}}}", t.elapsed().as_secs_f64());
                        return Ok(());
                    }
                }
                if t.elapsed() > Duration::from_secs(timeout) {
                    return Err(std::io::Error::other("server never became ready"));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferrozk-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(main_async(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrozk-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
