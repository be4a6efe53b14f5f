//! Z85, ZeroMQ's printable encoding of binary data ([RFC 32]).
//!
//! Z85 turns every 4 bytes into 5 characters from an 85-character alphabet
//! that is safe in source code, shells and configuration files: each 4-byte
//! group, read as a big-endian 32-bit number, is written in base 85, most
//! significant digit first. ZeroMQ uses it for CURVE keys (32 bytes, 40
//! characters) and offers it through `zmq_z85_encode`/`zmq_z85_decode`.
//!
//! ```
//! use oxmq_proto::z85;
//!
//! // The test vector of RFC 32.
//! let data = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
//! assert_eq!(z85::encode(&data)?, "HelloWorld");
//! assert_eq!(z85::decode("HelloWorld")?, data);
//!
//! // Only whole groups: 4 bytes in, 5 characters out.
//! assert_eq!(z85::encode(&[1, 2, 3]), Err(z85::Z85Error::BinaryLength { len: 3 }));
//! assert_eq!(z85::decode("Hello!"), Err(z85::Z85Error::TextLength { len: 6 }));
//! # Ok::<(), z85::Z85Error>(())
//! ```
//!
//! The decoder is strict, like libzmq's: the text length must be a multiple
//! of 5, every character must belong to the alphabet, and a group must not
//! stand for a number above `0xFFFF_FFFF` (`"%nSc0"` is the largest group,
//! `"%nSc1"` and `"#####"` are refused), so that every accepted text is the
//! encoding of exactly one byte string. The empty input is valid both ways
//! (libzmq's `zmq_z85_decode` refuses the empty string; the C wrapper keeps
//! that rule).
//!
//! [RFC 32]: https://rfc.zeromq.org/spec/32/

/// The 85 characters of Z85, in digit order: `ALPHABET[d]` writes digit `d`.
pub const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Marks a byte that is not a Z85 character in [`DIGITS`].
const NOT_A_DIGIT: u8 = 0xFF;

/// The digit of each byte value, [`NOT_A_DIGIT`] for bytes outside the
/// alphabet: the inverse of [`ALPHABET`].
const DIGITS: [u8; 256] = digit_table();

/// Builds [`DIGITS`].
// Only evaluated at compile time, where an index out of range is a build error.
#[allow(clippy::indexing_slicing)]
const fn digit_table() -> [u8; 256] {
    let mut digits = [NOT_A_DIGIT; 256];
    let mut digit = 0;
    while digit < ALPHABET.len() {
        digits[ALPHABET[digit] as usize] = digit as u8;
        digit += 1;
    }
    digits
}

/// 85^4, the weight of a group's first digit.
const TOP_WEIGHT: u32 = 85 * 85 * 85 * 85;

/// Why data cannot be encoded or text cannot be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Z85Error {
    /// The data to encode is not a whole number of 4-byte groups.
    #[error("Z85 encodes whole 4-byte groups, but the data has {len} bytes")]
    BinaryLength {
        /// The length of the data, in bytes.
        len: usize,
    },
    /// The text to decode is not a whole number of 5-character groups.
    #[error("Z85 text comes in whole 5-character groups, but the text has {len} characters")]
    TextLength {
        /// The length of the text, in bytes.
        len: usize,
    },
    /// The text holds a byte that is not in the Z85 alphabet.
    #[error("byte {byte:#04x} at offset {offset} is not a Z85 character")]
    InvalidChar {
        /// Where the byte is in the text.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// A 5-character group stands for a number that does not fit in 32 bits.
    #[error("the Z85 group at offset {offset} stands for {value}, more than 32 bits hold")]
    Overflow {
        /// Where the group starts in the text.
        offset: usize,
        /// The number the group stands for.
        value: u64,
    },
    /// The output buffer given to [`encode_into`] or [`decode_into`] is too
    /// short for the result.
    #[error("the output needs {needed} bytes, but the buffer holds {len}")]
    BufferTooSmall {
        /// The length of the result.
        needed: usize,
        /// The length of the buffer.
        len: usize,
    },
}

/// The length of the Z85 text for `len` bytes of data (a multiple of 4).
pub const fn encoded_len(len: usize) -> usize {
    len / 4 * 5
}

/// The length of the data that `len` characters of Z85 text (a multiple of 5)
/// decode to.
pub const fn decoded_len(len: usize) -> usize {
    len / 5 * 4
}

/// Encodes `data`, whose length must be a multiple of 4, as Z85 text.
pub fn encode(data: &[u8]) -> Result<String, Z85Error> {
    let mut text = vec![0; checked_encoded_len(data.len())?];
    encode_into(data, &mut text)?;
    // Every byte written comes from ALPHABET, which is ASCII.
    Ok(text.into_iter().map(char::from).collect())
}

/// Encodes `data`, whose length must be a multiple of 4, into the start of
/// `out` (no terminator is written) and returns the length of the text. Nothing
/// is written when the call fails.
pub fn encode_into(data: &[u8], out: &mut [u8]) -> Result<usize, Z85Error> {
    let needed = checked_encoded_len(data.len())?;
    let len = out.len();
    let out = out
        .get_mut(..needed)
        .ok_or(Z85Error::BufferTooSmall { needed, len })?;
    for (group, chars) in data.chunks_exact(4).zip(out.chunks_exact_mut(5)) {
        let mut value = u32::from_be_bytes(group.try_into().unwrap_or([0; 4]));
        let mut weight = TOP_WEIGHT;
        for char in chars {
            *char = alphabet_char(value / weight);
            value %= weight;
            weight /= 85;
        }
    }
    Ok(needed)
}

/// Decodes Z85 `text` (a `&str`, `&[u8]`, ...): its length must be a multiple
/// of 5, its characters in the alphabet, and each group at most `0xFFFF_FFFF`.
pub fn decode(text: impl AsRef<[u8]>) -> Result<Vec<u8>, Z85Error> {
    let text = text.as_ref();
    let mut data = vec![0; decoded_len(text.len())];
    decode_into(text, &mut data)?;
    Ok(data)
}

/// Decodes Z85 `text` into the start of `out` and returns the length of the
/// data. The whole text is checked before anything is written: nothing is
/// written when the call fails.
pub fn decode_into(text: impl AsRef<[u8]>, out: &mut [u8]) -> Result<usize, Z85Error> {
    let text = text.as_ref();
    if text.len() % 5 != 0 {
        return Err(Z85Error::TextLength { len: text.len() });
    }
    let needed = decoded_len(text.len());
    let len = out.len();
    let out = out
        .get_mut(..needed)
        .ok_or(Z85Error::BufferTooSmall { needed, len })?;
    for (index, group) in text.chunks_exact(5).enumerate() {
        group_value(group, index * 5)?;
    }
    for (index, (group, bytes)) in text
        .chunks_exact(5)
        .zip(out.chunks_exact_mut(4))
        .enumerate()
    {
        bytes.copy_from_slice(&group_value(group, index * 5)?.to_be_bytes());
    }
    Ok(needed)
}

/// [`encoded_len`] for data that can be encoded.
fn checked_encoded_len(len: usize) -> Result<usize, Z85Error> {
    if len % 4 == 0 {
        Ok(encoded_len(len))
    } else {
        Err(Z85Error::BinaryLength { len })
    }
}

/// The character for `digit` (below 85).
fn alphabet_char(digit: u32) -> u8 {
    ALPHABET.get(digit as usize).copied().unwrap_or(b'#')
}

/// The number a 5-character group at `offset` in the text stands for.
fn group_value(group: &[u8], offset: usize) -> Result<u32, Z85Error> {
    let mut value: u64 = 0;
    for (position, &byte) in group.iter().enumerate() {
        let digit = DIGITS
            .get(usize::from(byte))
            .copied()
            .unwrap_or(NOT_A_DIGIT);
        if digit == NOT_A_DIGIT {
            return Err(Z85Error::InvalidChar {
                offset: offset + position,
                byte,
            });
        }
        value = value * 85 + u64::from(digit);
    }
    u32::try_from(value).map_err(|_| Z85Error::Overflow { offset, value })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// RFC 32's test vector.
    const HELLO_WORLD: [u8; 8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];

    #[test]
    fn rfc_32_test_vector() {
        assert_eq!(encode(&HELLO_WORLD).unwrap(), "HelloWorld");
        assert_eq!(decode("HelloWorld").unwrap(), HELLO_WORLD);
        assert_eq!(decode(b"HelloWorld".as_slice()).unwrap(), HELLO_WORLD);
    }

    #[test]
    fn curve_test_keys() {
        // The client key pair of zmq_curve(7), in hex and in Z85.
        let public = "BB88471D65E2659B30C55A5321CEBB5AAB2B70A398645C26DCA2B2FCB43FC518";
        let public: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&public[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            encode(&public).unwrap(),
            "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
        );
        assert_eq!(
            decode("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID").unwrap(),
            public
        );
    }

    #[test]
    fn alphabet_and_digit_table_are_inverse() {
        assert_eq!(ALPHABET.len(), 85);
        for (digit, &char) in ALPHABET.iter().enumerate() {
            assert_eq!(usize::from(DIGITS[usize::from(char)]), digit);
        }
        let valid = DIGITS.iter().filter(|&&d| d != NOT_A_DIGIT).count();
        assert_eq!(valid, 85, "no byte outside the alphabet has a digit");
    }

    #[test]
    fn extremes() {
        assert_eq!(encode(&[0; 4]).unwrap(), "00000");
        assert_eq!(encode(&[0xFF; 4]).unwrap(), "%nSc0");
        assert_eq!(decode("00000").unwrap(), [0; 4]);
        assert_eq!(decode("%nSc0").unwrap(), [0xFF; 4]);
    }

    #[test]
    fn empty_input_is_valid_both_ways() {
        assert_eq!(encode(&[]).unwrap(), "");
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn encode_refuses_partial_groups() {
        for len in [1, 2, 3, 5, 42] {
            assert_eq!(encode(&vec![0; len]), Err(Z85Error::BinaryLength { len }));
        }
    }

    #[test]
    fn decode_refuses_partial_groups() {
        assert_eq!(decode("0"), Err(Z85Error::TextLength { len: 1 }));
        assert_eq!(decode("01234567"), Err(Z85Error::TextLength { len: 8 }));
        // The length is checked before the characters.
        assert_eq!(decode("\0\0\0"), Err(Z85Error::TextLength { len: 3 }));
    }

    #[test]
    fn decode_refuses_values_above_32_bits() {
        assert_eq!(
            decode("%nSc1"),
            Err(Z85Error::Overflow {
                offset: 0,
                value: 0x1_0000_0000
            })
        );
        assert_eq!(
            decode("00000#####"),
            Err(Z85Error::Overflow {
                offset: 5,
                value: 85u64.pow(5) - 1
            })
        );
    }

    #[test]
    fn decode_refuses_characters_outside_the_alphabet() {
        // Within the printable range but not in the alphabet, just below it
        // (space) and just above it (DEL), a control character, non-ASCII.
        for (text, offset, byte) in [
            (&b"####\x22"[..], 4, b'"'),
            (b"#### ", 4, b' '),
            (b"####\x7f", 4, 0x7F),
            (b"0\x0400000000", 1, 0x04),
            (b"00000000\xC3\xA9", 8, 0xC3),
            (b"0000,", 4, b','),
        ] {
            assert_eq!(
                decode(text),
                Err(Z85Error::InvalidChar { offset, byte }),
                "{text:?}"
            );
        }
        // Every byte outside the alphabet is refused.
        for byte in 0..=u8::MAX {
            let text = [b'0', b'0', b'0', b'0', byte];
            assert_eq!(
                decode(text).is_ok(),
                ALPHABET.contains(&byte),
                "{byte:#04x}"
            );
        }
    }

    #[test]
    fn into_variants_check_the_buffer_and_write_nothing_on_failure() {
        let mut text = [b'*'; 12];
        assert_eq!(encode_into(&HELLO_WORLD, &mut text), Ok(10));
        assert_eq!(&text, b"HelloWorld**");
        assert_eq!(
            encode_into(&HELLO_WORLD, &mut [0; 9]),
            Err(Z85Error::BufferTooSmall { needed: 10, len: 9 })
        );

        let mut data = [0xAA; 9];
        assert_eq!(decode_into("HelloWorld", &mut data), Ok(8));
        assert_eq!(data[..8], HELLO_WORLD);
        assert_eq!(data[8], 0xAA);
        assert_eq!(
            decode_into("HelloWorld", &mut [0; 7]),
            Err(Z85Error::BufferTooSmall { needed: 8, len: 7 })
        );

        // A bad second group leaves the first group's bytes unwritten too.
        let mut data = [0xAA; 8];
        assert!(decode_into("Hello#####", &mut data).is_err());
        assert_eq!(data, [0xAA; 8]);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            Z85Error::InvalidChar {
                offset: 4,
                byte: b' '
            }
            .to_string(),
            "byte 0x20 at offset 4 is not a Z85 character"
        );
        assert_eq!(
            Z85Error::BinaryLength { len: 3 }.to_string(),
            "Z85 encodes whole 4-byte groups, but the data has 3 bytes"
        );
    }

    proptest! {
        #[test]
        fn data_round_trips(groups in prop::collection::vec(any::<[u8; 4]>(), 0..64)) {
            let data: Vec<u8> = groups.concat();
            let text = encode(&data).unwrap();
            prop_assert_eq!(text.len(), encoded_len(data.len()));
            prop_assert!(text.bytes().all(|b| ALPHABET.contains(&b)));
            prop_assert_eq!(decode(&text).unwrap(), data);
        }

        #[test]
        fn valid_text_round_trips(digits in prop::collection::vec(0..85usize, 0..40)) {
            // Any text whose groups fit in 32 bits re-encodes to itself.
            let len = digits.len() / 5 * 5;
            let text: Vec<u8> = digits[..len].iter().map(|&d| ALPHABET[d]).collect();
            match decode(&text) {
                Ok(data) => prop_assert_eq!(encode(&data).unwrap().into_bytes(), text),
                Err(error) => {
                    let is_overflow = matches!(error, Z85Error::Overflow { .. });
                    prop_assert!(is_overflow);
                }
            }
        }

        #[test]
        fn decode_never_panics(text in prop::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(data) = decode(&text) {
                prop_assert_eq!(encode(&data).unwrap().into_bytes(), text);
            }
        }
    }
}
