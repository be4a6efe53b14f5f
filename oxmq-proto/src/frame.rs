//! ZMTP 3.x framing: a flags octet, a 1- or 8-octet size, then the body.
//!
//! ```text
//! short frame:  flags(LONG=0)  size:u8        body[size]
//! long frame:   flags(LONG=1)  size:u64 (BE)  body[size]
//! ```
//!
//! Decoding policy, following libzmq's `v2_decoder`:
//!
//! * reserved flag bits 7..3 are ignored (RFC 37 says they "MUST be zero"
//!   but libzmq neither sends nor checks them, and ignoring them keeps room
//!   for future extensions);
//! * a LONG frame announcing a size of 255 or less is accepted;
//! * a long size of 2^63 or more is rejected (outside the grammar, and the
//!   CVE-2019-6250 attack shape);
//! * a size above the configured maximum is rejected from the header alone,
//!   before any of the body is buffered (libzmq's `ZMQ_MAXMSGSIZE`, which it
//!   checks per frame);
//! * COMMAND together with MORE is rejected (RFC 37: MORE "SHALL be zero on
//!   command frames"); libzmq does not check this, but no libzmq version
//!   sends it.
//!
//! The decoder never reserves memory from a size the peer announces: the
//! caller's buffer only ever holds bytes that actually arrived.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::FrameError;

/// Flag bit 0: more frames of the same message follow.
pub const FLAG_MORE: u8 = 0x01;
/// Flag bit 1: the size is 8 bytes, big-endian.
pub const FLAG_LONG: u8 = 0x02;
/// Flag bit 2: the frame is a command.
pub const FLAG_COMMAND: u8 = 0x04;

/// Largest possible frame header: one flags byte and an 8-byte size.
pub const MAX_HEADER_LEN: usize = 9;

/// Sizes at or above this are outside the ZMTP grammar (2^63).
const SIZE_LIMIT: u64 = 1 << 63;

/// Length of the header [`encode_header`] writes for a body of `size`
/// bytes: 2 up to 255 bytes, 9 above.
#[inline]
pub fn header_len(size: usize) -> usize {
    if size <= usize::from(u8::MAX) {
        2
    } else {
        MAX_HEADER_LEN
    }
}

/// Writes a frame header for a body of `size` bytes into `out` and returns
/// how many bytes of `out` were used (2 or 9).
///
/// Bodies of up to 255 bytes get the short form, larger ones the long form.
/// Command frames never carry MORE, so `more` is ignored when `command` is
/// set.
#[inline]
pub fn encode_header(
    out: &mut [u8; MAX_HEADER_LEN],
    more: bool,
    command: bool,
    size: usize,
) -> usize {
    let flags = if command {
        FLAG_COMMAND
    } else if more {
        FLAG_MORE
    } else {
        0
    };
    let [flag_byte, size_bytes @ ..] = out;
    if let Ok(short) = u8::try_from(size) {
        *flag_byte = flags;
        size_bytes[0] = short;
        2
    } else {
        *flag_byte = flags | FLAG_LONG;
        // usize is at most 64 bits on every supported target.
        *size_bytes = (size as u64).to_be_bytes();
        MAX_HEADER_LEN
    }
}

/// Appends a complete frame (header and `payload`) to `out`.
pub fn encode_frame(out: &mut Vec<u8>, more: bool, command: bool, payload: &[u8]) {
    let mut header = [0u8; MAX_HEADER_LEN];
    let n = encode_header(&mut header, more, command, payload.len());
    out.reserve(n.saturating_add(payload.len()));
    out.extend_from_slice(header.get(..n).unwrap_or(&header));
    out.extend_from_slice(payload);
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// MORE flag: another frame of the same message follows.
    pub more: bool,
    /// COMMAND flag: this frame is a command, not message data.
    pub command: bool,
    /// Body size in bytes (always below 2^63).
    pub size: u64,
    /// Bytes taken by the header itself (2 or 9).
    pub header_len: usize,
}

impl FrameHeader {
    /// Header plus body length, or `None` if that does not fit in `usize`
    /// (only possible on 32-bit targets).
    #[inline]
    pub fn frame_len(&self) -> Option<usize> {
        usize::try_from(self.size)
            .ok()?
            .checked_add(self.header_len)
    }
}

/// A whole frame split off a receive buffer by [`FrameDecoder::decode_frame`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// MORE flag.
    pub more: bool,
    /// COMMAND flag.
    pub command: bool,
    /// Frame body.
    pub payload: Bytes,
}

impl Frame {
    /// Appends this frame's wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_frame(out, self.more, self.command, &self.payload);
    }
}

/// Stateless frame header parser with an optional size limit.
///
/// The decoder keeps no buffer of its own: the caller owns the receive
/// buffer, calls [`FrameDecoder::parse_header`] on its front, and consumes
/// `header_len + size` bytes once they are there (or uses
/// [`FrameDecoder::decode_frame`] to do both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameDecoder {
    /// Largest accepted body size; `u64::MAX` means no limit (sizes are
    /// always below 2^63, so one comparison covers both cases).
    max_size: u64,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(None)
    }
}

impl FrameDecoder {
    /// A decoder that rejects frames whose body exceeds `max_size` bytes
    /// (`None`: no limit besides the 2^63 grammar bound).
    pub fn new(max_size: Option<u64>) -> Self {
        FrameDecoder {
            max_size: max_size.unwrap_or(u64::MAX),
        }
    }

    /// Changes the body size limit.
    pub fn set_max_size(&mut self, max_size: Option<u64>) {
        self.max_size = max_size.unwrap_or(u64::MAX);
    }

    /// The body size limit in force.
    pub fn max_size(&self) -> Option<u64> {
        (self.max_size != u64::MAX).then_some(self.max_size)
    }

    /// Parses the frame header at the front of `buf`.
    ///
    /// Returns `Ok(None)` if `buf` is shorter than the header (1 byte is
    /// enough to know whether 2 or 9 are needed). Errors are reported as soon
    /// as the offending header bytes are present, so a peer announcing a
    /// huge frame is refused before anything of its body is buffered.
    ///
    /// Does not allocate; meant to be called once per received frame.
    #[inline]
    pub fn parse_header(&self, buf: &[u8]) -> Result<Option<FrameHeader>, FrameError> {
        let Some((&flags, rest)) = buf.split_first() else {
            return Ok(None);
        };
        if flags & (FLAG_MORE | FLAG_COMMAND) == FLAG_MORE | FLAG_COMMAND {
            return Err(FrameError::CommandWithMore);
        }
        let (size, header_len) = if flags & FLAG_LONG == 0 {
            match rest.first() {
                Some(&short) => (u64::from(short), 2),
                None => return Ok(None),
            }
        } else {
            match rest.first_chunk::<8>() {
                Some(long) => {
                    let size = u64::from_be_bytes(*long);
                    if size >= SIZE_LIMIT {
                        return Err(FrameError::SizeOutOfRange(size));
                    }
                    (size, MAX_HEADER_LEN)
                }
                None => return Ok(None),
            }
        };
        if size > self.max_size {
            return Err(FrameError::TooLarge {
                size,
                max: self.max_size,
            });
        }
        Ok(Some(FrameHeader {
            more: flags & FLAG_MORE != 0,
            command: flags & FLAG_COMMAND != 0,
            size,
            header_len,
        }))
    }

    /// Splits the first frame off `buf` if it is complete.
    ///
    /// Returns `Ok(None)` (leaving `buf` untouched) while the header or body
    /// is incomplete. The payload shares `buf`'s allocation; nothing is
    /// copied.
    pub fn decode_frame(&self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let Some(header) = self.parse_header(buf)? else {
            return Ok(None);
        };
        let Some(total) = header.frame_len() else {
            return Err(FrameError::SizeOutOfRange(header.size));
        };
        if buf.len() < total {
            return Ok(None);
        }
        buf.advance(header.header_len);
        let payload = buf
            .split_to(total.saturating_sub(header.header_len))
            .freeze();
        Ok(Some(Frame {
            more: header.more,
            command: header.command,
            payload,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(buf: &[u8]) -> Result<Option<FrameHeader>, FrameError> {
        FrameDecoder::new(None).parse_header(buf)
    }

    #[test]
    fn header_len_boundaries() {
        assert_eq!(header_len(0), 2);
        assert_eq!(header_len(255), 2);
        assert_eq!(header_len(256), 9);
        assert_eq!(header_len(usize::MAX), 9);
    }

    #[test]
    fn encode_short_and_long() {
        let mut h = [0u8; 9];
        assert_eq!(encode_header(&mut h, false, false, 0), 2);
        assert_eq!(&h[..2], &[0x00, 0x00]);
        assert_eq!(encode_header(&mut h, true, false, 255), 2);
        assert_eq!(&h[..2], &[0x01, 0xFF]);
        assert_eq!(encode_header(&mut h, false, true, 5), 2);
        assert_eq!(&h[..2], &[0x04, 0x05]);
        assert_eq!(encode_header(&mut h, true, false, 256), 9);
        assert_eq!(h, [0x03, 0, 0, 0, 0, 0, 0, 1, 0]);
        assert_eq!(encode_header(&mut h, false, true, 0x0102_0304), 9);
        assert_eq!(h, [0x06, 0, 0, 0, 0, 1, 2, 3, 4]);
        // MORE is never set on a command.
        assert_eq!(encode_header(&mut h, true, true, 1), 2);
        assert_eq!(h[0], FLAG_COMMAND);
    }

    #[test]
    fn encode_frame_appends() {
        let mut out = vec![0xAA];
        encode_frame(&mut out, true, false, b"hi");
        assert_eq!(out, [0xAA, 0x01, 0x02, b'h', b'i']);
        let mut out = Vec::new();
        encode_frame(&mut out, false, false, &[7u8; 300]);
        assert_eq!(&out[..9], &[0x02, 0, 0, 0, 0, 0, 0, 1, 44]);
        assert_eq!(out.len(), 309);
    }

    #[test]
    fn parse_needs_more() {
        assert_eq!(header(&[]), Ok(None));
        assert_eq!(header(&[0x00]), Ok(None));
        assert_eq!(header(&[0x01]), Ok(None));
        for len in 1..9 {
            let mut buf = vec![0x02];
            buf.resize(len, 0);
            assert_eq!(header(&buf), Ok(None), "len {len}");
        }
    }

    #[test]
    fn parse_short_and_long() {
        assert_eq!(
            header(&[0x01, 0x05, 0xEE]),
            Ok(Some(FrameHeader {
                more: true,
                command: false,
                size: 5,
                header_len: 2
            }))
        );
        assert_eq!(
            header(&[0x06, 0, 0, 0, 0, 0, 0, 1, 0]),
            Ok(Some(FrameHeader {
                more: false,
                command: true,
                size: 256,
                header_len: 9
            }))
        );
    }

    #[test]
    fn long_frame_with_small_size_accepted() {
        assert_eq!(
            header(&[0x02, 0, 0, 0, 0, 0, 0, 0, 3]),
            Ok(Some(FrameHeader {
                more: false,
                command: false,
                size: 3,
                header_len: 9
            }))
        );
    }

    #[test]
    fn reserved_bits_ignored() {
        let h = header(&[0xF8 | FLAG_MORE, 1]).unwrap().unwrap();
        assert!(h.more && !h.command);
        let h = header(&[0xF8 | FLAG_COMMAND, 1]).unwrap().unwrap();
        assert!(h.command && !h.more);
    }

    #[test]
    fn size_out_of_range() {
        assert_eq!(
            header(&[0x02, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(FrameError::SizeOutOfRange(1 << 63))
        );
        // CVE-2019-6250 proof of concept shape.
        assert_eq!(
            header(&[0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]),
            Err(FrameError::SizeOutOfRange(0xFFFF_FFFF_FFFF_FF00))
        );
        // 2^63 - 1 is the largest legal size.
        assert_eq!(
            header(&[0x02, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
                .unwrap()
                .unwrap()
                .size,
            (1 << 63) - 1
        );
    }

    #[test]
    fn too_large() {
        let d = FrameDecoder::new(Some(10));
        assert!(d.parse_header(&[0x00, 10]).unwrap().is_some());
        assert_eq!(
            d.parse_header(&[0x00, 11]),
            Err(FrameError::TooLarge { size: 11, max: 10 })
        );
        assert_eq!(
            d.parse_header(&[0x02, 0, 0, 0, 1, 0, 0, 0, 0]),
            Err(FrameError::TooLarge {
                size: 1 << 32,
                max: 10
            })
        );
        let mut d = FrameDecoder::new(Some(0));
        assert_eq!(d.max_size(), Some(0));
        assert_eq!(
            d.parse_header(&[0x00, 1]),
            Err(FrameError::TooLarge { size: 1, max: 0 })
        );
        d.set_max_size(None);
        assert_eq!(d.max_size(), None);
        assert!(d.parse_header(&[0x00, 1]).unwrap().is_some());
    }

    #[test]
    fn command_with_more_rejected_from_flags_byte() {
        assert_eq!(header(&[0x05]), Err(FrameError::CommandWithMore));
        assert_eq!(header(&[0x07, 0, 0]), Err(FrameError::CommandWithMore));
    }

    #[test]
    fn decode_frame_splits() {
        let d = FrameDecoder::new(None);
        let mut buf = BytesMut::new();
        encode_frame_into(&mut buf, true, false, b"abc");
        encode_frame_into(&mut buf, false, false, &[9u8; 300]);
        buf.extend_from_slice(&[0x00]); // partial third header
        let f1 = d.decode_frame(&mut buf).unwrap().unwrap();
        assert_eq!(
            f1,
            Frame {
                more: true,
                command: false,
                payload: Bytes::from_static(b"abc")
            }
        );
        let f2 = d.decode_frame(&mut buf).unwrap().unwrap();
        assert!(!f2.more);
        assert_eq!(f2.payload.len(), 300);
        assert_eq!(d.decode_frame(&mut buf), Ok(None));
        assert_eq!(&buf[..], &[0x00]);
    }

    #[test]
    fn decode_frame_waits_for_body_without_consuming() {
        let d = FrameDecoder::new(None);
        let mut buf = BytesMut::from(&[0x00, 0x03, b'a', b'b'][..]);
        assert_eq!(d.decode_frame(&mut buf), Ok(None));
        assert_eq!(buf.len(), 4);
        buf.extend_from_slice(b"c");
        assert_eq!(
            d.decode_frame(&mut buf).unwrap().unwrap().payload,
            Bytes::from_static(b"abc")
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn decode_frame_empty_frame() {
        let d = FrameDecoder::new(Some(0));
        let mut buf = BytesMut::from(&[0x01, 0x00, 0x00, 0x00][..]);
        let f = d.decode_frame(&mut buf).unwrap().unwrap();
        assert!(f.more && f.payload.is_empty());
        let f = d.decode_frame(&mut buf).unwrap().unwrap();
        assert!(!f.more && f.payload.is_empty());
        assert!(buf.is_empty());
    }

    #[test]
    fn frame_encode_round_trip() {
        let f = Frame {
            more: false,
            command: true,
            payload: Bytes::from_static(b"\x04PING\x00\x0a"),
        };
        let mut out = Vec::new();
        f.encode(&mut out);
        let mut buf = BytesMut::from(&out[..]);
        assert_eq!(FrameDecoder::default().decode_frame(&mut buf), Ok(Some(f)));
    }

    fn encode_frame_into(buf: &mut BytesMut, more: bool, command: bool, payload: &[u8]) {
        let mut v = Vec::new();
        encode_frame(&mut v, more, command, payload);
        buf.extend_from_slice(&v);
    }
}
