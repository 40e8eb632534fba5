//! The election connection's wire rules (ZooKeeper's QuorumCnxManager), without sockets:
//! the initial message a connecting server sends, which side keeps a connection, and the
//! framing of election messages.

use bytes::{BufMut, Bytes, BytesMut};

/// Protocol versions of the initial message: one address, or several joined with `|`.
pub const PROTOCOL_VERSION_V1: i64 = -65536;
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// The longest address text a receiver accepts.
pub const MAX_ADDRESS_BYTES: usize = 2048;
/// The largest election message a receiver accepts.
pub const PACKET_MAX_SIZE: usize = 512 * 1024;

/// What a server says first on an election connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialMessage {
    pub sid: i64,
    /// `host:port` election addresses; empty from a legacy (pre-3.5) server.
    pub addresses: Vec<(String, u16)>,
}

impl InitialMessage {
    /// `long version, long sid, int length, "host:port[|host:port...]"`.
    pub fn encode(&self) -> Bytes {
        let text = self
            .addresses
            .iter()
            .map(|(h, p)| {
                if h.contains(':') {
                    format!("[{h}]:{p}")
                } else {
                    format!("{h}:{p}")
                }
            })
            .collect::<Vec<_>>()
            .join("|");
        let version = if self.addresses.len() > 1 {
            PROTOCOL_VERSION_V2
        } else {
            PROTOCOL_VERSION_V1
        };
        let mut b = BytesMut::with_capacity(20 + text.len());
        b.put_i64(version);
        b.put_i64(self.sid);
        b.put_i32(text.len() as i32);
        b.put_slice(text.as_bytes());
        b.freeze()
    }

    /// Reads an initial message from the start of `b`; returns it and the bytes it took, or
    /// `Ok(None)` when more bytes are needed. A first long that is not negative is a legacy
    /// server's bare sid.
    pub fn decode(b: &[u8]) -> Result<Option<(InitialMessage, usize)>, String> {
        let long = |o: usize| i64::from_be_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        if b.len() < 8 {
            return Ok(None);
        }
        let first = long(0);
        if first >= 0 {
            return Ok(Some((
                InitialMessage {
                    sid: first,
                    addresses: Vec::new(),
                },
                8,
            )));
        }
        if first != PROTOCOL_VERSION_V1 && first != PROTOCOL_VERSION_V2 {
            return Err(format!("unrecognized protocol version {first}"));
        }
        if b.len() < 20 {
            return Ok(None);
        }
        let sid = long(8);
        let n = i32::from_be_bytes(b[16..20].try_into().unwrap_or([0; 4]));
        if n <= 0 || n as usize > MAX_ADDRESS_BYTES {
            return Err(format!("unreasonable address length {n}"));
        }
        let end = 20 + n as usize;
        if b.len() < end {
            return Ok(None);
        }
        let text = std::str::from_utf8(&b[20..end]).map_err(|_| "address is not UTF-8")?;
        let mut addresses = Vec::new();
        for a in text.split('|') {
            let (host, port) = a
                .rsplit_once(':')
                .ok_or_else(|| format!("badly formed address {a:?}"))?;
            let port: u16 = port
                .parse()
                .map_err(|_| format!("bad port number {port:?}"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(format!("badly formed address {a:?}"));
            }
            // As ZooKeeper: a wildcard address says nothing about where the server is.
            if matches!(host, "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0") {
                continue;
            }
            addresses.push((host.to_string(), port));
        }
        Ok(Some((InitialMessage { sid, addresses }, end)))
    }
}

/// Between two servers only one election connection survives: the one opened by the server
/// with the higher id. A lower id's connection is closed by the receiver, which dials back.
pub fn connection_survives(initiator: i64, acceptor: i64) -> bool {
    initiator > acceptor
}

/// One election message: `int length` + payload.
pub fn frame(payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + payload.len());
    b.put_i32(payload.len() as i32);
    b.put_slice(payload);
    b.freeze()
}

/// The length prefix of a message, checked as the receiver checks it.
pub fn message_length(prefix: [u8; 4]) -> Result<usize, String> {
    let n = i32::from_be_bytes(prefix);
    if n <= 0 || n as usize > PACKET_MAX_SIZE {
        return Err(format!("received packet with invalid length {n}"));
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_message_round_trips_in_both_versions() {
        let one = InitialMessage {
            sid: 3,
            addresses: vec![("zk3.example".into(), 3888)],
        };
        let b = one.encode();
        assert_eq!(&b[..8], &PROTOCOL_VERSION_V1.to_be_bytes());
        assert_eq!(&b[8..16], &3i64.to_be_bytes());
        assert_eq!(&b[20..], b"zk3.example:3888");
        assert_eq!(InitialMessage::decode(&b).unwrap(), Some((one, b.len())));
        let many = InitialMessage {
            sid: 5,
            addresses: vec![("10.0.0.5".into(), 3888), ("::1".into(), 3889)],
        };
        let b = many.encode();
        assert_eq!(&b[..8], &PROTOCOL_VERSION_V2.to_be_bytes());
        assert_eq!(&b[20..], b"10.0.0.5:3888|[::1]:3889");
        assert_eq!(InitialMessage::decode(&b).unwrap(), Some((many, b.len())));
        // Partial input asks for more; a legacy bare sid is accepted.
        assert_eq!(InitialMessage::decode(&b[..19]).unwrap(), None);
        let legacy = InitialMessage::decode(&7i64.to_be_bytes())
            .unwrap()
            .unwrap();
        assert_eq!((legacy.0.sid, legacy.1), (7, 8));
    }

    #[test]
    fn malformed_initial_messages_are_refused() {
        let mut b = BytesMut::new();
        b.put_i64(-5);
        assert!(InitialMessage::decode(&b).is_err(), "unknown version");
        for (len, text) in [
            (0, &b""[..]),
            (3000, &b"x"[..]),
            (4, &b"host"[..]),
            (7, &b"host:xx"[..]),
        ] {
            let mut b = BytesMut::new();
            b.put_i64(PROTOCOL_VERSION_V1);
            b.put_i64(1);
            b.put_i32(len);
            b.put_slice(text);
            assert!(InitialMessage::decode(&b).is_err(), "{len} {text:?}");
        }
    }

    #[test]
    fn only_the_higher_id_keeps_a_connection() {
        assert!(connection_survives(3, 1));
        assert!(!connection_survives(1, 3));
        assert!(!connection_survives(2, 2));
        assert_eq!(message_length(100i32.to_be_bytes()).unwrap(), 100);
        assert!(message_length(0i32.to_be_bytes()).is_err());
        assert!(message_length((512 * 1024 + 1i32).to_be_bytes()).is_err());
        assert_eq!(&frame(b"abc")[..], &[0, 0, 0, 3, b'a', b'b', b'c']);
    }
}
