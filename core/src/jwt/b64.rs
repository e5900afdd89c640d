//! Base64url without padding (RFC 4648 §5, RFC 7515 §2), as JWS and JWK members use it.
//!
//! Encoding reuses the standard encoder of [`crate::pem`] and maps its alphabet.

#[cfg(test)]
use alloc::string::String;
use alloc::vec::Vec;

/// Decodes unpadded base64url. `None` for a character outside the alphabet (padding
/// included), a length of 1 mod 4, or non-zero unused bits in the last character (the
/// canonical form only, so one token has one encoding).
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let sextet = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        }))
    };
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3 + 2);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for &c in chunk {
            n = n << 6 | sextet(c)?;
        }
        let (shifted, keep) = match chunk.len() {
            4 => (n, 3),
            3 => (n << 6, 2),
            2 => (n << 12, 1),
            _ => return None,
        };
        let be = shifted.to_be_bytes();
        if be[1 + keep..].iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(&be[1..1 + keep]);
    }
    Some(out)
}

/// Appends the unpadded base64url of `bytes` to `out`.
pub(crate) fn encode(bytes: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    crate::pem::base64(bytes, out);
    while out.last() == Some(&b'=') {
        out.pop();
    }
    for b in &mut out[start..] {
        match *b {
            b'+' => *b = b'-',
            b'/' => *b = b'_',
            _ => {}
        }
    }
}

/// The unpadded base64url of `bytes` as a string.
#[cfg(test)]
pub(crate) fn encode_string(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    encode(bytes, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).rev().collect();
        for len in 0..70 {
            let text = encode_string(&data[..len]);
            assert!(!text.contains(['=', '+', '/']));
            assert_eq!(decode(&text).as_deref(), Some(&data[..len]), "{len}");
        }
        assert_eq!(encode_string(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn rejects_padding_foreign_characters_and_non_canonical_bits() {
        for bad in [
            "QQ==", "QQ=", "Q", "QUJDR", "A+B/", "QR", "QUJ", "QU.I", "QUJD\n",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        assert_eq!(decode("QQ").as_deref(), Some(&b"A"[..]));
        assert_eq!(decode("QUI").as_deref(), Some(&b"AB"[..]));
        assert_eq!(decode("QUE").as_deref(), Some(&b"AA"[..]));
    }
}
