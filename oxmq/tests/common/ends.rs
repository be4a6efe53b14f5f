//! Sockets of either implementation behind one trait, for the interoperability tests: oxmq,
//! and libzmq through the `zmq` crate (which builds libzmq 4.3 from source).

use std::cell::RefCell;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use oxmq::{Context, Message, SocketType};

/// RCVTIMEO and SNDTIMEO of every socket, in milliseconds.
pub const TIMEOUT_MS: i32 = 10_000;

/// How long "nothing arrives" is watched for, in milliseconds.
pub const QUIET_MS: i32 = 300;

#[derive(Clone, Copy, Debug)]
pub enum Transport {
    Tcp,
    Ipc,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn unique() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn ipc_path() -> PathBuf {
    std::env::temp_dir().join(format!("oxmq-interop-{}.sock", unique()))
}

impl Transport {
    /// An endpoint to bind: tcp with a wildcard port (the binder's last endpoint resolves it), ipc
    /// with a fresh path.
    pub fn bind_spec(self) -> String {
        match self {
            Transport::Tcp => "tcp://127.0.0.1:*".to_owned(),
            Transport::Ipc => format!("ipc://{}", ipc_path().display()),
        }
    }

    /// A concrete endpoint that nobody listens on yet: a port the kernel just handed out (and
    /// that is free again), or a fresh ipc path.
    pub fn fixed_endpoint(self) -> String {
        match self {
            Transport::Tcp => {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                format!("tcp://{}", listener.local_addr().unwrap())
            }
            Transport::Ipc => self.bind_spec(),
        }
    }
}

/// One socket, of either implementation. Frames travel as byte vectors.
pub trait End: Send {
    /// Binds and returns the resolved endpoint.
    fn bind(&self, spec: &str) -> String;
    fn connect(&self, endpoint: &str);
    fn send(&self, frames: &[Vec<u8>]);
    /// The next message, or `None` when none arrives within `timeout_ms`.
    fn recv_within(&self, timeout_ms: i32) -> Option<Vec<Vec<u8>>>;

    /// SUB: subscribes to `topic`; XSUB: sends the subscription message.
    fn subscribe(&self, topic: &[u8]);
    /// Sets ROUTING_ID (before connecting or binding).
    fn set_routing_id(&self, id: &[u8]);
    /// Sets ROUTER_MANDATORY.
    fn set_router_mandatory(&self);
    /// Sets REQ_CORRELATE.
    fn set_req_correlate(&self);
    /// Sends without blocking; `false` when the message could not be sent now (EAGAIN,
    /// EHOSTUNREACH).
    fn try_send(&self, frames: &[Vec<u8>]) -> bool;

    /// The next message; panics when none arrives within [`TIMEOUT_MS`].
    fn recv(&self) -> Vec<Vec<u8>> {
        self.recv_within(TIMEOUT_MS)
            .unwrap_or_else(|| panic!("nothing received within {TIMEOUT_MS} ms"))
    }
}

/// An oxmq socket with a context of its own.
pub struct Ox {
    pub socket: oxmq::Socket,
    _ctx: Context,
}

pub fn ox(socket_type: SocketType) -> Ox {
    let ctx = Context::new();
    let socket = ctx.socket(socket_type).unwrap();
    socket.set_rcvtimeo(TIMEOUT_MS).unwrap();
    socket.set_sndtimeo(TIMEOUT_MS).unwrap();
    socket.set_linger(0).unwrap();
    Ox { socket, _ctx: ctx }
}

impl End for Ox {
    fn bind(&self, spec: &str) -> String {
        self.socket.bind(spec).unwrap();
        self.socket.last_endpoint()
    }

    fn connect(&self, endpoint: &str) {
        self.socket.connect(endpoint).unwrap();
    }

    fn send(&self, frames: &[Vec<u8>]) {
        let msg = Message::from_frames(frames.iter().map(Vec::as_slice));
        self.socket.send(msg).unwrap();
    }

    fn subscribe(&self, topic: &[u8]) {
        if self.socket.socket_type() == SocketType::XSub {
            let mut msg = vec![1u8];
            msg.extend_from_slice(topic);
            self.socket.send(msg).unwrap();
        } else {
            self.socket.subscribe(topic).unwrap();
        }
    }

    fn set_routing_id(&self, id: &[u8]) {
        self.socket.set_routing_id(id).unwrap();
    }

    fn set_router_mandatory(&self) {
        self.socket.set_router_mandatory(true).unwrap();
    }

    fn set_req_correlate(&self) {
        self.socket.set_req_correlate(true).unwrap();
    }

    fn try_send(&self, frames: &[Vec<u8>]) -> bool {
        let msg = Message::from_frames(frames.iter().map(Vec::as_slice));
        self.socket.try_send(msg).is_ok()
    }

    fn recv_within(&self, timeout_ms: i32) -> Option<Vec<Vec<u8>>> {
        self.socket.set_rcvtimeo(timeout_ms).unwrap();
        let got = self.socket.recv();
        self.socket.set_rcvtimeo(TIMEOUT_MS).unwrap();
        match got {
            Ok(msg) => Some(msg.iter().map(|frame| frame.to_vec()).collect()),
            Err(oxmq::Error::WouldBlock) => None,
            Err(err) => panic!("oxmq recv: {err}"),
        }
    }
}

/// A libzmq socket. It holds a reference to its context, which terminates when the last socket
/// of the context is closed.
pub struct Lz {
    pub socket: zmq::Socket,
    /// The ipc paths it bound: libzmq 4.3 leaves the files behind when it closes.
    ipc_files: RefCell<Vec<PathBuf>>,
}

impl Drop for Lz {
    fn drop(&mut self) {
        for path in self.ipc_files.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

pub fn lz_in(ctx: &zmq::Context, socket_type: zmq::SocketType) -> Lz {
    let socket = ctx.socket(socket_type).unwrap();
    socket.set_rcvtimeo(TIMEOUT_MS).unwrap();
    socket.set_sndtimeo(TIMEOUT_MS).unwrap();
    socket.set_linger(0).unwrap();
    Lz {
        socket,
        ipc_files: RefCell::default(),
    }
}

pub fn lz(socket_type: zmq::SocketType) -> Lz {
    lz_in(&zmq::Context::new(), socket_type)
}

impl End for Lz {
    fn bind(&self, spec: &str) -> String {
        self.socket.bind(spec).unwrap();
        if let Some(path) = spec.strip_prefix("ipc://") {
            self.ipc_files.borrow_mut().push(path.into());
        }
        self.socket.get_last_endpoint().unwrap().unwrap()
    }

    fn connect(&self, endpoint: &str) {
        self.socket.connect(endpoint).unwrap();
    }

    fn send(&self, frames: &[Vec<u8>]) {
        self.socket
            .send_multipart(frames.iter().map(Vec::as_slice), 0)
            .unwrap();
    }

    fn subscribe(&self, topic: &[u8]) {
        if self.socket.get_socket_type().unwrap() == zmq::XSUB {
            let mut msg = vec![1u8];
            msg.extend_from_slice(topic);
            self.socket.send(msg, 0).unwrap();
        } else {
            self.socket.set_subscribe(topic).unwrap();
        }
    }

    fn set_routing_id(&self, id: &[u8]) {
        self.socket.set_identity(id).unwrap();
    }

    fn set_router_mandatory(&self) {
        self.socket.set_router_mandatory(true).unwrap();
    }

    fn set_req_correlate(&self) {
        self.socket.set_req_correlate(true).unwrap();
    }

    fn try_send(&self, frames: &[Vec<u8>]) -> bool {
        self.socket
            .send_multipart(frames.iter().map(Vec::as_slice), zmq::DONTWAIT)
            .is_ok()
    }

    fn recv_within(&self, timeout_ms: i32) -> Option<Vec<Vec<u8>>> {
        self.socket.set_rcvtimeo(timeout_ms).unwrap();
        let got = self.socket.recv_multipart(0);
        self.socket.set_rcvtimeo(TIMEOUT_MS).unwrap();
        match got {
            Ok(frames) => Some(frames),
            Err(zmq::Error::EAGAIN) => None,
            Err(err) => panic!("libzmq recv: {err}"),
        }
    }
}

/// libzmq's socket type for an oxmq one.
pub fn zmq_type(socket_type: SocketType) -> zmq::SocketType {
    match socket_type {
        SocketType::Pair => zmq::PAIR,
        SocketType::Pub => zmq::PUB,
        SocketType::Sub => zmq::SUB,
        SocketType::Req => zmq::REQ,
        SocketType::Rep => zmq::REP,
        SocketType::Dealer => zmq::DEALER,
        SocketType::Router => zmq::ROUTER,
        SocketType::Pull => zmq::PULL,
        SocketType::Push => zmq::PUSH,
        SocketType::XPub => zmq::XPUB,
        SocketType::XSub => zmq::XSUB,
        SocketType::Stream => zmq::STREAM,
        other => panic!("libzmq has no stable {other:?} socket"),
    }
}

/// A socket of `socket_type` from oxmq or from libzmq.
pub fn either(oxmq: bool, socket_type: SocketType) -> Box<dyn End> {
    if oxmq {
        Box::new(ox(socket_type))
    } else {
        Box::new(lz(zmq_type(socket_type)))
    }
}
