//! Read-only requests against the applied tree, answered in FinalRequestProcessor's order of
//! checks: existence, then READ permission, then the answer and any watch it leaves.

use super::Body;
use crate::acl::AclPolicy;
use crate::tree::DataTree;
use crate::watch::{Event, WatchManager, WatcherId, STANDARD};
use bytes::{BufMut, Bytes, BytesMut};
use jute::*;

fn body<T: Encode + Send + 'static>(t: T) -> Result<Body, ErrorCode> {
    Ok(Body::Rec(Box::new(t)))
}

/// Everything a read may look at or change (watches only).
pub struct ReadCtx<'a> {
    pub tree: &'a DataTree,
    pub watches: &'a mut WatchManager,
    pub policy: &'a AclPolicy,
    pub auth: &'a [Id],
    pub watcher: WatcherId,
    pub session: i64,
    /// Events produced by setWatches for changes the client missed.
    pub events: &'a mut Vec<Event>,
}

impl ReadCtx<'_> {
    fn allowed(&self, path: &str, perm: i32) -> Result<(), ErrorCode> {
        match self.tree.get(path) {
            Some(n) if !self.policy.check(&n.acl, perm, self.auth) => Err(ErrorCode::NoAuth),
            _ => Ok(()),
        }
    }

    fn get_data(&mut self, path: &str, watch: bool) -> Result<(Option<Bytes>, Stat), ErrorCode> {
        let n = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        self.allowed(path, Perms::READ)?;
        if watch {
            self.watches.data.add(path, self.watcher, STANDARD);
        }
        Ok((n.data.clone(), n.client_stat()))
    }

    fn get_children(&mut self, path: &str, watch: bool) -> Result<(Vec<String>, Stat), ErrorCode> {
        let n = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        self.allowed(path, Perms::READ)?;
        if watch {
            self.watches.child.add(path, self.watcher, STANDARD);
        }
        let names = self.tree.child_refs_of(path, n);
        Ok((
            names.into_iter().map(str::to_string).collect(),
            n.client_stat(),
        ))
    }

    /// getChildren/getChildren2's reply body, encoded straight from the tree: a large
    /// parent's names are not copied into strings first.
    fn children_reply(
        &mut self,
        path: &str,
        watch: bool,
        with_stat: bool,
    ) -> Result<Body, ErrorCode> {
        let n = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        self.allowed(path, Perms::READ)?;
        if watch {
            self.watches.child.add(path, self.watcher, STANDARD);
        }
        let names = self.tree.child_refs_of(path, n);
        let len: usize = names.iter().map(|s| 4 + s.len()).sum();
        let mut out = BytesMut::with_capacity(4 + len + 80);
        out.put_i32(names.len() as i32);
        for s in names {
            out.put_i32(s.len() as i32);
            out.put_slice(s.as_bytes());
        }
        if with_stat {
            n.client_stat().encode(&mut out);
        }
        Ok(Body::Rec(Box::new(Encoded(out.freeze()))))
    }

    pub fn read(&mut self, req: Request) -> Result<Body, ErrorCode> {
        match req {
            Request::Exists(r) => {
                if r.path.contains('\0') {
                    return Err(ErrorCode::BadArguments);
                }
                // No ACL check: ZooKeeper 3.8 answers exists for any caller (3.9 added a READ
                // check); the differential oracle is 3.8. The watch is left even on a missing
                // node: that is the exist watch.
                if r.watch {
                    self.watches.data.add(&r.path, self.watcher, STANDARD);
                }
                let n = self.tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
                body(ExistsResponse {
                    stat: n.client_stat(),
                })
            }
            Request::GetData(r) => {
                let (data, stat) = self.get_data(&r.path, r.watch)?;
                body(GetDataResponse { data, stat })
            }
            Request::GetChildren(r) => self.children_reply(&r.path, r.watch, false),
            Request::GetChildren2(r) => self.children_reply(&r.path, r.watch, true),
            Request::GetAcl(r) => {
                let n = self.tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
                self.allowed(&r.path, Perms::READ | Perms::ADMIN)?;
                let mut acl = n.acl.to_vec();
                if self.allowed(&r.path, Perms::ADMIN).is_err() {
                    // Without ADMIN the digest hashes stay hidden, as in ZooKeeper.
                    for a in acl.iter_mut().filter(|a| a.id.scheme == "digest") {
                        let user = a.id.id.split(':').next().unwrap_or("").to_string();
                        a.id.id = format!("{user}:x");
                    }
                }
                body(GetAclResponse {
                    acl,
                    stat: n.client_stat(),
                })
            }
            Request::GetAllChildrenNumber(r) => {
                if self.tree.get(&r.path).is_none() {
                    return Err(ErrorCode::NoNode);
                }
                self.allowed(&r.path, Perms::READ)?;
                body(GetAllChildrenNumberResponse {
                    total_number: self.tree.descendant_count(&r.path) as i32,
                })
            }
            Request::GetEphemerals(r) => {
                let all = self.tree.ephemerals(self.session);
                // Java's String.trim() strips every char up to U+0020, NUL included.
                let prefix = r.prefix_path.trim_matches(|c: char| c <= ' ');
                let ephemerals = if prefix.is_empty() || prefix == "/" {
                    all
                } else {
                    all.into_iter()
                        .filter(|p| p.starts_with(&r.prefix_path))
                        .collect()
                };
                body(GetEphemeralsResponse { ephemerals })
            }
            Request::Sync(r) => body(SyncResponse { path: r.path }),
            Request::Ping => Ok(Body::None),
            Request::MultiRead(m) if !m.ops.is_empty() && m.ops.iter().all(|o| !o.is_read()) => {
                // Writes only: ZooKeeper answers MARSHALLINGERROR with an empty result list
                // (with a read among them, the error header alone, below).
                Ok(Body::Failed(
                    ErrorCode::MarshallingError,
                    Box::new(MultiResponse { results: vec![] }),
                ))
            }
            Request::MultiRead(m) => {
                // ZooKeeper rebuilds each read as an Op without its watch flag, so multiRead
                // never leaves watches.
                let mut results = Vec::with_capacity(m.ops.len());
                for op in m.ops {
                    let res = match op {
                        MultiOp::GetChildren(r) => self
                            .get_children(&r.path, false)
                            .map(|(children, _)| OpResult::GetChildren { children }),
                        MultiOp::GetData(r) => self
                            .get_data(&r.path, false)
                            .map(|(data, stat)| OpResult::GetData { data, stat }),
                        _ => return Err(ErrorCode::MarshallingError),
                    };
                    results.push(res.unwrap_or_else(|e| OpResult::Error { err: e.code() }));
                }
                body(MultiResponse { results })
            }
            Request::SetWatches(s) => {
                self.set_watches(
                    s.relative_zxid,
                    &s.data_watches,
                    &s.exist_watches,
                    &s.child_watches,
                    &[],
                    &[],
                );
                Ok(Body::None)
            }
            Request::SetWatches2(s) => {
                self.set_watches(
                    s.relative_zxid,
                    &s.data_watches,
                    &s.exist_watches,
                    &s.child_watches,
                    &s.persistent_watches,
                    &s.persistent_recursive_watches,
                );
                Ok(Body::None)
            }
            Request::AddWatch(r) => {
                let mode = AddWatchMode::from_i32(r.mode).ok_or(ErrorCode::MarshallingError)?;
                self.watches.add_persistent(
                    &r.path,
                    self.watcher,
                    mode == AddWatchMode::PersistentRecursive,
                );
                body(ErrorResponse { err: 0 })
            }
            Request::CheckWatches(r) => {
                let t = WatcherType::from_i32(r.watcher_type).ok_or(ErrorCode::MarshallingError)?;
                if self.watches.contains(&r.path, t, self.watcher) {
                    Ok(Body::None)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            Request::RemoveWatches(r) => {
                let t = WatcherType::from_i32(r.watcher_type).ok_or(ErrorCode::MarshallingError)?;
                if self.watches.remove(&r.path, t, self.watcher) {
                    Ok(Body::None)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            Request::WhoAmI => {
                // The server keeps a connection's identities in a ConcurrentHashMap-backed set
                // and reports them in its iteration order, with the user name each scheme's
                // provider derives (digest: the part before ':').
                let client_info = crate::acl::in_java_order(self.auth)
                    .into_iter()
                    .map(|id| {
                        let user = match id.scheme.as_str() {
                            "digest" => id.id.split(':').next().unwrap_or("").to_string(),
                            "ip" | "x509" => id.id.clone(),
                            // Without the SASL provider registered, no name is given.
                            "sasl" if self.policy.sasl => id.id.clone(),
                            _ => String::new(),
                        };
                        ClientInfo {
                            auth_scheme: id.scheme,
                            user,
                        }
                    })
                    .collect();
                body(WhoAmIResponse { client_info })
            }
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    /// Re-registers a reconnecting client's watches, firing at once those whose node changed
    /// after `rel` (the last zxid the client saw).
    fn set_watches(
        &mut self,
        rel: i64,
        data: &[String],
        exist: &[String],
        child: &[String],
        persistent: &[String],
        recursive: &[String],
    ) {
        let w = self.watcher;
        let mut fire = |t: EventType, p: &String| {
            self.events.push(Event {
                watcher: w,
                event_type: t,
                path: p.clone(),
                acl: None,
            })
        };
        for p in data {
            match self.tree.get(p) {
                None => fire(EventType::NodeDeleted, p),
                Some(n) if n.stat.mzxid > rel => fire(EventType::NodeDataChanged, p),
                Some(_) => self.watches.data.add(p, w, STANDARD),
            }
        }
        for p in exist {
            match self.tree.get(p) {
                Some(_) => fire(EventType::NodeCreated, p),
                None => self.watches.data.add(p, w, STANDARD),
            }
        }
        for p in child {
            match self.tree.get(p) {
                None => fire(EventType::NodeDeleted, p),
                Some(n) if n.stat.pzxid > rel => fire(EventType::NodeChildrenChanged, p),
                Some(_) => self.watches.child.add(p, w, STANDARD),
            }
        }
        for p in persistent {
            self.watches.add_persistent(p, w, false);
        }
        for p in recursive {
            self.watches.add_persistent(p, w, true);
        }
    }
}

/// A reply body already in jute form.
struct Encoded(Bytes);

impl Encode for Encoded {
    fn encode(&self, out: &mut BytesMut) {
        out.put_slice(&self.0);
    }
}
