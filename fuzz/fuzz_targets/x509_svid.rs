//! `x509::parse_svid` on an arbitrary chain and key: never panics, and an accepted SVID keeps
//! the chain's certificates as received and has an ID with a path. **Differential**: every
//! certificate `x509-cert` decodes in full, `x509::not_after`'s structural walk accepts, with
//! the same NotAfter.
//!
//! Input: a big-endian u16 chain length, the concatenated DER chain, then the PKCS#8 key.
#![no_main]

use der::Decode;
use libfuzzer_sys::fuzz_target;
use svid_core::x509::{not_after, parse_svid};
use x509_cert::Certificate;

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let (chain, key) = rest.split_at(usize::from(u16::from_be_bytes(*len)).min(rest.len()));
    for cert in svid_core::der::split_concatenated(chain).unwrap_or_default() {
        let walked = not_after(cert);
        if let Ok(full) = Certificate::from_der(cert) {
            let seconds = full
                .tbs_certificate()
                .validity()
                .not_after
                .to_unix_duration();
            let seconds = i64::try_from(seconds.as_secs()).unwrap_or(i64::MAX);
            assert_eq!(walked, Ok(seconds));
        }
    }
    if let Ok(svid) = parse_svid(chain, key) {
        assert_eq!(svid.certs.concat(), chain);
        assert_eq!(svid.key_pkcs8, key);
        assert!(!svid.spiffe_id.path().is_empty());
        let leaf_not_after = not_after(&svid.certs[0]).expect("the leaf parsed");
        assert!(leaf_not_after >= 0);
    }
});
