//! Messages as lines of text: frames separated by a tab, bytes that are not printable UTF-8
//! escaped.

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

#[cfg(test)]
mod tests {
    use super::*;

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
