//! The encoders of issue 16 round-trip through independent decoders: on an arbitrary
//! FetchX509SVID message (as `x509_render` feeds it) with every format on, the credential
//! bundle reads back with the `pem` crate as the chosen SVID's key then its chain, and the
//! SPIFFE bundle map reads back with `serde_json` and `base64` as the per-trust-domain
//! bundles: the same trust domains in the same order, each `x5c` the same DER certificate,
//! every key `use` `x509-svid` with a `kty`. With an `x509_svids` entry for each hint the
//! message carries, and one for a hint it lacks, each entry's files are those of the first
//! SVID with its hint (credential bundle read back the same way), and the lacking one none.
//!
//! Input: one options byte, eight bytes of clock (Unix seconds), then the message.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use serde_json::Value;
use svid_core::proto::X509svidResponse;
use svid_core::x509::{EntryOptions, RenderOptions, parse_svid, render};

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
    let mut entries: Vec<EntryOptions> = Vec::new();
    for svid in &response.svids {
        if !svid.hint.is_empty() && entries.iter().all(|e| e.hint != svid.hint) {
            entries.push(EntryOptions {
                hint: svid.hint.clone(),
                credential_bundle: flags & 8 != 0,
                pkcs12: flags & 16 != 0,
            });
        }
    }
    let mut absent = String::from("absent");
    while response.svids.iter().any(|s| s.hint == absent) {
        absent.push('!');
    }
    entries.push(EntryOptions {
        hint: absent,
        credential_bundle: true,
        pkcs12: true,
    });
    let opts = RenderOptions {
        add_intermediates_to_bundle: flags & 1 != 0,
        include_federated_domains: flags & 2 != 0,
        omit_expired: flags & 4 != 0,
        credential_bundle: true,
        trust_domain_bundles: true,
        bundle_map: true,
        entries: &entries,
        ..RenderOptions::default()
    };
    let Ok(rendered) = render(&response, &opts, i64::from_be_bytes(*now)) else {
        return;
    };

    credential_is(&rendered.credential_pem, &response.svids[0]);
    let (last, hinted) = rendered.entries.split_last().expect("the absent entry");
    assert!(last.is_none(), "no SVID carries the absent hint");
    for (files, entry) in hinted.iter().zip(&entries) {
        let files = files.as_ref().expect("an SVID carries this hint");
        let first = response.svids.iter().find(|s| s.hint == entry.hint);
        let first = first.expect("the hint came from the message");
        let svid = parse_svid(&first.x509_svid, &first.x509_svid_key).expect("it rendered");
        assert_eq!(files.spiffe_id, svid.spiffe_id.as_str());
        if entry.credential_bundle {
            credential_is(&files.credential_pem, first);
        } else {
            assert!(files.credential_pem.is_empty());
        }
        // The entry's PKCS#12 contents are its own SVID: alias, key and chain as received,
        // and its bundle file's certificates.
        if entry.pkcs12 {
            assert_eq!(files.pkcs12.alias, svid.spiffe_id.as_str());
            assert_eq!(files.pkcs12.key_pkcs8, svid.key_pkcs8);
            assert_eq!(files.pkcs12.chain, svid.certs);
            let trusted: Vec<&[u8]> = files.pkcs12.trusted.iter().map(|(_, d)| &d[..]).collect();
            let bundle: Vec<&[u8]> = files.bundle_certs.iter().map(|d| &d[..]).collect();
            assert_eq!(trusted, bundle);
        } else {
            assert!(files.pkcs12.chain.is_empty());
        }
    }

    let map: Value = serde_json::from_slice(&rendered.bundle_map).expect("the map is JSON");
    let domains = map["trust_domains"].as_object().expect("trust_domains");
    assert_eq!(domains.len(), rendered.trust_domain_bundles.len());
    for ((td, bundle), file) in domains.iter().zip(&rendered.trust_domain_bundles) {
        assert_eq!(td, &file.trust_domain);
        let keys = bundle["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), file.certs.len());
        for (key, der) in keys.iter().zip(&file.certs) {
            assert_eq!(key["use"], "x509-svid");
            assert!(key["kty"].is_string());
            let x5c = key["x5c"].as_array().expect("x5c");
            assert_eq!(x5c.len(), 1);
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(x5c[0].as_str().expect("x5c string"))
                .expect("x5c is base64");
            assert_eq!(decoded.as_slice(), &der[..]);
        }
    }
});

/// The credential bundle reads back with the `pem` crate as `chosen`'s key, then its chain.
fn credential_is(credential_pem: &[u8], chosen: &svid_core::proto::X509svid) {
    let svid = parse_svid(&chosen.x509_svid, &chosen.x509_svid_key).expect("it rendered");
    let blocks = pem::parse_many(credential_pem).expect("credential PEM parses");
    let (key, chain) = blocks.split_first().expect("a key block");
    assert_eq!(key.tag(), "PRIVATE KEY");
    assert_eq!(key.contents(), svid.key_pkcs8.as_slice());
    assert!(chain.iter().all(|b| b.tag() == "CERTIFICATE"));
    let chain: Vec<&[u8]> = chain.iter().map(pem::Pem::contents).collect();
    let want: Vec<&[u8]> = svid.certs.iter().map(Vec::as_slice).collect();
    assert_eq!(chain, want);
}
