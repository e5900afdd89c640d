//! Tests of the outputs beyond upstream's three files: the credential bundle, one bundle per
//! trust domain and the SPIFFE bundle map (issue 16). The map is read back by `serde_json`
//! and each JWK's key members are compared with what independent crates (rcgen's key pairs,
//! the `rsa` crate's SubjectPublicKeyInfo reader) say the root's public key is.

use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::PublicKeyData;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use serde_json::Value;

use super::testpki::{self, cat, pem_certs, pem_key, root};
use super::{KeyError, RenderError, RenderOptions, Rendered, TrustDomainBundle, render};
use crate::proto::X509svidResponse;

const NOW: i64 = 1_800_000_000;

fn all_formats() -> RenderOptions<'static> {
    RenderOptions {
        credential_bundle: true,
        trust_domain_bundles: true,
        bundle_map: true,
        ..RenderOptions::default()
    }
}

fn rendered(resp: &X509svidResponse, opts: &RenderOptions<'_>) -> Rendered {
    render(resp, opts, NOW).unwrap()
}

#[test]
fn the_new_outputs_are_empty_unless_asked_for() {
    let (resp, _) = testpki::svid_response(&testpki::p256(), &[]);
    let out = rendered(&resp, &RenderOptions::default());
    assert!(out.credential_pem.is_empty());
    assert!(out.trust_domain_bundles.is_empty());
    assert!(out.bundle_map.is_empty());
}

#[test]
fn credential_bundle_is_the_key_then_the_whole_chain() {
    let key = testpki::p256();
    let (resp, ders) = testpki::svid_response(&key, &[]);
    for add_intermediates in [false, true] {
        let opts = RenderOptions {
            add_intermediates_to_bundle: add_intermediates,
            ..all_formats()
        };
        let out = rendered(&resp, &opts);
        let mut want = pem_key(&key.serialize_der());
        want.extend(pem_certs(&[&ders[0], &ders[1]]));
        assert_eq!(
            out.credential_pem, want,
            "add_intermediates {add_intermediates}"
        );
        assert!(out.credential_pem.starts_with(&out.key_pem));
    }
}

#[test]
fn one_bundle_per_trust_domain_in_name_order() {
    let a = root("a.test");
    let z = root("z.test");
    let (resp, ders) = testpki::svid_response(
        &testpki::p256(),
        &[
            ("spiffe://z.test", z.der.clone()),
            ("a.test", cat(&[&a.der, &a.der])),
        ],
    );
    let out = rendered(&resp, &all_formats());
    assert_eq!(
        out.trust_domain_bundles,
        vec![
            TrustDomainBundle {
                trust_domain: "a.test".into(),
                certs: vec![a.der.clone().into(), a.der.clone().into()],
            },
            TrustDomainBundle {
                trust_domain: "example.test".into(),
                certs: vec![ders[2].clone().into()],
            },
            TrustDomainBundle {
                trust_domain: "z.test".into(),
                certs: vec![z.der.clone().into()],
            },
        ]
    );
}

#[test]
fn trust_domains_that_cannot_be_file_names_are_refused() {
    let fed = root("fed.test");
    for td in ["..", ".hidden", &"a".repeat(201)] {
        let (resp, _) = testpki::svid_response(&testpki::p256(), &[(td, fed.der.clone())]);
        assert_eq!(
            render(&resp, &all_formats(), NOW).unwrap_err(),
            RenderError::TrustDomainFileName {
                trust_domain: td.to_string()
            }
        );
        let without_dir = RenderOptions {
            trust_domain_bundles: false,
            ..all_formats()
        };
        assert!(render(&resp, &without_dir, NOW).is_ok(), "{td}");
    }
    let (resp, _) =
        testpki::svid_response(&testpki::p256(), &[(&"a".repeat(200), fed.der.clone())]);
    assert!(render(&resp, &all_formats(), NOW).is_ok());
}

fn b64url(s: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s.as_str().unwrap()).unwrap()
}

/// The map's bundle of `td`, as JSON.
fn keys_of<'a>(map: &'a Value, td: &str) -> &'a Vec<Value> {
    map["trust_domains"][td]["keys"].as_array().unwrap()
}

#[test]
fn bundle_map_holds_every_root_as_an_x509_svid_jwk() {
    let rsa = testpki::rsa(testpki::RSA_A);
    let p384 = testpki::key(&rcgen::PKCS_ECDSA_P384_SHA384);
    let ed = testpki::ed25519_v1();
    let params = |td| testpki::ca_params(td, "root");
    let rsa_root = testpki::root_with(params("rsa.test"), rsa);
    let p384_root = testpki::root_with(params("p384.test"), p384);
    let ed_root = testpki::root_with(params("ed.test"), ed);
    let (resp, ders) = testpki::svid_response(
        &testpki::p256(),
        &[
            ("rsa.test", rsa_root.der.clone()),
            ("p384.test", p384_root.der.clone()),
            ("ed.test", ed_root.der.clone()),
            ("empty.test", Vec::new()),
        ],
    );
    let out = rendered(&resp, &all_formats());
    assert!(out.bundle_map.ends_with(b"}\n"));
    let map: Value = serde_json::from_slice(&out.bundle_map).unwrap();
    let obj = map.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["trust_domains"]);
    let tds: Vec<&String> = map["trust_domains"].as_object().unwrap().keys().collect();
    assert_eq!(
        tds,
        [
            "ed.test",
            "empty.test",
            "example.test",
            "p384.test",
            "rsa.test"
        ]
    );
    assert!(keys_of(&map, "empty.test").is_empty());
    for (td, root) in [
        ("rsa.test", &rsa_root),
        ("p384.test", &p384_root),
        ("ed.test", &ed_root),
    ] {
        let keys = keys_of(&map, td);
        assert_eq!(keys.len(), 1, "{td}");
        let key = &keys[0];
        assert_eq!(key["use"], "x509-svid");
        assert!(key.get("kid").is_none(), "X509-SVID §6.1: no kid");
        let x5c = key["x5c"].as_array().unwrap();
        assert_eq!(x5c.len(), 1);
        assert_eq!(STANDARD.decode(x5c[0].as_str().unwrap()).unwrap(), root.der);
        let raw = root.key.public_key_raw();
        let members: Vec<&String> = key.as_object().unwrap().keys().collect();
        match td {
            "rsa.test" => {
                assert_eq!(key["kty"], "RSA");
                let public =
                    rsa::RsaPublicKey::from_public_key_der(&root.key.subject_public_key_info())
                        .unwrap();
                assert_eq!(b64url(&key["n"]), public.n().to_bytes_be());
                assert_eq!(b64url(&key["e"]), public.e().to_bytes_be());
                assert_eq!(b64url(&key["e"]), [1, 0, 1]);
                assert_eq!(members.len(), 5, "{members:?}");
            }
            "p384.test" => {
                assert_eq!((&key["kty"], &key["crv"]), (&"EC".into(), &"P-384".into()));
                assert_eq!(b64url(&key["x"]), raw[1..49]);
                assert_eq!(b64url(&key["y"]), raw[49..]);
                assert_eq!(members.len(), 6, "{members:?}");
            }
            _ => {
                assert_eq!(
                    (&key["kty"], &key["crv"]),
                    (&"OKP".into(), &"Ed25519".into())
                );
                assert_eq!(b64url(&key["x"]), raw);
                assert_eq!(members.len(), 5, "{members:?}");
            }
        }
    }
    let own = &keys_of(&map, "example.test")[0];
    assert_eq!((&own["kty"], &own["crv"]), (&"EC".into(), &"P-256".into()));
    assert_eq!(
        STANDARD.decode(own["x5c"][0].as_str().unwrap()).unwrap(),
        ders[2]
    );
}

#[test]
fn bundle_map_honours_omit_expired_like_the_bundle_file() {
    let mut params = testpki::ca_params("old.test", "expired root");
    params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    let old = testpki::root_with(params, testpki::p256());
    let fresh = root("old.test");
    let (resp, _) = testpki::svid_response(
        &testpki::p256(),
        &[("old.test", cat(&[&old.der, &fresh.der]))],
    );
    for (omit, want) in [
        (false, vec![&old.der, &fresh.der]),
        (true, vec![&fresh.der]),
    ] {
        let opts = RenderOptions {
            omit_expired: omit,
            ..all_formats()
        };
        let out = rendered(&resp, &opts);
        let map: Value = serde_json::from_slice(&out.bundle_map).unwrap();
        let got: Vec<Vec<u8>> = keys_of(&map, "old.test")
            .iter()
            .map(|k| STANDARD.decode(k["x5c"][0].as_str().unwrap()).unwrap())
            .collect();
        assert_eq!(got.iter().collect::<Vec<_>>(), want, "omit_expired {omit}");
        let file = &out.trust_domain_bundles[1];
        assert_eq!(file.trust_domain, "old.test");
        assert_eq!(file.certs.len(), want.len());
    }
}

#[test]
fn a_root_without_a_jwk_form_is_named() {
    // A bundle "certificate" that passes the structural walk but whose key is an EC point in
    // compressed form (02 || x), which JWK cannot carry.
    let fed = root("fed.test");
    let mut der = fed.der.clone();
    let point = fed.key.public_key_raw();
    let at = der.windows(point.len()).position(|w| w == point).unwrap();
    // BIT STRING of 66 bytes (unused-bits byte + 65-byte point) -> keep the length, but mark
    // the point compressed: a malformed public key for JWK purposes.
    der[at] = 2;
    let (resp, _) = testpki::svid_response(&testpki::p256(), &[("fed.test", der)]);
    assert_eq!(
        render(&resp, &all_formats(), NOW).unwrap_err(),
        RenderError::BundleMapKey {
            trust_domain: "fed.test".into(),
            index: 0,
            error: KeyError::PublicKey
        }
    );
    let no_map = RenderOptions {
        bundle_map: false,
        ..all_formats()
    };
    assert!(render(&resp, &no_map, NOW).is_ok());
}

#[test]
fn the_bundle_map_carries_each_trust_domains_jwt_keys_after_its_roots() {
    use super::{MapJwt, encode_bundle_map};
    use crate::jwt::parse_bundles;
    let doc = include_bytes!("../testdata/jwt-bundle.json");
    let jwt = parse_bundles([
        ("spiffe://example.test", &doc[..]),
        ("jwt-only.test", &doc[..]),
    ])
    .unwrap();
    let (resp, ders) = testpki::svid_response(&testpki::p256(), &[]);
    let agent_keys: Value = serde_json::from_slice(doc).unwrap();
    let agent_keys = agent_keys["keys"].as_array().unwrap();
    let with = |bundle_map_jwt| {
        let opts = RenderOptions {
            bundle_map_jwt,
            ..all_formats()
        };
        rendered(&resp, &opts)
    };

    let full = with(MapJwt::Keys(&jwt));
    let map: Value = serde_json::from_slice(&full.bundle_map).unwrap();
    let domains = map["trust_domains"].as_object().unwrap();
    assert_eq!(
        domains.keys().collect::<Vec<_>>(),
        ["example.test", "jwt-only.test"]
    );
    let own = domains["example.test"]["keys"].as_array().unwrap();
    assert_eq!(own[0]["use"], "x509-svid");
    assert_eq!(own[0]["x5c"][0], STANDARD.encode(&ders[2]));
    // Each JWT key as the agent sent it (its members, `use` = `jwt-svid`), in order, after
    // the roots; `use` first and `kid` kept, as go-jose marshals a key with a use.
    assert_eq!(own[1..], agent_keys[..]);
    assert_eq!(
        domains["jwt-only.test"]["keys"].as_array().unwrap()[..],
        agent_keys[..]
    );
    let text = core::str::from_utf8(&full.bundle_map).unwrap();
    assert!(text.contains(r#"{"use":"jwt-svid","kty":"EC","kid":"ec256","crv":"P-256","x":"#));

    // While the JWT bundles have not come, the map is not rendered; its X.509 half is, and
    // joined with them later it is the same map.
    let waiting = with(MapJwt::Waiting);
    assert!(waiting.bundle_map.is_empty());
    assert_eq!(
        encode_bundle_map(&waiting.bundle_map_x509, Some(&jwt)),
        full.bundle_map
    );
    // Without the JWT bundle file, X.509 roots only.
    let off = with(MapJwt::Off);
    assert!(
        !core::str::from_utf8(&off.bundle_map)
            .unwrap()
            .contains("jwt-svid")
    );
    assert_eq!(
        encode_bundle_map(&off.bundle_map_x509, None),
        off.bundle_map
    );
}
