//! Waiting on many sockets and file descriptors at once: [`Poller`].
//!
//! A poller holds an epoll instance with every socket's descriptor (see the socket's `AsFd`)
//! and every raw descriptor added to it, level-triggered. A wait first looks at the sockets
//! that may be ready — those just added, those found ready by the last wait (a socket with a
//! message waiting is reported until the message is read), those whose descriptor fired and
//! those someone else looked at since this poller's last look (a look clears the descriptor;
//! each socket counts its looks) — and reports the ready ones at once. Only when none is ready
//! does it sleep in `epoll_wait`: each socket it looked at was armed by that look, so the next
//! change writes its descriptor and ends the sleep. Nothing is missed and nothing spins, and a
//! wait costs a look (a lock of the socket) only per socket that may be ready; of the others it
//! reads one counter each.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::socket::Socket;

/// What to wait for, and what was found: readable, writable, error (as libzmq's `ZMQ_POLLIN`,
/// `ZMQ_POLLOUT`, `ZMQ_POLLERR`, and with the same bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Readiness(u8);

impl Readiness {
    /// Nothing.
    pub const NONE: Readiness = Readiness(0);
    /// A socket can receive a message; a descriptor can be read (or reached its end).
    pub const READABLE: Readiness = Readiness(1);
    /// A socket can send a message; a descriptor can be written.
    pub const WRITABLE: Readiness = Readiness(2);
    /// A descriptor has an error condition (sockets never report it).
    pub const ERROR: Readiness = Readiness(4);

    /// From libzmq's bits (`ZMQ_POLLIN` 1, `ZMQ_POLLOUT` 2, `ZMQ_POLLERR` 4); others are ignored.
    pub const fn from_bits(bits: u8) -> Readiness {
        Readiness(bits & 7)
    }

    /// libzmq's bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is set here.
    pub const fn contains(self, other: Readiness) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether [`READABLE`](Readiness::READABLE) is set.
    pub const fn is_readable(self) -> bool {
        self.contains(Readiness::READABLE)
    }

    /// Whether [`WRITABLE`](Readiness::WRITABLE) is set.
    pub const fn is_writable(self) -> bool {
        self.contains(Readiness::WRITABLE)
    }

    /// Whether [`ERROR`](Readiness::ERROR) is set.
    pub const fn is_error(self) -> bool {
        self.contains(Readiness::ERROR)
    }
}

impl std::ops::BitOr for Readiness {
    type Output = Readiness;

    fn bitor(self, other: Readiness) -> Readiness {
        Readiness(self.0 | other.0)
    }
}

impl std::ops::BitAnd for Readiness {
    type Output = Readiness;

    fn bitand(self, other: Readiness) -> Readiness {
        Readiness(self.0 & other.0)
    }
}

/// One ready item of a [`Poller::wait`]: the key it was added with, and what it is ready for
/// (only what it was added for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollEvent {
    /// The key given to [`Poller::add`] or [`Poller::add_fd`].
    pub key: usize,
    /// What the item is ready for.
    pub readiness: Readiness,
}

enum Source<'a> {
    Socket {
        socket: &'a Socket,
        /// The socket's look count after this poller's last look at it.
        looks: u64,
        /// Looked at in the next wait whatever its descriptor says.
        candidate: bool,
    },
    Fd(RawFd),
}

struct Item<'a> {
    source: Source<'a>,
    key: usize,
    interest: Readiness,
}

/// Waits on many sockets and raw file descriptors at once, level-triggered: a socket with a
/// message waiting is reported readable by every wait until the message is read, however its
/// readiness came about (libzmq's `zmq_poller`).
///
/// A socket may be in several pollers and be used directly between waits. Sockets are
/// borrowed for the poller's life; descriptors must stay open until removed.
///
/// ```
/// use oxmq::{Context, PollEvent, Poller, Readiness, SocketType};
/// use std::time::Duration;
///
/// let ctx = Context::new();
/// let a = ctx.socket(SocketType::Pull)?;
/// a.bind("inproc://poller-a")?;
/// let b = ctx.socket(SocketType::Pull)?;
/// b.bind("inproc://poller-b")?;
/// let push = ctx.socket(SocketType::Push)?;
/// push.connect("inproc://poller-b")?;
///
/// let mut poller = Poller::new()?;
/// poller.add(&a, 1, Readiness::READABLE)?;
/// poller.add(&b, 2, Readiness::READABLE)?;
/// let mut events = Vec::new();
/// assert_eq!(poller.wait(&mut events, Some(Duration::ZERO))?, 0);
///
/// push.send("hello")?;
/// poller.wait(&mut events, None)?;
/// assert_eq!(events, [PollEvent { key: 2, readiness: Readiness::READABLE }]);
/// // Level-triggered: still readable until received.
/// poller.wait(&mut events, None)?;
/// assert_eq!(events.len(), 1);
/// assert_eq!(b.recv()?[0], b"hello"[..]);
/// assert_eq!(poller.wait(&mut events, Some(Duration::from_millis(10)))?, 0);
/// # Ok::<(), oxmq::Error>(())
/// ```
pub struct Poller<'a> {
    epoll: OwnedFd,
    /// Items by slot; a slot's index is its epoll data.
    items: Vec<Option<Item<'a>>>,
    /// Free slots.
    free: Vec<usize>,
    /// Slots of sockets to look at in the next wait.
    candidates: Vec<usize>,
    /// epoll_wait's buffer.
    fired: Vec<libc::epoll_event>,
}

impl std::fmt::Debug for Poller<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("items", &self.len())
            .finish()
    }
}

/// epoll events a descriptor is watched for.
fn epoll_interest(interest: Readiness) -> u32 {
    let mut events = 0;
    if interest.is_readable() {
        events |= libc::EPOLLIN | libc::EPOLLRDHUP;
    }
    if interest.is_writable() {
        events |= libc::EPOLLOUT;
    }
    // EPOLLERR and EPOLLHUP are always reported.
    events as u32
}

impl<'a> Poller<'a> {
    /// An empty poller (one epoll descriptor).
    pub fn new() -> Result<Poller<'a>> {
        // SAFETY: epoll_create1 takes no pointers; it returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(Poller {
            // SAFETY: `fd` is a new descriptor that nothing else owns.
            epoll: unsafe { OwnedFd::from_raw_fd(fd) },
            items: Vec::new(),
            free: Vec::new(),
            candidates: Vec::new(),
            fired: Vec::new(),
        })
    }

    /// How many sockets and descriptors the poller holds.
    pub fn len(&self) -> usize {
        self.items.len() - self.free.len()
    }

    /// Whether the poller holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `socket`, reported under `key` when it is ready for some of `interest`
    /// ([`Readiness::ERROR`] is never reported for a socket). [`Error::Invalid`] if it is
    /// already in this poller.
    pub fn add(&mut self, socket: &'a Socket, key: usize, interest: Readiness) -> Result<()> {
        if self.socket_slot(socket).is_some() {
            return Err(Error::Invalid);
        }
        let fd = socket.signal_fd()?;
        let slot = self.insert(Item {
            source: Source::Socket {
                socket,
                looks: socket.looks(),
                candidate: true,
            },
            key,
            interest,
        });
        if let Err(err) = self.ctl(libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, slot) {
            self.release(slot);
            return Err(err);
        }
        self.candidates.push(slot);
        Ok(())
    }

    /// Adds the raw descriptor `fd`, reported under `key` when `poll(2)` would report some of
    /// `interest` for it (a hang-up is readable, and also an error when `interest` has
    /// [`Readiness::ERROR`]). [`Error::Invalid`] if it is already in this poller or is not a
    /// descriptor epoll can watch (a regular file).
    pub fn add_fd(&mut self, fd: RawFd, key: usize, interest: Readiness) -> Result<()> {
        if self.fd_slot(fd).is_some() {
            return Err(Error::Invalid);
        }
        let slot = self.insert(Item {
            source: Source::Fd(fd),
            key,
            interest,
        });
        if let Err(err) = self.ctl(libc::EPOLL_CTL_ADD, fd, epoll_interest(interest), slot) {
            self.release(slot);
            return Err(err);
        }
        Ok(())
    }

    /// Changes what `socket` is waited for. [`Error::Invalid`] if it is not in this poller.
    pub fn modify(&mut self, socket: &Socket, interest: Readiness) -> Result<()> {
        let slot = self.socket_slot(socket).ok_or(Error::Invalid)?;
        self.set_interest(slot, interest);
        Ok(())
    }

    /// Changes what the raw descriptor `fd` is waited for. [`Error::Invalid`] if it is not in
    /// this poller.
    pub fn modify_fd(&mut self, fd: RawFd, interest: Readiness) -> Result<()> {
        let slot = self.fd_slot(fd).ok_or(Error::Invalid)?;
        self.ctl(libc::EPOLL_CTL_MOD, fd, epoll_interest(interest), slot)?;
        self.set_interest(slot, interest);
        Ok(())
    }

    /// Removes `socket`. [`Error::Invalid`] if it is not in this poller.
    pub fn remove(&mut self, socket: &Socket) -> Result<()> {
        let slot = self.socket_slot(socket).ok_or(Error::Invalid)?;
        let fd = socket.signal_fd()?;
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, slot)?;
        self.release(slot);
        Ok(())
    }

    /// Removes the raw descriptor `fd`. [`Error::Invalid`] if it is not in this poller.
    pub fn remove_fd(&mut self, fd: RawFd) -> Result<()> {
        let slot = self.fd_slot(fd).ok_or(Error::Invalid)?;
        // A descriptor closed before its removal has left epoll already.
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, slot);
        self.release(slot);
        Ok(())
    }

    /// Waits until at least one item is ready or `timeout` passed (`None`: no limit;
    /// `Some(Duration::ZERO)`: look once), and puts every ready item in `events` (cleared
    /// first). Returns how many there are: 0 when the time ran out.
    ///
    /// Fails with [`Error::Terminated`] when a socket's context was shut down, and with
    /// [`Error::Interrupted`] when a signal handler ran during the wait (as `zmq_poller_wait`).
    pub fn wait(
        &mut self,
        events: &mut Vec<PollEvent>,
        timeout: Option<Duration>,
    ) -> Result<usize> {
        events.clear();
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut block = false;
        loop {
            let ms = if !block {
                0
            } else {
                match deadline {
                    None => -1,
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        // Rounded up: waking a little late beats spinning on a zero timeout.
                        left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32
                    }
                }
            };
            self.epoll_wait(ms, events)?;
            self.look_at_candidates(events)?;
            if !events.is_empty() {
                return Ok(events.len());
            }
            if block && deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(0);
            }
            if timeout == Some(Duration::ZERO) {
                return Ok(0);
            }
            block = true;
        }
    }

    /// One `epoll_wait` of up to `ms` milliseconds: fired sockets become candidates, ready
    /// descriptors go to `events`.
    fn epoll_wait(&mut self, ms: i32, events: &mut Vec<PollEvent>) -> Result<()> {
        let want = self.len().clamp(1, 1024);
        self.fired.clear();
        self.fired.reserve(want);
        // SAFETY: `fired` has room for `want` events, which is what epoll_wait may write; it
        // writes only initialised epoll_event structures, whose count it returns.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                self.fired.as_mut_ptr(),
                want as i32,
                ms,
            )
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            return if err.raw_os_error() == Some(libc::EINTR) {
                Err(Error::Interrupted)
            } else {
                Err(err.into())
            };
        }
        // SAFETY: epoll_wait initialised the first `n` events.
        unsafe { self.fired.set_len(n as usize) };
        let fired = std::mem::take(&mut self.fired);
        for event in &fired {
            let (bits, slot) = (event.events, event.u64 as usize);
            let Some(Some(item)) = self.items.get_mut(slot) else {
                continue;
            };
            match &mut item.source {
                Source::Socket { candidate, .. } => {
                    if !*candidate {
                        *candidate = true;
                        self.candidates.push(slot);
                    }
                }
                Source::Fd(_) => {
                    let readiness = fd_readiness(bits) & item.interest;
                    if !readiness.is_empty() {
                        events.push(PollEvent {
                            key: item.key,
                            readiness,
                        });
                    }
                }
            }
        }
        self.fired = fired;
        Ok(())
    }

    /// Looks at every candidate socket (and at each socket someone else looked at since this
    /// poller did); the ready ones go to `events` and stay candidates.
    fn look_at_candidates(&mut self, events: &mut Vec<PollEvent>) -> Result<()> {
        for (slot, item) in self.items.iter_mut().enumerate() {
            if let Some(Item {
                source:
                    Source::Socket {
                        socket,
                        looks,
                        candidate,
                    },
                ..
            }) = item
            {
                if !*candidate && socket.looks() != *looks {
                    *candidate = true;
                    self.candidates.push(slot);
                }
            }
        }
        let candidates = std::mem::take(&mut self.candidates);
        let mut still = Vec::new();
        let mut failed = None;
        for &slot in &candidates {
            let Some(Some(item)) = self.items.get_mut(slot) else {
                continue;
            };
            let Source::Socket {
                socket,
                looks,
                candidate,
            } = &mut item.source
            else {
                continue;
            };
            if failed.is_some() {
                still.push(slot);
                continue;
            }
            let found = match socket.events() {
                Ok(found) => found,
                Err(err) => {
                    failed = Some(err);
                    still.push(slot);
                    continue;
                }
            };
            *looks = socket.looks();
            let mut readiness = Readiness::NONE;
            if found.readable {
                readiness = readiness | Readiness::READABLE;
            }
            if found.writable {
                readiness = readiness | Readiness::WRITABLE;
            }
            let readiness = readiness & item.interest;
            if readiness.is_empty() {
                *candidate = false;
            } else {
                events.push(PollEvent {
                    key: item.key,
                    readiness,
                });
                still.push(slot);
            }
        }
        self.candidates = still;
        match failed {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    fn set_interest(&mut self, slot: usize, interest: Readiness) {
        let Some(Some(item)) = self.items.get_mut(slot) else {
            return;
        };
        item.interest = interest;
        if let Source::Socket { candidate, .. } = &mut item.source {
            if !*candidate {
                *candidate = true;
                self.candidates.push(slot);
            }
        }
    }

    fn socket_slot(&self, socket: &Socket) -> Option<usize> {
        self.items.iter().position(|item| {
            matches!(item, Some(Item { source: Source::Socket { socket: s, .. }, .. })
                if std::ptr::eq(*s, socket))
        })
    }

    fn fd_slot(&self, fd: RawFd) -> Option<usize> {
        self.items
            .iter()
            .position(|item| matches!(item, Some(Item { source: Source::Fd(f), .. }) if *f == fd))
    }

    fn insert(&mut self, item: Item<'a>) -> usize {
        match self.free.pop() {
            Some(slot) => {
                self.items[slot] = Some(item);
                slot
            }
            None => {
                self.items.push(Some(item));
                self.items.len() - 1
            }
        }
    }

    fn release(&mut self, slot: usize) {
        self.items[slot] = None;
        self.free.push(slot);
        self.candidates.retain(|&c| c != slot);
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, slot: usize) -> Result<()> {
        let mut event = libc::epoll_event {
            events,
            u64: slot as u64,
        };
        // SAFETY: `event` is a live epoll_event; epoll_ctl reads it (and ignores it for DEL).
        let rc = unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            return Err(match err.raw_os_error() {
                Some(libc::EEXIST | libc::EBADF | libc::EPERM | libc::ENOENT) => Error::Invalid,
                _ => err.into(),
            });
        }
        Ok(())
    }
}

/// What epoll's bits mean for a raw descriptor, as `poll(2)` would report them.
fn fd_readiness(bits: u32) -> Readiness {
    let has = |flag: libc::c_int| bits & flag as u32 != 0;
    let mut readiness = Readiness::NONE;
    if has(libc::EPOLLIN) || has(libc::EPOLLRDHUP) || has(libc::EPOLLHUP) {
        readiness = readiness | Readiness::READABLE;
    }
    if has(libc::EPOLLOUT) {
        readiness = readiness | Readiness::WRITABLE;
    }
    if has(libc::EPOLLERR) {
        readiness = readiness | Readiness::ERROR;
    }
    readiness
}
