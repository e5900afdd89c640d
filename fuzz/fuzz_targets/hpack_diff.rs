//! Differential: the HPACK decoder against the `fluke-hpack` crate's decoder, block after
//! block on one dynamic table (4096 bytes). Whatever we accept, fluke-hpack must accept too
//! and decode to the same fields, but for the documented differences in limits below.
//!
//! Input: blocks, each prefixed by its length byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::hpack::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut ours = Decoder::new(4096, usize::MAX);
    let mut theirs = fluke_hpack::Decoder::new();
    theirs.set_max_allowed_table_size(4096);
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let (block, next) = tail.split_at(usize::from(len).min(tail.len()));
        rest = next;
        // Rejections leave the tables out of step: stop there. (fluke-hpack is only asked
        // about blocks we accept; it panics on some truncated size updates.)
        let Ok(a) = ours.decode(block) else {
            return;
        };
        let a: Vec<(Vec<u8>, Vec<u8>)> = a.into_iter().map(|f| (f.name, f.value)).collect();
        match theirs.decode(block) {
            Ok(b) => assert_eq!(a, b, "decoders disagree on block {block:02x?}"),
            // A block of nothing but size updates is valid HPACK (RFC 7541 §4.2 puts them at
            // the start of a block, not before a field); fluke-hpack refuses it.
            Err(fluke_hpack::decoder::DecoderError::SizeUpdateAtEnd) if a.is_empty() => return,
            // RFC 7541 §5.1 leaves the integer limit to the implementation: fluke-hpack stops
            // at four continuation bytes (values under 2^28), we take five (values up to
            // u32::MAX need them). The only integers in the gap have five continuation bytes.
            Err(fluke_hpack::decoder::DecoderError::IntegerDecodingError(
                fluke_hpack::decoder::IntegerDecodingError::TooManyOctets,
            )) => return,
            Err(e) => panic!("we accepted {block:02x?} as {a:?}; fluke-hpack: {e:?}"),
        }
    }
});
