//! Stateless HPACK encoder for request header fields (RFC 7541 §6.1, §6.2.2).

use alloc::vec::Vec;

use super::integer;
use super::table::STATIC_TABLE;

/// Appends one request field to `out`: an exact static-table match is emitted indexed, a
/// static name match as "literal without indexing" with that name index, otherwise a
/// literal without indexing with a new name; never Huffman, never touches a dynamic table.
///
/// The name is written as given: HTTP/2 requires it in lowercase (RFC 9113 §8.2.1).
pub fn encode_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    let mut name_index = None;
    for (index, &(static_name, static_value)) in (1..).zip(STATIC_TABLE.iter()) {
        if static_name == name {
            if static_value == value {
                // §6.1 Indexed Header Field.
                integer::encode(out, 0x80, 7, index);
                return;
            }
            name_index.get_or_insert(index);
        }
    }
    // §6.2.2 Literal Header Field without Indexing: indexed name, or 0 and a new name.
    match name_index {
        Some(index) => integer::encode(out, 0x00, 4, index),
        None => {
            out.push(0x00);
            encode_string(out, name);
        }
    }
    encode_string(out, value);
}

/// A raw (H = 0) string literal, RFC 7541 §5.2.
fn encode_string(out: &mut Vec<u8>, bytes: &[u8]) {
    integer::encode(out, 0x00, 7, bytes.len());
    out.extend_from_slice(bytes);
}
