//! The AdminServer's view of a member's ensemble (`zabstate`, `voting_view`), shaped as
//! ZooKeeper 3.9's answers are: its addresses as Jackson prints them, and its MultipleAddresses
//! objects with every bean property.

use super::{EnsembleView, NodeView};
use crate::config::{Config, QuorumServer};
use serde_json::{json, Map, Value as Json};

/// An address as ZooKeeper's AdminServer (Jackson) prints one: `host:port`, `[v6]:port`.
fn socket_string(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// This member's client address as ZooKeeper reports it: its line's in the active
/// configuration; without one, zoo.cfg's clientPortAddress (or every interface) and
/// clientPort, unless the configuration is a versioned one (reconfigEnabled), which then has
/// none.
fn own_client_address(cfg: &Config, me: Option<&QuorumServer>) -> Option<String> {
    match (me.and_then(|s| s.client.clone()), cfg.client_port) {
        (Some((h, p)), _) => Some(socket_string(h.as_deref().unwrap_or("0.0.0.0"), p)),
        (None, _) if cfg.settings.reconfig_enabled => None,
        (None, Some(p)) => Some(socket_string(
            &cfg.client_port_address
                .map_or_else(|| "0.0.0.0".to_string(), |a| a.to_string()),
            p,
        )),
        (None, None) => None,
    }
}

/// ZooKeeper's MultipleAddresses as its AdminServer serialises one (every bean property;
/// reachability is not probed here: every address counts as reachable).
fn multiple_addresses(addrs: &[(String, u16)]) -> Json {
    let all: Vec<String> = addrs.iter().map(|(h, p)| socket_string(h, *p)).collect();
    let mut ports: Vec<u16> = Vec::new();
    let mut wildcard: Vec<String> = Vec::new();
    for (_, p) in addrs {
        if !ports.contains(p) {
            ports.push(*p);
            wildcard.push(format!("0.0.0.0:{p}"));
        }
    }
    let hosts: Vec<&str> = addrs.iter().map(|(h, _)| h.as_str()).collect();
    let one = all.first().cloned().unwrap_or_default();
    json!({
        "empty": all.is_empty(),
        "all_addresses": all,
        "wildcard_addresses": wildcard,
        "all_ports": ports,
        "all_host_strings": hosts,
        "reachable_address": one,
        "all_reachable_addresses": all,
        "all_reachable_addresses_or_all": all,
        "reachable_or_one": one,
        "one": one,
    })
}

/// `zabstate` for a member with a role.
pub(super) fn zab_state(m: &mut Map<String, Json>, cfg: &Config, zxid: i64, e: &EnsembleView) {
    let me = e.me.as_ref();
    m.insert("myid".into(), cfg.server_id.into());
    m.insert("is_leader".into(), e.leading.into());
    m.insert(
        "quorum_address".into(),
        multiple_addresses(&me.map(|s| s.quorum_addrs()).unwrap_or_default()),
    );
    m.insert(
        "election_address".into(),
        multiple_addresses(&me.map(|s| s.election_addrs()).unwrap_or_default()),
    );
    m.insert(
        "client_address".into(),
        own_client_address(cfg, me).map_or(Json::Null, Json::from),
    );
    m.insert("voting".into(), e.voting.into());
    m.insert("last_zxid".into(), format!("0x{zxid:x}").into());
    m.insert("zab_epoch".into(), (zxid >> 32).into());
    m.insert("zab_counter".into(), (zxid & 0xffff_ffff).into());
    m.insert("zabstate".into(), e.zab_state.into());
}

/// `voting_view`'s `current_config`: the active configuration's voters (none outside an
/// ensemble or while electing).
pub(super) fn voting_view(cfg: &Config, v: &NodeView) -> Json {
    let mut view = Map::new();
    if let Some(e) = &v.ensemble {
        for s in &e.voters {
            let mine = e.me.as_ref().is_some_and(|me| me.id == s.id);
            let client = match &s.client {
                Some((h, p)) => socket_string(h.as_deref().unwrap_or("0.0.0.0"), *p),
                None if mine => own_client_address(cfg, Some(s)).unwrap_or_default(),
                None => String::new(),
            };
            view.insert(
                s.id.to_string(),
                json!({
                    "server_addresses": s.quorum_addrs().iter().map(|(h, p)| socket_string(h, *p)).collect::<Vec<_>>(),
                    "election_addresses": s.election_addrs().iter().map(|(h, p)| socket_string(h, *p)).collect::<Vec<_>>(),
                    "client_address": client,
                    "learner_type": if s.observer { "observer" } else { "participant" },
                }),
            );
        }
    }
    Json::Object(view)
}
