//! ACL lists shared between nodes: [`AclList`] and the tree's table of them.

use jute::Acl;
use std::borrow::Borrow;
use std::sync::Arc;

/// A shared ACL list. A thin pointer (one word in each node, where `Arc<[Acl]>` takes two);
/// it reads as the slice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AclList(Arc<Vec<Acl>>);

impl AclList {
    /// Whether both are the same shared list.
    pub fn same(&self, other: &AclList) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The shared list's address: an identity for as long as this handle lives.
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl std::ops::Deref for AclList {
    type Target = [Acl];
    fn deref(&self) -> &[Acl] {
        &self.0
    }
}

impl Borrow<[Acl]> for AclList {
    fn borrow(&self) -> &[Acl] {
        &self.0
    }
}

impl From<&[Acl]> for AclList {
    fn from(acl: &[Acl]) -> Self {
        AclList(Arc::new(acl.to_vec()))
    }
}

impl From<Vec<Acl>> for AclList {
    fn from(acl: Vec<Acl>) -> Self {
        AclList(Arc::new(acl))
    }
}

/// ZooKeeper's ReferenceCountedACLCache, in Rust terms: one [`AclList`] per distinct list,
/// so a million nodes with the same ACL hold a million pointers, not a million lists. The
/// `Arc` counts the references; lists no node uses any more are dropped by `purge`.
#[derive(Debug, Default)]
pub struct AclTable(std::collections::HashSet<AclList>);

impl AclTable {
    /// The shared list equal to `acl`.
    pub fn intern(&mut self, acl: &[Acl]) -> AclList {
        if let Some(a) = self.0.get(acl) {
            return a.clone();
        }
        let a = AclList::from(acl);
        self.0.insert(a.clone());
        a
    }

    /// Forgets lists only the table still holds (ZooKeeper purges on snapshot).
    pub fn purge(&mut self) {
        self.0.retain(|a| Arc::strong_count(&a.0) > 1);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
