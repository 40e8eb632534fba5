//! A transaction as the server carries it between prep, the log and the tree: the jute
//! `TxnHeader`, a typed body, and the tree digest that follows it in proposals and the log.

use bytes::{Bytes, BytesMut};
use jute::{
    CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, DeleteTxn, Encode, ErrorTxn, MultiTxn, OpCode, SetAclTxn, SetDataTxn, TxnDigest,
    TxnHeader,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    CreateSession(CreateSessionTxn),
    CloseSession(CloseSessionTxn),
    /// create and create2 (the header's op tells which).
    Create(CreateTxn),
    CreateContainer(CreateContainerTxn),
    CreateTtl(CreateTtlTxn),
    /// delete and deleteContainer.
    Delete(DeleteTxn),
    SetData(SetDataTxn),
    SetAcl(SetAclTxn),
    Check(CheckVersionTxn),
    Error(ErrorTxn),
    /// Sub-transactions with their own op codes, all under the multi's one zxid.
    Multi(Vec<(OpCode, TxnBody)>),
}

impl TxnBody {
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            TxnBody::CreateSession(t) => t.encode(out),
            TxnBody::CloseSession(t) => t.encode(out),
            TxnBody::Create(t) => t.encode(out),
            TxnBody::CreateContainer(t) => t.encode(out),
            TxnBody::CreateTtl(t) => t.encode(out),
            TxnBody::Delete(t) => t.encode(out),
            TxnBody::SetData(t) => t.encode(out),
            TxnBody::SetAcl(t) => t.encode(out),
            TxnBody::Check(t) => t.encode(out),
            TxnBody::Error(t) => t.encode(out),
            TxnBody::Multi(subs) => MultiTxn {
                txns: subs
                    .iter()
                    .map(|(op, b)| {
                        let mut buf = BytesMut::new();
                        b.encode(&mut buf);
                        jute::Txn {
                            op: op.code(),
                            data: Some(buf.freeze()),
                        }
                    })
                    .collect(),
            }
            .encode(out),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    pub hdr: TxnHeader,
    pub body: TxnBody,
    pub digest: Option<TxnDigest>,
}

impl Txn {
    /// Header, body and digest as the txn log and proposals carry them.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.hdr.encode(&mut out);
        self.body.encode(&mut out);
        if let Some(d) = &self.digest {
            d.encode(&mut out);
        }
        out.freeze()
    }
}
