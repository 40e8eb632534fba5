//! Pipelined sessions: one session sends a random mix of requests without waiting for any
//! reply, as Kafka's ZooKeeperClient, Curator's async API and kazoo's async calls do, then
//! reads every reply. ZooKeeper answers a session's requests in the order they were sent,
//! and a read sees the session's writes sent before it and none sent after it; both are
//! checked here against a running server, with proptest choosing the mixes.

use super::Raw;
use bytes::Bytes;
use jute::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::time::{Duration, Instant};

/// One request of a pipelined mix, against the case's own node `base`.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    /// getData(base): the data of the last successful setData sent before it.
    Get,
    /// exists of a missing child: NONODE.
    ExistsMissing,
    /// A sequential child of base.
    CreateSeq,
    /// setData(base) with any version.
    Set,
    /// setData(base) with a version it does not have: BADVERSION.
    SetBadVersion,
    /// delete of a missing child: NONODE.
    DeleteMissing,
    /// multi(check base, setData base): succeeds.
    Multi,
    /// multi(setData base, check a missing child): fails as a whole.
    MultiFail,
    /// multiRead(getData base): the same data as `Get`.
    MultiRead,
    /// sync(base).
    Sync,
    /// setWatches with an ordinary xid, so that its reply takes part in the order.
    SetWatches,
    /// getChildren(base).
    Children,
    /// An auth packet (xid -4): answered outside the order, as ZooKeeper does.
    Auth,
    /// A ping (xid -2): answered in order, as ZooKeeper's pipeline answers it.
    Ping,
}

pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => Just(Op::Get),
        2 => Just(Op::ExistsMissing),
        2 => Just(Op::CreateSeq),
        4 => Just(Op::Set),
        1 => Just(Op::SetBadVersion),
        1 => Just(Op::DeleteMissing),
        1 => Just(Op::Multi),
        1 => Just(Op::MultiFail),
        1 => Just(Op::MultiRead),
        1 => Just(Op::Sync),
        1 => Just(Op::SetWatches),
        1 => Just(Op::Children),
        1 => Just(Op::Auth),
        1 => Just(Op::Ping),
    ];
    prop::collection::vec(op, 1..48)
}

/// What the reply to an ordered request must be.
struct Expect {
    xid: i32,
    op: Op,
    /// The error code, when it is certain (a failed multi's header is not checked).
    err: Option<i32>,
    /// For reads of base's data: the data it must show.
    data: Option<Bytes>,
}

fn set(path: &str, data: &Bytes, version: i32) -> SetDataRequest {
    SetDataRequest {
        path: path.into(),
        data: Some(data.clone()),
        version,
    }
}

/// Runs one pipelined mix on a new session of the server at `port`; `close` ends it with a
/// closeSession sent in the same burst.
pub fn run_case(port: u16, case: u64, mix: &[Op], close: bool) -> Result<(), String> {
    let mut c = Raw::connect(port, false);
    let base = format!("/order-{}-{port}-{case}", std::process::id());
    let initial = Bytes::from_static(b"initial");
    let (err, _) = c.create(&base, &initial, 0);
    if err != 0 {
        return Err(format!("create {base}: error {err}"));
    }
    let missing = format!("{base}/missing");
    let mut data = initial;
    let mut expect = Vec::new();
    let mut auths = 0;
    for (i, op) in mix.iter().enumerate() {
        let (err, shows) = match op {
            Op::Get => {
                let r = GetDataRequest {
                    path: base.clone(),
                    watch: false,
                };
                c.send(OpCode::GetData, &r);
                (Some(0), Some(data.clone()))
            }
            Op::ExistsMissing => {
                let r = ExistsRequest {
                    path: missing.clone(),
                    watch: false,
                };
                c.send(OpCode::Exists, &r);
                (Some(ErrorCode::NoNode.code()), None)
            }
            Op::CreateSeq => {
                let r = CreateRequest {
                    path: format!("{base}/s-"),
                    data: None,
                    acl: Acl::open_unsafe(),
                    flags: 2,
                };
                c.send(OpCode::Create, &r);
                (Some(0), None)
            }
            Op::Set => {
                data = Bytes::from(format!("set-{i}"));
                c.send(OpCode::SetData, &set(&base, &data, -1));
                (Some(0), None)
            }
            Op::SetBadVersion => {
                let bad = Bytes::from_static(b"never");
                c.send(OpCode::SetData, &set(&base, &bad, 1 << 30));
                (Some(ErrorCode::BadVersion.code()), None)
            }
            Op::DeleteMissing => {
                let r = DeleteRequest {
                    path: missing.clone(),
                    version: -1,
                };
                c.send(OpCode::Delete, &r);
                (Some(ErrorCode::NoNode.code()), None)
            }
            Op::Multi => {
                data = Bytes::from(format!("multi-{i}"));
                let r = MultiRequest {
                    ops: vec![
                        MultiOp::Check(CheckVersionRequest {
                            path: base.clone(),
                            version: -1,
                        }),
                        MultiOp::SetData(set(&base, &data, -1)),
                    ],
                };
                c.send(OpCode::Multi, &r);
                (Some(0), None)
            }
            Op::MultiFail => {
                let never = Bytes::from_static(b"rolled-back");
                let r = MultiRequest {
                    ops: vec![
                        MultiOp::SetData(set(&base, &never, -1)),
                        MultiOp::Check(CheckVersionRequest {
                            path: missing.clone(),
                            version: -1,
                        }),
                    ],
                };
                c.send(OpCode::Multi, &r);
                (None, None)
            }
            Op::MultiRead => {
                let r = MultiRequest {
                    ops: vec![MultiOp::GetData(GetDataRequest {
                        path: base.clone(),
                        watch: false,
                    })],
                };
                c.send(OpCode::MultiRead, &r);
                (Some(0), Some(data.clone()))
            }
            Op::Sync => {
                c.send(OpCode::Sync, &SyncRequest { path: base.clone() });
                (Some(0), None)
            }
            Op::SetWatches => {
                let r = SetWatches {
                    relative_zxid: 0,
                    data_watches: vec![base.clone()],
                    exist_watches: vec![],
                    child_watches: vec![],
                };
                c.send(OpCode::SetWatches, &r);
                (Some(0), None)
            }
            Op::Children => {
                let r = GetChildrenRequest {
                    path: base.clone(),
                    watch: false,
                };
                c.send(OpCode::GetChildren, &r);
                (Some(0), None)
            }
            Op::Ping => {
                c.send_raw(Xid::PING, OpCode::Ping.code(), &());
                expect.push(Expect {
                    xid: Xid::PING,
                    op: *op,
                    err: Some(0),
                    data: None,
                });
                continue;
            }
            Op::Auth => {
                let r = AuthPacket {
                    auth_type: 0,
                    scheme: "digest".into(),
                    auth: Some(Bytes::from_static(b"order:secret")),
                };
                c.send_raw(Xid::AUTH, OpCode::Auth.code(), &r);
                auths += 1;
                continue;
            }
        };
        expect.push(Expect {
            xid: c.last_xid(),
            op: *op,
            err,
            data: shows,
        });
    }
    if close {
        c.send(OpCode::CloseSession, &());
        expect.push(Expect {
            xid: c.last_xid(),
            op: Op::Sync,
            err: Some(0),
            data: None,
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut next = 0;
    let mut seen = Vec::new();
    while next < expect.len() || auths > 0 {
        if Instant::now() > deadline {
            return Err(format!("timed out; replies so far {seen:?}"));
        }
        let Some(frame) = super::read_frame(&mut c.s) else {
            return Err(format!("connection closed; replies so far {seen:?}"));
        };
        let mut r = Reader::new(frame);
        let h = ReplyHeader::decode(&mut r).map_err(|e| e.to_string())?;
        match h.xid {
            Xid::NOTIFICATION => continue,
            Xid::AUTH => {
                if h.err != 0 {
                    return Err(format!("auth failed: {}", h.err));
                }
                auths -= 1;
                continue;
            }
            _ => {}
        }
        seen.push(h.xid);
        let Some(e) = expect.get(next) else {
            return Err(format!("an unexpected reply {h:?}; replies {seen:?}"));
        };
        if h.xid != e.xid {
            return Err(format!(
                "reply xid {} where {} ({:?}) belonged; replies so far {seen:?}",
                h.xid, e.xid, e.op
            ));
        }
        if let Some(err) = e.err {
            if h.err != err {
                return Err(format!(
                    "xid {} ({:?}): error {} not {err}",
                    h.xid, e.op, h.err
                ));
            }
        }
        if let Some(want) = &e.data {
            let got = match e.op {
                Op::MultiRead => {
                    let m = MultiResponse::decode(&mut r).map_err(|e| e.to_string())?;
                    match m.results.first() {
                        Some(OpResult::GetData { data, .. }) => data.clone(),
                        other => return Err(format!("multiRead answered {other:?}")),
                    }
                }
                _ => {
                    GetDataResponse::decode(&mut r)
                        .map_err(|e| e.to_string())?
                        .data
                }
            };
            if got.as_ref() != Some(want) {
                return Err(format!(
                    "xid {} ({:?}) read {got:?}, but the session's writes before it leave {want:?}",
                    h.xid, e.op
                ));
            }
        }
        next += 1;
    }
    Ok(())
}

/// Runs `cases` random mixes against the server at `port` (each on a new session).
pub fn check_pipelined_order(port: u16, cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::sync::atomic::AtomicU64::new(0);
    runner
        .run(&(ops(), any::<bool>()), |(mix, close)| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            run_case(port, n, &mix, close).map_err(TestCaseError::fail)
        })
        .unwrap();
}
