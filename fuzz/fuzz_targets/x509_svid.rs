//! `x509::parse_svid` on an arbitrary chain and key: never panics, and an accepted SVID keeps
//! the chain's certificates as received and has an ID with a path.
//!
//! Input: a big-endian u16 chain length, the concatenated DER chain, then the PKCS#8 key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::x509::{not_after, parse_svid};

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let (chain, key) = rest.split_at(usize::from(u16::from_be_bytes(*len)).min(rest.len()));
    for cert in svid_core::der::split_concatenated(chain).unwrap_or_default() {
        let _ = not_after(cert);
    }
    if let Ok(svid) = parse_svid(chain, key) {
        assert_eq!(svid.certs.concat(), chain);
        assert_eq!(svid.key_pkcs8, key);
        assert!(!svid.spiffe_id.path().is_empty());
        let leaf_not_after = not_after(&svid.certs[0]).expect("the leaf parsed");
        assert!(leaf_not_after >= 0);
    }
});
