//! inproc: sockets of one context connected by a pair of pipes, with no I/O thread, no encoding
//! and no copy.
//!
//! The registry maps bound names to the binding socket's mailbox. A connect to a bound name
//! creates both peers at once and posts the binder's to its mailbox; a connect before the bind
//! leaves the binder's peer pending under the name until a socket binds it (libzmq allows both
//! orders). When one side's peer is dropped (the socket closed, or disconnected), the other side
//! is told through its mailbox.
//!
//! As in libzmq, a pipe holds the sum of its writer's SNDHWM and its reader's RCVHWM (unlimited
//! when either is 0): see [`Hwm`]. A connect before the bind bounds its pipes by its own HWMs
//! alone until the binder adds its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::message::{Kind, Message};
use crate::pipe::{FarEnd, Hwm, Mailbox, Peer, PeerEvent, pipe};

/// What an inproc connection needs of a socket's options.
#[derive(Clone, Debug)]
pub(crate) struct InprocOptions {
    pub sndhwm: i32,
    pub rcvhwm: i32,
    /// SNDHWM_BYTES, RCVHWM_BYTES (0: none).
    pub sndhwm_bytes: u64,
    pub rcvhwm_bytes: u64,
    /// ROUTING_ID (empty: none).
    pub routing_id: Bytes,
    /// The socket learns peers' routing ids (ROUTER): give it the binder's in-band when the
    /// connect came first.
    pub wants_routing_id: bool,
    /// CONFLATE for what the socket receives.
    pub conflate_in: bool,
    /// CONFLATE for what the socket sends.
    pub conflate_out: bool,
    /// HELLO_MSG: sent to each new peer first.
    pub hello: Option<Bytes>,
    /// DISCONNECT_MSG: received from a peer that connected to this socket when it goes.
    pub farewell: Option<Bytes>,
}

struct Binding {
    mailbox: Arc<Mailbox>,
    socket_id: u64,
    opts: InprocOptions,
    endpoint_id: u64,
}

struct Pending {
    /// The binder's end, to attach when the name is bound.
    peer: Peer,
    /// How the connecter reaches the binder's mailbox, once there is one.
    connecter_far: Arc<FarEnd>,
    /// The connecter wants the binder's routing id in-band.
    connecter_wants_id: bool,
}

/// The inproc namespace of one context.
#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<Names>,
}

#[derive(Default)]
struct Names {
    bound: HashMap<String, Binding>,
    /// Connects made before the bind, by name.
    pending: HashMap<String, Vec<Pending>>,
}

/// An inproc name is bound already (EADDRINUSE).
#[derive(Debug)]
pub(crate) struct AddrInUse;

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Names> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Binds `name` for the socket behind `mailbox`. The peers of connects that waited for the
    /// name are posted to the mailbox.
    pub(crate) fn bind(
        &self,
        name: &str,
        mailbox: &Arc<Mailbox>,
        socket_id: u64,
        opts: &InprocOptions,
        endpoint_id: u64,
    ) -> Result<(), AddrInUse> {
        let pending = {
            let mut names = self.lock();
            if names.bound.contains_key(name) {
                return Err(AddrInUse);
            }
            names.bound.insert(
                name.to_owned(),
                Binding {
                    mailbox: Arc::clone(mailbox),
                    socket_id,
                    opts: opts.clone(),
                    endpoint_id,
                },
            );
            names.pending.remove(name).unwrap_or_default()
        };
        for mut waiting in pending {
            let act = mailbox.activation();
            waiting.peer.writer.set_activation(Arc::clone(act));
            waiting.peer.reader.set_activation(Arc::clone(act));
            // The binder's HWMs join the connecter's.
            waiting.peer.writer.set_sndhwm(opts.sndhwm);
            waiting.peer.reader.set_rcvhwm(opts.rcvhwm);
            waiting.peer.writer.set_sndhwm_bytes(opts.sndhwm_bytes);
            waiting.peer.reader.set_rcvhwm_bytes(opts.rcvhwm_bytes);
            waiting.peer.endpoint_id = endpoint_id;
            if waiting.connecter_wants_id {
                // Ahead of anything the binder sends: the pipe is empty until the peer attaches.
                let id = Message::control(Kind::RoutingId, opts.routing_id.clone());
                let _ = waiting.peer.writer.send(id);
            }
            if let Some(hello) = &opts.hello {
                let _ = waiting.peer.writer.send(Message::from(hello.clone()));
            }
            // The peer first, so that a Detach for it (its connecter may be closed already)
            // comes after it.
            mailbox.post(PeerEvent::Attach(waiting.peer));
            waiting.connecter_far.set_mailbox(Arc::clone(mailbox));
        }
        Ok(())
    }

    /// Connects to `name`, bound or not yet. Returns the connecting socket's peer.
    pub(crate) fn connect(
        &self,
        name: &str,
        mailbox: &Arc<Mailbox>,
        opts: &InprocOptions,
        endpoint_id: u64,
    ) -> Peer {
        let mut names = self.lock();
        let act = Arc::clone(mailbox.activation());
        let binding = names.bound.get(name);
        let binder_act = binding.map(|b| Arc::clone(b.mailbox.activation()));
        let (to_binder_hwm, to_connecter_hwm, to_binder_conflates, to_connecter_conflates) =
            match binding {
                Some(b) => (
                    Hwm::both(opts.sndhwm, b.opts.rcvhwm)
                        .bytes(opts.sndhwm_bytes, b.opts.rcvhwm_bytes),
                    Hwm::both(b.opts.sndhwm, opts.rcvhwm)
                        .bytes(b.opts.sndhwm_bytes, opts.rcvhwm_bytes),
                    opts.conflate_out || b.opts.conflate_in,
                    b.opts.conflate_out || opts.conflate_in,
                ),
                // Unknown until the bind: the connecter's own options (the binder adds its
                // HWMs when it binds, as libzmq does).
                None => (
                    Hwm::send(opts.sndhwm).bytes(opts.sndhwm_bytes, 0),
                    Hwm::recv(opts.rcvhwm).bytes(0, opts.rcvhwm_bytes),
                    opts.conflate_out,
                    opts.conflate_in,
                ),
            };
        let (to_binder, binder_reads) = pipe(
            to_binder_hwm,
            to_binder_conflates,
            binder_act.clone(),
            Some(Arc::clone(&act)),
        );
        let (to_connecter, connecter_reads) = pipe(
            to_connecter_hwm,
            to_connecter_conflates,
            Some(act),
            binder_act,
        );
        let mut binder_peer = Peer::new(to_connecter, binder_reads, 0);
        let mut connecter_peer = Peer::new(to_binder, connecter_reads, endpoint_id);
        let endpoint = format!("inproc://{name}");
        binder_peer.names.set(endpoint.clone(), String::new());
        connecter_peer.names.set(String::new(), endpoint);
        binder_peer.routing_id = Some(opts.routing_id.clone());
        binder_peer.far_end = Some(FarEnd::new(Some(Arc::clone(mailbox)), connecter_peer.id));
        if let Some(hello) = &opts.hello {
            let _ = connecter_peer.writer.send(Message::from(hello.clone()));
        }
        match names.bound.get(name) {
            Some(binding) => {
                if let Some(hello) = &binding.opts.hello {
                    let _ = binder_peer.writer.send(Message::from(hello.clone()));
                }
                connecter_peer.farewell = binding.opts.farewell.clone().map(Message::from);
                binder_peer.endpoint_id = binding.endpoint_id;
                connecter_peer.routing_id = Some(binding.opts.routing_id.clone());
                connecter_peer.far_end = Some(FarEnd::new(
                    Some(Arc::clone(&binding.mailbox)),
                    binder_peer.id,
                ));
                binding.mailbox.post(PeerEvent::Attach(binder_peer));
            }
            None => {
                // The binder's routing id arrives in-band when it binds.
                let far = FarEnd::new(None, binder_peer.id);
                connecter_peer.far_end = Some(Arc::clone(&far));
                names
                    .pending
                    .entry(name.to_owned())
                    .or_default()
                    .push(Pending {
                        peer: binder_peer,
                        connecter_far: far,
                        connecter_wants_id: opts.wants_routing_id,
                    });
            }
        }
        connecter_peer
    }

    /// Releases `name` if `socket_id` bound it.
    pub(crate) fn unbind(&self, name: &str, socket_id: u64) {
        let mut names = self.lock();
        if names
            .bound
            .get(name)
            .is_some_and(|b| b.socket_id == socket_id)
        {
            names.bound.remove(name);
        }
    }

    /// Forgets pending connects whose connecting socket is gone and left nothing to deliver.
    /// What a closed connecter sent before the bind stays, for the binder to read (as in
    /// libzmq, whose pending connect keeps its pipes).
    pub(crate) fn prune_pending(&self) {
        let dropped: Vec<Pending> = {
            let mut names = self.lock();
            let mut dropped = Vec::new();
            names.pending.retain(|_, waiting| {
                for mut p in std::mem::take(waiting) {
                    if p.peer.writer.is_closed() && p.peer.reader.is_finished() {
                        dropped.push(p);
                    } else {
                        waiting.push(p);
                    }
                }
                !waiting.is_empty()
            });
            dropped
        };
        drop(dropped);
    }
}
