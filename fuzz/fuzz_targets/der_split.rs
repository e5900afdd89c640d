//! Differential: `der::split_concatenated` against the `der` crate's own reader. Both must
//! accept the same inputs and find the same element boundaries.
#![no_main]

use der::{Decode, Reader, SliceReader, Tag, Tagged, asn1::AnyRef};
use libfuzzer_sys::fuzz_target;
use svid_core::der::split_concatenated;

/// The elements the `der` crate reads back to back, if every one is a SEQUENCE.
fn reference(input: &[u8]) -> Option<Vec<&[u8]>> {
    let mut rest = input;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let mut reader = SliceReader::new(rest).ok()?;
        let any = AnyRef::decode(&mut reader).ok()?;
        if any.tag() != Tag::Sequence {
            return None;
        }
        let len = usize::try_from(u32::from(reader.position())).ok()?;
        let (element, tail) = rest.split_at(len);
        out.push(element);
        rest = tail;
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let ours = split_concatenated(data);
    let theirs = reference(data);
    match (&ours, &theirs) {
        (Ok(a), Some(b)) => assert_eq!(a, b),
        (Err(_), None) => {}
        _ => panic!("split_concatenated {ours:?} but the der crate read {theirs:?}"),
    }
    if let Ok(elements) = ours {
        assert_eq!(elements.concat(), data);
    }
});
