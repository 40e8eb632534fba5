//! Paths: the node map's key and its order (depth, then bytes, so that siblings are
//! adjacent), and the parent and child-name helpers, Java's included.

use ref_cast::RefCast;
use std::borrow::Borrow;
use std::cmp::Ordering;

pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

pub(super) fn child_name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Java's `path.substring(0, path.lastIndexOf('/'))`: the parent as DataTree names it ("" for
/// children of the root).
pub(super) fn java_parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// Java's `s.substring(n)` (n in UTF-16 units), or `None` where Java would throw or split a
/// surrogate pair.
pub(super) fn java_substring_from(s: &str, n: usize) -> Option<&str> {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        if units == n {
            return Some(&s[i..]);
        }
        units += c.len_utf16();
        if units > n {
            return None;
        }
    }
    (units == n).then_some("")
}

/// A path as the node map orders it: by depth (the number of separators; the root "/" has
/// one, like its children, and sorts before them as their common prefix), then byte by byte.
/// So the children of one node are adjacent (one level deeper, prefix "parent/"), and
/// listing them is one range scan with no child set to keep. Equal exactly when the strings
/// are equal.
#[derive(RefCast, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub(super) struct PathOrd(str);

impl PathOrd {
    pub(super) fn new(path: &str) -> &PathOrd {
        PathOrd::ref_cast(path)
    }
}

/// Length of the common prefix of `a` and `b`, eight bytes at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().unwrap_or_default())
            ^ u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

impl Ord for PathOrd {
    fn cmp(&self, other: &Self) -> Ordering {
        // The separators of the common prefix are the same on both sides, so depths compare
        // as the separators after it do; paths in one subtree share most of their bytes.
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        let p = common_prefix(a, b);
        let (a, b) = (&a[p..], &b[p..]);
        let seps = |s: &[u8]| s.iter().filter(|&&c| c == b'/').count();
        seps(a).cmp(&seps(b)).then_with(|| a.cmp(b))
    }
}

impl PartialOrd for PathOrd {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The node map's key: the path in its own exact-size allocation.
#[derive(PartialEq, Eq, Debug)]
pub(super) struct PathKey(Box<str>);

impl PathKey {
    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for PathKey {
    fn from(s: &str) -> Self {
        PathKey(s.into())
    }
}

impl From<String> for PathKey {
    fn from(s: String) -> Self {
        PathKey(s.into_boxed_str())
    }
}

impl Borrow<PathOrd> for PathKey {
    fn borrow(&self) -> &PathOrd {
        PathOrd::new(&self.0)
    }
}

impl Ord for PathKey {
    fn cmp(&self, other: &Self) -> Ordering {
        PathOrd::new(&self.0).cmp(PathOrd::new(&other.0))
    }
}

impl PartialOrd for PathKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The key prefix every child of `path` has ("/" for the root, also named "").
pub(super) fn child_prefix(path: &str) -> String {
    if path == "/" || path.is_empty() {
        "/".to_string()
    } else {
        format!("{path}/")
    }
}
