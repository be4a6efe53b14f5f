//! Async sends and receives on the same sockets, for any executor: [`AsyncSocket`].
//!
//! There is no runtime here, only wakers. A future tries its operation without blocking; when
//! it would block, the failed attempt has already armed the socket (as every non-blocking
//! attempt that fails does, see the socket's `AsFd`), so the socket's next wake-up — a
//! message, room at the high-water mark, a peer, the context shutting down — wakes the task,
//! which then tries again. The I/O threads do the connections' work meanwhile, as for a
//! blocking socket; the task's thread is never blocked.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use crate::error::{Error, Result};
use crate::message::Message;
use crate::socket::Socket;

/// A socket used from async code: `send(msg).await`, `recv().await`, under tokio, smol,
/// async-std or any executor (it needs none of its own).
///
/// It owns the [`Socket`] and dereferences to it for everything else (`bind`, `connect`,
/// options, monitors). Its methods take `&mut self`, so the futures are `Send` and a task
/// that owns the socket can move between a runtime's threads; RCVTIMEO and SNDTIMEO do not
/// apply (wrap the future in the executor's own timeout).
///
/// Cancellation is safe: dropping a [`RecvFuture`] before it finishes loses no message (a
/// message is taken from the socket only in the poll that returns it), and dropping a
/// [`SendFuture`] either sent the whole message, multi-part included, or nothing of it.
///
/// ```
/// use oxmq::{AsyncSocket, Context, SocketType};
///
/// # fn block_on<F: std::future::Future>(future: F) -> F::Output {
/// #     // A minimal executor: polls on a thread that parks until woken.
/// #     struct Unpark(std::thread::Thread);
/// #     impl std::task::Wake for Unpark {
/// #         fn wake(self: std::sync::Arc<Self>) { self.0.unpark() }
/// #     }
/// #     let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut future = std::pin::pin!(future);
/// #     loop {
/// #         if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) { return out }
/// #         std::thread::park();
/// #     }
/// # }
/// let ctx = Context::new();
/// let mut pull = AsyncSocket::new(ctx.socket(SocketType::Pull)?);
/// pull.bind("inproc://async-doc")?;
/// let mut push = AsyncSocket::new(ctx.socket(SocketType::Push)?);
/// push.connect("inproc://async-doc")?;
/// block_on(async {
///     push.send(oxmq::Message::from_frames(["multi", "part"])).await?;
///     let msg = pull.recv().await?;
///     assert_eq!((&msg[0][..], &msg[1][..]), (&b"multi"[..], &b"part"[..]));
///     Ok::<(), oxmq::Error>(())
/// })?;
/// # Ok::<(), oxmq::Error>(())
/// ```
#[derive(Debug)]
pub struct AsyncSocket {
    socket: Socket,
    /// A message [`futures_sink::Sink::start_send`] took and the socket did not yet.
    #[cfg(feature = "futures")]
    queued: Option<Message>,
}

impl AsyncSocket {
    /// Wraps `socket`.
    pub fn new(socket: Socket) -> AsyncSocket {
        AsyncSocket {
            socket,
            #[cfg(feature = "futures")]
            queued: None,
        }
    }

    /// The socket back.
    pub fn into_inner(self) -> Socket {
        self.socket
    }

    /// Receives a message (all its parts) when one arrives.
    ///
    /// Cancel-safe: dropped before it finishes, it has taken no message.
    pub fn recv(&mut self) -> RecvFuture<'_> {
        RecvFuture { socket: self }
    }

    /// Sends `msg` (all its parts) when the socket can take it.
    ///
    /// Cancel-safe: dropped before it finishes, it sent nothing; once it finished, all of it.
    pub fn send(&mut self, msg: impl Into<Message>) -> SendFuture<'_> {
        SendFuture {
            socket: self,
            msg: Some(msg.into()),
        }
    }

    /// Tries to receive; on [`Poll::Pending`] the task is woken once a message may be there.
    pub fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<Message>> {
        match self.socket.try_recv() {
            Err(Error::WouldBlock) => {}
            other => return Poll::Ready(other),
        }
        // Registered before a second attempt, whose failure arms the socket: a message that
        // comes after it wakes the task, one that came before is received now.
        self.socket.register_task(cx.waker());
        match self.socket.try_recv() {
            Err(Error::WouldBlock) => Poll::Pending,
            other => Poll::Ready(other),
        }
    }

    /// Tries to send the message in `slot`, taking it when the socket does; on
    /// [`Poll::Pending`] it stays in `slot` and the task is woken once the socket may take
    /// it. An empty `slot` is ready at once. On an error other than "would block" the
    /// message is dropped, as a failed blocking send drops it.
    pub fn poll_send(
        &mut self,
        cx: &mut TaskContext<'_>,
        slot: &mut Option<Message>,
    ) -> Poll<Result<()>> {
        let mut registered = false;
        loop {
            let Some(msg) = slot.take() else {
                return Poll::Ready(Ok(()));
            };
            match self.socket.try_send(msg) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(err) if err.error() == Error::WouldBlock => {
                    *slot = Some(err.into_message());
                    if registered {
                        return Poll::Pending;
                    }
                    // As in `poll_recv`: registered before a second attempt that arms.
                    self.socket.register_task(cx.waker());
                    registered = true;
                }
                Err(err) => return Poll::Ready(Err(err.error())),
            }
        }
    }
}

impl From<Socket> for AsyncSocket {
    fn from(socket: Socket) -> AsyncSocket {
        AsyncSocket::new(socket)
    }
}

impl std::ops::Deref for AsyncSocket {
    type Target = Socket;

    fn deref(&self) -> &Socket {
        &self.socket
    }
}

/// The future of [`AsyncSocket::recv`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct RecvFuture<'a> {
    socket: &'a mut AsyncSocket,
}

impl Future for RecvFuture<'_> {
    type Output = Result<Message>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<Message>> {
        self.socket.poll_recv(cx)
    }
}

/// The future of [`AsyncSocket::send`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a> {
    socket: &'a mut AsyncSocket,
    msg: Option<Message>,
}

impl Future for SendFuture<'_> {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        this.socket.poll_send(cx, &mut this.msg)
    }
}

/// Received messages as a stream (feature `futures`): it never ends by itself; an error
/// (a context shut down) is an item.
#[cfg(feature = "futures")]
impl futures_core::Stream for AsyncSocket {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

/// Messages sent as a sink (feature `futures`): `start_send` keeps one message, which
/// `poll_ready`, `poll_flush` and `poll_close` send. Closing does not close the socket.
#[cfg(feature = "futures")]
impl futures_sink::Sink<Message> for AsyncSocket {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<()>> {
        self.poll_flush(cx)
    }

    fn start_send(self: Pin<&mut Self>, msg: Message) -> Result<()> {
        let this = self.get_mut();
        if this.queued.is_some() {
            // `poll_ready` was not awaited first: the Sink contract's misuse.
            return Err(Error::InvalidState);
        }
        this.queued = Some(msg);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        let mut queued = this.queued.take();
        let polled = this.poll_send(cx, &mut queued);
        this.queued = queued;
        polled
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<()>> {
        self.poll_flush(cx)
    }
}
