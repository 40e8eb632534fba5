//! Hostile input: garbage, truncated and oversized frames, unknown op codes, requests before
//! the handshake, stalls, too many connections. Each offender is answered or closed as
//! ZooKeeper does, and a well-behaved session keeps being served.

mod common;
use common::*;
use jute::*;
use std::io::Write;
use std::time::Duration;

fn still_served(port: u16, good: &mut Raw) {
    assert!(
        good.exists("/").is_some(),
        "an existing session is still served"
    );
    let mut fresh = Raw::connect(port, true);
    assert!(
        fresh.exists("/zookeeper").is_some(),
        "a new session is still served"
    );
}

#[test]
fn garbage_and_oversized_frames_close_only_that_connection() {
    let mut srv = Server::start("jute.maxbuffer=4096");
    let mut good = Raw::connect(srv.port, true);
    // Random garbage as the first bytes.
    let mut s = Raw::tcp(srv.port);
    s.write_all(&[0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3])
        .unwrap();
    assert!(closed_by_server(&mut s));
    // A negative length.
    let mut s = Raw::tcp(srv.port);
    s.write_all(&(-5i32).to_be_bytes()).unwrap();
    assert!(closed_by_server(&mut s));
    // A length over jute.maxbuffer, after a good handshake.
    let mut big = Raw::connect(srv.port, true);
    big.s.write_all(&(1_000_000i32).to_be_bytes()).unwrap();
    assert!(closed_by_server(&mut big.s));
    // A handshake that is too short to decode.
    let mut s = Raw::tcp(srv.port);
    s.write_all(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    assert!(closed_by_server(&mut s));
    // A request header cut short after the handshake.
    let mut short = Raw::connect(srv.port, true);
    short.s.write_all(&[0, 0, 0, 2, 0, 1]).unwrap();
    assert!(closed_by_server(&mut short.s));
    assert!(srv.alive());
    still_served(srv.port, &mut good);
}

#[test]
fn unknown_op_code_gets_unimplemented_then_close() {
    let srv = Server::start("");
    let mut good = Raw::connect(srv.port, true);
    let mut a = Raw::connect(srv.port, true);
    a.send_raw(7, 77, &());
    let f = read_frame(&mut a.s).expect("an answer before the close");
    let h = ReplyHeader::from_bytes(f).unwrap();
    assert_eq!((h.xid, h.err), (7, ErrorCode::Unimplemented.code()));
    assert!(closed_by_server(&mut a.s));
    still_served(srv.port, &mut good);
}

#[test]
fn malformed_body_gets_marshalling_error_and_session_continues() {
    let srv = Server::start("");
    let mut a = Raw::connect(srv.port, true);
    // getData whose path length points past the frame.
    a.send_raw(1, OpCode::GetData.code(), &0x7fff_fff0i32);
    let (h, _, _) = a.reply(1);
    assert_eq!(h.err, ErrorCode::MarshallingError.code());
    assert!(a.exists("/").is_some());
}

#[test]
fn request_before_handshake_and_stalled_half_frame() {
    let srv = Server::start("");
    let mut good = Raw::connect(srv.port, true);
    // A getData request where the handshake should be: it does not decode as a
    // ConnectRequest, so the connection is closed.
    let mut s = Raw::tcp(srv.port);
    let body = frame_of(&[&|b| RequestHeader { xid: 1, op: 4 }.encode(b), &|b| {
        GetDataRequest {
            path: "/".into(),
            watch: false,
        }
        .encode(b)
    }]);
    s.write_all(&body).unwrap();
    assert!(closed_by_server(&mut s));
    // Half a frame, then silence: the server keeps serving others meanwhile.
    let mut stall = Raw::tcp(srv.port);
    stall.write_all(&[0, 0, 0, 45, 0, 0]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    still_served(srv.port, &mut good);
    drop(stall);
}

#[test]
fn max_client_cnxns_per_ip() {
    let srv = Server::start("maxClientCnxns=3");
    let a = Raw::connect(srv.port, true);
    let b = Raw::connect(srv.port, true);
    let mut c = Raw::connect(srv.port, true);
    let mut d = Raw::tcp(srv.port);
    assert!(
        closed_by_server(&mut d),
        "the fourth connection from one address is refused"
    );
    drop(a);
    std::thread::sleep(Duration::from_millis(200));
    let mut e = Raw::connect(srv.port, true);
    assert!(e.exists("/").is_some());
    assert!(c.exists("/").is_some());
    drop(b);
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_client_that_never_reads_is_dropped_and_memory_stays_bounded() {
    let srv = Server::start("ferrozk.maxClientQueueBytes=8388608\njute.maxbuffer=2097152");
    let mut good = Raw::connect(srv.port, true);
    let (err, _) = good.create("/big", &vec![7u8; 512 * 1024], 0);
    assert_eq!(err, 0);
    let before = rss_kib(srv.pid());
    // A session that asks for /big (512 KiB) over and over and never reads a reply.
    let mut flood = Raw::connect(srv.port, true);
    flood
        .s
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let flooder = std::thread::spawn(move || {
        let req = GetDataRequest {
            path: "/big".into(),
            watch: false,
        };
        let h = RequestHeader {
            xid: 1,
            op: OpCode::GetData.code(),
        };
        let frame = frame_of(&[&|b| h.encode(b), &|b| req.encode(b)]);
        let mut sent = 0u64;
        // 4000 requests ask for 2 GiB of replies.
        while sent < 4000 {
            if flood.s.write_all(&frame).is_err() {
                return (sent, true);
            }
            sent += 1;
        }
        (sent, false)
    });
    // Meanwhile the well-behaved session is served.
    for _ in 0..20 {
        still_served(srv.port, &mut good);
        std::thread::sleep(Duration::from_millis(20));
    }
    let (sent, refused) = flooder.join().unwrap();
    let log = srv.log();
    assert!(
        log.contains("bytes of replies unread"),
        "the flooder was not dropped (sent {sent}, refused {refused}): {log}"
    );
    let grown = rss_kib(srv.pid()).saturating_sub(before);
    assert!(
        grown < 256 * 1024,
        "server memory grew by {grown} KiB for one client that does not read"
    );
    still_served(srv.port, &mut good);
}

#[test]
fn throttled_pipelining_still_answers_every_request_in_order() {
    // globalOutstandingLimit: past 100 unanswered requests the server stops reading this
    // connection; everything sent is still answered, in order.
    let srv = Server::start("globalOutstandingLimit=100");
    let mut c = Raw::connect(srv.port, true);
    let mut reader = Raw::from_stream(c.s.try_clone().unwrap());
    let n = 5000;
    let writer = std::thread::spawn(move || {
        for xid in 1..=n {
            let h = RequestHeader {
                xid,
                op: OpCode::Exists.code(),
            };
            let req = ExistsRequest {
                path: "/zookeeper".into(),
                watch: false,
            };
            c.s.write_all(&frame_of(&[&|b| h.encode(b), &|b| req.encode(b)]))
                .unwrap();
        }
        c
    });
    for xid in 1..=n {
        let (h, _, _) = reader.reply(xid);
        assert_eq!((h.xid, h.err), (xid, 0));
    }
    let _c = writer.join().unwrap();
}

#[test]
fn connections_that_never_handshake_are_closed_and_others_served() {
    let srv = Server::start("nio.sessionlessCnxnTimeout=500\nmaxClientCnxns=0");
    let mut good = Raw::connect(srv.port, true);
    // Silent connections, and ones that send half a ConnectRequest.
    let mut idle: Vec<_> = (0..20).map(|_| Raw::tcp(srv.port)).collect();
    for s in idle.iter_mut().take(10) {
        s.write_all(&[0, 0, 0, 45, 0, 0, 0]).unwrap();
    }
    still_served(srv.port, &mut good);
    for s in idle.iter_mut() {
        assert!(
            closed_by_server(s),
            "a connection without a handshake was kept"
        );
    }
    let log = srv.log();
    assert!(log.contains("no handshake within 500ms"), "{log}");
    still_served(srv.port, &mut good);
}
