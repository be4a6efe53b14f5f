//! ZeroMQ socket types: their libzmq numbers, their ZMTP wire names and
//! which pairs of them may talk to each other.

use std::fmt;
use std::str::FromStr;

use crate::error::ParseSocketTypeError;

/// A ZeroMQ socket type.
///
/// The wire name (see [`SocketType::as_str`]) is what a peer announces in the
/// `Socket-Type` property of its READY command; the number
/// ([`SocketType::zmq_number`]) is the `ZMQ_*` constant from libzmq's
/// `zmq.h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketType {
    /// Exclusive pair (`ZMQ_PAIR`).
    Pair,
    /// Publisher (`ZMQ_PUB`).
    Pub,
    /// Subscriber (`ZMQ_SUB`).
    Sub,
    /// Request side of request-reply (`ZMQ_REQ`).
    Req,
    /// Reply side of request-reply (`ZMQ_REP`).
    Rep,
    /// Asynchronous request side (`ZMQ_DEALER`).
    Dealer,
    /// Asynchronous, addressed reply side (`ZMQ_ROUTER`).
    Router,
    /// Pipeline sink (`ZMQ_PULL`).
    Pull,
    /// Pipeline source (`ZMQ_PUSH`).
    Push,
    /// Publisher that sees subscriptions (`ZMQ_XPUB`).
    XPub,
    /// Subscriber that sends raw subscriptions (`ZMQ_XSUB`).
    XSub,
    /// Raw TCP socket (`ZMQ_STREAM`); never speaks ZMTP.
    Stream,
    /// Thread-safe server (`ZMQ_SERVER`, draft).
    Server,
    /// Thread-safe client (`ZMQ_CLIENT`, draft).
    Client,
    /// Group publisher (`ZMQ_RADIO`, draft).
    Radio,
    /// Group subscriber (`ZMQ_DISH`, draft).
    Dish,
    /// Thread-safe pipeline sink (`ZMQ_GATHER`, draft).
    Gather,
    /// Thread-safe pipeline source (`ZMQ_SCATTER`, draft).
    Scatter,
    /// UDP datagram socket (`ZMQ_DGRAM`, draft); never speaks ZMTP.
    Dgram,
    /// Peer-to-peer socket (`ZMQ_PEER`, draft).
    Peer,
    /// Thread-safe exclusive pair (`ZMQ_CHANNEL`, draft).
    Channel,
}

impl SocketType {
    /// Every socket type, ordered by libzmq number.
    pub const ALL: [SocketType; 21] = [
        SocketType::Pair,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pull,
        SocketType::Push,
        SocketType::XPub,
        SocketType::XSub,
        SocketType::Stream,
        SocketType::Server,
        SocketType::Client,
        SocketType::Radio,
        SocketType::Dish,
        SocketType::Gather,
        SocketType::Scatter,
        SocketType::Dgram,
        SocketType::Peer,
        SocketType::Channel,
    ];

    /// The `ZMQ_*` number libzmq uses for this socket type.
    pub const fn zmq_number(self) -> i32 {
        match self {
            SocketType::Pair => 0,
            SocketType::Pub => 1,
            SocketType::Sub => 2,
            SocketType::Req => 3,
            SocketType::Rep => 4,
            SocketType::Dealer => 5,
            SocketType::Router => 6,
            SocketType::Pull => 7,
            SocketType::Push => 8,
            SocketType::XPub => 9,
            SocketType::XSub => 10,
            SocketType::Stream => 11,
            SocketType::Server => 12,
            SocketType::Client => 13,
            SocketType::Radio => 14,
            SocketType::Dish => 15,
            SocketType::Gather => 16,
            SocketType::Scatter => 17,
            SocketType::Dgram => 18,
            SocketType::Peer => 19,
            SocketType::Channel => 20,
        }
    }

    /// The socket type with libzmq number `n`, if there is one.
    pub fn from_zmq_number(n: i32) -> Option<Self> {
        let index = usize::try_from(n).ok()?;
        Self::ALL.get(index).copied()
    }

    /// The upper-case name sent in the `Socket-Type` property (`"PAIR"`,
    /// `"XPUB"`, `"DEALER"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            SocketType::Pair => "PAIR",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pull => "PULL",
            SocketType::Push => "PUSH",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
            SocketType::Stream => "STREAM",
            SocketType::Server => "SERVER",
            SocketType::Client => "CLIENT",
            SocketType::Radio => "RADIO",
            SocketType::Dish => "DISH",
            SocketType::Gather => "GATHER",
            SocketType::Scatter => "SCATTER",
            SocketType::Dgram => "DGRAM",
            SocketType::Peer => "PEER",
            SocketType::Channel => "CHANNEL",
        }
    }

    /// Looks up a `Socket-Type` property value as received from a peer.
    ///
    /// The match is exact and case-sensitive, as in libzmq: `b"push"` is not a
    /// socket type on the wire.
    pub fn from_wire_name(name: &[u8]) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.as_str().as_bytes() == name)
    }

    /// Whether a socket of this type may hold a ZMTP connection to a peer of
    /// type `peer`, following the table in RFC 37 ("The Socket-Type
    /// Property"). The relation is symmetric.
    ///
    /// `STREAM` and `DGRAM` never speak ZMTP, so they are compatible with
    /// nothing.
    pub fn is_compatible_with(self, peer: SocketType) -> bool {
        use SocketType::*;
        match self {
            Pair => matches!(peer, Pair),
            Pub | XPub => matches!(peer, Sub | XSub),
            Sub | XSub => matches!(peer, Pub | XPub),
            Req => matches!(peer, Rep | Router),
            Rep => matches!(peer, Req | Dealer),
            Dealer => matches!(peer, Rep | Dealer | Router),
            Router => matches!(peer, Req | Dealer | Router),
            Push => matches!(peer, Pull),
            Pull => matches!(peer, Push),
            Client => matches!(peer, Server),
            Server => matches!(peer, Client),
            Radio => matches!(peer, Dish),
            Dish => matches!(peer, Radio),
            Scatter => matches!(peer, Gather),
            Gather => matches!(peer, Scatter),
            Peer => matches!(peer, Peer),
            Channel => matches!(peer, Channel),
            Stream | Dgram => false,
        }
    }

    /// Whether libzmq announces an `Identity` property for this socket type
    /// in its READY/INITIATE metadata (REQ, DEALER and ROUTER only, see
    /// `mechanism_t::add_basic_properties`).
    pub const fn sends_identity(self) -> bool {
        matches!(
            self,
            SocketType::Req | SocketType::Dealer | SocketType::Router
        )
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SocketType {
    type Err = ParseSocketTypeError;

    /// Parses a socket type name case-insensitively (`"push"`, `"PUSH"`,
    /// `"xPub"`), for command lines and configuration files.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseSocketTypeError { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_match_libzmq() {
        for (i, t) in SocketType::ALL.iter().enumerate() {
            assert_eq!(t.zmq_number(), i32::try_from(i).unwrap());
            assert_eq!(SocketType::from_zmq_number(t.zmq_number()), Some(*t));
        }
        assert_eq!(SocketType::Push.zmq_number(), 8);
        assert_eq!(SocketType::XSub.zmq_number(), 10);
        assert_eq!(SocketType::Channel.zmq_number(), 20);
        assert_eq!(SocketType::from_zmq_number(-1), None);
        assert_eq!(SocketType::from_zmq_number(21), None);
        assert_eq!(SocketType::from_zmq_number(i32::MAX), None);
    }

    #[test]
    fn wire_names_are_exact() {
        for t in SocketType::ALL {
            assert_eq!(SocketType::from_wire_name(t.as_str().as_bytes()), Some(t));
        }
        assert_eq!(SocketType::from_wire_name(b"push"), None);
        assert_eq!(SocketType::from_wire_name(b"PUSH "), None);
        assert_eq!(SocketType::from_wire_name(b""), None);
        assert_eq!(SocketType::from_wire_name(b"PUSH\0"), None);
    }

    #[test]
    fn from_str_is_case_insensitive() {
        assert_eq!("push".parse::<SocketType>(), Ok(SocketType::Push));
        assert_eq!("PUSH".parse::<SocketType>(), Ok(SocketType::Push));
        assert_eq!("xPub".parse::<SocketType>(), Ok(SocketType::XPub));
        let err = "pusher".parse::<SocketType>().unwrap_err();
        assert_eq!(err.name, "pusher");
        assert!(err.to_string().contains("pusher"));
    }

    #[test]
    fn display_is_wire_name() {
        assert_eq!(SocketType::Dealer.to_string(), "DEALER");
    }

    #[test]
    fn compatibility_matrix_is_symmetric() {
        for a in SocketType::ALL {
            for b in SocketType::ALL {
                assert_eq!(
                    a.is_compatible_with(b),
                    b.is_compatible_with(a),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn compatibility_matrix_matches_rfc37() {
        use SocketType::*;
        let legal: &[(SocketType, SocketType)] = &[
            (Pair, Pair),
            (Pub, Sub),
            (Pub, XSub),
            (XPub, Sub),
            (XPub, XSub),
            (Req, Rep),
            (Req, Router),
            (Rep, Dealer),
            (Dealer, Dealer),
            (Dealer, Router),
            (Router, Router),
            (Push, Pull),
            (Client, Server),
            (Radio, Dish),
            (Scatter, Gather),
            (Peer, Peer),
            (Channel, Channel),
        ];
        let mut count = 0;
        for a in SocketType::ALL {
            for b in SocketType::ALL {
                let expected = legal.contains(&(a, b)) || legal.contains(&(b, a));
                assert_eq!(a.is_compatible_with(b), expected, "{a} vs {b}");
                count += usize::from(expected);
            }
        }
        // 17 listed pairs, 5 of which are self-pairs.
        assert_eq!(count, 17 * 2 - 5);
        assert!(!Push.is_compatible_with(Push));
        assert!(!Req.is_compatible_with(Req));
        assert!(!Pub.is_compatible_with(Push));
        assert!(!Stream.is_compatible_with(Stream));
        assert!(!Dgram.is_compatible_with(Dgram));
    }
}
