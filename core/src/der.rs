//! Splitting the Workload API's concatenated DER into single certificates, and reading DER
//! elements one by one.
//!
//! `x509_svid`, `bundle` and the federated bundles are DER certificates written back to back
//! (each an ASN.1 SEQUENCE, X.690 §8.9) with no separator. This module only finds element
//! boundaries ([`split_concatenated`], [`Elements`]); what a certificate means is `x509`'s job.

use alloc::vec::Vec;
use core::fmt;

/// Identifier octet of a constructed universal SEQUENCE (X.690 §8.9.1).
const SEQUENCE_TAG: u8 = 0x30;

/// Most length octets accepted in the long form: lengths up to 4 GiB - 1.
const MAX_LENGTH_OCTETS: usize = 4;

/// Why DER could not be split or read. `offset` is where the bad element starts, counted
/// from the start of the outermost input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DerError {
    /// The input ends inside an element's header or contents.
    Truncated {
        /// Start of the element.
        offset: usize,
    },
    /// An element's identifier octet is not a SEQUENCE (`0x30`).
    NotASequence {
        /// Start of the element.
        offset: usize,
        /// The identifier octet found.
        tag: u8,
    },
    /// The length octet is `0x80` (indefinite form), which DER forbids (X.690 §10.1).
    IndefiniteLength {
        /// Start of the element.
        offset: usize,
    },
    /// The length is not in its shortest form (X.690 §10.1): long form for a length below
    /// 128, or a leading zero length octet.
    NonMinimalLength {
        /// Start of the element.
        offset: usize,
    },
    /// The long form uses more than 4 length octets, or the length does not fit in `usize`.
    LengthTooLarge {
        /// Start of the element.
        offset: usize,
    },
    /// An element is missing or has another identifier octet than the structure requires.
    UnexpectedTag {
        /// Start of the element (the end of its parent if it is missing).
        offset: usize,
        /// The identifier octet the structure requires there.
        expected: u8,
        /// The identifier octet found, `None` if the parent ends there.
        found: Option<u8>,
    },
    /// A structure has more elements than it may hold.
    TrailingData {
        /// Start of the first element too many.
        offset: usize,
    },
    /// A time is not an RFC 5280 UTCTime or GeneralizedTime (`YYMMDDHHMMSSZ`,
    /// `YYYYMMDDHHMMSSZ`) of a real date from 1970 on.
    BadTime {
        /// Start of the element.
        offset: usize,
    },
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { offset } => {
                write!(f, "DER element at byte {offset} is truncated")
            }
            Self::NotASequence { offset, tag } => {
                write!(
                    f,
                    "DER element at byte {offset} has tag {tag:#04x}, expected a SEQUENCE (0x30)"
                )
            }
            Self::IndefiniteLength { offset } => {
                write!(f, "DER element at byte {offset} has an indefinite length")
            }
            Self::NonMinimalLength { offset } => {
                write!(
                    f,
                    "DER element at byte {offset} has a non-minimal length encoding"
                )
            }
            Self::LengthTooLarge { offset } => {
                write!(
                    f,
                    "DER element at byte {offset} has a length that is too large"
                )
            }
            Self::UnexpectedTag {
                offset,
                expected,
                found: Some(tag),
            } => write!(
                f,
                "DER element at byte {offset} has tag {tag:#04x}, expected {expected:#04x}"
            ),
            Self::UnexpectedTag {
                offset,
                expected,
                found: None,
            } => write!(
                f,
                "DER element with tag {expected:#04x} is missing at byte {offset}"
            ),
            Self::TrailingData { offset } => {
                write!(f, "unexpected DER element at byte {offset}")
            }
            Self::BadTime { offset } => {
                write!(f, "DER element at byte {offset} is not a valid time")
            }
        }
    }
}

impl core::error::Error for DerError {}

/// Splits back-to-back DER SEQUENCEs into one slice per element, each with its header.
///
/// Definite lengths only, short form or long form with 1 to 4 length octets (X.690 §8.1.3,
/// §10.1). Empty input gives an empty `Vec`. The contents are not inspected.
pub fn split_concatenated(input: &[u8]) -> Result<Vec<&[u8]>, DerError> {
    let mut elements = Vec::new();
    let mut offset = 0;
    while let Some(rest) = input.get(offset..).filter(|rest| !rest.is_empty()) {
        if rest[0] != SEQUENCE_TAG {
            return Err(DerError::NotASequence {
                offset,
                tag: rest[0],
            });
        }
        let (_, header_len, content_len) = header(rest, offset)?;
        let len = total_len(header_len, content_len, offset)?;
        let element = rest.get(..len).ok_or(DerError::Truncated { offset })?;
        elements.push(element);
        offset += len;
    }
    Ok(elements)
}

/// The elements of a DER encoding read one after the other: the contents of a constructed
/// element, or a whole input. Low tag numbers only (one identifier octet), as in X.509.
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Elements<'a> {
    /// The elements of `input`, whose first byte is at `offset` in the outermost input.
    pub fn new(input: &'a [u8], offset: usize) -> Self {
        Elements {
            rest: input,
            offset,
        }
    }

    /// The identifier octet of the next element, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads the next element: its identifier octet and its contents (as [`Elements`]).
    pub fn next_element(&mut self) -> Result<(u8, Elements<'a>), DerError> {
        let offset = self.offset;
        let (tag, header_len, content_len) = header(self.rest, offset)?;
        let len = total_len(header_len, content_len, offset)?;
        if self.rest.len() < len {
            return Err(DerError::Truncated { offset });
        }
        let (element, rest) = self.rest.split_at(len);
        self.rest = rest;
        self.offset += len;
        Ok((
            tag,
            Elements::new(&element[header_len..], offset + header_len),
        ))
    }

    /// Reads the next element, which must have identifier octet `tag`: its contents.
    pub fn expect(&mut self, tag: u8) -> Result<Elements<'a>, DerError> {
        match self.peek_tag() {
            Some(found) if found == tag => Ok(self.next_element()?.1),
            found => Err(DerError::UnexpectedTag {
                offset: self.offset,
                expected: tag,
                found,
            }),
        }
    }

    /// Checks that every element has been read.
    pub fn finish(&self) -> Result<(), DerError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DerError::TrailingData {
                offset: self.offset,
            })
        }
    }

    /// The bytes not read yet (a primitive element's contents).
    pub fn bytes(&self) -> &'a [u8] {
        self.rest
    }

    /// Where [`bytes`](Self::bytes) starts in the outermost input.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

/// Identifier octet, header length and contents length of the element that starts at
/// `bytes[0]`, which is at `offset` in the input, as its header declares them; the caller
/// checks the contents are there.
fn header(bytes: &[u8], offset: usize) -> Result<(u8, usize, usize), DerError> {
    let truncated = DerError::Truncated { offset };
    let (&tag, rest) = bytes.split_first().ok_or(truncated)?;
    let (&first, rest) = rest.split_first().ok_or(truncated)?;
    match first {
        0x00..=0x7f => Ok((tag, 2, usize::from(first))),
        0x80 => Err(DerError::IndefiniteLength { offset }),
        _ => {
            let count = usize::from(first & 0x7f);
            if count > MAX_LENGTH_OCTETS {
                return Err(DerError::LengthTooLarge { offset });
            }
            let octets = rest.get(..count).ok_or(truncated)?;
            let len = octets
                .iter()
                .fold(0u32, |len, &b| (len << 8) | u32::from(b));
            if octets.first() == Some(&0) || len < 0x80 {
                return Err(DerError::NonMinimalLength { offset });
            }
            let len = usize::try_from(len).map_err(|_| DerError::LengthTooLarge { offset })?;
            Ok((tag, 2 + count, len))
        }
    }
}

/// Header plus contents, unless that overflows.
fn total_len(header_len: usize, content_len: usize, offset: usize) -> Result<usize, DerError> {
    content_len
        .checked_add(header_len)
        .ok_or(DerError::LengthTooLarge { offset })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    // Real certificates made by OpenSSL; see testdata/generate.sh.
    const CA_EC: &[u8] = include_bytes!("testdata/ca-ec.der");
    const LEAF_EC: &[u8] = include_bytes!("testdata/leaf-ec.der");
    const CA_RSA: &[u8] = include_bytes!("testdata/ca-rsa.der");
    const KEY_P384: &[u8] = include_bytes!("testdata/p384.key.der");
    const KEY_ED25519: &[u8] = include_bytes!("testdata/ed25519.key.der");

    #[test]
    fn empty_input_is_empty_list() {
        assert_eq!(split_concatenated(&[]), Ok(vec![]));
    }

    #[test]
    fn single_certificate_is_returned_whole() {
        assert_eq!(split_concatenated(CA_EC), Ok(vec![CA_EC]));
    }

    #[test]
    fn chain_and_bundle_split_back_into_their_certificates() {
        let chain = [LEAF_EC, CA_EC].concat();
        assert_eq!(split_concatenated(&chain), Ok(vec![LEAF_EC, CA_EC]));
        let bundle = [CA_EC, CA_RSA, CA_EC].concat();
        assert_eq!(split_concatenated(&bundle), Ok(vec![CA_EC, CA_RSA, CA_EC]));
    }

    #[test]
    fn short_and_one_octet_lengths_from_real_keys() {
        // PKCS#8 Ed25519 (48 bytes, short form) and EC P-384 (0x81 long form).
        assert_eq!(KEY_ED25519[1], 0x2e);
        assert_eq!(KEY_P384[1], 0x81);
        let all = [KEY_ED25519, KEY_P384, CA_RSA].concat();
        assert_eq!(
            split_concatenated(&all),
            Ok(vec![KEY_ED25519, KEY_P384, CA_RSA])
        );
    }

    #[test]
    fn three_octet_length_around_a_large_bundle() {
        // A SEQUENCE of 200 real certificates needs a 3-octet length (>= 64 KiB).
        let inner: Vec<u8> = [CA_RSA; 200].concat();
        assert!(inner.len() >= 0x1_0000 && inner.len() < 0x100_0000);
        let len = inner.len().to_be_bytes();
        let mut outer = vec![0x30, 0x83];
        outer.extend_from_slice(&len[len.len() - 3..]);
        outer.extend_from_slice(&inner);
        let both = [outer.as_slice(), LEAF_EC].concat();
        assert_eq!(
            split_concatenated(&both),
            Ok(vec![outer.as_slice(), LEAF_EC])
        );
        assert_eq!(split_concatenated(&inner).map(|v| v.len()), Ok(200));
    }

    #[test]
    fn every_truncation_of_a_chain_is_reported() {
        let chain = [LEAF_EC, CA_EC].concat();
        for cut in 1..chain.len() {
            let offset = if cut < LEAF_EC.len() {
                0
            } else {
                LEAF_EC.len()
            };
            let result = split_concatenated(&chain[..cut]);
            if cut == LEAF_EC.len() {
                assert_eq!(result, Ok(vec![LEAF_EC]));
            } else {
                assert_eq!(result, Err(DerError::Truncated { offset }), "cut at {cut}");
            }
        }
    }

    #[test]
    fn pem_text_is_not_a_sequence() {
        let err = split_concatenated(b"-----BEGIN CERTIFICATE-----").unwrap_err();
        assert_eq!(
            err,
            DerError::NotASequence {
                offset: 0,
                tag: b'-'
            }
        );
        let after = [CA_EC, &[0x02, 0x01, 0x00]].concat();
        assert_eq!(
            split_concatenated(&after),
            Err(DerError::NotASequence {
                offset: CA_EC.len(),
                tag: 0x02
            })
        );
    }

    #[test]
    fn indefinite_length_is_rejected() {
        // BER indefinite form: 30 80 <contents> 00 00.
        let ber = [&[0x30, 0x80][..], &CA_EC[2..], &[0, 0]].concat();
        assert_eq!(
            split_concatenated(&ber),
            Err(DerError::IndefiniteLength { offset: 0 })
        );
    }

    #[test]
    fn non_minimal_lengths_are_rejected() {
        // The Ed25519 key re-encoded with a long-form length, and with a leading zero octet.
        let long_form = [&[0x30, 0x81][..], &KEY_ED25519[1..]].concat();
        assert_eq!(
            split_concatenated(&long_form),
            Err(DerError::NonMinimalLength { offset: 0 })
        );
        let len = u16::try_from(CA_EC.len() - 4).unwrap().to_be_bytes();
        assert_eq!(CA_EC[1], 0x82);
        let padded = [&[0x30, 0x83, 0x00, len[0], len[1]][..], &CA_EC[4..]].concat();
        assert_eq!(
            split_concatenated(&padded),
            Err(DerError::NonMinimalLength { offset: 0 })
        );
    }

    #[test]
    fn oversized_lengths_are_rejected() {
        let five = [0x30, 0x85, 1, 0, 0, 0, 0];
        assert_eq!(
            split_concatenated(&five),
            Err(DerError::LengthTooLarge { offset: 0 })
        );
        let reserved = [0x30, 0xff];
        assert_eq!(
            split_concatenated(&reserved),
            Err(DerError::LengthTooLarge { offset: 0 })
        );
        // Four length octets are accepted, but 4 GiB of contents are not there.
        let four = [0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert_eq!(
            split_concatenated(&four),
            Err(DerError::Truncated { offset: 0 })
        );
    }

    #[test]
    fn header_truncations() {
        assert_eq!(
            split_concatenated(&[0x30]),
            Err(DerError::Truncated { offset: 0 })
        );
        assert_eq!(
            split_concatenated(&[0x30, 0x82, 0x01]),
            Err(DerError::Truncated { offset: 0 })
        );
    }

    #[test]
    fn display_names_the_problem_and_offset() {
        let err = DerError::NotASequence {
            offset: 7,
            tag: 0x02,
        };
        assert_eq!(
            alloc::string::ToString::to_string(&err),
            "DER element at byte 7 has tag 0x02, expected a SEQUENCE (0x30)"
        );
    }
}
