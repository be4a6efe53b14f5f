//! `ipc://`: Unix domain stream sockets, by filesystem path or Linux abstract name.

use std::io;
use std::os::unix::net::SocketAddr;
use std::path::PathBuf;

use mio::net::{UnixListener, UnixStream};
use socket2::SockRef;

use super::{Listener, Stream, TransportOptions, set_buffers};

/// A listening Unix socket; removes its file when dropped, unless the path names another file
/// by then.
pub(crate) struct IpcListener {
    pub(crate) listener: UnixListener,
    /// The path and the identity (device, inode) of the socket file this listener made.
    path: Option<(PathBuf, (u64, u64))>,
}

impl Drop for IpcListener {
    fn drop(&mut self) {
        // A listener is dropped on the I/O thread, some time after the socket closed or
        // unbound; by then another socket may have bound the same path (libzmq's
        // test_rebind_ipc does exactly that). Removing the path then would take the new
        // listener's file away, so it is removed only while it is still ours.
        if let Some((path, ours)) = &self.path {
            if file_identity(path).is_some_and(|now| now == *ours) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

fn file_identity(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// Binds a listener to `addr`.
pub(crate) fn bind(addr: &SocketAddr, opts: &TransportOptions) -> io::Result<Listener> {
    if let Some(socket) = super::adopt_listener(opts.use_fd)? {
        // The application made the file; it stays the application's to remove.
        let listener = UnixListener::from_std(socket.into());
        return Ok(Listener::Ipc(IpcListener {
            listener,
            path: None,
        }));
    }
    let path = addr.as_pathname().map(PathBuf::from);
    if let Some(path) = &path {
        // As libzmq does: a file left behind by an earlier run is removed first.
        let _ = std::fs::remove_file(path);
    }
    let listener = UnixListener::bind_addr(addr)?;
    let path = path.and_then(|path| file_identity(&path).map(|identity| (path, identity)));
    set_buffers(SockRef::from(&listener), opts.sndbuf, opts.rcvbuf)?;
    Ok(Listener::Ipc(IpcListener { listener, path }))
}

/// Starts a connect.
pub(crate) fn connect(addr: &SocketAddr, opts: &TransportOptions) -> io::Result<Stream> {
    let stream = UnixStream::connect_addr(addr)?;
    set_buffers(SockRef::from(&stream), opts.sndbuf, opts.rcvbuf)?;
    Ok(Stream::Ipc(stream))
}
