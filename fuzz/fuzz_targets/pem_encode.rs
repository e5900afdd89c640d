//! Differential: `pem::encode` of arbitrary bytes is read back by the `pem` crate with the same
//! label and contents, and is byte-identical to that crate's encoder (64-column lines, LF).
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::pem as ours;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, der)) = data.split_first() else {
        return;
    };
    let label = if selector & 1 == 0 {
        ours::CERTIFICATE
    } else {
        ours::PRIVATE_KEY
    };
    let mut encoded = Vec::new();
    ours::encode(label, der, &mut encoded);

    let parsed = pem::parse(&encoded).expect("the pem crate reads our PEM");
    assert_eq!(parsed.tag(), label);
    assert_eq!(parsed.contents(), der);
    assert!(parsed.headers().iter().next().is_none());

    let theirs = pem::encode_config(
        &pem::Pem::new(label, der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    );
    assert_eq!(String::from_utf8(encoded).unwrap(), theirs);
});
