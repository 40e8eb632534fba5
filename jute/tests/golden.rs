//! Golden bytes: frames recorded between the real Java and C clients and Apache ZooKeeper 3.8
//! (jute/tests/fixtures, see its README). Each decodes with this crate and re-encodes to the
//! identical bytes, and the decoded header fields agree with the recorded ones.

use bytes::{Bytes, BytesMut};
use jute::*;
use std::path::Path;

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Decodes a server reply body for `op` and re-encodes it.
fn reencode_reply(op: i32, xid: i32, r: &mut Reader, out: &mut BytesMut) {
    if xid == Xid::NOTIFICATION {
        return WatcherEvent::decode(r).unwrap().encode(out);
    }
    match OpCode::from_i32(op).expect("known op") {
        OpCode::Create => CreateResponse::decode(r).unwrap().encode(out),
        OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
            Create2Response::decode(r).unwrap().encode(out)
        }
        OpCode::Exists => ExistsResponse::decode(r).unwrap().encode(out),
        OpCode::GetData => GetDataResponse::decode(r).unwrap().encode(out),
        OpCode::SetData => SetDataResponse::decode(r).unwrap().encode(out),
        OpCode::GetAcl => GetAclResponse::decode(r).unwrap().encode(out),
        OpCode::SetAcl => SetAclResponse::decode(r).unwrap().encode(out),
        OpCode::GetChildren => GetChildrenResponse::decode(r).unwrap().encode(out),
        OpCode::GetChildren2 => GetChildren2Response::decode(r).unwrap().encode(out),
        OpCode::Sync => SyncResponse::decode(r).unwrap().encode(out),
        OpCode::Multi | OpCode::MultiRead => MultiResponse::decode(r).unwrap().encode(out),
        OpCode::GetEphemerals => GetEphemeralsResponse::decode(r).unwrap().encode(out),
        OpCode::GetAllChildrenNumber => {
            GetAllChildrenNumberResponse::decode(r).unwrap().encode(out)
        }
        OpCode::WhoAmI => WhoAmIResponse::decode(r).unwrap().encode(out),
        OpCode::AddWatch => ErrorResponse::decode(r).unwrap().encode(out),
        _ => {} // header-only replies
    }
}

#[test]
fn recorded_frames_decode_and_reencode_identically() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let index = std::fs::read_to_string(dir.join("index.tsv")).expect("index.tsv");
    let mut checked = 0;
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, dir_, record) = (cols[0], cols[1], cols[2]);
        let op: i32 = cols[3].parse().unwrap_or(0);
        let meta: serde_json::Value = serde_json::from_str(cols[5]).expect("json");
        let frame = unhex(&std::fs::read_to_string(dir.join(file)).unwrap());
        assert_eq!(frame.len().to_string(), cols[4], "{file}: frame size");
        let len = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        assert_eq!(len, frame.len() - 4, "{file}: length prefix");
        let payload = Bytes::copy_from_slice(&frame[4..]);
        let mut r = Reader::new(payload.clone());
        let mut out = BytesMut::new();
        if record.starts_with("ConnectRequest") {
            let c = ConnectRequest::decode(&mut r).unwrap();
            assert_eq!(c.has_read_only, len == 45, "{file}");
            assert_eq!(
                c.time_out as i64,
                meta["fields"]["timeOut"].as_i64().unwrap()
            );
            c.encode(&mut out);
        } else if record.starts_with("ConnectResponse") {
            let c = ConnectResponse::decode(&mut r).unwrap();
            assert_eq!(c.has_read_only, len == 37, "{file}");
            assert_eq!(
                c.time_out as i64,
                meta["fields"]["timeOut"].as_i64().unwrap()
            );
            c.encode(&mut out);
        } else if dir_ == "c2s" {
            let h = RequestHeader::decode(&mut r).unwrap();
            assert_eq!(h.xid as i64, meta["xid"].as_i64().unwrap(), "{file}: xid");
            assert_eq!(h.op, op, "{file}: op");
            let req = Request::decode(h.op, &mut r).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(req.op().code(), op);
            if let Some(p) = meta["fields"]["path"].as_str() {
                assert!(
                    format!("{req:?}").contains(&format!("{p:?}")),
                    "{file}: path"
                );
            }
            h.encode(&mut out);
            req.encode(&mut out);
        } else {
            let h = ReplyHeader::decode(&mut r).unwrap();
            assert_eq!(h.xid as i64, meta["xid"].as_i64().unwrap(), "{file}: xid");
            assert_eq!(h.zxid, meta["zxid"].as_i64().unwrap(), "{file}: zxid");
            assert_eq!(h.err as i64, meta["err"].as_i64().unwrap(), "{file}: err");
            h.encode(&mut out);
            if h.err == 0 {
                reencode_reply(op, h.xid, &mut r, &mut out);
            }
        }
        assert_eq!(r.remaining(), 0, "{file}: bytes left over");
        assert_eq!(&out[..], &payload[..], "{file}: re-encoding differs");
        checked += 1;
    }
    assert!(checked >= 70, "only {checked} fixtures");
}
