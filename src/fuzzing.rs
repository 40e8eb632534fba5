//! Fuzz harnesses, shared by the cargo-fuzz targets in `fuzz/` and by the test that replays
//! their corpus on stable Rust (`tests/fuzz_corpus.rs`). Each takes arbitrary bytes and
//! panics only when an invariant breaks: a decoder that accepts bytes must re-encode them to
//! something it decodes to the same value, and the request path (decode -> prep -> txn
//! encode/decode -> apply -> read) must keep the prepared digest equal to the applied tree's.

use crate::acl::AclPolicy;
use crate::pipeline::prep::{self, Ctx, Overlay};
use crate::pipeline::read::ReadCtx;
use crate::pipeline::{is_valid_op, is_write};
use crate::tree::DataTree;
use crate::txn::{Txn, TxnBody};
use crate::watch::WatchManager;
use bytes::{Bytes, BytesMut};
use jute::*;

fn round_trip<T: Decode + Encode + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let mut r = Reader::new(Bytes::copy_from_slice(data));
    if let Ok(v) = T::decode(&mut r) {
        let mut out = BytesMut::new();
        v.encode(&mut out);
        let again = T::decode(&mut Reader::new(out.freeze()))
            .unwrap_or_else(|e| panic!("re-encoded {v:?} does not decode: {e}"));
        assert_eq!(v, again, "decode(encode(v)) != v");
    }
}

/// Every decoder that reads bytes from the network or the disk.
pub fn jute_decode(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 8 {
        0 => round_trip::<ConnectRequest>(rest),
        1 => round_trip::<RequestHeader>(rest),
        2 => round_trip::<MultiRequest>(rest),
        3 => round_trip::<MultiResponse>(rest),
        4 => {
            // A request body for the op code in its first four bytes.
            if rest.len() >= 4 {
                let op = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
                let body = Bytes::copy_from_slice(&rest[4..]);
                if let Ok(req) = Request::decode(op, &mut Reader::new(body)) {
                    let mut out = BytesMut::new();
                    req.encode(&mut out);
                    let again = Request::decode(op, &mut Reader::new(out.freeze()))
                        .unwrap_or_else(|e| panic!("re-encoded {req:?} does not decode: {e}"));
                    assert_eq!(req, again);
                }
            }
        }
        5 => {
            // A txn as the log and the quorum carry it.
            if let Ok(t) = Txn::decode(Bytes::copy_from_slice(rest)) {
                let again = Txn::decode(t.to_bytes())
                    .unwrap_or_else(|e| panic!("re-encoded txn does not decode: {e}"));
                assert_eq!(t.hdr, again.hdr);
            }
        }
        6 => {
            // A snapshot file's contents.
            let _ = crate::storage::snap::deserialize(Bytes::copy_from_slice(rest), 0);
        }
        _ => {
            round_trip::<ReplyHeader>(rest);
            round_trip::<WatcherEvent>(rest);
            round_trip::<Stat>(rest);
        }
    }
}

/// Frames from one byte stream: `[session: u8][op: i32][len: u16][body]`, repeated.
struct Frames<'a>(&'a [u8]);

impl<'a> Iterator for Frames<'a> {
    type Item = (u8, i32, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.len() < 7 {
            return None;
        }
        let (h, rest) = self.0.split_at(7);
        let who = h[0];
        let op = i32::from_be_bytes([h[1], h[2], h[3], h[4]]);
        let len = (u16::from_be_bytes([h[5], h[6]]) as usize).min(rest.len());
        let (body, rest) = rest.split_at(len);
        self.0 = rest;
        Some((who, op, body))
    }
}

/// The server's request path without sockets or disk, as the node runs it.
pub fn request_path(data: &[u8]) {
    let mut tree = DataTree::new();
    let mut overlay = Overlay::new(&tree);
    let mut watches = WatchManager::default();
    let mut events = Vec::new();
    let mut changes = Vec::new();
    // Quotas enforced, so that the fuzzer reaches QUOTAEXCEEDED paths too.
    let policy = AclPolicy {
        skip: false,
        super_digest: Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=".into()),
        enforce_quota: true,
        x509: true,
        x509_super: None,
        sasl: true,
        sasl_let_any: None,
    };
    // Four identities: anonymous, two digest users, and the super user.
    let identities: [Vec<Id>; 4] = [
        vec![Id::new("ip", "127.0.0.1")],
        vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("digest", "u1:9Mub3f7YBRKmW2/0OMjypTEnizE="),
        ],
        vec![
            Id::new("ip", "10.1.2.3"),
            Id::new("digest", "u2:Cqw8RkS0vY0CPRd5B9pCsMTBRsU="),
        ],
        vec![Id::new("super", ""), Id::new("ip", "127.0.0.1")],
    ];
    let mut zxid = 0i64;
    for (step, (who, op, body)) in Frames(data).take(64).enumerate() {
        let session = 0x100 + (who % 4) as i64;
        let auth = &identities[(who / 4 % 4) as usize];
        if !is_valid_op(op) {
            continue;
        }
        let req = match Request::decode(op, &mut Reader::new(Bytes::copy_from_slice(body))) {
            Ok(r) => r,
            Err(_) => continue,
        };
        let time = 1_700_000_000_000 + step as i64;
        if is_write(op) || matches!(req, Request::CloseSession) {
            zxid += 1;
            let (hdr_op, body) = if matches!(req, Request::CloseSession) {
                let paths = prep::prep_close_session(&tree, &mut overlay, session, zxid);
                (
                    OpCode::CloseSession,
                    TxnBody::CloseSession(CloseSessionTxn {
                        paths2_delete: paths,
                    }),
                )
            } else {
                let ctx = Ctx {
                    session,
                    zxid,
                    time,
                    auth,
                    extended_types: true,
                    policy: &policy,
                };
                let code = OpCode::from_i32(op).unwrap_or(OpCode::Error);
                match prep::prep_request(&tree, &mut overlay, &ctx, req) {
                    Ok(b) => (code, b),
                    Err(e) => (OpCode::Error, TxnBody::Error(ErrorTxn { err: e.code() })),
                }
            };
            let txn = Txn {
                hdr: TxnHeader {
                    client_id: session,
                    cxid: step as i32,
                    zxid,
                    time,
                    op: hdr_op.code(),
                },
                body,
                digest: Some(TxnDigest {
                    version: crate::storage::snap::DIGEST_VERSION,
                    tree_digest: overlay.digest as i64,
                }),
            };
            // What the log stores is what recovery applies.
            let logged = Txn::decode(txn.to_bytes())
                .unwrap_or_else(|e| panic!("a prepared txn does not decode: {e}: {txn:?}"));
            changes.clear();
            tree.apply(&logged, &mut changes);
            assert_eq!(
                tree.digest(),
                overlay.digest,
                "digest mismatch after zxid {zxid}: {txn:?}"
            );
            watches.trigger(&changes, &mut events);
            overlay.retire(zxid);
        } else {
            let mut ctx = ReadCtx {
                tree: &tree,
                watches: &mut watches,
                policy: &policy,
                auth,
                watcher: session as u64,
                session,
                events: &mut events,
            };
            let _ = ctx.read(req);
        }
        events.clear();
    }
    // The tree a snapshot of this state recovers to is the same tree.
    let snap = crate::storage::snap::serialize(&tree, &[]);
    let loaded = crate::storage::snap::deserialize(snap, tree.last_processed_zxid)
        .unwrap_or_else(|e| panic!("own snapshot does not load: {e}"));
    assert_eq!(loaded.tree.digest(), tree.digest());
}

/// The SASL decoders: the first byte picks one. 0: a DIGEST-MD5 client response (the text
/// `NONCE` is replaced with the server's nonce, so that inputs reach the digest check) for
/// the user bob; 1: a JAAS file; 2: JVM flags.
pub fn sasl(data: &[u8]) {
    use crate::sasl::digest::{DigestServer, Step};
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => {
            let mut s = DigestServer::new("zookeeper", "zk-sasl-md5");
            let Ok(Step::Continue(ch)) = s.step(b"", |_| None) else {
                panic!("no challenge");
            };
            let ch = String::from_utf8(ch).expect("the challenge is text");
            let nonce = ch
                .split("nonce=\"")
                .nth(1)
                .and_then(|x| x.split('"').next())
                .expect("the challenge has a nonce");
            let text = String::from_utf8_lossy(rest).replace("NONCE", nonce);
            if let Ok(Step::Complete { token, authcid, .. }) = s.step(text.as_bytes(), |u| {
                (u == "bob").then(|| "bobsecret".into())
            }) {
                assert_eq!(authcid, "bob");
                assert!(token.starts_with(b"rspauth="));
            }
            // Nothing is accepted after the exchange ended or failed.
            assert!(s.step(rest, |_| Some("x".into())).is_err());
        }
        1 => {
            let _ = crate::sasl::jaas::parse(
                &String::from_utf8_lossy(rest),
                &std::collections::BTreeMap::new(),
            );
        }
        _ => {
            let mut out = std::collections::BTreeMap::new();
            crate::config::jvm_properties(&String::from_utf8_lossy(rest), &mut out);
        }
    }
}
