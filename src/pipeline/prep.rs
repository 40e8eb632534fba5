//! Validation of write requests and their translation into transactions, in the order
//! ZooKeeper's PrepRequestProcessor checks things (so the same invalid request gets the same
//! error code). Checks run against the tree overlaid with pending changes, which is also what
//! lets later operations of one multi see the effects of earlier ones.

use crate::tree::{
    digest_of, owner_kind, parent_of, ttl_owner, DataTree, OwnerKind, CONTAINER_OWNER, MAX_TTL,
};
use crate::txn::TxnBody;
use jute::*;
use std::collections::HashMap;

/// What prep needs to know about a node.
#[derive(Debug, Clone)]
pub struct Rec {
    pub stat: StatPersisted,
    pub child_count: i32,
    /// Shared with the tree's node (a pointer copy, not a list copy).
    pub acl: crate::tree::AclList,
    /// Only for the digest (a refcounted slice, not a copy).
    pub data: Option<bytes::Bytes>,
}

/// Changes decided by prep but not yet applied to the tree, each with the zxid that makes it;
/// `None` marks a deletion. ZooKeeper calls these outstanding changes.
#[derive(Default, Clone)]
pub struct Overlay {
    recs: HashMap<String, (i64, Option<Rec>)>,
    zxid: i64,
    /// The tree digest once everything prepared so far is applied: what each txn carries.
    pub digest: u64,
}

/// The context of one request: who sends it and what the server allows.
pub struct Ctx<'a> {
    pub session: i64,
    pub zxid: i64,
    pub time: i64,
    pub auth: &'a [Id],
    pub extended_types: bool,
    pub policy: &'a crate::acl::AclPolicy,
}

impl Ctx<'_> {
    fn check(&self, rec: &Rec, perm: i32) -> PResult<()> {
        if self.policy.check(&rec.acl, perm, self.auth) {
            Ok(())
        } else {
            Err(ErrorCode::NoAuth)
        }
    }

    /// `ZooKeeperServer.checkQuota`: limits and stats as the applied tree has them (not the
    /// pending changes, so the ops of one multi are each checked against the same counts).
    /// Only `enforceQuota` makes a hard limit refuse the write; a limit or stats node that
    /// does not parse then fails the whole request with MARSHALLINGERROR, as in ZooKeeper.
    /// Limits passed are logged either way (ZooKeeper logs them only when enforcing).
    fn quota(&self, tree: &DataTree, path: &str, bytes_diff: i64, count_diff: i64) -> PResult<()> {
        use crate::tree::quota::QuotaRefusal;
        let enforce = self.policy.enforce_quota;
        match tree.check_quota(path, bytes_diff, count_diff) {
            Ok(None) => Ok(()),
            Ok(Some(soft)) => {
                quota_log(&soft);
                Ok(())
            }
            Err(QuotaRefusal::Exceeded(m)) => {
                quota_log(&m);
                if enforce {
                    Err(ErrorCode::QuotaExceeded)
                } else {
                    Ok(())
                }
            }
            Err(QuotaRefusal::Malformed(m)) if enforce => {
                tracing::error!("cannot check the quota for {path}: malformed {m}");
                Err(ErrorCode::MarshallingError)
            }
            Err(QuotaRefusal::Malformed(_)) => Ok(()),
        }
    }
}

/// Quota warnings, at most one a second (a client looping on a full subtree would otherwise
/// flood the log).
fn quota_log(msg: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if LAST.swap(now, Ordering::Relaxed) != now {
        tracing::warn!("{msg}");
    }
}

fn data_len(d: &Option<bytes::Bytes>) -> i64 {
    d.as_ref().map_or(0, |d| d.len() as i64)
}

type PResult<T> = Result<T, ErrorCode>;

impl Overlay {
    pub fn get(&self, tree: &DataTree, path: &str) -> PResult<Rec> {
        let r = match self.recs.get(path) {
            Some((_, r)) => r.clone(),
            None => tree.get(path).map(|n| Rec {
                stat: n.stat.clone(),
                child_count: n.child_count() as i32,
                acl: n.acl.clone(),
                data: n.data.clone(),
            }),
        };
        r.ok_or(ErrorCode::NoNode)
    }

    fn exists(&self, tree: &DataTree, path: &str) -> bool {
        self.get(tree, path).is_ok()
    }

    /// Starts from the tree as it is (at start-up).
    pub fn new(tree: &DataTree) -> Overlay {
        Overlay {
            digest: tree.digest(),
            ..Default::default()
        }
    }

    fn put(&mut self, tree: &DataTree, path: &str, r: Option<Rec>) {
        let d = |r: &Rec| digest_of(path, r.data.as_ref(), &r.stat);
        let old = self.get(tree, path).map(|o| d(&o)).unwrap_or(0);
        let new = r.as_ref().map(d).unwrap_or(0);
        self.digest = self.digest.wrapping_sub(old).wrapping_add(new);
        self.recs.insert(path.to_string(), (self.zxid, r));
    }

    /// Records a deletion decided outside prep (container collection).
    pub fn remove_node(&mut self, tree: &DataTree, path: &str, zxid: i64) {
        self.zxid = zxid;
        if let Ok(mut parent) = self.get(tree, parent_of(path)) {
            parent.child_count -= 1;
            parent.stat.pzxid = zxid;
            self.put(tree, parent_of(path), Some(parent));
        }
        self.put(tree, path, None);
    }

    /// Forgets changes that the tree now holds (everything up to `zxid` is applied).
    pub fn retire(&mut self, zxid: i64) {
        self.recs.retain(|_, (z, _)| *z > zxid);
    }
}

/// `PathUtils.validatePath`.
pub fn validate_path(path: &str) -> PResult<()> {
    let bad = Err(ErrorCode::BadArguments);
    let chars: Vec<u16> = path.encode_utf16().collect();
    if chars.is_empty() || chars[0] != b'/' as u16 {
        return bad;
    }
    if chars.len() == 1 {
        return Ok(());
    }
    if chars[chars.len() - 1] == b'/' as u16 {
        return bad;
    }
    let (slash, dot) = (b'/' as u16, b'.' as u16);
    let mut last = slash;
    for i in 1..chars.len() {
        let c = chars[i];
        let ends = i + 1 == chars.len() || chars[i + 1] == slash;
        if c == 0 || (c == slash && last == slash) {
            return bad;
        }
        if c == dot && last == dot {
            if chars[i - 2] == slash && ends {
                return bad;
            }
        } else if c == dot {
            if chars[i - 1] == slash && ends {
                return bad;
            }
        } else if (c > 0 && c <= 0x1f)
            || (0x7f..=0x9f).contains(&c)
            || (0xd800..=0xf8ff).contains(&c)
            || c >= 0xfff0
        {
            return bad;
        }
        last = c;
    }
    Ok(())
}

fn check_and_inc_version(current: i32, expected: i32) -> PResult<i32> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    let next = current.wrapping_add(1);
    Ok(if next == -1 { 0 } else { next })
}

/// `PrepRequestProcessor.fixupACL`: dedupe, refuse empty or malformed lists, and expand `auth`
/// into the caller's authenticated identities.
/// The policy says which providers are registered (x509, sasl): only their ids and ACLs are
/// valid.
pub fn fixup_acl(auth: &[Id], acls: &[Acl], policy: &crate::acl::AclPolicy) -> PResult<Vec<Acl>> {
    let x509 = policy.x509;
    let mut uniq: Vec<Acl> = Vec::with_capacity(acls.len());
    for a in acls {
        if !uniq.contains(a) {
            uniq.push(a.clone());
        }
    }
    if uniq.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::new();
    for a in uniq {
        let id = &a.id;
        if id.scheme == "world" && id.id == "anyone" {
            out.push(a);
        } else if id.scheme == "auth" {
            // Only ids whose provider reports them authenticated count: digest, x509 and sasl
            // (ip does not, and `super` has no provider at all).
            let mut any = false;
            for cid in crate::acl::in_java_order(auth).into_iter().filter(|i| {
                i.scheme == "digest"
                    || (x509 && i.scheme == "x509")
                    || (policy.sasl && i.scheme == "sasl")
            }) {
                any = true;
                out.push(Acl {
                    perms: a.perms,
                    id: cid,
                });
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else {
            // Only schemes with a provider (ip, digest, x509 when registered) are valid;
            // `super` has none.
            let valid = match id.scheme.as_str() {
                "digest" => crate::acl::is_valid_digest(&id.id),
                "ip" => crate::acl::is_valid_ip(&id.id),
                "x509" => x509 && crate::acl::is_valid_x500_name(&id.id),
                "sasl" => policy.sasl && crate::acl::is_valid_kerberos_name(&id.id),
                _ => false,
            };
            if !valid {
                return Err(ErrorCode::InvalidAcl);
            }
            out.push(a);
        }
    }
    Ok(out)
}

/// The parent of a path for create and delete: refuses paths with no slash or a NUL.
fn parent_for(path: &str) -> PResult<&str> {
    match path.rfind('/') {
        None => Err(ErrorCode::BadArguments),
        _ if path.contains('\0') => Err(ErrorCode::BadArguments),
        Some(_) => Ok(parent_of(path)),
    }
}

/// Prepares one write. On error nothing is left in the overlay by this call.
pub fn prep_write(
    tree: &DataTree,
    ov: &mut Overlay,
    ctx: &Ctx,
    op: &MultiOp,
) -> PResult<(OpCode, TxnBody)> {
    ov.zxid = ctx.zxid;
    match op {
        MultiOp::Create(code, r) => {
            prep_create(tree, ov, ctx, *code, &r.path, &r.data, &r.acl, r.flags, -1)
        }
        MultiOp::CreateTtl(r) => prep_create(
            tree,
            ov,
            ctx,
            OpCode::CreateTtl,
            &r.path,
            &r.data,
            &r.acl,
            r.flags,
            r.ttl,
        ),
        MultiOp::Delete(r) => {
            let path = r.path.as_str();
            if DataTree::is_special(path) {
                return Err(ErrorCode::BadArguments);
            }
            let parent_path = parent_for(path)?;
            let mut parent = ov.get(tree, parent_path)?;
            ctx.check(&parent, Perms::DELETE)?;
            let node = ov.get(tree, path)?;
            check_and_inc_version(node.stat.version, r.version)?;
            if node.child_count > 0 {
                return Err(ErrorCode::NotEmpty);
            }
            parent.child_count -= 1;
            parent.stat.pzxid = ctx.zxid;
            ov.put(tree, parent_path, Some(parent));
            ov.put(tree, path, None);
            Ok((
                OpCode::Delete,
                TxnBody::Delete(DeleteTxn {
                    path: r.path.clone(),
                }),
            ))
        }
        MultiOp::SetData(r) => {
            validate_path(&r.path)?;
            let mut node = ov.get(tree, &r.path)?;
            ctx.check(&node, Perms::WRITE)?;
            ctx.quota(tree, &r.path, data_len(&r.data) - data_len(&node.data), 0)?;
            let version = check_and_inc_version(node.stat.version, r.version)?;
            node.stat.version = version;
            node.stat.mzxid = ctx.zxid;
            node.stat.mtime = ctx.time;
            node.data = r.data.clone();
            ov.put(tree, &r.path, Some(node));
            Ok((
                OpCode::SetData,
                TxnBody::SetData(SetDataTxn {
                    path: r.path.clone(),
                    data: r.data.clone(),
                    version,
                }),
            ))
        }
        MultiOp::Check(r) => {
            validate_path(&r.path)?;
            let node = ov.get(tree, &r.path)?;
            ctx.check(&node, Perms::READ)?;
            let version = check_and_inc_version(node.stat.version, r.version)?;
            Ok((
                OpCode::Check,
                TxnBody::Check(CheckVersionTxn {
                    path: r.path.clone(),
                    version,
                }),
            ))
        }
        MultiOp::GetChildren(_) | MultiOp::GetData(_) => Err(ErrorCode::MarshallingError),
    }
}

pub fn prep_set_acl(
    tree: &DataTree,
    ov: &mut Overlay,
    ctx: &Ctx,
    r: &SetAclRequest,
) -> PResult<TxnBody> {
    ov.zxid = ctx.zxid;
    validate_path(&r.path)?;
    let acl = fixup_acl(ctx.auth, &r.acl, ctx.policy)?;
    let mut node = ov.get(tree, &r.path)?;
    ctx.check(&node, Perms::ADMIN)?;
    let version = check_and_inc_version(node.stat.aversion, r.version)?;
    node.stat.aversion = version;
    node.acl = acl.as_slice().into();
    ov.put(tree, &r.path, Some(node));
    Ok(TxnBody::SetAcl(SetAclTxn {
        path: r.path.clone(),
        acl,
        version,
    }))
}

#[allow(clippy::too_many_arguments)]
fn prep_create(
    tree: &DataTree,
    ov: &mut Overlay,
    ctx: &Ctx,
    op: OpCode,
    path: &str,
    data: &Option<bytes::Bytes>,
    acl: &[Acl],
    flags: i32,
    ttl: i64,
) -> PResult<(OpCode, TxnBody)> {
    let mode = CreateMode::from_i32(flags).ok_or(ErrorCode::BadArguments)?;
    if mode.is_ttl() && !ctx.extended_types {
        return Err(ErrorCode::Unimplemented);
    }
    if mode.is_ttl() {
        if ttl <= 0 || ttl > MAX_TTL {
            return Err(ErrorCode::BadArguments);
        }
    } else if op == OpCode::CreateTtl {
        // ZooKeeper refuses only ttl >= 0 here and then crashes applying a negative one; a
        // createTTL without a TTL mode is refused whatever its ttl.
        return Err(ErrorCode::BadArguments);
    }
    let parent_path = parent_for(path)?;
    let acl = fixup_acl(ctx.auth, acl, ctx.policy)?;
    let mut parent = ov.get(tree, parent_path)?;
    ctx.check(&parent, Perms::CREATE)?;
    let mut path = path.to_string();
    if mode.is_sequential() {
        path = format!("{path}{:010}", parent.stat.cversion);
    }
    validate_path(&path)?;
    if ov.exists(tree, &path) {
        return Err(ErrorCode::NodeExists);
    }
    if owner_kind(parent.stat.ephemeral_owner) == OwnerKind::Normal {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    ctx.quota(tree, &path, data_len(data), 1)?;
    let new_cversion = parent.stat.cversion + 1;
    // The owner the applied txn will give the node: the txn kind decides, not the flags
    // (create with container flags makes a plain node, createContainer with ephemeral flags
    // a container), so pending changes and digests agree with the tree once applied.
    let owner = match op {
        OpCode::CreateContainer => CONTAINER_OWNER,
        OpCode::CreateTtl => ttl_owner(ttl),
        _ if mode.is_ephemeral() => ctx.session,
        _ => 0,
    };
    let body = match op {
        OpCode::CreateContainer => TxnBody::CreateContainer(CreateContainerTxn {
            path: path.clone(),
            data: data.clone(),
            acl: acl.clone(),
            parent_c_version: new_cversion,
        }),
        OpCode::CreateTtl => TxnBody::CreateTtl(CreateTtlTxn {
            path: path.clone(),
            data: data.clone(),
            acl: acl.clone(),
            parent_c_version: new_cversion,
            ttl,
        }),
        _ => TxnBody::Create(CreateTxn {
            path: path.clone(),
            data: data.clone(),
            acl: acl.clone(),
            ephemeral: mode.is_ephemeral(),
            parent_c_version: new_cversion,
        }),
    };
    parent.child_count += 1;
    parent.stat.cversion = new_cversion;
    parent.stat.pzxid = ctx.zxid;
    ov.put(tree, parent_path, Some(parent));
    ov.put(
        tree,
        &path,
        Some(Rec {
            stat: StatPersisted {
                czxid: ctx.zxid,
                mzxid: ctx.zxid,
                ctime: ctx.time,
                mtime: ctx.time,
                version: 0,
                cversion: 0,
                aversion: 0,
                ephemeral_owner: owner,
                pzxid: ctx.zxid,
            },
            child_count: 0,
            acl: acl.into(),
            data: data.clone(),
        }),
    );
    Ok((op, body))
}

/// A multi: every operation sees the ones before it; on the first failure the pending
/// changes are rolled back, the failing op records its error and the rest record -2.
/// An op that ZooKeeper cannot even prepare (`Err` here: a create whose flags ask for a TTL
/// but whose record has none) fails the whole multi with that error, but only if it is
/// reached, as in ZooKeeper where it surfaces as a ClassCastException.
pub fn prep_multi(
    tree: &DataTree,
    ov: &mut Overlay,
    ctx: &Ctx,
    ops: &[Result<MultiOp, ErrorCode>],
) -> PResult<TxnBody> {
    let saved = ov.clone();
    let mut subs = Vec::with_capacity(ops.len());
    let mut failed = false;
    for op in ops {
        if failed {
            subs.push((
                OpCode::Error,
                TxnBody::Error(ErrorTxn {
                    err: ErrorCode::RuntimeInconsistency.code(),
                }),
            ));
            continue;
        }
        let op = match op {
            Ok(op) => op,
            Err(e) => {
                *ov = saved;
                return Err(*e);
            }
        };
        match prep_write(tree, ov, ctx, op) {
            Ok(s) => subs.push(s),
            // Not a per-op error in ZooKeeper but an exception that fails the whole request
            // (a quota node that does not parse).
            Err(ErrorCode::MarshallingError) => {
                *ov = saved;
                return Err(ErrorCode::MarshallingError);
            }
            Err(e) => {
                failed = true;
                *ov = saved.clone();
                subs.push((OpCode::Error, TxnBody::Error(ErrorTxn { err: e.code() })));
            }
        }
    }
    Ok(TxnBody::Multi(subs))
}

/// Prepares a top-level write request.
pub fn prep_request(
    tree: &DataTree,
    ov: &mut Overlay,
    ctx: &Ctx,
    req: Request,
) -> PResult<TxnBody> {
    let one = |ov: &mut Overlay, op: MultiOp| prep_write(tree, ov, ctx, &op).map(|x| x.1);
    match req {
        Request::Create(c, r) => one(ov, MultiOp::Create(c, r)),
        Request::CreateTtl(r) => one(ov, MultiOp::CreateTtl(r)),
        Request::Delete(r) => one(ov, MultiOp::Delete(r)),
        Request::SetData(r) => one(ov, MultiOp::SetData(r)),
        Request::SetAcl(r) => prep_set_acl(tree, ov, ctx, &r),
        Request::Multi(m) => {
            if m.ops.iter().any(|o| o.is_read()) {
                Err(ErrorCode::MarshallingError)
            } else {
                let ops: Vec<_> = m.ops.iter().map(normalize_multi_op).collect();
                prep_multi(tree, ov, ctx, &ops)
            }
        }
        Request::Reconfig(_) => Err(ErrorCode::ReconfigDisabled),
        _ => Err(ErrorCode::Unimplemented),
    }
}

/// ZooKeeper rebuilds each create of a multi from its flags (`Op.create`), so the op code on
/// the wire does not decide the kind of node: container flags make a createContainer, other
/// modes a plain create (create2 included), and TTL flags without a CreateTTL record fail the
/// whole multi with MARSHALLINGERROR.
pub fn normalize_multi_op(op: &MultiOp) -> Result<MultiOp, ErrorCode> {
    let kind = |flags: i32| CreateMode::from_i32(flags).unwrap_or(CreateMode::Persistent);
    Ok(match op {
        MultiOp::Create(_, r) => match kind(r.flags) {
            m if m.is_ttl() => return Err(ErrorCode::MarshallingError),
            CreateMode::Container => MultiOp::Create(OpCode::CreateContainer, r.clone()),
            _ => MultiOp::Create(OpCode::Create, r.clone()),
        },
        MultiOp::CreateTtl(r) => match kind(r.flags) {
            m if m.is_ttl() => op.clone(),
            m => {
                let code = if m == CreateMode::Container {
                    OpCode::CreateContainer
                } else {
                    OpCode::Create
                };
                MultiOp::Create(
                    code,
                    CreateRequest {
                        path: r.path.clone(),
                        data: r.data.clone(),
                        acl: r.acl.clone(),
                        flags: r.flags,
                    },
                )
            }
        },
        other => other.clone(),
    })
}

/// The ephemerals a closing session leaves, including ones created by pending changes.
/// Prepares closeSession at `zxid`: the session's ephemerals (including pending ones) are
/// recorded as deleted, and their list is what the txn carries.
pub fn prep_close_session(
    tree: &DataTree,
    ov: &mut Overlay,
    session: i64,
    zxid: i64,
) -> Vec<String> {
    let mut es = tree.ephemerals(session);
    for (p, (_, r)) in &ov.recs {
        match r {
            None => es.retain(|e| e != p),
            Some(r) if r.stat.ephemeral_owner == session && !es.contains(p) => es.push(p.clone()),
            _ => {}
        }
    }
    ov.zxid = zxid;
    for p in &es {
        if let Ok(mut parent) = ov.get(tree, parent_of(p)) {
            parent.child_count -= 1;
            if zxid > parent.stat.pzxid {
                parent.stat.pzxid = zxid;
            }
            ov.put(tree, parent_of(p), Some(parent));
        }
        ov.put(tree, p, None);
    }
    es
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_acls_expand_in_zookeepers_order() {
        // Observed from ZooKeeper 3.8: a session that authenticated as u1 and then as
        // "nocolon" gets its `auth:` ACL expanded as nocolon, u1 (its identity set's order),
        // without the ip and super ids.
        let u1 = Id::new("digest", "u1:fpT/y03U+EjItKZOSLGvjnJlyng=");
        let nc = Id::new("digest", "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g=");
        let held = [
            Id::new("ip", "127.0.0.1"),
            u1.clone(),
            Id::new("super", ""),
            nc.clone(),
        ];
        let acl = fixup_acl(
            &held,
            &[Acl {
                perms: 17,
                id: Id::new("auth", ""),
            }],
            &crate::acl::AclPolicy::default(),
        )
        .unwrap();
        let ids: Vec<Id> = acl.into_iter().map(|a| a.id).collect();
        assert_eq!(ids, vec![nc, u1]);
        assert_eq!(
            fixup_acl(
                &[Id::new("super", "")],
                &[Acl {
                    perms: 31,
                    id: Id::new("auth", "")
                }],
                &crate::acl::AclPolicy::default()
            ),
            Err(ErrorCode::InvalidAcl)
        );
    }

    #[test]
    fn paths_are_validated_like_zookeeper() {
        for ok in ["/", "/a", "/a/b", "/a.b", "/...", "/a/.b"] {
            assert!(validate_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", "/a/", "//", "/a//b", "/.", "/a/..", "/a/./b", "/a\u{1}", "/a\0",
        ] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
    }
}
