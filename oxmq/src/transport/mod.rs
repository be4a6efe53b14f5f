//! Byte-stream transports: how a connection is made and how bytes move, nothing about ZMTP.
//!
//! The engine sees only [`Stream`] (read into a buffer, vectored write) and [`Listener`] (accept).
//! `tcp.rs` and `ipc.rs` create them; inproc has no stream at all (see `inproc`).

pub(crate) mod inproc;
pub(crate) mod ipc;
pub(crate) mod tcp;

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;

use bytes::{BufMut, BytesMut};
use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixStream};
use socket2::SockRef;

/// `MSG_NOSIGNAL`: report EPIPE instead of raising SIGPIPE (where the platform has it; elsewhere
/// SO_NOSIGPIPE or an ignored SIGPIPE is needed).
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
const MSG_NOSIGNAL: i32 = libc::MSG_NOSIGNAL;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
const MSG_NOSIGNAL: i32 = 0;

/// The socket options a transport reads when it opens a listener or a connection.
#[derive(Clone, Debug)]
pub(crate) struct TransportOptions {
    /// SO_SNDBUF (-1: the kernel's).
    pub sndbuf: i32,
    /// SO_RCVBUF (-1: the kernel's).
    pub rcvbuf: i32,
    /// The listen queue length.
    pub backlog: i32,
    /// IP_TOS (IPv4) or IPV6_TCLASS (IPv6) of tcp sockets; 0 leaves the kernel's.
    pub tos: i32,
    /// SO_BINDTODEVICE: the network interface tcp sockets are bound to (empty: none).
    pub bind_device: Vec<u8>,
    /// ZMQ_USE_FD: a listening socket the application made, for the next bind to adopt
    /// instead of making one (-1: none).
    pub use_fd: i32,
    /// SO_KEEPALIVE of tcp connections: -1 the kernel's, 0 off, 1 on; TCP_KEEPCNT,
    /// TCP_KEEPIDLE and TCP_KEEPINTVL (seconds; -1 the kernel's).
    pub keepalive: i32,
    pub keepalive_cnt: i32,
    pub keepalive_idle: i32,
    pub keepalive_intvl: i32,
    /// TCP_USER_TIMEOUT of tcp connections in milliseconds (0: the kernel's).
    pub maxrt: i32,
    /// SO_PRIORITY of tcp sockets (0: the kernel's).
    pub priority: i32,
}

/// The application's listening socket for a bind (ZMQ_USE_FD), checked to be a stream socket
/// that listens: it is then the listener's, and closed with it.
pub(crate) fn adopt_listener(fd: i32) -> io::Result<Option<socket2::Socket>> {
    use std::os::fd::FromRawFd;
    if fd < 0 {
        return Ok(None);
    }
    let mut kind: libc::c_int = 0;
    let mut accepting: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into the ints given; `fd` is only read.
    let checked = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&raw mut kind).cast(),
            &mut len,
        ) == 0
            && libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ACCEPTCONN,
                (&raw mut accepting).cast(),
                &mut len,
            ) == 0
    };
    if !checked || kind != libc::SOCK_STREAM || accepting == 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: a listening stream socket that the application handed over with ZMQ_USE_FD
    // (libzmq's contract: the socket owns it from the bind on).
    let socket = unsafe { socket2::Socket::from_raw_fd(fd) };
    socket.set_nonblocking(true)?;
    Ok(Some(socket))
}

/// One end of a connection: a TCP address, or a Unix socket's name (`None` for an unnamed
/// one, such as a connecting ipc socket's own end).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EndName {
    Tcp(std::net::SocketAddr),
    /// A path, or an abstract name starting with `@`.
    Ipc(Option<String>),
}

fn unix_name(addr: &std::os::unix::net::SocketAddr) -> Option<String> {
    if let Some(path) = addr.as_pathname() {
        return Some(path.to_string_lossy().into_owned());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt;
        if let Some(name) = addr.as_abstract_name() {
            return Some(format!("@{}", String::from_utf8_lossy(name)));
        }
    }
    None
}

/// A connected byte stream.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Ipc(UnixStream),
}

impl Stream {
    /// The registrable event source.
    pub(crate) fn source(&mut self) -> &mut dyn Source {
        match self {
            Stream::Tcp(s) => s,
            Stream::Ipc(s) => s,
        }
    }

    /// The file descriptor, to register with the poller while the stream is shared.
    pub(crate) fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Ipc(s) => s.as_raw_fd(),
        }
    }

    /// Reads at most `max` bytes into the spare capacity of `buf` without zero-filling it first.
    pub(crate) fn read_into(&self, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
        buf.reserve(max);
        let spare = buf.spare_capacity_mut();
        let len = spare.len().min(max);
        let spare: &mut [MaybeUninit<u8>] = &mut spare[..len];
        let n = match self {
            Stream::Tcp(s) => SockRef::from(s).recv(spare)?,
            Stream::Ipc(s) => SockRef::from(s).recv(spare)?,
        };
        debug_assert!(n <= len);
        // SAFETY: `recv` initialised the first `n` bytes of the spare capacity (the kernel wrote
        // them), and `n <= len <= spare capacity`, so those bytes are now valid, initialised
        // parts of the buffer.
        unsafe { buf.advance_mut(n) };
        Ok(n)
    }

    /// Writes the slices with one `sendmsg`, without raising SIGPIPE when the peer is gone (a
    /// host program that does not ignore SIGPIPE would otherwise be killed; the error is
    /// reported instead).
    pub(crate) fn write_vectored(&self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        let sock = match self {
            Stream::Tcp(s) => SockRef::from(s),
            Stream::Ipc(s) => SockRef::from(s),
        };
        sock.send_vectored_with_flags(slices, MSG_NOSIGNAL)
    }

    /// Shuts down the sending side (`shutdown(SHUT_WR)`): the peer reads what was sent, then the
    /// end of the stream. Unlike `close()`, this raises no hang-up at an ipc peer, and the
    /// connection stays open for reading.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Ipc(s) => s.shutdown(std::net::Shutdown::Write),
        }
    }

    /// Reads into `scratch` and forgets it (a closing connection's input). Returns the number of
    /// bytes read; 0 is the end of the stream.
    pub(crate) fn discard_input(&self, scratch: &mut [u8]) -> io::Result<usize> {
        use std::io::Read;
        match self {
            Stream::Tcp(s) => (&*s).read(scratch),
            Stream::Ipc(s) => (&*s).read(scratch),
        }
    }

    /// The bytes written that the peer has not taken yet, where the platform tells (`SIOCOUTQ`):
    /// for ipc, not yet read by the peer process; for tcp, not yet acknowledged by the peer.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn unsent_bytes(&self) -> Option<usize> {
        let mut queued: libc::c_int = 0;
        // SAFETY: `fd()` is an open socket owned by `self`, and SIOCOUTQ (TIOCOUTQ) writes one
        // `int` through the pointer, which points at a live, writable `c_int`.
        let rc = unsafe { libc::ioctl(self.fd(), libc::TIOCOUTQ, &mut queued as *mut libc::c_int) };
        if rc == 0 {
            usize::try_from(queued).ok()
        } else {
            None
        }
    }

    /// The bytes written that the peer has not taken yet: unknown on this platform.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn unsent_bytes(&self) -> Option<usize> {
        None
    }

    /// The pending connect error of a non-blocking connect, if any.
    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(s) => s.take_error(),
            Stream::Ipc(s) => s.take_error(),
        }
    }

    /// Whether a non-blocking connect finished (the peer address is known).
    pub(crate) fn is_connected(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.peer_addr().is_ok(),
            Stream::Ipc(s) => s.peer_addr().is_ok(),
        }
    }

    /// This end's name (`getsockname`), if the system gives one.
    pub(crate) fn local_name(&self) -> Option<EndName> {
        match self {
            Stream::Tcp(s) => s.local_addr().ok().map(EndName::Tcp),
            Stream::Ipc(s) => s.local_addr().ok().map(|a| EndName::Ipc(unix_name(&a))),
        }
    }

    /// The other end's name (`getpeername`), if the system gives one.
    pub(crate) fn peer_name(&self) -> Option<EndName> {
        match self {
            Stream::Tcp(s) => s.peer_addr().ok().map(EndName::Tcp),
            Stream::Ipc(s) => s.peer_addr().ok().map(|a| EndName::Ipc(unix_name(&a))),
        }
    }

    /// The peer's IP address (tcp).
    pub(crate) fn peer_addr(&self) -> Option<std::net::IpAddr> {
        match self {
            Stream::Tcp(s) => s.peer_addr().ok().map(|a| a.ip()),
            Stream::Ipc(_) => None,
        }
    }

    /// The credentials of the process at the other end (ipc).
    pub(crate) fn peer_credentials(&self) -> Option<ipc::Credentials> {
        match self {
            Stream::Tcp(_) => None,
            Stream::Ipc(s) => ipc::credentials(s),
        }
    }

    /// The supplementary groups of the process at the other end (ipc), as it connected.
    pub(crate) fn peer_groups(&self) -> Vec<u32> {
        match self {
            Stream::Tcp(_) => Vec::new(),
            Stream::Ipc(s) => ipc::peer_groups(s),
        }
    }

    /// The peer's IP address (tcp), as libzmq's `Peer-Address` property gives it.
    pub(crate) fn peer_ip(&self) -> Option<String> {
        match self {
            Stream::Tcp(s) => s.peer_addr().ok().map(|a| a.ip().to_string()),
            Stream::Ipc(_) => None,
        }
    }

    /// A printable peer address for logs.
    pub(crate) fn peer_string(&self) -> String {
        match self {
            Stream::Tcp(s) => s
                .peer_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "?".into()),
            Stream::Ipc(_) => "ipc peer".into(),
        }
    }
}

/// A bound, listening socket.
pub(crate) enum Listener {
    Tcp(TcpListener),
    Ipc(ipc::IpcListener),
}

impl Listener {
    /// The registrable event source.
    pub(crate) fn source(&mut self) -> &mut dyn Source {
        match self {
            Listener::Tcp(l) => l,
            Listener::Ipc(l) => &mut l.listener,
        }
    }

    /// The listening descriptor.
    pub(crate) fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Ipc(l) => l.listener.as_raw_fd(),
        }
    }

    /// Accepts one pending connection.
    pub(crate) fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => {
                let (stream, _) = l.accept()?;
                tcp::tune(&stream);
                Ok(Stream::Tcp(stream))
            }
            Listener::Ipc(l) => Ok(Stream::Ipc(l.listener.accept()?.0)),
        }
    }
}

/// Applies SO_SNDBUF / SO_RCVBUF when set (-1 leaves the kernel's autotuning alone).
pub(crate) fn set_buffers(sock: SockRef<'_>, sndbuf: i32, rcvbuf: i32) -> io::Result<()> {
    if let Ok(size) = usize::try_from(sndbuf) {
        sock.set_send_buffer_size(size)?;
    }
    if let Ok(size) = usize::try_from(rcvbuf) {
        sock.set_recv_buffer_size(size)?;
    }
    Ok(())
}
