//! Entry points for the fuzz targets in `fuzz/` and for the corpus replay
//! test. Not part of the public API.
//!
//! Each function takes arbitrary bytes, drives one part of the crate with
//! them and checks invariants with `assert!`: a panic here is a finding.
//! The first byte(s) of the input choose parameters (chunking, limits,
//! socket types); the rest is what a peer would send.

#![allow(clippy::panic)]

use std::mem::discriminant;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};

use crate::connection::{Connection, ConnectionConfig, Input};
use crate::error::{ConnectionError, FrameError, HandshakeError};
use crate::frame::{Frame, FrameDecoder, MAX_HEADER_LEN};
use crate::greeting::{GREETING_LEN, Greeting, MechanismName};
use crate::handshake::{Handshake, HandshakeConfig, MAX_HANDSHAKE_COMMAND};
use crate::socket_type::SocketType;

/// Splits `data` into chunks whose sizes follow a small pseudo-random
/// sequence seeded by `seed`: sizes from 1 to `(seed % 67) + 1`.
fn chunks(data: &[u8], seed: u8) -> Vec<&[u8]> {
    let span = usize::from(seed % 67) + 1;
    let mut state = u32::from(seed).wrapping_mul(0x9E37_79B9) | 1;
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let size = (usize::try_from(state).unwrap_or(0) % span + 1).min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        out.push(chunk);
        rest = tail;
    }
    out
}

/// What feeding a byte stream to the frame decoder produced.
#[derive(Debug, PartialEq, Eq)]
struct DecodeOutcome {
    /// Frames decoded, in order.
    frames: Vec<Frame>,
    /// The error that stopped decoding, or the number of bytes left over.
    end: Result<usize, FrameError>,
}

/// Feeds `pieces` one after the other into a buffer, decoding as much as
/// possible after each.
fn decode_pieces(decoder: &FrameDecoder, pieces: &[&[u8]]) -> DecodeOutcome {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut fed = 0usize;
    for piece in pieces {
        buf.extend_from_slice(piece);
        fed += piece.len();
        loop {
            match decoder.decode_frame(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(err) => {
                    return DecodeOutcome {
                        frames,
                        end: Err(err),
                    };
                }
            }
            // The buffer only ever holds bytes that were fed.
            assert!(buf.len() <= fed);
        }
        assert!(buf.len() <= fed);
    }
    DecodeOutcome {
        frames,
        end: Ok(buf.len()),
    }
}

/// Frame decoder target: byte 0 picks the chunking, byte 1 the size limit,
/// the rest is the stream. Checks that chunked and one-shot decoding agree,
/// that the buffer never holds more than was fed, and that every frame
/// decoded re-encodes to something that decodes to the same frame.
pub fn decoder(data: &[u8]) {
    let Some((&chunk_seed, rest)) = data.split_first() else {
        return;
    };
    let Some((&limit, stream)) = rest.split_first() else {
        return;
    };
    let max_size = match limit % 4 {
        0 => None,
        1 => Some(u64::from(limit)),
        2 => Some(0),
        _ => Some(1u64 << (limit % 40)),
    };
    let decoder = FrameDecoder::new(max_size);

    let one_shot = decode_pieces(&decoder, &[stream]);
    let chunked = decode_pieces(&decoder, &chunks(stream, chunk_seed));
    assert_eq!(one_shot, chunked, "chunked decoding differs from one-shot");

    for frame in &one_shot.frames {
        if let Some(max) = max_size {
            assert!(u64::try_from(frame.payload.len()).unwrap_or(u64::MAX) <= max);
        }
        assert!(!(frame.command && frame.more));
        let mut wire = Vec::new();
        frame.encode(&mut wire);
        let mut buf = BytesMut::from(&wire[..]);
        let again = FrameDecoder::new(None).decode_frame(&mut buf);
        assert_eq!(again, Ok(Some(frame.clone())));
        assert!(buf.is_empty());
    }
}

/// Greeting target: every prefix of the input is decoded. A prefix that
/// fails keeps failing the same way as bytes are added, a valid prefix
/// shorter than 64 bytes needs more, and a decoded greeting re-encodes to
/// itself.
pub fn greeting(data: &[u8]) {
    let full = Greeting::decode(data);
    let mut first_error = None;
    let mut last = Ok(None);
    for len in 0..=data.len().min(GREETING_LEN) {
        let prefix = data.get(..len).unwrap_or(data);
        let result = Greeting::decode(prefix);
        match &result {
            Ok(Some(g)) => {
                assert_eq!(len, GREETING_LEN);
                assert!(first_error.is_none());
                assert!(g.major >= 3);
                assert_eq!(Greeting::decode(&g.encode()), Ok(Some(g.clone())));
                assert_eq!(
                    MechanismName::from_wire(g.mechanism.as_bytes()),
                    Some(g.mechanism)
                );
            }
            Ok(None) => {
                assert!(len < GREETING_LEN);
                assert!(first_error.is_none(), "an error went away");
            }
            Err(err) => {
                if let Some(first) = &first_error {
                    assert_eq!(discriminant(first), discriminant(err));
                } else {
                    first_error = Some(err.clone());
                }
                let _ = err.to_string();
            }
        }
        last = result;
    }
    assert_eq!(full, last, "bytes after the greeting changed the result");
}

/// Outcome of feeding a stream to a handshake.
#[derive(Debug)]
struct HandshakeOutcome {
    /// `Ok(true)` complete, `Ok(false)` needs more, or the error.
    result: Result<bool, HandshakeError>,
    /// Bytes left in the input buffer.
    left: usize,
}

/// Feeds `pieces` to `hs`, stopping at completion or error; after
/// completion, the rest of the stream is appended to the input so that the
/// leftover can be compared with a one-shot run.
fn drive(hs: &mut Handshake, pieces: &[&[u8]]) -> HandshakeOutcome {
    let mut input = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0usize;
    let mut result = Ok(false);
    let mut iter = pieces.iter();
    for piece in iter.by_ref() {
        input.extend_from_slice(piece);
        fed += piece.len();
        result = hs.handle_input(&mut input);
        hs.poll_transmit(&mut out);
        // Memory stays bounded: the input holds only bytes fed, and while
        // the handshake waits it holds at most one greeting or one
        // handshake command frame.
        assert!(input.len() <= fed);
        // Our greeting plus a READY with socket type and empty identity.
        assert!(out.len() <= GREETING_LEN + 64);
        match &result {
            Ok(true) => {
                assert!(hs.is_complete());
                let peer = hs.peer();
                assert!(peer.is_some());
                if let Some(peer) = peer {
                    assert!(peer.identity.len() <= 255);
                    assert!(peer.major >= 3);
                }
                break;
            }
            Ok(false) => {
                assert!(!hs.is_complete());
                let cap = usize::try_from(MAX_HANDSHAKE_COMMAND).unwrap_or(usize::MAX);
                assert!(input.len() <= MAX_HEADER_LEN + cap);
            }
            Err(err) => {
                assert_eq!(hs.error(), Some(err));
                assert!(hs.peer().is_none());
                let _ = err.to_string();
                let _ = err.zmtp_error_code();
                break;
            }
        }
    }
    for piece in iter {
        input.extend_from_slice(piece);
    }
    HandshakeOutcome {
        result,
        left: input.len(),
    }
}

/// Builds a configuration for the fuzz targets.
fn config(socket_type: SocketType, as_server: bool) -> HandshakeConfig {
    HandshakeConfig {
        as_server,
        ..HandshakeConfig::new(socket_type)
    }
}

/// Socket type picked by a fuzz byte.
fn pick_type(byte: u8) -> SocketType {
    let all = SocketType::ALL;
    all.get(usize::from(byte) % all.len())
        .copied()
        .unwrap_or(SocketType::Pair)
}

/// NULL handshake target.
///
/// Byte 0: bit 7 prepends a valid NULL greeting to the stream (so the
/// fuzzer reaches the command stage quickly), the rest picks the chunking;
/// byte 1 picks our socket type. The stream is fed to a client and to a
/// server handshake, in chunks and in one piece: both runs must end the
/// same way (complete, needs more, or the same kind of error) with the same
/// bytes left over. Then two real handshakes with socket types taken from
/// bytes 1 and 2 run against each other in chunks and must complete exactly
/// when the types are compatible.
pub fn null_handshake(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let Some((&type_byte, stream)) = rest.split_first() else {
        return;
    };
    let local = pick_type(type_byte);
    let mut bytes = Vec::new();
    if control & 0x80 != 0 {
        bytes.extend_from_slice(&Greeting::new(MechanismName::NULL, false).encode());
    }
    bytes.extend_from_slice(stream);

    for as_server in [false, true] {
        let mut chunked_hs = Handshake::new(config(local, as_server));
        let chunked = drive(&mut chunked_hs, &chunks(&bytes, control));
        let mut one_shot_hs = Handshake::new(config(local, as_server));
        let one_shot = drive(&mut one_shot_hs, &[&bytes]);
        match (&chunked.result, &one_shot.result) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(discriminant(a), discriminant(b)),
            (a, b) => panic!("chunked {a:?} but one-shot {b:?}"),
        }
        assert_eq!(chunked.left, one_shot.left);
        assert_eq!(chunked_hs.peer(), one_shot_hs.peer());
    }

    let peer = pick_type(stream.first().copied().unwrap_or(0));
    pair(local, peer, control);
}

/// Runs two handshakes against each other with chunked delivery.
fn pair(a: SocketType, b: SocketType, seed: u8) {
    let mut ha = Handshake::new(config(a, false));
    let mut hb = Handshake::new(config(b, true));
    let (mut a_out, mut b_out) = (Vec::new(), Vec::new());
    let (mut a_in, mut b_in) = (BytesMut::new(), BytesMut::new());
    let chunk = usize::from(seed % 31) + 1;
    let (mut ra, mut rb) = (Ok(false), Ok(false));
    for _ in 0..1000 {
        ha.poll_transmit(&mut a_out);
        hb.poll_transmit(&mut b_out);
        if a_out.is_empty() && b_out.is_empty() {
            break;
        }
        let n = chunk.min(a_out.len());
        b_in.extend(a_out.drain(..n));
        let n = chunk.min(b_out.len());
        a_in.extend(b_out.drain(..n));
        ra = ha.handle_input(&mut a_in);
        rb = hb.handle_input(&mut b_in);
    }
    if a.is_compatible_with(b) {
        assert_eq!(ra, Ok(true));
        assert_eq!(rb, Ok(true));
        assert_eq!(ha.peer().map(|p| p.socket_type), Some(b));
        assert_eq!(hb.peer().map(|p| p.socket_type), Some(a));
        assert!(a_in.is_empty() && b_in.is_empty());
    } else {
        assert_eq!(
            ra,
            Err(HandshakeError::IncompatibleSocketType { local: a, peer: b })
        );
        assert_eq!(
            rb,
            Err(HandshakeError::IncompatibleSocketType { local: b, peer: a })
        );
    }
}

/// What a connection made of a byte stream, with data bodies copied out.
#[derive(Debug, PartialEq, Eq)]
enum ConnItem {
    /// A data frame.
    Data {
        /// Starts a message.
        first: bool,
        /// More frames follow.
        more: bool,
        /// Frame body.
        body: Vec<u8>,
    },
    /// A SUBSCRIBE command.
    Subscribe(Vec<u8>),
    /// A CANCEL command.
    Cancel(Vec<u8>),
}

/// Outcome of feeding a stream to a connection.
#[derive(Debug)]
struct ConnOutcome {
    /// Items decoded, in order.
    items: Vec<ConnItem>,
    /// The error that stopped decoding, or the bytes left over.
    end: Result<usize, ConnectionError>,
    /// All bytes the connection asked to transmit.
    sent: Vec<u8>,
}

/// Upper bound of what `poll_transmit` may hold at once: the most PONGs
/// kept, each with a 16-byte context, and one PING (no ERROR is queued by
/// the fuzz target).
const MAX_PENDING_TRANSMIT: usize =
    crate::connection::MAX_PENDING_PONGS * (2 + 1 + 4 + 16) + (2 + 1 + 4 + 2);

/// Feeds `pieces` to `conn`, decoding after each until `NeedMore`, with the
/// clock moving by `tick` per piece. `transmit_every`: drain
/// `poll_transmit` after every n-th piece only (0: never), so unanswered
/// PINGs pile up in between.
fn drive_connection(
    conn: &mut Connection,
    pieces: &[&[u8]],
    t0: Instant,
    tick: Duration,
    transmit_every: usize,
) -> ConnOutcome {
    let mut input = BytesMut::new();
    let mut items = Vec::new();
    let mut sent = Vec::new();
    let mut fed = 0usize;
    let mut now = t0;
    for (n, piece) in pieces.iter().enumerate() {
        input.extend_from_slice(piece);
        fed += piece.len();
        now = now.checked_add(tick).unwrap_or(now);
        let mut expect_first = !conn.in_message();
        loop {
            let result = conn.poll_input(&mut input, now);
            assert!(input.len() <= fed);
            match result {
                Ok(Input::NeedMore { need }) => {
                    // `need` is either unknown or more than what is there.
                    assert!(need == 0 || need > input.len());
                    break;
                }
                Ok(Input::Data {
                    first,
                    more,
                    header_len,
                    size,
                }) => {
                    assert_eq!(first, expect_first);
                    expect_first = !more;
                    assert_eq!(conn.in_message(), more);
                    assert!(header_len == 2 || header_len == 9);
                    let end = header_len.checked_add(size);
                    let body = end.and_then(|end| input.get(header_len..end));
                    let Some(body) = body else {
                        panic!(
                            "Data frame {header_len}+{size} beyond the {} bytes",
                            input.len()
                        );
                    };
                    items.push(ConnItem::Data {
                        first,
                        more,
                        body: body.to_vec(),
                    });
                    input.advance(header_len + size);
                }
                Ok(Input::Subscribe(topic)) => items.push(ConnItem::Subscribe(topic.to_vec())),
                Ok(Input::Cancel(topic)) => items.push(ConnItem::Cancel(topic.to_vec())),
                Err(err) => {
                    assert_eq!(conn.error(), Some(&err));
                    assert_eq!(conn.poll_input(&mut input, now), Err(err.clone()));
                    assert_eq!(conn.poll_timeout(), None);
                    let _ = err.to_string();
                    let _ = err.zmtp_error_code();
                    conn.poll_transmit(&mut sent);
                    return ConnOutcome {
                        items,
                        end: Err(err),
                        sent,
                    };
                }
            }
        }
        if let Err(err) = conn.handle_timeout(now) {
            assert!(err.is_timeout());
            conn.poll_transmit(&mut sent);
            return ConnOutcome {
                items,
                end: Err(err),
                sent,
            };
        }
        let mut pending = Vec::new();
        let drain_now = transmit_every != 0 && n % transmit_every == 0;
        if drain_now || !conn.has_pending_transmit() {
            conn.poll_transmit(&mut pending);
            assert!(pending.len() <= MAX_PENDING_TRANSMIT);
            assert!(!conn.has_pending_transmit());
            sent.extend_from_slice(&pending);
        }
    }
    conn.poll_transmit(&mut sent);
    ConnOutcome {
        items,
        end: Ok(input.len()),
        sent,
    }
}

/// Connection target (the established connection after the handshake).
///
/// Byte 0 picks the chunking. Byte 1: bit 0 the peer version (ZMTP 3.0 or
/// 3.1), bits 1-2 the frame size limit, bits 3-7 how often the output is
/// drained. The rest is what the peer sends.
///
/// Without heartbeats and with a frozen clock, chunked and one-shot
/// decoding must give the same items, the same end (error or bytes left)
/// and the same output; data frames must carry consistent first/more
/// flags and respect the size limit; the input never holds more than was
/// fed; the output queue stays bounded (a few PONGs and one PING) however
/// many PINGs arrive. Then the chunked run is repeated with heartbeats and
/// a clock moving on every chunk: items decoded before the end must be a
/// prefix of the frozen run's (only a timeout may end it earlier), and the
/// bounds must hold.
pub fn connection(data: &[u8]) {
    let Some((&chunk_seed, rest)) = data.split_first() else {
        return;
    };
    let Some((&params, stream)) = rest.split_first() else {
        return;
    };
    let peer_minor = params & 1;
    let max_frame_size = match (params >> 1) & 3 {
        0 => None,
        1 => Some(0),
        2 => Some(16),
        _ => Some(300),
    };
    let transmit_every = usize::from(params >> 3);
    let config = ConnectionConfig {
        max_frame_size,
        ..ConnectionConfig::new(peer_minor)
    };
    let t0 = Instant::now();
    let pieces = chunks(stream, chunk_seed);

    let mut one_shot_conn = Connection::new(config.clone(), t0);
    let one_shot = drive_connection(&mut one_shot_conn, &[stream], t0, Duration::ZERO, 1);
    let mut chunked_conn = Connection::new(config.clone(), t0);
    let chunked = drive_connection(&mut chunked_conn, &pieces, t0, Duration::ZERO, 1);
    assert_eq!(one_shot.items, chunked.items, "chunked decoding differs");
    assert_eq!(one_shot.end, chunked.end);
    // Only the last PINGs of the stream are answered when everything comes
    // in one piece, so the chunked output ends with the one-shot output.
    assert!(chunked.sent.ends_with(&one_shot.sent));
    assert!(one_shot.sent.len() <= MAX_PENDING_TRANSMIT);
    for item in &one_shot.items {
        if let (ConnItem::Data { body, .. }, Some(max)) = (item, max_frame_size) {
            assert!(u64::try_from(body.len()).unwrap_or(u64::MAX) <= max);
        }
    }

    let heartbeats = ConnectionConfig {
        heartbeat_ivl: Some(Duration::from_millis(u64::from(chunk_seed % 8) * 50)),
        heartbeat_ttl: Some(Duration::from_millis(u64::from(params) * 100)),
        heartbeat_timeout: Some(Duration::from_millis(u64::from(chunk_seed >> 3) * 20)),
        ..config
    };
    let mut timed_conn = Connection::new(heartbeats, t0);
    let tick = Duration::from_millis(u64::from(chunk_seed % 5) * 30);
    let timed = drive_connection(&mut timed_conn, &pieces, t0, tick, transmit_every);
    assert!(timed.items.len() <= one_shot.items.len());
    assert!(one_shot.items.starts_with(&timed.items));
    match (&timed.end, &one_shot.end) {
        (Err(err), _) if err.is_timeout() => {}
        (a, b) => assert_eq!(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_input() {
        let data: Vec<u8> = (0..=255).collect();
        for seed in [0u8, 1, 66, 67, 200, 255] {
            let parts = chunks(&data, seed);
            assert_eq!(parts.concat(), data);
            assert!(parts.iter().all(|p| !p.is_empty()));
        }
        assert!(chunks(&[], 5).is_empty());
    }

    #[test]
    fn targets_accept_trivial_inputs() {
        for input in [&b""[..], b"\x00", b"\x00\x00", b"\xFF\x00\x00\x00\x02\x7F"] {
            decoder(input);
            greeting(input);
            null_handshake(input);
            connection(input);
        }
    }
}
