//! The HPACK decoder fed arbitrary header blocks on one connection's dynamic table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::hpack::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new(4096, 16 * 1024);
    // Each block is prefixed by its length byte, so one input exercises table state
    // across several blocks.
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let (block, next) = tail.split_at(usize::from(len).min(tail.len()));
        if decoder.decode(block).is_err() {
            break;
        }
        rest = next;
    }
});
