//! HPACK Huffman code (RFC 7541 §5.2, Appendix B): the code table and a decoder.
//!
//! The code is canonical: the codes of one bit length are consecutive integers. The decoding
//! tables ([`CANONICAL`]) rely on that and are built from [`CODES`] at compile time (the build
//! fails if the code were not canonical), so decoding walks the input bit by bit with a few
//! array look-ups per bit and no allocation besides the output.

use alloc::vec::Vec;

use super::HpackError;

/// `(code, bit length)` of symbols 0..=255 and of EOS (256), RFC 7541 Appendix B.
/// Codes are right-aligned: the low `length` bits hold the code, most significant bit first.
pub(crate) const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13),     // (0)
    (0x7fffd8, 23),   // (1)
    (0xfffffe2, 28),  // (2)
    (0xfffffe3, 28),  // (3)
    (0xfffffe4, 28),  // (4)
    (0xfffffe5, 28),  // (5)
    (0xfffffe6, 28),  // (6)
    (0xfffffe7, 28),  // (7)
    (0xfffffe8, 28),  // (8)
    (0xffffea, 24),   // (9)
    (0x3ffffffc, 30), // (10)
    (0xfffffe9, 28),  // (11)
    (0xfffffea, 28),  // (12)
    (0x3ffffffd, 30), // (13)
    (0xfffffeb, 28),  // (14)
    (0xfffffec, 28),  // (15)
    (0xfffffed, 28),  // (16)
    (0xfffffee, 28),  // (17)
    (0xfffffef, 28),  // (18)
    (0xffffff0, 28),  // (19)
    (0xffffff1, 28),  // (20)
    (0xffffff2, 28),  // (21)
    (0x3ffffffe, 30), // (22)
    (0xffffff3, 28),  // (23)
    (0xffffff4, 28),  // (24)
    (0xffffff5, 28),  // (25)
    (0xffffff6, 28),  // (26)
    (0xffffff7, 28),  // (27)
    (0xffffff8, 28),  // (28)
    (0xffffff9, 28),  // (29)
    (0xffffffa, 28),  // (30)
    (0xffffffb, 28),  // (31)
    (0x14, 6),        // ' '
    (0x3f8, 10),      // '!'
    (0x3f9, 10),      // '"'
    (0xffa, 12),      // '#'
    (0x1ff9, 13),     // '$'
    (0x15, 6),        // '%'
    (0xf8, 8),        // '&'
    (0x7fa, 11),      // '\''
    (0x3fa, 10),      // '('
    (0x3fb, 10),      // ')'
    (0xf9, 8),        // '*'
    (0x7fb, 11),      // '+'
    (0xfa, 8),        // ','
    (0x16, 6),        // '-'
    (0x17, 6),        // '.'
    (0x18, 6),        // '/'
    (0x0, 5),         // '0'
    (0x1, 5),         // '1'
    (0x2, 5),         // '2'
    (0x19, 6),        // '3'
    (0x1a, 6),        // '4'
    (0x1b, 6),        // '5'
    (0x1c, 6),        // '6'
    (0x1d, 6),        // '7'
    (0x1e, 6),        // '8'
    (0x1f, 6),        // '9'
    (0x5c, 7),        // ':'
    (0xfb, 8),        // ';'
    (0x7ffc, 15),     // '<'
    (0x20, 6),        // '='
    (0xffb, 12),      // '>'
    (0x3fc, 10),      // '?'
    (0x1ffa, 13),     // '@'
    (0x21, 6),        // 'A'
    (0x5d, 7),        // 'B'
    (0x5e, 7),        // 'C'
    (0x5f, 7),        // 'D'
    (0x60, 7),        // 'E'
    (0x61, 7),        // 'F'
    (0x62, 7),        // 'G'
    (0x63, 7),        // 'H'
    (0x64, 7),        // 'I'
    (0x65, 7),        // 'J'
    (0x66, 7),        // 'K'
    (0x67, 7),        // 'L'
    (0x68, 7),        // 'M'
    (0x69, 7),        // 'N'
    (0x6a, 7),        // 'O'
    (0x6b, 7),        // 'P'
    (0x6c, 7),        // 'Q'
    (0x6d, 7),        // 'R'
    (0x6e, 7),        // 'S'
    (0x6f, 7),        // 'T'
    (0x70, 7),        // 'U'
    (0x71, 7),        // 'V'
    (0x72, 7),        // 'W'
    (0xfc, 8),        // 'X'
    (0x73, 7),        // 'Y'
    (0xfd, 8),        // 'Z'
    (0x1ffb, 13),     // '['
    (0x7fff0, 19),    // '\\'
    (0x1ffc, 13),     // ']'
    (0x3ffc, 14),     // '^'
    (0x22, 6),        // '_'
    (0x7ffd, 15),     // '`'
    (0x3, 5),         // 'a'
    (0x23, 6),        // 'b'
    (0x4, 5),         // 'c'
    (0x24, 6),        // 'd'
    (0x5, 5),         // 'e'
    (0x25, 6),        // 'f'
    (0x26, 6),        // 'g'
    (0x27, 6),        // 'h'
    (0x6, 5),         // 'i'
    (0x74, 7),        // 'j'
    (0x75, 7),        // 'k'
    (0x28, 6),        // 'l'
    (0x29, 6),        // 'm'
    (0x2a, 6),        // 'n'
    (0x7, 5),         // 'o'
    (0x2b, 6),        // 'p'
    (0x76, 7),        // 'q'
    (0x2c, 6),        // 'r'
    (0x8, 5),         // 's'
    (0x9, 5),         // 't'
    (0x2d, 6),        // 'u'
    (0x77, 7),        // 'v'
    (0x78, 7),        // 'w'
    (0x79, 7),        // 'x'
    (0x7a, 7),        // 'y'
    (0x7b, 7),        // 'z'
    (0x7ffe, 15),     // '{'
    (0x7fc, 11),      // '|'
    (0x3ffd, 14),     // '}'
    (0x1ffd, 13),     // '~'
    (0xffffffc, 28),  // (127)
    (0xfffe6, 20),    // (128)
    (0x3fffd2, 22),   // (129)
    (0xfffe7, 20),    // (130)
    (0xfffe8, 20),    // (131)
    (0x3fffd3, 22),   // (132)
    (0x3fffd4, 22),   // (133)
    (0x3fffd5, 22),   // (134)
    (0x7fffd9, 23),   // (135)
    (0x3fffd6, 22),   // (136)
    (0x7fffda, 23),   // (137)
    (0x7fffdb, 23),   // (138)
    (0x7fffdc, 23),   // (139)
    (0x7fffdd, 23),   // (140)
    (0x7fffde, 23),   // (141)
    (0xffffeb, 24),   // (142)
    (0x7fffdf, 23),   // (143)
    (0xffffec, 24),   // (144)
    (0xffffed, 24),   // (145)
    (0x3fffd7, 22),   // (146)
    (0x7fffe0, 23),   // (147)
    (0xffffee, 24),   // (148)
    (0x7fffe1, 23),   // (149)
    (0x7fffe2, 23),   // (150)
    (0x7fffe3, 23),   // (151)
    (0x7fffe4, 23),   // (152)
    (0x1fffdc, 21),   // (153)
    (0x3fffd8, 22),   // (154)
    (0x7fffe5, 23),   // (155)
    (0x3fffd9, 22),   // (156)
    (0x7fffe6, 23),   // (157)
    (0x7fffe7, 23),   // (158)
    (0xffffef, 24),   // (159)
    (0x3fffda, 22),   // (160)
    (0x1fffdd, 21),   // (161)
    (0xfffe9, 20),    // (162)
    (0x3fffdb, 22),   // (163)
    (0x3fffdc, 22),   // (164)
    (0x7fffe8, 23),   // (165)
    (0x7fffe9, 23),   // (166)
    (0x1fffde, 21),   // (167)
    (0x7fffea, 23),   // (168)
    (0x3fffdd, 22),   // (169)
    (0x3fffde, 22),   // (170)
    (0xfffff0, 24),   // (171)
    (0x1fffdf, 21),   // (172)
    (0x3fffdf, 22),   // (173)
    (0x7fffeb, 23),   // (174)
    (0x7fffec, 23),   // (175)
    (0x1fffe0, 21),   // (176)
    (0x1fffe1, 21),   // (177)
    (0x3fffe0, 22),   // (178)
    (0x1fffe2, 21),   // (179)
    (0x7fffed, 23),   // (180)
    (0x3fffe1, 22),   // (181)
    (0x7fffee, 23),   // (182)
    (0x7fffef, 23),   // (183)
    (0xfffea, 20),    // (184)
    (0x3fffe2, 22),   // (185)
    (0x3fffe3, 22),   // (186)
    (0x3fffe4, 22),   // (187)
    (0x7ffff0, 23),   // (188)
    (0x3fffe5, 22),   // (189)
    (0x3fffe6, 22),   // (190)
    (0x7ffff1, 23),   // (191)
    (0x3ffffe0, 26),  // (192)
    (0x3ffffe1, 26),  // (193)
    (0xfffeb, 20),    // (194)
    (0x7fff1, 19),    // (195)
    (0x3fffe7, 22),   // (196)
    (0x7ffff2, 23),   // (197)
    (0x3fffe8, 22),   // (198)
    (0x1ffffec, 25),  // (199)
    (0x3ffffe2, 26),  // (200)
    (0x3ffffe3, 26),  // (201)
    (0x3ffffe4, 26),  // (202)
    (0x7ffffde, 27),  // (203)
    (0x7ffffdf, 27),  // (204)
    (0x3ffffe5, 26),  // (205)
    (0xfffff1, 24),   // (206)
    (0x1ffffed, 25),  // (207)
    (0x7fff2, 19),    // (208)
    (0x1fffe3, 21),   // (209)
    (0x3ffffe6, 26),  // (210)
    (0x7ffffe0, 27),  // (211)
    (0x7ffffe1, 27),  // (212)
    (0x3ffffe7, 26),  // (213)
    (0x7ffffe2, 27),  // (214)
    (0xfffff2, 24),   // (215)
    (0x1fffe4, 21),   // (216)
    (0x1fffe5, 21),   // (217)
    (0x3ffffe8, 26),  // (218)
    (0x3ffffe9, 26),  // (219)
    (0xffffffd, 28),  // (220)
    (0x7ffffe3, 27),  // (221)
    (0x7ffffe4, 27),  // (222)
    (0x7ffffe5, 27),  // (223)
    (0xfffec, 20),    // (224)
    (0xfffff3, 24),   // (225)
    (0xfffed, 20),    // (226)
    (0x1fffe6, 21),   // (227)
    (0x3fffe9, 22),   // (228)
    (0x1fffe7, 21),   // (229)
    (0x1fffe8, 21),   // (230)
    (0x7ffff3, 23),   // (231)
    (0x3fffea, 22),   // (232)
    (0x3fffeb, 22),   // (233)
    (0x1ffffee, 25),  // (234)
    (0x1ffffef, 25),  // (235)
    (0xfffff4, 24),   // (236)
    (0xfffff5, 24),   // (237)
    (0x3ffffea, 26),  // (238)
    (0x7ffff4, 23),   // (239)
    (0x3ffffeb, 26),  // (240)
    (0x7ffffe6, 27),  // (241)
    (0x3ffffec, 26),  // (242)
    (0x3ffffed, 26),  // (243)
    (0x7ffffe7, 27),  // (244)
    (0x7ffffe8, 27),  // (245)
    (0x7ffffe9, 27),  // (246)
    (0x7ffffea, 27),  // (247)
    (0x7ffffeb, 27),  // (248)
    (0xffffffe, 28),  // (249)
    (0x7ffffec, 27),  // (250)
    (0x7ffffed, 27),  // (251)
    (0x7ffffee, 27),  // (252)
    (0x7ffffef, 27),  // (253)
    (0x7fffff0, 27),  // (254)
    (0x3ffffee, 26),  // (255)
    (0x3fffffff, 30), // EOS
];

/// Longest code in the table (EOS and a few control bytes).
const MAX_LEN: usize = 30;

/// Decoding tables for a canonical code.
struct Canonical {
    /// Smallest code of each bit length.
    first: [u32; MAX_LEN + 1],
    /// Number of codes of each bit length.
    count: [u32; MAX_LEN + 1],
    /// Position in `symbols` of the first symbol of each bit length.
    offset: [usize; MAX_LEN + 1],
    /// Every symbol, ordered by (bit length, code).
    symbols: [u16; 257],
}

/// Builds [`Canonical`] from [`CODES`]; panics (at compile time) unless the code is canonical.
const fn build() -> Canonical {
    let mut first = [u32::MAX; MAX_LEN + 1];
    let mut count = [0u32; MAX_LEN + 1];
    let mut i = 0;
    while i < CODES.len() {
        let (code, len) = CODES[i];
        let len = len as usize;
        count[len] += 1;
        if code < first[len] {
            first[len] = code;
        }
        i += 1;
    }
    let mut offset = [0usize; MAX_LEN + 1];
    let mut len = 1;
    while len <= MAX_LEN {
        offset[len] = offset[len - 1] + count[len - 1] as usize;
        len += 1;
    }
    let mut symbols = [0u16; 257];
    let mut placed = [false; 257];
    let mut sym = 0;
    while sym < CODES.len() {
        let (code, len) = CODES[sym];
        let len = len as usize;
        let rank = code - first[len];
        assert!(
            rank < count[len],
            "Huffman codes of one length are not consecutive"
        );
        let slot = offset[len] + rank as usize;
        assert!(!placed[slot], "two symbols share a Huffman code");
        placed[slot] = true;
        symbols[slot] = sym as u16;
        sym += 1;
    }
    Canonical {
        first,
        count,
        offset,
        symbols,
    }
}

const CANONICAL: Canonical = build();

/// The symbol whose code is the `len` low bits of `code`, if there is one.
fn lookup(code: u32, len: usize) -> Option<u16> {
    let first = *CANONICAL.first.get(len)?;
    let rank = code.wrapping_sub(first);
    if rank >= *CANONICAL.count.get(len)? {
        return None;
    }
    let slot = CANONICAL.offset.get(len)? + usize::try_from(rank).ok()?;
    CANONICAL.symbols.get(slot).copied()
}

/// Decodes a Huffman-coded string literal (RFC 7541 §5.2).
///
/// Fails with [`HpackError::HuffmanEos`] if EOS is decoded, [`HpackError::HuffmanPadding`] if
/// the trailing padding is longer than 7 bits or not all ones, and
/// [`HpackError::StringTooLong`] once the output would exceed `max_len` bytes.
pub(crate) fn decode(input: &[u8], max_len: usize) -> Result<Vec<u8>, HpackError> {
    // Every 5 input bits yield at most one symbol (the shortest code is 5 bits long).
    let mut out = Vec::with_capacity((input.len().saturating_mul(8) / 5).min(max_len));
    let mut code: u32 = 0;
    let mut len: usize = 0;
    for &byte in input {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            if let Some(sym) = lookup(code, len) {
                // Only EOS (256) does not fit in a byte.
                let Ok(byte) = u8::try_from(sym) else {
                    return Err(HpackError::HuffmanEos);
                };
                if out.len() >= max_len {
                    return Err(HpackError::StringTooLong);
                }
                out.push(byte);
                code = 0;
                len = 0;
            }
        }
    }
    // Padding: at most 7 bits, all ones (the most significant bits of EOS).
    if len > 7 || code != (1u32 << len) - 1 {
        return Err(HpackError::HuffmanPadding);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// Test-only Huffman encoder from the same table: codes MSB first, padded with ones.
    fn encode(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut acc: u64 = 0;
        let mut bits = 0;
        for &byte in input {
            let (code, len) = CODES[usize::from(byte)];
            acc = (acc << len) | u64::from(code);
            bits += u32::from(len);
            while bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        if bits > 0 {
            let pad = 8 - bits;
            out.push(((acc << pad) | ((1 << pad) - 1)) as u8);
        }
        out
    }

    fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .flat_map(|group| {
                group
                    .as_bytes()
                    .chunks(2)
                    .map(|pair| u8::from_str_radix(core::str::from_utf8(pair).unwrap(), 16))
                    .collect::<Vec<_>>()
            })
            .map(Result::unwrap)
            .collect()
    }

    /// Huffman-coded strings of RFC 7541 C.4 and C.6, and of grpc-go (wire doc §2.12).
    const VECTORS: &[(&str, &str)] = &[
        ("f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com"),
        ("a8eb 1064 9cbf", "no-cache"),
        ("25a8 49e9 5ba9 7d7f", "custom-key"),
        ("25a8 49e9 5bb8 e8b4 bf", "custom-value"),
        ("6402", "302"),
        ("aec3 771a 4b", "private"),
        (
            "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff",
            "Mon, 21 Oct 2013 20:13:21 GMT",
        ),
        (
            "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3",
            "https://www.example.com",
        ),
        ("640e ff", "307"),
        (
            "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff",
            "Mon, 21 Oct 2013 20:13:22 GMT",
        ),
        ("9bd9 ab", "gzip"),
        (
            "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
        ("1d 75 d0 62 0d 26 3d 4c 4d 65 64", "application/grpc"),
        ("9a ca c8 b2 12 34 da 8f", "grpc-status"),
        ("9a ca c8 b5 25 42 07 31 7f", "grpc-message"),
        (
            "a8 ea 1a 42 d4 93 27 d2 86 42 2d 2c 9f",
            "no identity issued",
        ),
        ("a0 e4 1d 13 9d 09", "localhost"),
        (
            "f0 7b 3a d0 71 c8 ba 2b 34 b2 95 73 1f",
            "workload.spiffe.io",
        ),
        ("4d 83 35 05 b1 1f", "trailers"),
        ("4d 96 97", "true"),
    ];

    #[test]
    fn published_vectors_decode_and_encode() {
        for (coded, text) in VECTORS {
            assert_eq!(
                decode(&hex(coded), 1024),
                Ok(text.as_bytes().to_vec()),
                "{text}"
            );
            assert_eq!(encode(text.as_bytes()), hex(coded), "{text}");
        }
    }

    #[test]
    fn every_byte_round_trips() {
        for byte in 0..=u8::MAX {
            let coded = encode(&[byte]);
            assert_eq!(decode(&coded, 1), Ok(vec![byte]), "byte {byte:#04x}");
        }
        let all: Vec<u8> = (0..=u8::MAX).chain((0..=u8::MAX).rev()).collect();
        assert_eq!(decode(&encode(&all), all.len()), Ok(all));
    }

    /// The code is complete (Kraft sum exactly 1) and EOS is 30 one bits, so any input is
    /// either a sequence of codes or ends in padding (RFC 7541 §5.2).
    #[test]
    fn code_is_complete_with_eos_all_ones() {
        let kraft: u64 = CODES.iter().map(|&(_, len)| 1u64 << (30 - len)).sum();
        assert_eq!(kraft, 1 << 30);
        assert_eq!(CODES[256], (0x3fff_ffff, 30));
        assert_eq!(CODES.iter().map(|&(_, len)| len).min(), Some(5));
    }

    #[test]
    fn eos_after_symbols_is_rejected() {
        // "a" (00011) then EOS (30 ones) then one bit of padding: 36 bits, 5 bytes.
        let coded = hex("1f ff ff ff ff");
        assert_eq!(decode(&coded, 16), Err(HpackError::HuffmanEos));
    }

    #[test]
    fn padding_rules() {
        assert_eq!(decode(&[], 0), Ok(Vec::new()));
        // A byte of ones alone is 8 bits of padding, one too many.
        assert_eq!(decode(&[0xff], 0), Err(HpackError::HuffmanPadding));
        // "0" (00000) padded with 111 is valid, with 110 or 011 it is not.
        assert_eq!(decode(&[0x07], 1), Ok(b"0".to_vec()));
        assert_eq!(decode(&[0x06], 1), Err(HpackError::HuffmanPadding));
        assert_eq!(decode(&[0x03], 1), Err(HpackError::HuffmanPadding));
        // "00" is 10 bits: 6 bits of ones pad it to two bytes.
        assert_eq!(decode(&[0x00, 0x3f], 2), Ok(b"00".to_vec()));
        // A whole extra byte of ones after a complete code is 8+ bits of padding.
        assert_eq!(decode(&[0x07, 0xff], 2), Err(HpackError::HuffmanPadding));
    }

    #[test]
    fn output_is_bounded() {
        let coded = encode(b"www.example.com");
        assert_eq!(decode(&coded, 15), Ok(b"www.example.com".to_vec()));
        assert_eq!(decode(&coded, 14), Err(HpackError::StringTooLong));
    }
}
