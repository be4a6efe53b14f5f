//! libzmq behind the benchmark workloads of `oxmq_cli::bench`: the driver `vs-libzmq` runs
//! beside oxmq, and that other side-by-side tools (`tools/vs-foundation`) reuse, so every tool
//! sets libzmq up the same way.

#![warn(missing_docs)]

use oxmq_cli::bench::{Driver, HWM, Kind, PUB_BACKLOG, SUB_RCVTIMEO_MS};

/// libzmq (through the `zmq` crate) behind the benchmark workloads.
pub struct Libzmq;

impl Driver for Libzmq {
    type Context = zmq::Context;
    type Socket = zmq::Socket;

    fn name(&self) -> &'static str {
        "libzmq"
    }

    fn supports(&self, _kind: Kind) -> bool {
        true
    }

    fn context(&self) -> zmq::Context {
        let ctx = zmq::Context::new();
        ctx.set_io_threads(1).expect("set ZMQ_IO_THREADS");
        ctx
    }

    fn socket(&self, ctx: &zmq::Context, kind: Kind) -> zmq::Socket {
        let socket_type = match kind {
            Kind::Push => zmq::PUSH,
            Kind::Pull => zmq::PULL,
            Kind::Pair => zmq::PAIR,
            Kind::Pub => zmq::PUB,
            Kind::Sub => zmq::SUB,
            Kind::Dealer => zmq::DEALER,
            Kind::Router => zmq::ROUTER,
            Kind::Req => zmq::REQ,
            Kind::Rep => zmq::REP,
        };
        let mut socket = ctx.socket(socket_type).expect("create a socket");
        socket.set_sndhwm(HWM).expect("set SNDHWM");
        socket.set_rcvhwm(HWM).expect("set RCVHWM");
        // As for oxmq: the workloads close sockets only after the last message arrived.
        socket.set_linger(0).expect("set LINGER");
        match kind {
            Kind::Pub => {
                set_xpub_nodrop(&mut socket);
                socket.set_backlog(PUB_BACKLOG).expect("set BACKLOG");
            }
            Kind::Sub => {
                socket.set_sndhwm(0).expect("set SNDHWM");
                socket.set_rcvtimeo(SUB_RCVTIMEO_MS).expect("set RCVTIMEO");
            }
            _ => {}
        }
        socket
    }

    fn bind(&self, socket: &zmq::Socket, endpoint: &str) -> String {
        socket.bind(endpoint).expect("bind");
        socket
            .get_last_endpoint()
            .expect("get ZMQ_LAST_ENDPOINT")
            .expect("ZMQ_LAST_ENDPOINT is UTF-8")
    }

    fn connect(&self, socket: &zmq::Socket, endpoint: &str) {
        socket.connect(endpoint).expect("connect");
    }

    fn subscribe(&self, socket: &zmq::Socket, prefix: &[u8]) {
        socket.set_subscribe(prefix).expect("set ZMQ_SUBSCRIBE");
    }

    fn send(&self, socket: &zmq::Socket, data: &[u8]) {
        // `&[u8]` becomes a zmq_msg_t holding a copy of the bytes, as in oxmq.
        socket.send(data, 0).expect("send");
    }

    fn recv(&self, socket: &zmq::Socket) -> usize {
        let mut msg = socket.recv_msg(0).expect("recv");
        // The message's own MORE flag (no getsockopt call per frame).
        while msg.get_more() {
            msg = socket.recv_msg(0).expect("recv");
        }
        msg.len()
    }

    fn recv_within(&self, socket: &zmq::Socket, wait: bool) -> Option<usize> {
        let flags = if wait { 0 } else { zmq::DONTWAIT };
        let mut msg = match socket.recv_msg(flags) {
            Ok(msg) => msg,
            Err(zmq::Error::EAGAIN) => return None,
            Err(err) => panic!("recv: {err}"),
        };
        while msg.get_more() {
            msg = socket.recv_msg(0).expect("recv");
        }
        Some(msg.len())
    }

    fn proxy(&self, mut frontend: zmq::Socket, mut backend: zmq::Socket, mut control: zmq::Socket) {
        zmq::proxy_steerable(&mut frontend, &mut backend, &mut control)
            .expect("zmq_proxy_steerable");
    }
}

/// ZMQ_XPUB_NODROP, which the `zmq` crate has no setter for.
fn set_xpub_nodrop(socket: &mut zmq::Socket) {
    let on: i32 = 1;
    // SAFETY: the socket pointer is live for the call (we hold the socket), and the value is an
    // `int` of the size passed, as zmq_setsockopt reads it for ZMQ_XPUB_NODROP.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            zmq_sys::ZMQ_XPUB_NODROP as i32,
            (&raw const on).cast(),
            std::mem::size_of::<i32>(),
        )
    };
    assert_eq!(rc, 0, "set ZMQ_XPUB_NODROP");
}

/// The median of `values` (NaN when there are none): what the tools report of repeated runs.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
        assert!(median(&[]).is_nan());
    }
}
