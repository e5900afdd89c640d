//! HPACK, header compression for HTTP/2 (RFC 7541).
//!
//! [`Decoder`] is a complete decoder (Huffman, static and dynamic tables, size updates) for
//! the header blocks a server sends; [`encode_field`] is a stateless encoder for requests
//! that never uses Huffman coding or the dynamic table, so the peer's decoder state never
//! depends on ours.

mod decoder;
mod encoder;
mod huffman;
mod integer;
#[cfg(test)]
mod oracle_tests;
mod table;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::fmt;

pub use decoder::Decoder;
pub use encoder::encode_field;

/// One decoded header field.
#[derive(Clone, PartialEq, Eq)]
pub struct Field {
    /// Field name, as sent (HPACK does not check case or characters).
    pub name: Vec<u8>,
    /// Field value, as sent.
    pub value: Vec<u8>,
}

/// Why a header block could not be decoded. Decoding stops at the first error, leaving the
/// dynamic table out of step with the peer's encoder: every variant is a connection error
/// of type COMPRESSION_ERROR (RFC 9113 §4.3), and the connection must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HpackError {
    /// An integer is larger than `u32::MAX` or uses more than five continuation bytes
    /// (RFC 7541 §5.1).
    IntegerOverflow,
    /// The block ends inside an integer, a string literal or a representation.
    Truncated,
    /// An index is 0 or points past the end of the static and dynamic tables (RFC 7541 §2.3.3).
    InvalidIndex(usize),
    /// A Huffman-coded string contains the EOS symbol (RFC 7541 §5.2).
    HuffmanEos,
    /// A Huffman-coded string ends with more than 7 bits of padding, or padding that is not
    /// the most significant bits of EOS (all ones), RFC 7541 §5.2.
    HuffmanPadding,
    /// A dynamic table size update exceeds the SETTINGS_HEADER_TABLE_SIZE we advertised
    /// (RFC 7541 §6.3).
    SizeUpdateTooLarge,
    /// A dynamic table size update follows a header field in the same block (RFC 7541 §4.2).
    SizeUpdateNotFirst,
    /// The decoded fields exceed the header list size limit (RFC 9113 §6.5.2).
    HeaderListTooLarge,
    /// A string literal is longer than the header list size limit, so it cannot fit in any
    /// acceptable header list.
    StringTooLong,
}

impl fmt::Debug for Field {
    /// Shows name and value as escaped ASCII, e.g. `Field(":status", "200")`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Field(\"{}\", \"{}\")",
            self.name.escape_ascii(),
            self.value.escape_ascii()
        )
    }
}

impl fmt::Display for HpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IntegerOverflow => f.write_str("HPACK integer overflows 32 bits"),
            Self::Truncated => f.write_str("HPACK header block ends inside a representation"),
            Self::InvalidIndex(index) => write!(f, "HPACK index {index} is not in the table"),
            Self::HuffmanEos => f.write_str("Huffman-coded string contains EOS"),
            Self::HuffmanPadding => {
                f.write_str("Huffman padding is longer than 7 bits or not all ones")
            }
            Self::SizeUpdateTooLarge => {
                f.write_str("dynamic table size update exceeds the advertised maximum")
            }
            Self::SizeUpdateNotFirst => {
                f.write_str("dynamic table size update after a header field")
            }
            Self::HeaderListTooLarge => f.write_str("header list exceeds the size limit"),
            Self::StringTooLong => f.write_str("HPACK string literal exceeds the size limit"),
        }
    }
}

impl core::error::Error for HpackError {}
