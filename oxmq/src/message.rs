//! Messages and their frames.
//!
//! A [`Message`] is what a socket sends and receives: one or more [`Frame`]s that travel as a unit
//! (all of them arrive or none). A frame of up to [`Frame::INLINE_CAPACITY`] bytes is stored inside
//! the frame value itself, so small messages cost no allocation and no reference counting anywhere
//! on their way through oxmq. Larger frames are [`Bytes`]: cloning a message, or fanning it out to
//! many peers, shares their bodies instead of copying them, and a `Vec<u8>` turned into a frame is
//! moved, not copied.

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
        if data.len() <= Self::INLINE_CAPACITY {
            let mut buf = [0u8; Frame::INLINE_CAPACITY];
            buf[..data.len()].copy_from_slice(data);
            Frame {
                repr: Repr::Inline {
                    len: data.len() as u8,
                    buf,
                },
            }
        } else {
            Frame {
                repr: Repr::Shared(Bytes::copy_from_slice(data)),
            }
        }
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
/// ```
/// use oxmq::Message;
///
/// let mut msg = Message::from("key");
/// msg.push("value");
/// assert_eq!(msg.len(), 2);
/// assert_eq!(&msg[1][..], b"value");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Message {
    first: Frame,
    rest: Vec<Frame>,
}

impl Message {
    /// A message of one empty frame.
    pub const fn new() -> Message {
        Message {
            first: Frame::empty(),
            rest: Vec::new(),
        }
    }

    /// A message made of `frames`, in order. An empty iterator gives a message of one empty frame:
    /// a ZeroMQ message always has at least one frame.
    pub fn from_frames<I, F>(frames: I) -> Message
    where
        I: IntoIterator<Item = F>,
        F: Into<Frame>,
    {
        let mut iter = frames.into_iter();
        let first = match iter.next() {
            Some(frame) => frame.into(),
            None => return Message::new(),
        };
        Message {
            first,
            rest: iter.map(Into::into).collect(),
        }
    }

    /// Appends a frame.
    pub fn push(&mut self, frame: impl Into<Frame>) {
        self.rest.push(frame.into());
    }

    /// The number of frames (at least 1).
    #[allow(clippy::len_without_is_empty)]
    #[inline]
    pub fn len(&self) -> usize {
        1 + self.rest.len()
    }

    /// The frame at `index`.
    pub fn get(&self, index: usize) -> Option<&Frame> {
        match index {
            0 => Some(&self.first),
            n => self.rest.get(n - 1),
        }
    }

    /// The frames, in order.
    pub fn iter(&self) -> Frames<'_> {
        Frames {
            first: Some(&self.first),
            rest: self.rest.iter(),
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
        let mut frames = Vec::with_capacity(self.len());
        frames.push(self.first);
        frames.extend(self.rest);
        frames
    }
}

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
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Into<Frame>> From<T> for Message {
    fn from(frame: T) -> Message {
        Message {
            first: frame.into(),
            rest: Vec::new(),
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
    first: Option<&'a Frame>,
    rest: std::slice::Iter<'a, Frame>,
}

impl<'a> Iterator for Frames<'a> {
    type Item = &'a Frame;

    #[inline]
    fn next(&mut self) -> Option<&'a Frame> {
        self.first.take().or_else(|| self.rest.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = usize::from(self.first.is_some()) + self.rest.len();
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
    fn message_is_at_most_a_cache_line_and_a_half() {
        assert!(
            std::mem::size_of::<Message>() <= 96,
            "{}",
            std::mem::size_of::<Message>()
        );
    }
}
