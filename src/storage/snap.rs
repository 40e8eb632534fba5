//! Snapshots in ZooKeeper 3.8's format: `FileHeader{"ZKSN", 2, dbid -1}`, the sessions
//! (`int count` + `{long id, int timeout}`), the ACL table (`int n` + `{long id, vector<ACL>}`),
//! the nodes parent-first as `ustring path` (the root as "") + `DataNode{buffer data, long
//! aclId, StatPersisted}`, the path "/" as terminator, a seal (`long adler32` of everything
//! before it + "/"), then `ZxidDigest{long zxid, int version, long digest}` and a second seal.
//!
//! A snapshot is written to `<name>.tmp`, fsynced, renamed into place, and the directory
//! fsynced, so a crash leaves either the whole file or none.

use crate::tree::{DataTree, Node};
use bytes::{BufMut, Bytes, BytesMut};
use jute::{Acl, Decode, Encode, FileHeader, Reader, StatPersisted};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// "ZKSN".
pub const SNAP_MAGIC: i32 = 0x5A4B_534E;
/// ZooKeeper's DigestCalculator version.
pub const DIGEST_VERSION: i32 = 2;

/// A snapshot being taken a slice at a time, so that the node keeps serving requests in
/// between (ZooKeeper's fuzzy snapshot). The file is named after the zxid at the start; nodes
/// are written parent-first as they are when visited, so later slices may already hold the
/// effects of txns after the start, which recovery replays idempotently (a create of an
/// existing node, a delete of a missing one, absolute versions), as ZooKeeper's does.
pub struct Fuzzy {
    /// The zxid the file is named after.
    pub zxid: i64,
    sessions: Vec<(i64, i32)>,
    stack: Vec<String>,
    /// ACL id by list address ([`crate::tree::AclList::addr`]).
    acl_ids: HashMap<usize, i64>,
    acl_order: Vec<crate::tree::AclList>,
    /// One buffer per slice: a single growing buffer would be reallocated and copied on the
    /// node's task as it doubles (hundreds of milliseconds at a million nodes).
    chunks: Vec<Bytes>,
    pub visited: usize,
}

impl Fuzzy {
    pub fn start(tree: &DataTree, sessions: Vec<(i64, i32)>) -> Fuzzy {
        Fuzzy {
            zxid: tree.last_processed_zxid,
            sessions,
            stack: vec!["/".to_string()],
            acl_ids: HashMap::new(),
            acl_order: Vec::new(),
            chunks: Vec::new(),
            visited: 0,
        }
    }

    /// Nodes per slice when a whole tree is serialised at once: each slice is its own
    /// buffer, so none grows (and is copied) as it doubles.
    pub const SLICE: usize = 4096;

    /// Writes up to `budget` more nodes; true once every node has been visited.
    pub fn step(&mut self, tree: &DataTree, budget: usize) -> bool {
        let mut out = BytesMut::with_capacity(256 * 1024);
        let done = self.walk(tree, budget, &mut out);
        self.chunks.push(out.freeze());
        done
    }

    fn walk(&mut self, tree: &DataTree, budget: usize, out: &mut BytesMut) -> bool {
        let mut n = 0;
        while n < budget {
            let Some(path) = self.stack.pop() else {
                return true;
            };
            // A node deleted since its parent was visited is simply not in the snapshot.
            let Some(node) = tree.get(&path) else {
                continue;
            };
            self.write_node(&path, node, out);
            n += 1;
            if node.child_count() == 0 {
                continue;
            }
            // Children that have no children of their own are written straight from the
            // listing, as long as they come first and the slice has room; the rest wait on
            // the stack (and are looked up again, as they may change before their turn).
            let children = tree.children_of(&path, node);
            let mut written = 0;
            for (child, c) in &children {
                if n == budget || c.child_count() > 0 {
                    break;
                }
                self.write_node(child, c, out);
                n += 1;
                written += 1;
            }
            for (child, _) in children[written..].iter().rev() {
                self.stack.push(child.to_string());
            }
        }
        self.stack.is_empty()
    }

    /// One node as the snapshot stores it: path (the root as ""), data, ACL id, Stat.
    fn write_node(&mut self, path: &str, node: &Node, out: &mut BytesMut) {
        // Lists are shared, so the address identifies one; `acl_order` keeps each list seen
        // alive, so an address cannot come back for another list during the walk.
        let acl_id = match self.acl_ids.get(&node.acl.addr()) {
            Some(id) => *id,
            None => {
                let next = self.acl_order.len() as i64 + 1;
                self.acl_ids.insert(node.acl.addr(), next);
                self.acl_order.push(node.acl.clone());
                next
            }
        };
        let p = if path == "/" { "" } else { path };
        out.put_i32(p.len() as i32);
        out.put_slice(p.as_bytes());
        node.data.encode(out);
        out.put_i64(acl_id);
        node.stat.encode(out);
        self.visited += 1;
    }

    /// The file's bytes, as parts to write one after the other (the walk's slices are not
    /// copied into one buffer: at a million nodes that would be another 190 MB);
    /// `digest_zxid`/`digest` are the tree's when the last slice was taken. Needs no tree,
    /// so it runs off the node's task.
    pub fn finish(self, digest_zxid: i64, digest: u64) -> Vec<Bytes> {
        let mut head = BytesMut::with_capacity(4096);
        FileHeader {
            magic: SNAP_MAGIC,
            version: 2,
            dbid: -1,
        }
        .encode(&mut head);
        let mut parts = self.into_parts(head);
        // The seals: Adler-32 of every byte of the file before them, each seal included in
        // the next one's sum.
        let mut sum = adler2::Adler32::new();
        for p in &parts {
            sum.write_slice(p);
        }
        let slash = || "/".to_string();
        let mut tail = BytesMut::with_capacity(64);
        slash().encode(&mut tail);
        sum.write_slice(&tail);
        tail.put_i64(sum.checksum() as i64);
        let mark = tail.len() - 8;
        slash().encode(&mut tail);
        tail.put_i64(digest_zxid);
        tail.put_i32(DIGEST_VERSION);
        tail.put_i64(digest as i64);
        sum.write_slice(&tail[mark..]);
        tail.put_i64(sum.checksum() as i64);
        slash().encode(&mut tail);
        parts.push(tail.freeze());
        parts
    }

    /// `head` followed by the body the file and the leader's SNAP stream share: sessions,
    /// the ACL table, then the nodes (the walk's slices); the "/" terminator is the caller's.
    fn into_parts(self, mut head: BytesMut) -> Vec<Bytes> {
        self.head(&mut head);
        let mut parts = Vec::with_capacity(self.chunks.len() + 2);
        parts.push(head.freeze());
        parts.extend(self.chunks);
        parts
    }

    /// What comes before the nodes: sessions and the ACL table.
    fn head(&self, out: &mut BytesMut) {
        out.put_i32(self.sessions.len() as i32);
        for (id, to) in &self.sessions {
            out.put_i64(*id);
            out.put_i32(*to);
        }
        // The ACL table: each distinct list once, numbered from 1 as ZooKeeper numbers them.
        out.put_i32(self.acl_order.len() as i32);
        for (i, acl) in self.acl_order.iter().enumerate() {
            out.put_i64(i as i64 + 1);
            out.put_i32(acl.len() as i32);
            for a in acl.iter() {
                a.encode(out);
            }
        }
    }
}

/// The leader's SNAP stream (LearnerHandler): the snapshot body without file header, seals
/// or digest, then the string "BenWasHere" as signature.
pub fn serialize_stream(tree: &DataTree, sessions: &[(i64, i32)]) -> Bytes {
    Bytes::from(serialize_stream_parts(tree, sessions).concat())
}

/// [`serialize_stream`] as consecutive parts, to be sent one after the other without being
/// joined (the walk's slices, as they are).
pub fn serialize_stream_parts(tree: &DataTree, sessions: &[(i64, i32)]) -> Vec<Bytes> {
    let mut f = Fuzzy::start(tree, sessions.to_vec());
    while !f.step(tree, Fuzzy::SLICE) {}
    let mut tail = BytesMut::with_capacity(32);
    "/".to_string().encode(&mut tail);
    SNAP_SIGNATURE.to_string().encode(&mut tail);
    let mut parts = f.into_parts(BytesMut::with_capacity(4096));
    parts.push(tail.freeze());
    parts
}

/// What ends a leader's SNAP stream.
pub const SNAP_SIGNATURE: &str = "BenWasHere";

/// Reads a SNAP stream as [`serialize_stream`] writes it, for the tree at `zxid`.
pub fn deserialize_stream(data: Bytes, zxid: i64) -> Result<Loaded, String> {
    let mut r = Reader::new(data);
    let (sessions, nodes) = parse_body(&mut r)?;
    let sig = String::decode(&mut r).map_err(|e| e.to_string())?;
    if sig != SNAP_SIGNATURE {
        return Err(format!("bad snapshot signature {sig:?}"));
    }
    let tree = DataTree::from_nodes(nodes, zxid)?;
    Ok(Loaded {
        tree,
        sessions,
        digest: None,
    })
}

/// Serialises `tree` with `sessions` (id, timeout) in one go (an exact snapshot).
pub fn serialize(tree: &DataTree, sessions: &[(i64, i32)]) -> Bytes {
    Bytes::from(serialize_parts(tree, sessions).concat())
}

/// [`serialize`] as the parts of the file, for [`write_file`].
pub fn serialize_parts(tree: &DataTree, sessions: &[(i64, i32)]) -> Vec<Bytes> {
    let mut f = Fuzzy::start(tree, sessions.to_vec());
    while !f.step(tree, Fuzzy::SLICE) {}
    f.finish(tree.last_processed_zxid, tree.digest())
}

/// A snapshot read back: the tree (at the zxid in the file name), the sessions, and the
/// digest it recorded, if any.
pub struct Loaded {
    pub tree: DataTree,
    pub sessions: Vec<(i64, i32)>,
    pub digest: Option<(i64, i64)>,
}

fn check_seal(data: &Bytes, r: &mut Reader) -> Result<(), String> {
    let at = r.position();
    let mut a = adler2::Adler32::new();
    a.write_slice(&data[..at]);
    let want = r.read_i64().map_err(|e| e.to_string())?;
    let slash = String::decode(r).map_err(|e| e.to_string())?;
    if want != a.checksum() as i64 || slash != "/" {
        return Err(format!("checksum mismatch at offset {at}"));
    }
    Ok(())
}

type Body = (Vec<(i64, i32)>, Vec<(String, Node)>);

fn parse_body(r: &mut Reader) -> Result<Body, String> {
    let e = |e: jute::DecodeError| e.to_string();
    let n = r.read_i32().map_err(e)?;
    let mut sessions = Vec::with_capacity(n.clamp(0, 1 << 16) as usize);
    for _ in 0..n.max(0) {
        sessions.push((r.read_i64().map_err(e)?, r.read_i32().map_err(e)?));
    }
    let n = r.read_i32().map_err(e)?;
    let mut acls: HashMap<i64, crate::tree::AclList> = HashMap::new();
    for _ in 0..n.max(0) {
        let id = r.read_i64().map_err(e)?;
        acls.insert(id, Vec::<Acl>::decode(r).map_err(e)?.into());
    }
    let open: crate::tree::AclList = Acl::open_unsafe().into();
    let mut nodes = Vec::new();
    loop {
        let path = String::decode(r).map_err(e)?;
        if path == "/" {
            break;
        }
        let data = Option::<Bytes>::decode(r).map_err(e)?;
        let acl_id = r.read_i64().map_err(e)?;
        let stat = StatPersisted::decode(r).map_err(e)?;
        let acl = match acl_id {
            -1 => open.clone(),
            id => acls
                .get(&id)
                .cloned()
                .ok_or_else(|| format!("node {path} names ACL {id}, which is not in the table"))?,
        };
        let path = if path.is_empty() {
            "/".to_string()
        } else {
            path
        };
        nodes.push((path, Node::restored(data, acl, stat)));
    }
    Ok((sessions, nodes))
}

pub fn deserialize(data: Bytes, zxid: i64) -> Result<Loaded, String> {
    let mut r = Reader::new(data.clone());
    let e = |e: jute::DecodeError| e.to_string();
    let h = FileHeader::decode(&mut r).map_err(e)?;
    if h.magic != SNAP_MAGIC {
        return Err("not a ZooKeeper snapshot (bad magic)".into());
    }
    let (sessions, nodes) = parse_body(&mut r)?;
    check_seal(&data, &mut r)?;
    let digest = if r.remaining() >= 20 {
        let z = r.read_i64().map_err(e)?;
        let _version = r.read_i32().map_err(e)?;
        let d = r.read_i64().map_err(e)?;
        check_seal(&data, &mut r)?;
        Some((z, d))
    } else {
        None
    };
    let tree = DataTree::from_nodes(nodes, zxid)?;
    Ok(Loaded {
        tree,
        sessions,
        digest,
    })
}

/// `snapshot.compression.method`: none (ZooKeeper's "CHECKED"), gz, or snappy in the framing
/// of snappy-java's SnappyOutputStream, which is what Java ZooKeeper writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
}

impl Compression {
    pub fn from_setting(c: crate::config::SnapshotCompression) -> Compression {
        use crate::config::SnapshotCompression as S;
        match c {
            S::Gzip => Compression::Gzip,
            S::Snappy => Compression::Snappy,
            S::None => Compression::None,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Snappy => ".snappy",
        }
    }

    fn of_path(p: &Path) -> Compression {
        match p.extension().and_then(|e| e.to_str()) {
            Some("gz") => Compression::Gzip,
            Some("snappy") => Compression::Snappy,
            _ => Compression::None,
        }
    }
}

/// snappy-java's stream header: magic, version 1, compatible version 1.
const SNAPPY_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const SNAPPY_BLOCK: usize = 32 * 1024;

fn compress(c: Compression, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    match c {
        Compression::None => Ok(bytes.to_vec()),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(bytes)?;
            e.finish()
        }
        Compression::Snappy => {
            let mut out = Vec::with_capacity(bytes.len() / 2 + 16);
            out.extend_from_slice(&SNAPPY_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut enc = snap::raw::Encoder::new();
            for block in bytes.chunks(SNAPPY_BLOCK) {
                let c = enc.compress_vec(block).map_err(std::io::Error::other)?;
                out.extend_from_slice(&(c.len() as i32).to_be_bytes());
                out.extend_from_slice(&c);
            }
            Ok(out)
        }
    }
}

fn decompress(c: Compression, raw: Vec<u8>) -> std::io::Result<Vec<u8>> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    match c {
        Compression::None => Ok(raw),
        Compression::Gzip => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)?;
            Ok(out)
        }
        Compression::Snappy => {
            if raw.len() < 16 || raw[..8] != SNAPPY_MAGIC {
                return Err(bad("not a snappy-java stream"));
            }
            let mut out = Vec::new();
            let mut dec = snap::raw::Decoder::new();
            let mut pos = 16;
            while pos < raw.len() {
                if pos + 4 > raw.len() {
                    return Err(bad("truncated snappy chunk header"));
                }
                let n = i32::from_be_bytes([raw[pos], raw[pos + 1], raw[pos + 2], raw[pos + 3]]);
                pos += 4;
                if n < 0 || pos + n as usize > raw.len() {
                    return Err(bad("truncated snappy chunk"));
                }
                let chunk = &raw[pos..pos + n as usize];
                out.extend_from_slice(&dec.decompress_vec(chunk).map_err(|e| bad(&e.to_string()))?);
                pos += n as usize;
            }
            Ok(out)
        }
    }
}

/// Reads a snapshot file, decompressing it as its name says.
/// A snapshot received as a byte stream (the AdminServer's restore): its compression is
/// told by its first bytes, as a file's is by its name.
pub fn decode_stream(raw: Vec<u8>) -> std::io::Result<Bytes> {
    let c = if raw.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if raw.starts_with(&SNAPPY_MAGIC) {
        Compression::Snappy
    } else {
        Compression::None
    };
    Ok(Bytes::from(decompress(c, raw)?))
}

pub fn read_file(path: &Path) -> std::io::Result<Bytes> {
    let raw = std::fs::read(path)?;
    Ok(Bytes::from(decompress(Compression::of_path(path), raw)?))
}

/// Writes `bytes` as `dir/snapshot.<zxid>[.gz|.snappy]` atomically (temporary file, fsync,
/// rename).
pub fn write_file(
    dir: &Path,
    zxid: i64,
    parts: &[Bytes],
    c: Compression,
) -> std::io::Result<std::path::PathBuf> {
    super::ensure_dir(dir)?;
    // Uncompressed, the parts go to the file as they are; compressed, they are joined first.
    let joined;
    let parts: Vec<&[u8]> = match c {
        Compression::None => parts.iter().map(|p| &p[..]).collect(),
        _ => {
            joined = compress(c, &parts.concat())?;
            vec![&joined[..]]
        }
    };
    let name = format!("{}{}", super::file_name("snapshot", zxid), c.suffix());
    let tmp = dir.join(format!("{name}.tmp"));
    let dst = dir.join(&name);
    {
        // Written and synced a few MiB at a time: a snapshot's worth of dirty pages flushed at
        // once would hold up the txn log's fsyncs on the same disk behind it.
        const STEP: usize = 4 << 20;
        let mut f = std::fs::File::create(&tmp)?;
        let mut unsynced = 0;
        for part in parts {
            for piece in part.chunks(STEP) {
                f.write_all(piece)?;
                unsynced += piece.len();
                if unsynced >= STEP {
                    f.sync_data()?;
                    unsynced = 0;
                }
            }
        }
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &dst)?;
    super::sync_dir(dir)?;
    Ok(dst)
}
