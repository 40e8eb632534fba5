//! Every record round-trips through its encoding, and decoding arbitrary bytes as any record
//! returns an error or a value, never a panic.

use bytes::Bytes;
use jute::codec::{Sample, SampleRng};
use jute::*;
use proptest::prelude::*;

macro_rules! all_records {
    ($m:ident) => {
        $m! {
            Id, Acl, Stat, StatPersisted, ClientInfo, ConnectRequestBase, ConnectResponseBase,
            SetWatches, SetWatches2, RequestHeader, MultiHeader, AuthPacket, ReplyHeader,
            GetDataRequest, SetDataRequest, ReconfigRequest, SetDataResponse, GetSaslRequest,
            SetSaslRequest, SetSaslResponse, CreateRequest, CreateTtlRequest, DeleteRequest,
            GetChildrenRequest, GetAllChildrenNumberRequest, GetStatPersistedRequest,
            GetChildren2Request, CheckVersionRequest, GetMaxChildrenRequest,
            GetMaxChildrenResponse, SetMaxChildrenRequest, SyncRequest, SyncResponse,
            GetAclRequest, SetAclRequest, SetAclResponse, AddWatchRequest, WatcherEvent,
            ErrorResponse, CreateResponse, Create2Response, ExistsRequest, ExistsResponse,
            GetDataResponse, GetChildrenResponse, GetAllChildrenNumberResponse,
            GetStatPersistedResponse, GetChildren2Response, GetAclResponse, CheckWatchesRequest,
            RemoveWatchesRequest, GetEphemeralsRequest, GetEphemeralsResponse, WhoAmIResponse,
            LearnerInfo, QuorumPacket, QuorumAuthPacket, FileHeader, TxnDigest, TxnHeader,
            CreateTxnV0, CreateTxn, CreateTtlTxn, CreateContainerTxn, DeleteTxn, SetDataTxn,
            CheckVersionTxn, SetAclTxn, SetMaxChildrenTxn, CreateSessionTxn, CloseSessionTxn,
            ErrorTxn, Txn, MultiTxn
        }
    };
}

macro_rules! round_trip {
    ($($t:ident),*) => {{
        let mut rng = SampleRng(0x5eed);
        let mut n = 0;
        $(
            for _ in 0..200 {
                let v = <$t as Sample>::sample(&mut rng);
                let b = v.to_bytes();
                let back = <$t as Decode>::from_bytes(b.clone()).unwrap_or_else(|e| panic!("{}: {e}", stringify!($t)));
                assert_eq!(back, v, "{}", stringify!($t));
                assert_eq!(back.to_bytes(), b);
            }
            n += 1;
        )*
        n
    }};
}

#[test]
fn every_record_round_trips() {
    let n = all_records!(round_trip);
    assert_eq!(n, 74);
}

macro_rules! decode_all {
    ($bytes:expr; $($t:ident),*) => {{
        $( let _ = <$t as Decode>::from_bytes($bytes.clone()); )*
    }};
}

macro_rules! decode_any {
    ($($t:ident),*) => {
        fn decode_everything(b: Bytes) {
            decode_all!(b; $($t),*);
            for op in -12..110 {
                let _ = Request::decode(op, &mut Reader::new(b.clone()));
            }
            let _ = MultiResponse::decode(&mut Reader::new(b.clone()));
            let _ = ConnectRequest::from_bytes(b.clone());
            let _ = ConnectResponse::from_bytes(b);
        }
    };
}
all_records!(decode_any);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn random_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..200)) {
        decode_everything(Bytes::from(v));
    }

    #[test]
    fn mutated_valid_requests_never_panic(seed in any::<u64>(), flip in any::<usize>(), byte in any::<u8>()) {
        let mut rng = SampleRng(seed);
        let req = MultiRequest { ops: vec![
            MultiOp::Create(OpCode::Create, CreateRequest::sample(&mut rng)),
            MultiOp::SetData(SetDataRequest::sample(&mut rng)),
            MultiOp::Check(CheckVersionRequest::sample(&mut rng)),
        ]};
        let mut b = req.to_bytes().to_vec();
        let i = flip % b.len();
        b[i] = byte;
        decode_everything(Bytes::from(b));
    }
}

#[test]
fn multi_request_round_trips() {
    let mut rng = SampleRng(7);
    let req = MultiRequest {
        ops: vec![
            MultiOp::Create(OpCode::Create2, CreateRequest::sample(&mut rng)),
            MultiOp::CreateTtl(CreateTtlRequest::sample(&mut rng)),
            MultiOp::Delete(DeleteRequest::sample(&mut rng)),
            MultiOp::SetData(SetDataRequest::sample(&mut rng)),
            MultiOp::Check(CheckVersionRequest::sample(&mut rng)),
        ],
    };
    let back = MultiRequest::from_bytes(req.to_bytes()).unwrap();
    assert_eq!(back, req);
}
