//! `x509::render` on an arbitrary FetchX509SVID message (decoded from arbitrary protobuf
//! bytes) with arbitrary options and clock: never panics, and what it renders is consistent.
//!
//! Input: one options byte, eight bytes of clock (Unix seconds), then the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use svid_core::proto::X509svidResponse;
use svid_core::x509::{RenderOptions, render};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((now, message)) = rest.split_first_chunk::<8>() else {
        return;
    };
    let Ok(response) = X509svidResponse::decode(message) else {
        return;
    };
    // Pick the hint of the first SVID sometimes, so the hint path runs on real hints.
    let hint = match (flags & 0x10 != 0, response.svids.last()) {
        (true, Some(svid)) => svid.hint.as_str(),
        _ => "",
    };
    let opts = RenderOptions {
        hint,
        add_intermediates_to_bundle: flags & 1 != 0,
        include_federated_domains: flags & 2 != 0,
        omit_expired: flags & 4 != 0,
    };
    let Ok(rendered) = render(&response, &opts, i64::from_be_bytes(*now)) else {
        return;
    };
    assert!(rendered.spiffe_ids.contains(&rendered.spiffe_id));
    assert!(
        rendered
            .key_pem
            .starts_with(b"-----BEGIN PRIVATE KEY-----\n")
    );
    for file in [&rendered.svid_pem, &rendered.bundle_pem] {
        let blocks = pem::parse_many(file).expect("rendered PEM parses");
        assert!(blocks.iter().all(|b| b.tag() == "CERTIFICATE"));
    }
    let svid = response
        .svids
        .iter()
        .find(|s| s.spiffe_id == rendered.spiffe_id)
        .expect("the chosen SVID is in the message");
    let leaf = svid_core::der::split_concatenated(&svid.x509_svid).expect("chain split")[0];
    assert_eq!(svid_core::x509::not_after(leaf), Ok(rendered.not_after));
});
