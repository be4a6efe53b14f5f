//! Connection metadata: the property list carried by READY (and, later, by
//! PLAIN/CURVE INITIATE and READY).
//!
//! Wire format (RFC 37, "The NULL Security Mechanism"), repeated to the end
//! of the command:
//!
//! ```text
//! name-len:u8  name[name-len]  value-len:u32 (BE)  value[value-len]
//! ```
//!
//! Names are 1..=255 characters from `A-Z a-z 0-9 - _ . +` and compare
//! case-insensitively; values are 0..2^31 opaque bytes.

use bytes::Bytes;

use crate::error::MetadataError;

/// Largest value length allowed by RFC 37 (2^31 - 1).
pub const MAX_VALUE_LEN: usize = 0x7FFF_FFFF;

/// Whether `name` is a valid property name: 1 to 255 characters out of
/// `A-Z a-z 0-9 - _ . +`.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= usize::from(u8::MAX)
        && bytes.iter().all(|&b| is_name_char(b))
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+')
}

/// An ordered list of metadata properties.
///
/// Lookups are case-insensitive. A list parsed from the wire keeps every
/// property, duplicates included, in the order received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: Vec<(String, Bytes)>,
}

impl Metadata {
    /// An empty property list.
    pub fn new() -> Self {
        Metadata::default()
    }

    /// Sets property `name` to `value`, replacing any property of the same
    /// name (compared case-insensitively).
    ///
    /// Invalid input (see [`is_valid_name`], or a value of 2^31 bytes or
    /// more) is ignored; use [`Metadata::try_insert`] to be told.
    pub fn insert(&mut self, name: &str, value: impl Into<Bytes>) {
        let _ignored = self.try_insert(name, value);
    }

    /// Like [`Metadata::insert`], but reports invalid names and values.
    pub fn try_insert(&mut self, name: &str, value: impl Into<Bytes>) -> Result<(), MetadataError> {
        if name.is_empty() {
            return Err(MetadataError::EmptyName);
        }
        if !is_valid_name(name) {
            return Err(MetadataError::InvalidName);
        }
        let value = value.into();
        if value.len() > MAX_VALUE_LEN {
            return Err(MetadataError::ValueTooLong(
                u32::try_from(value.len()).unwrap_or(u32::MAX),
            ));
        }
        match self
            .entries
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(entry) => *entry = (name.to_owned(), value),
            None => self.entries.push((name.to_owned(), value)),
        }
        Ok(())
    }

    /// The value of the first property called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// How many properties called `name` (case-insensitive) there are.
    pub fn count(&self, name: &str) -> usize {
        self.entries
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// The properties in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Bytes)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no properties.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes [`Metadata::encode`] will append.
    pub fn encoded_len(&self) -> usize {
        self.entries.iter().fold(0usize, |acc, (n, v)| {
            acc.saturating_add(5 + n.len()).saturating_add(v.len())
        })
    }

    /// Appends the wire encoding of every property to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        for (name, value) in &self.entries {
            // Both lengths were checked when the entry was added.
            out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(value);
        }
    }

    /// Parses a property list, copying the values.
    pub fn parse(body: &[u8]) -> Result<Metadata, MetadataError> {
        Self::parse_with(body, |range| {
            Bytes::copy_from_slice(body.get(range).unwrap_or_default())
        })
    }

    /// Parses a property list; the values share `body`'s memory.
    pub fn parse_bytes(body: &Bytes) -> Result<Metadata, MetadataError> {
        Self::parse_with(body, |range| body.slice(range))
    }

    /// The parser proper. `value` turns a byte range of `body`, already
    /// checked to be in bounds, into a value.
    fn parse_with(
        body: &[u8],
        value: impl Fn(std::ops::Range<usize>) -> Bytes,
    ) -> Result<Metadata, MetadataError> {
        let mut entries = Vec::new();
        let mut pos = 0usize;
        while pos < body.len() {
            let rest = body.get(pos..).unwrap_or_default();
            let Some((&name_len, rest)) = rest.split_first() else {
                break;
            };
            let name_len = usize::from(name_len);
            if name_len == 0 {
                return Err(MetadataError::EmptyName);
            }
            let name = rest.get(..name_len).ok_or(MetadataError::Truncated)?;
            if !name.iter().all(|&b| is_name_char(b)) {
                return Err(MetadataError::InvalidName);
            }
            let rest = rest.get(name_len..).unwrap_or_default();
            let len_bytes = rest.first_chunk::<4>().ok_or(MetadataError::Truncated)?;
            let value_len = u32::from_be_bytes(*len_bytes);
            if value_len > 0x7FFF_FFFF {
                return Err(MetadataError::ValueTooLong(value_len));
            }
            let value_len = usize::try_from(value_len).map_err(|_| MetadataError::Truncated)?;
            let available = rest.get(4..).map_or(0, <[u8]>::len);
            if available < value_len {
                return Err(MetadataError::Truncated);
            }
            // pos + 1 + name_len + 4 + value_len <= body.len(), checked above.
            let value_start = pos + 1 + name_len + 4;
            let value_end = value_start + value_len;
            // Name characters are ASCII, so this cannot fail.
            let name = std::str::from_utf8(name).map_err(|_| MetadataError::InvalidName)?;
            entries.push((name.to_owned(), value(value_start..value_end)));
            pos = value_end;
        }
        Ok(Metadata { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(name: &[u8], value: &[u8]) -> Vec<u8> {
        let mut v = vec![u8::try_from(name.len()).unwrap()];
        v.extend_from_slice(name);
        v.extend_from_slice(&u32::try_from(value.len()).unwrap().to_be_bytes());
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn golden_socket_type() {
        let mut m = Metadata::new();
        m.insert("Socket-Type", "PUSH");
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out, b"\x0bSocket-Type\x00\x00\x00\x04PUSH");
        assert_eq!(m.encoded_len(), out.len());
    }

    #[test]
    fn round_trip_and_case_insensitive_get() {
        let mut m = Metadata::new();
        m.insert("Socket-Type", "DEALER");
        m.insert("Identity", Bytes::new());
        m.insert("X-Hello", vec![0u8, 1, 2]);
        let mut out = Vec::new();
        m.encode(&mut out);
        let parsed = Metadata::parse(&out).unwrap();
        assert_eq!(parsed, m);
        assert_eq!(Metadata::parse_bytes(&Bytes::from(out)).unwrap(), m);
        assert_eq!(parsed.get("socket-type").unwrap(), "DEALER");
        assert_eq!(parsed.get("IDENTITY").unwrap(), "");
        assert_eq!(parsed.get("x-hello").unwrap(), &[0u8, 1, 2][..]);
        assert_eq!(parsed.get("missing"), None);
        assert_eq!(parsed.len(), 3);
        assert!(!parsed.is_empty());
        let names: Vec<&str> = parsed.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Socket-Type", "Identity", "X-Hello"]);
    }

    #[test]
    fn insert_replaces_case_insensitively() {
        let mut m = Metadata::new();
        m.insert("X-A", "1");
        m.insert("x-a", "2");
        assert_eq!(m.len(), 1);
        assert_eq!(m.get("X-A").unwrap(), "2");
    }

    #[test]
    fn try_insert_rejects_bad_names() {
        let mut m = Metadata::new();
        assert_eq!(m.try_insert("", "v"), Err(MetadataError::EmptyName));
        assert_eq!(m.try_insert("a b", "v"), Err(MetadataError::InvalidName));
        assert_eq!(m.try_insert("é", "v"), Err(MetadataError::InvalidName));
        assert_eq!(
            m.try_insert(&"a".repeat(256), "v"),
            Err(MetadataError::InvalidName)
        );
        assert_eq!(m.try_insert(&"a".repeat(255), "v"), Ok(()));
        m.insert("bad name", "v");
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn empty_body_is_empty_metadata() {
        assert_eq!(Metadata::parse(b""), Ok(Metadata::new()));
    }

    #[test]
    fn zero_length_name() {
        let mut body = prop(b"A", b"x");
        body.extend_from_slice(&[0, 0, 0, 0, 0]);
        assert_eq!(Metadata::parse(&body), Err(MetadataError::EmptyName));
    }

    #[test]
    fn name_past_end() {
        assert_eq!(
            Metadata::parse(b"\x0bSocket"),
            Err(MetadataError::Truncated)
        );
    }

    #[test]
    fn value_length_missing() {
        assert_eq!(
            Metadata::parse(b"\x01A\x00\x00\x00"),
            Err(MetadataError::Truncated)
        );
    }

    #[test]
    fn value_past_end() {
        // zmq.rs #286: value length larger than what remains.
        assert_eq!(
            Metadata::parse(b"\x01A\x00\x00\x00\x05abcd"),
            Err(MetadataError::Truncated)
        );
        assert_eq!(
            Metadata::parse(b"\x01A\x7F\xFF\xFF\xFF"),
            Err(MetadataError::Truncated)
        );
    }

    #[test]
    fn value_too_long() {
        assert_eq!(
            Metadata::parse(b"\x01A\x80\x00\x00\x00"),
            Err(MetadataError::ValueTooLong(0x8000_0000))
        );
        assert_eq!(
            Metadata::parse(b"\x01A\xFF\xFF\xFF\xFFabc"),
            Err(MetadataError::ValueTooLong(u32::MAX))
        );
    }

    #[test]
    fn single_trailing_byte() {
        let mut body = prop(b"Socket-Type", b"PUSH");
        body.push(0x03);
        assert_eq!(Metadata::parse(&body), Err(MetadataError::Truncated));
    }

    #[test]
    fn invalid_name_chars() {
        assert_eq!(
            Metadata::parse(&prop(b"Sock\x00t", b"")),
            Err(MetadataError::InvalidName)
        );
        assert_eq!(
            Metadata::parse(&prop(b"a:b", b"")),
            Err(MetadataError::InvalidName)
        );
        assert_eq!(
            Metadata::parse(&prop(&[0xC3, 0xA9], b"")),
            Err(MetadataError::InvalidName)
        );
        assert!(Metadata::parse(&prop(b"aZ09-_.+", b"")).is_ok());
    }

    #[test]
    fn duplicates_are_kept() {
        let mut body = prop(b"Socket-Type", b"PUSH");
        body.extend(prop(b"socket-type", b"PULL"));
        let m = Metadata::parse(&body).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.count("SOCKET-TYPE"), 2);
        assert_eq!(m.get("Socket-Type").unwrap(), "PUSH");
    }

    #[test]
    fn parse_bytes_shares_memory() {
        let body = Bytes::from(prop(b"X-Big", &[5u8; 100]));
        let m = Metadata::parse_bytes(&body).unwrap();
        let v = m.get("x-big").unwrap();
        assert_eq!(v.len(), 100);
        let start = body.as_ptr() as usize;
        let vp = v.as_ptr() as usize;
        assert!(vp >= start && vp < start + body.len());
    }
}
