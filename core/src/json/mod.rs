//! JSON (RFC 8259) shared by the core's readers and writers.
//!
//! - [`lexer`]: the one tokenizer, under the two tree builders: `config::json` (the JSON form
//!   of `helper.conf`: positions for messages, duplicate keys kept) and `jwt::json` (JOSE
//!   headers, claims and JWKS: last duplicate wins, `null` is absent, bounded depth).
//! - [`write_go_string`]: string escaping as Go's `encoding/json` writes it, for the JWT
//!   bundle file, the JWKS re-marshalling and the health body.

pub(crate) mod lexer;

use alloc::vec::Vec;

/// Appends `s` as a JSON string exactly as Go's `encoding/json` marshals it (HTML escaping
/// on, Go 1.22+ short escapes): `"` and `\` backslashed; `\b \f \n \r \t` short; other
/// control characters and `<`, `>`, `&` as `\u00xx`; U+2028 and U+2029 as `\u2028`/`\u2029`.
pub(crate) fn write_go_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\x08' => out.extend_from_slice(b"\\b"),
            '\x0c' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            '\0'..='\x1f' | '<' | '>' | '&' => {
                let b = c as u8;
                let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]];
                out.extend_from_slice(b"\\u00");
                out.extend_from_slice(&hex);
            }
            _ => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_string_escaping() {
        let mut out = Vec::new();
        write_go_string(
            "a\"\\\x08\x0c\n\r\t\x01\x1f<>&é\u{2028}\u{2029}😀",
            &mut out,
        );
        assert_eq!(
            out,
            "\"a\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\\u003c\\u003e\\u0026é\\u2028\\u2029😀\""
                .as_bytes()
        );
    }
}
