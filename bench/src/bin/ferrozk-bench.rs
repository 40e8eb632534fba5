//! `ferrozk-bench`: pipelined writes with latency percentiles, bulk population, and the time
//! a server takes to serve after start. Works against any ZooKeeper server.

use bench::Session;
use bytes::Bytes;
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use jute::*;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Cli {
    /// host:port of the server
    #[arg(long, default_value = "127.0.0.1:2181")]
    server: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// setData on one node (or creates with --create), `inflight` requests pipelined.
    Write {
        #[arg(long, default_value_t = 1)]
        inflight: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        size: usize,
        /// Create sequential nodes instead of overwriting one.
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
    /// Polls until a session is established and a read is answered; prints the wait.
    WaitReady {
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
}

fn report(name: &str, h: &Histogram<u64>, ops: u64, secs: f64, errors: u64) {
    let p = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{{\"scenario\":\"{name}\",\"ops\":{ops},\"seconds\":{secs:.3},\"ops_per_sec\":{:.1},\"errors\":{errors},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"p99_9_ms\":{:.3},\"max_ms\":{:.3}}}",
        ops as f64 / secs,
        p(0.5),
        p(0.9),
        p(0.99),
        p(0.999),
        h.max() as f64 / 1000.0
    );
}

fn main() -> std::io::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Write {
            inflight,
            seconds,
            size,
            create,
            path,
        } => {
            let mut s = Session::connect(&cli.server, 30000)?;
            let data = Bytes::from(vec![b'x'; size]);
            s.send(&Request::Create(
                OpCode::Create,
                CreateRequest {
                    path: path.clone(),
                    data: Some(data.clone()),
                    acl: Acl::open_unsafe(),
                    flags: 0,
                },
            ))?;
            s.reply()?;
            let mut h = Histogram::<u64>::new(3).map_err(std::io::Error::other)?;
            let mut errors = 0;
            let t = Instant::now();
            let ops = s.pipeline(
                inflight,
                u64::MAX,
                Some(t + Duration::from_secs(seconds)),
                |_| {
                    if create {
                        Request::Create(
                            OpCode::Create,
                            CreateRequest {
                                path: format!("{path}/n-"),
                                data: Some(data.clone()),
                                acl: Acl::open_unsafe(),
                                flags: CreateMode::PersistentSequential.code(),
                            },
                        )
                    } else {
                        Request::SetData(SetDataRequest {
                            path: path.clone(),
                            data: Some(data.clone()),
                            version: -1,
                        })
                    }
                },
                |lat, err| {
                    let _ = h.record(lat.as_micros() as u64);
                    if err != 0 {
                        errors += 1;
                    }
                },
            )?;
            let name = format!(
                "{} {size}B inflight={inflight}",
                if create { "create" } else { "setData" }
            );
            report(&name, &h, ops, t.elapsed().as_secs_f64(), errors);
        }
        Cmd::Populate {
            count,
            size,
            inflight,
            path,
        } => {
            let mut s = Session::connect(&cli.server, 30000)?;
            let data = Bytes::from(vec![b'x'; size]);
            let parents = 1000.min(count.max(1));
            let t = Instant::now();
            s.pipeline(
                inflight,
                parents + 1,
                None,
                |i| {
                    let p = if i == 0 {
                        path.clone()
                    } else {
                        format!("{path}/p{}", i - 1)
                    };
                    Request::Create(
                        OpCode::Create,
                        CreateRequest {
                            path: p,
                            data: None,
                            acl: Acl::open_unsafe(),
                            flags: 0,
                        },
                    )
                },
                |_, _| {},
            )?;
            let mut h = Histogram::<u64>::new(3).map_err(std::io::Error::other)?;
            let mut errors = 0;
            let ops = s.pipeline(
                inflight,
                count,
                None,
                |i| {
                    Request::Create(
                        OpCode::Create,
                        CreateRequest {
                            path: format!("{path}/p{}/n{i}", i % parents),
                            data: Some(data.clone()),
                            acl: Acl::open_unsafe(),
                            flags: 0,
                        },
                    )
                },
                |lat, err| {
                    let _ = h.record(lat.as_micros() as u64);
                    if err != 0 {
                        errors += 1;
                    }
                },
            )?;
            report(
                &format!("populate {count}x{size}B inflight={inflight}"),
                &h,
                ops,
                t.elapsed().as_secs_f64(),
                errors,
            );
        }
        Cmd::WaitReady { timeout } => {
            let t = Instant::now();
            loop {
                if let Ok(mut s) = Session::connect(&cli.server, 30000) {
                    if s.send(&Request::Exists(ExistsRequest {
                        path: "/".into(),
                        watch: false,
                    }))
                    .is_ok()
                        && s.reply().is_ok()
                    {
                        println!("{{\"ready_after_s\":{:.3}}}", t.elapsed().as_secs_f64());
                        return Ok(());
                    }
                }
                if t.elapsed() > Duration::from_secs(timeout) {
                    return Err(std::io::Error::other("server never became ready"));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    Ok(())
}
