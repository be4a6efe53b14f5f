//! The client side of a SOCKS5 proxy handshake (RFC 1928, with RFC 1929's username and
//! password), which a connect through `ZMQ_SOCKS_PROXY` runs before the ZMTP greeting.
//!
//! The client offers "no authentication", and also "username/password" when it has a
//! username (an empty one means none, as in libzmq), asks the proxy to CONNECT to the target
//! and waits for the proxy's answer; after [`SocksClient::handle_input`] says
//! [`SocksProgress::Connected`], the stream carries ZMTP to the target. The target's host is
//! sent as the proxy should see it: an IPv4 or IPv6 address as such, a name unresolved (the
//! proxy resolves it, so a name only the proxy knows works).
//!
//! ```
//! use bytes::BytesMut;
//! use oxmq_proto::socks::{SocksClient, SocksProgress};
//!
//! let mut client = SocksClient::new("127.0.0.1", 5555, None);
//! let mut out = Vec::new();
//! client.poll_transmit(&mut out);
//! assert_eq!(out, [5, 1, 0]); // version 5, one method: no authentication
//! out.clear();
//!
//! let mut input = BytesMut::from(&[5u8, 0][..]); // the proxy picks it
//! assert_eq!(client.handle_input(&mut input)?, SocksProgress::NeedMore);
//! client.poll_transmit(&mut out);
//! assert_eq!(out, [5, 1, 0, 1, 127, 0, 0, 1, 0x15, 0xb3]); // CONNECT 127.0.0.1:5555
//!
//! // Success, bound at 10.0.0.1:4000.
//! input.extend_from_slice(&[5, 0, 0, 1, 10, 0, 0, 1, 0x0f, 0xa0]);
//! assert_eq!(client.handle_input(&mut input)?, SocksProgress::Connected);
//! # Ok::<(), oxmq_proto::socks::SocksError>(())
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{Buf, BytesMut};

const VERSION: u8 = 5;
const AUTH_VERSION: u8 = 1;
const METHOD_NONE: u8 = 0;
const METHOD_PASSWORD: u8 = 2;
const CMD_CONNECT: u8 = 1;
const ATYP_IPV4: u8 = 1;
const ATYP_DOMAIN: u8 = 3;
const ATYP_IPV6: u8 = 4;

/// Why a SOCKS handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocksError {
    /// The proxy answered with a version other than 5 (or 1 for the password exchange).
    BadVersion(u8),
    /// The proxy accepted none of the methods offered (or picked one not offered).
    NoAcceptableMethod(u8),
    /// The proxy refused the username and password (its status code).
    AuthRejected(u8),
    /// The proxy could not connect to the target (RFC 1928's reply code: 1 general failure,
    /// 2 not allowed, 3 network unreachable, 4 host unreachable, 5 connection refused, 6 TTL
    /// expired, 7 command not supported, 8 address type not supported).
    ConnectFailed(u8),
    /// The proxy's reply names an address type that does not exist.
    BadAddressType(u8),
    /// The target host name does not fit the protocol (empty, or over 255 bytes), or the
    /// username or password is over 255 bytes.
    BadRequest,
}

impl fmt::Display for SocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocksError::BadVersion(v) => write!(f, "SOCKS proxy answered with version {v}"),
            SocksError::NoAcceptableMethod(m) => {
                write!(f, "SOCKS proxy accepts no offered method (answered {m:#x})")
            }
            SocksError::AuthRejected(code) => {
                write!(f, "SOCKS proxy rejected the credentials (status {code})")
            }
            SocksError::ConnectFailed(code) => {
                write!(f, "SOCKS proxy could not connect (reply code {code})")
            }
            SocksError::BadAddressType(t) => write!(f, "SOCKS reply with address type {t}"),
            SocksError::BadRequest => write!(f, "SOCKS request does not fit the protocol"),
        }
    }
}

impl std::error::Error for SocksError {}

/// What [`SocksClient::handle_input`] made of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocksProgress {
    /// Waiting for more of the proxy's answer (send what `poll_transmit` gives first).
    NeedMore,
    /// The proxy connected to the target: the stream now carries ZMTP. Bytes after the
    /// proxy's reply are left in the input.
    Connected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The method choice is awaited.
    Method,
    /// The answer to the username and password is awaited.
    Auth,
    /// The answer to CONNECT is awaited.
    Reply,
    Connected,
    Failed,
}

/// A SOCKS5 client handshake over byte buffers (see the module docs).
#[derive(Debug)]
pub struct SocksClient {
    state: State,
    /// Why it failed, once it has.
    error: Option<SocksError>,
    request: Vec<u8>,
    credentials: Option<Vec<u8>>,
    out: Vec<u8>,
}

impl SocksClient {
    /// A handshake asking the proxy to connect to `host` (an IPv4 or IPv6 address, brackets
    /// allowed, or a name) at `port`, offering username/password authentication when
    /// `credentials` has a non-empty username.
    pub fn new(host: &str, port: u16, credentials: Option<(&[u8], &[u8])>) -> SocksClient {
        let credentials = credentials.filter(|(user, _)| !user.is_empty());
        let request = connect_request(host, port);
        let fits =
            credentials.is_none_or(|(user, password)| user.len() <= 255 && password.len() <= 255);
        if request.is_empty() || !fits {
            return SocksClient {
                state: State::Failed,
                error: Some(SocksError::BadRequest),
                request: Vec::new(),
                credentials: None,
                out: Vec::new(),
            };
        }
        let out = match credentials {
            Some(_) => vec![VERSION, 2, METHOD_NONE, METHOD_PASSWORD],
            None => vec![VERSION, 1, METHOD_NONE],
        };
        let credentials = credentials.map(|(user, password)| {
            let mut auth = vec![AUTH_VERSION, user.len() as u8];
            auth.extend_from_slice(user);
            auth.push(password.len() as u8);
            auth.extend_from_slice(password);
            auth
        });
        SocksClient {
            state: State::Method,
            error: None,
            request,
            credentials,
            out,
        }
    }

    /// Appends the bytes to send to the proxy now, if any.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.out);
    }

    /// How many more bytes the current answer needs beyond those already at the front of
    /// `input` (0 once connected or failed). A caller that reads no more than
    /// this leaves the bytes after the proxy's last answer (the target's first ZMTP bytes)
    /// in the stream.
    pub fn bytes_wanted(&self, input: &[u8]) -> usize {
        let needed = match self.state {
            State::Method | State::Auth => 2,
            State::Reply => match (input.get(3), input.get(4)) {
                (Some(&ATYP_IPV4), _) => 4 + 4 + 2,
                (Some(&ATYP_IPV6), _) => 4 + 16 + 2,
                (Some(&ATYP_DOMAIN), Some(&len)) => 4 + 1 + usize::from(len) + 2,
                // Enough to learn the address's length (or to fail on its type).
                _ => 5,
            },
            State::Connected | State::Failed => 0,
        };
        needed.saturating_sub(input.len())
    }

    /// Whether the proxy connected to the target.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Consumes the proxy's answers at the front of `input`. An error is final.
    pub fn handle_input(&mut self, input: &mut BytesMut) -> Result<SocksProgress, SocksError> {
        loop {
            match self.state {
                State::Failed => {
                    return Err(self.error.clone().unwrap_or(SocksError::BadRequest));
                }
                State::Connected => return Ok(SocksProgress::Connected),
                State::Method => {
                    let Some(&[version, method]) = input.first_chunk::<2>() else {
                        return Ok(SocksProgress::NeedMore);
                    };
                    input.advance(2);
                    if version != VERSION {
                        return self.fail(SocksError::BadVersion(version));
                    }
                    match (method, self.credentials.take()) {
                        (METHOD_NONE, _) => {
                            self.out.append(&mut self.request);
                            self.state = State::Reply;
                        }
                        (METHOD_PASSWORD, Some(mut auth)) => {
                            self.out.append(&mut auth);
                            self.state = State::Auth;
                        }
                        (method, _) => return self.fail(SocksError::NoAcceptableMethod(method)),
                    }
                }
                State::Auth => {
                    let Some(&[version, status]) = input.first_chunk::<2>() else {
                        return Ok(SocksProgress::NeedMore);
                    };
                    input.advance(2);
                    if version != AUTH_VERSION {
                        return self.fail(SocksError::BadVersion(version));
                    }
                    if status != 0 {
                        return self.fail(SocksError::AuthRejected(status));
                    }
                    self.out.append(&mut self.request);
                    self.state = State::Reply;
                }
                State::Reply => {
                    let Some(&[version, reply, _reserved, atyp]) = input.first_chunk::<4>() else {
                        return Ok(SocksProgress::NeedMore);
                    };
                    if version != VERSION {
                        return self.fail(SocksError::BadVersion(version));
                    }
                    if reply != 0 {
                        return self.fail(SocksError::ConnectFailed(reply));
                    }
                    let address_len = match atyp {
                        ATYP_IPV4 => 4,
                        ATYP_IPV6 => 16,
                        ATYP_DOMAIN => match input.get(4) {
                            Some(&len) => 1 + usize::from(len),
                            None => return Ok(SocksProgress::NeedMore),
                        },
                        other => return self.fail(SocksError::BadAddressType(other)),
                    };
                    // The address the proxy bound and its port: nothing oxmq needs.
                    let total = 4 + address_len + 2;
                    if input.len() < total {
                        return Ok(SocksProgress::NeedMore);
                    }
                    input.advance(total);
                    self.state = State::Connected;
                }
            }
        }
    }

    fn fail(&mut self, error: SocksError) -> Result<SocksProgress, SocksError> {
        self.state = State::Failed;
        self.out.clear();
        self.error = Some(error.clone());
        Err(error)
    }
}

/// The CONNECT request for `host`:`port`, or nothing when the host cannot be sent.
fn connect_request(host: &str, port: u16) -> Vec<u8> {
    let mut request = vec![VERSION, CMD_CONNECT, 0];
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(v4) = unbracketed.parse::<Ipv4Addr>() {
        request.push(ATYP_IPV4);
        request.extend_from_slice(&v4.octets());
    } else if let Ok(v6) = unbracketed.parse::<Ipv6Addr>() {
        request.push(ATYP_IPV6);
        request.extend_from_slice(&v6.octets());
    } else if !host.is_empty() && host.len() <= 255 {
        request.push(ATYP_DOMAIN);
        request.push(host.len() as u8);
        request.extend_from_slice(host.as_bytes());
    } else {
        return Vec::new();
    }
    request.extend_from_slice(&port.to_be_bytes());
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(client: &mut SocksClient) -> Vec<u8> {
        let mut out = Vec::new();
        client.poll_transmit(&mut out);
        out
    }

    #[test]
    fn a_name_goes_to_the_proxy_unresolved_and_ipv6_as_an_address() {
        let mut client = SocksClient::new("somedomainname.org", 80, None);
        sent(&mut client);
        let mut input = BytesMut::from(&[5u8, 0][..]);
        client.handle_input(&mut input).unwrap();
        let mut expected = vec![5, 1, 0, 3, 18];
        expected.extend_from_slice(b"somedomainname.org");
        expected.extend_from_slice(&[0, 80]);
        assert_eq!(sent(&mut client), expected);

        for host in ["::1", "[::1]"] {
            let mut client = SocksClient::new(host, 1, None);
            sent(&mut client);
            client
                .handle_input(&mut BytesMut::from(&[5u8, 0][..]))
                .unwrap();
            let mut expected = vec![5, 1, 0, 4];
            expected.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
            expected.extend_from_slice(&[0, 1]);
            assert_eq!(sent(&mut client), expected, "{host}");
        }
    }

    #[test]
    fn credentials_are_offered_and_sent_when_the_proxy_asks() {
        let mut client = SocksClient::new("10.1.2.3", 7, Some((b"user", b"pw")));
        assert_eq!(sent(&mut client), [5, 2, 0, 2]);
        let mut input = BytesMut::from(&[5u8, 2][..]);
        assert_eq!(client.handle_input(&mut input), Ok(SocksProgress::NeedMore));
        assert_eq!(sent(&mut client), b"\x01\x04user\x02pw");
        input.extend_from_slice(&[1, 0]);
        assert_eq!(client.handle_input(&mut input), Ok(SocksProgress::NeedMore));
        assert_eq!(sent(&mut client), [5, 1, 0, 1, 10, 1, 2, 3, 0, 7]);
        // A reply naming the bound address by name, then ZMTP bytes that stay.
        input.extend_from_slice(b"\x05\x00\x00\x03\x09localhost\x00\x01\xffrest");
        assert_eq!(
            client.handle_input(&mut input),
            Ok(SocksProgress::Connected)
        );
        assert!(client.is_connected());
        assert_eq!(&input[..], b"\xffrest");

        // An empty username means no authentication, as in libzmq.
        let mut client = SocksClient::new("10.1.2.3", 7, Some((b"", b"pw")));
        assert_eq!(sent(&mut client), [5, 1, 0]);
    }

    #[test]
    fn every_refusal_is_an_error_and_final() {
        let cases: [(&[u8], SocksError); 5] = [
            (&[4, 0], SocksError::BadVersion(4)),
            (&[5, 0xff], SocksError::NoAcceptableMethod(0xff)),
            (&[5, 2], SocksError::NoAcceptableMethod(2)), // not offered
            (&[5, 0, 5, 5, 0, 1], SocksError::ConnectFailed(5)),
            (&[5, 0, 5, 0, 0, 9], SocksError::BadAddressType(9)),
        ];
        for (answer, error) in cases {
            let mut client = SocksClient::new("127.0.0.1", 1, None);
            let mut input = BytesMut::from(answer);
            assert_eq!(client.handle_input(&mut input), Err(error.clone()));
            assert!(sent(&mut client).is_empty() || error == SocksError::ConnectFailed(5));
            assert_eq!(client.handle_input(&mut input), Err(error), "final");
        }
        let mut client = SocksClient::new("h", 1, Some((b"u", b"p")));
        sent(&mut client);
        let mut input = BytesMut::from(&[5u8, 2, 1, 1][..]);
        assert_eq!(
            client.handle_input(&mut input),
            Err(SocksError::AuthRejected(1))
        );
    }

    #[test]
    fn answers_arriving_a_byte_at_a_time_give_the_same_result() {
        let answer = b"\x05\x00\x05\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x12\x34";
        let mut client = SocksClient::new("::1", 9, None);
        let mut input = BytesMut::new();
        for (i, byte) in answer.iter().enumerate() {
            assert!(client.bytes_wanted(&input) >= 1, "after {i} bytes");
            input.extend_from_slice(&[*byte]);
            let progress = client.handle_input(&mut input).unwrap();
            let last = i + 1 == answer.len();
            assert_eq!(
                progress == SocksProgress::Connected,
                last,
                "after {} bytes",
                i + 1
            );
        }
        assert!(input.is_empty());
        assert_eq!(client.bytes_wanted(&input), 0);
    }

    #[test]
    fn reading_what_is_wanted_never_reads_past_the_reply() {
        // Proxy answers followed by the target's first bytes, for each reply address type.
        for reply in [
            &b"\x05\x00\x00\x01\x01\x02\x03\x04\x00\x01"[..],
            &b"\x05\x00\x00\x03\x03abc\x00\x01"[..],
            &[&[5u8, 0, 0, 4][..], &[0; 16], &[0, 1]].concat(),
        ] {
            let stream = [&[5u8, 0][..], reply, b"ZMTP"].concat();
            let mut client = SocksClient::new("h", 1, None);
            let (mut input, mut at) = (BytesMut::new(), 0);
            while !client.is_connected() {
                let want = client.bytes_wanted(&input);
                assert!(want > 0);
                let take = want.min(3); // short reads
                input.extend_from_slice(&stream[at..at + take]);
                at += take;
                client.handle_input(&mut input).unwrap();
            }
            assert!(input.is_empty());
            assert_eq!(&stream[at..], b"ZMTP");
        }
    }

    #[test]
    fn a_host_that_does_not_fit_fails_at_once() {
        let long = "a".repeat(256);
        for host in ["", long.as_str()] {
            let mut client = SocksClient::new(host, 1, None);
            assert!(client.handle_input(&mut BytesMut::new()).is_err());
        }
        let long_user = vec![b'u'; 256];
        let mut client = SocksClient::new("h", 1, Some((&long_user, b"")));
        assert!(client.handle_input(&mut BytesMut::new()).is_err());
    }
}
