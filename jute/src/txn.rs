//! Module `org.apache.zookeeper.txn`: the transactions that change replicated state, as they
//! travel in proposals and lie in the txn log.

use crate::data::Acl;
use bytes::Bytes;

record! {
    pub struct TxnDigest { version: i32, tree_digest: i64 }
    pub struct TxnHeader { client_id: i64, cxid: i32, zxid: i64, time: i64, op: i32 }
    pub struct CreateTxnV0 { path: String, data: Option<Bytes>, acl: Vec<Acl>, ephemeral: bool }
    pub struct CreateTxn {
        path: String, data: Option<Bytes>, acl: Vec<Acl>, ephemeral: bool,
        parent_c_version: i32,
    }
    pub struct CreateTtlTxn {
        path: String, data: Option<Bytes>, acl: Vec<Acl>, parent_c_version: i32, ttl: i64,
    }
    pub struct CreateContainerTxn {
        path: String, data: Option<Bytes>, acl: Vec<Acl>, parent_c_version: i32,
    }
    pub struct DeleteTxn { path: String }
    pub struct SetDataTxn { path: String, data: Option<Bytes>, version: i32 }
    pub struct CheckVersionTxn { path: String, version: i32 }
    pub struct SetAclTxn { path: String, acl: Vec<Acl>, version: i32 }
    pub struct SetMaxChildrenTxn { path: String, max: i32 }
    pub struct CreateSessionTxn { time_out: i32 }
    pub struct CloseSessionTxn { paths2_delete: Vec<String> }
    pub struct ErrorTxn { err: i32 }
    /// One sub-transaction of a multi: its op code and its encoded txn record.
    pub struct Txn { op: i32, data: Option<Bytes> }
    pub struct MultiTxn { txns: Vec<Txn> }
}
