//! `tcp://`: TCP over IPv4 and IPv6.

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::{Listener, Stream, TransportOptions, set_buffers};

/// Binds a listener to `addr`; returns it with the address it is reachable at (the real port
/// for an ephemeral bind).
pub(crate) fn bind(
    addr: SocketAddr,
    opts: &TransportOptions,
) -> io::Result<(Listener, SocketAddr)> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        // libzmq binds `*` dual-stack when IPv6 is enabled.
        let _ = socket.set_only_v6(false);
    }
    socket.set_reuse_address(true)?;
    set_buffers(SockRef::from(&socket), opts.sndbuf, opts.rcvbuf)?;
    socket.bind(&addr.into())?;
    socket.listen(opts.backlog.max(1))?;
    socket.set_nonblocking(true)?;
    let local = socket.local_addr()?.as_socket().unwrap_or(addr);
    let listener = TcpListener::from_std(socket.into());
    Ok((Listener::Tcp(listener), local))
}

/// Starts a non-blocking connect, from `source` when given (`tcp://source;host:port`).
pub(crate) fn connect(
    addr: SocketAddr,
    source: Option<SocketAddr>,
    opts: &TransportOptions,
) -> io::Result<Stream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    set_buffers(SockRef::from(&socket), opts.sndbuf, opts.rcvbuf)?;
    if let Some(source) = source {
        // As libzmq: several sockets may connect from one source port to different peers.
        socket.set_reuse_address(true)?;
        socket.bind(&source.into())?;
    }
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(err)
            if err.raw_os_error() == Some(libc::EINPROGRESS)
                || err.kind() == io::ErrorKind::WouldBlock => {}
        Err(err) => return Err(err),
    }
    let stream = TcpStream::from_std(socket.into());
    tune(&stream);
    Ok(Stream::Tcp(stream))
}

/// Per-connection TCP settings: no Nagle delay, batching is done in user space.
pub(crate) fn tune(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
}
