//! Unit tests of the tree: digests, shared ACLs, quota stats, the node map's order and
//! child listings in Java's order.

use super::*;
use crate::txn::{Txn, TxnBody};
use jute::{CreateTxn, DeleteTxn, ErrorCode, OpCode, SetAclTxn, SetDataTxn, TxnHeader};

fn txn(zxid: i64, op: OpCode, body: TxnBody) -> Txn {
    Txn {
        hdr: TxnHeader {
            client_id: 7,
            cxid: 1,
            zxid,
            time: 1000 + zxid,
            op: op.code(),
        },
        body,
        digest: None,
    }
}

#[test]
fn incremental_digest_matches_a_full_recount() {
    let mut t = DataTree::new();
    let mut ch = Vec::new();
    let create = |path: &str, eph: bool| {
        TxnBody::Create(CreateTxn {
            path: path.into(),
            data: Some(Bytes::from_static(b"x")),
            acl: Acl::open_unsafe(),
            ephemeral: eph,
            parent_c_version: -1,
        })
    };
    let steps = vec![
        (OpCode::Create, create("/a", false)),
        (OpCode::Create, create("/a/b", true)),
        (
            OpCode::SetData,
            TxnBody::SetData(SetDataTxn {
                path: "/a".into(),
                data: None,
                version: 1,
            }),
        ),
        (
            OpCode::SetAcl,
            TxnBody::SetAcl(SetAclTxn {
                path: "/".into(),
                acl: Acl::read_unsafe(),
                version: 1,
            }),
        ),
        (OpCode::Create, create("/zookeeper/x", false)),
        (
            OpCode::Delete,
            TxnBody::Delete(DeleteTxn {
                path: "/a/b".into(),
            }),
        ),
    ];
    for (i, (op, body)) in steps.into_iter().enumerate() {
        let rc = t.apply(&txn(i as i64 + 1, op, body), &mut ch);
        assert_eq!(rc.err, 0);
        assert_eq!(t.digest(), t.compute_digest(), "after step {i}");
    }
    assert_ne!(t.digest(), DataTree::new().digest());
}

#[test]
fn nodes_with_equal_acls_share_one_list() {
    let mut t = DataTree::new();
    let mut ch = Vec::new();
    let digest_acl = vec![Acl {
        perms: jute::Perms::ALL,
        id: jute::Id::new("digest", "u:hash"),
    }];
    for (i, p) in ["/a", "/b", "/c"].into_iter().enumerate() {
        let body = TxnBody::Create(CreateTxn {
            path: p.into(),
            data: None,
            acl: digest_acl.clone(),
            ephemeral: false,
            parent_c_version: -1,
        });
        assert_eq!(
            t.apply(&txn(i as i64 + 1, OpCode::Create, body), &mut ch)
                .err,
            0
        );
    }
    ch.clear();
    let (a, c) = (t.get("/a").unwrap(), t.get("/c").unwrap());
    assert!(a.acl.same(&c.acl));
    // world:anyone (system nodes), read-only (/zookeeper/config), and the digest list.
    assert_eq!(t.acl_count(), 3);
    for (i, p) in ["/a", "/b", "/c"].into_iter().enumerate() {
        let body = TxnBody::Delete(DeleteTxn { path: p.into() });
        assert_eq!(
            t.apply(&txn(i as i64 + 10, OpCode::Delete, body), &mut ch)
                .err,
            0
        );
    }
    ch.clear();
    t.purge_unused_acls();
    assert_eq!(t.acl_count(), 2);
}

fn data_of(t: &DataTree, p: &str) -> String {
    String::from_utf8_lossy(t.get(p).and_then(|n| n.data.as_deref()).unwrap_or_default())
        .into_owned()
}

#[test]
fn quota_stats_follow_creates_deletes_and_set_data() {
    let mut t = DataTree::new();
    let mut ch = Vec::new();
    let mut z = 0;
    let mut apply = |t: &mut DataTree, op: OpCode, body: TxnBody| {
        z += 1;
        let rc = t.apply(&txn(z, op, body), &mut ch);
        assert_eq!(rc.err, 0, "txn {z}");
    };
    let create = |path: &str, data: &'static [u8]| {
        TxnBody::Create(CreateTxn {
            path: path.into(),
            data: Some(Bytes::from_static(data)),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_c_version: -1,
        })
    };
    let digest0 = t.digest();
    apply(&mut t, OpCode::Create, create("/q", b"abc"));
    apply(&mut t, OpCode::Create, create("/q/x", b"12345"));
    apply(&mut t, OpCode::Create, create("/zookeeper/quota/q", b""));
    let limits = b"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3";
    apply(
        &mut t,
        OpCode::Create,
        create("/zookeeper/quota/q/zookeeper_limits", limits),
    );
    let stats = "/zookeeper/quota/q/zookeeper_stats";
    apply(&mut t, OpCode::Create, create(stats, b"count=0,bytes=0"));
    // The stats node is filled with the subtree's counts when it is created.
    assert_eq!(data_of(&t, stats), "count=2,bytes=8");
    apply(&mut t, OpCode::Create, create("/q/y", b"zz"));
    assert_eq!(data_of(&t, stats), "count=3,bytes=10");
    assert!(t.check_quota("/q/z", 0, 1).is_err(), "hard count limit 3");
    assert_eq!(t.check_quota("/other", 0, 1), Ok(None));
    apply(
        &mut t,
        OpCode::SetData,
        TxnBody::SetData(SetDataTxn {
            path: "/q".into(),
            data: None,
            version: 1,
        }),
    );
    assert_eq!(data_of(&t, stats), "count=3,bytes=7");
    apply(
        &mut t,
        OpCode::Delete,
        TxnBody::Delete(DeleteTxn {
            path: "/q/x".into(),
        }),
    );
    assert_eq!(data_of(&t, stats), "count=2,bytes=2");
    assert_eq!(t.digest(), t.compute_digest());
    // A snapshot load recounts the stats and rebuilds the set of quota paths.
    let nodes: Vec<(String, Node)> = t
        .preorder()
        .into_iter()
        .map(|(p, n)| (p, n.clone()))
        .collect();
    let mut stale = nodes.clone();
    for (p, n) in stale.iter_mut() {
        if p == stats {
            n.data = Some(Bytes::from_static(b"count=99,bytes=99"));
        }
    }
    let loaded = DataTree::from_nodes(stale, t.last_processed_zxid).unwrap();
    assert_eq!(data_of(&loaded, stats), "count=2,bytes=2");
    assert!(loaded.check_quota("/q/z", 0, 1).is_ok());
    assert_eq!(loaded.digest(), t.digest());
    // Deleting the limit node ends the quota; stats no longer move.
    apply(
        &mut t,
        OpCode::Delete,
        TxnBody::Delete(DeleteTxn {
            path: "/zookeeper/quota/q/zookeeper_limits".into(),
        }),
    );
    apply(&mut t, OpCode::Create, create("/q/w", b"w"));
    assert_eq!(data_of(&t, stats), "count=2,bytes=2");
    assert_eq!(t.check_quota("/q/v", 0, 1), Ok(None));
    assert_ne!(t.digest(), digest0);
    assert_eq!(t.digest(), t.compute_digest());
}

/// A boxed node must fit a 128-byte malloc chunk (120 bytes of payload with glibc): one
/// field more and a million nodes take 16 MB more.
#[test]
fn a_node_fits_its_allocation_class() {
    assert!(
        std::mem::size_of::<Node>() <= 120,
        "{}",
        std::mem::size_of::<Node>()
    );
}

proptest::proptest! {
    /// The map's order is (separator count, bytes), however the comparison computes it.
    #[test]
    fn path_order_is_depth_then_bytes(
        p in "[/ab]{0,20}", x in "[/ab.]{0,12}", y in "[/ab.]{0,12}"
    ) {
        let (a, b) = (format!("{p}{x}"), format!("{p}{y}"));
        let seps = |s: &str| s.matches('/').count();
        let want = seps(&a).cmp(&seps(&b)).then_with(|| a.cmp(&b));
        proptest::prop_assert_eq!(PathOrd::new(&a).cmp(PathOrd::new(&b)), want);
    }

    /// Children listed from the depth-ordered map come out as a Java `HashSet` of child
    /// names orders them, through creates, deletes and table growth, and subtree counts
    /// agree with a plain walk; names are chosen to sort around the separator.
    #[test]
    fn child_listings_match_a_java_hash_set(
        ops in proptest::collection::vec((0usize..6, 0usize..40, proptest::bool::ANY), 1..300)
    ) {
        let names = ["a", "b", "-x", "a b", "a!", "zz", "\u{e9}t\u{e9}", "0"];
        let mut t = DataTree::new();
        let mut model: BTreeMap<String, JavaHashSet> = BTreeMap::new();
        // The root's first child is /zookeeper, which the model does not descend into.
        let mut root = JavaHashSet::with_initial_capacity(8);
        root.insert("zookeeper".into());
        model.insert("/".into(), root);
        let mut zxid = 1;
        let mut ch = Vec::new();
        for (parent_pick, name_pick, delete) in ops {
            let parents: Vec<String> = model.keys().cloned().collect();
            let parent = &parents[parent_pick % parents.len()];
            let name = format!("{}{}", names[name_pick % names.len()], name_pick / 8);
            let path = if parent == "/" { format!("/{name}") } else { format!("{parent}/{name}") };
            let exists = model.contains_key(&path);
            // A delete of a missing node and a create of an existing one are applied too,
            // as a log replayed over a fuzzy snapshot applies them.
            let mut want = 0;
            let body = if delete {
                if exists && !model[&path].is_empty() { continue; }
                if exists {
                    model.remove(&path);
                    model.get_mut(parent).unwrap().remove(&name);
                } else {
                    want = ErrorCode::NoNode.code();
                }
                TxnBody::Delete(DeleteTxn { path: path.clone() })
            } else {
                if exists {
                    want = ErrorCode::NodeExists.code();
                } else {
                    model.insert(path.clone(), JavaHashSet::with_initial_capacity(8));
                    model.get_mut(parent).unwrap().insert(name.clone());
                }
                TxnBody::Create(CreateTxn {
                    path: path.clone(),
                    data: None,
                    acl: Acl::open_unsafe(),
                    ephemeral: false,
                    parent_c_version: -1,
                })
            };
            let op = if delete { OpCode::Delete } else { OpCode::Create };
            let pzxid = t.get(parent).unwrap().stat.pzxid;
            let r = t.apply(&txn(zxid, op, body), &mut ch);
            proptest::prop_assert_eq!(r.err, want);
            // A delete moves the parent's pzxid even when the node was already gone.
            if delete {
                proptest::prop_assert_eq!(t.get(parent).unwrap().stat.pzxid, zxid.max(pzxid));
            }
            zxid += 1;
        }
        for (path, set) in &model {
            let want = set.ordered();
            proptest::prop_assert_eq!(t.children(path), Some(want), "children of {}", path);
            let below = model.keys().filter(|k| k.starts_with(&format!("{path}/"))).count();
            if path != "/" {
                proptest::prop_assert_eq!(t.descendant_count(path), below);
            }
            proptest::prop_assert_eq!(t.get(path).map(|n| n.child_count()), Some(set.len()));
        }
        proptest::prop_assert_eq!(t.compute_digest(), t.digest());
        // Rebuilt from its own nodes, parent first, as from a snapshot: the same children
        // (in the order of that reload), counts and digest.
        let nodes = t.preorder().into_iter().map(|(p, n)| (p, n.clone())).collect();
        let r = DataTree::from_nodes(nodes, zxid).unwrap();
        for (path, set) in &model {
            let mut got = r.children(path).unwrap();
            got.sort();
            let mut want = set.ordered();
            want.sort();
            proptest::prop_assert_eq!(got, want, "children of {} after a reload", path);
            proptest::prop_assert_eq!(r.get(path).unwrap().child_count(), set.len());
        }
        proptest::prop_assert_eq!(r.digest(), t.digest());
    }
}
