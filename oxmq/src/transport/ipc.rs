//! `ipc://`: Unix domain stream sockets, by filesystem path or Linux abstract name.

use std::io;
use std::os::unix::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use mio::net::{UnixListener, UnixStream};
use socket2::SockRef;

use super::{Listener, Stream, TransportOptions, set_buffers};
use crate::endpoint::IpcEndpoint;
use crate::error::{Error, Result};

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

fn socket_addr(endpoint: &IpcEndpoint) -> Result<SocketAddr> {
    match endpoint {
        IpcEndpoint::Path(path) => SocketAddr::from_pathname(path).map_err(|_| Error::Invalid),
        IpcEndpoint::Abstract(name) => abstract_addr(name),
        IpcEndpoint::Any => Err(Error::Invalid),
    }
}

#[cfg(target_os = "linux")]
fn abstract_addr(name: &[u8]) -> Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name).map_err(|_| Error::Invalid)
}

#[cfg(not(target_os = "linux"))]
fn abstract_addr(_name: &[u8]) -> Result<SocketAddr> {
    Err(Error::NotSupported)
}

/// A fresh path for `ipc://*`.
fn temporary_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("oxmq-{}-{n}.ipc", std::process::id()))
}

/// Binds a listener; returns it with its endpoint string.
pub(crate) fn bind(endpoint: &IpcEndpoint, opts: &TransportOptions) -> Result<(Listener, String)> {
    let endpoint = match endpoint {
        IpcEndpoint::Any => IpcEndpoint::Path(temporary_path()),
        other => other.clone(),
    };
    let (path, text) = match &endpoint {
        IpcEndpoint::Path(path) => {
            // As libzmq does: a file left behind by an earlier run is removed first.
            let _ = std::fs::remove_file(path);
            (Some(path.clone()), format!("ipc://{}", path.display()))
        }
        IpcEndpoint::Abstract(name) => (None, format!("ipc://@{}", String::from_utf8_lossy(name))),
        IpcEndpoint::Any => return Err(Error::Invalid),
    };
    let addr = socket_addr(&endpoint)?;
    let listener = UnixListener::bind_addr(&addr)?;
    set_buffers(SockRef::from(&listener), opts.sndbuf, opts.rcvbuf)?;
    Ok((Listener::Ipc(IpcListener { listener, path }), text))
}

/// Starts a connect.
pub(crate) fn connect(endpoint: &IpcEndpoint, opts: &TransportOptions) -> io::Result<Stream> {
    let addr = socket_addr(endpoint).map_err(io::Error::from)?;
    let stream = UnixStream::connect_addr(&addr)?;
    set_buffers(SockRef::from(&stream), opts.sndbuf, opts.rcvbuf)?;
    Ok(Stream::Ipc(stream))
}

/// Checks an ipc endpoint can be connected to (syntax only: the peer may bind later).
pub(crate) fn check(endpoint: &IpcEndpoint) -> Result<()> {
    socket_addr(endpoint).map(|_| ())
}
