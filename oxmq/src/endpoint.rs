//! Endpoint strings: `tcp://host:port`, `ipc://path`, `ipc://@abstract`, `inproc://name`.
//!
//! Parsing is strict and never panics: a malformed endpoint is [`Error::Invalid`], an unknown
//! transport [`Error::ProtocolNotSupported`], an ipc path the kernel cannot hold
//! [`Error::NameTooLong`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Longest ipc path (or abstract name) the kernel's `sun_path` can hold, without its terminator.
const MAX_IPC_PATH: usize = sun_path_len() - 1;

/// The size of `sockaddr_un::sun_path` on this platform.
const fn sun_path_len() -> usize {
    std::mem::size_of::<libc::sockaddr_un>() - std::mem::offset_of!(libc::sockaddr_un, sun_path)
}

/// A parsed endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Endpoint {
    Tcp(TcpEndpoint),
    Ipc(IpcEndpoint),
    Inproc(String),
}

/// The host and port of a tcp endpoint, before resolution.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TcpEndpoint {
    /// `*` for every interface, an address literal, or a host name.
    pub host: String,
    /// `None` for an ephemeral port (`*` or `0`).
    pub port: Option<u16>,
}

/// The address of an ipc endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum IpcEndpoint {
    /// A filesystem path.
    Path(PathBuf),
    /// A Linux abstract socket name (written `ipc://@name`).
    Abstract(Vec<u8>),
    /// `ipc://*`: a fresh path chosen at bind time.
    Any,
}

impl Endpoint {
    /// Parses an endpoint string.
    pub(crate) fn parse(text: &str) -> Result<Endpoint> {
        let (scheme, address) = text.split_once("://").ok_or(Error::Invalid)?;
        match scheme {
            "tcp" => parse_tcp(address).map(Endpoint::Tcp),
            "ipc" => parse_ipc(address).map(Endpoint::Ipc),
            "inproc" => {
                if address.is_empty() {
                    Err(Error::Invalid)
                } else {
                    Ok(Endpoint::Inproc(address.to_owned()))
                }
            }
            "" => Err(Error::Invalid),
            _ => Err(Error::ProtocolNotSupported),
        }
    }
}

fn parse_tcp(address: &str) -> Result<TcpEndpoint> {
    let (host, port) = address.rsplit_once(':').ok_or(Error::Invalid)?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or(Error::Invalid)?,
        None => host,
    };
    if host.is_empty() || host.contains(['/', '[', ']', ' ']) {
        return Err(Error::Invalid);
    }
    let port = match port {
        "*" | "0" => None,
        digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse::<u16>().map_err(|_| Error::Invalid)?)
        }
        _ => return Err(Error::Invalid),
    };
    Ok(TcpEndpoint {
        host: host.to_owned(),
        port,
    })
}

fn parse_ipc(address: &str) -> Result<IpcEndpoint> {
    if address.is_empty() {
        return Err(Error::Invalid);
    }
    if address == "*" {
        return Ok(IpcEndpoint::Any);
    }
    if address.len() > MAX_IPC_PATH {
        return Err(Error::NameTooLong);
    }
    if address.contains('\0') {
        return Err(Error::Invalid);
    }
    match address.strip_prefix('@') {
        Some(name) if !name.is_empty() => Ok(IpcEndpoint::Abstract(name.as_bytes().to_vec())),
        Some(_) => Err(Error::Invalid),
        None => Ok(IpcEndpoint::Path(PathBuf::from(address))),
    }
}

impl TcpEndpoint {
    /// The addresses to bind: `*` is every interface (IPv6 too when `ipv6` is set).
    pub(crate) fn bind_addr(&self, ipv6: bool) -> Result<SocketAddr> {
        let port = self.port.unwrap_or(0);
        if self.host == "*" {
            let ip = if ipv6 {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            };
            return Ok(SocketAddr::new(ip, port));
        }
        self.resolve(port, ipv6).map_err(|err| {
            if err == Error::Invalid {
                Error::NoDevice
            } else {
                err
            }
        })
    }

    /// The address to connect to (resolving a host name); the port must be given.
    pub(crate) fn connect_addr(&self, ipv6: bool) -> Result<SocketAddr> {
        let port = self.port.ok_or(Error::Invalid)?;
        if self.host == "*" {
            return Err(Error::Invalid);
        }
        self.resolve(port, ipv6)
    }

    fn resolve(&self, port: u16, ipv6: bool) -> Result<SocketAddr> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        let addrs = (self.host.as_str(), port)
            .to_socket_addrs()
            .map_err(|_| Error::Invalid)?;
        let mut fallback = None;
        for addr in addrs {
            if addr.is_ipv4() || ipv6 {
                return Ok(addr);
            }
            fallback.get_or_insert(addr);
        }
        fallback.ok_or(Error::Invalid)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(tcp) => {
                let port = tcp.port.map_or_else(|| "*".to_owned(), |p| p.to_string());
                if tcp.host.contains(':') {
                    write!(f, "tcp://[{}]:{port}", tcp.host)
                } else {
                    write!(f, "tcp://{}:{port}", tcp.host)
                }
            }
            Endpoint::Ipc(IpcEndpoint::Path(path)) => write!(f, "ipc://{}", path.display()),
            Endpoint::Ipc(IpcEndpoint::Abstract(name)) => {
                write!(f, "ipc://@{}", String::from_utf8_lossy(name))
            }
            Endpoint::Ipc(IpcEndpoint::Any) => f.write_str("ipc://*"),
            Endpoint::Inproc(name) => write!(f, "inproc://{name}"),
        }
    }
}

impl IpcEndpoint {
    /// The endpoint to bind: `ipc://*` becomes a fresh path in the temporary directory.
    pub(crate) fn for_bind(&self) -> IpcEndpoint {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        match self {
            IpcEndpoint::Any => {
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                IpcEndpoint::Path(
                    std::env::temp_dir().join(format!("oxmq-{}-{n}.ipc", std::process::id())),
                )
            }
            other => other.clone(),
        }
    }

    /// The Unix socket address (`ipc://*` has none until [`IpcEndpoint::for_bind`] chose one).
    pub(crate) fn socket_addr(&self) -> Result<std::os::unix::net::SocketAddr> {
        use std::os::unix::net::SocketAddr as UnixAddr;
        match self {
            IpcEndpoint::Path(path) => UnixAddr::from_pathname(path).map_err(|_| Error::Invalid),
            #[cfg(target_os = "linux")]
            IpcEndpoint::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                UnixAddr::from_abstract_name(name).map_err(|_| Error::Invalid)
            }
            #[cfg(not(target_os = "linux"))]
            IpcEndpoint::Abstract(_) => Err(Error::NotSupported),
            IpcEndpoint::Any => Err(Error::Invalid),
        }
    }
}

/// The endpoint string of a bound or connected tcp address, as `ZMQ_LAST_ENDPOINT` shows it.
pub(crate) fn tcp_endpoint_string(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => format!("tcp://{}:{}", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => format!("tcp://[{}]:{}", v6.ip(), v6.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: Option<u16>) -> Endpoint {
        Endpoint::Tcp(TcpEndpoint {
            host: host.to_owned(),
            port,
        })
    }

    #[test]
    fn parses_tcp_forms() {
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:5555"),
            Ok(tcp("127.0.0.1", Some(5555)))
        );
        assert_eq!(Endpoint::parse("tcp://*:*"), Ok(tcp("*", None)));
        assert_eq!(Endpoint::parse("tcp://*:0"), Ok(tcp("*", None)));
        assert_eq!(Endpoint::parse("tcp://[::1]:80"), Ok(tcp("::1", Some(80))));
        assert_eq!(
            Endpoint::parse("tcp://localhost:1"),
            Ok(tcp("localhost", Some(1)))
        );
    }

    #[test]
    fn rejects_bad_tcp() {
        for bad in [
            "tcp://127.0.0.1",
            "tcp://127.0.0.1:",
            "tcp://:5555",
            "tcp://127.0.0.1:65536",
            "tcp://127.0.0.1:-1",
            "tcp://127.0.0.1:5x",
            "tcp://[::1:80",
            "tcp://",
            "127.0.0.1:5555",
        ] {
            assert_eq!(Endpoint::parse(bad), Err(Error::Invalid), "{bad}");
        }
    }

    #[test]
    fn parses_ipc_and_inproc() {
        assert_eq!(
            Endpoint::parse("ipc:///tmp/x.sock"),
            Ok(Endpoint::Ipc(IpcEndpoint::Path("/tmp/x.sock".into())))
        );
        assert_eq!(
            Endpoint::parse("ipc://@name"),
            Ok(Endpoint::Ipc(IpcEndpoint::Abstract(b"name".to_vec())))
        );
        assert_eq!(
            Endpoint::parse("ipc://*"),
            Ok(Endpoint::Ipc(IpcEndpoint::Any))
        );
        assert_eq!(
            Endpoint::parse("inproc://a"),
            Ok(Endpoint::Inproc("a".into()))
        );
        assert_eq!(Endpoint::parse("inproc://"), Err(Error::Invalid));
        assert_eq!(Endpoint::parse("ipc://"), Err(Error::Invalid));
        assert_eq!(Endpoint::parse("ipc://@"), Err(Error::Invalid));
        let long = format!("ipc:///{}", "x".repeat(120));
        assert_eq!(Endpoint::parse(&long), Err(Error::NameTooLong));
    }

    #[test]
    fn unknown_transport() {
        assert_eq!(Endpoint::parse("foo://x"), Err(Error::ProtocolNotSupported));
        assert_eq!(Endpoint::parse("://x"), Err(Error::Invalid));
        assert_eq!(Endpoint::parse("nothing"), Err(Error::Invalid));
    }

    #[test]
    fn connect_needs_a_port_and_a_host() {
        let any_port = TcpEndpoint {
            host: "127.0.0.1".into(),
            port: None,
        };
        assert_eq!(any_port.connect_addr(false), Err(Error::Invalid));
        let any_host = TcpEndpoint {
            host: "*".into(),
            port: Some(1),
        };
        assert_eq!(any_host.connect_addr(false), Err(Error::Invalid));
        let local = TcpEndpoint {
            host: "localhost".into(),
            port: Some(9),
        };
        assert!(local.connect_addr(false).is_ok());
    }

    #[test]
    fn endpoint_strings() {
        assert_eq!(
            tcp_endpoint_string("127.0.0.1:5".parse().unwrap()),
            "tcp://127.0.0.1:5"
        );
        assert_eq!(
            tcp_endpoint_string("[::1]:5".parse().unwrap()),
            "tcp://[::1]:5"
        );
    }
}
