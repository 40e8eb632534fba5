//! A ZooKeeper-protocol load generator (through `jute`): sessions with pipelined requests,
//! operation mixes, latency histograms per operation, errors by code, and the special modes
//! (populate, session storm, watch fan-out, children). Throughput is always completed
//! operations over wall-clock time of the measured interval, never a sum of latencies.

use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use jute::*;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

fn framed(parts: &[&dyn Encode]) -> BytesMut {
    let mut b = BytesMut::with_capacity(128);
    let at = begin_frame(&mut b);
    for p in parts {
        p.encode(&mut b);
    }
    end_frame(&mut b, at);
    b
}

/// One session over one connection.
pub struct Client {
    rd: BufReader<OwnedReadHalf>,
    wr: BufWriter<OwnedWriteHalf>,
    xid: i32,
    pub session_id: i64,
}

/// What the server sent: a reply or a watch notification.
pub enum Incoming {
    Reply(ReplyHeader, Bytes),
    Event(WatcherEvent),
}

impl Client {
    pub async fn connect(addr: &str, timeout_ms: i32) -> io::Result<Client> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let (rd, wr) = s.into_split();
        let mut c = Client {
            rd: BufReader::with_capacity(64 * 1024, rd),
            wr: BufWriter::with_capacity(64 * 1024, wr),
            xid: 0,
            session_id: 0,
        };
        let req = ConnectRequest {
            time_out: timeout_ms,
            passwd: Some(Bytes::from_static(&[0; 16])),
            has_read_only: true,
            ..Default::default()
        };
        let f = framed(&[&req]);
        c.write(f).await?;
        c.wr.flush().await?;
        let resp = ConnectResponse::from_bytes(c.frame().await?).map_err(invalid)?;
        if resp.session_id == 0 {
            return Err(io::Error::other("session refused"));
        }
        c.session_id = resp.session_id;
        Ok(c)
    }

    async fn write(&mut self, frame: BytesMut) -> io::Result<()> {
        self.wr.write_all(&frame).await
    }

    async fn frame(&mut self) -> io::Result<Bytes> {
        let n = self.rd.read_i32().await?;
        let mut b = vec![0u8; n.max(0) as usize];
        self.rd.read_exact(&mut b).await?;
        Ok(Bytes::from(b))
    }

    /// Queues a request (sent at the next `flush`); returns its xid.
    pub async fn send(&mut self, req: &Request) -> io::Result<i32> {
        self.xid += 1;
        let h = RequestHeader {
            xid: self.xid,
            op: req.op().code(),
        };
        let f = framed(&[&h, req]);
        self.write(f).await?;
        Ok(self.xid)
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        self.wr.flush().await
    }

    pub async fn next(&mut self) -> io::Result<Incoming> {
        let f = self.frame().await?;
        let mut r = Reader::new(f);
        let h = ReplyHeader::decode(&mut r).map_err(invalid)?;
        if h.xid == Xid::NOTIFICATION {
            return Ok(Incoming::Event(
                WatcherEvent::decode(&mut r).map_err(invalid)?,
            ));
        }
        Ok(Incoming::Reply(h, r.rest()))
    }

    /// The next reply, skipping notifications.
    pub async fn reply(&mut self) -> io::Result<(ReplyHeader, Bytes)> {
        loop {
            if let Incoming::Reply(h, b) = self.next().await? {
                return Ok((h, b));
            }
        }
    }

    /// Sends one request and waits for its reply.
    pub async fn call(&mut self, req: &Request) -> io::Result<(ReplyHeader, Bytes)> {
        self.send(req).await?;
        self.flush().await?;
        self.reply().await
    }

    pub async fn close(mut self) -> io::Result<()> {
        self.send(&Request::CloseSession).await?;
        self.flush().await?;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.reply()).await;
        Ok(())
    }
}

/// Operation kinds of a mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    Get,
    Set,
    Create,
    Delete,
    Exists,
    Children,
    Multi,
}

impl Op {
    pub const ALL: [Op; 7] = [
        Op::Get,
        Op::Set,
        Op::Create,
        Op::Delete,
        Op::Exists,
        Op::Children,
        Op::Multi,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Set => "set",
            Op::Create => "create",
            Op::Delete => "delete",
            Op::Exists => "exists",
            Op::Children => "children",
            Op::Multi => "multi",
        }
    }
}

/// `get=90,set=10`: weights per operation.
pub fn parse_mix(s: &str) -> Result<Vec<(Op, u32)>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, w) = part.split_once('=').unwrap_or((part, "1"));
        let op = Op::ALL
            .into_iter()
            .find(|o| o.name() == name)
            .ok_or_else(|| format!("unknown operation {name:?} (one of get, set, create, delete, exists, children, multi)"))?;
        let w: u32 = w.parse().map_err(|_| format!("bad weight in {part:?}"))?;
        out.push((op, w));
    }
    if out.iter().map(|(_, w)| w).sum::<u32>() == 0 {
        return Err("the mix has no weight".into());
    }
    Ok(out)
}

/// A small deterministic generator (xorshift64*): the load does not need a crate for this.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// Latencies per operation (µs) and errors by code.
#[derive(Clone, Default)]
pub struct Recorder {
    pub hist: BTreeMap<Op, Histogram<u64>>,
    pub errors: BTreeMap<i32, u64>,
    pub sent: u64,
    pub answered: u64,
}

impl Recorder {
    pub fn record(&mut self, op: Op, lat: Duration, err: i32) {
        self.answered += 1;
        let h = self
            .hist
            .entry(op)
            .or_insert_with(|| Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("bounds"));
        h.saturating_record(lat.as_micros().max(1) as u64);
        if err != 0 {
            *self.errors.entry(err).or_insert(0) += 1;
        }
    }

    pub fn merge(&mut self, o: &Recorder) {
        for (op, h) in &o.hist {
            match self.hist.get_mut(op) {
                Some(mine) => {
                    let _ = mine.add(h);
                }
                None => {
                    self.hist.insert(*op, h.clone());
                }
            }
        }
        for (e, n) in &o.errors {
            *self.errors.entry(*e).or_insert(0) += n;
        }
        self.sent += o.sent;
        self.answered += o.answered;
    }

    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn ops(&self) -> u64 {
        self.hist.values().map(|h| h.len()).sum()
    }
}

pub fn latency_json(h: &Histogram<u64>) -> Value {
    let ms = |v: u64| (v as f64 / 1000.0 * 1000.0).round() / 1000.0;
    json!({
        "count": h.len(),
        "p50": ms(h.value_at_quantile(0.5)),
        "p90": ms(h.value_at_quantile(0.9)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p99.9": ms(h.value_at_quantile(0.999)),
        "p99.99": ms(h.value_at_quantile(0.9999)),
        "max": ms(h.max()),
        "mean": (h.mean() / 1000.0 * 1000.0).round() / 1000.0,
    })
}

/// The JSON line of a run: the settings, throughput over wall-clock time, and per-operation
/// latencies in ms.
pub fn report(mode: &str, settings: Value, rec: &Recorder, seconds: f64) -> Value {
    let mut lat = Map::new();
    let mut all = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("bounds");
    for (op, h) in &rec.hist {
        lat.insert(op.name().into(), latency_json(h));
        let _ = all.add(h);
    }
    if rec.hist.len() > 1 {
        lat.insert("all".into(), latency_json(&all));
    }
    let errors: Map<String, Value> = rec
        .errors
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let ops = rec.ops();
    json!({
        "mode": mode,
        "settings": settings,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "ops": ops,
        "ops_per_sec": if seconds > 0.0 { (ops as f64 / seconds).round() } else { 0.0 },
        "sent": rec.sent,
        "answered": rec.answered,
        "failed": rec.failed(),
        "errors": errors,
        "latency_ms": lat,
    })
}

/// A readable summary of a report.
pub fn summary(r: &Value) -> String {
    let mut s = format!(
        "{}: {} ops in {} s = {} ops/s; sent {}, answered {}, failed {}\n",
        r["mode"], r["ops"], r["seconds"], r["ops_per_sec"], r["sent"], r["answered"], r["failed"]
    );
    if let Some(m) = r["latency_ms"].as_object() {
        for (op, l) in m {
            s.push_str(&format!(
                "  {op:>8}  p50 {} ms  p90 {}  p99 {}  p99.9 {}  p99.99 {}  max {}\n",
                l["p50"], l["p90"], l["p99"], l["p99.9"], l["p99.99"], l["max"]
            ));
        }
    }
    s
}

/// Settings of a mixed run.
#[derive(Clone, Debug)]
pub struct MixConfig {
    pub server: String,
    pub sessions: usize,
    pub inflight: usize,
    pub mix: Vec<(Op, u32)>,
    pub size: usize,
    pub keys: u64,
    pub prefix: String,
    pub warmup: Duration,
    pub duration: Duration,
    /// Total requests to send instead of a duration (0: run for `duration`).
    pub count: u64,
    pub progress: bool,
}

/// Creates the prefix and `keys` nodes under it (existing ones are kept).
pub async fn prepare_keys(server: &str, prefix: &str, keys: u64, size: usize) -> io::Result<()> {
    let server = server_for(server, 0);
    let mut c = Client::connect(server, 30_000).await?;
    let data = Bytes::from(vec![b'x'; size]);
    let mk = |path: String, data: Option<Bytes>| {
        Request::Create(
            OpCode::Create,
            CreateRequest {
                path,
                data,
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        )
    };
    c.call(&mk(prefix.to_string(), None)).await?;
    let mut pending = 0usize;
    for i in 0..keys {
        c.send(&mk(format!("{prefix}/k{i}"), Some(data.clone())))
            .await?;
        pending += 1;
        if pending == 256 {
            c.flush().await?;
            for _ in 0..pending {
                c.reply().await?;
            }
            pending = 0;
        }
    }
    c.flush().await?;
    for _ in 0..pending {
        c.reply().await?;
    }
    c.close().await
}

fn request_for(
    op: Op,
    cfg: &MixConfig,
    rng: &mut Rng,
    data: &Bytes,
    me: usize,
    created: &mut VecDeque<u64>,
    next_create: &mut u64,
) -> Request {
    let key = |rng: &mut Rng| format!("{}/k{}", cfg.prefix, rng.below(cfg.keys.max(1)));
    match op {
        Op::Get => Request::GetData(GetDataRequest {
            path: key(rng),
            watch: false,
        }),
        Op::Exists => Request::Exists(ExistsRequest {
            path: key(rng),
            watch: false,
        }),
        Op::Set => Request::SetData(SetDataRequest {
            path: key(rng),
            data: Some(data.clone()),
            version: -1,
        }),
        Op::Children => Request::GetChildren(GetChildrenRequest {
            path: cfg.prefix.clone(),
            watch: false,
        }),
        Op::Create => {
            let n = *next_create;
            *next_create += 1;
            created.push_back(n);
            Request::Create(
                OpCode::Create,
                CreateRequest {
                    path: format!("{}/s{me}-{n}", cfg.prefix),
                    data: Some(data.clone()),
                    acl: Acl::open_unsafe(),
                    flags: 0,
                },
            )
        }
        Op::Delete => {
            // The oldest node this session created; without one, a delete that fails.
            let n = created.pop_front().map_or(u64::MAX, |n| n);
            Request::Delete(DeleteRequest {
                path: format!("{}/s{me}-{n}", cfg.prefix),
                version: -1,
            })
        }
        Op::Multi => {
            let set = |p: String| {
                MultiOp::SetData(SetDataRequest {
                    path: p,
                    data: Some(data.clone()),
                    version: -1,
                })
            };
            Request::Multi(MultiRequest {
                ops: vec![set(key(rng)), set(key(rng))],
            })
        }
    }
}

/// Shared between the session tasks of a run.
struct RunState {
    measuring: AtomicBool,
    stop: AtomicBool,
    completed: AtomicU64,
    budget: AtomicU64,
}

/// Session `me` of a run uses server `me mod n` of a comma-separated list (an ensemble).
pub fn server_for(servers: &str, me: usize) -> &str {
    let list: Vec<&str> = servers.split(',').filter(|s| !s.is_empty()).collect();
    list.get(me % list.len().max(1)).copied().unwrap_or(servers)
}

async fn mix_session(cfg: Arc<MixConfig>, me: usize, state: Arc<RunState>) -> io::Result<Recorder> {
    let mut c = Client::connect(server_for(&cfg.server, me), 30_000).await?;
    let mut rng = Rng::new(me as u64 + 1);
    let data = Bytes::from(vec![b'v'; cfg.size]);
    let total: u32 = cfg.mix.iter().map(|(_, w)| w).sum();
    let mut rec = Recorder::default();
    let mut warm = Recorder::default();
    let mut inflight: VecDeque<(Instant, Op, bool)> = VecDeque::with_capacity(cfg.inflight);
    let mut created = VecDeque::new();
    let mut next_create = 0u64;
    let take_budget = |state: &RunState| {
        if cfg.count == 0 {
            return true;
        }
        state
            .budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| b.checked_sub(1))
            .is_ok()
    };
    loop {
        while inflight.len() < cfg.inflight
            && !state.stop.load(Ordering::Acquire)
            && take_budget(&state)
        {
            let mut pick = rng.below(total as u64) as u32;
            let mut op = cfg.mix[0].0;
            for (o, w) in &cfg.mix {
                if pick < *w {
                    op = *o;
                    break;
                }
                pick -= w;
            }
            let req = request_for(
                op,
                &cfg,
                &mut rng,
                &data,
                me,
                &mut created,
                &mut next_create,
            );
            c.send(&req).await?;
            let measured = state.measuring.load(Ordering::Acquire);
            if measured {
                rec.sent += 1;
            } else {
                warm.sent += 1;
            }
            inflight.push_back((Instant::now(), op, measured));
        }
        if inflight.is_empty() {
            break;
        }
        c.flush().await?;
        let (h, _) = c.reply().await?;
        let Some((t0, op, measured)) = inflight.pop_front() else {
            break;
        };
        if measured {
            rec.record(op, t0.elapsed(), h.err);
            state.completed.fetch_add(1, Ordering::Relaxed);
        } else {
            warm.record(op, t0.elapsed(), h.err);
        }
    }
    c.close().await?;
    Ok(rec)
}

/// Runs a mix: warm-up, then the measured interval; returns the recorder and its seconds.
pub async fn run_mix(cfg: MixConfig) -> io::Result<(Recorder, f64)> {
    let cfg = Arc::new(cfg);
    let state = Arc::new(RunState {
        measuring: AtomicBool::new(cfg.warmup.is_zero()),
        stop: AtomicBool::new(false),
        completed: AtomicU64::new(0),
        budget: AtomicU64::new(cfg.count),
    });
    let mut tasks = Vec::new();
    for me in 0..cfg.sessions {
        tasks.push(tokio::spawn(mix_session(cfg.clone(), me, state.clone())));
    }
    if !cfg.warmup.is_zero() {
        tokio::time::sleep(cfg.warmup).await;
        state.measuring.store(true, Ordering::Release);
    }
    let t0 = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let progress = cfg.progress.then(|| {
        let (state, done) = (state.clone(), done.clone());
        tokio::spawn(async move {
            let mut last = 0;
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.tick().await;
            while !done.load(Ordering::Acquire) {
                every.tick().await;
                let n = state.completed.load(Ordering::Relaxed);
                eprintln!(
                    "  {:>5.1} s  {n} ops  {} ops/s",
                    t0.elapsed().as_secs_f64(),
                    n - last
                );
                last = n;
            }
        })
    });
    if cfg.count == 0 {
        tokio::time::sleep(cfg.duration).await;
        state.stop.store(true, Ordering::Release);
    }
    let mut rec = Recorder::default();
    let mut failures = Vec::new();
    let mut end = None;
    for t in tasks {
        match t.await {
            Ok(Ok(r)) => rec.merge(&r),
            Ok(Err(e)) => failures.push(e.to_string()),
            Err(e) => failures.push(e.to_string()),
        }
        end.get_or_insert_with(Instant::now);
    }
    done.store(true, Ordering::Release);
    if let Some(p) = progress {
        p.abort();
    }
    if !failures.is_empty() {
        return Err(io::Error::other(format!(
            "{} sessions failed: {}",
            failures.len(),
            failures[0]
        )));
    }
    // Duration: from the start of measurement until the stop signal (a timed run), or until
    // the last reply (a counted run). Replies drained after the stop are still counted, and
    // are at most sessions x inflight.
    let secs = if cfg.count == 0 {
        cfg.duration.as_secs_f64()
    } else {
        t0.elapsed().as_secs_f64()
    };
    Ok((rec, secs))
}

/// N sessions connecting at once: time until all are connected, and the failures.
pub async fn session_storm(server: &str, sessions: usize) -> (Duration, usize, Vec<Client>) {
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        let s = server.to_string();
        tasks.push(tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(60), Client::connect(&s, 30_000)).await
        }));
    }
    let mut ok = Vec::with_capacity(sessions);
    let mut failed = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(Ok(c))) => ok.push(c),
            _ => failed += 1,
        }
    }
    (t0.elapsed(), failed, ok)
}

/// N sessions watch one node; one write; the time from sending the write to each event.
pub async fn watch_fanout(server: &str, watchers: usize, path: &str) -> io::Result<Recorder> {
    let mut w = Client::connect(server, 30_000).await?;
    w.call(&Request::Create(
        OpCode::Create,
        CreateRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"0")),
            acl: Acl::open_unsafe(),
            flags: 0,
        },
    ))
    .await?;
    let mut clients = Vec::with_capacity(watchers);
    for _ in 0..watchers {
        let mut c = Client::connect(server, 30_000).await?;
        c.call(&Request::GetData(GetDataRequest {
            path: path.into(),
            watch: true,
        }))
        .await?;
        clients.push(c);
    }
    let start = Arc::new(Mutex::new(None::<Instant>));
    let mut tasks = Vec::new();
    for mut c in clients {
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                if let Incoming::Event(_) = c.next().await? {
                    let at = Instant::now();
                    let t0 = start.lock().ok().and_then(|g| *g).unwrap_or(at);
                    let _ = c.close().await;
                    return Ok::<Duration, io::Error>(at.saturating_duration_since(t0));
                }
            }
        }));
    }
    if let Ok(mut g) = start.lock() {
        *g = Some(Instant::now());
    }
    w.call(&Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"1")),
        version: -1,
    }))
    .await?;
    let mut rec = Recorder::default();
    for t in tasks {
        let lat = t.await.map_err(io::Error::other)??;
        rec.sent += 1;
        rec.record(Op::Get, lat, 0);
    }
    w.call(&Request::Delete(DeleteRequest {
        path: path.into(),
        version: -1,
    }))
    .await?;
    w.close().await?;
    Ok(rec)
}

/// Raises the open-file limit to its hard maximum (a storm of 10,000 sessions needs it).
pub fn raise_fd_limit() {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid rlimit for getrlimit/setrlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
}
