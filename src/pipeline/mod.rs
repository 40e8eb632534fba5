//! The request pipeline: `prep` turns a write request into a transaction (or an error
//! transaction, which keeps its place in zxid order) by checking it against the tree plus the
//! changes not yet applied; `read` answers reads from the applied tree; this module decides
//! which is which and shapes a write's reply from its apply result.

pub mod commit;
pub mod prep;
pub mod read;

use crate::tree::ApplyResult;
use bytes::BytesMut;
use jute::*;

/// The body of a successful reply, or nothing (header-only replies).
pub enum Body {
    None,
    Rec(Box<dyn EncodeBox>),
    /// An error header with a body after it (ZooKeeper's answer to a multiRead of writes).
    Failed(jute::ErrorCode, Box<dyn EncodeBox>),
}

/// Object-safe encoding, so replies of any record type can be passed around.
pub trait EncodeBox: Send {
    fn enc(&self, out: &mut BytesMut);
}

impl<T: Encode + Send> EncodeBox for T {
    fn enc(&self, out: &mut BytesMut) {
        self.encode(out)
    }
}

/// Ops ZooKeeper accepts from clients (`Request.isValid` plus auth and sasl, which it handles
/// before the pipeline); anything else gets UNIMPLEMENTED and the connection is closed.
/// Top-level `check` is refused as ZooKeeper 3.9 refuses it (ZOOKEEPER-2623).
pub fn is_valid_op(op: i32) -> bool {
    use OpCode::*;
    matches!(
        OpCode::from_i32(op),
        Some(
            CloseSession
                | Create
                | Create2
                | CreateTtl
                | CreateContainer
                | Delete
                | Exists
                | GetAcl
                | GetChildren
                | GetAllChildrenNumber
                | GetChildren2
                | GetData
                | GetEphemerals
                | Multi
                | MultiRead
                | Ping
                | Reconfig
                | SetAcl
                | SetData
                | SetWatches
                | SetWatches2
                | Sync
                | CheckWatches
                | RemoveWatches
                | AddWatch
                | WhoAmI
                | Auth
                | Sasl
        )
    )
}

pub fn is_write(op: i32) -> bool {
    use OpCode::*;
    matches!(
        OpCode::from_i32(op),
        Some(
            Create
                | Create2
                | CreateContainer
                | CreateTtl
                | Delete
                | SetData
                | SetAcl
                | Multi
                | Reconfig
                | CloseSession
        )
    )
}

/// The reply body of an applied write (its reply header says err 0).
pub fn write_response(op: OpCode, rc: ApplyResult) -> Option<Box<dyn EncodeBox>> {
    let stat = rc.stat.clone().unwrap_or_default();
    match op {
        OpCode::Create => Some(Box::new(CreateResponse { path: rc.path })),
        OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
            Some(Box::new(Create2Response {
                path: rc.path,
                stat,
            }))
        }
        OpCode::SetData => Some(Box::new(SetDataResponse { stat })),
        OpCode::SetAcl => Some(Box::new(SetAclResponse { stat })),
        OpCode::Multi => {
            let results = rc
                .multi
                .into_iter()
                .map(|s| match s.op {
                    OpCode::Create => OpResult::Create { path: s.path },
                    // ZooKeeper's CreateResult labels every create with a Stat create2.
                    OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                        OpResult::Create2 {
                            op: OpCode::Create2,
                            path: s.path,
                            stat: s.stat.unwrap_or_default(),
                        }
                    }
                    OpCode::Delete | OpCode::DeleteContainer => OpResult::Delete,
                    OpCode::SetData => OpResult::SetData {
                        stat: s.stat.unwrap_or_default(),
                    },
                    OpCode::Check => OpResult::Check,
                    _ => OpResult::Error { err: s.err },
                })
                .collect();
            Some(Box::new(MultiResponse { results }))
        }
        _ => None,
    }
}
