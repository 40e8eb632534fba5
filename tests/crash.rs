//! Crash safety: a ferrozk under a pipelined write load is killed with SIGKILL at random
//! moments, again and again on the same dataDir. After each restart every acknowledged write
//! is there, and what is there is a prefix of what was sent (no holes, nothing invented).
//! `FERROZK_CRASH_ITERATIONS` sets the count (200 by default; CI runs the default).
//! Round r writes `/r<r>/k<n>` in order on one session.

mod common;
use bytes::Bytes;
use common::*;
use jute::*;
use std::io::Write;
use std::time::{Duration, Instant};

/// Sends creates for `/r{round}/k{n}` with up to `window` in flight until the connection
/// breaks or `until` passes; returns how many were acknowledged (always a prefix: replies
/// come in order).
fn load(port: u16, round: u32, window: usize, until: Instant) -> (usize, usize) {
    // The kill may come before or during the handshake: then nothing was sent.
    let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, 0);
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let hello = ConnectRequest {
        time_out: 30000,
        passwd: Some(Bytes::from_static(&[0; 16])),
        has_read_only: true,
        ..Default::default()
    };
    let mut c = Raw::from_stream(s);
    if c.s.write_all(&frame_of(&[&|b| hello.encode(b)])).is_err() || read_frame(&mut c.s).is_none()
    {
        return (0, 0);
    }
    // Each round writes under a parent of its own, so checking it stays cheap.
    let parent = CreateRequest {
        path: format!("/r{round}"),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
    };
    let h = RequestHeader {
        xid: 0,
        op: OpCode::Create.code(),
    };
    if c.s
        .write_all(&frame_of(&[&|b| h.encode(b), &|b| parent.encode(b)]))
        .is_err()
    {
        return (0, 0);
    }
    match read_frame(&mut c.s) {
        Some(f)
            if ReplyHeader::decode(&mut Reader::new(f.clone()))
                .unwrap()
                .err
                == 0 => {}
        _ => return (0, 0),
    }
    let mut sent = 0usize;
    let mut acked = 0usize;
    let send = |c: &mut Raw, n: usize| -> bool {
        let req = CreateRequest {
            path: format!("/r{round}/k{n:06}"),
            data: Some(Bytes::from(format!("v{n}"))),
            acl: Acl::open_unsafe(),
            flags: 0,
        };
        let h = RequestHeader {
            xid: n as i32 + 1,
            op: OpCode::Create.code(),
        };
        c.s.write_all(&frame_of(&[&|b| h.encode(b), &|b| req.encode(b)]))
            .is_ok()
    };
    while sent < window && send(&mut c, sent) {
        sent += 1;
    }
    loop {
        let Some(f) = read_frame(&mut c.s) else { break };
        let h = ReplyHeader::decode(&mut Reader::new(f)).unwrap();
        assert_eq!(h.err, 0, "create failed: {h:?}");
        assert_eq!(h.xid as usize, acked + 1, "replies in order");
        acked += 1;
        if Instant::now() < until && send(&mut c, sent) {
            sent += 1;
        } else if acked == sent {
            break;
        }
    }
    (acked, sent)
}

#[test]
fn acknowledged_writes_survive_repeated_sigkill() {
    let rounds: u32 = std::env::var("FERROZK_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut srv = Server::start("snapCount=300\npreAllocSize=64");
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut history: Vec<(usize, usize)> = Vec::new();
    let (mut total_acked, mut total_sent) = (0usize, 0usize);
    for round in 0..rounds {
        let port = srv.port;
        let run_ms = 5 + next() % 60;
        let kill_after = Duration::from_millis(next() % 50);
        let loader = std::thread::spawn(move || {
            load(
                port,
                round,
                32,
                Instant::now() + Duration::from_millis(run_ms),
            )
        });
        std::thread::sleep(kill_after);
        srv.crash_and_restart();
        let (acked, sent) = loader.join().unwrap();
        total_acked += acked;
        total_sent += sent;
        history.push((acked, sent));
        // Check this round and a sample of earlier ones.
        let Some(mut c) =
            Raw::connect_with(srv.port, 0, Bytes::from_static(&[0; 16]), 30000, true, 0)
        else {
            panic!("round {round}: no session after restart:\n{}", srv.log());
        };
        let mut check = |r: u32, acked: usize, sent: usize| {
            let (h, mut rd) = c.call(
                OpCode::GetChildren,
                &GetChildrenRequest {
                    path: format!("/r{r}"),
                    watch: false,
                },
            );
            if h.err == ErrorCode::NoNode.code() {
                assert_eq!(
                    acked, 0,
                    "round {r}: the parent of acknowledged writes is gone"
                );
                return;
            }
            assert_eq!(h.err, 0);
            let kids = GetChildrenResponse::decode(&mut rd).unwrap().children;
            let prefix = "k";
            let mut present: Vec<usize> = kids
                .iter()
                .filter_map(|k| k.strip_prefix(prefix)?.parse().ok())
                .collect();
            present.sort_unstable();
            assert!(
                present.len() >= acked,
                "round {r}: {} present, {acked} acknowledged",
                present.len()
            );
            assert!(present.len() <= sent, "round {r}: more present than sent");
            assert!(
                present.iter().enumerate().all(|(i, n)| *n == i),
                "round {r}: not a prefix of what was sent"
            );
            for n in [0, acked.saturating_sub(1)] {
                if acked > 0 {
                    let (h, mut rd) = c.call(
                        OpCode::GetData,
                        &GetDataRequest {
                            path: format!("/r{r}/k{n:06}"),
                            watch: false,
                        },
                    );
                    assert_eq!(h.err, 0, "round {r}: acknowledged /r{r}/k{n:06} lost");
                    let d = GetDataResponse::decode(&mut rd).unwrap();
                    assert_eq!(d.data.unwrap(), format!("v{n}").as_bytes());
                }
            }
        };
        check(round, acked, sent);
        if round > 0 {
            let r = (next() % round as u64) as u32;
            let (a, s) = history[r as usize];
            check(r, a, s);
        }
    }
    println!("crash test: {rounds} SIGKILLs, {total_acked} writes acknowledged of {total_sent} sent, none lost");
}
