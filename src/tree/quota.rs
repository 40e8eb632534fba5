//! Quotas as ZooKeeper keeps them: a limit node `/zookeeper/quota<path>/zookeeper_limits` marks
//! `<path>` as the root of a quota subtree, and its sibling `zookeeper_stats` holds the node
//! count and data bytes of that subtree, which the tree updates in place as it applies txns
//! (the stats node's Stat does not change, and nothing under `/zookeeper/` is in the digest).
//!
//! Both nodes hold text such as `count=3,bytes=10` and, since 3.7, hard limits after a
//! separator ZooKeeper adds so older parsers ignore them:
//! `count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=5`.

use std::collections::{BTreeMap, BTreeSet};

/// The quota management subtree.
pub const QUOTA_ROOT: &str = "/zookeeper/quota";
pub const LIMIT_NODE: &str = "zookeeper_limits";
pub const STAT_NODE: &str = "zookeeper_stats";

pub fn limit_path(prefix: &str) -> String {
    format!("{QUOTA_ROOT}{prefix}/{LIMIT_NODE}")
}

pub fn stat_path(prefix: &str) -> String {
    format!("{QUOTA_ROOT}{prefix}/{STAT_NODE}")
}

/// Java's `String.split` for a separator: pieces between separators, trailing empty pieces
/// dropped (a leading one kept). `run` treats a run of separators as one (a `[,;]+` regex).
fn java_split(s: &str, is_sep: impl Fn(char) -> bool, run: bool) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_sep(c) {
            out.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            if run {
                while let Some(&(j, d)) = chars.peek() {
                    if !is_sep(d) {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
            }
            start = end;
        }
    }
    out.push(&s[start..]);
    while out.last().is_some_and(|p| p.is_empty()) {
        out.pop();
    }
    out
}

/// The text of a limit or stats node, parsed as `StatsTrack` parses it. Keys are kept in a
/// map as Java's HashMap keeps them (a repeated key: the last value wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    stats: BTreeMap<String, i64>,
}

/// The text does not parse (Java throws from the `StatsTrack` constructor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl StatsTrack {
    /// Null data does not parse either (Java's constructor dereferences it).
    pub fn parse(data: Option<&[u8]>) -> Result<StatsTrack, Malformed> {
        let mut t = StatsTrack::default();
        let text = String::from_utf8_lossy(data.ok_or(Malformed)?);
        if text.is_empty() {
            return Ok(t);
        }
        for pair in java_split(&text, |c| c == ',' || c == ';', true) {
            let kv = java_split(pair, |c| c == '=', false);
            let key = kv.first().ok_or(Malformed)?;
            let value = kv.get(1).ok_or(Malformed)?;
            let v = if value.is_empty() {
                -1
            } else {
                parse_java_long(value).ok_or(Malformed)?
            };
            t.stats.insert(key.to_string(), v);
        }
        Ok(t)
    }

    fn get(&self, key: &str) -> i64 {
        self.stats.get(key).copied().unwrap_or(-1)
    }

    pub fn count(&self) -> i64 {
        self.get("count")
    }

    pub fn bytes(&self) -> i64 {
        self.get("bytes")
    }

    pub fn count_hard_limit(&self) -> i64 {
        self.get("countHardLimit")
    }

    pub fn byte_hard_limit(&self) -> i64 {
        self.get("byteHardLimit")
    }

    pub fn set_count(&mut self, v: i64) {
        self.stats.insert("count".into(), v);
    }

    pub fn set_bytes(&mut self, v: i64) {
        self.stats.insert("bytes".into(), v);
    }

    pub fn set(&mut self, key: &str, v: i64) {
        self.stats.insert(key.into(), v);
    }

    /// `StatsTrack.toString`: count and bytes first; any other key after an extra `=`, sorted
    /// (by UTF-16 code units, as Java sorts strings) and `;`-separated.
    pub fn to_text(&self) -> String {
        let mut s = format!("count={},bytes={}", self.count(), self.bytes());
        let mut rest: Vec<(&String, &i64)> = self
            .stats
            .iter()
            .filter(|(k, _)| k.as_str() != "count" && k.as_str() != "bytes")
            .collect();
        if !rest.is_empty() {
            rest.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            s.push('=');
            for (k, v) in rest {
                s.push_str(&format!(";{k}={v}"));
            }
        }
        s
    }
}

/// `Long.parseLong` for ASCII digits: an optional sign, then at least one digit.
fn parse_java_long(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The set of paths that have a quota: ZooKeeper's `PathTrie` of real paths whose limit node
/// exists. Paths are compared component by component, and components made only of
/// whitespace (Java's `trim()` leaves nothing) are ignored, as the trie ignores them.
#[derive(Debug, Clone, Default)]
pub struct QuotaTrie {
    paths: BTreeSet<String>,
}

fn components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|c| !c.chars().all(|ch| ch <= ' '))
        .collect()
}

impl QuotaTrie {
    /// `PathTrie.addPath`. An empty path is refused (Java throws).
    pub fn add(&mut self, path: &str) -> Result<(), String> {
        if path.is_empty() {
            return Err("empty path".into());
        }
        let c = components(path);
        if !c.is_empty() {
            self.paths.insert(format!("/{}", c.join("/")));
        }
        Ok(())
    }

    /// `PathTrie.deletePath`. An empty path (or one with no components) is refused.
    pub fn delete(&mut self, path: &str) -> Result<(), String> {
        let c = components(path);
        if path.is_empty() || c.is_empty() {
            return Err(format!("invalid path {path:?}"));
        }
        self.paths.remove(&format!("/{}", c.join("/")));
        Ok(())
    }

    pub fn clear(&mut self) {
        self.paths.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// `DataTree.getMaxPrefixWithQuota`: the deepest path with a quota that is `path` or an
    /// ancestor of it, or `None`.
    pub fn max_prefix(&self, path: &str) -> Option<String> {
        if self.paths.is_empty() {
            return None;
        }
        let c = components(path);
        (1..=c.len())
            .rev()
            .map(|n| format!("/{}", c[..n].join("/")))
            .find(|p| self.paths.contains(p))
    }
}

/// Why a quota check refuses a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaRefusal {
    /// A hard limit would be exceeded: QUOTAEXCEEDED.
    Exceeded(String),
    /// The limit or stats node does not parse: ZooKeeper fails the request with
    /// MARSHALLINGERROR.
    Malformed(String),
}

/// What a quota check found worth telling the operator (a soft limit passed).
pub type QuotaWarning = Option<String>;

/// `ZooKeeperServer.checkQuota` for one prefix, given the texts of its limit and stats nodes
/// (`None` when the node is missing: nothing to check).
pub fn check_limits(
    prefix: &str,
    limit: Option<Option<&[u8]>>,
    stats: impl FnOnce() -> Option<Option<Vec<u8>>>,
    bytes_diff: i64,
    count_diff: i64,
) -> Result<QuotaWarning, QuotaRefusal> {
    let Some(limit) = limit else {
        return Ok(None);
    };
    let malformed = |what: &str| QuotaRefusal::Malformed(format!("{what} of {prefix}"));
    let limit = StatsTrack::parse(limit).map_err(|_| malformed(LIMIT_NODE))?;
    let check_count = count_diff != 0 && (limit.count() > -1 || limit.count_hard_limit() > -1);
    let check_bytes = bytes_diff != 0 && (limit.bytes() > -1 || limit.byte_hard_limit() > -1);
    if !check_count && !check_bytes {
        return Ok(None);
    }
    let Some(stats) = stats() else {
        return Ok(None);
    };
    let cur = StatsTrack::parse(stats.as_deref()).map_err(|_| malformed(STAT_NODE))?;
    let mut warning = None;
    let mut one = |kind: &str, now: i64, diff: i64, soft: i64, hard: i64| {
        let new = now.wrapping_add(diff);
        let is_hard = hard > -1;
        let lim = if is_hard { hard } else { soft };
        if new > lim {
            let msg = format!(
                "Quota exceeded: {prefix} [current {kind}={new}, {}{}Limit={lim}]",
                if is_hard { "hard" } else { "soft" },
                if kind == "count" { "Count" } else { "Byte" },
            );
            if is_hard {
                return Err(QuotaRefusal::Exceeded(msg));
            }
            warning = Some(msg);
        }
        Ok(())
    };
    if check_count {
        one(
            "count",
            cur.count(),
            count_diff,
            limit.count(),
            limit.count_hard_limit(),
        )?;
    }
    if check_bytes {
        one(
            "bytes",
            cur.bytes(),
            bytes_diff,
            limit.bytes(),
            limit.byte_hard_limit(),
        )?;
    }
    Ok(warning)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<StatsTrack, Malformed> {
        StatsTrack::parse(Some(s.as_bytes()))
    }

    #[test]
    fn stats_text_round_trips_as_zookeeper_writes_it() {
        let mut t = StatsTrack::default();
        t.set_count(-1);
        t.set_bytes(-1);
        t.set("countHardLimit", 5);
        t.set("byteHardLimit", -1);
        let s = t.to_text();
        assert_eq!(s, "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=5");
        assert_eq!(parse(&s).unwrap(), t);
        assert_eq!(
            parse("count=3,bytes=10").unwrap().to_text(),
            "count=3,bytes=10"
        );
        assert_eq!(StatsTrack::default().to_text(), "count=-1,bytes=-1");
        assert_eq!(StatsTrack::parse(Some(b"")).unwrap(), StatsTrack::default());
        assert_eq!(StatsTrack::parse(None), Err(Malformed));
    }

    #[test]
    fn stats_text_parses_as_java_does() {
        assert_eq!(parse("count==5").unwrap().count(), -1);
        assert_eq!(parse("count=+5;;bytes=-2,,").unwrap().bytes(), -2);
        assert_eq!(parse(",").unwrap(), StatsTrack::default());
        for bad in [
            "count",
            "count=",
            "count=x",
            ",count=1",
            "=",
            "count=1 ",
            "count=9223372036854775808",
        ] {
            assert_eq!(parse(bad), Err(Malformed), "{bad:?}");
        }
    }

    #[test]
    fn trie_finds_the_deepest_quota_prefix() {
        let mut t = QuotaTrie::default();
        assert_eq!(t.max_prefix("/a"), None);
        t.add("/a").unwrap();
        t.add("/a/b/c").unwrap();
        assert_eq!(t.max_prefix("/a"), Some("/a".into()));
        assert_eq!(t.max_prefix("/a/b"), Some("/a".into()));
        assert_eq!(t.max_prefix("/a/b/c/d"), Some("/a/b/c".into()));
        assert_eq!(t.max_prefix("/ab"), None);
        assert_eq!(t.max_prefix("/ /a/ /x"), Some("/a".into()));
        t.delete("/a").unwrap();
        assert_eq!(t.max_prefix("/a/b"), None);
        assert!(t.add("").is_err());
        assert!(t.delete("").is_err());
    }

    #[test]
    fn hard_limits_refuse_soft_limits_warn() {
        let limit = b"count=2,bytes=-1=;byteHardLimit=10;countHardLimit=-1".as_slice();
        let stats = || Some(Some(b"count=2,bytes=8".to_vec()));
        let w = check_limits("/q", Some(Some(limit)), stats, 1, 1).unwrap();
        assert!(w.unwrap().contains("softCountLimit=2"));
        assert_eq!(check_limits("/q", Some(Some(limit)), stats, 2, 0), Ok(None));
        assert!(matches!(
            check_limits("/q", Some(Some(limit)), stats, 3, 0),
            Err(QuotaRefusal::Exceeded(_))
        ));
        assert!(matches!(
            check_limits("/q", Some(Some(b"junk".as_slice())), stats, 3, 0),
            Err(QuotaRefusal::Malformed(_))
        ));
        assert_eq!(check_limits("/q", None, stats, 3, 1), Ok(None));
    }
}
