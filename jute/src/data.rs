//! Module `org.apache.zookeeper.data`: identities, ACLs and node statistics.

record! {
    pub struct Id { scheme: String, id: String }
    pub struct Acl { perms: i32, id: Id }
    /// Node statistics as clients see them.
    pub struct Stat {
        czxid: i64, mzxid: i64, ctime: i64, mtime: i64,
        version: i32, cversion: i32, aversion: i32,
        ephemeral_owner: i64, data_length: i32, num_children: i32, pzxid: i64,
    }
    /// Node statistics as snapshots store them (no derived counts).
    pub struct StatPersisted {
        czxid: i64, mzxid: i64, ctime: i64, mtime: i64,
        version: i32, cversion: i32, aversion: i32,
        ephemeral_owner: i64, pzxid: i64,
    }
    /// One identity of the caller, as whoAmI reports it (3.7+).
    pub struct ClientInfo { auth_scheme: String, user: String }
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Self {
        Id {
            scheme: scheme.to_string(),
            id: id.to_string(),
        }
    }
}

impl Acl {
    /// `world:anyone` with every permission: ZooKeeper's OPEN_ACL_UNSAFE.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: crate::Perms::ALL,
            id: Id::new("world", "anyone"),
        }]
    }

    /// `world:anyone` with READ only: ZooKeeper's READ_ACL_UNSAFE.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: crate::Perms::READ,
            id: Id::new("world", "anyone"),
        }]
    }
}
