//! The outgoing byte queue of one connection.
//!
//! Frame headers and small bodies are copied into one arena; bodies of at least
//! [`ZERO_COPY_MIN`] bytes are queued as shared [`Bytes`] and handed to the kernel in place by the
//! same `writev` call. Many messages therefore leave in one system call, and a large body is never
//! copied in user space.

use std::collections::VecDeque;
use std::io::{self, IoSlice};

use bytes::Bytes;
use oxmq_proto::frame;

use crate::message::{Frame, Message};
use crate::transport::Stream;

/// Bodies at least this large are written from their own buffer instead of being copied.
pub(crate) const ZERO_COPY_MIN: usize = 8 * 1024;
/// Most slices handed to one `writev`.
const MAX_IOVECS: usize = 64;
/// An idle arena larger than this is released instead of kept for reuse.
const ARENA_KEEP: usize = 1024 * 1024;

enum Segment {
    Arena { start: usize, end: usize },
    Body(Bytes),
}

/// Bytes waiting to be written, in order.
#[derive(Default)]
pub(crate) struct OutBuf {
    arena: Vec<u8>,
    segments: VecDeque<Segment>,
    /// Bytes of the first segment already written.
    head_written: usize,
    /// Bytes not yet written.
    pending: usize,
    /// Of those, bytes in the arena (copied).
    copied: usize,
}

impl OutBuf {
    /// Bytes not yet written.
    #[inline]
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// Of the bytes not yet written, those copied into the arena (the rest are shared bodies
    /// written in place).
    #[inline]
    pub(crate) fn copied(&self) -> usize {
        self.copied
    }

    /// Whether everything was written.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// Queues a copy of `data`.
    #[inline]
    pub(crate) fn push_bytes(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.arena.len() + data.len() > self.arena.capacity() {
            self.compact();
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(data);
        let end = self.arena.len();
        match self.segments.back_mut() {
            Some(Segment::Arena { end: last_end, .. }) if *last_end == start => *last_end = end,
            _ => self.segments.push_back(Segment::Arena { start, end }),
        }
        self.pending += data.len();
        self.copied += data.len();
    }

    /// Moves the arena's unwritten bytes to its front when at least half of it was written,
    /// instead of letting it grow: a stream that never drains the queue completely would
    /// otherwise grow the arena until it does, each growth copying it whole into fresh memory
    /// that the kernel faults in page by page.
    #[cold]
    fn compact(&mut self) {
        // The written part of a partly written front segment is done with too.
        if let Some(Segment::Arena { start, .. }) = self.segments.front_mut() {
            *start += std::mem::take(&mut self.head_written);
        }
        let first = self.segments.iter().find_map(|segment| match segment {
            Segment::Arena { start, .. } => Some(*start),
            Segment::Body(_) => None,
        });
        let Some(offset) = first else {
            // Everything copied was written.
            self.arena.clear();
            return;
        };
        if offset < self.arena.len() / 2 {
            return;
        }
        self.arena.drain(..offset);
        for segment in &mut self.segments {
            if let Segment::Arena { start, end } = segment {
                *start -= offset;
                *end -= offset;
            }
        }
    }

    /// Queues a shared body without copying it.
    fn push_body(&mut self, body: Bytes) {
        self.pending += body.len();
        self.segments.push_back(Segment::Body(body));
    }

    /// Queues a message as ZMTP data frames.
    #[inline]
    pub(crate) fn encode_message(&mut self, msg: &Message) {
        let last = msg.len() - 1;
        for (i, part) in msg.iter().enumerate() {
            let mut header = [0u8; frame::MAX_HEADER_LEN];
            let n = frame::encode_header(&mut header, i < last, false, part.len());
            self.push_bytes(&header[..n]);
            self.push_frame_body(part);
        }
    }

    /// Queues a frame's bytes without a header (raw connections), by reference when large.
    #[inline]
    pub(crate) fn push_frame_body(&mut self, part: &Frame) {
        match part.shared() {
            Some(body) if body.len() >= ZERO_COPY_MIN => self.push_body(body.clone()),
            _ => self.push_bytes(part),
        }
    }

    /// One vectored write of as much as the kernel takes. Returns `Ok(true)` when everything
    /// queued has been written.
    pub(crate) fn write_to(&mut self, stream: &Stream) -> io::Result<bool> {
        if self.pending == 0 {
            return Ok(true);
        }
        let mut slices: [IoSlice<'_>; MAX_IOVECS] = [IoSlice::new(&[]); MAX_IOVECS];
        let mut count = 0;
        for (i, segment) in self.segments.iter().take(MAX_IOVECS).enumerate() {
            let bytes: &[u8] = match segment {
                Segment::Arena { start, end } => &self.arena[*start..*end],
                Segment::Body(body) => body,
            };
            let skip = if i == 0 { self.head_written } else { 0 };
            slices[count] = IoSlice::new(&bytes[skip..]);
            count += 1;
        }
        let written = stream.write_vectored(&slices[..count])?;
        if written == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        self.advance(written);
        Ok(self.pending == 0)
    }

    fn advance(&mut self, mut written: usize) {
        self.pending -= written;
        while written > 0 {
            let Some(front) = self.segments.front() else {
                break;
            };
            let (len, in_arena) = match front {
                Segment::Arena { start, end } => (end - start - self.head_written, true),
                Segment::Body(body) => (body.len() - self.head_written, false),
            };
            let step = written.min(len);
            if in_arena {
                self.copied -= step;
            }
            if written >= len {
                written -= len;
                self.head_written = 0;
                self.segments.pop_front();
            } else {
                self.head_written += written;
                written = 0;
            }
        }
        if self.segments.is_empty() {
            self.arena.clear();
            if self.arena.capacity() > ARENA_KEEP {
                self.arena = Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_frames_share_the_arena_and_large_bodies_stay_out_of_it() {
        let mut out = OutBuf::default();
        let mut msg = Message::from("abc");
        msg.push(vec![7u8; ZERO_COPY_MIN]);
        out.encode_message(&msg);
        // header + "abc" + long header in the arena, then the body.
        assert_eq!(out.segments.len(), 2);
        assert_eq!(out.arena.len(), 2 + 3 + 9);
        assert_eq!(out.pending(), 2 + 3 + 9 + ZERO_COPY_MIN);
        assert_eq!(out.copied(), 2 + 3 + 9);
        assert_eq!(&out.arena[..5], &[frame::FLAG_MORE, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn a_queue_that_never_drains_reuses_its_arena() {
        let msg = Message::from(vec![5u8; 1000]);
        let mut header = [0u8; frame::MAX_HEADER_LEN];
        let n = frame::encode_header(&mut header, false, false, 1000);
        let mut unit = header[..n].to_vec();
        unit.extend_from_slice(&[5u8; 1000]);
        let mut out = OutBuf::default();
        let mut written = 0;
        for _ in 0..100 {
            out.encode_message(&msg);
        }
        let capacity = out.arena.capacity();
        // Write all but a little, queue more, over and over: the arena keeps its size.
        for round in 0..1000 {
            let step = out.pending() - 500 - round % 7;
            out.advance(step);
            written += step;
            for _ in 0..100 {
                out.encode_message(&msg);
            }
            assert!(
                out.arena.capacity() <= 2 * capacity,
                "round {round}: {} > {capacity}",
                out.arena.capacity()
            );
        }
        // What is left is the stream's unwritten tail, in order.
        let mut bytes = Vec::new();
        for segment in &out.segments {
            match segment {
                Segment::Arena { start, end } => bytes.extend_from_slice(&out.arena[*start..*end]),
                Segment::Body(body) => bytes.extend_from_slice(body),
            }
        }
        let bytes = &bytes[out.head_written..];
        assert_eq!(bytes.len(), out.pending());
        assert_eq!(out.copied(), out.pending());
        for (i, byte) in bytes.iter().enumerate() {
            assert_eq!(*byte, unit[(written + i) % unit.len()], "byte {i}");
        }
    }

    #[test]
    fn advance_across_segments() {
        let mut out = OutBuf::default();
        let mut msg = Message::from(vec![1u8; ZERO_COPY_MIN]);
        msg.push("tail");
        out.encode_message(&msg);
        let total = out.pending();
        out.advance(5);
        assert_eq!(out.head_written, 5);
        assert_eq!(out.copied(), 9 + 2 + 4 - 5);
        out.advance(9 - 5 + 100);
        assert_eq!(out.pending(), total - 109);
        assert_eq!(out.copied(), 2 + 4);
        out.advance(out.pending());
        assert!(out.is_empty());
        assert!(out.segments.is_empty());
        assert!(out.arena.is_empty());
    }
}
