//! `x509::render` on an arbitrary FetchX509SVID message (decoded from arbitrary protobuf
//! bytes) with arbitrary options and clock, then `x509::render_verified` (chain validation
//! with rustls-webpki) on the same message: never panics, what it renders is consistent, a
//! verified rendering is the same rendering, and an SVID that verifies is valid at the
//! clock's time.
//!
//! Input: one options byte, eight bytes of clock (Unix seconds), then the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use svid_core::proto::X509svidResponse;
use svid_core::x509::{RenderOptions, not_after, parse_svid, render, render_verified};

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
        ..RenderOptions::default()
    };
    let now = i64::from_be_bytes(*now);
    let Ok(rendered) = render(&response, &opts, now) else {
        return;
    };
    assert!(rendered.spiffe_ids.contains(&rendered.spiffe_id));
    assert!(
        rendered
            .key_pem
            .starts_with(b"-----BEGIN PRIVATE KEY-----\n")
    );
    for file in [&rendered.svid_pem, &rendered.bundle_pem()] {
        let blocks = pem::parse_many(file).expect("rendered PEM parses");
        assert!(blocks.iter().all(|b| b.tag() == "CERTIFICATE"));
    }
    // The chosen SVID: the first, or the first with the hint. Its ID comes from its leaf
    // certificate (the message's spiffe_id field is not trusted).
    let chosen = if hint.is_empty() {
        &response.svids[0]
    } else {
        response.svids.iter().find(|s| s.hint == hint).unwrap()
    };
    let svid = parse_svid(&chosen.x509_svid, &chosen.x509_svid_key).expect("it rendered");
    assert_eq!(svid.spiffe_id.as_str(), rendered.spiffe_id);
    assert_eq!(not_after(&svid.certs[0]), Ok(rendered.not_after));
    if let Ok(verified) = render_verified(&response, &opts, now) {
        assert!(verified.not_after >= now, "an expired SVID verified");
        assert_eq!(verified, rendered);
    }
});
