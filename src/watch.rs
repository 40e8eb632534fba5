//! Watches: one-shot data, exist and child watches, persistent and persistent-recursive
//! watches. Not replicated state: a watch belongs to the connection that set it and dies with
//! it (clients re-register through setWatches after reconnecting).
//!
//! As in ZooKeeper there are two tables, data and child. `addWatch(PERSISTENT)` goes into both;
//! `PERSISTENT_RECURSIVE` only into the data table, so it reports creations, deletions and data
//! changes anywhere below its path, each with the changed node's own path.

use crate::tree::{parent_of, Change};
use jute::{EventType, WatcherType};
use std::collections::{HashMap, HashSet};

pub type WatcherId = u64;

pub const STANDARD: u8 = 1;
pub const PERSISTENT: u8 = 2;
pub const RECURSIVE: u8 = 4;

#[derive(Default)]
pub struct WatchTable {
    by_path: HashMap<String, HashMap<WatcherId, u8>>,
    by_watcher: HashMap<WatcherId, HashSet<String>>,
    recursive: usize,
}

impl WatchTable {
    pub fn add(&mut self, path: &str, w: WatcherId, mode: u8) {
        let modes = self
            .by_path
            .entry(path.to_string())
            .or_default()
            .entry(w)
            .or_insert(0);
        if *modes & mode == 0 && mode == RECURSIVE {
            self.recursive += 1;
        }
        *modes |= mode;
        self.by_watcher
            .entry(w)
            .or_default()
            .insert(path.to_string());
    }

    pub fn contains(&self, path: &str, w: WatcherId, mode: Option<u8>) -> bool {
        self.by_path
            .get(path)
            .and_then(|m| m.get(&w))
            .is_some_and(|modes| mode.is_none_or(|m| modes & m != 0))
    }

    /// Removes `mode` (or every mode) of `w` on `path`; true if something was removed.
    pub fn remove(&mut self, path: &str, w: WatcherId, mode: Option<u8>) -> bool {
        let Some(m) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(old) = m.get(&w).copied() else {
            return false;
        };
        let new = match mode {
            Some(mode) => old & !mode,
            None => 0,
        };
        if old & RECURSIVE != 0 && new & RECURSIVE == 0 {
            self.recursive -= 1;
        }
        if new == 0 {
            m.remove(&w);
            if m.is_empty() {
                self.by_path.remove(path);
            }
            if let Some(ps) = self.by_watcher.get_mut(&w) {
                ps.remove(path);
                if ps.is_empty() {
                    self.by_watcher.remove(&w);
                }
            }
        } else {
            m.insert(w, new);
        }
        old != new
    }

    pub fn remove_watcher(&mut self, w: WatcherId) {
        if let Some(paths) = self.by_watcher.remove(&w) {
            for p in paths {
                if let Some(m) = self.by_path.get_mut(&p) {
                    if let Some(modes) = m.remove(&w) {
                        if modes & RECURSIVE != 0 {
                            self.recursive -= 1;
                        }
                    }
                    if m.is_empty() {
                        self.by_path.remove(&p);
                    }
                }
            }
        }
    }

    /// Fires the watches on `path` (and recursive ones above it); one-shot watches are used up.
    fn trigger(&mut self, path: &str) -> Vec<WatcherId> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut cur = path.to_string();
        let mut at_parent = false;
        loop {
            if let Some(m) = self.by_path.get_mut(&cur) {
                let mut emptied = Vec::new();
                for (w, modes) in m.iter_mut() {
                    if !at_parent {
                        if seen.insert(*w) {
                            out.push(*w);
                        }
                        *modes &= !STANDARD;
                        if *modes == 0 {
                            emptied.push(*w);
                        }
                    } else if *modes & RECURSIVE != 0 && seen.insert(*w) {
                        out.push(*w);
                    }
                }
                for w in emptied {
                    m.remove(&w);
                    if let Some(ps) = self.by_watcher.get_mut(&w) {
                        ps.remove(&cur);
                        if ps.is_empty() {
                            self.by_watcher.remove(&w);
                        }
                    }
                }
                if m.is_empty() {
                    self.by_path.remove(&cur);
                }
            }
            if self.recursive == 0 || cur == "/" {
                break;
            }
            cur = parent_of(&cur).to_string();
            at_parent = true;
        }
        out
    }

    pub fn count(&self) -> usize {
        self.by_path.values().map(|m| m.len()).sum()
    }

    /// Every watched path with its watchers.
    pub fn by_path(&self) -> impl Iterator<Item = (&String, impl Iterator<Item = &WatcherId>)> {
        self.by_path.iter().map(|(p, m)| (p, m.keys()))
    }
}

/// An event to deliver to one watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub watcher: WatcherId,
    pub event_type: EventType,
    pub path: String,
    /// The ACL that must grant the watcher READ for the event to be delivered (ZooKeeper's
    /// CVE-2024-23944 fix); `None` for events that are not about a node's new state.
    pub acl: Option<crate::tree::AclList>,
}

#[derive(Default)]
pub struct WatchManager {
    pub data: WatchTable,
    pub child: WatchTable,
}

impl WatchManager {
    fn fire(
        table: &mut WatchTable,
        path: &str,
        t: EventType,
        acl: &crate::tree::AclList,
        skip: &[WatcherId],
        out: &mut Vec<Event>,
    ) -> Vec<WatcherId> {
        let ws = table.trigger(path);
        for w in &ws {
            if !skip.contains(w) {
                out.push(Event {
                    watcher: *w,
                    event_type: t,
                    path: path.to_string(),
                    acl: Some(acl.clone()),
                });
            }
        }
        ws
    }

    /// Turns tree changes into events, in the order ZooKeeper's DataTree triggers them.
    pub fn trigger(&mut self, changes: &[Change], out: &mut Vec<Event>) {
        use EventType::*;
        for c in changes {
            match c {
                Change::Created {
                    path,
                    acl,
                    parent_acl,
                } => {
                    Self::fire(&mut self.data, path, NodeCreated, acl, &[], out);
                    let parent = parent_of(path);
                    Self::fire(
                        &mut self.child,
                        parent,
                        NodeChildrenChanged,
                        parent_acl,
                        &[],
                        out,
                    );
                }
                Change::Deleted {
                    path,
                    acl,
                    parent_acl,
                } => {
                    let done = Self::fire(&mut self.data, path, NodeDeleted, acl, &[], out);
                    Self::fire(&mut self.child, path, NodeDeleted, acl, &done, out);
                    let parent = parent_of(path);
                    Self::fire(
                        &mut self.child,
                        parent,
                        NodeChildrenChanged,
                        parent_acl,
                        &[],
                        out,
                    );
                }
                Change::DataChanged { path, acl } => {
                    Self::fire(&mut self.data, path, NodeDataChanged, acl, &[], out);
                }
            }
        }
    }

    pub fn add_persistent(&mut self, path: &str, w: WatcherId, recursive: bool) {
        if recursive {
            self.data.add(path, w, RECURSIVE);
        } else {
            self.data.add(path, w, PERSISTENT);
            self.child.add(path, w, PERSISTENT);
        }
    }

    pub fn contains(&self, path: &str, t: WatcherType, w: WatcherId) -> bool {
        match t {
            WatcherType::Children => self.child.contains(path, w, Some(STANDARD)),
            WatcherType::Data => self.data.contains(path, w, Some(STANDARD)),
            WatcherType::Persistent => self.data.contains(path, w, Some(PERSISTENT)),
            WatcherType::PersistentRecursive => self.data.contains(path, w, Some(RECURSIVE)),
            WatcherType::Any => {
                self.child.contains(path, w, None) || self.data.contains(path, w, None)
            }
        }
    }

    pub fn remove(&mut self, path: &str, t: WatcherType, w: WatcherId) -> bool {
        match t {
            WatcherType::Children => self.child.remove(path, w, Some(STANDARD)),
            WatcherType::Data => self.data.remove(path, w, Some(STANDARD)),
            WatcherType::Persistent => {
                let a = self.child.remove(path, w, Some(PERSISTENT));
                let b = self.data.remove(path, w, Some(PERSISTENT));
                a || b
            }
            WatcherType::PersistentRecursive => self.data.remove(path, w, Some(RECURSIVE)),
            WatcherType::Any => {
                let a = self.child.remove(path, w, None);
                let b = self.data.remove(path, w, None);
                a || b
            }
        }
    }

    pub fn remove_watcher(&mut self, w: WatcherId) {
        self.data.remove_watcher(w);
        self.child.remove_watcher(w);
    }

    pub fn count(&self) -> usize {
        self.data.count() + self.child.count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursive_watch_reports_the_changed_path_and_one_shots_fire_once() {
        let mut m = WatchManager::default();
        m.add_persistent("/a", 1, true);
        m.data.add("/a/b", 2, STANDARD);
        let mut out = Vec::new();
        let acl: crate::tree::AclList = jute::Acl::open_unsafe().into();
        let created = Change::Created {
            path: "/a/b".into(),
            acl: acl.clone(),
            parent_acl: acl.clone(),
        };
        m.trigger(&[created], &mut out);
        assert_eq!(out.len(), 2);
        assert!(out
            .iter()
            .all(|e| e.path == "/a/b" && e.event_type == EventType::NodeCreated));
        out.clear();
        m.trigger(
            &[Change::DataChanged {
                path: "/a/b".into(),
                acl: acl.clone(),
            }],
            &mut out,
        );
        assert_eq!(
            out,
            vec![Event {
                watcher: 1,
                event_type: EventType::NodeDataChanged,
                path: "/a/b".into(),
                acl: Some(acl),
            }]
        );
    }
}
