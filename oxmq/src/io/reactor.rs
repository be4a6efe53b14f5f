//! The event loop of one I/O thread.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Registry, Token};

use super::link::SocketLink;
use super::session::{Connecter, Role, Session};
use super::{IoCommand, IoShared, WAKER_TOKEN, end_name_string, lock};
use crate::engine::SWEEP_EVERY;
use crate::monitor::{EventKind, Place};
use crate::options::Options;
use crate::transport::{Listener, Stream};

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    /// HANDSHAKE_IVL expired for the engine of this generation.
    Handshake(u64),
    /// Time to try connecting again (for this generation).
    Reconnect(u64),
    /// CONNECT_TIMEOUT passed for the connect attempt of this generation.
    ConnectTimeout(u64),
    /// LINGER expired after the socket closed.
    Linger,
    /// Time to check whether the peer of a closing connection (of this generation) has taken
    /// what was sent.
    CloseCheck(u64),
    /// The connection of this generation has a heartbeat to send or a silence to judge, at the
    /// deadline it was armed for (a timer whose deadline is no longer the armed one is stale).
    Heartbeat(u64, Instant),
    /// A socket took the connection's input from the poller (see `engine::read_gate`): the
    /// session's turn gives it back, so that input is never left unwatched for longer.
    Sweep,
    /// The socket streams to the connection: the session writes what waits (see
    /// `engine::write_gate`).
    StreamTick,
}

/// Runs one session's work (returning whether the session lives on). A panic in it — a bug,
/// or application code that runs here, such as the drop of a message body the application
/// made — ends that session, which is then closed, and is logged; the I/O thread goes on
/// serving every other connection, where an unwinding thread would leave its sockets waiting
/// forever.
fn guarded(work: impl FnOnce() -> bool) -> bool {
    run_guarded(work).unwrap_or(false)
}

/// [`guarded`], telling a panic (`None`) from a session that ended.
fn run_guarded(work: impl FnOnce() -> bool) -> Option<bool> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(alive) => Some(alive),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!("oxmq: a connection's work panicked ({what}): connection closed");
            None
        }
    }
}

/// A session's turn (`work`), and after a panic in it the end of its connection: a connecter
/// dials again (its pipes, and what they hold, survive), an accepted session ends.
fn session_turn(
    session: &mut Session,
    ctx: &mut IoCtx<'_>,
    work: impl FnOnce(&mut Session, &mut IoCtx<'_>) -> bool,
) -> bool {
    match run_guarded(|| work(session, ctx)) {
        Some(alive) => alive,
        None => guarded(|| session.abandon_connection(ctx)),
    }
}

/// Timers and deferred turns that sessions schedule.
pub(crate) struct Scheduler {
    timers: BinaryHeap<Reverse<(Instant, usize, TimerKind)>>,
    requeue: Vec<usize>,
}

impl Scheduler {
    /// Fires `kind` for `token` after `delay`.
    pub(crate) fn timer(&mut self, token: usize, delay: Duration, kind: TimerKind) {
        self.timers
            .push(Reverse((Instant::now() + delay, token, kind)));
    }

    /// Fires `kind` for `token` at `at`.
    pub(crate) fn timer_at(&mut self, token: usize, at: Instant, kind: TimerKind) {
        self.timers.push(Reverse((at, token, kind)));
    }

    /// Gives `token` another turn after this round.
    pub(crate) fn requeue(&mut self, token: usize) {
        self.requeue.push(token);
    }
}

/// What a session needs from its thread during a turn.
pub(crate) struct IoCtx<'a> {
    pub registry: &'a Registry,
    pub sched: &'a mut Scheduler,
    pub stopping: bool,
    /// When the poller last returned: the time of this turn, read once for every connection it
    /// serves.
    pub now: Instant,
}

struct ListenerEntry {
    listener: Listener,
    socket: Arc<SocketLink>,
    opts: Arc<Options>,
    endpoint_id: u64,
    endpoint: String,
}

enum Entry {
    Listener(ListenerEntry),
    Session(Box<Session>),
}

/// One I/O thread's state.
pub(crate) struct Reactor {
    poll: Poll,
    shared: Arc<IoShared>,
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
    live: usize,
    sched: Scheduler,
    stopping: bool,
    /// When the poller last returned (see [`IoCtx::now`]).
    now: Instant,
}

impl Reactor {
    pub(crate) fn new(poll: Poll, shared: Arc<IoShared>) -> Reactor {
        Reactor {
            poll,
            shared,
            entries: Vec::new(),
            free: Vec::new(),
            live: 0,
            sched: Scheduler {
                timers: BinaryHeap::new(),
                requeue: Vec::new(),
            },
            stopping: false,
            now: Instant::now(),
        }
    }

    /// Runs until a `Stop` command arrived and every lingering connection is done.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(256);
        let mut ready = Vec::new();
        let mut commands = Vec::new();
        loop {
            std::mem::swap(&mut commands, &mut *lock(&self.shared.commands));
            for command in commands.drain(..) {
                self.command(command);
            }
            for token in lock(&self.shared.sweeps).drain(..) {
                self.sched.timer(token, SWEEP_EVERY, TimerKind::Sweep);
            }
            std::mem::swap(&mut ready, &mut *lock(&self.shared.ready));
            ready.append(&mut self.sched.requeue);
            ready.sort_unstable();
            ready.dedup();
            for token in ready.drain(..) {
                self.turn(token, false, false, false);
            }
            self.fire_timers();
            if self.stopping && self.live == 0 {
                return;
            }

            let mut timeout = self.next_timeout();
            self.shared.sleeping.store(true, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if !lock(&self.shared.ready).is_empty()
                || !lock(&self.shared.commands).is_empty()
                || !lock(&self.shared.sweeps).is_empty()
                || !self.sched.requeue.is_empty()
            {
                timeout = Some(Duration::ZERO);
            }
            let result = self.poll.poll(&mut events, timeout);
            self.now = Instant::now();
            self.shared.sleeping.store(false, Ordering::Relaxed);
            if let Err(err) = result {
                if err.kind() != io::ErrorKind::Interrupted {
                    tracing::error!("oxmq i/o thread: poll failed: {err}");
                    return;
                }
            }
            for event in events.iter() {
                if event.token() == WAKER_TOKEN {
                    continue;
                }
                let readable = event.is_readable() || event.is_error();
                let writable = event.is_writable() || event.is_write_closed() || event.is_error();
                self.turn(event.token().0, readable, writable, event.is_read_closed());
            }
        }
    }

    fn next_timeout(&self) -> Option<Duration> {
        self.sched
            .timers
            .peek()
            .map(|Reverse((at, _, _))| at.saturating_duration_since(Instant::now()))
    }

    fn insert(&mut self, entry: Entry) -> usize {
        self.live += 1;
        match self.free.pop() {
            Some(token) => {
                self.entries[token] = Some(entry);
                token
            }
            None => {
                self.entries.push(Some(entry));
                self.entries.len() - 1
            }
        }
    }

    fn remove(&mut self, token: usize) -> Option<Entry> {
        let entry = self.entries.get_mut(token)?.take()?;
        self.live -= 1;
        self.free.push(token);
        Some(entry)
    }

    fn ctx(&mut self) -> (IoCtx<'_>, &mut Vec<Option<Entry>>) {
        (
            IoCtx {
                registry: self.poll.registry(),
                sched: &mut self.sched,
                stopping: self.stopping,
                now: self.now,
            },
            &mut self.entries,
        )
    }

    /// Gives one token a turn: readiness from the poller, or an activation.
    fn turn(&mut self, token: usize, readable: bool, writable: bool, read_closed: bool) {
        let alive = {
            let (mut ctx, entries) = self.ctx();
            match entries.get_mut(token) {
                Some(Some(Entry::Session(session))) => session_turn(session, &mut ctx, |s, ctx| {
                    s.on_ready(readable, writable, read_closed);
                    s.drive(ctx)
                }),
                Some(Some(Entry::Listener(_))) => {
                    self.accept(token);
                    return;
                }
                _ => return,
            }
        };
        if !alive {
            self.close_session(token);
        }
    }

    fn close_session(&mut self, token: usize) {
        if let Some(Entry::Session(mut session)) = self.remove(token) {
            let registry = self.poll.registry();
            // Closing runs the drops of what the connection still held (message bodies among
            // them): a panic there loses that connection's leftovers, not the thread.
            guarded(move || {
                session.close(registry);
                drop(session);
                false
            });
        }
    }

    fn close_listener(&mut self, token: usize) {
        if let Some(Entry::Listener(mut entry)) = self.remove(token) {
            // Its CLOSED event was raised on the socket's side (see `Endpoints`).
            let _ = self.poll.registry().deregister(entry.listener.source());
        }
    }

    fn accept(&mut self, token: usize) {
        loop {
            let Some(Some(Entry::Listener(entry))) = self.entries.get(token) else {
                return;
            };
            let stream = match entry.listener.accept() {
                Ok(stream) => stream,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    let errno = err.raw_os_error().unwrap_or(0);
                    entry
                        .socket
                        .monitor()
                        .emit(EventKind::AcceptFailed, errno as u64, || {
                            entry.endpoint.clone()
                        });
                    // EMFILE and friends: log and try again on the next readiness.
                    tracing::warn!("oxmq: accept failed: {err}");
                    return;
                }
            };
            let filters = &entry.opts.accept_filters;
            let allowed = match &stream {
                Stream::Tcp(_) => filters.allows_tcp(stream.peer_addr()),
                Stream::Ipc(_) if filters.filters_ipc() => filters.allows_ipc(
                    stream.peer_credentials().map(|c| (c.pid, c.uid, c.gid)),
                    || stream.peer_groups(),
                ),
                Stream::Ipc(_) => true,
            };
            if !allowed {
                tracing::debug!("oxmq: {} refused by an accept filter", stream.peer_string());
                entry
                    .socket
                    .monitor()
                    .emit(EventKind::AcceptFailed, libc::EACCES as u64, || {
                        entry.endpoint.clone()
                    });
                continue;
            }
            let socket = Arc::clone(&entry.socket);
            let opts = Arc::clone(&entry.opts);
            socket
                .monitor()
                .emit(EventKind::Accepted, stream.fd() as u64, || Place {
                    endpoint: entry.endpoint.clone(),
                    local: end_name_string(stream.local_name()),
                    remote: end_name_string(stream.peer_name()),
                });
            let role = Role::Accepted {
                endpoint_id: entry.endpoint_id,
                endpoint: entry.endpoint.clone(),
            };
            let new_token = self.next_token();
            let session = Session::accepted(new_token, socket, opts, role, stream, &self.shared);
            let inserted = self.insert(Entry::Session(Box::new(session)));
            debug_assert_eq!(inserted, new_token);
            let (mut ctx, entries) = self.ctx();
            if let Some(Some(Entry::Session(session))) = entries.get_mut(new_token) {
                if !guarded(|| session.start(&mut ctx)) {
                    self.close_session(new_token);
                }
            }
        }
    }

    /// The token the next insert will use.
    fn next_token(&self) -> usize {
        self.free.last().copied().unwrap_or(self.entries.len())
    }

    fn command(&mut self, command: IoCommand) {
        match command {
            IoCommand::Listen {
                mut listener,
                socket,
                opts,
                endpoint_id,
                endpoint,
            } => {
                let token = self.next_token();
                if let Err(err) = self.poll.registry().register(
                    listener.source(),
                    Token(token),
                    Interest::READABLE,
                ) {
                    tracing::error!("oxmq: cannot watch a listener: {err}");
                    return;
                }
                self.insert(Entry::Listener(ListenerEntry {
                    listener,
                    socket,
                    opts,
                    endpoint_id,
                    endpoint,
                }));
                // Connections may have queued before the registration.
                self.accept(token);
            }
            IoCommand::Connect {
                target,
                socket,
                opts,
                endpoint_id,
                endpoint,
                pipes,
            } => {
                let token = self.next_token();
                let connecter = Connecter::new(endpoint_id, endpoint, target, &opts);
                let session =
                    Session::connecter(token, socket, opts, connecter, pipes, &self.shared);
                self.insert(Entry::Session(Box::new(session)));
                let (mut ctx, entries) = self.ctx();
                if let Some(Some(Entry::Session(session))) = entries.get_mut(token) {
                    if !guarded(|| session.start(&mut ctx)) {
                        self.close_session(token);
                    }
                }
            }
            IoCommand::Unbind { endpoint_id, done } => {
                let tokens: Vec<usize> = self
                    .entries
                    .iter()
                    .enumerate()
                    .filter_map(|(token, entry)| match entry {
                        Some(Entry::Listener(l)) if l.endpoint_id == endpoint_id => Some(token),
                        Some(Entry::Session(s)) if s.accepted_from(endpoint_id) => Some(token),
                        _ => None,
                    })
                    .collect();
                for token in tokens {
                    match &self.entries[token] {
                        Some(Entry::Listener(_)) => self.close_listener(token),
                        _ => self.close_session(token),
                    }
                }
                let _ = done.send(());
            }
            IoCommand::Disconnect { endpoint_id } => {
                let token = self.entries.iter().position(
                    |entry| matches!(entry, Some(Entry::Session(s)) if s.connects_for(endpoint_id)),
                );
                if let Some(token) = token {
                    self.close_session(token);
                }
            }
            IoCommand::SocketClosed { socket_id } => {
                let tokens: Vec<usize> = self
                    .entries
                    .iter()
                    .enumerate()
                    .filter_map(|(token, entry)| match entry {
                        Some(Entry::Listener(l)) if l.socket.id() == socket_id => Some(token),
                        Some(Entry::Session(s)) if s.socket_id() == socket_id => Some(token),
                        _ => None,
                    })
                    .collect();
                for token in tokens {
                    match &self.entries[token] {
                        Some(Entry::Listener(_)) => self.close_listener(token),
                        _ => self.turn(token, false, false, false),
                    }
                }
            }
            IoCommand::Stop => {
                self.stopping = true;
                let tokens: Vec<usize> = (0..self.entries.len()).collect();
                for token in tokens {
                    match &self.entries[token] {
                        Some(Entry::Listener(_)) => self.close_listener(token),
                        Some(Entry::Session(_)) => self.turn(token, false, false, false),
                        None => {}
                    }
                }
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = self.now;
        while let Some(Reverse((at, token, kind))) = self.sched.timers.peek().copied() {
            if at > now {
                break;
            }
            self.sched.timers.pop();
            let alive = {
                let (mut ctx, entries) = self.ctx();
                match entries.get_mut(token) {
                    Some(Some(Entry::Session(session))) => {
                        session_turn(session, &mut ctx, |s, ctx| s.on_timer(kind, ctx))
                    }
                    _ => continue,
                }
            };
            if !alive {
                self.close_session(token);
            }
        }
    }
}
