//! `SpiffeId::parse` on arbitrary text: never panics, and an accepted ID is kept verbatim,
//! splits into its trust domain and path, and parses again to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::spiffe_id::{SpiffeId, TrustDomain};

fuzz_target!(|text: &str| {
    let Ok(id) = SpiffeId::parse(text) else {
        return;
    };
    assert_eq!(id.as_str(), text);
    assert_eq!(
        text,
        format!("spiffe://{}{}", id.trust_domain(), id.path()),
        "trust domain and path do not rebuild the ID"
    );
    assert_eq!(SpiffeId::parse(id.as_str()).as_ref(), Ok(&id));
    let td = TrustDomain::parse(id.trust_domain()).expect("an ID's trust domain is valid");
    assert_eq!(td.as_str(), id.trust_domain());
});
