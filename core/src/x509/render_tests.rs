//! Tests of [`render`]: upstream's file matrix (`TestWriteX509Context`,
//! `pkg/disk/x509_test.go@v0.11.0`; each row also picked by hint),
//! hint rules, the bundle set, federated ordering and `omit_expired`.

use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use rcgen::KeyPair;

use super::testpki::{
    self, Ca, cat, intermediate, leaf_params, pem_certs, pem_key, response, root, sign,
};
use super::{RenderError, RenderOptions, SvidError, render};
use crate::proto::X509svid;

/// 2027-01-15T08:00:00Z, a fixed "now".
const NOW: i64 = 1_800_000_000;
const ID: &str = "spiffe://example.test/workload";

/// One SVID: its leaf, chain, key and the message entry.
struct Svid {
    leaf: Vec<u8>,
    key: KeyPair,
}

/// A leaf for `id` with a fresh P-256 key, signed by `issuer`.
fn leaf(id: &str, issuer: &Ca) -> Svid {
    let key = testpki::p256();
    let leaf = sign(&leaf_params(id), &key, issuer);
    Svid { leaf, key }
}

/// The message entry for `svid` with `chain` after the leaf.
fn entry(id: &str, svid: &Svid, chain: &[&[u8]], bundle: &[&[u8]], hint: &str) -> X509svid {
    let mut ders = vec![svid.leaf.as_slice()];
    ders.extend_from_slice(chain);
    X509svid {
        spiffe_id: id.to_string(),
        x509_svid: cat(&ders).into(),
        x509_svid_key: svid.key.serialize_der().into(),
        bundle: cat(bundle).into(),
        hint: hint.to_string(),
    }
}

fn opts(add_intermediates: bool, omit_expired: bool, federated: bool) -> RenderOptions<'static> {
    RenderOptions {
        hint: "",
        add_intermediates_to_bundle: add_intermediates,
        include_federated_domains: federated,
        omit_expired,
        ..Default::default()
    }
}

/// Intermediate CA of example.test that expired on 2020-01-01.
fn expired_intermediate(parent: &Ca) -> Ca {
    let mut params = testpki::ca_params("example.test", "expired intermediate");
    params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    testpki::intermediate_with(parent, params)
}

#[test]
fn upstream_file_matrix() {
    let root = root("example.test");
    let int = intermediate(&root, "example.test");
    let expired = expired_intermediate(&root);
    let td2 = testpki::root("td2.test");
    let (r, i, x, t2) = (&root.der[..], &int.der[..], &expired.der[..], &td2.der[..]);

    // (case, issuer, chain after leaf, add_int, omit_expired, federated present, include,
    //  svid file after leaf, bundle file)
    type Row<'a> = (
        &'a str,
        &'a Ca,
        Vec<&'a [u8]>,
        bool,
        bool,
        bool,
        bool,
        Vec<&'a [u8]>,
        Vec<&'a [u8]>,
    );
    let rows: Vec<Row<'_>> = vec![
        (
            "single",
            &root,
            vec![],
            false,
            false,
            false,
            false,
            vec![],
            vec![r],
        ),
        (
            "single + intermediates->bundle",
            &root,
            vec![],
            true,
            false,
            false,
            false,
            vec![],
            vec![r],
        ),
        (
            "with intermediate",
            &int,
            vec![i],
            false,
            false,
            false,
            false,
            vec![i],
            vec![r],
        ),
        (
            "with intermediate -> bundle",
            &int,
            vec![i],
            true,
            false,
            false,
            false,
            vec![],
            vec![r, i],
        ),
        (
            "expired intermediate",
            &expired,
            vec![x],
            true,
            true,
            false,
            false,
            vec![],
            vec![r],
        ),
        (
            "federated included",
            &root,
            vec![],
            false,
            false,
            true,
            true,
            vec![],
            vec![r, t2],
        ),
        (
            "federated not included",
            &root,
            vec![],
            false,
            false,
            true,
            false,
            vec![],
            vec![r],
        ),
        (
            "federated + intermediate",
            &int,
            vec![i],
            true,
            false,
            true,
            true,
            vec![],
            vec![r, i, t2],
        ),
    ];
    for (case, issuer, chain, add, omit, fed_present, include, svid_rest, bundle) in rows {
        let federated: &[(&str, &[u8])] = if fed_present {
            &[("spiffe://td2.test", t2)]
        } else {
            &[]
        };
        let b = leaf(ID, issuer);
        let mut expected_svid = vec![b.leaf.as_slice()];
        expected_svid.extend(svid_rest);

        // Plain: the only SVID.
        let resp = response(vec![entry(ID, &b, &chain, &[r], "")], federated);
        let out = render(&resp, &opts(add, omit, include), NOW).unwrap();
        assert_eq!(out.svid_pem, pem_certs(&expected_svid), "{case}: svid");
        assert_eq!(out.bundle_pem(), pem_certs(&bundle), "{case}: bundle");
        assert_eq!(out.key_pem, pem_key(&b.key.serialize_der()), "{case}: key");
        assert_eq!(out.spiffe_id, ID);

        // Hinted: A (hint "first") is never written, B (hint "other") is.
        let a_id = "spiffe://example.test/shouldnt/ever/get";
        let a = leaf(a_id, &root);
        let resp = response(
            vec![
                entry(a_id, &a, &[], &[r], "first"),
                entry(ID, &b, &chain, &[r], "other"),
            ],
            federated,
        );
        let mut o = opts(add, omit, include);
        o.hint = "other";
        let out = render(&resp, &o, NOW).unwrap();
        assert_eq!(
            out.svid_pem,
            pem_certs(&expected_svid),
            "{case} (hint): svid"
        );
        assert_eq!(
            out.bundle_pem(),
            pem_certs(&bundle),
            "{case} (hint): bundle"
        );
        assert_eq!(
            out.key_pem,
            pem_key(&b.key.serialize_der()),
            "{case} (hint): key"
        );
        assert_eq!(out.spiffe_ids, vec![a_id.to_string(), ID.to_string()]);
        assert_eq!(out.spiffe_id, ID);
    }
}

#[test]
fn hint_selection() {
    let root = root("example.test");
    let r = &root.der[..];
    let (a, b, c) = (
        leaf(ID, &root),
        leaf("spiffe://example.test/b", &root),
        leaf("spiffe://example.test/c", &root),
    );
    let resp = response(
        vec![
            entry(ID, &a, &[], &[r], ""),
            entry("spiffe://example.test/b", &b, &[], &[r], "x"),
            entry("spiffe://example.test/c", &c, &[], &[r], "X"),
        ],
        &[],
    );
    let pick = |hint: &'static str| {
        let o = RenderOptions {
            hint,
            ..opts(false, false, false)
        };
        render(&resp, &o, NOW).map(|out| out.spiffe_id)
    };
    assert_eq!(pick(""), Ok(ID.to_string()));
    assert_eq!(pick("x"), Ok("spiffe://example.test/b".to_string()));
    assert_eq!(pick("X"), Ok("spiffe://example.test/c".to_string()));
    let err = pick("y").unwrap_err();
    assert_eq!(err, RenderError::HintNotFound);
    assert_eq!(err.to_string(), "failed to find the hinted x509 SVID");
}

#[test]
fn later_duplicate_hint_is_dropped_unparsed() {
    let root = root("example.test");
    let r = &root.der[..];
    let a = leaf(ID, &root);
    let mut dup = entry(
        "spiffe://example.test/dup",
        &leaf("spiffe://example.test/dup", &root),
        &[],
        &[r],
        "h",
    );
    dup.x509_svid = vec![0x30, 0x03, 0x02, 0x01, 0x00].into();
    let resp = response(vec![entry(ID, &a, &[], &[r], "h"), dup], &[]);
    let o = RenderOptions {
        hint: "h",
        ..opts(false, false, false)
    };
    let out = render(&resp, &o, NOW).unwrap();
    assert_eq!(out.spiffe_ids, vec![ID.to_string()]);
    assert_eq!(out.svid_pem, pem_certs(&[&a.leaf]));
}

#[test]
fn one_bad_svid_drops_the_message() {
    let root = root("example.test");
    let r = &root.der[..];
    let key = testpki::p256();
    let mut params = leaf_params("spiffe://example.test/ca");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let bad = Svid {
        leaf: sign(&params, &key, &root),
        key,
    };
    let resp = response(
        vec![
            entry(ID, &leaf(ID, &root), &[], &[r], ""),
            entry(ID, &bad, &[], &[r], ""),
        ],
        &[],
    );
    let err = render(&resp, &opts(false, false, false), NOW).unwrap_err();
    assert_eq!(
        err,
        RenderError::Svid {
            index: 1,
            error: SvidError::LeafIsCa
        }
    );
    assert_eq!(
        err.to_string(),
        "x509svid 1: leaf certificate must not have CA flag set to true"
    );
}

#[test]
fn empty_response_and_missing_bundle() {
    let err = render(&response(vec![], &[]), &opts(false, false, false), NOW).unwrap_err();
    assert_eq!(err.to_string(), "no SVIDs in response");

    // The bundle is keyed by the message's spiffe_id; the choice uses the leaf's ID.
    let root = root("example.test");
    let a = leaf(ID, &root);
    let resp = response(
        vec![entry("spiffe://other.test/w", &a, &[], &[&root.der], "")],
        &[],
    );
    let err = render(&resp, &opts(false, false, false), NOW).unwrap_err();
    assert_eq!(
        err,
        RenderError::NoBundle {
            trust_domain: "example.test".to_string()
        }
    );
    assert_eq!(
        err.to_string(),
        "no bundles found for \"example.test\" trust domain"
    );
}

#[test]
fn federated_domains_in_name_order_after_intermediates() {
    let root = root("example.test");
    let int = intermediate(&root, "example.test");
    let (a, b, c) = (
        testpki::root("a.test"),
        testpki::root("b.test"),
        testpki::root("zz.test"),
    );
    let w = leaf(ID, &int);
    // Keys in every form go-spiffe accepts: ID, ID with path, bare name.
    let federated: &[(&str, &[u8])] = &[
        ("spiffe://zz.test", &c.der),
        ("b.test", &b.der),
        ("spiffe://a.test/ignored/path", &a.der),
    ];
    let resp = response(
        vec![entry(ID, &w, &[&int.der], &[&root.der], "")],
        federated,
    );
    let out = render(&resp, &opts(true, false, true), NOW).unwrap();
    assert_eq!(
        out.bundle_pem(),
        pem_certs(&[&root.der, &int.der, &a.der, &b.der, &c.der])
    );
    assert_eq!(out.svid_pem, pem_certs(&[&w.leaf]));
}

#[test]
fn federated_entries_with_one_key_keep_the_last_as_the_map_did() {
    // The field is a `map<string, bytes>` on the wire: entries are taken in key order and,
    // for a repeated key, the last one wins, whatever the order they came in.
    let root = root("example.test");
    let w = leaf(ID, &root);
    let (a1, a2, b) = (
        testpki::root("a.test"),
        testpki::root("a.test"),
        testpki::root("b.test"),
    );
    let federated: &[(&str, &[u8])] = &[
        ("spiffe://b.test", &b.der),
        ("spiffe://a.test", &a1.der),
        ("spiffe://a.test", &a2.der),
    ];
    let resp = response(vec![entry(ID, &w, &[], &[&root.der], "")], federated);
    let out = render(&resp, &opts(false, false, true), NOW).unwrap();
    assert_eq!(out.bundle_pem(), pem_certs(&[&root.der, &a2.der, &b.der]));
    // The certificates are slices of the message, not copies.
    let message = &resp.federated_bundles[2].value;
    assert!(
        message
            .as_ptr_range()
            .contains(&out.bundle_certs[1].as_ptr())
    );

    // Two keys naming one trust domain: the greater key wins, in either order, and the
    // losing entry is never parsed (as it never is out of a map).
    let broken: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x01];
    for federated in [
        [("spiffe://a.test", &a2.der[..]), ("a.test", broken)],
        [("a.test", broken), ("spiffe://a.test", &a2.der[..])],
    ] {
        let resp = response(vec![entry(ID, &w, &[], &[&root.der], "")], &federated);
        let out = render(&resp, &opts(false, false, true), NOW).unwrap();
        assert_eq!(out.bundle_pem(), pem_certs(&[&root.der, &a2.der]));
    }
}

#[test]
fn bundle_set_overwrites_like_go_spiffe() {
    let root1 = root("example.test");
    let root2 = testpki::root("example.test");
    let fed = testpki::root("example.test");
    let a = leaf(ID, &root1);
    let b = leaf("spiffe://example.test/b", &root2);
    let svids = || {
        vec![
            entry(ID, &a, &[], &[&root1.der], ""),
            entry("spiffe://example.test/b", &b, &[], &[&root2.der], ""),
        ]
    };
    // A later SVID of the same trust domain overwrites the earlier bundle.
    let out = render(&response(svids(), &[]), &opts(false, false, false), NOW).unwrap();
    assert_eq!(out.bundle_pem(), pem_certs(&[&root2.der]));
    // A federated entry for the own trust domain overwrites both.
    let resp = response(svids(), &[("example.test", &fed.der)]);
    let out = render(&resp, &opts(false, false, true), NOW).unwrap();
    assert_eq!(out.bundle_pem(), pem_certs(&[&fed.der]));
}

#[test]
fn omit_expired_checks_every_certificate() {
    let mut params = testpki::ca_params("example.test", "root until 2027");
    params.not_after = rcgen::date_time_ymd(2027, 1, 15);
    let root = testpki::root_with(params, testpki::p256());
    let key = testpki::p256();
    let mut lp = leaf_params(ID);
    lp.not_after = rcgen::date_time_ymd(2026, 12, 1);
    let w = Svid {
        leaf: sign(&lp, &key, &root),
        key,
    };
    let resp = response(vec![entry(ID, &w, &[], &[&root.der], "")], &[]);
    let leaf_end = 1_796_083_200; // 2026-12-01T00:00:00Z
    let root_end = 1_799_971_200; // 2027-01-15T00:00:00Z

    for (now, svid_kept, root_kept) in [
        (leaf_end, true, true),
        (leaf_end + 1, false, true),
        (root_end + 1, false, false),
    ] {
        let out = render(&resp, &opts(false, true, false), now).unwrap();
        let svid: &[&[u8]] = if svid_kept { &[&w.leaf] } else { &[] };
        let bundle: &[&[u8]] = if root_kept { &[&root.der] } else { &[] };
        assert_eq!(out.svid_pem, pem_certs(svid), "now {now}");
        assert_eq!(out.bundle_pem(), pem_certs(bundle), "now {now}");
        assert_eq!(out.not_after, leaf_end);
        assert_eq!(out.key_pem, pem_key(&w.key.serialize_der()));
    }
    // Without omit_expired everything stays.
    let out = render(&resp, &opts(false, false, false), root_end + 1).unwrap();
    assert_eq!(out.svid_pem, pem_certs(&[&w.leaf]));
}

#[test]
fn empty_bundle_gives_empty_file() {
    let root = root("example.test");
    let w = leaf(ID, &root);
    let resp = response(vec![entry(ID, &w, &[], &[], "")], &[]);
    let out = render(&resp, &opts(false, false, false), NOW).unwrap();
    assert!(out.bundle_pem().is_empty());
    assert_eq!(out.svid_pem, pem_certs(&[&w.leaf]));
}

#[test]
fn bad_trust_domains_and_bundles() {
    let root = root("example.test");
    let w = leaf(ID, &root);
    let ok = || vec![entry(ID, &w, &[], &[&root.der], "")];

    let err = render(
        &response(ok(), &[("spiffe://Bad.test", &root.der)]),
        &opts(false, false, false),
        NOW,
    )
    .unwrap_err();
    assert!(
        matches!(err, RenderError::FederatedTrustDomain { ref key, .. } if key == "spiffe://Bad.test")
    );

    let err = render(
        &response(ok(), &[("td2.test", &[0x30, 0x01])]),
        &opts(false, false, false),
        NOW,
    )
    .unwrap_err();
    assert!(
        matches!(err, RenderError::Bundle { ref trust_domain, error: SvidError::Chain(_) } if trust_domain == "td2.test")
    );

    let mut bad_id = ok();
    bad_id[0].spiffe_id = String::new();
    let err = render(&response(bad_id, &[]), &opts(false, false, false), NOW).unwrap_err();
    assert!(matches!(err, RenderError::SvidTrustDomain { index: 0, .. }));
}

/// The message's `spiffe_id` field only names the trust domain its bundle belongs to (as in
/// go-spiffe); the SVID's ID is its certificate's. Pinned after the x509_render fuzz target,
/// which had assumed the field names the rendered ID.
#[test]
fn svid_id_comes_from_the_certificate_not_the_message_field() {
    let root = root("example.test");
    let svid = leaf(ID, &root);
    let bundle: &[&[u8]] = &[&root.der];
    let other_path = entry("spiffe://example.test/other", &svid, &[], bundle, "");
    let rendered = render(
        &response(vec![other_path], &[]),
        &opts(false, false, false),
        NOW,
    )
    .expect("same trust domain: the bundle is found");
    assert_eq!(rendered.spiffe_id, ID);
    assert_eq!(rendered.spiffe_ids, [ID]);

    let other_domain = entry("spiffe://elsewhere.test/workload", &svid, &[], bundle, "");
    let error = render(
        &response(vec![other_domain], &[]),
        &opts(false, false, false),
        NOW,
    );
    assert_eq!(
        error.unwrap_err(),
        RenderError::NoBundle {
            trust_domain: "example.test".to_string()
        }
    );
}

#[test]
#[cfg(feature = "verify")]
fn x509_svids_entries_get_their_own_files_from_one_message() {
    use super::{EntryOptions, VerifyError, render_verified};
    let root = root("example.test");
    let int = intermediate(&root, "example.test");
    let td2 = testpki::root("td2.test");
    let default = leaf(ID, &root);
    let db = leaf("spiffe://example.test/db", &int);
    let web = leaf("spiffe://td2.test/web", &td2);
    let (r, i, t2) = (&root.der[..], &int.der[..], &td2.der[..]);
    let msg = response(
        vec![
            entry(ID, &default, &[], &[r], ""),
            entry("spiffe://example.test/db", &db, &[i], &[r], "db"),
            entry("spiffe://td2.test/web", &web, &[], &[t2], "web"),
        ],
        &[],
    );
    let entries = [
        EntryOptions {
            hint: "web".into(),
            credential_bundle: false,
            pkcs12: false,
        },
        EntryOptions {
            hint: "gone".into(),
            credential_bundle: true,
            pkcs12: true,
        },
        EntryOptions {
            hint: "db".into(),
            credential_bundle: true,
            pkcs12: true,
        },
    ];
    for federated in [false, true] {
        let o = RenderOptions {
            entries: &entries,
            include_federated_domains: federated,
            ..opts(false, false, false)
        };
        let out = render(&msg, &o, NOW).unwrap();
        assert_eq!(
            out.spiffe_id, ID,
            "the top-level files keep the default SVID"
        );
        assert_eq!(out.svid_pem, pem_certs(&[&default.leaf]));
        let [Some(w), None, Some(d)] = &out.entries[..] else {
            panic!("{:?}", out.entries)
        };
        assert_eq!(d.spiffe_id, "spiffe://example.test/db");
        assert_eq!(d.svid_pem, pem_certs(&[&db.leaf, i]));
        assert_eq!(d.key_pem, pem_key(&db.key.serialize_der()));
        let mut credential = pem_key(&db.key.serialize_der());
        credential.extend(pem_certs(&[&db.leaf, i]));
        assert_eq!(d.credential_pem, credential);
        let own_first = |own: &[u8], other: &[u8]| {
            if federated {
                pem_certs(&[own, other])
            } else {
                pem_certs(&[own])
            }
        };
        assert_eq!(d.bundle_pem(), own_first(r, t2));
        // Its PKCS#12 stores: its key and chain, alias its SPIFFE ID; its bundle file's
        // certificates, each aliased by trust domain. An entry without stores gets none.
        assert_eq!(d.pkcs12.alias, "spiffe://example.test/db");
        assert_eq!(d.pkcs12.key_pkcs8, db.key.serialize_der());
        assert_eq!(d.pkcs12.chain.len(), 2);
        let aliases: Vec<&str> = d.pkcs12.trusted.iter().map(|(a, _)| a.as_str()).collect();
        let want: &[&str] = if federated {
            &["example.test-0", "td2.test-0"]
        } else {
            &["example.test-0"]
        };
        assert_eq!(aliases, want);
        assert!(w.pkcs12.alias.is_empty() && w.pkcs12.trusted.is_empty());
        // Each entry's bundle is its own trust domain's.
        assert_eq!(w.spiffe_id, "spiffe://td2.test/web");
        assert_eq!(w.bundle_pem(), own_first(t2, r));
        assert!(w.credential_pem.is_empty());
        assert_eq!(
            w.serial,
            super::serial_hex(&web.leaf).unwrap(),
            "each entry's own leaf"
        );
    }

    // Every chosen SVID is verified before anything is encoded: an entry whose leaf no
    // root of its trust domain signed refuses the whole message.
    let stranger = testpki::root("example.test");
    let forged = leaf("spiffe://example.test/db", &stranger);
    let bad = response(
        vec![
            entry(ID, &default, &[], &[r], ""),
            entry("spiffe://example.test/db", &forged, &[], &[r], "db"),
        ],
        &[],
    );
    let o = RenderOptions {
        entries: &entries[2..],
        ..opts(false, false, false)
    };
    assert!(render(&bad, &o, NOW).unwrap().entries[0].is_some());
    assert!(matches!(
        render_verified(&bad, &o, NOW),
        Err(VerifyError::Chain(_))
    ));
    assert!(render_verified(&msg, &o, NOW).unwrap().entries[0].is_some());
}

#[test]
fn an_entry_hint_missing_is_worded_as_upstream() {
    let e = RenderError::EntryHintNotFound {
        index: 2,
        hint: "db".into(),
    };
    assert_eq!(
        e.to_string(),
        "x509_svids[2] (hint \"db\"): failed to find the hinted x509 SVID"
    );
}
