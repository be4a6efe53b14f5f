//! The write gate: direct writes from the application's thread while the connection is idle.
//!
//! Normally a message goes socket → pipe → I/O thread → kernel, which costs a thread wake-up on
//! the way. In a request-reply rhythm (a send right after a receive) that hop is most of the
//! latency, so the socket writes the message to the stream itself when — and only when — the
//! connection's session has nothing queued: its output buffer is empty, the pipe holds nothing the
//! socket wrote, and the session has said so under the gate's lock. The session takes the
//! connection back (under the same lock) before it takes messages from the pipe, so the order of
//! messages on the wire is always the order of the sends.
//!
//! If the kernel takes only part of a direct write, the rest waits in the gate and the session
//! sends it before anything else.

use std::io::IoSlice;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use oxmq_proto::frame;

use crate::message::{Kind, Message};
use crate::pipe::DirectWrite;
use crate::signal::Activation;
use crate::transport::Stream;

/// Messages with more frames than this always take the pipe.
const MAX_DIRECT_FRAMES: usize = 8;

/// The session owns the connection.
const BUSY: u8 = 0;
/// The session has nothing queued.
const IDLE: u8 = 1;
/// A direct write left bytes for the session to send.
const LEFTOVER: u8 = 2;

/// Shared by a session and the socket's peer for that session.
pub(crate) struct WriteGate {
    /// [`BUSY`], [`IDLE`] (the socket may write directly; checked again under the lock) or
    /// [`LEFTOVER`] (a direct write was cut short: the session must claim the rest).
    state: AtomicU8,
    inner: Mutex<GateInner>,
    /// The session's activation, to hand it a partial write.
    session: OnceLock<Arc<Activation>>,
}

struct GateInner {
    stream: Option<Arc<Stream>>,
    /// Bytes of a direct write the kernel did not take.
    leftover: Vec<u8>,
}

impl WriteGate {
    pub(crate) fn new() -> Arc<WriteGate> {
        Arc::new(WriteGate {
            state: AtomicU8::new(BUSY),
            inner: Mutex::new(GateInner {
                stream: None,
                leftover: Vec::new(),
            }),
            session: OnceLock::new(),
        })
    }

    /// Session side: where to send a partial direct write (set once, when the session starts).
    pub(crate) fn set_session(&self, act: Arc<Activation>) {
        let _ = self.session.set(act);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Session side: a connection is up (`Some`) or gone (`None`).
    pub(crate) fn set_stream(&self, stream: Option<Arc<Stream>>) {
        let mut inner = self.lock();
        self.state.store(BUSY, Ordering::Release);
        inner.leftover.clear();
        inner.stream = stream;
    }

    /// Session side: whether a cut-short direct write waits to be claimed.
    #[inline]
    pub(crate) fn has_leftover(&self) -> bool {
        self.state.load(Ordering::Acquire) == LEFTOVER
    }

    /// Session side: takes the connection back before taking messages or writing; returns bytes
    /// of a partial direct write, which must go out first.
    pub(crate) fn claim(&self) -> Option<Vec<u8>> {
        if self.state.load(Ordering::Acquire) == BUSY {
            return None;
        }
        let mut inner = self.lock();
        self.state.store(BUSY, Ordering::Release);
        if inner.leftover.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut inner.leftover))
        }
    }

    /// Session side: nothing is queued any more; `still_empty` re-checks the pipe under the lock.
    /// Returns whether the connection was handed to direct writes.
    pub(crate) fn release(&self, still_empty: impl FnOnce() -> bool) -> bool {
        let inner = self.lock();
        if inner.stream.is_some() && still_empty() {
            self.state.store(IDLE, Ordering::Release);
            true
        } else {
            false
        }
    }

    /// Socket side: the stream, with the gate's lock held, when the connection is idle and
    /// `drained` says the pipe is empty (checked before and after taking the lock).
    #[inline]
    fn take_idle(
        &self,
        drained: &dyn Fn() -> bool,
    ) -> Option<(std::sync::MutexGuard<'_, GateInner>, Arc<Stream>)> {
        if self.state.load(Ordering::Acquire) != IDLE || !drained() {
            return None;
        }
        let inner = self.inner.try_lock().ok()?;
        let stream = inner.stream.clone()?;
        if self.state.load(Ordering::Acquire) != IDLE || !drained() {
            return None;
        }
        Some((inner, stream))
    }

    /// Socket side: writes `slices` (`total` bytes) with one system call; what the kernel does
    /// not take waits in the gate for the session, which is woken to send it.
    #[inline]
    fn write_idle(
        &self,
        mut inner: std::sync::MutexGuard<'_, GateInner>,
        stream: &Stream,
        slices: &[IoSlice<'_>],
        total: usize,
    ) {
        // WouldBlock, Interrupted or a broken connection: the session sends (or fails) the rest.
        let written = stream.write_vectored(slices).unwrap_or(0);
        if written < total {
            let mut rest = Vec::with_capacity(total - written);
            let mut skip = written;
            for slice in slices {
                if skip >= slice.len() {
                    skip -= slice.len();
                } else {
                    rest.extend_from_slice(&slice[skip..]);
                    skip = 0;
                }
            }
            inner.leftover = rest;
            self.state.store(LEFTOVER, Ordering::Release);
            drop(inner);
            if let Some(act) = self.session.get() {
                act.wake();
            }
        }
    }
}

impl DirectWrite for WriteGate {
    /// Socket side: writes `msg` to the stream if the connection is idle. `drained` tells whether
    /// every message the socket put in the pipe has been taken by the session. Returns `false`
    /// when the message must take the pipe instead.
    fn try_write(&self, msg: &Message, drained: &dyn Fn() -> bool) -> bool {
        if msg.kind() != Kind::Data || msg.len() > MAX_DIRECT_FRAMES {
            return false;
        }
        let Some((inner, stream)) = self.take_idle(drained) else {
            return false;
        };
        let mut headers = [[0u8; frame::MAX_HEADER_LEN]; MAX_DIRECT_FRAMES];
        let mut header_lens = [0usize; MAX_DIRECT_FRAMES];
        let last = msg.len() - 1;
        let mut total = 0;
        for (i, part) in msg.iter().enumerate() {
            header_lens[i] = frame::encode_header(&mut headers[i], i < last, false, part.len());
            total += header_lens[i] + part.len();
        }
        let mut slices: [IoSlice<'_>; 2 * MAX_DIRECT_FRAMES] =
            [IoSlice::new(&[]); 2 * MAX_DIRECT_FRAMES];
        for (i, part) in msg.iter().enumerate() {
            slices[2 * i] = IoSlice::new(&headers[i][..header_lens[i]]);
            slices[2 * i + 1] = IoSlice::new(part);
        }
        self.write_idle(inner, &stream, &slices[..2 * msg.len()], total);
        true
    }

    /// [`try_write`](Self::try_write) for a one-frame message of `data`: one header, two
    /// slices, and no message built to carry the bytes.
    fn try_write_bytes(&self, data: &[u8], drained: &dyn Fn() -> bool) -> bool {
        let Some((inner, stream)) = self.take_idle(drained) else {
            return false;
        };
        let mut header = [0u8; frame::MAX_HEADER_LEN];
        let header_len = frame::encode_header(&mut header, false, false, data.len());
        let slices = [IoSlice::new(&header[..header_len]), IoSlice::new(data)];
        self.write_idle(inner, &stream, &slices, header_len + data.len());
        true
    }
}
