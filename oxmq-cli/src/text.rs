//! Messages as lines of text: frames separated by a tab, bytes that are not printable UTF-8
//! escaped; and [`unescape`], which reads that escaped form back (for routing ids typed on the
//! command line).

use std::fmt::Write;

/// Appends `bytes` to `out`, escaping what would not print as itself: backslash, tab, newline,
/// carriage return, other control characters, and bytes that are not valid UTF-8 (`\xNN`).
pub fn escape_into(out: &mut String, bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let (valid, invalid) = match std::str::from_utf8(rest) {
            Ok(text) => (text, &[][..]),
            Err(err) => {
                let (good, bad) = rest.split_at(err.valid_up_to());
                // `good` is valid UTF-8 by construction.
                (std::str::from_utf8(good).unwrap_or_default(), bad)
            }
        };
        for ch in valid.chars() {
            match ch {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        if let Some((&bad, tail)) = invalid.split_first() {
            let _ = write!(out, "\\x{bad:02x}");
            rest = tail;
        } else {
            rest = &[];
        }
    }
}

/// A message's frames as one line (without the newline).
pub fn message_line<'a>(frames: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut line = String::new();
    for (i, frame) in frames.into_iter().enumerate() {
        if i > 0 {
            line.push('\t');
        }
        escape_into(&mut line, frame);
    }
    line
}

/// Reads back the escaped form [`escape_into`] writes: `\\`, `\t`, `\n`, `\r` and `\xNN` (two
/// hex digits, either case) stand for one byte each; every other byte stands for itself. So
/// `unescape(escaped(bytes)) == bytes` for any bytes. A backslash followed by anything else, or
/// at the end, is an error that says what is wrong.
pub fn unescape(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some((&kind, tail)) = rest.split_first() else {
            return Err("a backslash at the end (write \\\\ for a backslash)".into());
        };
        rest = tail;
        match kind {
            b'\\' => out.push(b'\\'),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'x' => {
                let hex = rest
                    .get(..2)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(byte) = hex else {
                    return Err("\\x must be followed by two hex digits (\\x00 to \\xff)".into());
                };
                out.push(byte);
                rest = &rest[2..];
            }
            other => {
                return Err(format!(
                    "unknown escape '\\{}' (expected \\\\, \\t, \\n, \\r or \\xNN)",
                    String::from_utf8_lossy(&[other])
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(bytes: &[u8]) -> String {
        let mut out = String::new();
        escape_into(&mut out, bytes);
        out
    }

    #[test]
    fn unescape_reads_back_what_escape_writes() {
        for bytes in [
            &b""[..],
            b"plain",
            b"\x00k\x8bEg",
            b"\x00\x01\x02\x03\x04",
            b"a\tb\nc\rd\\e\x7f\xff\xc3",
            "w\u{f6}rld \u{1f600}".as_bytes(),
            b"\\x41",
        ] {
            assert_eq!(
                unescape(escaped(bytes).as_bytes()).unwrap(),
                bytes,
                "{bytes:?}"
            );
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(unescape(escaped(&all).as_bytes()).unwrap(), all);
    }

    #[test]
    fn unescape_accepts_either_case_and_rejects_bad_escapes() {
        assert_eq!(unescape(b"\\x0A\\xfF").unwrap(), b"\n\xff");
        for bad in [&b"\\"[..], b"a\\q", b"\\x", b"\\x1", b"\\xg0", b"\\x+1"] {
            assert!(unescape(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn printable_text_is_unchanged() {
        assert_eq!(
            message_line([&b"hello"[..], b"w\xc3\xb6rld"]),
            "hello\tw\u{f6}rld"
        );
    }

    #[test]
    fn control_and_invalid_bytes_are_escaped() {
        assert_eq!(
            message_line([&b"a\tb\nc\\\x00\xff"[..]]),
            "a\\tb\\nc\\\\\\x00\\xff"
        );
        assert_eq!(message_line([&b""[..], b""]), "\t");
    }
}
