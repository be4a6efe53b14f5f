//! Endpoint plumbing: what `bind`, `connect`, `unbind` and `disconnect` set in motion.
//!
//! tcp and ipc binds open the listener on the caller's thread (so that errors such as
//! EADDRINUSE are reported by `bind` itself) and hand it to an I/O thread; connects start a
//! connecter session there. inproc goes through the context's registry and involves no thread.
//! Every new peer reaches the socket through its mailbox, whatever the transport.

use std::sync::{Arc, mpsc};
use std::time::Duration;

use oxmq_proto::SocketType;

use super::link::SocketLink;
use super::{ConnectTarget, IoCommand, IoPool, SessionPipes, transport_options};
use crate::endpoint::{Endpoint, tcp_endpoint_string};
use crate::engine::{ReadGate, WriteGate};
use crate::error::{Error, Result};
use crate::monitor::EventKind;
use crate::options::Options;
use crate::pipe::{Hwm, Peer, PeerEvent, pipe};
use crate::transport::inproc::{InprocOptions, Registry};
use crate::transport::{Listener, ipc, tcp};

/// How long `unbind` waits for the I/O thread to release the address, so that it can be bound
/// again at once. The thread does this within one turn; the bound only guards against a wedged
/// thread.
const UNBIND_WAIT: Duration = Duration::from_secs(5);

/// What an endpoint of a socket is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A tcp or ipc listener, on I/O thread `io`, whose descriptor is `fd`.
    Bound {
        io: usize,
        fd: i32,
    },
    Connected {
        io: usize,
    },
    InprocBound,
    InprocConnected,
}

struct Record {
    /// The endpoint as given to bind/connect.
    given: String,
    /// The endpoint as resolved (the real port of `tcp://*:0`).
    resolved: String,
    id: u64,
    kind: Kind,
}

/// What endpoint operations act on: the context's threads and inproc names, and the socket.
pub(crate) struct Env<'a> {
    pub pool: &'a IoPool,
    pub inproc: &'a Registry,
    pub link: &'a Arc<SocketLink>,
    pub opts: &'a Options,
}

impl Env<'_> {
    fn inproc_options(&self) -> InprocOptions {
        InprocOptions {
            sndhwm: self.opts.sndhwm,
            rcvhwm: self.opts.rcvhwm,
            sndhwm_bytes: self.opts.sndhwm_bytes,
            rcvhwm_bytes: self.opts.rcvhwm_bytes,
            routing_id: self.opts.routing_id.clone(),
            wants_routing_id: wants_routing_id(self.link.socket_type()),
            conflate_in: self.opts.conflate_incoming(self.link.socket_type()),
            conflate_out: self.opts.conflate_outgoing(self.link.socket_type()),
            hello: self.opts.hello_for(self.link.socket_type()).cloned(),
            farewell: self
                .opts
                .disconnect_msg_for(self.link.socket_type())
                .cloned(),
        }
    }
}

/// Whether a socket type learns its peers' routing ids (and so needs them in-band when a
/// connection's identity is unknown as its pipes are attached).
pub(crate) fn wants_routing_id(socket_type: SocketType) -> bool {
    // REP routes its replies by routing id, as libzmq's REP (a ROUTER underneath) does.
    matches!(socket_type, SocketType::Router | SocketType::Rep)
}

/// Whether a socket type's connections are lent to a receive blocked on its only peer (see
/// `engine::read_gate`): not raw STREAM connections, and not those of sockets that take
/// subscriptions (their sessions pass them on while the socket sends), nor of sockets that
/// never receive.
pub(crate) fn lends_reads(socket_type: SocketType) -> bool {
    !matches!(
        socket_type,
        SocketType::Stream | SocketType::Pub | SocketType::XPub | SocketType::Push
    )
}

/// The endpoints of one socket.
#[derive(Default)]
pub(crate) struct Endpoints {
    records: Vec<Record>,
    last: String,
}

impl Endpoints {
    /// The last endpoint bound or connected, with a wildcard port resolved.
    pub(crate) fn last_endpoint(&self) -> &str {
        &self.last
    }

    /// Binds `endpoint`.
    pub(crate) fn bind(&mut self, env: &Env<'_>, endpoint: &str, id: u64) -> Result<()> {
        let (resolved, kind) = match Endpoint::parse(endpoint)? {
            Endpoint::Inproc(_) if env.link.socket_type() == SocketType::Stream => {
                return Err(Error::NoCompatibleProtocol);
            }
            Endpoint::Inproc(name) => {
                env.inproc
                    .bind(
                        &name,
                        env.link.mailbox(),
                        env.link.id(),
                        &env.inproc_options(),
                        id,
                    )
                    .map_err(|_| Error::AddrInUse)?;
                (endpoint.to_owned(), Kind::InprocBound)
            }
            parsed => {
                let opts = transport_options(env.opts);
                let listen = || -> Result<(Listener, String)> {
                    Ok(match parsed {
                        Endpoint::Tcp(tcp) => {
                            let (listener, local) =
                                tcp::bind(tcp.bind_addr(env.opts.ipv6)?, &opts)?;
                            (listener, tcp_endpoint_string(local))
                        }
                        Endpoint::Ipc(ipc) => {
                            let ipc = ipc.for_bind();
                            let listener = ipc::bind(&ipc.socket_addr()?, &opts)?;
                            (listener, Endpoint::Ipc(ipc).to_string())
                        }
                        Endpoint::Inproc(_) => unreachable!("handled above"),
                    })
                };
                let monitor = env.link.monitor();
                let (listener, text) = listen().inspect_err(|err| {
                    monitor.emit(EventKind::BindFailed, err.errno() as u64, || {
                        endpoint.to_owned()
                    });
                })?;
                let io = env.pool.choose()?;
                let fd = listener.fd();
                monitor.emit(EventKind::Listening, fd as u64, || text.clone());
                env.pool.get(io)?.send(IoCommand::Listen {
                    listener,
                    socket: Arc::clone(env.link),
                    opts: Arc::new(env.opts.clone()),
                    endpoint_id: id,
                    endpoint: text.clone(),
                });
                (text, Kind::Bound { io, fd })
            }
        };
        self.last.clone_from(&resolved);
        self.records.push(Record {
            given: endpoint.to_owned(),
            resolved,
            id,
            kind,
        });
        Ok(())
    }

    /// Connects to `endpoint`: at once for inproc, in the background otherwise.
    pub(crate) fn connect(&mut self, env: &Env<'_>, endpoint: &str, id: u64) -> Result<()> {
        let kind = match Endpoint::parse(endpoint)? {
            Endpoint::Inproc(_) if env.link.socket_type() == SocketType::Stream => {
                return Err(Error::NoCompatibleProtocol);
            }
            Endpoint::Inproc(name) => {
                let mut peer =
                    env.inproc
                        .connect(&name, env.link.mailbox(), &env.inproc_options(), id);
                peer.assigned_id.clone_from(&env.opts.connect_routing_id);
                env.link.post(PeerEvent::Attach(peer));
                Kind::InprocConnected
            }
            Endpoint::Tcp(tcp) => {
                if env.opts.socks_proxy.is_empty() {
                    tcp.connect_addr(env.opts.ipv6)?;
                    tcp.source_addr(env.opts.ipv6)?;
                } else {
                    // The proxy resolves the host; only the port must be there.
                    tcp.port.ok_or(Error::Invalid)?;
                }
                Self::start_connecter(env, ConnectTarget::Tcp(tcp), id, endpoint)?
            }
            Endpoint::Ipc(ipc) => {
                ipc.socket_addr()?;
                Self::start_connecter(env, ConnectTarget::Ipc(ipc), id, endpoint)?
            }
        };
        endpoint.clone_into(&mut self.last);
        self.records.push(Record {
            given: endpoint.to_owned(),
            resolved: endpoint.to_owned(),
            id,
            kind,
        });
        Ok(())
    }

    fn start_connecter(
        env: &Env<'_>,
        target: ConnectTarget,
        id: u64,
        endpoint: &str,
    ) -> Result<Kind> {
        let io = env.pool.choose()?;
        let pipes = if env.opts.immediate {
            None
        } else {
            // Without IMMEDIATE the peer exists from now on: messages queue for it while the
            // connection is being made, as in libzmq.
            let act = env.link.activation();
            let socket_type = env.link.socket_type();
            let (to_peer, from_socket) = pipe(
                Hwm::send(env.opts.sndhwm).bytes(env.opts.sndhwm_bytes, 0),
                env.opts.conflate_outgoing(socket_type),
                None,
                Some(Arc::clone(&act)),
            );
            let (to_socket, from_peer) = pipe(
                Hwm::recv(env.opts.rcvhwm).bytes(0, env.opts.rcvhwm_bytes),
                env.opts.conflate_incoming(socket_type),
                Some(act),
                None,
            );
            let gate = WriteGate::new();
            let read_gate = ReadGate::new(Arc::clone(&gate));
            let mut peer = Peer::new(to_peer, from_peer, id);
            if env.link.socket_type() != SocketType::Stream {
                // Raw connections are written by their session only.
                peer.sink = Some(Arc::clone(&gate) as _);
            }
            if lends_reads(socket_type) {
                peer.source = Some(Arc::clone(&read_gate) as _);
            }
            peer.assigned_id.clone_from(&env.opts.connect_routing_id);
            let peer_id = peer.id;
            let names = Arc::clone(&peer.names);
            env.link.post(PeerEvent::Attach(peer));
            Some(SessionPipes {
                outgoing: from_socket,
                incoming: to_socket,
                gate,
                read_gate,
                peer_id,
                names,
            })
        };
        env.pool.get(io)?.send(IoCommand::Connect {
            target,
            socket: Arc::clone(env.link),
            opts: Arc::new(env.opts.clone()),
            endpoint_id: id,
            endpoint: endpoint.to_owned(),
            pipes,
        });
        Ok(Kind::Connected { io })
    }

    fn take(&mut self, endpoint: &str, bound: bool) -> Result<Record> {
        Endpoint::parse(endpoint)?;
        let position = self.records.iter().position(|record| {
            let kind_matches = matches!(
                (record.kind, bound),
                (Kind::Bound { .. } | Kind::InprocBound, true)
                    | (Kind::Connected { .. } | Kind::InprocConnected, false)
            );
            kind_matches
                && (record.resolved == endpoint
                    || record.given == endpoint && !endpoint.contains('*'))
        });
        position
            .map(|i| self.records.remove(i))
            .ok_or(Error::NotFound)
    }

    /// Unbinds `endpoint`; returns its id, whose peers the socket must forget.
    pub(crate) fn unbind(&mut self, env: &Env<'_>, endpoint: &str) -> Result<u64> {
        let record = self.take(endpoint, true)?;
        match record.kind {
            Kind::Bound { io, .. } => {
                let (done, wait) = mpsc::channel();
                env.pool.get(io)?.send(IoCommand::Unbind {
                    endpoint_id: record.id,
                    done,
                });
                if wait.recv_timeout(UNBIND_WAIT).is_err() {
                    tracing::warn!("oxmq: unbind of {endpoint}: the I/O thread did not confirm");
                }
                record.closed(env.link);
            }
            Kind::InprocBound => env.inproc.unbind(inproc_name(&record.given), env.link.id()),
            Kind::Connected { .. } | Kind::InprocConnected => {}
        }
        Ok(record.id)
    }

    /// Disconnects `endpoint`; returns its id, whose peers the socket must forget.
    pub(crate) fn disconnect(&mut self, env: &Env<'_>, endpoint: &str) -> Result<u64> {
        let record = self.take(endpoint, false)?;
        if let Kind::Connected { io } = record.kind {
            env.pool.get(io)?.send(IoCommand::Disconnect {
                endpoint_id: record.id,
            });
        }
        Ok(record.id)
    }

    /// Releases the inproc names the socket bound, and reports its listeners closed (it is
    /// closing: the I/O threads close them next).
    pub(crate) fn close(&mut self, inproc: &Registry, link: &SocketLink) {
        for record in self.records.drain(..) {
            match record.kind {
                Kind::InprocBound => inproc.unbind(inproc_name(&record.given), link.id()),
                Kind::Bound { .. } => record.closed(link),
                Kind::Connected { .. } | Kind::InprocConnected => {}
            }
        }
    }
}

impl Record {
    /// Raises CLOSED for a listener. It is raised here, on the socket's side, so that a
    /// closing socket's monitor sees it before MONITOR_STOPPED, as libzmq's does.
    fn closed(&self, link: &SocketLink) {
        if let Kind::Bound { fd, .. } = self.kind {
            link.monitor()
                .emit(EventKind::Closed, fd as u64, || self.resolved.clone());
        }
    }
}

fn inproc_name(endpoint: &str) -> &str {
    endpoint.trim_start_matches("inproc://")
}
