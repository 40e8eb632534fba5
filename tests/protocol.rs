//! Server tests over TCP with a raw client: the handshake in both forms, sessions (reconnect,
//! wrong password, expiry, close), ordering of events and replies, multi encoding.

mod common;
use bytes::Bytes;
use common::*;
use jute::*;
use std::time::Duration;

#[test]
fn handshake_answers_in_the_clients_form() {
    let srv = Server::start("");
    let a = Raw::connect(srv.port, true);
    let b = Raw::connect(srv.port, false);
    assert_ne!(a.session_id, 0);
    assert_ne!(a.session_id, b.session_id);
    assert_eq!(a.timeout, 4000, "timeout clamped to 20 ticks of 200 ms");
    assert_eq!(a.passwd.len(), 16);
    // A standalone ZooKeeper makes session ids as server 1 (the id's top byte).
    assert_eq!(a.session_id >> 56, 1, "session 0x{:x}", a.session_id);
}

#[test]
fn reconnect_keeps_session_and_ephemerals_wrong_password_gets_expired_answer() {
    let srv = Server::start("");
    let mut a = Raw::connect(srv.port, true);
    assert_eq!(a.create("/e", b"x", CreateMode::Ephemeral.code()).0, 0);
    let (id, pw) = (a.session_id, a.passwd.clone());
    drop(a);
    let mut b = Raw::connect_with(srv.port, id, pw.clone(), 4000, true, 0).unwrap();
    assert_eq!(b.session_id, id);
    let st = b.exists("/e").expect("ephemeral survives a reconnect");
    assert_eq!(st.ephemeral_owner, id);
    // A wrong password: timeOut 0, session 0, sixteen zero bytes, then the connection closes.
    let mut bad = pw.to_vec();
    bad[0] ^= 1;
    let mut c = Raw::connect_with(srv.port, id, Bytes::from(bad), 4000, false, 0).unwrap();
    assert_eq!((c.timeout, c.session_id), (0, 0));
    assert_eq!(&c.passwd[..], &[0u8; 16]);
    assert!(closed_by_server(&mut c.s));
    // The real session is untouched.
    assert!(b.exists("/e").is_some());
}

#[test]
fn client_ahead_of_server_is_refused() {
    let srv = Server::start("");
    assert!(Raw::connect_with(
        srv.port,
        0,
        Bytes::from_static(&[0; 16]),
        4000,
        true,
        1 << 40
    )
    .is_none());
    let mut ok = Raw::connect(srv.port, true);
    assert!(ok.exists("/").is_some());
}

#[test]
fn expiry_removes_ephemerals_notifies_watchers_and_answers_expired() {
    let srv = Server::start("");
    let mut watcher = Raw::connect(srv.port, true);
    let mut doomed =
        Raw::connect_with(srv.port, 0, Bytes::from_static(&[0; 16]), 400, true, 0).unwrap();
    assert_eq!(doomed.timeout, 400, "min session timeout is 2 ticks");
    assert_eq!(
        doomed.create("/gone", b"", CreateMode::Ephemeral.code()).0,
        0
    );
    let (h, _) = watcher.call(
        OpCode::Exists,
        &ExistsRequest {
            path: "/gone".into(),
            watch: true,
        },
    );
    assert_eq!(h.err, 0);
    let (id, pw) = (doomed.session_id, doomed.passwd.clone());
    // Stop talking: the session expires within its timeout plus a tick.
    std::thread::sleep(Duration::from_millis(1200));
    let xid = watcher.send(
        OpCode::Exists,
        &ExistsRequest {
            path: "/gone".into(),
            watch: false,
        },
    );
    let (h, _, events) = watcher.reply(xid);
    assert_eq!(h.err, ErrorCode::NoNode.code());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, EventType::NodeDeleted.code());
    assert_eq!(events[0].path, "/gone");
    let again = Raw::connect_with(srv.port, id, pw, 400, true, 0).unwrap();
    assert_eq!(
        (again.timeout, again.session_id),
        (0, 0),
        "expired session answer"
    );
}

#[test]
fn close_session_deletes_ephemerals_and_closes() {
    let srv = Server::start("");
    let mut a = Raw::connect(srv.port, true);
    a.create("/tmp1", b"", CreateMode::Ephemeral.code());
    let (h, _) = a.call(OpCode::CloseSession, &());
    assert_eq!(h.err, 0);
    assert!(closed_by_server(&mut a.s));
    let mut b = Raw::connect(srv.port, true);
    assert!(b.exists("/tmp1").is_none());
}

#[test]
fn event_arrives_before_the_reply_that_shows_the_change() {
    let srv = Server::start("");
    let mut a = Raw::connect(srv.port, true);
    a.create("/w", b"1", 0);
    let (h, _) = a.call(
        OpCode::GetData,
        &GetDataRequest {
            path: "/w".into(),
            watch: true,
        },
    );
    assert_eq!(h.err, 0);
    let xid = a.send(
        OpCode::SetData,
        &SetDataRequest {
            path: "/w".into(),
            data: Some(Bytes::from_static(b"2")),
            version: -1,
        },
    );
    let (h, _, events) = a.reply(xid);
    assert_eq!(h.err, 0);
    assert_eq!(
        events.len(),
        1,
        "the data watch fires before the setData reply"
    );
    assert_eq!(events[0].event_type, EventType::NodeDataChanged.code());
    assert_eq!(events[0].state, KeeperState::SyncConnected.code());
}

#[test]
fn sequential_names_and_stat_fields() {
    let srv = Server::start("");
    let mut a = Raw::connect(srv.port, true);
    a.create("/q", b"", 0);
    let (_, p0) = a.create("/q/n-", b"", CreateMode::PersistentSequential.code());
    let (_, p1) = a.create("/q/n-", b"", CreateMode::EphemeralSequential.code());
    assert_eq!(p0, "/q/n-0000000000");
    assert_eq!(p1, "/q/n-0000000001");
    let (h, r) = a.call(
        OpCode::Delete,
        &DeleteRequest {
            path: "/q/n-0000000000".into(),
            version: -1,
        },
    );
    assert_eq!(h.err, 0);
    assert!(r.finish().is_ok());
    let (_, p2) = a.create("/q/n-", b"", CreateMode::PersistentSequential.code());
    assert_eq!(
        p2, "/q/n-0000000002",
        "numbering follows the parent's create count"
    );
    let st = a.exists("/q").unwrap();
    assert_eq!(st.num_children, 2);
    // Clients see cversion as changes: three creates and one delete.
    assert_eq!(st.cversion, 4);
    let e = a.exists("/q/n-0000000001").unwrap();
    assert_eq!(e.ephemeral_owner, a.session_id);
}

#[test]
fn multi_partial_failure_is_encoded_per_op() {
    let srv = Server::start("");
    let mut a = Raw::connect(srv.port, true);
    let create = |p: &str| {
        MultiOp::Create(
            OpCode::Create,
            CreateRequest {
                path: p.into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        )
    };
    let m = MultiRequest {
        ops: vec![
            create("/m1"),
            MultiOp::Delete(DeleteRequest {
                path: "/nope".into(),
                version: -1,
            }),
            create("/m2"),
        ],
    };
    let (h, mut r) = a.call(OpCode::Multi, &m);
    assert_eq!(h.err, 0);
    let resp = MultiResponse::decode(&mut r).unwrap();
    let errs: Vec<i32> = resp
        .results
        .iter()
        .map(|x| match x {
            OpResult::Error { err } => *err,
            _ => 99,
        })
        .collect();
    assert_eq!(errs, vec![0, -101, -2]);
    assert!(a.exists("/m1").is_none(), "a failed multi changes nothing");
    let m = MultiRequest {
        ops: vec![create("/m1"), create("/m1/c")],
    };
    let (h, mut r) = a.call(OpCode::Multi, &m);
    assert_eq!(h.err, 0);
    let resp = MultiResponse::decode(&mut r).unwrap();
    assert_eq!(
        resp.results,
        vec![
            OpResult::Create { path: "/m1".into() },
            OpResult::Create {
                path: "/m1/c".into()
            }
        ]
    );
}

/// One session pipelines reads, writes that succeed and fail, multi, multiRead, sync,
/// setWatches, auth and closeSession without waiting; group commit is forced to batch
/// (`flushDelay`), so several writes commit together. Replies come in request order, and
/// each read shows exactly the session's writes sent before it.
#[test]
fn pipelined_sessions_are_answered_in_request_order() {
    let s = Server::start("flushDelay=20");
    common::order::check_pipelined_order(s.port, 48);
}

/// Requests every ZooKeeper release answers one way and a stock client never sends, found
/// comparing releases by hand (compat-tests/differential/FINDINGS.md, 85-86): a multiRead of
/// writes only is MARSHALLINGERROR with an empty result list (with a read among them, the
/// error header alone), and a reconfig with an empty body is MARSHALLINGERROR without a zxid.
#[test]
fn multiread_of_writes_and_an_empty_reconfig_answer_as_zookeeper() {
    use bytes::Bytes;
    let s = Server::start("");
    let mut c = Raw::connect(s.port, false);
    let (err, _) = c.create("/mr", b"x", 0);
    assert_eq!(err, 0);
    let set = MultiOp::SetData(SetDataRequest {
        path: "/mr".into(),
        data: Some(Bytes::from_static(b"y")),
        version: -1,
    });
    let get = MultiOp::GetData(GetDataRequest {
        path: "/mr".into(),
        watch: false,
    });
    let (h, r) = c.call(
        OpCode::MultiRead,
        &MultiRequest {
            ops: vec![set.clone()],
        },
    );
    assert_eq!(h.err, ErrorCode::MarshallingError.code());
    assert_eq!(
        r.rest().as_ref(),
        [0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff],
        "an empty result list"
    );
    let (h, r) = c.call(
        OpCode::MultiRead,
        &MultiRequest {
            ops: vec![get, set],
        },
    );
    assert_eq!(h.err, ErrorCode::MarshallingError.code());
    assert!(r.rest().is_empty(), "the error header alone");
    let before = h.zxid;
    let xid = c.send(OpCode::Reconfig, &());
    let (h, _, _) = c.reply(xid);
    assert_eq!(
        (h.err, h.zxid),
        (ErrorCode::MarshallingError.code(), before),
        "no zxid consumed"
    );
    let (h, _) = c.call(
        OpCode::Create,
        &CreateRequest {
            path: "/after".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
        },
    );
    assert_eq!((h.err, h.zxid), (0, before + 1));
}

#[test]
fn requests_pipelined_behind_the_handshake_are_answered_after_it() {
    // The Java client's Netty socket (and Curator's `authorization`) writes its auth packet
    // right behind the ConnectRequest. ZooKeeper stops reading a connection until its
    // ConnectResponse is out, so the ConnectResponse comes first; a reply before it breaks
    // the client.
    use std::io::{Read, Write};
    let srv = Server::start("flushDelay=20");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut connect = Vec::new();
    connect.extend_from_slice(&0i32.to_be_bytes()); // protocolVersion
    connect.extend_from_slice(&0i64.to_be_bytes()); // lastZxidSeen
    connect.extend_from_slice(&30000i32.to_be_bytes()); // timeOut
    connect.extend_from_slice(&0i64.to_be_bytes()); // sessionId
    connect.extend_from_slice(&16i32.to_be_bytes());
    connect.extend_from_slice(&[0u8; 16]); // passwd
    connect.push(0); // readOnly
    let mut auth = Vec::new();
    auth.extend_from_slice(&(-4i32).to_be_bytes()); // xid
    auth.extend_from_slice(&100i32.to_be_bytes()); // auth
    auth.extend_from_slice(&0i32.to_be_bytes()); // type
    auth.extend_from_slice(&6i32.to_be_bytes());
    auth.extend_from_slice(b"digest");
    auth.extend_from_slice(&3i32.to_be_bytes());
    auth.extend_from_slice(b"u:p");
    let mut out = Vec::new();
    for frame in [&connect, &auth] {
        out.extend_from_slice(&(frame.len() as i32).to_be_bytes());
        out.extend_from_slice(frame);
    }
    s.write_all(&out).unwrap();
    let mut frames = Vec::new();
    for _ in 0..2 {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).unwrap();
        frames.push(body);
    }
    assert_eq!(frames[0].len(), 37, "the ConnectResponse comes first");
    assert_eq!(
        &frames[1][..4],
        &(-4i32).to_be_bytes(),
        "then the auth reply"
    );
    assert_eq!(&frames[1][12..16], &0i32.to_be_bytes(), "auth succeeded");
}
