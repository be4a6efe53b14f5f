//! Endpoint strings: `tcp://host:port`, `tcp://source:port;host:port` (a connect from a given
//! local address), `ipc://path`, `ipc://@abstract`, `inproc://name`. A local tcp address (a bind,
//! a connect's source) may name a network interface (`tcp://lo:5555`), as in libzmq.
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
    /// `*` for every interface, an address literal, an interface name, or a host name.
    pub host: String,
    /// `None` for an ephemeral port (`*` or `0`).
    pub port: Option<u16>,
    /// For a connect: the local address to connect from (`source;host:port`).
    pub source: Option<Box<TcpEndpoint>>,
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

/// A SOCKS proxy's address (`host:port` or `source;host:port`, without `tcp://`): the port
/// must be given.
pub(crate) fn parse_socks_proxy(address: &str) -> Result<TcpEndpoint> {
    let proxy = parse_tcp(address)?;
    if proxy.port.is_none() || proxy.host == "*" {
        return Err(Error::Invalid);
    }
    Ok(proxy)
}

fn parse_tcp(address: &str) -> Result<TcpEndpoint> {
    match address.split_once(';') {
        Some((source, target)) => {
            let source = parse_tcp_address(source)?;
            let mut target = parse_tcp_address(target)?;
            target.source = Some(Box::new(source));
            Ok(target)
        }
        None => parse_tcp_address(address),
    }
}

fn parse_tcp_address(address: &str) -> Result<TcpEndpoint> {
    let (host, port) = address.rsplit_once(':').ok_or(Error::Invalid)?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or(Error::Invalid)?,
        None => host,
    };
    if host.is_empty() || host.contains(['/', '[', ']', ' ', ';']) {
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
        source: None,
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
        self.resolve_local(port, ipv6)
    }

    /// The local address a connect goes from (`source;host:port`), if one was given.
    pub(crate) fn source_addr(&self, ipv6: bool) -> Result<Option<SocketAddr>> {
        let Some(source) = &self.source else {
            return Ok(None);
        };
        let port = source.port.unwrap_or(0);
        if source.host == "*" {
            let ip = if ipv6 {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            };
            return Ok(Some(SocketAddr::new(ip, port)));
        }
        source.resolve_local(port, ipv6).map(Some)
    }

    /// A local address: an address literal, a network interface's name, or a host name;
    /// `NoDevice` when it is none of them.
    fn resolve_local(&self, port: u16, ipv6: bool) -> Result<SocketAddr> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        if let Some(ip) = interface_addr(&self.host, ipv6) {
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

    /// The address to connect to when the host is an address literal (no name to resolve):
    /// `Some(Err)` for a connect endpoint without a port or with the `*` host, `None` for a
    /// host name.
    pub(crate) fn literal_connect_addr(&self) -> Option<Result<SocketAddr>> {
        let Some(port) = self.port else {
            return Some(Err(Error::Invalid));
        };
        if self.host == "*" {
            return Some(Err(Error::Invalid));
        }
        self.host
            .parse::<IpAddr>()
            .ok()
            .map(|ip| Ok(SocketAddr::new(ip, port)))
    }

    /// Every address the host name resolves to, in the resolver's order; IPv4 ones only
    /// unless `ipv6` (then all), falling back to all when there is no IPv4 one. Blocks on the
    /// system's resolver: call it off the I/O threads.
    pub(crate) fn resolve_all(&self, ipv6: bool) -> Result<Vec<SocketAddr>> {
        let port = self.port.ok_or(Error::Invalid)?;
        let all: Vec<SocketAddr> = (self.host.as_str(), port)
            .to_socket_addrs()
            .map_err(|_| Error::Invalid)?
            .collect();
        let mut chosen: Vec<SocketAddr> = all
            .iter()
            .copied()
            .filter(|addr| ipv6 || addr.is_ipv4())
            .collect();
        if chosen.is_empty() {
            chosen = all;
        }
        // One attempt per address, even when the resolver lists one several times.
        let mut seen = std::collections::HashSet::new();
        chosen.retain(|addr| seen.insert(*addr));
        if chosen.is_empty() {
            return Err(Error::Invalid);
        }
        Ok(chosen)
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
                f.write_str("tcp://")?;
                if let Some(source) = &tcp.source {
                    write_host_port(f, source)?;
                    f.write_str(";")?;
                }
                write_host_port(f, tcp)
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

fn write_host_port(f: &mut fmt::Formatter<'_>, tcp: &TcpEndpoint) -> fmt::Result {
    let port = tcp.port.map_or_else(|| "*".to_owned(), |p| p.to_string());
    if tcp.host.contains(':') {
        write!(f, "[{}]:{port}", tcp.host)
    } else {
        write!(f, "{}:{port}", tcp.host)
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

/// The address of the network interface called `name` (IPv4 first; IPv6 too with `ipv6`).
fn interface_addr(name: &str, ipv6: bool) -> Option<IpAddr> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list it allocated into `list`, freed below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return None;
    }
    let mut found: Option<IpAddr> = None;
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list getifaddrs returned, alive until freeifaddrs.
        let ifa = unsafe { &*entry };
        entry = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: a NUL-terminated interface name owned by the list.
        let ifa_name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
        if ifa_name.to_bytes() != name.as_bytes() {
            continue;
        }
        // SAFETY: `ifa_addr` is not NULL and its family says which sockaddr it is.
        let ip = unsafe {
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*ifa.ifa_addr.cast::<libc::sockaddr_in>();
                    Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        sin.sin_addr.s_addr,
                    ))))
                }
                libc::AF_INET6 if ipv6 => {
                    let sin6 = &*ifa.ifa_addr.cast::<libc::sockaddr_in6>();
                    Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
                }
                _ => None,
            }
        };
        match ip {
            Some(ip @ IpAddr::V4(_)) => {
                found = Some(ip);
                break;
            }
            Some(ip) => {
                found.get_or_insert(ip);
            }
            None => {}
        }
    }
    // SAFETY: the list getifaddrs returned, freed once.
    unsafe { libc::freeifaddrs(list) };
    found
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
            source: None,
        })
    }

    #[test]
    fn parses_a_source_address() {
        let Ok(Endpoint::Tcp(tcp)) = Endpoint::parse("tcp://127.0.0.1:0;localhost:1234") else {
            panic!("not a tcp endpoint");
        };
        assert_eq!((tcp.host.as_str(), tcp.port), ("localhost", Some(1234)));
        let source = tcp.source.as_deref().expect("a source");
        assert_eq!((source.host.as_str(), source.port), ("127.0.0.1", None));
        assert_eq!(
            tcp.source_addr(false),
            Ok(Some("127.0.0.1:0".parse().unwrap()))
        );
        let Ok(Endpoint::Tcp(v6)) = Endpoint::parse("tcp://[::1]:5564;[::1]:80") else {
            panic!("not a tcp endpoint");
        };
        assert_eq!(
            v6.source_addr(true),
            Ok(Some("[::1]:5564".parse().unwrap()))
        );
        assert_eq!(Endpoint::parse("tcp://;host:1"), Err(Error::Invalid));
        assert_eq!(Endpoint::parse("tcp://a:1;"), Err(Error::Invalid));
        assert_eq!(Endpoint::parse("tcp://a:1;b:2;c:3"), Err(Error::Invalid));
    }

    #[test]
    fn local_addresses_may_name_an_interface() {
        let Ok(Endpoint::Tcp(lo)) = Endpoint::parse("tcp://lo:5555") else {
            panic!("not a tcp endpoint");
        };
        assert_eq!(lo.bind_addr(false), Ok("127.0.0.1:5555".parse().unwrap()));
        let Ok(Endpoint::Tcp(none)) = Endpoint::parse("tcp://no-such-interface-x:5555") else {
            panic!("not a tcp endpoint");
        };
        assert_eq!(none.bind_addr(false), Err(Error::NoDevice));
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
            source: None,
        };
        assert_eq!(any_port.connect_addr(false), Err(Error::Invalid));
        let any_host = TcpEndpoint {
            host: "*".into(),
            port: Some(1),
            source: None,
        };
        assert_eq!(any_host.connect_addr(false), Err(Error::Invalid));
        let local = TcpEndpoint {
            host: "localhost".into(),
            port: Some(9),
            source: None,
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
