//! Whole client messages: the handshake (with its optional read-only byte), requests keyed by
//! op code, and the per-operation results of multi and multiRead.

use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::consts::OpCode;
use crate::data::Stat;
use crate::proto::*;
use bytes::{BufMut, Bytes, BytesMut};

/// The first frame of a session. Clients send 44 bytes, or 45 with the read-only flag; the
/// server must answer in the same form (`has_read_only`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Option<Bytes>,
    pub read_only: bool,
    pub has_read_only: bool,
}

impl Decode for ConnectRequest {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let b = ConnectRequestBase::decode(r)?;
        let has_read_only = r.remaining() > 0;
        let read_only = if has_read_only { r.read_bool()? } else { false };
        Ok(ConnectRequest {
            protocol_version: b.protocol_version,
            last_zxid_seen: b.last_zxid_seen,
            time_out: b.time_out,
            session_id: b.session_id,
            passwd: b.passwd,
            read_only,
            has_read_only,
        })
    }
}

impl Encode for ConnectRequest {
    fn encode(&self, out: &mut BytesMut) {
        ConnectRequestBase {
            protocol_version: self.protocol_version,
            last_zxid_seen: self.last_zxid_seen,
            time_out: self.time_out,
            session_id: self.session_id,
            passwd: self.passwd.clone(),
        }
        .encode(out);
        if self.has_read_only {
            self.read_only.encode(out);
        }
    }
}

/// The handshake answer; `has_read_only` mirrors the request's form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Option<Bytes>,
    pub read_only: bool,
    pub has_read_only: bool,
}

impl Encode for ConnectResponse {
    fn encode(&self, out: &mut BytesMut) {
        ConnectResponseBase {
            protocol_version: self.protocol_version,
            time_out: self.time_out,
            session_id: self.session_id,
            passwd: self.passwd.clone(),
        }
        .encode(out);
        if self.has_read_only {
            self.read_only.encode(out);
        }
    }
}

impl Decode for ConnectResponse {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let b = ConnectResponseBase::decode(r)?;
        let has_read_only = r.remaining() > 0;
        let read_only = if has_read_only { r.read_bool()? } else { false };
        Ok(ConnectResponse {
            protocol_version: b.protocol_version,
            time_out: b.time_out,
            session_id: b.session_id,
            passwd: b.passwd,
            read_only,
            has_read_only,
        })
    }
}

/// One operation inside a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// create, create2 and createContainer share the record; `op` tells them apart.
    Create(OpCode, CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(GetChildrenRequest),
    GetData(GetDataRequest),
}

impl MultiOp {
    pub fn op(&self) -> OpCode {
        match self {
            MultiOp::Create(op, _) => *op,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(_, r) => &r.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }

    fn encode_body(&self, out: &mut BytesMut) {
        match self {
            MultiOp::Create(_, r) => r.encode(out),
            MultiOp::CreateTtl(r) => r.encode(out),
            MultiOp::Delete(r) => r.encode(out),
            MultiOp::SetData(r) => r.encode(out),
            MultiOp::Check(r) => r.encode(out),
            MultiOp::GetChildren(r) => r.encode(out),
            MultiOp::GetData(r) => r.encode(out),
        }
    }
}

/// `MultiOperationRecord`: headers and bodies until a header marked done.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    pub ops: Vec<MultiOp>,
}

impl Decode for MultiRequest {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let mut ops = Vec::new();
        loop {
            let h = MultiHeader::decode(r)?;
            if h.done {
                return Ok(MultiRequest { ops });
            }
            let op = match OpCode::from_i32(h.op) {
                Some(op @ (OpCode::Create | OpCode::Create2 | OpCode::CreateContainer)) => {
                    MultiOp::Create(op, CreateRequest::decode(r)?)
                }
                Some(OpCode::CreateTtl) => MultiOp::CreateTtl(CreateTtlRequest::decode(r)?),
                Some(OpCode::Delete) => MultiOp::Delete(DeleteRequest::decode(r)?),
                Some(OpCode::SetData) => MultiOp::SetData(SetDataRequest::decode(r)?),
                Some(OpCode::Check) => MultiOp::Check(CheckVersionRequest::decode(r)?),
                Some(OpCode::GetChildren) => MultiOp::GetChildren(GetChildrenRequest::decode(r)?),
                Some(OpCode::GetData) => MultiOp::GetData(GetDataRequest::decode(r)?),
                _ => {
                    return Err(DecodeError::Unknown {
                        what: "multi op",
                        value: h.op,
                    })
                }
            };
            ops.push(op);
        }
    }
}

impl Encode for MultiRequest {
    fn encode(&self, out: &mut BytesMut) {
        for op in &self.ops {
            MultiHeader {
                op: op.op().code(),
                done: false,
                err: -1,
            }
            .encode(out);
            op.encode_body(out);
        }
        MultiHeader {
            op: -1,
            done: true,
            err: -1,
        }
        .encode(out);
    }
}

/// The result of one operation of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    Create {
        path: String,
    },
    /// create2, createContainer and createTTL answer with the Stat too; `op` says which.
    Create2 {
        op: OpCode,
        path: String,
        stat: Stat,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    GetChildren {
        children: Vec<String>,
    },
    GetData {
        data: Option<Bytes>,
        stat: Stat,
    },
    Error {
        err: i32,
    },
}

impl OpResult {
    fn op(&self) -> i32 {
        match self {
            OpResult::Create { .. } => OpCode::Create.code(),
            OpResult::Create2 { op, .. } => op.code(),
            OpResult::Delete => OpCode::Delete.code(),
            OpResult::SetData { .. } => OpCode::SetData.code(),
            OpResult::Check => OpCode::Check.code(),
            OpResult::GetChildren { .. } => OpCode::GetChildren.code(),
            OpResult::GetData { .. } => OpCode::GetData.code(),
            OpResult::Error { .. } => OpCode::Error.code(),
        }
    }
}

/// `MultiResponse`: one header and body per result, then a done header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    pub results: Vec<OpResult>,
}

impl Encode for MultiResponse {
    fn encode(&self, out: &mut BytesMut) {
        for res in &self.results {
            let err = match res {
                OpResult::Error { err } => *err,
                _ => 0,
            };
            MultiHeader {
                op: res.op(),
                done: false,
                err,
            }
            .encode(out);
            match res {
                OpResult::Create { path } => path.encode(out),
                OpResult::Create2 { path, stat, .. } => {
                    path.encode(out);
                    stat.encode(out);
                }
                OpResult::Delete | OpResult::Check => {}
                OpResult::SetData { stat } => stat.encode(out),
                OpResult::GetChildren { children } => children.encode(out),
                OpResult::GetData { data, stat } => {
                    data.encode(out);
                    stat.encode(out);
                }
                OpResult::Error { err } => err.encode(out),
            }
        }
        MultiHeader {
            op: -1,
            done: true,
            err: -1,
        }
        .encode(out);
    }
}

impl Decode for MultiResponse {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let mut results = Vec::new();
        loop {
            let h = MultiHeader::decode(r)?;
            if h.done {
                return Ok(MultiResponse { results });
            }
            let res = match OpCode::from_i32(h.op) {
                Some(OpCode::Create) => OpResult::Create {
                    path: String::decode(r)?,
                },
                Some(op @ (OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl)) => {
                    OpResult::Create2 {
                        op,
                        path: String::decode(r)?,
                        stat: Stat::decode(r)?,
                    }
                }
                Some(OpCode::Delete) => OpResult::Delete,
                Some(OpCode::Check) => OpResult::Check,
                Some(OpCode::SetData) => OpResult::SetData {
                    stat: Stat::decode(r)?,
                },
                Some(OpCode::GetChildren) => OpResult::GetChildren {
                    children: Vec::decode(r)?,
                },
                Some(OpCode::GetData) => OpResult::GetData {
                    data: Option::<Bytes>::decode(r)?,
                    stat: Stat::decode(r)?,
                },
                Some(OpCode::Error) => OpResult::Error {
                    err: i32::decode(r)?,
                },
                _ => {
                    return Err(DecodeError::Unknown {
                        what: "multi result",
                        value: h.op,
                    })
                }
            };
            results.push(res);
        }
    }
}

/// A client request after its header, keyed by op code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// create, create2 and createContainer share the record.
    Create(OpCode, CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    Exists(ExistsRequest),
    GetData(GetDataRequest),
    SetData(SetDataRequest),
    GetAcl(GetAclRequest),
    SetAcl(SetAclRequest),
    GetChildren(GetChildrenRequest),
    GetChildren2(GetChildren2Request),
    Sync(SyncRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(MultiRequest),
    MultiRead(MultiRequest),
    Reconfig(ReconfigRequest),
    CheckWatches(CheckWatchesRequest),
    RemoveWatches(RemoveWatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    Sasl(GetSaslRequest),
    GetEphemerals(GetEphemeralsRequest),
    GetAllChildrenNumber(GetAllChildrenNumberRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

impl Request {
    /// Decodes the body of a request whose header carried `op`. Unknown op codes are
    /// `DecodeError::Unknown`; what to answer is the server's decision.
    pub fn decode(op: i32, r: &mut Reader) -> Result<Request, DecodeError> {
        let code = OpCode::from_i32(op).ok_or(DecodeError::Unknown {
            what: "op code",
            value: op,
        })?;
        Ok(match code {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => {
                Request::Create(code, CreateRequest::decode(r)?)
            }
            OpCode::CreateTtl => Request::CreateTtl(CreateTtlRequest::decode(r)?),
            OpCode::Delete => Request::Delete(DeleteRequest::decode(r)?),
            OpCode::Exists => Request::Exists(ExistsRequest::decode(r)?),
            OpCode::GetData => Request::GetData(GetDataRequest::decode(r)?),
            OpCode::SetData => Request::SetData(SetDataRequest::decode(r)?),
            OpCode::GetAcl => Request::GetAcl(GetAclRequest::decode(r)?),
            OpCode::SetAcl => Request::SetAcl(SetAclRequest::decode(r)?),
            OpCode::GetChildren => Request::GetChildren(GetChildrenRequest::decode(r)?),
            OpCode::GetChildren2 => Request::GetChildren2(GetChildren2Request::decode(r)?),
            OpCode::Sync => Request::Sync(SyncRequest::decode(r)?),
            OpCode::Ping => Request::Ping,
            OpCode::Check => Request::Check(CheckVersionRequest::decode(r)?),
            OpCode::Multi => Request::Multi(MultiRequest::decode(r)?),
            OpCode::MultiRead => Request::MultiRead(MultiRequest::decode(r)?),
            OpCode::Reconfig => Request::Reconfig(ReconfigRequest::decode(r)?),
            OpCode::CheckWatches => Request::CheckWatches(CheckWatchesRequest::decode(r)?),
            OpCode::RemoveWatches => Request::RemoveWatches(RemoveWatchesRequest::decode(r)?),
            OpCode::Auth => Request::Auth(AuthPacket::decode(r)?),
            OpCode::SetWatches => Request::SetWatches(SetWatches::decode(r)?),
            OpCode::SetWatches2 => Request::SetWatches2(SetWatches2::decode(r)?),
            OpCode::Sasl => Request::Sasl(GetSaslRequest::decode(r)?),
            OpCode::GetEphemerals => Request::GetEphemerals(GetEphemeralsRequest::decode(r)?),
            OpCode::GetAllChildrenNumber => {
                Request::GetAllChildrenNumber(GetAllChildrenNumberRequest::decode(r)?)
            }
            OpCode::AddWatch => Request::AddWatch(AddWatchRequest::decode(r)?),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Notification
            | OpCode::DeleteContainer
            | OpCode::CreateSession
            | OpCode::Error => {
                return Err(DecodeError::Unknown {
                    what: "client op code",
                    value: op,
                })
            }
        })
    }
}

impl Request {
    /// The op code this request is sent with.
    pub fn op(&self) -> OpCode {
        match self {
            Request::Create(op, _) => *op,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }
}

/// The body of a request (without its header), as a client sends it.
impl Encode for Request {
    fn encode(&self, out: &mut BytesMut) {
        match self {
            Request::Create(_, r) => r.encode(out),
            Request::CreateTtl(r) => r.encode(out),
            Request::Delete(r) => r.encode(out),
            Request::Exists(r) => r.encode(out),
            Request::GetData(r) => r.encode(out),
            Request::SetData(r) => r.encode(out),
            Request::GetAcl(r) => r.encode(out),
            Request::SetAcl(r) => r.encode(out),
            Request::GetChildren(r) => r.encode(out),
            Request::GetChildren2(r) => r.encode(out),
            Request::Sync(r) => r.encode(out),
            Request::Check(r) => r.encode(out),
            Request::Multi(r) | Request::MultiRead(r) => r.encode(out),
            Request::Reconfig(r) => r.encode(out),
            Request::CheckWatches(r) => r.encode(out),
            Request::RemoveWatches(r) => r.encode(out),
            Request::Auth(r) => r.encode(out),
            Request::SetWatches(r) => r.encode(out),
            Request::SetWatches2(r) => r.encode(out),
            Request::Sasl(r) => r.encode(out),
            Request::GetEphemerals(r) => r.encode(out),
            Request::GetAllChildrenNumber(r) => r.encode(out),
            Request::AddWatch(r) => r.encode(out),
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
        }
    }
}

/// Appends `len` as a big-endian length placeholder, returning where to patch it.
pub fn begin_frame(out: &mut BytesMut) -> usize {
    let at = out.len();
    out.put_i32(0);
    at
}

/// Patches the length written by [`begin_frame`].
pub fn end_frame(out: &mut BytesMut, at: usize) {
    let len = (out.len() - at - 4) as i32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}
