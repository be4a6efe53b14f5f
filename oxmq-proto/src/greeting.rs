//! The 64-octet ZMTP greeting that opens every connection.
//!
//! Layout (RFC 23/37, "Formal Grammar"):
//!
//! | offset | size | field                                        |
//! |-------:|-----:|----------------------------------------------|
//! | 0      | 1    | signature start, `0xFF`                      |
//! | 1      | 8    | padding (not significant, never validated)   |
//! | 9      | 1    | signature end, `0x7F`                        |
//! | 10     | 1    | major version (3)                            |
//! | 11     | 1    | minor version (1)                            |
//! | 12     | 20   | mechanism name, NUL padded                   |
//! | 32     | 1    | as-server flag                               |
//! | 33     | 31   | filler, zero                                 |
//!
//! oxmq sends the signature first and the rest once the peer's signature is
//! in (see [`crate::handshake`]), and speaks only ZMTP 3.x.
//! Peers using ZMTP 1.0 (no signature) or 2.0 (major version 1) are refused,
//! which RFC 37 permits ("A peer MAY downgrade"); this also closes the door
//! on the downgrade attacks of CVE-2014-7202/CVE-2014-9721.

use std::fmt;

use crate::error::GreetingError;

/// Size in bytes of a ZMTP 3.x greeting.
pub const GREETING_LEN: usize = 64;

/// Length of the greeting's signature (`0xFF`, 8 bytes of padding, `0x7F`).
pub const SIGNATURE_LEN: usize = 10;

/// Offset of the major version byte.
const MAJOR_POS: usize = 10;
/// Offset of the minor version byte.
const MINOR_POS: usize = 11;
/// Offset of the mechanism name.
const MECHANISM_POS: usize = 12;
/// Length of the mechanism name field.
const MECHANISM_LEN: usize = 20;
/// Offset of the as-server byte.
const AS_SERVER_POS: usize = 32;

/// A security mechanism name as carried in the greeting: 1 to 20 characters
/// out of `A-Z`, `0-9`, `-`, `_`, `.` and `+`, padded with NUL bytes to 20
/// octets.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MechanismName([u8; MECHANISM_LEN]);

impl MechanismName {
    /// The NULL mechanism (no security).
    pub const NULL: MechanismName = MechanismName::from_ascii(b"NULL");
    /// The PLAIN mechanism (RFC 24).
    pub const PLAIN: MechanismName = MechanismName::from_ascii(b"PLAIN");
    /// The CURVE mechanism (RFC 25/26).
    pub const CURVE: MechanismName = MechanismName::from_ascii(b"CURVE");

    /// Pads a known-good short constant name. Only used for the constants
    /// above, all of which are shorter than 20 bytes; evaluated at compile
    /// time, where the bounded loop cannot index out of range.
    #[allow(clippy::indexing_slicing)]
    const fn from_ascii(name: &[u8]) -> MechanismName {
        let mut raw = [0u8; MECHANISM_LEN];
        let mut i = 0;
        while i < name.len() && i < MECHANISM_LEN {
            raw[i] = name[i];
            i += 1;
        }
        MechanismName(raw)
    }

    /// Builds a mechanism name, or `None` if `name` is empty, longer than 20
    /// bytes, or contains a character outside `A-Z 0-9 - _ . +`.
    pub fn new(name: &str) -> Option<Self> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() > MECHANISM_LEN {
            return None;
        }
        if !bytes.iter().all(|&b| is_mechanism_char(b)) {
            return None;
        }
        let mut raw = [0u8; MECHANISM_LEN];
        for (dst, src) in raw.iter_mut().zip(bytes) {
            *dst = *src;
        }
        Some(MechanismName(raw))
    }

    /// Validates the 20-byte field exactly as received in a greeting.
    pub fn from_wire(raw: &[u8; MECHANISM_LEN]) -> Option<Self> {
        match check_mechanism_prefix(raw) {
            Ok(()) => Some(MechanismName(*raw)),
            Err(_) => None,
        }
    }

    /// The name without its NUL padding (`"NULL"`, `"CURVE"`, ...).
    pub fn as_str(&self) -> &str {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(MECHANISM_LEN);
        let name = self.0.get(..len).unwrap_or_default();
        // Every constructor checks that the name is ASCII.
        std::str::from_utf8(name).unwrap_or_default()
    }

    /// The 20-byte NUL-padded form sent on the wire.
    pub fn as_bytes(&self) -> &[u8; MECHANISM_LEN] {
        &self.0
    }
}

impl fmt::Debug for MechanismName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MechanismName({:?})", self.as_str())
    }
}

impl fmt::Display for MechanismName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Characters allowed in a mechanism name (RFC 37 `mechanism-char`, minus
/// the NUL used for padding).
fn is_mechanism_char(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b'+')
}

/// Checks a possibly partial mechanism field: at least one name character,
/// then only NUL padding once padding has started.
fn check_mechanism_prefix(field: &[u8]) -> Result<(), GreetingError> {
    let mut padding = false;
    for (i, &b) in field.iter().enumerate() {
        if b == 0 {
            if i == 0 {
                // An empty name is not a mechanism.
                return Err(GreetingError::BadMechanism);
            }
            padding = true;
        } else if padding || !is_mechanism_char(b) {
            return Err(GreetingError::BadMechanism);
        }
    }
    Ok(())
}

/// A decoded ZMTP 3.x greeting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Greeting {
    /// Major protocol version (3 for ZMTP 3.x, possibly higher).
    pub major: u8,
    /// Minor protocol version.
    pub minor: u8,
    /// Security mechanism the sender will use.
    pub mechanism: MechanismName,
    /// Whether the sender acts as server in the security handshake.
    pub as_server: bool,
}

impl Greeting {
    /// A ZMTP 3.1 greeting announcing `mechanism`.
    pub fn new(mechanism: MechanismName, as_server: bool) -> Self {
        Greeting {
            major: 3,
            minor: 1,
            mechanism,
            as_server,
        }
    }

    /// The 64 bytes to send. Padding and filler are zero.
    pub fn encode(&self) -> [u8; GREETING_LEN] {
        let mut out = [0u8; GREETING_LEN];
        out[0] = 0xFF;
        out[9] = 0x7F;
        out[MAJOR_POS] = self.major;
        out[MINOR_POS] = self.minor;
        out[MECHANISM_POS..MECHANISM_POS + MECHANISM_LEN]
            .copy_from_slice(self.mechanism.as_bytes());
        out[AS_SERVER_POS] = u8::from(self.as_server);
        out
    }

    /// Inspects the first bytes received on a connection.
    ///
    /// `buf` may hold any prefix of the greeting; only `buf[..64]` is ever
    /// looked at, so data that follows the greeting is ignored. Returns
    /// `Ok(None)` while the prefix is still valid but incomplete, and fails
    /// as soon as the prefix can no longer be a ZMTP 3.x greeting:
    ///
    /// * first byte not `0xFF`, or bit 0 of byte 9 clear: the peer speaks the
    ///   unversioned ZMTP 1.0 framing ([`GreetingError::BadSignature`]);
    /// * major version below 3: ZMTP 1.0/2.0
    ///   ([`GreetingError::UnsupportedVersion`]);
    /// * a mechanism field that is not a valid name followed by NUL padding
    ///   ([`GreetingError::BadMechanism`]).
    ///
    /// Any version from 3.0 up (3.2, 4.0, 255.255, ...) is accepted, as RFC 37
    /// requires. Following libzmq, and the RFC for the padding, the padding
    /// bytes, the as-server byte (any non-zero value means "server") and the
    /// filler are not validated.
    pub fn decode(buf: &[u8]) -> Result<Option<Greeting>, GreetingError> {
        let buf = buf.get(..GREETING_LEN).unwrap_or(buf);

        if let Some(&first) = buf.first() {
            if first != 0xFF {
                return Err(GreetingError::BadSignature);
            }
        }
        if let Some(&sig_end) = buf.get(9) {
            if sig_end & 0x01 == 0 {
                return Err(GreetingError::BadSignature);
            }
        }
        if let Some(&major) = buf.get(MAJOR_POS) {
            if major < 3 {
                return Err(GreetingError::UnsupportedVersion {
                    major,
                    minor: buf.get(MINOR_POS).copied(),
                });
            }
        }
        let mechanism_field = buf
            .get(MECHANISM_POS..)
            .map(|rest| rest.get(..MECHANISM_LEN).unwrap_or(rest))
            .unwrap_or_default();
        check_mechanism_prefix(mechanism_field)?;

        let Some(full) = buf.first_chunk::<GREETING_LEN>() else {
            return Ok(None);
        };
        let mut name = [0u8; MECHANISM_LEN];
        name.copy_from_slice(&full[MECHANISM_POS..MECHANISM_POS + MECHANISM_LEN]);
        Ok(Some(Greeting {
            major: full[MAJOR_POS],
            minor: full[MINOR_POS],
            mechanism: MechanismName(name),
            as_server: full[AS_SERVER_POS] != 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> [u8; GREETING_LEN] {
        Greeting::new(MechanismName::NULL, false).encode()
    }

    #[test]
    fn encode_layout() {
        let g = Greeting::new(MechanismName::CURVE, true).encode();
        let mut expected = [0u8; 64];
        expected[0] = 0xFF;
        expected[9] = 0x7F;
        expected[10] = 3;
        expected[11] = 1;
        expected[12..17].copy_from_slice(b"CURVE");
        expected[32] = 1;
        assert_eq!(g, expected);
    }

    #[test]
    fn round_trip() {
        for (m, s) in [
            (MechanismName::NULL, false),
            (MechanismName::PLAIN, true),
            (MechanismName::CURVE, false),
        ] {
            let g = Greeting::new(m, s);
            assert_eq!(Greeting::decode(&g.encode()), Ok(Some(g)));
        }
    }

    #[test]
    fn libzmq_null_greeting_golden() {
        // What libzmq 4.3 sends for a NULL socket (signature with zero
        // padding, version 3.1, "NULL", as-server 0).
        let mut wire = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 1];
        wire.extend_from_slice(b"NULL");
        wire.extend_from_slice(&[0; 16]);
        wire.push(0);
        wire.extend_from_slice(&[0; 31]);
        assert_eq!(wire.len(), 64);
        assert_eq!(wire.as_slice(), valid().as_slice());
    }

    #[test]
    fn every_valid_prefix_needs_more() {
        let g = valid();
        for len in 0..GREETING_LEN {
            assert_eq!(Greeting::decode(&g[..len]), Ok(None), "len {len}");
        }
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        let mut buf = valid().to_vec();
        buf.extend_from_slice(&[0x04, 0x00, 0xFF]);
        assert!(matches!(Greeting::decode(&buf), Ok(Some(_))));
    }

    #[test]
    fn bad_first_byte_fails_at_length_one() {
        let mut g = valid();
        g[0] = 0x01;
        for len in 1..=GREETING_LEN {
            assert_eq!(
                Greeting::decode(&g[..len]),
                Err(GreetingError::BadSignature),
                "len {len}"
            );
        }
    }

    #[test]
    fn zmtp10_unversioned_rejected() {
        // Anonymous ZMTP 1.0 identity frame `01 00`, then a "sneaky" frame.
        let wire = [
            0x01, 0x00, 0x08, 0x00, b's', b'n', b'e', b'a', b'k', b'y', 0x00,
        ];
        assert_eq!(Greeting::decode(&wire), Err(GreetingError::BadSignature));
        assert_eq!(
            Greeting::decode(&wire[..1]),
            Err(GreetingError::BadSignature)
        );
    }

    #[test]
    fn zmtp10_long_identity_rejected_at_byte_nine() {
        // 0xFF then an 8-byte length, then flags with bit 0 clear: a ZMTP 1.0
        // peer with a long identity frame (libzmq fuzz regression 96d3cb39).
        let wire = [0xFF, 0, 0, 0, 0x20, 0, 0, 0, 0, 0x00, 0, 0];
        for len in 1..=9 {
            assert_eq!(Greeting::decode(&wire[..len]), Ok(None), "len {len}");
        }
        assert_eq!(
            Greeting::decode(&wire[..10]),
            Err(GreetingError::BadSignature)
        );
    }

    #[test]
    fn zmtp20_rejected() {
        // ZMTP 2.0: signature, then major version 1, then socket type.
        let wire = [0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 0x01, 0x05];
        assert_eq!(
            Greeting::decode(&wire[..11]),
            Err(GreetingError::UnsupportedVersion {
                major: 1,
                minor: None
            })
        );
        assert_eq!(
            Greeting::decode(&wire),
            Err(GreetingError::UnsupportedVersion {
                major: 1,
                minor: Some(5)
            })
        );
    }

    #[test]
    fn version_zero_rejected() {
        let mut g = valid();
        g[10] = 0;
        assert_eq!(
            Greeting::decode(&g),
            Err(GreetingError::UnsupportedVersion {
                major: 0,
                minor: Some(1)
            })
        );
    }

    #[test]
    fn higher_versions_accepted() {
        for (major, minor) in [(3, 0), (3, 2), (4, 0), (255, 255)] {
            let mut g = valid();
            g[10] = major;
            g[11] = minor;
            let got = Greeting::decode(&g).unwrap().unwrap();
            assert_eq!((got.major, got.minor), (major, minor));
        }
    }

    #[test]
    fn padding_is_not_validated() {
        let mut g = valid();
        g[1..9].copy_from_slice(&[0xAA, 1, 2, 3, 4, 5, 6, 0xFE]);
        g[9] = 0xFF; // bit 0 set is all that matters
        assert!(matches!(Greeting::decode(&g), Ok(Some(_))));
    }

    #[test]
    fn filler_and_as_server_are_lenient() {
        let mut g = valid();
        g[32] = 7;
        g[40] = 0x55;
        let got = Greeting::decode(&g).unwrap().unwrap();
        assert!(got.as_server);
    }

    #[test]
    fn empty_mechanism_rejected_at_first_byte() {
        let mut g = valid();
        g[12..32].fill(0);
        assert_eq!(Greeting::decode(&g[..12]), Ok(None));
        assert_eq!(Greeting::decode(&g[..13]), Err(GreetingError::BadMechanism));
    }

    #[test]
    fn lowercase_mechanism_rejected() {
        let mut g = valid();
        g[12..16].copy_from_slice(b"null");
        assert_eq!(Greeting::decode(&g[..13]), Err(GreetingError::BadMechanism));
    }

    #[test]
    fn garbage_after_padding_rejected() {
        let mut g = valid();
        g[20] = b'X'; // "NULL\0\0\0\0X..."
        for len in 13..=20 {
            assert_eq!(Greeting::decode(&g[..len]), Ok(None), "len {len}");
        }
        for len in 21..=64 {
            assert_eq!(
                Greeting::decode(&g[..len]),
                Err(GreetingError::BadMechanism),
                "len {len}"
            );
        }
    }

    #[test]
    fn invalid_prefix_errors_at_every_length() {
        // Every cut of an invalid greeting either needs more bytes (the
        // fault is not visible yet) or reports the fault, never anything
        // else.
        let mut bad_sig = valid();
        bad_sig[9] = 0x7E;
        let mut v2 = valid();
        v2[10] = 2;
        let mut bad_mech = valid();
        bad_mech[13] = b'!';
        for (wire, first_bad, err) in [
            (bad_sig, 10, GreetingError::BadSignature),
            (bad_mech, 14, GreetingError::BadMechanism),
        ] {
            for len in 1..=63 {
                let got = Greeting::decode(&wire[..len]);
                if len < first_bad {
                    assert_eq!(got, Ok(None), "len {len}");
                } else {
                    assert_eq!(got, Err(err.clone()), "len {len}");
                }
            }
        }
        for len in 1..=63 {
            let got = Greeting::decode(&v2[..len]);
            match len {
                0..=10 => assert_eq!(got, Ok(None)),
                11 => assert_eq!(
                    got,
                    Err(GreetingError::UnsupportedVersion {
                        major: 2,
                        minor: None
                    })
                ),
                _ => assert_eq!(
                    got,
                    Err(GreetingError::UnsupportedVersion {
                        major: 2,
                        minor: Some(1)
                    })
                ),
            }
        }
    }

    #[test]
    fn mechanism_name_new() {
        assert_eq!(MechanismName::new("NULL"), Some(MechanismName::NULL));
        assert_eq!(MechanismName::new("CURVE").unwrap().as_str(), "CURVE");
        assert_eq!(MechanismName::new("GSSAPI").unwrap().as_str(), "GSSAPI");
        assert!(MechanismName::new("A-B_C.D+9").is_some());
        assert!(MechanismName::new("ABCDEFGHIJKLMNOPQRST").is_some());
        assert!(MechanismName::new("ABCDEFGHIJKLMNOPQRSTU").is_none());
        assert!(MechanismName::new("").is_none());
        assert!(MechanismName::new("null").is_none());
        assert!(MechanismName::new("NU LL").is_none());
        assert!(MechanismName::new("NULL\0").is_none());
        assert_eq!(MechanismName::PLAIN.to_string(), "PLAIN");
        assert_eq!(
            format!("{:?}", MechanismName::NULL),
            "MechanismName(\"NULL\")"
        );
    }

    #[test]
    fn mechanism_from_wire() {
        let mut raw = [0u8; 20];
        raw[..4].copy_from_slice(b"NULL");
        assert_eq!(MechanismName::from_wire(&raw), Some(MechanismName::NULL));
        raw[5] = b'X';
        assert_eq!(MechanismName::from_wire(&raw), None);
        assert_eq!(MechanismName::from_wire(&[0; 20]), None);
        assert!(MechanismName::from_wire(&[b'A'; 20]).is_some());
    }
}
