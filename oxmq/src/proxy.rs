//! The built-in proxy: [`proxy`] and [`proxy_steerable`] (libzmq's `zmq_proxy` and
//! `zmq_proxy_steerable`).
//!
//! Whole messages go from the frontend to the backend and back, each copied to the capture
//! socket first when there is one. A message moves only when its destination takes it without
//! blocking; one it refuses (a destination at its high-water mark) is held, and the proxy then
//! waits for the destination to have room rather than reading more from that source, so the
//! source's own queue fills and pushes back on its peers, as libzmq's proxy does (it looks for
//! `ZMQ_POLLOUT` first). Each direction moves at most [`BURST`] messages before the other gets
//! its turn. When nothing can move, the proxy sleeps in a [`Poller`] on exactly what would let
//! something move.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::message::Message;
use crate::poller::{PollEvent, Poller, Readiness};
use crate::socket::{Socket, SocketType};

/// The most messages moved in one direction before the proxy looks at the other (libzmq's
/// proxy burst).
pub const BURST: usize = 1000;

/// What went through one of the proxy's sockets (libzmq's `zmq_socket_stats_t`): messages and
/// bytes (all parts) received from it and sent to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Messages received from the socket.
    pub messages_in: u64,
    /// Bytes of the messages received from the socket.
    pub bytes_in: u64,
    /// Messages sent to the socket.
    pub messages_out: u64,
    /// Bytes of the messages sent to the socket.
    pub bytes_out: u64,
}

/// Runs the proxy until the context is shut down (then [`Error::Terminated`]), a signal
/// interrupts its wait ([`Error::Interrupted`]) or a socket fails. `frontend` and `backend` may
/// be the same socket.
///
/// ```no_run
/// // The guide's message queue: clients' REQs to the ROUTER, workers' REPs to the DEALER.
/// let ctx = oxmq::Context::new();
/// let frontend = ctx.socket(oxmq::SocketType::Router)?;
/// frontend.bind("tcp://*:5559")?;
/// let backend = ctx.socket(oxmq::SocketType::Dealer)?;
/// backend.bind("tcp://*:5560")?;
/// oxmq::proxy(&frontend, &backend, None)?;
/// # Ok::<(), oxmq::Error>(())
/// ```
pub fn proxy(frontend: &Socket, backend: &Socket, capture: Option<&Socket>) -> Result<()> {
    Proxy::new(frontend, backend, capture, None)?.run()
}

/// [`proxy`] steered through `control`, which takes one-part commands: `PAUSE` (stop moving
/// messages, still obey commands), `RESUME`, `TERMINATE` (return `Ok`) and `STATISTICS`
/// (answered with eight 8-byte parts in native byte order: messages in, bytes in, messages out
/// and bytes out of the frontend, then of the backend; see [`ProxyStats`]). Each command is
/// copied to `capture` too. An unknown or multi-part command is ignored (libzmq aborts the
/// process on an unknown one).
pub fn proxy_steerable(
    frontend: &Socket,
    backend: &Socket,
    capture: Option<&Socket>,
    control: &Socket,
) -> Result<()> {
    Proxy::new(frontend, backend, capture, Some(control))?.run()
}

/// Keys of the proxy's poller.
const FRONTEND: usize = 0;
const BACKEND: usize = 1;
const CONTROL: usize = 2;

/// One direction: messages from `from` to `to`.
struct Direction {
    /// Whether the source's type receives and the destination's sends (a PUSH frontend's
    /// direction back from the backend never carries anything, and is never waited on).
    open: bool,
    /// A message the destination refused, sent before anything else.
    held: Option<Message>,
}

impl Direction {
    fn new(from: &Socket, to: &Socket) -> Direction {
        Direction {
            open: receives(from.socket_type()) && sends(to.socket_type()),
            held: None,
        }
    }
}

/// Whether sockets of this type receive messages.
fn receives(kind: SocketType) -> bool {
    !matches!(
        kind,
        SocketType::Pub | SocketType::Push | SocketType::Radio | SocketType::Scatter
    )
}

/// Whether sockets of this type send messages.
fn sends(kind: SocketType) -> bool {
    !matches!(
        kind,
        SocketType::Sub | SocketType::Pull | SocketType::Dish | SocketType::Gather
    )
}

struct Proxy<'a> {
    frontend: &'a Socket,
    backend: &'a Socket,
    capture: Option<&'a Socket>,
    control: Option<&'a Socket>,
    /// Frontend to backend, and back.
    forth: Direction,
    back: Direction,
    stats: [ProxyStats; 2],
    paused: bool,
    poller: Poller<'a>,
    /// The interest last given to each socket in the poller.
    interest: [Readiness; 3],
    single: bool,
}

impl<'a> Proxy<'a> {
    fn new(
        frontend: &'a Socket,
        backend: &'a Socket,
        capture: Option<&'a Socket>,
        control: Option<&'a Socket>,
    ) -> Result<Proxy<'a>> {
        let single = std::ptr::eq(frontend, backend);
        let mut poller = Poller::new()?;
        poller.add(frontend, FRONTEND, Readiness::READABLE)?;
        if !single {
            poller.add(backend, BACKEND, Readiness::READABLE)?;
        }
        if let Some(control) = control {
            poller.add(control, CONTROL, Readiness::READABLE)?;
        }
        Ok(Proxy {
            frontend,
            backend,
            capture,
            control,
            forth: Direction::new(frontend, backend),
            back: Direction::new(backend, frontend),
            stats: [ProxyStats::default(); 2],
            paused: false,
            poller,
            interest: [Readiness::READABLE; 3],
            single,
        })
    }

    fn run(mut self) -> Result<()> {
        let mut events: Vec<PollEvent> = Vec::new();
        loop {
            if self.obey_commands()? {
                return Ok(());
            }
            let mut moved = 0;
            if !self.paused {
                moved += self.forward(true)?;
                moved += self.forward(false)?;
            }
            if moved > 0 {
                continue;
            }
            self.watch()?;
            // Wakes on what would let something move (or a command); looks again either way.
            self.poller.wait(&mut events, None::<Duration>)?;
        }
    }

    /// Obeys every command waiting on the control socket; whether one was TERMINATE.
    fn obey_commands(&mut self) -> Result<bool> {
        let Some(control) = self.control else {
            return Ok(false);
        };
        loop {
            let command = match control.try_recv() {
                Ok(command) => command,
                Err(Error::WouldBlock) => return Ok(false),
                Err(err) => return Err(err),
            };
            if let Some(capture) = self.capture {
                capture.send(command.clone())?;
            }
            if command.len() != 1 {
                tracing::warn!("oxmq proxy: a {}-part command ignored", command.len());
                continue;
            }
            match &command[0][..] {
                b"PAUSE" => self.paused = true,
                b"RESUME" => self.paused = false,
                b"TERMINATE" => return Ok(true),
                b"STATISTICS" => {
                    let values = self.stats.iter().flat_map(|stats| {
                        [
                            stats.messages_in,
                            stats.bytes_in,
                            stats.messages_out,
                            stats.bytes_out,
                        ]
                    });
                    control.send(Message::from_frames(
                        values.map(|value| value.to_ne_bytes().to_vec()),
                    ))?;
                }
                other => tracing::warn!(
                    "oxmq proxy: unknown command {:?} ignored",
                    String::from_utf8_lossy(other)
                ),
            }
        }
    }

    /// Moves up to [`BURST`] messages frontend -> backend (`forth`) or back; how many moved.
    fn forward(&mut self, forth: bool) -> Result<usize> {
        let (from, to, from_stats, to_stats) = if forth {
            (self.frontend, self.backend, 0, 1)
        } else {
            (self.backend, self.frontend, 1, 0)
        };
        let direction = if forth {
            &mut self.forth
        } else {
            &mut self.back
        };
        let mut moved = 0;
        while direction.open && moved < BURST {
            let msg = match direction.held.take() {
                Some(msg) => msg,
                None => match from.try_recv() {
                    Ok(msg) => {
                        let stats = &mut self.stats[from_stats];
                        stats.messages_in += 1;
                        stats.bytes_in += msg.byte_len() as u64;
                        if let Some(capture) = self.capture {
                            capture.send(msg.clone())?;
                        }
                        msg
                    }
                    Err(Error::WouldBlock) => break,
                    Err(err) => return Err(err),
                },
            };
            let size = msg.byte_len() as u64;
            match to.try_send(msg) {
                Ok(()) => {
                    let stats = &mut self.stats[to_stats];
                    stats.messages_out += 1;
                    stats.bytes_out += size;
                    moved += 1;
                }
                Err(err) if err.error() == Error::WouldBlock => {
                    direction.held = Some(err.into_message());
                    break;
                }
                Err(err) => return Err(err.error()),
            }
        }
        Ok(moved)
    }

    /// Sets each socket's interest to what would let its direction move: the destination's
    /// room for a held message, else the source's next message.
    fn watch(&mut self) -> Result<()> {
        let mut want = [Readiness::NONE; 3];
        if !self.paused {
            let wait = |direction: &Direction, from: usize, to: usize| match direction {
                Direction { open: false, .. } => (from, Readiness::NONE),
                Direction { held: Some(_), .. } => (to, Readiness::WRITABLE),
                Direction { held: None, .. } => (from, Readiness::READABLE),
            };
            let forth = wait(&self.forth, FRONTEND, BACKEND);
            let back = wait(&self.back, BACKEND, FRONTEND);
            for (key, readiness) in [forth, back] {
                let key = if self.single { FRONTEND } else { key };
                want[key] = want[key] | readiness;
            }
        }
        want[CONTROL] = Readiness::READABLE;
        let sockets = [Some(self.frontend), Some(self.backend), self.control];
        for key in [FRONTEND, BACKEND, CONTROL] {
            let Some(socket) = sockets[key] else {
                continue;
            };
            if key == BACKEND && self.single || want[key] == self.interest[key] {
                continue;
            }
            self.poller.modify(socket, want[key])?;
            self.interest[key] = want[key];
        }
        Ok(())
    }
}
