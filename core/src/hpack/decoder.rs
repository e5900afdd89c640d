//! HPACK decoder (RFC 7541 §3, §6): turns header blocks into fields, keeping the dynamic
//! table in step with the peer's encoder.

use alloc::vec::Vec;

use super::table::{DynamicTable, STATIC_TABLE, entry_size};
use super::{Field, HpackError, huffman, integer};

/// HPACK decoder: one per connection, fed every header block in order (RFC 7541 §2, §4, §6).
///
/// Every block received on the connection must be decoded, in order and whatever stream it
/// belongs to, or the dynamic table drifts from the peer's. After an error the table is in an
/// unspecified state: the caller must close the connection (COMPRESSION_ERROR) and not feed
/// this decoder again.
#[derive(Debug, Clone)]
pub struct Decoder {
    pub(super) table: DynamicTable,
    /// SETTINGS_HEADER_TABLE_SIZE we advertised: the ceiling for size updates.
    max_table_size: usize,
    /// Bound on the sum of name + value + 32 over one block's fields.
    max_header_list_size: usize,
}

impl Decoder {
    /// `max_table_size`: the SETTINGS_HEADER_TABLE_SIZE we advertised (4096 default);
    /// `max_header_list_size`: bound on sum(name+value+32) of one block (RFC 9113 §6.5.2).
    ///
    /// The dynamic table starts with `max_table_size` as its maximum size, which assumes the
    /// advertised value is in effect from the peer's first header block on (it is for
    /// prior-knowledge HTTP/2, where our SETTINGS precede every response).
    pub fn new(max_table_size: usize, max_header_list_size: usize) -> Self {
        Self {
            table: DynamicTable::new(max_table_size),
            max_table_size,
            max_header_list_size,
        }
    }

    /// Decodes one complete header block (HEADERS + CONTINUATION payloads joined).
    ///
    /// Handles the representations of RFC 7541 §6: indexed field, literal with incremental
    /// indexing, without indexing and never indexed, and dynamic table size updates, which
    /// are only accepted before the block's first field.
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<Field>, HpackError> {
        let mut input = block;
        let mut fields = Vec::new();
        let mut list_size: usize = 0;
        while let Some(&first) = input.first() {
            let field = if first & 0x80 != 0 {
                // §6.1 Indexed Header Field: 1xxxxxxx.
                let index = integer::decode(&mut input, 7)?;
                let (name, value) = self.lookup(index)?;
                self.account(&mut list_size, name, value)?;
                Field {
                    name: name.to_vec(),
                    value: value.to_vec(),
                }
            } else if first & 0xc0 == 0x40 {
                // §6.2.1 Literal Header Field with Incremental Indexing: 01xxxxxx.
                let field = self.literal(&mut input, 6)?;
                self.account(&mut list_size, &field.name, &field.value)?;
                self.table.insert(field.clone());
                field
            } else if first & 0xe0 == 0x20 {
                // §6.3 Dynamic Table Size Update: 001xxxxx, only before the first field.
                if !fields.is_empty() {
                    return Err(HpackError::SizeUpdateNotFirst);
                }
                let size = integer::decode(&mut input, 5)?;
                if size > self.max_table_size {
                    return Err(HpackError::SizeUpdateTooLarge);
                }
                self.table.set_capacity(size);
                continue;
            } else {
                // §6.2.2 without indexing (0000xxxx), §6.2.3 never indexed (0001xxxx).
                let field = self.literal(&mut input, 4)?;
                self.account(&mut list_size, &field.name, &field.value)?;
                field
            };
            fields.push(field);
        }
        Ok(fields)
    }

    /// The (name, value) at HPACK `index`: 1..=61 static, 62.. dynamic (RFC 7541 §2.3.3).
    fn lookup(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        let invalid = HpackError::InvalidIndex(index);
        match index {
            0 => Err(invalid),
            1..=61 => STATIC_TABLE.get(index - 1).copied().ok_or(invalid),
            _ => {
                let entry = self.table.get(index - 62).ok_or(invalid)?;
                Ok((&entry.name, &entry.value))
            }
        }
    }

    /// A literal field whose name index has a `prefix_bits`-bit prefix (RFC 7541 §6.2):
    /// index 0 means a literal name follows.
    fn literal(&self, input: &mut &[u8], prefix_bits: u8) -> Result<Field, HpackError> {
        let name = match integer::decode(input, prefix_bits)? {
            0 => self.string(input)?,
            index => self.lookup(index)?.0.to_vec(),
        };
        let value = self.string(input)?;
        Ok(Field { name, value })
    }

    /// A string literal (RFC 7541 §5.2): H bit, 7-bit prefix length, raw or Huffman bytes.
    fn string(&self, input: &mut &[u8]) -> Result<Vec<u8>, HpackError> {
        let huffman = input.first().is_some_and(|&b| b & 0x80 != 0);
        let len = integer::decode(input, 7)?;
        if input.len() < len {
            return Err(HpackError::Truncated);
        }
        let (bytes, rest) = input.split_at(len);
        *input = rest;
        if huffman {
            huffman::decode(bytes, self.max_header_list_size)
        } else if len > self.max_header_list_size {
            Err(HpackError::StringTooLong)
        } else {
            Ok(bytes.to_vec())
        }
    }

    /// Adds a field to the running header list size, failing past the limit.
    fn account(&self, list_size: &mut usize, name: &[u8], value: &[u8]) -> Result<(), HpackError> {
        *list_size = list_size.saturating_add(entry_size(name, value));
        if *list_size > self.max_header_list_size {
            return Err(HpackError::HeaderListTooLarge);
        }
        Ok(())
    }
}
