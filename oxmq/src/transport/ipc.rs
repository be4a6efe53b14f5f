//! `ipc://`: Unix domain stream sockets, by filesystem path or Linux abstract name.

use std::io;
use std::os::unix::net::SocketAddr;
use std::path::PathBuf;

use mio::net::{UnixListener, UnixStream};
use socket2::SockRef;

use super::{Listener, Stream, TransportOptions, set_buffers};

/// A listening Unix socket; removes its file when dropped.
pub(crate) struct IpcListener {
    pub(crate) listener: UnixListener,
    path: Option<PathBuf>,
}

impl Drop for IpcListener {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds a listener to `addr`.
pub(crate) fn bind(addr: &SocketAddr, opts: &TransportOptions) -> io::Result<Listener> {
    let path = addr.as_pathname().map(PathBuf::from);
    if let Some(path) = &path {
        // As libzmq does: a file left behind by an earlier run is removed first.
        let _ = std::fs::remove_file(path);
    }
    let listener = UnixListener::bind_addr(addr)?;
    set_buffers(SockRef::from(&listener), opts.sndbuf, opts.rcvbuf)?;
    Ok(Listener::Ipc(IpcListener { listener, path }))
}

/// Starts a connect.
pub(crate) fn connect(addr: &SocketAddr, opts: &TransportOptions) -> io::Result<Stream> {
    let stream = UnixStream::connect_addr(addr)?;
    set_buffers(SockRef::from(&stream), opts.sndbuf, opts.rcvbuf)?;
    Ok(Stream::Ipc(stream))
}
