//! The jute binary encoding: big-endian ints and longs, one-byte booleans, length-prefixed
//! buffers and UTF-8 strings, count-prefixed vectors, and a length of -1 for null.
//!
//! Decoding reads from a [`Reader`] over one frame. Every length is checked against what is left
//! of the frame before anything is allocated, so a hostile length can never make us allocate more
//! than the frame itself (which the network layer already bounded by `jute.maxbuffer`).

use bytes::{BufMut, Bytes, BytesMut};

/// Why a record could not be decoded. The connection that sent it is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record truncated: needed {needed} more bytes, {left} left")]
    Truncated { needed: usize, left: usize },
    #[error("negative length {0}")]
    BadLength(i32),
    #[error("unknown {what} {value}")]
    Unknown { what: &'static str, value: i32 },
    #[error("{0} trailing bytes after record")]
    Trailing(usize),
}

/// A cursor over one received frame. Buffers decode as slices of the frame (no copy).
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    pub fn new(buf: Bytes) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    /// The unread rest of the frame, without consuming it.
    pub fn rest(&self) -> Bytes {
        self.buf.slice(self.pos..)
    }

    /// Fails unless the whole frame was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.remaining() < n {
            Err(DecodeError::Truncated {
                needed: n,
                left: self.remaining(),
            })
        } else {
            Ok(())
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        self.need(n)?;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        // Java's DataInput.readBoolean treats any non-zero byte as true.
        Ok(self.take(1)?[0] != 0)
    }

    /// A length of -1 is null; any other negative length is an error, as is one past the frame.
    fn read_len(&mut self) -> Result<Option<usize>, DecodeError> {
        match self.read_i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::BadLength(n)),
            n => {
                let n = n as usize;
                self.need(n)?;
                Ok(Some(n))
            }
        }
    }

    pub fn read_buffer(&mut self) -> Result<Option<Bytes>, DecodeError> {
        match self.read_len()? {
            None => Ok(None),
            Some(n) => {
                let b = self.buf.slice(self.pos..self.pos + n);
                self.pos += n;
                Ok(Some(b))
            }
        }
    }

    /// Java decodes ustrings with `new String(bytes, UTF_8)`, which replaces malformed input
    /// rather than failing; we do the same so that both servers see the same path.
    pub fn read_ustring(&mut self) -> Result<Option<String>, DecodeError> {
        match self.read_len()? {
            None => Ok(None),
            Some(n) => {
                let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                Ok(Some(s))
            }
        }
    }

    /// A vector count, bounded by the bytes left (every element takes at least one byte).
    pub fn read_count(&mut self) -> Result<Option<usize>, DecodeError> {
        match self.read_i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::BadLength(n)),
            n if n as usize > self.remaining() => Err(DecodeError::Truncated {
                needed: n as usize,
                left: self.remaining(),
            }),
            n => Ok(Some(n as usize)),
        }
    }
}

/// A value that has a jute encoding.
pub trait Encode {
    fn encode(&self, out: &mut BytesMut);

    /// The encoding as a fresh buffer.
    fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.freeze()
    }
}

/// A value that can be read back from its jute encoding.
pub trait Decode: Sized {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError>;

    /// Decodes a whole buffer, which must hold exactly one value.
    fn from_bytes(b: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let v = Self::decode(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

impl Encode for i32 {
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(*self)
    }
}
impl Decode for i32 {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_i32()
    }
}
impl Encode for i64 {
    fn encode(&self, out: &mut BytesMut) {
        out.put_i64(*self)
    }
}
impl Decode for i64 {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_i64()
    }
}
impl Encode for bool {
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(*self as u8)
    }
}
impl Decode for bool {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_bool()
    }
}

/// jute `buffer`: `None` is the null buffer (length -1).
impl Encode for Option<Bytes> {
    fn encode(&self, out: &mut BytesMut) {
        match self {
            None => out.put_i32(-1),
            Some(b) => {
                out.put_i32(b.len() as i32);
                out.put_slice(b);
            }
        }
    }
}
impl Decode for Option<Bytes> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_buffer()
    }
}

/// jute `ustring`. A null string decodes as empty: no record we serve gives null a meaning
/// different from an invalid (empty) value, and the request is then refused as invalid.
impl Encode for String {
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.len() as i32);
        out.put_slice(self.as_bytes());
    }
}
impl Decode for String {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(r.read_ustring()?.unwrap_or_default())
    }
}

/// jute `ustring` where null means something (reconfig's absent member lists).
impl Encode for Option<String> {
    fn encode(&self, out: &mut BytesMut) {
        match self {
            Some(s) => s.encode(out),
            None => out.put_i32(-1),
        }
    }
}
impl Decode for Option<String> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_ustring()
    }
}

/// jute `vector`. A null vector decodes as empty and an empty one encodes with count 0.
impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.len() as i32);
        for v in self {
            v.encode(out);
        }
    }
}
impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let n = r.read_count()?.unwrap_or(0);
        let mut v = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            v.push(T::decode(r)?);
        }
        Ok(v)
    }
}

/// An empty body (ping, closeSession, whoAmI).
impl Encode for () {
    fn encode(&self, _out: &mut BytesMut) {}
}

/// A tiny deterministic generator for [`Sample`], so every record can be exercised by
/// round-trip tests without hand-written strategies.
pub struct SampleRng(pub u64);

impl SampleRng {
    pub fn next_u64(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Produces an arbitrary value of a record (test support, declared with each record).
pub trait Sample {
    fn sample(r: &mut SampleRng) -> Self;
}

impl Sample for i32 {
    fn sample(r: &mut SampleRng) -> Self {
        r.next_u64() as i32
    }
}
impl Sample for i64 {
    fn sample(r: &mut SampleRng) -> Self {
        r.next_u64() as i64
    }
}
impl Sample for bool {
    fn sample(r: &mut SampleRng) -> Self {
        r.next_u64() & 1 == 1
    }
}
impl Sample for String {
    fn sample(r: &mut SampleRng) -> Self {
        const CHARS: &[char] = &['/', 'a', 'z', '0', '-', '.', 'é', '日', '\u{1F600}'];
        let n = (r.next_u64() % 12) as usize;
        (0..n)
            .map(|_| CHARS[(r.next_u64() % CHARS.len() as u64) as usize])
            .collect()
    }
}
impl Sample for Option<String> {
    fn sample(r: &mut SampleRng) -> Self {
        if r.next_u64().is_multiple_of(4) {
            None
        } else {
            Some(String::sample(r))
        }
    }
}
impl Sample for Option<Bytes> {
    fn sample(r: &mut SampleRng) -> Self {
        match r.next_u64() % 4 {
            0 => None,
            n => Some(Bytes::from(
                (0..n * 3).map(|_| r.next_u64() as u8).collect::<Vec<u8>>(),
            )),
        }
    }
}
impl<T: Sample> Sample for Vec<T> {
    fn sample(r: &mut SampleRng) -> Self {
        let n = r.next_u64() % 4;
        (0..n).map(|_| T::sample(r)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_buffers_differ() {
        let mut b = BytesMut::new();
        None::<Bytes>.encode(&mut b);
        Some(Bytes::new()).encode(&mut b);
        assert_eq!(&b[..], &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        let mut r = Reader::new(b.freeze());
        assert_eq!(r.read_buffer().unwrap(), None);
        assert_eq!(r.read_buffer().unwrap(), Some(Bytes::new()));
    }

    #[test]
    fn hostile_lengths_are_refused_before_allocating() {
        let mut r = Reader::new(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 1, 2]));
        assert!(matches!(
            r.read_buffer(),
            Err(DecodeError::Truncated { .. })
        ));
        let mut r = Reader::new(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff]));
        assert!(Vec::<i64>::decode(&mut r).is_err());
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff, 0xff, 0xfe]));
        assert_eq!(r.read_ustring(), Err(DecodeError::BadLength(-2)));
    }
}
