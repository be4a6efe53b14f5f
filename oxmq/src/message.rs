//! Messages and their frames.
//!
//! A [`Message`] is what a socket sends and receives: one or more [`Frame`]s that travel as a unit
//! (all of them arrive or none). A frame of up to [`Frame::INLINE_CAPACITY`] bytes is stored inside
//! the frame value itself, so small messages cost no allocation and no reference counting anywhere
//! on their way through oxmq. Larger frames are [`Bytes`]: cloning a message, or fanning it out to
//! many peers, shares their bodies instead of copying them, and a `Vec<u8>` turned into a frame is
//! moved, not copied.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// One frame (part) of a message: a byte string.
#[derive(Clone)]
pub struct Frame {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Inline {
        len: u8,
        buf: [u8; Frame::INLINE_CAPACITY],
    },
    Shared(Bytes),
}

impl Frame {
    /// Frames up to this many bytes are stored inline, without an allocation.
    pub const INLINE_CAPACITY: usize = 70;

    /// An empty frame.
    pub const fn empty() -> Frame {
        Frame {
            repr: Repr::Inline {
                len: 0,
                buf: [0; Frame::INLINE_CAPACITY],
            },
        }
    }

    /// A frame holding a copy of `data`.
    #[inline]
    pub fn copy_from_slice(data: &[u8]) -> Frame {
        let mut frame = Frame::empty();
        match &mut frame.repr {
            Repr::Inline { len, buf } if data.len() <= Self::INLINE_CAPACITY => {
                buf[..data.len()].copy_from_slice(data);
                *len = data.len() as u8;
            }
            repr => *repr = Repr::Shared(Bytes::copy_from_slice(data)),
        }
        frame
    }

    /// The frame's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.repr {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            Repr::Shared(bytes) => bytes,
        }
    }

    /// The frame as [`Bytes`] (shares the body of a large frame; copies a small one).
    pub fn to_bytes(&self) -> Bytes {
        match &self.repr {
            Repr::Inline { .. } => Bytes::copy_from_slice(self.as_bytes()),
            Repr::Shared(bytes) => bytes.clone(),
        }
    }

    /// The frame's body as [`Bytes`] when it is stored out of line (large frames), for zero-copy
    /// writes.
    pub(crate) fn shared(&self) -> Option<&Bytes> {
        match &self.repr {
            Repr::Shared(bytes) => Some(bytes),
            Repr::Inline { .. } => None,
        }
    }

    /// The frame's bytes as a UTF-8 string, if they are valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()).ok()
    }
}

impl Default for Frame {
    fn default() -> Frame {
        Frame::empty()
    }
}

impl Deref for Frame {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Frame) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Frame {}

impl PartialEq<[u8]> for Frame {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialEq<&[u8]> for Frame {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_bytes() == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Frame {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_bytes() == other.as_slice()
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Frame {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_bytes() == other.as_slice()
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frame({:?})", self.as_bytes().escape_ascii().to_string())
    }
}

impl From<&[u8]> for Frame {
    fn from(data: &[u8]) -> Frame {
        Frame::copy_from_slice(data)
    }
}

impl<const N: usize> From<&[u8; N]> for Frame {
    fn from(data: &[u8; N]) -> Frame {
        Frame::copy_from_slice(data)
    }
}

impl From<&str> for Frame {
    fn from(data: &str) -> Frame {
        Frame::copy_from_slice(data.as_bytes())
    }
}

impl From<Vec<u8>> for Frame {
    fn from(data: Vec<u8>) -> Frame {
        if data.len() <= Self::INLINE_CAPACITY {
            Frame::copy_from_slice(&data)
        } else {
            Frame {
                repr: Repr::Shared(Bytes::from(data)),
            }
        }
    }
}

impl From<String> for Frame {
    fn from(data: String) -> Frame {
        Frame::from(data.into_bytes())
    }
}

impl From<Bytes> for Frame {
    fn from(data: Bytes) -> Frame {
        if data.len() <= Self::INLINE_CAPACITY {
            Frame::copy_from_slice(&data)
        } else {
            Frame {
                repr: Repr::Shared(data),
            }
        }
    }
}

impl From<Frame> for Bytes {
    fn from(frame: Frame) -> Bytes {
        match frame.repr {
            Repr::Shared(bytes) => bytes,
            Repr::Inline { .. } => Bytes::copy_from_slice(frame.as_bytes()),
        }
    }
}

impl From<Frame> for Vec<u8> {
    fn from(frame: Frame) -> Vec<u8> {
        frame.as_bytes().to_vec()
    }
}

/// A message: one or more frames delivered atomically.
///
/// A message of one frame is stored without an allocation; a multi-part message keeps its
/// frames in a double-ended queue, so adding or removing frames at either end is O(1). Routing
/// sockets use the front: ROUTER pushes the sender's routing id there on receipt and pops the
/// destination's on send; REQ and REP push and pop the envelope the same way.
///
/// ```
/// use oxmq::Message;
///
/// let mut msg = Message::from("key");
/// msg.push("value");
/// assert_eq!(msg.len(), 2);
/// assert_eq!(&msg[1][..], b"value");
///
/// msg.push_front("routing id");
/// assert_eq!(msg.pop_front().unwrap(), "routing id".as_bytes());
/// assert_eq!(msg.len(), 2);
/// ```
#[derive(Clone, Default)]
pub struct Message {
    parts: Parts,
    kind: Kind,
}

#[derive(Clone)]
enum Parts {
    One(Frame),
    Many(FrameDeque),
}

/// The most spare frame buffers one thread keeps, and the largest it keeps.
const SPARE_BUFFERS: usize = 32;
const SPARE_CAPACITY: usize = 16;

thread_local! {
    static SPARE: RefCell<Vec<VecDeque<Frame>>> = const { RefCell::new(Vec::new()) };
}

/// The frames of a multi-part message. Its buffer comes from, and goes back to, a small
/// per-thread pool: a thread that builds and drops multi-part messages in turn (a ROUTER putting
/// the routing id in front of each message it receives, an application reading them) allocates
/// nothing for them in the steady state.
struct FrameDeque(VecDeque<Frame>);

impl FrameDeque {
    fn with_capacity(capacity: usize) -> FrameDeque {
        if capacity <= SPARE_CAPACITY {
            let spare = SPARE
                .try_with(|spare| spare.try_borrow_mut().ok()?.pop())
                .ok()
                .flatten();
            if let Some(frames) = spare {
                return FrameDeque(frames);
            }
        }
        FrameDeque(VecDeque::with_capacity(capacity.max(4)))
    }
}

impl Clone for FrameDeque {
    fn clone(&self) -> FrameDeque {
        let mut frames = FrameDeque::with_capacity(self.0.len());
        frames.0.extend(self.0.iter().cloned());
        frames
    }
}

impl Drop for FrameDeque {
    fn drop(&mut self) {
        let capacity = self.0.capacity();
        if capacity == 0 || capacity > SPARE_CAPACITY {
            return;
        }
        let mut frames = std::mem::take(&mut self.0);
        frames.clear();
        // During thread exit the pool may be gone: the buffer is then simply freed.
        let _ = SPARE.try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                if spare.len() < SPARE_BUFFERS {
                    spare.push(frames);
                }
            }
        });
    }
}

impl Default for Parts {
    fn default() -> Parts {
        Parts::One(Frame::empty())
    }
}

/// What a message carries through a pipe. Only [`Kind::Data`] reaches the user; the others are
/// control messages that travel in-band, in order with the data, between a socket and its peer
/// (an engine on an I/O thread, or another socket over inproc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Kind {
    /// User data.
    #[default]
    Data,
    /// A subscription to the topic in the single frame (SUB to PUB: ZMTP 3.1 SUBSCRIBE).
    Subscribe,
    /// A cancelled subscription (ZMTP 3.1 CANCEL).
    Cancel,
    /// The peer's routing id, in the single frame: the first message of a connection whose
    /// identity was unknown when its pipes were attached (a connect before the handshake).
    RoutingId,
    /// The connection's metadata (`PeerMetadata::encode`), ahead of its first message: the
    /// pipe's reader keeps it for the messages that follow.
    Metadata,
}

impl Message {
    /// A message of one empty frame.
    pub const fn new() -> Message {
        Message {
            parts: Parts::One(Frame::empty()),
            kind: Kind::Data,
        }
    }

    /// The bytes of a one-frame data message whose frame is stored inline (a small message).
    #[inline(always)]
    pub(crate) fn small_bytes(&self) -> Option<&[u8]> {
        match (&self.parts, self.kind) {
            (Parts::One(frame), Kind::Data) => match &frame.repr {
                Repr::Inline { len, buf } => Some(&buf[..*len as usize]),
                Repr::Shared(_) => None,
            },
            _ => None,
        }
    }

    /// Makes this a one-frame data message holding a copy of `data`, reusing this message's
    /// inline frame when it has one (the engine fills a `Message::new()` already in a pipe, so
    /// a small message is written once, where it is queued).
    #[inline(always)]
    pub(crate) fn set_bytes(&mut self, data: &[u8]) {
        if let (Parts::One(frame), Kind::Data) = (&mut self.parts, self.kind) {
            if let Repr::Inline { len, buf } = &mut frame.repr {
                if let Some(dst) = buf.get_mut(..data.len()) {
                    dst.copy_from_slice(data);
                    *len = data.len() as u8;
                    return;
                }
            }
        }
        *self = Message::from(Frame::copy_from_slice(data));
    }

    /// A message made of `frames`, in order. An empty iterator gives a message of one empty frame:
    /// a ZeroMQ message always has at least one frame.
    pub fn from_frames<I, F>(frames: I) -> Message
    where
        I: IntoIterator<Item = F>,
        F: Into<Frame>,
    {
        let mut iter = frames.into_iter();
        let Some(first) = iter.next() else {
            return Message::new();
        };
        let first = first.into();
        let Some(second) = iter.next() else {
            return Message::from(first);
        };
        let mut frames = FrameDeque::with_capacity(2 + iter.size_hint().0);
        frames.0.push_back(first);
        frames.0.push_back(second.into());
        frames.0.extend(iter.map(Into::into));
        Message {
            parts: Parts::Many(frames),
            kind: Kind::Data,
        }
    }

    /// A control message of `kind` carrying `body` (see [`Kind`]).
    pub(crate) fn control(kind: Kind, body: impl Into<Frame>) -> Message {
        Message {
            parts: Parts::One(body.into()),
            kind,
        }
    }

    /// What the message carries.
    #[inline]
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    fn deque(&mut self) -> &mut VecDeque<Frame> {
        if let Parts::One(frame) = &mut self.parts {
            let mut frames = FrameDeque::with_capacity(4);
            frames.0.push_back(std::mem::take(frame));
            self.parts = Parts::Many(frames);
        }
        match &mut self.parts {
            Parts::Many(frames) => &mut frames.0,
            Parts::One(_) => unreachable!("converted above"),
        }
    }

    /// Appends a frame.
    pub fn push(&mut self, frame: impl Into<Frame>) {
        self.deque().push_back(frame.into());
    }

    /// Inserts a frame before the first one (an envelope, a routing id).
    pub fn push_front(&mut self, frame: impl Into<Frame>) {
        self.deque().push_front(frame.into());
    }

    /// Removes and returns the first frame, unless it is the only one: a message always keeps
    /// at least one frame (use [`Message::into_frames`] to take them all).
    pub fn pop_front(&mut self) -> Option<Frame> {
        match &mut self.parts {
            Parts::Many(frames) if frames.0.len() > 1 => frames.0.pop_front(),
            _ => None,
        }
    }

    /// Removes and returns the first frame; when it was the only one, the message is left
    /// holding one empty frame. Reading a message frame by frame (as the C API's `zmq_recv`
    /// does) takes frames this way until [`Message::len`] was 1.
    ///
    /// ```
    /// let mut msg = oxmq::Message::from_frames(["a", "b"]);
    /// assert_eq!(msg.take_front(), "a".as_bytes());
    /// assert_eq!(msg.len(), 1);
    /// assert_eq!(msg.take_front(), "b".as_bytes());
    /// assert_eq!(msg.take_front(), "".as_bytes());
    /// ```
    pub fn take_front(&mut self) -> Frame {
        match &mut self.parts {
            Parts::One(frame) => std::mem::take(frame),
            Parts::Many(frames) if frames.0.len() > 1 => frames.0.pop_front().unwrap_or_default(),
            Parts::Many(frames) => frames.0.front_mut().map(std::mem::take).unwrap_or_default(),
        }
    }

    /// Removes and returns the last frame, unless it is the only one.
    pub fn pop(&mut self) -> Option<Frame> {
        match &mut self.parts {
            Parts::Many(frames) if frames.0.len() > 1 => frames.0.pop_back(),
            _ => None,
        }
    }

    /// Whether dropping this message frees nothing: one frame, stored in place.
    #[inline]
    pub(crate) fn is_one_inline_frame(&self) -> bool {
        matches!(&self.parts, Parts::One(frame) if matches!(frame.repr, Repr::Inline { .. }))
    }

    /// The number of frames (at least 1).
    #[allow(clippy::len_without_is_empty)]
    #[inline]
    pub fn len(&self) -> usize {
        match &self.parts {
            Parts::One(_) => 1,
            Parts::Many(frames) => frames.0.len(),
        }
    }

    /// The frame at `index`.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&Frame> {
        match &self.parts {
            Parts::One(frame) => (index == 0).then_some(frame),
            Parts::Many(frames) => frames.0.get(index),
        }
    }

    /// The first frame.
    #[inline]
    pub fn first(&self) -> &Frame {
        match &self.parts {
            Parts::One(frame) => frame,
            // A message never holds fewer than one frame.
            Parts::Many(frames) => &frames.0[0],
        }
    }

    /// The last frame.
    #[inline]
    pub fn last(&self) -> &Frame {
        match &self.parts {
            Parts::One(frame) => frame,
            Parts::Many(frames) => &frames.0[frames.0.len() - 1],
        }
    }

    /// The frames, in order.
    #[inline]
    pub fn iter(&self) -> Frames<'_> {
        match &self.parts {
            Parts::One(frame) => Frames {
                inner: FramesInner::One(Some(frame)),
            },
            Parts::Many(frames) => Frames {
                inner: FramesInner::Many(frames.0.iter()),
            },
        }
    }

    /// The total number of payload bytes over all frames.
    pub fn byte_len(&self) -> usize {
        self.iter().map(|frame| frame.len()).sum()
    }

    /// The frames as a vector of byte vectors (copies).
    pub fn to_vecs(&self) -> Vec<Vec<u8>> {
        self.iter().map(|frame| frame.to_vec()).collect()
    }

    /// Takes the frames out of the message.
    pub fn into_frames(self) -> Vec<Frame> {
        match self.parts {
            Parts::One(frame) => vec![frame],
            Parts::Many(mut frames) => std::mem::take(&mut frames.0).into(),
        }
    }
}

impl PartialEq for Message {
    fn eq(&self, other: &Message) -> bool {
        self.kind == other.kind && self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Message {}

impl std::ops::Index<usize> for Message {
    type Output = Frame;

    fn index(&self, index: usize) -> &Frame {
        match self.get(index) {
            Some(frame) => frame,
            None => panic!(
                "frame index {index} out of range for a message of {} frames",
                self.len()
            ),
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind != Kind::Data {
            write!(f, "{:?}", self.kind)?;
        }
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Into<Frame>> From<T> for Message {
    fn from(frame: T) -> Message {
        Message {
            parts: Parts::One(frame.into()),
            kind: Kind::Data,
        }
    }
}

impl<'a> IntoIterator for &'a Message {
    type Item = &'a Frame;
    type IntoIter = Frames<'a>;

    fn into_iter(self) -> Frames<'a> {
        self.iter()
    }
}

/// An iterator over the frames of a [`Message`].
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    inner: FramesInner<'a>,
}

#[derive(Clone, Debug)]
enum FramesInner<'a> {
    One(Option<&'a Frame>),
    Many(std::collections::vec_deque::Iter<'a, Frame>),
}

impl<'a> Iterator for Frames<'a> {
    type Item = &'a Frame;

    #[inline]
    fn next(&mut self) -> Option<&'a Frame> {
        match &mut self.inner {
            FramesInner::One(frame) => frame.take(),
            FramesInner::Many(iter) => iter.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = match &self.inner {
            FramesInner::One(frame) => usize::from(frame.is_some()),
            FramesInner::Many(iter) => iter.len(),
        };
        (len, Some(len))
    }
}

impl ExactSizeIterator for Frames<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_frames_are_inline_and_large_ones_shared() {
        let small = Frame::from(vec![7u8; Frame::INLINE_CAPACITY]);
        assert!(small.shared().is_none());
        let large = Frame::from(vec![7u8; Frame::INLINE_CAPACITY + 1]);
        assert!(large.shared().is_some());
        assert_eq!(large.len(), Frame::INLINE_CAPACITY + 1);
    }

    #[test]
    fn vec_into_frame_moves_the_buffer() {
        let data = vec![1u8; 4096];
        let ptr = data.as_ptr();
        let frame = Frame::from(data);
        assert_eq!(frame.as_ptr(), ptr);
    }

    #[test]
    fn message_keeps_frame_order() {
        let msg = Message::from_frames(["a", "", "ccc"]);
        assert_eq!(msg.len(), 3);
        assert_eq!(msg.to_vecs(), vec![b"a".to_vec(), vec![], b"ccc".to_vec()]);
        assert_eq!(msg.byte_len(), 4);
        assert_eq!(Message::from_frames(Vec::<Frame>::new()).len(), 1);
    }

    #[test]
    fn envelopes_push_and_pop_at_the_front() {
        let mut msg = Message::from("body");
        msg.push_front("");
        msg.push_front("id");
        assert_eq!(
            msg.to_vecs(),
            vec![b"id".to_vec(), vec![], b"body".to_vec()]
        );
        assert_eq!(msg.pop_front().unwrap(), b"id");
        assert_eq!(msg.pop_front().unwrap(), b"");
        assert_eq!(msg.pop_front(), None, "the last frame stays");
        assert_eq!(msg.first(), b"body");
        assert_eq!(msg.last(), b"body");
        msg.push("tail");
        assert_eq!(msg.pop().unwrap(), b"tail");
        assert_eq!(msg.pop(), None);
        assert_eq!(msg, Message::from("body"));
    }

    #[test]
    fn set_bytes_makes_a_one_frame_data_message_whatever_it_was() {
        let large = vec![9u8; Frame::INLINE_CAPACITY + 1];
        let starts = [
            Message::new(),
            Message::from("old"),
            Message::from_frames(["a", "b"]),
            Message::control(Kind::Subscribe, "topic"),
        ];
        for start in starts {
            for data in [&b""[..], b"short", &large[..Frame::INLINE_CAPACITY], &large] {
                let mut msg = start.clone();
                msg.set_bytes(data);
                assert_eq!(msg, Message::from(data));
                assert_eq!(msg.kind(), Kind::Data);
            }
        }
    }

    #[test]
    fn control_messages_differ_from_data_with_the_same_bytes() {
        let sub = Message::control(Kind::Subscribe, "topic");
        assert_eq!(sub.kind(), Kind::Subscribe);
        assert_ne!(sub, Message::from("topic"));
        assert_eq!(Message::from("topic").kind(), Kind::Data);
    }

    #[test]
    fn message_is_at_most_a_cache_line_and_a_quarter() {
        assert!(
            std::mem::size_of::<Message>() <= 80,
            "{}",
            std::mem::size_of::<Message>()
        );
    }
}
