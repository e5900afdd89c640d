//! The JWT and JWKS readers on arbitrary bytes: `jwt::parse` on a token, `Jwks::parse` and
//! `parse_bundles` on a document, and `jwt::verify` of the token against the document. Never
//! panics; an accepted JWKS re-marshals (`to_json`, the bundle file's form) to a document that
//! parses to the same keys, and the bundle file renders as one JSON object.
//!
//! Input: the token, a NUL byte, then the JWKS document.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use svid_core::jwt::{self, Jwks, parse_bundles, render_bundle_file};
use svid_core::spiffe_id::TrustDomain;

/// A fixed "now" inside the lifetime of the seed tokens (core/src/testdata/jwt-tokens.txt),
/// so that valid seeds reach the signature check and a run is reproducible.
const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let (token, doc) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    let token = String::from_utf8_lossy(token);
    if let Ok(parsed) = jwt::parse(&token) {
        assert_ne!(
            parsed.claims.sub.as_deref(),
            Some(""),
            "an empty sub reads as absent"
        );
    }
    let Ok(jwks) = Jwks::parse(doc) else {
        return;
    };
    let again = Jwks::parse(&jwks.to_json()).expect("a re-marshalled JWKS parses");
    assert_eq!(again.keys(), jwks.keys());

    let bundles = parse_bundles([("spiffe://example.org", doc)]).expect("the JWKS parsed once");
    let file = render_bundle_file(&bundles);
    assert!(file.starts_with(b"{") && file.ends_with(b"}"));

    let mut set = BTreeMap::new();
    set.insert(TrustDomain::parse("example.org").unwrap(), jwks);
    if let Ok(svid) = jwt::verify(&token, &set, "svc", NOW) {
        assert_eq!(svid.id.trust_domain(), "example.org");
        assert!(svid.claims.aud.iter().any(|aud| aud == "svc"));
        assert!(svid.expiry + jwt::LEEWAY_SECONDS >= NOW);
    }
});
