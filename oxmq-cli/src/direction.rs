//! Which socket types can send and which can receive, so `oxmq send pull ...` is refused before
//! any socket is opened.

use oxmq::SocketType;

/// Whether a socket of this type can send messages. XSUB sends (its subscriptions); SUB and PULL
/// cannot send.
pub fn can_send(socket_type: SocketType) -> bool {
    !matches!(
        socket_type,
        SocketType::Sub | SocketType::Pull | SocketType::Dish | SocketType::Gather
    )
}

/// Whether a socket of this type can receive messages. XPUB receives (subscriptions); PUB and
/// PUSH cannot receive.
pub fn can_recv(socket_type: SocketType) -> bool {
    !matches!(
        socket_type,
        SocketType::Pub | SocketType::Push | SocketType::Radio | SocketType::Scatter
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use SocketType::*;

    #[test]
    fn stable_types() {
        let senders = [
            Pair, Pub, XPub, XSub, Req, Rep, Dealer, Router, Push, Stream,
        ];
        let receivers = [
            Pair, Sub, XSub, XPub, Req, Rep, Dealer, Router, Pull, Stream,
        ];
        let stable = [
            Pair, Pub, Sub, XPub, XSub, Req, Rep, Dealer, Router, Pull, Push, Stream,
        ];
        for t in stable {
            assert_eq!(can_send(t), senders.contains(&t), "{t} send");
            assert_eq!(can_recv(t), receivers.contains(&t), "{t} recv");
        }
    }
}
