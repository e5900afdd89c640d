//! PEM encoding (RFC 7468) byte-identical to Go's `encoding/pem.Encode`, which upstream
//! spiffe-helper uses for every certificate, bundle and key file it writes
//! (`pkg/disk/x509.go@v0.11.0`).
//!
//! Layout: `-----BEGIN <LABEL>-----\n`, standard base64 with padding (RFC 4648 §4) in lines of
//! 64 characters each ending in `\n`, then `-----END <LABEL>-----\n`. No headers.

use alloc::vec::Vec;

/// Label of an X.509 certificate block (RFC 7468 §5).
pub const CERTIFICATE: &str = "CERTIFICATE";
/// Label of an unencrypted PKCS#8 private key block (RFC 7468 §10).
pub const PRIVATE_KEY: &str = "PRIVATE KEY";

/// Base64 characters per line, as Go and OpenSSL write them (RFC 7468 §2).
const LINE_LEN: usize = 64;
/// Input bytes per full line: 64 characters encode 48 bytes.
const LINE_BYTES: usize = LINE_LEN / 4 * 3;

/// The standard base64 alphabet (RFC 4648 §4, Table 1).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The length of the PEM block [`encode`] writes for `der_len` bytes under `label`.
pub fn encoded_len(label: &str, der_len: usize) -> usize {
    let lines = der_len.div_ceil(LINE_BYTES);
    "-----BEGIN -----\n-----END -----\n".len() + 2 * label.len() + der_len.div_ceil(3) * 4 + lines
}

/// Appends one PEM block with `label` around the base64 of `der` to `out`.
pub fn encode(label: &str, der: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(label, der.len()));
    out.extend_from_slice(b"-----BEGIN ");
    out.extend_from_slice(label.as_bytes());
    out.extend_from_slice(b"-----\n");
    for line in der.chunks(LINE_BYTES) {
        let mut buf = [0; LINE_LEN + 1];
        let len = base64_line(line, &mut buf);
        buf[len] = b'\n';
        out.extend_from_slice(&buf[..=len]);
    }
    out.extend_from_slice(b"-----END ");
    out.extend_from_slice(label.as_bytes());
    out.extend_from_slice(b"-----\n");
}

/// Appends the padded standard base64 of `input` (RFC 4648 §4) to `out`.
pub(crate) fn base64(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(input.len().div_ceil(3) * 4);
    // Lines of whole triples encode to the same characters as the whole input.
    for line in input.chunks(LINE_BYTES) {
        let mut buf = [0; LINE_LEN];
        let len = base64_line(line, &mut buf);
        out.extend_from_slice(&buf[..len]);
    }
}

/// Writes the padded base64 of `input` (at most [`LINE_BYTES`] bytes) to the start of `line`
/// and returns how many characters that is. Encoding a line on the stack and appending it
/// whole costs a third of appending four characters at a time.
fn base64_line(input: &[u8], line: &mut [u8]) -> usize {
    let sextet = |n: u32, shift: u32| ALPHABET[((n >> shift) & 0x3f) as usize];
    let (triples, rest) = input.as_chunks::<3>();
    let (quads, _) = line.as_chunks_mut::<4>();
    for ([a, b, c], quad) in triples.iter().zip(quads.iter_mut()) {
        let n = u32::from(*a) << 16 | u32::from(*b) << 8 | u32::from(*c);
        *quad = [sextet(n, 18), sextet(n, 12), sextet(n, 6), sextet(n, 0)];
    }
    let mut len = triples.len() * 4;
    if let Some(quad) = quads.get_mut(triples.len()).filter(|_| !rest.is_empty()) {
        let n = rest
            .iter()
            .enumerate()
            .fold(0, |n, (i, &byte)| n | u32::from(byte) << (16 - 8 * i));
        *quad = [sextet(n, 18), sextet(n, 12), sextet(n, 6), b'='];
        if rest.len() == 1 {
            quad[2] = b'=';
        }
        len += 4;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use std::path::Path;
    use std::process::{Command, Stdio};

    fn encoded(label: &str, der: &[u8]) -> String {
        let mut out = Vec::new();
        encode(label, der, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// Runs `openssl` with `args`, feeding `stdin`, and returns its standard output.
    fn openssl(args: &[&str], stdin: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut child = Command::new("/usr/bin/openssl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run /usr/bin/openssl");
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
        output.stdout
    }

    fn testdata(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/testdata")
            .join(name);
        std::fs::read(path).unwrap()
    }

    #[test]
    fn rfc4648_section_10_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = Vec::new();
            base64(input.as_bytes(), &mut out);
            assert_eq!(out, expected.as_bytes(), "{input:?}");
        }
    }

    #[test]
    fn whole_alphabet_including_plus_and_slash() {
        // 0x00 0x10 0x83 ... encodes to "ABCD...+/" (each sextet 0..=63 once).
        let bytes: Vec<u8> = (0u32..16)
            .flat_map(|i| {
                let n = (4 * i) << 18 | (4 * i + 1) << 12 | (4 * i + 2) << 6 | (4 * i + 3);
                [(n >> 16) as u8, (n >> 8) as u8, n as u8]
            })
            .collect();
        let mut out = Vec::new();
        base64(&bytes, &mut out);
        assert_eq!(out, ALPHABET);
    }

    #[test]
    fn empty_block_matches_go() {
        // Go's pem.Encode writes no body line for empty bytes.
        assert_eq!(encoded("X", &[]), "-----BEGIN X-----\n-----END X-----\n");
    }

    #[test]
    fn encoded_len_is_exact() {
        for len in [0, 1, 2, 3, 47, 48, 49, 96, 1000] {
            let der = alloc::vec![0x5a; len];
            for label in [CERTIFICATE, PRIVATE_KEY] {
                assert_eq!(encoded(label, &der).len(), encoded_len(label, len), "{len}");
            }
        }
    }

    #[test]
    fn appends_without_clearing() {
        let mut out = b"prefix\n".to_vec();
        encode(CERTIFICATE, b"foo", &mut out);
        assert_eq!(
            out,
            b"prefix\n-----BEGIN CERTIFICATE-----\nZm9v\n-----END CERTIFICATE-----\n"
        );
    }

    #[test]
    fn certificates_match_openssl_x509() {
        for name in ["ca-ec.der", "leaf-ec.der", "ca-rsa.der"] {
            let der = testdata(name);
            let expected = openssl(&["x509", "-inform", "DER", "-outform", "PEM"], &der);
            assert_eq!(encoded(CERTIFICATE, &der).as_bytes(), expected, "{name}");
        }
    }

    #[test]
    fn pkcs8_keys_match_openssl_pkey() {
        for name in [
            "leaf-ec.key.der",
            "ca-rsa.key.der",
            "p384.key.der",
            "ed25519.key.der",
        ] {
            let der = testdata(name);
            let expected = openssl(&["pkey", "-inform", "DER", "-outform", "PEM"], &der);
            assert_eq!(encoded(PRIVATE_KEY, &der).as_bytes(), expected, "{name}");
        }
    }

    #[test]
    fn chain_is_consecutive_blocks() {
        let leaf = testdata("leaf-ec.der");
        let ca = testdata("ca-ec.der");
        let mut out = Vec::new();
        encode(CERTIFICATE, &leaf, &mut out);
        encode(CERTIFICATE, &ca, &mut out);
        let mut expected = openssl(&["x509", "-inform", "DER", "-outform", "PEM"], &leaf);
        expected.extend(openssl(&["x509", "-inform", "DER", "-outform", "PEM"], &ca));
        assert_eq!(out, expected);
    }

    /// Line wrapping for every length 0..200 against `openssl base64`, which also wraps at 64.
    #[test]
    fn line_wrapping_matches_openssl_base64_for_lengths_0_to_200() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 151 + 7) as u8).collect();
        for len in 0..200 {
            let input = &data[..len];
            let body = openssl(&["base64", "-e"], input);
            let mut expected = b"-----BEGIN T-----\n".to_vec();
            expected.extend_from_slice(&body);
            expected.extend_from_slice(b"-----END T-----\n");
            assert_eq!(encoded("T", input).as_bytes(), expected, "length {len}");
            let lines = encoded("T", input).lines().count();
            assert_eq!(lines, 2 + len.div_ceil(48), "length {len}");
        }
    }
}
