//! A ZooKeeper-protocol client for load generation: one session over one connection, with
//! requests pipelined up to a window and latencies measured from send to reply.

use bytes::{Bytes, BytesMut};
use jute::*;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub struct Session {
    s: TcpStream,
    xid: i32,
}

fn framed(parts: &[&dyn Encode]) -> Vec<u8> {
    let mut b = BytesMut::new();
    let at = begin_frame(&mut b);
    for p in parts {
        p.encode(&mut b);
    }
    end_frame(&mut b, at);
    b.to_vec()
}

impl Session {
    pub fn connect(addr: &str, timeout_ms: i32) -> std::io::Result<Session> {
        let mut s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let req = ConnectRequest {
            time_out: timeout_ms,
            passwd: Some(Bytes::from_static(&[0; 16])),
            has_read_only: true,
            ..Default::default()
        };
        s.write_all(&framed(&[&req]))?;
        let mut sess = Session { s, xid: 0 };
        let resp = ConnectResponse::from_bytes(sess.frame()?)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if resp.session_id == 0 {
            return Err(std::io::Error::other("session refused"));
        }
        Ok(sess)
    }

    fn frame(&mut self) -> std::io::Result<Bytes> {
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len)?;
        let mut b = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
        self.s.read_exact(&mut b)?;
        Ok(Bytes::from(b))
    }

    pub fn send(&mut self, req: &Request) -> std::io::Result<()> {
        self.xid += 1;
        let h = RequestHeader {
            xid: self.xid,
            op: req.op().code(),
        };
        self.s.write_all(&framed(&[&h, req]))
    }

    /// The next reply header, skipping watch notifications.
    pub fn reply(&mut self) -> std::io::Result<ReplyHeader> {
        loop {
            let f = self.frame()?;
            let h = ReplyHeader::decode(&mut Reader::new(f))
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if h.xid != Xid::NOTIFICATION {
                return Ok(h);
            }
        }
    }

    /// Sends `make(i)` for i = 0.. with up to `window` in flight, until `count` requests or
    /// `until`; returns the latency of every reply (in order) and the error codes seen.
    pub fn pipeline(
        &mut self,
        window: usize,
        count: u64,
        until: Option<Instant>,
        mut make: impl FnMut(u64) -> Request,
        mut each: impl FnMut(Duration, i32),
    ) -> std::io::Result<u64> {
        let mut sent_at = VecDeque::with_capacity(window);
        let mut sent = 0u64;
        let mut done = 0u64;
        let more = |sent: u64| sent < count && until.is_none_or(|u| Instant::now() < u);
        while sent_at.len() < window && more(sent) {
            self.send(&make(sent))?;
            sent_at.push_back(Instant::now());
            sent += 1;
        }
        while let Some(t0) = sent_at.pop_front() {
            let h = self.reply()?;
            each(t0.elapsed(), h.err);
            done += 1;
            if more(sent) {
                self.send(&make(sent))?;
                sent_at.push_back(Instant::now());
                sent += 1;
            }
        }
        Ok(done)
    }
}
