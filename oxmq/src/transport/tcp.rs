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
    if let Some(socket) = super::adopt_listener(opts.use_fd)? {
        let local = socket.local_addr()?.as_socket().unwrap_or(addr);
        return Ok((Listener::Tcp(TcpListener::from_std(socket.into())), local));
    }
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        // libzmq binds `*` dual-stack when IPv6 is enabled.
        let _ = socket.set_only_v6(false);
    }
    socket.set_reuse_address(true)?;
    set_buffers(SockRef::from(&socket), opts.sndbuf, opts.rcvbuf)?;
    set_ip_options(&socket, addr, opts)?;
    socket.bind(&addr.into())?;
    socket.listen(opts.backlog.max(1))?;
    socket.set_nonblocking(true)?;
    let local = socket.local_addr()?.as_socket().unwrap_or(addr);
    let listener = TcpListener::from_std(socket.into());
    Ok((Listener::Tcp(listener), local))
}

/// Starts a non-blocking connect, from `source` when given (`tcp://source;host:port`). Says
/// whether the connect is still in progress (EINPROGRESS).
pub(crate) fn connect(
    addr: SocketAddr,
    source: Option<SocketAddr>,
    opts: &TransportOptions,
) -> io::Result<(Stream, bool)> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    set_buffers(SockRef::from(&socket), opts.sndbuf, opts.rcvbuf)?;
    set_ip_options(&socket, addr, opts)?;
    if let Some(source) = source {
        // As libzmq: several sockets may connect from one source port to different peers.
        socket.set_reuse_address(true)?;
        socket.bind(&source.into())?;
    }
    let in_progress = match socket.connect(&addr.into()) {
        Ok(()) => false,
        Err(err)
            if err.raw_os_error() == Some(libc::EINPROGRESS)
                || err.kind() == io::ErrorKind::WouldBlock =>
        {
            true
        }
        Err(err) => return Err(err),
    };
    let stream = TcpStream::from_std(socket.into());
    tune(&stream);
    Ok((Stream::Tcp(stream), in_progress))
}

/// ZMQ_TOS and ZMQ_BINDTODEVICE, on a listener (its connections inherit them) or a connecting
/// socket.
fn set_ip_options(socket: &Socket, addr: SocketAddr, opts: &TransportOptions) -> io::Result<()> {
    if let Ok(tos) = u32::try_from(opts.tos) {
        if tos != 0 {
            if addr.is_ipv4() {
                socket.set_tos_v4(tos)?;
            } else {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                socket.set_tclass_v6(tos)?;
            }
        }
    }
    if !opts.bind_device.is_empty() {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        socket.bind_device(Some(&opts.bind_device))?;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
    set_liveness(socket, opts)
}

/// ZMQ_TCP_KEEPALIVE (with its count, idle time and interval) and ZMQ_TCP_MAXRT, on a
/// listener (Linux hands them to the connections it accepts) or a connecting socket. A value
/// of -1 (0 for MAXRT) leaves the kernel's.
fn set_liveness(socket: &Socket, opts: &TransportOptions) -> io::Result<()> {
    if opts.keepalive >= 0 {
        socket.set_keepalive(opts.keepalive == 1)?;
    }
    if opts.keepalive == 1 {
        let mut params = socket2::TcpKeepalive::new();
        if opts.keepalive_idle > 0 {
            params = params.with_time(std::time::Duration::from_secs(opts.keepalive_idle as u64));
        }
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
        {
            if opts.keepalive_intvl > 0 {
                params = params
                    .with_interval(std::time::Duration::from_secs(opts.keepalive_intvl as u64));
            }
            if opts.keepalive_cnt > 0 {
                params = params.with_retries(opts.keepalive_cnt as u32);
            }
        }
        socket.set_tcp_keepalive(&params)?;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if opts.priority > 0 {
        socket.set_priority(opts.priority as u32)?;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if opts.maxrt > 0 {
        socket.set_tcp_user_timeout(Some(std::time::Duration::from_millis(opts.maxrt as u64)))?;
    }
    Ok(())
}

/// Per-connection TCP settings: no Nagle delay, batching is done in user space.
pub(crate) fn tune(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
}
