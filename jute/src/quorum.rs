//! Modules `org.apache.zookeeper.server.quorum` and `server.persistence`: what ensemble members
//! exchange on the quorum port, and the header of every data file.

use crate::data::Id;
use bytes::Bytes;

record! {
    pub struct LearnerInfo { server_id: i64, protocol_version: i32, config_version: i64 }
    pub struct QuorumPacket { packet_type: i32, zxid: i64, data: Option<Bytes>, authinfo: Vec<Id> }
    pub struct QuorumAuthPacket { magic: i64, status: i32, token: Option<Bytes> }
    /// Header of txn log and snapshot files.
    pub struct FileHeader { magic: i32, version: i32, dbid: i64 }
}
