//! QuorumPackets on a leader-learner connection, as Java ZooKeeper writes them: jute records
//! back to back with no frame around them (`int type, long zxid, buffer data, vector<Id>
//! authinfo`). A SNAP packet is followed by the snapshot stream and its signature, which the
//! reader takes whole, checking every length it crosses.

use bytes::{BufMut, Bytes, BytesMut};
use jute::{Encode, Id};
use tokio::io::{AsyncRead, AsyncReadExt};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub kind: i32,
    pub zxid: i64,
    pub data: Option<Bytes>,
    pub auth: Vec<Id>,
}

impl Packet {
    pub fn new(kind: jute::PacketType, zxid: i64, data: Option<Bytes>) -> Packet {
        Packet {
            kind: kind.code(),
            zxid,
            data,
            auth: Vec::new(),
        }
    }

    /// Java writes a null authinfo vector (-1) where it has none; so does this.
    pub fn encode_into(&self, out: &mut BytesMut) {
        out.put_i32(self.kind);
        out.put_i64(self.zxid);
        match &self.data {
            Some(d) => {
                out.put_i32(d.len() as i32);
                out.put_slice(d);
            }
            None => out.put_i32(-1),
        }
        if self.auth.is_empty() {
            out.put_i32(-1);
        } else {
            out.put_i32(self.auth.len() as i32);
            for id in &self.auth {
                id.encode(out);
            }
        }
    }

    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(24 + self.data.as_ref().map_or(0, |d| d.len()));
        self.encode_into(&mut b);
        b.freeze()
    }
}

fn bad(why: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why)
}

async fn len<R: AsyncRead + Unpin>(r: &mut R, max: usize, what: &str) -> std::io::Result<i32> {
    let n = r.read_i32().await?;
    if n < -1 || n as i64 > max as i64 {
        return Err(bad(format!(
            "{what} of length {n} (jute.maxbuffer is {max})"
        )));
    }
    Ok(n)
}

async fn bytes<R: AsyncRead + Unpin>(r: &mut R, n: i32) -> std::io::Result<Vec<u8>> {
    let mut v = vec![0u8; n.max(0) as usize];
    r.read_exact(&mut v).await?;
    Ok(v)
}

async fn string<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<String> {
    let n = len(r, max, "a string").await?;
    String::from_utf8(bytes(r, n).await?).map_err(|_| bad("a string that is not UTF-8".into()))
}

/// Reads one packet; `max` bounds every length (jute.maxbuffer).
pub async fn read<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Packet> {
    let kind = r.read_i32().await?;
    let zxid = r.read_i64().await?;
    let n = len(r, max, "packet data").await?;
    let data = if n < 0 {
        None
    } else {
        Some(Bytes::from(bytes(r, n).await?))
    };
    let count = len(r, 1 << 16, "an authinfo vector").await?;
    let mut auth = Vec::new();
    for _ in 0..count.max(0) {
        let scheme = string(r, max).await?;
        let id = string(r, max).await?;
        auth.push(Id { scheme, id });
    }
    Ok(Packet {
        kind,
        zxid,
        data,
        auth,
    })
}

/// Copies bytes from the stream into `out` as the snapshot layout is walked.
struct Tee<'a, R> {
    r: &'a mut R,
    out: BytesMut,
    max: usize,
}

impl<R: AsyncRead + Unpin> Tee<'_, R> {
    /// Reads `n` bytes, growing the buffer only as they arrive: a count in the stream
    /// cannot make it allocate for bytes that never come.
    async fn take(&mut self, n: usize) -> std::io::Result<()> {
        let mut left = n;
        while left > 0 {
            let chunk = left.min(64 * 1024);
            let at = self.out.len();
            self.out.resize(at + chunk, 0);
            self.r.read_exact(&mut self.out[at..]).await?;
            left -= chunk;
        }
        Ok(())
    }

    async fn int(&mut self) -> std::io::Result<i32> {
        self.take(4).await?;
        let at = self.out.len() - 4;
        Ok(i32::from_be_bytes(
            self.out[at..].try_into().unwrap_or([0; 4]),
        ))
    }

    /// A buffer or string: its length, checked, then its bytes; the bytes are returned when
    /// asked for (paths and the signature).
    async fn buffer(&mut self, keep: bool) -> std::io::Result<Option<Vec<u8>>> {
        let n = self.int().await?;
        if n < -1 || n as i64 > self.max as i64 {
            return Err(bad(format!("snapshot field of length {n}")));
        }
        let at = self.out.len();
        self.take(n.max(0) as usize).await?;
        Ok(keep.then(|| self.out[at..].to_vec()))
    }

    async fn count(&mut self, what: &str) -> std::io::Result<usize> {
        let n = self.int().await?;
        if !(-1..=1 << 24).contains(&n) {
            return Err(bad(format!("snapshot {what} count {n}")));
        }
        Ok(n.max(0) as usize)
    }
}

/// Reads the snapshot stream that follows a SNAP packet, through its signature, and returns
/// its bytes for [`crate::storage::snap::deserialize_stream`].
pub async fn read_snapshot<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Bytes> {
    let mut t = Tee {
        r,
        out: BytesMut::with_capacity(1 << 20),
        max,
    };
    let sessions = t.count("session").await?;
    t.take(12 * sessions).await?;
    let acls = t.count("ACL table").await?;
    for _ in 0..acls {
        t.take(8).await?;
        let n = t.count("ACL").await?;
        for _ in 0..n {
            t.take(4).await?;
            t.buffer(false).await?;
            t.buffer(false).await?;
        }
    }
    loop {
        let path = t.buffer(true).await?.unwrap_or_default();
        if path == b"/" {
            break;
        }
        t.buffer(false).await?; // data
        t.take(8 + 60).await?; // acl id, StatPersisted
    }
    let sig = t.buffer(true).await?.unwrap_or_default();
    if sig != crate::storage::snap::SNAP_SIGNATURE.as_bytes() {
        return Err(bad(format!(
            "snapshot stream ends with {:?}, not the signature",
            String::from_utf8_lossy(&sig)
        )));
    }
    Ok(t.out.freeze())
}

/// Polls a reader over bytes already in memory once: a slice never makes it wait.
fn poll_now<F: std::future::Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// `Ok(None)` when the bytes end before the record does.
fn complete<T>(res: Option<std::io::Result<T>>, used: usize) -> Result<Option<(T, usize)>, String> {
    match res {
        Some(Ok(v)) => Ok(Some((v, used))),
        Some(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Some(Err(e)) => Err(e.to_string()),
        None => Ok(None),
    }
}

/// [`read`] over bytes in memory (the deterministic simulation's connections): the packet
/// and the bytes it took, once complete.
pub fn parse(buf: &[u8], max: usize) -> Result<Option<(Packet, usize)>, String> {
    let mut r = buf;
    let res = poll_now(read(&mut r, max));
    complete(res, buf.len() - r.len())
}

/// [`read_snapshot`] over bytes in memory: how many bytes the stream takes, once complete.
pub fn parse_snapshot(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    let mut r = buf;
    let res = poll_now(read_snapshot(&mut r, max));
    Ok(complete(res, buf.len() - r.len())?.map(|(_, n)| n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn packets_and_snapshot_streams_round_trip() {
        let mut p = Packet::new(
            jute::PacketType::Request,
            -1,
            Some(Bytes::from_static(b"x")),
        );
        p.auth.push(Id::new("digest", "a:b"));
        let q = Packet::new(jute::PacketType::Ping, 5, None);
        let mut wire = BytesMut::new();
        p.encode_into(&mut wire);
        q.encode_into(&mut wire);
        assert_eq!(
            &q.encode()[..],
            &[0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5, 255, 255, 255, 255, 255, 255, 255, 255][..]
        );
        let mut tree = crate::tree::DataTree::new();
        let mut changes = Vec::new();
        let txn = crate::txn::Txn {
            hdr: jute::TxnHeader {
                client_id: 1,
                cxid: 1,
                zxid: 1,
                time: 1,
                op: 1,
            },
            body: crate::txn::TxnBody::Create(jute::CreateTxn {
                path: "/a".into(),
                data: Some(Bytes::from_static(b"v")),
                acl: jute::Acl::open_unsafe(),
                ephemeral: false,
                parent_c_version: 1,
            }),
            digest: None,
        };
        tree.apply(&txn, &mut changes);
        let snap = crate::storage::snap::serialize_stream(&tree, &[(7, 3000)]);
        wire.extend_from_slice(&snap);
        wire.extend_from_slice(&[0, 0, 0, 9]);
        let mut r = &wire[..];
        assert_eq!(read(&mut r, 1 << 20).await.unwrap(), p);
        assert_eq!(read(&mut r, 1 << 20).await.unwrap(), q);
        let got = read_snapshot(&mut r, 1 << 20).await.unwrap();
        assert_eq!(got, snap);
        assert_eq!(r, &[0, 0, 0, 9]);
        let loaded = crate::storage::snap::deserialize_stream(got, 1).unwrap();
        assert_eq!(loaded.sessions, vec![(7, 3000)]);
        assert!(loaded.tree.get("/a").is_some());
        let mut short = &snap[..snap.len() - 3];
        assert!(read_snapshot(&mut short, 1 << 20).await.is_err());
        let mut huge = &[0u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0, 0, 0][..];
        assert!(read(&mut huge, 1 << 20).await.is_err());
    }
}
