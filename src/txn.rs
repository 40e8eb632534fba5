//! A transaction as the server carries it between prep, the log and the tree: the jute
//! `TxnHeader`, a typed body, and the tree digest that follows it in proposals and the log.

use bytes::{Bytes, BytesMut};
use jute::{
    CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, CreateTxnV0, Decode, DecodeError, DeleteTxn, Encode, ErrorTxn, MultiTxn, OpCode,
    Reader, SetAclTxn, SetDataTxn, TxnDigest, TxnHeader,
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

impl TxnBody {
    /// Reads the body of a transaction whose header says `op`, as ZooKeeper's
    /// `SerializeUtils.deserializeTxn` does (including pre-3.3 create records without a
    /// parent cversion, and closeSession records written without the path list).
    pub fn decode(op: OpCode, r: &mut Reader) -> Result<TxnBody, DecodeError> {
        Ok(match op {
            OpCode::CreateSession => TxnBody::CreateSession(CreateSessionTxn::decode(r)?),
            OpCode::CloseSession => {
                if r.remaining() == 0 {
                    TxnBody::CloseSession(CloseSessionTxn::default())
                } else {
                    TxnBody::CloseSession(CloseSessionTxn::decode(r)?)
                }
            }
            OpCode::Create | OpCode::Create2 => {
                let mark = r.clone();
                match CreateTxn::decode(r) {
                    Ok(t) => TxnBody::Create(t),
                    Err(DecodeError::Truncated { .. }) if op == OpCode::Create => {
                        *r = mark;
                        let v0 = CreateTxnV0::decode(r)?;
                        TxnBody::Create(CreateTxn {
                            path: v0.path,
                            data: v0.data,
                            acl: v0.acl,
                            ephemeral: v0.ephemeral,
                            parent_c_version: -1,
                        })
                    }
                    Err(e) => return Err(e),
                }
            }
            OpCode::CreateTtl => TxnBody::CreateTtl(CreateTtlTxn::decode(r)?),
            OpCode::CreateContainer => TxnBody::CreateContainer(CreateContainerTxn::decode(r)?),
            OpCode::Delete | OpCode::DeleteContainer => TxnBody::Delete(DeleteTxn::decode(r)?),
            OpCode::SetData | OpCode::Reconfig => TxnBody::SetData(SetDataTxn::decode(r)?),
            OpCode::SetAcl => TxnBody::SetAcl(SetAclTxn::decode(r)?),
            OpCode::Check => TxnBody::Check(CheckVersionTxn::decode(r)?),
            OpCode::Error => TxnBody::Error(ErrorTxn::decode(r)?),
            OpCode::Multi => {
                let m = MultiTxn::decode(r)?;
                let mut subs = Vec::with_capacity(m.txns.len());
                for t in m.txns {
                    let sub_op = OpCode::from_i32(t.op).ok_or(DecodeError::Unknown {
                        what: "multi txn type",
                        value: t.op,
                    })?;
                    let mut sr = Reader::new(t.data.unwrap_or_default());
                    subs.push((sub_op, TxnBody::decode(sub_op, &mut sr)?));
                }
                TxnBody::Multi(subs)
            }
            _ => {
                return Err(DecodeError::Unknown {
                    what: "txn type",
                    value: op.code(),
                })
            }
        })
    }
}

impl Txn {
    /// Reads header, body and (when present) digest from one log record or proposal.
    pub fn decode(bytes: Bytes) -> Result<Txn, DecodeError> {
        let mut r = Reader::new(bytes);
        let hdr = TxnHeader::decode(&mut r)?;
        let op = OpCode::from_i32(hdr.op).ok_or(DecodeError::Unknown {
            what: "txn type",
            value: hdr.op,
        })?;
        let body = TxnBody::decode(op, &mut r)?;
        let digest = if r.remaining() >= 12 {
            Some(TxnDigest::decode(&mut r)?)
        } else {
            None
        };
        Ok(Txn { hdr, body, digest })
    }
}
