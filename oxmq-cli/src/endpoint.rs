//! What is wrong with an endpoint, in words.
//!
//! oxmq reports a bad endpoint the way libzmq does, as one errno value (`EINVAL`,
//! `EPROTONOSUPPORT`, ...), which cannot say whether the host is unknown or the port missing.
//! `oxmq send` and `oxmq recv` ask [`diagnose`] when a bind or connect fails, so their one-line
//! error names the mistake; the library's errors stay libzmq's.

use std::net::{IpAddr, ToSocketAddrs};

/// What an endpoint is given to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// `--bind`
    Bind,
    /// `--connect`
    Connect,
}

/// The transports oxmq speaks.
const TRANSPORTS: [&str; 3] = ["tcp", "ipc", "inproc"];

/// Transports libzmq knows that oxmq does not speak.
const OTHER_TRANSPORTS: [&str; 8] = ["pgm", "epgm", "norm", "tipc", "vmci", "udp", "ws", "wss"];

/// The longest ipc path (or abstract name) Linux's `sun_path` holds, without its terminator.
const MAX_IPC_PATH: usize = 107;

const TCP_FORM: &str = "expected tcp://HOST:PORT";

/// What is wrong with `endpoint` when given to `usage`, as a phrase that quotes the endpoint
/// (`missing port in 'tcp://localhost' (expected tcp://HOST:PORT)`), or `None` when nothing
/// obvious is. Host names are looked up (with the system's resolver) only in tcp endpoints whose
/// syntax is right, to tell an unknown host apart.
pub fn diagnose(endpoint: &str, usage: Use) -> Option<String> {
    let Some((transport, address)) = endpoint.split_once("://") else {
        return Some(format!(
            "'{endpoint}' is not an endpoint (expected TRANSPORT://ADDRESS: tcp://HOST:PORT, \
             ipc://PATH or inproc://NAME)"
        ));
    };
    match transport {
        "tcp" => diagnose_tcp(endpoint, address, usage),
        "ipc" => diagnose_ipc(endpoint, address),
        "inproc" if address.is_empty() => Some(format!(
            "missing name in '{endpoint}' (expected inproc://NAME)"
        )),
        "inproc" => None,
        "" => Some(format!(
            "missing transport in '{endpoint}' (expected {})",
            TRANSPORTS.join(", ")
        )),
        other if OTHER_TRANSPORTS.contains(&other) => Some(format!(
            "transport '{other}' is not supported by oxmq (use tcp, ipc or inproc)"
        )),
        other => Some(format!(
            "unknown transport '{other}' in '{endpoint}' (expected tcp, ipc or inproc)"
        )),
    }
}

fn diagnose_tcp(endpoint: &str, address: &str, usage: Use) -> Option<String> {
    let any_port = match usage {
        Use::Bind => ", or * for any free port",
        Use::Connect => "",
    };
    if address.is_empty() {
        return Some(format!(
            "missing host and port in '{endpoint}' ({TCP_FORM})"
        ));
    }
    // `[v6 address]:port`, or the last colon splits host and port (as oxmq and libzmq do).
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Some(format!(
                "missing ']' after the IPv6 address in '{endpoint}' (expected tcp://[ADDRESS]:PORT)"
            ));
        };
        match after.strip_prefix(':') {
            Some(port) => (host, port),
            None if after.is_empty() => {
                return Some(format!("missing port in '{endpoint}' ({TCP_FORM})"));
            }
            None => {
                return Some(format!(
                    "unexpected '{after}' after the IPv6 address in '{endpoint}' \
                     (expected tcp://[ADDRESS]:PORT)"
                ));
            }
        }
    } else {
        match address.rsplit_once(':') {
            Some(split) => split,
            None => return Some(format!("missing port in '{endpoint}' ({TCP_FORM})")),
        }
    };
    if port.is_empty() {
        return Some(format!("missing port in '{endpoint}' ({TCP_FORM})"));
    }
    if host.is_empty() {
        let hint = match usage {
            Use::Bind => "; tcp://*:PORT binds every interface",
            Use::Connect => "",
        };
        return Some(format!("missing host in '{endpoint}' ({TCP_FORM}{hint})"));
    }
    match port {
        "*" | "0" if usage == Use::Connect => {
            return Some(format!(
                "connect needs a port number, not '{port}', in '{endpoint}'"
            ));
        }
        "*" | "0" => {}
        digits => {
            if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.parse::<u16>().is_err() {
                return Some(format!(
                    "bad port '{digits}' in '{endpoint}' (expected 1 to 65535{any_port})"
                ));
            }
        }
    }
    if host == "*" {
        return match usage {
            Use::Bind => None,
            Use::Connect => Some(format!(
                "cannot connect to every interface ('*') in '{endpoint}': give a host name or \
                 address"
            )),
        };
    }
    if host.contains(['/', '[', ']', ' ']) {
        return Some(format!("bad host '{host}' in '{endpoint}'"));
    }
    if host.parse::<IpAddr>().is_ok() {
        return None;
    }
    let known = (host, 0)
        .to_socket_addrs()
        .is_ok_and(|mut addrs| addrs.next().is_some());
    if known {
        None
    } else {
        Some(format!("unknown host '{host}' in '{endpoint}'"))
    }
}

fn diagnose_ipc(endpoint: &str, address: &str) -> Option<String> {
    if address.is_empty() {
        return Some(format!(
            "missing path in '{endpoint}' (expected ipc://PATH or ipc://@NAME)"
        ));
    }
    if address == "@" {
        return Some(format!(
            "missing name after '@' in '{endpoint}' (expected ipc://@NAME)"
        ));
    }
    if address.len() > MAX_IPC_PATH {
        return Some(format!(
            "ipc path too long in '{endpoint}' ({} bytes, at most {MAX_IPC_PATH})",
            address.len()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn says(endpoint: &str, usage: Use) -> String {
        diagnose(endpoint, usage).unwrap_or_else(|| panic!("nothing wrong with {endpoint}?"))
    }

    #[test]
    fn good_endpoints_pass() {
        for endpoint in [
            "tcp://127.0.0.1:5555",
            "tcp://[::1]:5555",
            "tcp://localhost:1",
            "ipc:///tmp/x.sock",
            "ipc://@name",
            "inproc://x",
        ] {
            assert_eq!(diagnose(endpoint, Use::Connect), None, "{endpoint}");
            assert_eq!(diagnose(endpoint, Use::Bind), None, "{endpoint}");
        }
        assert_eq!(diagnose("tcp://*:*", Use::Bind), None);
        assert_eq!(diagnose("tcp://127.0.0.1:0", Use::Bind), None);
    }

    #[test]
    fn names_the_mistake() {
        let connect = |e: &str| says(e, Use::Connect);
        assert!(connect("tcp://localhost").starts_with("missing port in 'tcp://localhost'"));
        assert!(connect("tcp://localhost:").starts_with("missing port"));
        assert!(connect("tcp://[::1]").starts_with("missing port"));
        assert!(connect("tcp://:5555").starts_with("missing host"));
        assert!(connect("tcp://").starts_with("missing host and port"));
        assert!(connect("tcp://h:99999").starts_with("bad port '99999'"));
        assert!(connect("tcp://h:5x").starts_with("bad port '5x'"));
        assert!(connect("tcp://127.0.0.1:*").contains("needs a port number"));
        assert!(connect("tcp://*:5555").contains("every interface"));
        assert_eq!(
            connect("tcp://no-such-host.invalid:5555"),
            "unknown host 'no-such-host.invalid' in 'tcp://no-such-host.invalid:5555'"
        );
        assert!(connect("xyz://a").starts_with("unknown transport 'xyz'"));
        assert!(connect("pgm://a").contains("not supported by oxmq"));
        assert!(connect("tcp//127.0.0.1:5555").contains("is not an endpoint"));
        assert!(connect("hello").contains("'hello' is not an endpoint"));
        assert!(connect("ipc://").starts_with("missing path"));
        assert!(connect("ipc://@").starts_with("missing name"));
        assert!(connect(&format!("ipc://{}", "x".repeat(200))).starts_with("ipc path too long"));
        assert!(connect("inproc://").starts_with("missing name"));
        assert!(says("tcp://127.0.0.1:70000", Use::Bind).contains("or * for any free port"));
    }
}
