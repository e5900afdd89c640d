//! `TrustDomain::parse` and `TrustDomain::from_id_or_name` on arbitrary text: never panic, and
//! an accepted trust domain name is valid on its own and in a `spiffe://` ID.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::spiffe_id::{SpiffeId, TrustDomain};

fuzz_target!(|text: &str| {
    if let Ok(td) = TrustDomain::parse(text) {
        assert_eq!(td.as_str(), text);
        let id = SpiffeId::parse(&format!("spiffe://{text}")).expect("td makes a valid ID");
        assert_eq!(id.trust_domain(), text);
        assert_eq!(id.path(), "");
    }
    if let Ok(td) = TrustDomain::from_id_or_name(text) {
        assert_eq!(TrustDomain::parse(td.as_str()).as_ref(), Ok(&td));
        if text.starts_with("spiffe://") {
            let id = SpiffeId::parse(text).expect("from_id_or_name accepted the ID");
            assert_eq!(id.trust_domain(), td.as_str());
        } else {
            assert_eq!(td.as_str(), text);
        }
    }
});
