//! ephemeralOwner: how its value marks a node as ephemeral, container or TTL
//! (`EphemeralType`), and the tree's indexes of those nodes by owner.

use super::javaset::JavaHashSet;
use super::DataTree;

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_OWNER: i64 = i64::MIN;
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000u64 as i64;
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;
/// The largest TTL the ephemeralOwner encoding can hold.
pub const MAX_TTL: i64 = !(EXTENDED_MASK | RESERVED_BITS_MASK);

/// What kind of node an ephemeralOwner value marks (`EphemeralType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    Void,
    Normal,
    Container,
    Ttl,
}

pub fn owner_kind(owner: i64) -> OwnerKind {
    if owner == CONTAINER_OWNER {
        OwnerKind::Container
    } else if owner & EXTENDED_MASK == EXTENDED_MASK {
        OwnerKind::Ttl
    } else if owner == 0 {
        OwnerKind::Void
    } else {
        OwnerKind::Normal
    }
}

pub fn ttl_owner(ttl: i64) -> i64 {
    EXTENDED_MASK | ttl
}

pub fn ttl_of(owner: i64) -> i64 {
    owner & !(EXTENDED_MASK | RESERVED_BITS_MASK)
}

impl DataTree {
    /// The session's ephemeral paths in the order ZooKeeper lists them (it hands out a clone
    /// of the session's HashSet).
    pub fn ephemerals(&self, session: i64) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|s| JavaHashSet::clone_order(s.ordered()))
            .unwrap_or_default()
    }

    pub fn has_ephemerals(&self, session: i64) -> bool {
        self.ephemerals.get(&session).is_some_and(|s| !s.is_empty())
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    /// Files a node under containers, TTL nodes or its session's ephemerals.
    pub(super) fn index_owner(&mut self, path: &str, owner: i64) {
        match owner_kind(owner) {
            OwnerKind::Container => {
                self.containers.insert(path.to_string());
            }
            OwnerKind::Ttl => {
                self.ttls.insert(path.to_string());
            }
            OwnerKind::Normal => {
                self.ephemerals
                    .entry(owner)
                    .or_insert_with(|| JavaHashSet::with_initial_capacity(16))
                    .insert(path.to_string());
            }
            OwnerKind::Void => {}
        }
    }

    /// Takes a deleted node out of the index [`Self::index_owner`] filed it in.
    pub(super) fn unindex_owner(&mut self, path: &str, owner: i64) {
        match owner_kind(owner) {
            OwnerKind::Container => {
                self.containers.remove(path);
            }
            OwnerKind::Ttl => {
                self.ttls.remove(path);
            }
            OwnerKind::Normal => {
                if let Some(s) = self.ephemerals.get_mut(&owner) {
                    s.remove(path);
                }
            }
            OwnerKind::Void => {}
        }
    }
}
