//! Shared by the server tests: start a real ferrozk process on a free loopback port, and a
//! minimal raw client built on the `jute` crate for byte-level assertions.
#![allow(dead_code)]

pub mod order;

use bytes::{Bytes, BytesMut};
use jute::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port free on loopback, from below Linux's ephemeral range (32768 and up): a port the
/// kernel picked for `bind(0)` could be taken, before the server binds it, by the local end
/// of some test's outgoing connection (proxies and clients open many). Ports are handed out
/// once per test process, from a start that differs between processes.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = (std::process::id() % 397) * 50;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (12_000 + (start + n) % 20_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A ferrozk child process, stopped (by PID) when dropped.
pub struct Server {
    pub port: u16,
    /// The AdminServer's port (each test server gets a free one).
    pub admin_port: u16,
    pub dir: PathBuf,
    child: Child,
}

fn spawn(dir: &std::path::Path, port: u16) -> Child {
    spawn_env(dir, port, &[])
}

fn spawn_env(dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ferrozk"))
        .envs(env.iter().copied())
        .arg(dir.join("zoo.cfg"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start ferrozk");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "ferrozk did not start: {}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

impl Server {
    pub fn start(extra: &str) -> Server {
        Self::start_with_env(extra, &[])
    }

    /// Like [`Server::start`], with environment variables for this first run only.
    pub fn start_with_env(extra: &str, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("ferrozk-test-{}-{}", std::process::id(), port));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("zoo.cfg");
        let admin_port = free_port();
        std::fs::write(
            &cfg,
            format!(
                "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nextendedTypesEnabled=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin_port}\n{extra}\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let child = spawn_env(&dir, port, env);
        Server {
            port,
            admin_port,
            dir,
            child,
        }
    }

    /// The exit status, once the process has ended by itself (waits up to 10 s).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (up to 60 s) for the process to exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Stops the process (SIGKILL) without starting it again.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the process again on the same dataDir and port.
    pub fn restart(&mut self) {
        self.child = spawn(&self.dir, self.port);
    }

    /// Kills the process with SIGKILL (no chance to flush anything) and starts it again on
    /// the same dataDir and port.
    pub fn crash_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.dir, self.port);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A raw protocol client: frames in, frames out, nothing hidden.
pub struct Raw {
    pub s: TcpStream,
    pub session_id: i64,
    pub passwd: Bytes,
    pub timeout: i32,
    xid: i32,
}

pub fn frame_of(parts: &[&dyn Fn(&mut BytesMut)]) -> Vec<u8> {
    let mut b = BytesMut::new();
    let at = begin_frame(&mut b);
    for p in parts {
        p(&mut b);
    }
    end_frame(&mut b, at);
    b.to_vec()
}

impl Raw {
    pub fn tcp(port: u16) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    /// Opens a session with the 45-byte handshake (or 44 when `read_only_byte` is false).
    pub fn connect(port: u16, read_only_byte: bool) -> Raw {
        Self::connect_with(
            port,
            0,
            Bytes::from_static(&[0; 16]),
            30000,
            read_only_byte,
            0,
        )
        .expect("handshake")
    }

    pub fn connect_with(
        port: u16,
        session_id: i64,
        passwd: Bytes,
        timeout: i32,
        read_only_byte: bool,
        last_zxid: i64,
    ) -> Option<Raw> {
        let mut s = Self::tcp(port);
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: last_zxid,
            time_out: timeout,
            session_id,
            passwd: Some(passwd),
            read_only: false,
            has_read_only: read_only_byte,
        };
        s.write_all(&frame_of(&[&|b| req.encode(b)])).unwrap();
        let body = read_frame(&mut s)?;
        assert_eq!(
            body.len(),
            if read_only_byte { 37 } else { 36 },
            "handshake answer in the client's form"
        );
        let resp = ConnectResponse::from_bytes(body).unwrap();
        Some(Raw {
            s,
            session_id: resp.session_id,
            passwd: resp.passwd.unwrap_or_default(),
            timeout: resp.time_out,
            xid: 0,
        })
    }

    /// Wraps a connection whose handshake the caller does itself.
    pub fn from_stream(s: TcpStream) -> Raw {
        Raw {
            s,
            session_id: 0,
            passwd: Bytes::new(),
            timeout: 0,
            xid: 0,
        }
    }

    pub fn send(&mut self, op: OpCode, body: &dyn Encode) -> i32 {
        self.xid += 1;
        let xid = self.xid;
        self.send_raw(xid, op.code(), body);
        xid
    }

    /// The xid of the last request sent with `send` or `send_raw_next`.
    pub fn last_xid(&self) -> i32 {
        self.xid
    }

    pub fn send_raw(&mut self, xid: i32, op: i32, body: &dyn Encode) {
        let h = RequestHeader { xid, op };
        self.s
            .write_all(&frame_of(&[&|b| h.encode(b), &|b| body.encode(b)]))
            .unwrap();
    }

    /// Reads frames until the reply to `xid`, returning the notifications seen before it.
    pub fn reply(&mut self, xid: i32) -> (ReplyHeader, Reader, Vec<WatcherEvent>) {
        let mut events = Vec::new();
        loop {
            let f = read_frame(&mut self.s).expect("reply");
            let mut r = Reader::new(f);
            let h = ReplyHeader::decode(&mut r).unwrap();
            if h.xid == Xid::NOTIFICATION {
                events.push(WatcherEvent::decode(&mut r).unwrap());
                continue;
            }
            assert_eq!(h.xid, xid, "replies come in request order");
            return (h, r, events);
        }
    }

    pub fn call(&mut self, op: OpCode, body: &dyn Encode) -> (ReplyHeader, Reader) {
        let xid = self.send(op, body);
        let (h, r, _) = self.reply(xid);
        (h, r)
    }

    pub fn create(&mut self, path: &str, data: &[u8], flags: i32) -> (i32, String) {
        let (h, mut r) = self.call(
            OpCode::Create,
            &CreateRequest {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data)),
                acl: Acl::open_unsafe(),
                flags,
            },
        );
        let p = if h.err == 0 {
            CreateResponse::decode(&mut r).unwrap().path
        } else {
            String::new()
        };
        (h.err, p)
    }

    pub fn exists(&mut self, path: &str) -> Option<Stat> {
        let (h, mut r) = self.call(
            OpCode::Exists,
            &ExistsRequest {
                path: path.into(),
                watch: false,
            },
        );
        (h.err == 0).then(|| ExistsResponse::decode(&mut r).unwrap().stat)
    }
}

/// One length-prefixed frame, or None when the server closed the connection.
pub fn read_frame(s: &mut TcpStream) -> Option<Bytes> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let n = i32::from_be_bytes(len) as usize;
    let mut b = vec![0u8; n];
    s.read_exact(&mut b).ok()?;
    Some(Bytes::from(b))
}

/// True once the peer has closed the connection (read returns 0 or an error).
pub fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}
