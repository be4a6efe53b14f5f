//! A hand-written ZMTP 3.1 peer over TCP, for tests that need to see or shape the bytes on the
//! wire (filtering at the publisher, malformed commands, lying peers).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A frame as it travels: flags byte and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub flags: u8,
    pub body: Vec<u8>,
}

impl RawFrame {
    pub fn more(&self) -> bool {
        self.flags & 0x01 != 0
    }

    pub fn is_command(&self) -> bool {
        self.flags & 0x04 != 0
    }
}

/// One raw connection.
pub struct RawPeer {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// Encodes a frame (LONG form above 255 bytes).
pub fn encode_frame(flags: u8, body: &[u8]) -> Vec<u8> {
    let mut out = match u8::try_from(body.len()) {
        Ok(short) => vec![flags, short],
        Err(_) => {
            let mut head = vec![flags | 0x02];
            head.extend_from_slice(&(body.len() as u64).to_be_bytes());
            head
        }
    };
    out.extend_from_slice(body);
    out
}

/// A command body: name length, name, data.
pub fn command_body(name: &str, data: &[u8]) -> Vec<u8> {
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    body
}

/// A PING command body: TTL in deciseconds, then the context.
pub fn ping_body(ttl: u16, context: &[u8]) -> Vec<u8> {
    let mut data = ttl.to_be_bytes().to_vec();
    data.extend_from_slice(context);
    command_body("PING", &data)
}

impl RawPeer {
    /// Connects to `tcp://host:port`, sends a ZMTP 3.`minor` NULL greeting and a READY for
    /// `socket_type` (with `identity` if given), and reads the peer's greeting and READY.
    pub fn connect(
        endpoint: &str,
        socket_type: &str,
        minor: u8,
        identity: Option<&[u8]>,
    ) -> RawPeer {
        let address = endpoint.trim_start_matches("tcp://");
        let stream = TcpStream::connect(address).expect("raw connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut peer = RawPeer {
            stream,
            buf: Vec::new(),
        };
        peer.handshake(socket_type, minor, identity);
        peer
    }

    fn handshake(&mut self, socket_type: &str, minor: u8, identity: Option<&[u8]>) {
        let peer = self;
        let mut greeting = [0u8; 64];
        greeting[0] = 0xFF;
        greeting[9] = 0x7F;
        greeting[10] = 3;
        greeting[11] = minor;
        greeting[12..16].copy_from_slice(b"NULL");
        peer.write(&greeting);
        let mut ready = b"\x05READY".to_vec();
        let mut prop = |name: &[u8], value: &[u8]| {
            ready.push(name.len() as u8);
            ready.extend_from_slice(name);
            ready.extend_from_slice(&(value.len() as u32).to_be_bytes());
            ready.extend_from_slice(value);
        };
        prop(b"Socket-Type", socket_type.as_bytes());
        if let Some(identity) = identity {
            prop(b"Identity", identity);
        }
        peer.write(&encode_frame(0x04, &ready));
        let greeting = peer
            .read_bytes(64, Duration::from_secs(5))
            .expect("peer greeting");
        assert_eq!(greeting[0], 0xFF, "greeting {greeting:?}");
        let ready = peer.recv_frame(Duration::from_secs(5)).expect("peer READY");
        assert!(
            ready.is_command() && ready.body.starts_with(b"\x05READY"),
            "{ready:?}"
        );
    }

    /// Serves an accepted connection as a ZMTP 3.`minor` `socket_type` peer.
    pub fn accept(stream: TcpStream, socket_type: &str, minor: u8) -> RawPeer {
        stream.set_nodelay(true).expect("nodelay");
        let mut peer = RawPeer {
            stream,
            buf: Vec::new(),
        };
        peer.handshake(socket_type, minor, None);
        peer
    }

    /// Writes raw bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("raw write");
    }

    /// Sends a command frame with this body.
    pub fn send_command(&mut self, body: &[u8]) {
        self.write(&encode_frame(0x04, body));
    }

    /// Sends a multi-part message.
    pub fn send_message(&mut self, frames: &[&[u8]]) {
        let mut bytes = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            let more = if i + 1 < frames.len() { 0x01 } else { 0 };
            bytes.extend(encode_frame(more, frame));
        }
        self.write(&bytes);
    }

    fn read_bytes(&mut self, n: usize, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        while self.buf.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    /// The next frame, or `None` after `timeout` or when the connection closed.
    pub fn recv_frame(&mut self, timeout: Duration) -> Option<RawFrame> {
        let head = self.read_bytes(2, timeout)?;
        let flags = head[0];
        let size = if flags & 0x02 == 0 {
            usize::from(head[1])
        } else {
            let rest = self.read_bytes(7, timeout)?;
            let mut long = [0u8; 8];
            long[0] = head[1];
            long[1..].copy_from_slice(&rest);
            u64::from_be_bytes(long) as usize
        };
        let body = self.read_bytes(size, timeout)?;
        Some(RawFrame { flags, body })
    }

    /// The next data message (commands are skipped), or `None` after `timeout`.
    pub fn recv_message(&mut self, timeout: Duration) -> Option<Vec<Vec<u8>>> {
        let mut frames = Vec::new();
        loop {
            let frame = self.recv_frame(timeout)?;
            if frame.is_command() {
                continue;
            }
            let more = frame.more();
            frames.push(frame.body);
            if !more {
                return Some(frames);
            }
        }
    }

    /// Whether the other side closed the connection within `timeout`.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return false;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
    }
}
