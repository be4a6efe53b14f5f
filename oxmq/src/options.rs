//! Socket options, with libzmq 4.3's defaults.
//!
//! Options are read when a socket binds or connects: as in libzmq, changing an option affects the
//! connections made afterwards, not the ones that already exist (except where a setter says so).

use std::time::Duration;

use bytes::Bytes;
use oxmq_proto::{ConnectionConfig, SocketType};

use crate::accept_filter::AcceptFilters;
use crate::error::{Error, Result};

/// libzmq's option numbers (`ZMQ_*` in `zmq.h`), for [`Socket::set_option_raw`] and
/// [`Socket::option_value`] and the C ABI.
///
/// [`Socket::set_option_raw`]: crate::Socket::set_option_raw
/// [`Socket::option_value`]: crate::Socket::option_value
pub mod number {
    #![allow(missing_docs)]
    pub const AFFINITY: i32 = 4;
    pub const ROUTING_ID: i32 = 5;
    pub const SUBSCRIBE: i32 = 6;
    pub const UNSUBSCRIBE: i32 = 7;
    pub const RATE: i32 = 8;
    pub const RECOVERY_IVL: i32 = 9;
    pub const SNDBUF: i32 = 11;
    pub const RCVBUF: i32 = 12;
    pub const RCVMORE: i32 = 13;
    pub const FD: i32 = 14;
    pub const EVENTS: i32 = 15;
    pub const TYPE: i32 = 16;
    pub const LINGER: i32 = 17;
    pub const RECONNECT_IVL: i32 = 18;
    pub const BACKLOG: i32 = 19;
    pub const RECONNECT_IVL_MAX: i32 = 21;
    pub const MAXMSGSIZE: i32 = 22;
    pub const SNDHWM: i32 = 23;
    pub const RCVHWM: i32 = 24;
    pub const MULTICAST_HOPS: i32 = 25;
    pub const RCVTIMEO: i32 = 27;
    pub const SNDTIMEO: i32 = 28;
    pub const LAST_ENDPOINT: i32 = 32;
    pub const ROUTER_MANDATORY: i32 = 33;
    pub const TCP_KEEPALIVE: i32 = 34;
    pub const TCP_KEEPALIVE_CNT: i32 = 35;
    pub const TCP_KEEPALIVE_IDLE: i32 = 36;
    pub const TCP_KEEPALIVE_INTVL: i32 = 37;
    pub const IMMEDIATE: i32 = 39;
    pub const XPUB_VERBOSE: i32 = 40;
    pub const ROUTER_RAW: i32 = 41;
    pub const IPV6: i32 = 42;
    pub const MECHANISM: i32 = 43;
    pub const PLAIN_SERVER: i32 = 44;
    pub const PLAIN_USERNAME: i32 = 45;
    pub const PLAIN_PASSWORD: i32 = 46;
    pub const CURVE_SERVER: i32 = 47;
    pub const CURVE_PUBLICKEY: i32 = 48;
    pub const CURVE_SECRETKEY: i32 = 49;
    pub const CURVE_SERVERKEY: i32 = 50;
    pub const PROBE_ROUTER: i32 = 51;
    pub const REQ_CORRELATE: i32 = 52;
    pub const REQ_RELAXED: i32 = 53;
    pub const CONFLATE: i32 = 54;
    pub const ZAP_DOMAIN: i32 = 55;
    pub const ROUTER_HANDOVER: i32 = 56;
    pub const TOS: i32 = 57;
    pub const IPC_FILTER_PID: i32 = 58;
    pub const IPC_FILTER_UID: i32 = 59;
    pub const IPC_FILTER_GID: i32 = 60;
    /// Deprecated in libzmq (ZAP is the general way), still honoured.
    pub const TCP_ACCEPT_FILTER: i32 = 38;
    pub const CONNECT_ROUTING_ID: i32 = 61;
    pub const GSSAPI_SERVER: i32 = 62;
    pub const GSSAPI_PRINCIPAL: i32 = 63;
    pub const GSSAPI_SERVICE_PRINCIPAL: i32 = 64;
    pub const GSSAPI_PLAINTEXT: i32 = 65;
    pub const HANDSHAKE_IVL: i32 = 66;
    pub const SOCKS_PROXY: i32 = 68;
    pub const XPUB_NODROP: i32 = 69;
    pub const BLOCKY: i32 = 70;
    pub const XPUB_MANUAL: i32 = 71;
    pub const XPUB_WELCOME_MSG: i32 = 72;
    pub const STREAM_NOTIFY: i32 = 73;
    pub const INVERT_MATCHING: i32 = 74;
    pub const HEARTBEAT_IVL: i32 = 75;
    pub const HEARTBEAT_TTL: i32 = 76;
    pub const HEARTBEAT_TIMEOUT: i32 = 77;
    pub const XPUB_VERBOSER: i32 = 78;
    pub const CONNECT_TIMEOUT: i32 = 79;
    pub const TCP_MAXRT: i32 = 80;
    pub const THREAD_SAFE: i32 = 81;
    pub const MULTICAST_MAXTPDU: i32 = 84;
    pub const VMCI_BUFFER_SIZE: i32 = 85;
    pub const VMCI_BUFFER_MIN_SIZE: i32 = 86;
    pub const VMCI_BUFFER_MAX_SIZE: i32 = 87;
    pub const VMCI_CONNECT_TIMEOUT: i32 = 88;
    pub const USE_FD: i32 = 89;
    pub const GSSAPI_PRINCIPAL_NAMETYPE: i32 = 90;
    pub const GSSAPI_SERVICE_PRINCIPAL_NAMETYPE: i32 = 91;
    pub const BINDTODEVICE: i32 = 92;
    pub const ZAP_ENFORCE_DOMAIN: i32 = 93;
    pub const LOOPBACK_FASTPATH: i32 = 94;
    pub const MULTICAST_LOOP: i32 = 96;
    pub const XPUB_MANUAL_LAST_VALUE: i32 = 98;
    /// A draft option in libzmq 4.3.5 (not in the stable `zmq.h`).
    pub const SOCKS_USERNAME: i32 = 99;
    /// A draft option in libzmq 4.3.5 (not in the stable `zmq.h`).
    pub const SOCKS_PASSWORD: i32 = 100;
    /// A draft option: ROUTER delivers `[routing id, ""]` when a peer connects
    /// ([`NOTIFY_CONNECT`]) or disconnects ([`NOTIFY_DISCONNECT`]).
    pub const ROUTER_NOTIFY: i32 = 97;
    /// [`ROUTER_NOTIFY`] bit.
    pub const NOTIFY_CONNECT: i32 = 1;
    /// [`ROUTER_NOTIFY`] bit.
    pub const NOTIFY_DISCONNECT: i32 = 2;
    pub const ONLY_FIRST_SUBSCRIBE: i32 = 108;
    /// A draft option in libzmq 4.3.5: when to stop reconnecting ([`RECONNECT_STOP_CONN_REFUSED`]
    /// and the other bits below).
    pub const RECONNECT_STOP: i32 = 109;
    /// [`RECONNECT_STOP`] bit: stop when a connect is refused (ECONNREFUSED).
    pub const RECONNECT_STOP_CONN_REFUSED: i32 = 0x1;
    /// [`RECONNECT_STOP`] bit: stop when a handshake fails.
    pub const RECONNECT_STOP_HANDSHAKE_FAILED: i32 = 0x2;
    /// [`RECONNECT_STOP`] bit: stop once `disconnect` was called (always so in oxmq, whose
    /// disconnect ends the endpoint's connecter at once).
    pub const RECONNECT_STOP_AFTER_DISCONNECT: i32 = 0x4;
    /// A draft option: a message a ROUTER or DEALER sends each new peer first.
    pub const HELLO_MSG: i32 = 110;
    /// A draft option: a message a ROUTER receives from a peer whose connection it accepted
    /// when that connection ends.
    pub const DISCONNECT_MSG: i32 = 111;
    /// A draft option: a message a DEALER receives from a peer whose connection (one it
    /// connected) broke, before it reconnects.
    pub const HICCUP_MSG: i32 = 114;
    /// A draft option: SO_PRIORITY of tcp connections.
    pub const PRIORITY: i32 = 112;
    pub const TOPICS_COUNT: i32 = 116;
    /// Deprecated alias of `ROUTING_ID`.
    pub const IDENTITY: i32 = ROUTING_ID;
    /// Deprecated: the inverse of `IPV6`.
    pub const IPV4ONLY: i32 = 31;
    /// Deprecated alias of `IMMEDIATE`.
    pub const DELAY_ATTACH_ON_CONNECT: i32 = IMMEDIATE;
}

/// An option's value, as [`Socket::option_value`](crate::Socket::option_value) reads it: the
/// type `zmq_getsockopt` writes for that option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionValue {
    /// An `int` (counts, milliseconds, on/off flags).
    Int(i32),
    /// An `int64_t` (MAXMSGSIZE).
    Long(i64),
    /// Binary data (ROUTING_ID).
    Bytes(Vec<u8>),
    /// A string, written with a terminating NUL by `zmq_getsockopt` (LAST_ENDPOINT).
    Text(String),
}

/// Options libzmq has that oxmq does not honour yet: setting one to anything but libzmq's
/// default gives [`Error::NotSupported`] (`ENOTSUP`), so that a program learns it instead of
/// trusting a value that does nothing; reading one gives the default ([`unsupported_default`]).
pub(crate) fn not_yet_supported(option: i32) -> bool {
    use number::*;
    // GSSAPI and VMCI are not here: like a libzmq built without them, oxmq does not know those
    // options (EINVAL).
    matches!(
        option,
        AFFINITY
            | RATE
            | RECOVERY_IVL
            | MULTICAST_HOPS
            | ROUTER_RAW
            | PLAIN_SERVER
            | PLAIN_USERNAME
            | PLAIN_PASSWORD
            | CURVE_SERVER
            | CURVE_PUBLICKEY
            | CURVE_SECRETKEY
            | CURVE_SERVERKEY
            | ZAP_DOMAIN
            | MULTICAST_MAXTPDU
            | ZAP_ENFORCE_DOMAIN
            | LOOPBACK_FASTPATH
            | MULTICAST_LOOP
    )
}

/// libzmq's default of an option oxmq does not honour yet ([`not_yet_supported`]): reading it
/// gives this value, as libzmq would, and setting it to this value changes nothing and is
/// accepted; any other value is [`Error::NotSupported`]. `None` for the options whose default
/// has no meaning without the feature.
pub(crate) fn unsupported_default(option: i32) -> Option<OptionValue> {
    use OptionValue::{Bytes, Int, Long, Text};
    use number::*;
    Some(match option {
        // No key set: libzmq reads 32 zero bytes.
        CURVE_PUBLICKEY | CURVE_SECRETKEY | CURVE_SERVERKEY => Bytes(vec![0; 32]),
        ZAP_ENFORCE_DOMAIN | LOOPBACK_FASTPATH => Int(0),
        MULTICAST_LOOP => Int(1),
        AFFINITY => Long(0),
        RATE => Int(100),
        RECOVERY_IVL => Int(10_000),
        MULTICAST_HOPS => Int(1),
        MULTICAST_MAXTPDU => Int(1500),
        PLAIN_SERVER | CURVE_SERVER => Int(0),
        PLAIN_USERNAME | PLAIN_PASSWORD | ZAP_DOMAIN => Text(String::new()),
        _ => return None,
    })
}

/// Whether `value`, as `zmq_setsockopt` passes it, is `default`.
pub(crate) fn is_default(value: &[u8], default: &OptionValue) -> bool {
    match default {
        OptionValue::Int(v) => value == v.to_ne_bytes(),
        OptionValue::Long(v) => value == v.to_ne_bytes(),
        OptionValue::Bytes(v) => value == v.as_slice(),
        OptionValue::Text(v) => value.strip_suffix(&[0]).unwrap_or(value) == v.as_bytes(),
    }
}

/// Reads an `int64_t` option value as `zmq_setsockopt` passes it.
pub(crate) fn long_value(value: &[u8]) -> Result<i64> {
    <[u8; 8]>::try_from(value)
        .map(i64::from_ne_bytes)
        .map_err(|_| Error::Invalid)
}

/// Reads an on/off option that libzmq takes strictly: an `int` that is 0 or 1.
pub(crate) fn strict_bool_value(value: &[u8]) -> Result<bool> {
    match <[u8; 4]>::try_from(value).map(i32::from_ne_bytes) {
        Ok(0) => Ok(false),
        Ok(1) => Ok(true),
        _ => Err(Error::Invalid),
    }
}

/// The most frames a received message may have unless set otherwise: far more than any
/// envelope stack needs, and few enough that a peer cannot grow one message without bound.
pub(crate) const DEFAULT_MAX_MESSAGE_FRAMES: i32 = 65_536;

/// The options of one socket.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub sndhwm: i32,
    pub rcvhwm: i32,
    /// Milliseconds; -1 waits forever.
    pub linger: i32,
    /// Milliseconds; -1 blocks forever.
    pub sndtimeo: i32,
    pub rcvtimeo: i32,
    /// Bytes per frame; -1 is unlimited.
    pub maxmsgsize: i64,
    pub immediate: bool,
    pub routing_id: Bytes,
    /// Milliseconds; 0 disables the handshake timeout.
    pub handshake_ivl: i32,
    /// Milliseconds; -1 never reconnects.
    pub reconnect_ivl: i32,
    /// Milliseconds; 0 keeps the interval fixed.
    pub reconnect_ivl_max: i32,
    pub backlog: i32,
    pub ipv6: bool,
    pub sndbuf: i32,
    pub rcvbuf: i32,
    /// STREAM: an empty message for each connection made and lost.
    pub stream_notify: bool,
    /// CONFLATE: keep only the newest message in each queue (DEALER, PULL, PUSH, PUB, SUB).
    pub conflate: bool,
    /// CONNECT_ROUTING_ID: the routing id a ROUTER (or REP) gives the peer of its next
    /// `connect()`, instead of the id the peer announces. Consumed by that connect.
    pub connect_routing_id: Option<Bytes>,
    /// TOS: the IP type of service of later tcp binds and connects (0: the kernel's).
    pub tos: i32,
    /// BINDTODEVICE: the interface later tcp binds and connects are bound to (empty: none).
    pub bindtodevice: Vec<u8>,
    /// USE_FD: a listening socket for later binds to adopt (-1: none).
    pub use_fd: i32,
    /// TCP_ACCEPT_FILTER and IPC_FILTER_*: who later binds let in.
    pub accept_filters: AcceptFilters,
    /// HEARTBEAT_IVL in milliseconds (0: no PINGs).
    pub heartbeat_ivl: i32,
    /// HEARTBEAT_TTL in milliseconds, a multiple of 100 (0: none announced).
    pub heartbeat_ttl: i32,
    /// HEARTBEAT_TIMEOUT in milliseconds (-1: HEARTBEAT_IVL).
    pub heartbeat_timeout: i32,
    /// SOCKS_PROXY: later tcp connects go through this SOCKS5 proxy (`host:port`, or
    /// `source;host:port`; empty: none).
    pub socks_proxy: String,
    /// SOCKS_USERNAME and SOCKS_PASSWORD: offered to the proxy when the username is not
    /// empty (at most 255 bytes each).
    pub socks_username: Vec<u8>,
    /// See `socks_username`.
    pub socks_password: Vec<u8>,
    /// TCP_KEEPALIVE (SO_KEEPALIVE): -1 the kernel's, 0 off, 1 on; and its count, idle time
    /// and interval in seconds (TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL; -1 the kernel's).
    pub tcp_keepalive: i32,
    pub tcp_keepalive_cnt: i32,
    pub tcp_keepalive_idle: i32,
    pub tcp_keepalive_intvl: i32,
    /// TCP_MAXRT in milliseconds (TCP_USER_TIMEOUT; 0 the kernel's).
    pub tcp_maxrt: i32,
    /// CONNECT_TIMEOUT in milliseconds: a tcp connect not complete by then is given up and
    /// tried again (0: the kernel's own timeout).
    pub connect_timeout: i32,
    /// RECONNECT_STOP: the `RECONNECT_STOP_*` bits.
    pub reconnect_stop: i32,
    /// HELLO_MSG, DISCONNECT_MSG, HICCUP_MSG (None: not set).
    pub hello_msg: Option<Bytes>,
    pub disconnect_msg: Option<Bytes>,
    pub hiccup_msg: Option<Bytes>,
    /// ROUTER_NOTIFY bits (ROUTER only).
    pub router_notify: i32,
    /// PRIORITY: SO_PRIORITY of later tcp binds and connects (0: the kernel's).
    pub priority: i32,
    /// Most frames a received message may have (-1: no limit).
    pub max_message_frames: i32,
    /// Largest received message, all frames together (-1: no limit).
    pub max_message_size: i64,
    /// SNDHWM_BYTES and RCVHWM_BYTES: bytes queued per peer each way (0: no byte bound).
    pub sndhwm_bytes: u64,
    pub rcvhwm_bytes: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            sndhwm: 1000,
            rcvhwm: 1000,
            linger: -1,
            sndtimeo: -1,
            rcvtimeo: -1,
            maxmsgsize: -1,
            immediate: false,
            routing_id: Bytes::new(),
            handshake_ivl: 30_000,
            reconnect_ivl: 100,
            reconnect_ivl_max: 0,
            backlog: 100,
            ipv6: false,
            sndbuf: -1,
            rcvbuf: -1,
            stream_notify: true,
            conflate: false,
            connect_routing_id: None,
            tos: 0,
            bindtodevice: Vec::new(),
            use_fd: -1,
            accept_filters: AcceptFilters::default(),
            heartbeat_ivl: 0,
            heartbeat_ttl: 0,
            heartbeat_timeout: -1,
            socks_proxy: String::new(),
            socks_username: Vec::new(),
            socks_password: Vec::new(),
            tcp_keepalive: -1,
            tcp_keepalive_cnt: -1,
            tcp_keepalive_idle: -1,
            tcp_keepalive_intvl: -1,
            tcp_maxrt: 0,
            connect_timeout: 0,
            reconnect_stop: 0,
            hello_msg: None,
            disconnect_msg: None,
            hiccup_msg: None,
            router_notify: 0,
            priority: 0,
            max_message_frames: DEFAULT_MAX_MESSAGE_FRAMES,
            max_message_size: -1,
            sndhwm_bytes: 0,
            rcvhwm_bytes: 0,
        }
    }
}

impl Options {
    /// The HELLO_MSG a socket of `socket_type` sends each new peer: ROUTER and DEALER send
    /// one (libzmq's CLIENT, SERVER and PEER too, which oxmq has not yet).
    pub(crate) fn hello_for(&self, socket_type: SocketType) -> Option<&Bytes> {
        matches!(socket_type, SocketType::Router | SocketType::Dealer)
            .then_some(self.hello_msg.as_ref())
            .flatten()
    }

    /// The DISCONNECT_MSG a socket of `socket_type` receives when an accepted connection
    /// ends: ROUTER's.
    pub(crate) fn disconnect_msg_for(&self, socket_type: SocketType) -> Option<&Bytes> {
        (socket_type == SocketType::Router)
            .then_some(self.disconnect_msg.as_ref())
            .flatten()
    }

    /// The HICCUP_MSG a socket of `socket_type` receives when a connection it made breaks:
    /// DEALER's.
    pub(crate) fn hiccup_msg_for(&self, socket_type: SocketType) -> Option<&Bytes> {
        (socket_type == SocketType::Dealer)
            .then_some(self.hiccup_msg.as_ref())
            .flatten()
    }

    /// Whether a ROUTER_NOTIFY `bit` is set (only a ROUTER has any).
    pub(crate) fn router_notifies(&self, bit: i32) -> bool {
        self.router_notify & bit != 0
    }

    /// A timeout option in milliseconds as a duration; `None` means forever.
    pub(crate) fn timeout(ms: i32) -> Option<Duration> {
        u64::try_from(ms).ok().map(Duration::from_millis)
    }

    /// What a connection's protocol state needs of the options (MAXMSGSIZE, heartbeats), for
    /// a peer whose greeting minor version is still to be learnt.
    pub(crate) fn connection_config(&self) -> ConnectionConfig {
        let positive = |ms: i32| {
            u64::try_from(ms)
                .ok()
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis)
        };
        let mut config = ConnectionConfig::new(0);
        config.max_frame_size = self.max_frame_size();
        config.max_message_frames = usize::try_from(self.max_message_frames).ok();
        config.max_message_size = u64::try_from(self.max_message_size).ok();
        config.heartbeat_ivl = positive(self.heartbeat_ivl);
        config.heartbeat_ttl = positive(self.heartbeat_ttl);
        // -1 follows the interval; 0 never times out.
        config.heartbeat_timeout = u64::try_from(self.heartbeat_timeout)
            .ok()
            .map(Duration::from_millis);
        config
    }

    /// MAXMSGSIZE as a byte limit.
    pub(crate) fn max_frame_size(&self) -> Option<u64> {
        u64::try_from(self.maxmsgsize).ok()
    }

    /// Whether the queues a socket of `socket_type` receives from keep only the newest message
    /// (CONFLATE applies to DEALER, PULL and SUB, as in libzmq).
    pub(crate) fn conflate_incoming(&self, socket_type: SocketType) -> bool {
        self.conflate
            && matches!(
                socket_type,
                SocketType::Dealer | SocketType::Pull | SocketType::Sub
            )
    }

    /// Whether the queues a socket of `socket_type` sends into keep only the newest message
    /// (CONFLATE applies to DEALER, PUSH and PUB). Subscriptions and other control messages
    /// never travel through a conflating queue, unlike in libzmq, where a SUB with CONFLATE can
    /// lose all but its last subscription.
    pub(crate) fn conflate_outgoing(&self, socket_type: SocketType) -> bool {
        self.conflate
            && matches!(
                socket_type,
                SocketType::Dealer | SocketType::Push | SocketType::Pub
            )
    }
}

/// Checks an option that takes a count or a duration: `-1` or any non-negative value.
pub(crate) fn check_min_minus_one(value: i32) -> Result<i32> {
    if value < -1 {
        Err(Error::Invalid)
    } else {
        Ok(value)
    }
}

/// HEARTBEAT_TTL: 0 to 6553599 ms, kept in whole deciseconds as the PING carries it (libzmq
/// rounds it down the same way).
pub(crate) fn check_heartbeat_ttl(value: i32) -> Result<i32> {
    const MAX: i32 = (u16::MAX as i32 + 1) * 100 - 1;
    if (0..=MAX).contains(&value) {
        Ok(value - value % 100)
    } else {
        Err(Error::Invalid)
    }
}

/// Checks an option that must not be negative.
/// TCP_KEEPALIVE: -1, 0 or 1.
pub(crate) fn check_keepalive(value: i32) -> Result<i32> {
    if (-1..=1).contains(&value) {
        Ok(value)
    } else {
        Err(Error::Invalid)
    }
}

pub(crate) fn check_non_negative(value: i32) -> Result<i32> {
    if value < 0 {
        Err(Error::Invalid)
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_libzmq() {
        let opts = Options::default();
        assert_eq!((opts.sndhwm, opts.rcvhwm), (1000, 1000));
        assert_eq!(opts.linger, -1);
        assert_eq!(opts.handshake_ivl, 30_000);
        assert_eq!(opts.reconnect_ivl, 100);
        assert_eq!(opts.reconnect_ivl_max, 0);
        assert_eq!(opts.maxmsgsize, -1);
        assert_eq!(opts.max_frame_size(), None);
        assert_eq!(Options::timeout(-1), None);
        assert_eq!(Options::timeout(5), Some(Duration::from_millis(5)));
    }

    #[test]
    fn option_checks() {
        assert_eq!(check_min_minus_one(-2), Err(Error::Invalid));
        assert_eq!(check_min_minus_one(-1), Ok(-1));
        assert_eq!(check_non_negative(-1), Err(Error::Invalid));
    }
}
