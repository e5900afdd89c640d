//! Round trip: `decode(encode(headers)) == headers` for arbitrary header lists, and the
//! decoder's table is untouched (the encoder never indexes), so several lists in a row work.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::hpack::{Decoder, encode_field};

fuzz_target!(|lists: Vec<Vec<(Vec<u8>, Vec<u8>)>>| {
    let mut decoder = Decoder::new(4096, usize::MAX);
    for headers in lists {
        let mut block = Vec::new();
        for (name, value) in &headers {
            encode_field(&mut block, name, value);
        }
        let decoded = decoder.decode(&block).expect("our own encoding decodes");
        let decoded: Vec<(Vec<u8>, Vec<u8>)> =
            decoded.into_iter().map(|f| (f.name, f.value)).collect();
        assert_eq!(decoded, headers);
    }
});
