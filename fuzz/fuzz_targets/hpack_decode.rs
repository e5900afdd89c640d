//! The HPACK decoder fed arbitrary header blocks on one connection's dynamic table: never
//! panics, and never returns a header list over the configured limit.
//!
//! Input: blocks, each prefixed by its length byte, so one input carries table state across
//! several blocks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::hpack::Decoder;

/// SETTINGS_MAX_HEADER_LIST_SIZE of the decoder under test.
const MAX_LIST: usize = 16 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new(4096, MAX_LIST);
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let (block, next) = tail.split_at(usize::from(len).min(tail.len()));
        let Ok(fields) = decoder.decode(block) else {
            break;
        };
        // RFC 9113 §6.5.2: name + value + 32 per field.
        let size: usize = fields
            .iter()
            .map(|f| f.name.len() + f.value.len() + 32)
            .sum();
        assert!(size <= MAX_LIST, "header list of {size} bytes accepted");
        rest = next;
    }
});
