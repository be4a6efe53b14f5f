//! Property tests for the codec: framing, commands, metadata, handshake.

use bytes::{Bytes, BytesMut};
use oxmq_proto::command::Command;
use oxmq_proto::frame::{Frame, encode_frame};
use oxmq_proto::metadata::Metadata;
use oxmq_proto::{FrameDecoder, Handshake, HandshakeConfig, SocketType};
use proptest::prelude::*;

/// A frame body: usually short, sometimes around 300 bytes so that long
/// headers occur, sometimes empty.
fn frame_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..20),
        1 => proptest::collection::vec(any::<u8>(), 250..320),
        1 => Just(Vec::new()),
    ]
}

fn messages() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    proptest::collection::vec(proptest::collection::vec(frame_body(), 1..5), 0..8)
}

/// Cuts `data` at the given points (taken modulo the length, sorted).
fn split_at_points(data: &[u8], points: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = points
        .iter()
        .map(|p| if data.is_empty() { 0 } else { p % data.len() })
        .collect();
    cuts.push(0);
    cuts.push(data.len());
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2).map(|w| data[w[0]..w[1]].to_vec()).collect()
}

fn metadata_strategy() -> impl Strategy<Value = Metadata> {
    proptest::collection::vec(
        (
            "[A-Za-z0-9._+-]{1,40}",
            proptest::collection::vec(any::<u8>(), 0..300),
        ),
        0..6,
    )
    .prop_map(|props| {
        let mut md = Metadata::new();
        for (name, value) in props {
            md.insert(&name, value);
        }
        md
    })
}

fn bytes_upto(n: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..=n).prop_map(Bytes::from)
}

fn command_strategy() -> impl Strategy<Value = Command> {
    prop_oneof![
        metadata_strategy().prop_map(Command::Ready),
        bytes_upto(255).prop_map(|reason| Command::Error { reason }),
        (any::<u16>(), bytes_upto(16)).prop_map(|(ttl, context)| Command::Ping { ttl, context }),
        bytes_upto(16).prop_map(|context| Command::Pong { context }),
        bytes_upto(400).prop_map(Command::Subscribe),
        bytes_upto(400).prop_map(Command::Cancel),
        ("[A-Za-z]{1,30}", bytes_upto(300))
            .prop_filter("not a known command", |(name, _)| {
                !matches!(
                    name.as_str(),
                    "READY" | "ERROR" | "PING" | "PONG" | "SUBSCRIBE" | "CANCEL"
                )
            })
            .prop_map(|(name, body)| Command::Unknown {
                name: Bytes::from(name.into_bytes()),
                body,
            }),
    ]
}

fn socket_type() -> impl Strategy<Value = SocketType> {
    proptest::sample::select(SocketType::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Multipart messages survive encoding, arbitrary splitting of the byte
    /// stream and chunked decoding, MORE flags included.
    #[test]
    fn multipart_round_trip(msgs in messages(), points in proptest::collection::vec(any::<usize>(), 0..20)) {
        let mut wire = Vec::new();
        for msg in &msgs {
            for (i, frame) in msg.iter().enumerate() {
                encode_frame(&mut wire, i + 1 < msg.len(), false, frame);
            }
        }
        let decoder = FrameDecoder::new(Some(1024));
        let mut buf = BytesMut::new();
        let mut decoded: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut current: Vec<Vec<u8>> = Vec::new();
        for chunk in split_at_points(&wire, &points) {
            buf.extend_from_slice(&chunk);
            while let Some(frame) = decoder.decode_frame(&mut buf).unwrap() {
                prop_assert!(!frame.command);
                current.push(frame.payload.to_vec());
                if !frame.more {
                    decoded.push(std::mem::take(&mut current));
                }
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert!(current.is_empty());
        prop_assert_eq!(decoded, msgs);
    }

    /// Arbitrary bytes never make the decoder panic, and the buffer never
    /// holds more than what was fed into it.
    #[test]
    fn arbitrary_bytes_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        points in proptest::collection::vec(any::<usize>(), 0..20),
        max in proptest::option::of(0u64..1000),
    ) {
        let decoder = FrameDecoder::new(max);
        let mut buf = BytesMut::new();
        let mut fed = 0usize;
        'outer: for chunk in split_at_points(&data, &points) {
            buf.extend_from_slice(&chunk);
            fed += chunk.len();
            loop {
                prop_assert!(buf.len() <= fed);
                match decoder.decode_frame(&mut buf) {
                    Ok(Some(frame)) => {
                        if let Some(max) = max {
                            prop_assert!(frame.payload.len() as u64 <= max);
                        }
                    }
                    Ok(None) => break,
                    Err(_) => break 'outer,
                }
            }
        }
        prop_assert!(buf.len() <= fed);
    }

    /// parse_header agrees with the encoder for every size and flag pair.
    #[test]
    fn header_round_trip(size in prop_oneof![0usize..600, any::<u32>().prop_map(|s| s as usize)], more: bool, command: bool) {
        let mut h = [0u8; 9];
        let n = oxmq_proto::frame::encode_header(&mut h, more, command, size);
        prop_assert_eq!(n, oxmq_proto::frame::header_len(size));
        let parsed = FrameDecoder::new(None).parse_header(&h[..n]).unwrap().unwrap();
        prop_assert_eq!(parsed.size, size as u64);
        prop_assert_eq!(parsed.header_len, n);
        prop_assert_eq!(parsed.command, command);
        prop_assert_eq!(parsed.more, more && !command);
        // One byte short is never enough.
        prop_assert_eq!(FrameDecoder::new(None).parse_header(&h[..n - 1]), Ok(None));
    }

    /// Commands round-trip through encode, frame decoding and parse.
    #[test]
    fn command_round_trip(cmd in command_strategy()) {
        let mut wire = Vec::new();
        cmd.encode(&mut wire);
        let mut buf = BytesMut::from(&wire[..]);
        let frame: Frame = FrameDecoder::new(None).decode_frame(&mut buf).unwrap().unwrap();
        prop_assert!(buf.is_empty());
        prop_assert!(frame.command);
        prop_assert!(!frame.more);
        prop_assert_eq!(Command::parse(&frame.payload).unwrap(), cmd);
    }

    /// Metadata round-trips, and lookups ignore case.
    #[test]
    fn metadata_round_trip(md in metadata_strategy()) {
        let mut wire = Vec::new();
        md.encode(&mut wire);
        prop_assert_eq!(wire.len(), md.encoded_len());
        let parsed = Metadata::parse(&wire).unwrap();
        prop_assert_eq!(&parsed, &md);
        prop_assert_eq!(Metadata::parse_bytes(&Bytes::from(wire)).unwrap(), md.clone());
        for (name, value) in md.iter() {
            prop_assert_eq!(parsed.get(&name.to_ascii_uppercase()), Some(value));
            prop_assert_eq!(parsed.get(&name.to_ascii_lowercase()), Some(value));
        }
    }

    /// Arbitrary bytes never make metadata or command parsing panic.
    #[test]
    fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Metadata::parse(&data);
        let _ = Command::parse(&Bytes::from(data));
    }

    /// Two handshakes with arbitrary socket types and chunk sizes complete
    /// exactly when the types are compatible, and data sent right after the
    /// handshake stays in the input.
    #[test]
    fn handshake_pairs(a in socket_type(), b in socket_type(), chunk in 1usize..100) {
        let mut ha = Handshake::new(HandshakeConfig::new(a));
        let mut hb = Handshake::new(HandshakeConfig { as_server: true, ..HandshakeConfig::new(b) });
        let (mut a_out, mut b_out) = (Vec::new(), Vec::new());
        let (mut a_in, mut b_in) = (BytesMut::new(), BytesMut::new());
        let (mut ra, mut rb) = (Ok(false), Ok(false));
        let mut sent_data = false;
        for _ in 0..1000 {
            ha.poll_transmit(&mut a_out);
            hb.poll_transmit(&mut b_out);
            if ha.is_complete() && !sent_data {
                // A peer may send messages as soon as its side is done.
                encode_frame(&mut a_out, false, false, b"payload");
                sent_data = true;
            }
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
            prop_assert_eq!(ra, Ok(true));
            prop_assert_eq!(rb, Ok(true));
            prop_assert_eq!(&b_in[..], b"\x00\x07payload");
        } else {
            prop_assert!(ra.is_err());
            prop_assert!(rb.is_err());
        }
    }
}
