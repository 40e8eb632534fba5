//! Module `org.apache.zookeeper.proto`: what clients and servers exchange.

use crate::data::{Acl, ClientInfo, Stat, StatPersisted};
use bytes::Bytes;

record! {
    /// The handshake as the jute file declares it; see [`crate::ConnectRequest`] for the
    /// optional trailing read-only byte real clients send.
    pub struct ConnectRequestBase {
        protocol_version: i32, last_zxid_seen: i64, time_out: i32, session_id: i64,
        passwd: Option<Bytes>,
    }
    pub struct ConnectResponseBase {
        protocol_version: i32, time_out: i32, session_id: i64, passwd: Option<Bytes>,
    }
    pub struct SetWatches {
        relative_zxid: i64, data_watches: Vec<String>, exist_watches: Vec<String>,
        child_watches: Vec<String>,
    }
    pub struct SetWatches2 {
        relative_zxid: i64, data_watches: Vec<String>, exist_watches: Vec<String>,
        child_watches: Vec<String>, persistent_watches: Vec<String>,
        persistent_recursive_watches: Vec<String>,
    }
    pub struct RequestHeader { xid: i32, op: i32 }
    pub struct MultiHeader { op: i32, done: bool, err: i32 }
    pub struct AuthPacket { auth_type: i32, scheme: String, auth: Option<Bytes> }
    pub struct ReplyHeader { xid: i32, zxid: i64, err: i32 }
    pub struct GetDataRequest { path: String, watch: bool }
    pub struct SetDataRequest { path: String, data: Option<Bytes>, version: i32 }
    pub struct ReconfigRequest {
        joining_servers: Option<String>, leaving_servers: Option<String>,
        new_members: Option<String>,
        cur_config_id: i64,
    }
    pub struct SetDataResponse { stat: Stat }
    pub struct GetSaslRequest { token: Option<Bytes> }
    pub struct SetSaslRequest { token: Option<Bytes> }
    pub struct SetSaslResponse { token: Option<Bytes> }
    pub struct CreateRequest { path: String, data: Option<Bytes>, acl: Vec<Acl>, flags: i32 }
    pub struct CreateTtlRequest {
        path: String, data: Option<Bytes>, acl: Vec<Acl>, flags: i32, ttl: i64,
    }
    pub struct DeleteRequest { path: String, version: i32 }
    pub struct GetChildrenRequest { path: String, watch: bool }
    pub struct GetAllChildrenNumberRequest { path: String }
    pub struct GetStatPersistedRequest { path: String }
    pub struct GetChildren2Request { path: String, watch: bool }
    pub struct CheckVersionRequest { path: String, version: i32 }
    pub struct GetMaxChildrenRequest { path: String }
    pub struct GetMaxChildrenResponse { max: i32 }
    pub struct SetMaxChildrenRequest { path: String, max: i32 }
    pub struct SyncRequest { path: String }
    pub struct SyncResponse { path: String }
    pub struct GetAclRequest { path: String }
    pub struct SetAclRequest { path: String, acl: Vec<Acl>, version: i32 }
    pub struct SetAclResponse { stat: Stat }
    pub struct AddWatchRequest { path: String, mode: i32 }
    pub struct WatcherEvent { event_type: i32, state: i32, path: String }
    pub struct ErrorResponse { err: i32 }
    pub struct CreateResponse { path: String }
    pub struct Create2Response { path: String, stat: Stat }
    pub struct ExistsRequest { path: String, watch: bool }
    pub struct ExistsResponse { stat: Stat }
    pub struct GetDataResponse { data: Option<Bytes>, stat: Stat }
    pub struct GetChildrenResponse { children: Vec<String> }
    pub struct GetAllChildrenNumberResponse { total_number: i32 }
    pub struct GetStatPersistedResponse { stat_persisted: StatPersisted }
    pub struct GetChildren2Response { children: Vec<String>, stat: Stat }
    pub struct GetAclResponse { acl: Vec<Acl>, stat: Stat }
    pub struct CheckWatchesRequest { path: String, watcher_type: i32 }
    pub struct RemoveWatchesRequest { path: String, watcher_type: i32 }
    pub struct GetEphemeralsRequest { prefix_path: String }
    pub struct GetEphemeralsResponse { ephemerals: Vec<String> }
    pub struct WhoAmIResponse { client_info: Vec<ClientInfo> }
}
