//! What a connection told about itself: the metadata of the messages that come through it.
//!
//! After a ZMTP handshake the session knows the peer's READY properties (`Socket-Type`,
//! `Identity`, application `X-` properties) and its address. It sends them to the socket in
//! band, as a control message ahead of the connection's first message, so that every message
//! read after it belongs to that connection (a reconnect sends new metadata in order with the
//! data). The pipe's reader keeps the newest; socket types note the reader of each message they
//! deliver, and [`Socket::last_metadata`](crate::Socket::last_metadata) gives it. Inproc peers
//! have none, as in libzmq.

use std::ffi::CStr;

use bytes::{BufMut, Bytes};
use oxmq_proto::metadata::Metadata;

/// The properties of the connection a message came from, as libzmq's `zmq_msg_gets` reads them:
/// the peer's READY properties, and `Peer-Address` (the peer's IP address, tcp only).
///
/// Names are compared without regard to case; `Routing-Id` also finds `Identity`.
///
/// ```no_run
/// use oxmq::{Context, SocketType};
///
/// let ctx = Context::new();
/// let pull = ctx.socket(SocketType::Pull)?;
/// pull.bind("tcp://127.0.0.1:5555")?;
/// let msg = pull.recv()?;
/// if let Some(meta) = pull.last_metadata() {
///     println!("from {:?}, a {:?}", meta.get_str("Peer-Address"), meta.get_str("Socket-Type"));
/// }
/// # Ok::<(), oxmq::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerMetadata {
    /// Each value is stored with a NUL after it, so that C callers can read it as a string.
    entries: Vec<(String, Vec<u8>)>,
    /// The connection's file descriptor (libzmq's deprecated `ZMQ_SRCFD`).
    fd: Option<i32>,
}

/// The property libzmq adds with the peer's IP address.
const PEER_ADDRESS: &str = "Peer-Address";

impl PeerMetadata {
    /// The metadata of a connection: the peer's READY properties, its address (tcp) and its
    /// file descriptor.
    pub(crate) fn new(
        properties: &Metadata,
        peer_address: Option<&str>,
        fd: Option<i32>,
    ) -> PeerMetadata {
        let mut entries: Vec<(String, Vec<u8>)> = properties
            .iter()
            .map(|(name, value)| (name.to_owned(), with_nul(value)))
            .collect();
        if let Some(address) = peer_address {
            entries.push((PEER_ADDRESS.to_owned(), with_nul(address.as_bytes())));
        }
        PeerMetadata { entries, fd }
    }

    /// The file descriptor of the connection (`ZMQ_SRCFD`, deprecated in libzmq): for looking
    /// at the socket (`getpeername`), not for reading or writing it. It may be closed, or
    /// reused for another file, once the connection is gone.
    pub fn source_fd(&self) -> Option<i32> {
        self.fd
    }

    /// The value of property `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.get_with_nul(name).map(|v| &v[..v.len() - 1])
    }

    /// The value of property `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The value of property `name` as a C string (for `zmq_msg_gets`): its bytes and a NUL. A
    /// value holding a NUL byte reads shorter in C, as it does in libzmq.
    pub fn get_c(&self, name: &str) -> Option<&CStr> {
        self.get_with_nul(name)
            .and_then(|v| CStr::from_bytes_until_nul(v).ok())
    }

    fn get_with_nul(&self, name: &str) -> Option<&Vec<u8>> {
        let find = |name: &str| {
            self.entries
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        find(name).or_else(|| {
            name.eq_ignore_ascii_case("Routing-Id")
                .then(|| find("Identity"))
                .flatten()
        })
    }

    /// The properties, in order, without their NULs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries
            .iter()
            .map(|(n, v)| (n.as_str(), &v[..v.len() - 1]))
    }

    /// The form that travels through a pipe: the file descriptor (four bytes, -1 for none),
    /// then each property as a name length (one byte), the name, a value length (four bytes,
    /// big-endian) and the value.
    pub(crate) fn encode(&self) -> Bytes {
        let mut out = Vec::new();
        out.put_i32(self.fd.unwrap_or(-1));
        for (name, value) in self.iter() {
            out.put_u8(name.len() as u8);
            out.put_slice(name.as_bytes());
            out.put_u32(value.len() as u32);
            out.put_slice(value);
        }
        Bytes::from(out)
    }

    /// The inverse of [`encode`](Self::encode); `None` for bytes it did not write.
    pub(crate) fn decode(body: &[u8]) -> Option<PeerMetadata> {
        let (fd, mut body) = body.split_first_chunk::<4>()?;
        let fd = Some(i32::from_be_bytes(*fd)).filter(|fd| *fd >= 0);
        let mut entries = Vec::new();
        while let Some((&name_len, rest)) = body.split_first() {
            let (name, rest) = rest.split_at_checked(usize::from(name_len))?;
            let (len, rest) = rest.split_first_chunk::<4>()?;
            let (value, rest) = rest.split_at_checked(u32::from_be_bytes(*len) as usize)?;
            entries.push((std::str::from_utf8(name).ok()?.to_owned(), with_nul(value)));
            body = rest;
        }
        Some(PeerMetadata { entries, fd })
    }
}

fn with_nul(value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(value.len() + 1);
    v.extend_from_slice(value);
    v.push(0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip_and_read_as_libzmq_reads_them() {
        let mut ready = Metadata::new();
        ready.insert("Socket-Type", "DEALER");
        ready.insert("Identity", "client-1");
        ready.insert("X-Hello", Bytes::from_static(b"a\0b"));
        let meta = PeerMetadata::new(&ready, Some("127.0.0.1"), Some(7));
        assert_eq!(meta.get_str("socket-type"), Some("DEALER"));
        assert_eq!(meta.get("Routing-Id"), Some(&b"client-1"[..]), "an alias");
        assert_eq!(meta.get_c("Peer-Address").unwrap().to_bytes(), b"127.0.0.1");
        assert_eq!(meta.get("X-Hello"), Some(&b"a\0b"[..]));
        assert_eq!(meta.get_c("X-Hello").unwrap().to_bytes(), b"a");
        assert_eq!(meta.get("User-Id"), None);
        let again = PeerMetadata::decode(&meta.encode()).unwrap();
        assert_eq!(again, meta);
        assert_eq!(again.source_fd(), Some(7));
        assert_eq!(
            PeerMetadata::decode(&[0, 0, 0, 0, 3, b'a']),
            None,
            "truncated"
        );
        assert_eq!(PeerMetadata::decode(&[]), None);
        assert_eq!(
            PeerMetadata::decode(&[0xff, 0xff, 0xff, 0xff]),
            Some(PeerMetadata::default())
        );
    }
}
