//! The numbers ZooKeeper gives meaning to: op codes, error codes, event types, states,
//! create modes, permissions, watch modes and the reserved xids.

macro_rules! int_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident = $val:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum $name { $($var = $val),* }

        impl $name {
            pub fn from_i32(v: i32) -> Option<Self> {
                match v { $($val => Some($name::$var),)* _ => None }
            }
            pub fn code(self) -> i32 { self as i32 }
        }
    };
}

int_enum!(
    /// `ZooDefs.OpCode`.
    OpCode {
        Notification = 0, Create = 1, Delete = 2, Exists = 3, GetData = 4, SetData = 5,
        GetAcl = 6, SetAcl = 7, GetChildren = 8, Sync = 9, Ping = 11, GetChildren2 = 12,
        Check = 13, Multi = 14, Create2 = 15, Reconfig = 16, CheckWatches = 17,
        RemoveWatches = 18, CreateContainer = 19, DeleteContainer = 20, CreateTtl = 21,
        MultiRead = 22, Auth = 100, SetWatches = 101, Sasl = 102, GetEphemerals = 103,
        GetAllChildrenNumber = 104, SetWatches2 = 105, AddWatch = 106, WhoAmI = 107,
        CreateSession = -10, CloseSession = -11, Error = -1,
    }
);

int_enum!(
    /// `Leader.java`'s QuorumPacket types: what leader and learners exchange on the quorum port.
    PacketType {
        Request = 1, Proposal = 2, Ack = 3, Commit = 4, Ping = 5, Revalidate = 6, Sync = 7,
        Inform = 8, CommitAndActivate = 9, NewLeader = 10, FollowerInfo = 11, UpToDate = 12,
        Diff = 13, Trunc = 14, Snap = 15, ObserverInfo = 16, LeaderInfo = 17, AckEpoch = 18,
        InformAndActivate = 19,
    }
);

/// The learner protocol version a 3.5+ leader and learner announce (LearnerInfo, LEADERINFO).
pub const QUORUM_PROTOCOL_VERSION: i32 = 0x10000;

/// `ZxidUtils`: a zxid is the epoch in the high 32 bits and a counter in the low 32.
pub fn make_zxid(epoch: i64, counter: i64) -> i64 {
    (epoch << 32) | (counter & 0xffff_ffff)
}

pub fn epoch_of(zxid: i64) -> i64 {
    zxid >> 32
}

pub fn counter_of(zxid: i64) -> i64 {
    zxid & 0xffff_ffff
}

int_enum!(
    /// `KeeperException.Code`.
    ErrorCode {
        Ok = 0, SystemError = -1, RuntimeInconsistency = -2, DataInconsistency = -3,
        ConnectionLoss = -4, MarshallingError = -5, Unimplemented = -6, OperationTimeout = -7,
        BadArguments = -8, UnknownSession = -12, NewConfigNoQuorum = -13,
        ReconfigInProgress = -14, ApiError = -100, NoNode = -101, NoAuth = -102,
        BadVersion = -103, NoChildrenForEphemerals = -108, NodeExists = -110, NotEmpty = -111,
        SessionExpired = -112, InvalidCallback = -113, InvalidAcl = -114, AuthFailed = -115,
        SessionMoved = -118, NotReadOnly = -119, EphemeralOnLocalSession = -120,
        NoWatcher = -121, RequestTimeout = -122, ReconfigDisabled = -123,
        SessionClosedRequireSaslAuth = -124, QuotaExceeded = -125, ThrottledOp = -127,
    }
);

int_enum!(
    /// `Watcher.Event.EventType`.
    EventType {
        None = -1, NodeCreated = 1, NodeDeleted = 2, NodeDataChanged = 3,
        NodeChildrenChanged = 4, DataWatchRemoved = 5, ChildWatchRemoved = 6,
        PersistentWatchRemoved = 7,
    }
);

int_enum!(
    /// `Watcher.Event.KeeperState`.
    KeeperState {
        Unknown = -1, Disconnected = 0, NoSyncConnected = 1, SyncConnected = 3,
        AuthFailed = 4, ConnectedReadOnly = 5, SaslAuthenticated = 6, Expired = -112,
        Closed = 7,
    }
);

int_enum!(
    /// `CreateMode`, as the create flags carry it.
    CreateMode {
        Persistent = 0, Ephemeral = 1, PersistentSequential = 2, EphemeralSequential = 3,
        Container = 4, PersistentWithTtl = 5, PersistentSequentialWithTtl = 6,
    }
);

impl CreateMode {
    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }
    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }
    pub fn is_container(self) -> bool {
        self == CreateMode::Container
    }
    pub fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

int_enum!(
    /// `ZooDefs.AddWatchModes`.
    AddWatchMode { Persistent = 0, PersistentRecursive = 1 }
);

int_enum!(
    /// `Watcher.WatcherType`, as checkWatches and removeWatches carry it.
    WatcherType { Children = 1, Data = 2, Any = 3, Persistent = 4, PersistentRecursive = 5 }
);

/// `ZooDefs.Perms` bits.
pub struct Perms;
impl Perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 2;
    pub const CREATE: i32 = 4;
    pub const DELETE: i32 = 8;
    pub const ADMIN: i32 = 16;
    pub const ALL: i32 = 31;
}

/// Reserved xids.
pub struct Xid;
impl Xid {
    pub const NOTIFICATION: i32 = -1;
    pub const PING: i32 = -2;
    pub const AUTH: i32 = -4;
    pub const SET_WATCHES: i32 = -8;
}

#[cfg(test)]
mod quorum_tests {
    use super::*;

    #[test]
    fn packet_types_and_zxids() {
        assert_eq!(PacketType::from_i32(17), Some(PacketType::LeaderInfo));
        assert_eq!(PacketType::Snap.code(), 15);
        assert_eq!(PacketType::from_i32(20), None);
        let z = make_zxid(5, 42);
        assert_eq!((z, epoch_of(z), counter_of(z)), (0x5_0000_002a, 5, 42));
        assert_eq!(counter_of(make_zxid(1, 0xffff_ffff)), 0xffff_ffff);
    }
}
