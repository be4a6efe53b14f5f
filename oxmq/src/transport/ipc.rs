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

/// The process at the other end of an ipc connection, as the kernel recorded it when the
/// connection was made (SO_PEERCRED).
pub(crate) struct Credentials {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// Reads the peer's credentials; `None` when the kernel does not say.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn credentials(stream: &UnixStream) -> Option<Credentials> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`, a live, writable `ucred`;
    // the descriptor belongs to `stream`, which outlives the call.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if rc != 0 || len as usize != std::mem::size_of::<libc::ucred>() {
        return None;
    }
    Some(Credentials {
        pid: cred.pid,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// Peer credentials are read on Linux only: elsewhere a credential filter refuses every peer.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn credentials(_stream: &UnixStream) -> Option<Credentials> {
    None
}

/// SO_PEERGROUPS (Linux 4.13), the same number on every architecture but SPARC.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(target_arch = "sparc64")
))]
const SO_PEERGROUPS: libc::c_int = 59;

/// The supplementary groups the peer had when it connected (SO_PEERGROUPS), so that a process
/// that has exited since cannot lend its groups to another with the same pid. Empty when the
/// kernel does not say.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(target_arch = "sparc64")
))]
pub(crate) fn peer_groups(stream: &UnixStream) -> Vec<u32> {
    use std::os::fd::AsRawFd;
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    for _ in 0..2 {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `groups`, whose buffer holds that
        // many; the descriptor belongs to `stream`, which outlives the call.
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let count = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(count);
            return groups;
        }
        // ERANGE: `len` says how much room the list needs.
        if io::Error::last_os_error().raw_os_error() != Some(libc::ERANGE) || count <= groups.len()
        {
            break;
        }
        groups.resize(count, 0);
    }
    Vec::new()
}

/// See the Linux version.
#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    not(target_arch = "sparc64")
)))]
pub(crate) fn peer_groups(_stream: &UnixStream) -> Vec<u32> {
    Vec::new()
}

/// Starts a connect.
pub(crate) fn connect(addr: &SocketAddr, opts: &TransportOptions) -> io::Result<Stream> {
    let stream = UnixStream::connect_addr(addr)?;
    set_buffers(SockRef::from(&stream), opts.sndbuf, opts.rcvbuf)?;
    Ok(Stream::Ipc(stream))
}
