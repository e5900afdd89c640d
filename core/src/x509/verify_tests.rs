//! Tests of [`verify_svid`] with real certificates: rcgen (ring) chains for every key type
//! and every failure, and a chain made by `/usr/bin/openssl`.

use std::format;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

use super::testpki::{
    self, Ca, ca_params, intermediate, intermediate_with, leaf_params, root, root_with, sign,
};
use super::verify::check_chain;
use super::{
    CACHE_ENTRIES, CertErrorKind, RenderError, RenderOptions, SvidError, VerifyCache, VerifyError,
    render, render_verified, render_verified_cached, verify_svid,
};
use crate::proto::{FederatedBundle, X509svid, X509svidResponse};

const TD: &str = "example.test";
const ID: &str = "spiffe://example.test/workload";
/// 2027-01-15: inside rcgen's default validity (1975 to 4096).
const NOW: i64 = 1_800_000_000;

/// Verifies `leaf` (+ `intermediates`) with `key` against `roots`, expecting [`ID`].
fn verify(
    leaf: &[u8],
    intermediates: &[&[u8]],
    key: &[u8],
    roots: &[&[u8]],
) -> Result<(), VerifyError> {
    let chain: Vec<&[u8]> = [leaf]
        .into_iter()
        .chain(intermediates.iter().copied())
        .collect();
    verify_svid(&chain, key, roots, ID, NOW)
}

/// A leaf for `key` from `params` signed directly by `root`, verified against `root`.
fn verify_leaf(params: &CertificateParams, key: &KeyPair, root: &Ca) -> Result<(), VerifyError> {
    let leaf = sign(params, key, root);
    verify(&leaf, &[], &key.serialize_der(), &[&root.der])
}

/// The kind of the chain error `result` holds.
fn chain_error<T: core::fmt::Debug>(result: Result<T, VerifyError>) -> CertErrorKind {
    match result {
        Err(VerifyError::Chain(e)) => e.kind(),
        other => panic!("expected a chain error, got {other:?}"),
    }
}

#[test]
fn valid_chain_without_intermediate() {
    let root = root(TD);
    let key = testpki::p256();
    assert_eq!(verify_leaf(&leaf_params(ID), &key, &root), Ok(()));
}

#[test]
fn valid_chain_with_intermediates() {
    let root = root(TD);
    let int = intermediate(&root, TD);
    let int2 = intermediate(&int, TD);
    let key = testpki::p256();
    let der = key.serialize_der();
    let leaf = sign(&leaf_params(ID), &key, &int);
    assert_eq!(verify(&leaf, &[&int.der], &der, &[&root.der]), Ok(()));
    let leaf2 = sign(&leaf_params(ID), &key, &int2);
    assert_eq!(
        verify(&leaf2, &[&int2.der, &int.der], &der, &[&root.der]),
        Ok(())
    );
    // Without the intermediate there is no path.
    assert_eq!(
        chain_error(verify(&leaf, &[], &der, &[&root.der])),
        CertErrorKind::UnknownIssuer
    );
    // Any bundle certificate is an anchor, other roots are ignored.
    let other = super::testpki::root("other.test");
    assert_eq!(
        verify(&leaf, &[&int.der], &der, &[&other.der, &root.der]),
        Ok(())
    );
}

#[test]
fn every_leaf_key_type() {
    let root = root(TD);
    let keys = [
        ("P-256", testpki::p256()),
        ("P-384", testpki::key(&rcgen::PKCS_ECDSA_P384_SHA384)),
        ("RSA 2048", testpki::rsa(testpki::RSA_A)),
        ("Ed25519 PKCS#8 v2", testpki::key(&rcgen::PKCS_ED25519)),
        ("Ed25519 PKCS#8 v1", testpki::ed25519_v1()),
    ];
    for (name, key) in keys {
        assert_eq!(verify_leaf(&leaf_params(ID), &key, &root), Ok(()), "{name}");
    }
}

#[test]
fn every_issuer_key_type() {
    // The CA's key type decides the signature algorithm webpki hands to our adapters.
    let issuers = [
        ("ECDSA P-256 SHA-256", testpki::p256()),
        (
            "ECDSA P-384 SHA-384",
            testpki::key(&rcgen::PKCS_ECDSA_P384_SHA384),
        ),
        ("RSA PKCS#1 SHA-256", testpki::rsa(testpki::RSA_A)),
        ("Ed25519", testpki::key(&rcgen::PKCS_ED25519)),
    ];
    for (name, ca_key) in issuers {
        let root = root_with(ca_params(TD, "root"), ca_key);
        let int = intermediate(&root, TD);
        let key = testpki::p256();
        let leaf = sign(&leaf_params(ID), &key, &root);
        assert_eq!(
            verify(&leaf, &[], &key.serialize_der(), &[&root.der]),
            Ok(()),
            "{name}"
        );
        let leaf = sign(&leaf_params(ID), &key, &int);
        assert_eq!(
            verify(&leaf, &[&int.der], &key.serialize_der(), &[&root.der]),
            Ok(()),
            "{name} with intermediate"
        );
    }
}

#[test]
fn tampered_signature_fails() {
    for ca_key in [
        testpki::p256(),
        testpki::rsa(testpki::RSA_B),
        testpki::key(&rcgen::PKCS_ED25519),
    ] {
        let root = root_with(ca_params(TD, "root"), ca_key);
        let key = testpki::p256();
        let mut leaf = sign(&leaf_params(ID), &key, &root);
        // The last byte belongs to the signature (an INTEGER of an ECDSA signature, or the
        // bit string of RSA and Ed25519): the DER stays valid, the signature does not.
        *leaf.last_mut().unwrap() ^= 1;
        assert_eq!(
            chain_error(verify(&leaf, &[], &key.serialize_der(), &[&root.der])),
            CertErrorKind::BadSignature
        );
    }
}

/// `der` with the first occurrence of `from` replaced by `to` (same length).
fn replace(der: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = der
        .windows(from.len())
        .position(|w| w == from)
        .expect("bytes present");
    let mut out = der.to_vec();
    out[at..at + from.len()].copy_from_slice(to);
    out
}

#[test]
fn key_mismatch_is_found_by_arithmetic() {
    let root = root(TD);
    // Keys whose public part claims to be the leaf's, with another private key: the
    // crypto-free check of parse_svid passes them, the derived public key does not.
    for alg in [
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &rcgen::PKCS_ED25519,
    ] {
        let (leaf_key, other) = (testpki::key(alg), testpki::key(alg));
        let leaf = sign(&leaf_params(ID), &leaf_key, &root);
        let liar = replace(
            &other.serialize_der(),
            other.public_key_raw(),
            leaf_key.public_key_raw(),
        );
        assert!(super::parse_svid(&leaf, &liar).is_ok(), "{alg:?}");
        assert_eq!(
            verify(&leaf, &[], &liar, &[&root.der]),
            Err(VerifyError::KeyMismatch),
            "{alg:?}"
        );
    }
    // EC keys without a public part, and an Ed25519 v1 key (no public part either).
    let leaf_key = testpki::p256();
    let leaf = sign(&leaf_params(ID), &leaf_key, &root);
    let other = super::svid_tests::p256_without_public(&testpki::p256());
    let own = super::svid_tests::p256_without_public(&leaf_key);
    assert_eq!(verify(&leaf, &[], &own, &[&root.der]), Ok(()));
    assert_eq!(
        verify(&leaf, &[], &other, &[&root.der]),
        Err(VerifyError::KeyMismatch)
    );
    let ed = testpki::key(&rcgen::PKCS_ED25519);
    let leaf = sign(&leaf_params(ID), &ed, &root);
    assert_eq!(
        verify(&leaf, &[], testpki::ED25519_V1, &[&root.der]),
        Err(VerifyError::KeyMismatch)
    );
    // RSA: key A with key B's modulus is inconsistent (p·q ≠ n).
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let n = |der: &[u8]| {
        rsa::RsaPrivateKey::from_pkcs8_der(der)
            .unwrap()
            .n()
            .to_bytes_be()
    };
    let liar = replace(testpki::RSA_A, &n(testpki::RSA_A), &n(testpki::RSA_B));
    let leaf = sign(&leaf_params(ID), &testpki::rsa(testpki::RSA_B), &root);
    assert!(super::parse_svid(&leaf, &liar).is_ok());
    assert_eq!(
        verify(&leaf, &[], &liar, &[&root.der]),
        Err(VerifyError::BadPrivateKey)
    );
    // A plain wrong key is already refused by the SVID rules.
    assert_eq!(
        verify(&leaf, &[], testpki::RSA_A, &[&root.der]),
        Err(VerifyError::Svid(SvidError::KeyMismatch))
    );
}

#[test]
fn validity_period_is_checked_for_every_certificate() {
    let root = root(TD);
    let key = testpki::p256();
    let mut expired = leaf_params(ID);
    expired.not_after = rcgen::date_time_ymd(2026, 1, 1);
    assert_eq!(
        chain_error(verify_leaf(&expired, &key, &root)),
        CertErrorKind::Expired
    );
    let mut future = leaf_params(ID);
    future.not_before = rcgen::date_time_ymd(2030, 1, 1);
    assert_eq!(
        chain_error(verify_leaf(&future, &key, &root)),
        CertErrorKind::NotValidYet
    );
    // An expired intermediate.
    let mut params = ca_params(TD, "old intermediate");
    params.not_after = rcgen::date_time_ymd(2026, 1, 1);
    let int = intermediate_with(&root, params);
    let leaf = sign(&leaf_params(ID), &key, &int);
    assert_eq!(
        chain_error(verify(
            &leaf,
            &[&int.der],
            &key.serialize_der(),
            &[&root.der]
        )),
        CertErrorKind::Expired
    );
    // Documented limit: webpki does not check a trust anchor's validity period.
    let mut params = ca_params(TD, "expired root");
    params.not_after = rcgen::date_time_ymd(2026, 1, 1);
    let old_root = root_with(params, testpki::p256());
    assert_eq!(verify_leaf(&leaf_params(ID), &key, &old_root), Ok(()));
    // The same chains at a time inside their validity pass.
    let leaf = sign(&expired, &key, &root);
    let chain: &[&[u8]] = &[&leaf];
    assert_eq!(
        verify_svid(chain, &key.serialize_der(), &[&root.der], ID, 1_700_000_000),
        Ok(())
    );
}

#[test]
fn unknown_ca_fails() {
    let key = testpki::p256();
    let leaf = sign(&leaf_params(ID), &key, &root(TD));
    let stranger = root("other.test");
    assert_eq!(
        chain_error(verify(&leaf, &[], &key.serialize_der(), &[&stranger.der])),
        CertErrorKind::UnknownIssuer
    );
    // A root with the issuer's name but another key: the signature does not verify.
    let impostor = root(TD);
    assert_eq!(
        chain_error(verify(&leaf, &[], &key.serialize_der(), &[&impostor.der])),
        CertErrorKind::BadSignature
    );
    assert_eq!(
        verify(&leaf, &[], &key.serialize_der(), &[]),
        Err(VerifyError::EmptyBundle)
    );
}

#[test]
fn intermediate_without_ca_bit_fails() {
    let root = root(TD);
    let mut params = ca_params(TD, "not a CA");
    params.is_ca = IsCa::ExplicitNoCa;
    let int = intermediate_with(&root, params);
    let key = testpki::p256();
    let leaf = sign(&leaf_params(ID), &key, &int);
    assert_eq!(
        verify(&leaf, &[&int.der], &key.serialize_der(), &[&root.der]),
        Err(VerifyError::Svid(SvidError::SigningCertNotCa { index: 1 }))
    );
    // webpki refuses it on its own too.
    assert_eq!(
        chain_error(check_chain(&leaf, &[&int.der], &[&root.der], NOW)),
        CertErrorKind::EndEntityUsedAsCa
    );
}

#[test]
fn path_length_constraint_is_enforced() {
    let root = root(TD);
    let mut params = ca_params(TD, "intermediate pathlen 0");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let int = intermediate_with(&root, params);
    let int2 = intermediate(&int, TD);
    let key = testpki::p256();
    let der = key.serialize_der();
    let leaf = sign(&leaf_params(ID), &key, &int2);
    assert_eq!(
        chain_error(verify(&leaf, &[&int2.der, &int.der], &der, &[&root.der])),
        CertErrorKind::PathLenConstraint
    );
    // A leaf directly under the constrained intermediate is fine.
    let leaf = sign(&leaf_params(ID), &key, &int);
    assert_eq!(verify(&leaf, &[&int.der], &der, &[&root.der]), Ok(()));
    // Documented limit: webpki keeps no pathLenConstraint of a trust anchor.
    let mut params = ca_params(TD, "root pathlen 0");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let root = root_with(params, testpki::p256());
    let int = intermediate(&root, TD);
    let leaf = sign(&leaf_params(ID), &key, &int);
    assert_eq!(verify(&leaf, &[&int.der], &der, &[&root.der]), Ok(()));
}

#[test]
fn wrong_spiffe_id_fails() {
    let root = root(TD);
    let key = testpki::p256();
    let leaf = sign(&leaf_params("spiffe://example.test/other"), &key, &root);
    let err = verify(&leaf, &[], &key.serialize_der(), &[&root.der]).unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongSpiffeId {
            expected: ID.to_string(),
            actual: "spiffe://example.test/other".to_string(),
        }
    );
    assert_eq!(
        err.to_string(),
        "leaf certificate SPIFFE ID \"spiffe://example.test/other\" is not the SVID's \
         \"spiffe://example.test/workload\""
    );
}

#[test]
fn leaf_that_could_sign_fails() {
    let root = root(TD);
    let key = testpki::p256();
    let mut params = leaf_params(ID);
    params.key_usages.push(KeyUsagePurpose::KeyCertSign);
    assert_eq!(
        verify_leaf(&params, &key, &root),
        Err(VerifyError::Svid(SvidError::LeafWithKeyCertSign))
    );
    let mut params = leaf_params(ID);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    assert_eq!(
        verify_leaf(&params, &key, &root),
        Err(VerifyError::Svid(SvidError::LeafIsCa))
    );
    // webpki refuses a CA as end entity on its own too.
    let leaf = sign(&params, &key, &root);
    assert_eq!(
        chain_error(check_chain(&leaf, &[], &[&root.der], NOW)),
        CertErrorKind::CaUsedAsEndEntity
    );
}

#[test]
fn extended_key_usage_for_either_tls_role() {
    use ExtendedKeyUsagePurpose::{ClientAuth, CodeSigning, ServerAuth};
    let root = root(TD);
    let key = testpki::p256();
    for (ekus, ok) in [
        (vec![], true),
        (vec![ServerAuth], true),
        (vec![ClientAuth], true),
        (vec![ClientAuth, ServerAuth], true),
        (vec![CodeSigning, ClientAuth], true),
        (vec![CodeSigning], false),
    ] {
        let mut params = leaf_params(ID);
        params.extended_key_usages = ekus.clone();
        let result = verify_leaf(&params, &key, &root);
        if ok {
            assert_eq!(result, Ok(()), "{ekus:?}");
        } else {
            let err = result.clone().unwrap_err();
            assert_eq!(
                chain_error(result),
                CertErrorKind::ExtendedKeyUsage,
                "{ekus:?}: {err:?}"
            );
            assert!(
                err.to_string()
                    .contains("neither serverAuth nor clientAuth"),
                "{err}"
            );
        }
    }
}

#[test]
fn error_texts_name_what_failed() {
    let root = root(TD);
    let key = testpki::p256();
    let mut expired = leaf_params(ID);
    expired.not_after = rcgen::date_time_ymd(2026, 1, 1);
    assert_eq!(
        verify_leaf(&expired, &key, &root).unwrap_err().to_string(),
        "certificate chain does not verify against the trust bundle: a certificate has expired"
    );
    assert_eq!(
        VerifyError::KeyMismatch.to_string(),
        "leaf certificate public key does not match the private key"
    );
    assert_eq!(
        VerifyError::Svid(SvidError::LeafIsCa).to_string(),
        "leaf certificate must not have CA flag set to true"
    );
}

/// Runs `/usr/bin/openssl` with `args` in `dir`, failing the test on a non-zero exit.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("/usr/bin/openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("cannot run /usr/bin/openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        std::string::String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn openssl_made_chain() {
    // A non-Rust issuer: P-384 root, RSA 2048 intermediate signed with ECDSA SHA-384, P-256
    // leaf signed with RSA-PSS SHA-256 (salt as long as the hash), valid from now for a day.
    let dir = std::env::temp_dir().join(format!("svid-core-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = [
        (
            "int.ext",
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
             subjectAltName=URI:spiffe://example.test\n",
        ),
        (
            "leaf.ext",
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth,clientAuth\n\
             subjectAltName=URI:spiffe://example.test/workload\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let steps: &[&[&str]] = &[
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-sha384",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-days",
            "1",
            "-subj",
            "/CN=root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-addext",
            "subjectAltName=URI:spiffe://example.test",
        ],
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "int.key",
            "-out",
            "int.csr",
            "-subj",
            "/CN=intermediate",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "int.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-sha384",
            "-set_serial",
            "2",
            "-days",
            "1",
            "-extfile",
            "int.ext",
            "-out",
            "int.pem",
        ],
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=workload",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "int.pem",
            "-CAkey",
            "int.key",
            "-sha256",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:digest",
            "-set_serial",
            "3",
            "-days",
            "1",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ],
        &[
            "x509", "-in", "root.pem", "-outform", "DER", "-out", "root.der",
        ],
        &[
            "x509", "-in", "int.pem", "-outform", "DER", "-out", "int.der",
        ],
        &[
            "x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der",
        ],
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key", "-outform", "DER", "-out", "leaf.pk8",
        ],
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "int.key", "-outform", "DER", "-out", "int.pk8",
        ],
    ];
    for args in steps {
        openssl(&dir, args);
    }
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let (root, int, leaf) = (read("root.der"), read("int.der"), read("leaf.der"));
    let (key, int_key) = (read("leaf.pk8"), read("int.pk8"));
    std::fs::remove_dir_all(&dir).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;

    let chain: &[&[u8]] = &[&leaf, &int];
    assert_eq!(verify_svid(chain, &key, &[&root], ID, now), Ok(()));
    // Two days later every certificate has expired.
    assert_eq!(
        chain_error(verify_svid(chain, &key, &[&root], ID, now + 2 * 86_400)),
        CertErrorKind::Expired
    );
    // The intermediate's key is not the leaf's.
    assert_eq!(
        verify_svid(chain, &int_key, &[&root], ID, now),
        Err(VerifyError::Svid(SvidError::KeyMismatch))
    );
    // Another trust domain's root is no anchor for it.
    let other = super::testpki::root("other.test");
    assert_eq!(
        chain_error(verify_svid(chain, &key, &[&other.der], ID, now)),
        CertErrorKind::UnknownIssuer
    );
}

/// One `X509SVID` entry of a message.
fn entry(id: &str, chain: &[&[u8]], key: &KeyPair, bundle: &[u8], hint: &str) -> X509svid {
    X509svid {
        spiffe_id: id.to_string(),
        x509_svid: chain.concat().into(),
        x509_svid_key: key.serialize_der().into(),
        bundle: bundle.to_vec().into(),
        hint: hint.to_string(),
    }
}

#[test]
fn render_verified_checks_the_svid_render_picks() {
    const OTHER_ID: &str = "spiffe://other.test/db";
    let (root, other_root) = (root(TD), super::testpki::root("other.test"));
    let int = intermediate(&root, TD);
    let (key, other_key) = (testpki::p256(), testpki::p256());
    let leaf = sign(&leaf_params(ID), &key, &int);
    let other_leaf = sign(&leaf_params(OTHER_ID), &other_key, &other_root);
    let mut resp = X509svidResponse {
        svids: vec![
            entry(OTHER_ID, &[&other_leaf], &other_key, &other_root.der, "db"),
            entry(ID, &[&leaf, &int.der], &key, &root.der, "web"),
        ],
        ..Default::default()
    };
    let opts = |hint| RenderOptions {
        hint,
        omit_expired: true,
        add_intermediates_to_bundle: true,
        ..Default::default()
    };
    for hint in ["", "db", "web"] {
        assert_eq!(
            render_verified(&resp, &opts(hint), NOW),
            Ok(render(&resp, &opts(hint), NOW).unwrap()),
            "{hint:?}"
        );
    }
    assert_eq!(
        render_verified(&resp, &opts("nope"), NOW),
        Err(VerifyError::Render(RenderError::HintNotFound))
    );
    // The SVID must verify against its own trust domain's bundle, as the set has it: a
    // federated bundle for example.test replaces the SVID's.
    resp.federated_bundles.push(FederatedBundle {
        key: "spiffe://example.test".to_string(),
        value: other_root.der.clone().into(),
    });
    assert_eq!(
        chain_error(render_verified(&resp, &opts("web"), NOW)),
        CertErrorKind::UnknownIssuer
    );
    assert!(render_verified(&resp, &opts("db"), NOW).is_ok());
    resp.federated_bundles.clear();
    // The message's spiffe_id must be the leaf's.
    resp.svids[1].spiffe_id = "spiffe://example.test/else".to_string();
    assert!(matches!(
        render_verified(&resp, &opts("web"), NOW),
        Err(VerifyError::WrongSpiffeId { .. })
    ));
    // An expired SVID renders (omit_expired only trims files) but does not verify.
    let mut expired = leaf_params(ID);
    expired.not_after = rcgen::date_time_ymd(2026, 1, 1);
    let leaf = sign(&expired, &key, &int);
    resp.svids[1] = entry(ID, &[&leaf, &int.der], &key, &root.der, "web");
    assert!(render(&resp, &opts("web"), NOW).is_ok());
    assert_eq!(
        chain_error(render_verified(&resp, &opts("web"), NOW)),
        CertErrorKind::Expired
    );
    assert_eq!(
        render_verified(&X509svidResponse::default(), &opts(""), NOW),
        Err(VerifyError::Render(RenderError::NoSvids))
    );
}

#[test]
fn rsa_signature_without_null_parameters() {
    // RFC 4055 §5: verifiers MUST accept sha256WithRSAEncryption without its NULL. rcgen
    // writes the NULL; the leaf is re-signed with the `rsa` crate after taking it out of
    // both AlgorithmIdentifiers (TBS `signature` and `signatureAlgorithm`).
    use der::{Decode, Reader, SliceReader};
    use rsa::pkcs8::DecodePrivateKey;
    use testpki::tlv;

    const WITH_NULL: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
    ];
    let root = root_with(ca_params(TD, "rsa root"), testpki::rsa(testpki::RSA_A));
    let key = testpki::p256();
    let leaf = sign(&leaf_params(ID), &key, &root);
    let without_null = tlv(0x30, &WITH_NULL[2..13]);
    // The TBS content with the NULL taken out of its `signature` field.
    let tbs_content = SliceReader::new(&leaf)
        .unwrap()
        .sequence(|r: &mut SliceReader<'_>| {
            let tbs = der::asn1::AnyRef::decode(r)?.value().to_vec();
            while !r.is_finished() {
                r.tlv_bytes()?;
            }
            Ok::<_, der::Error>(tbs)
        })
        .unwrap();
    let at = tbs_content
        .windows(WITH_NULL.len())
        .position(|w| w == WITH_NULL)
        .unwrap();
    let tbs_content = [
        &tbs_content[..at],
        &without_null[..],
        &tbs_content[at + WITH_NULL.len()..],
    ]
    .concat();
    let tbs = tlv(0x30, &tbs_content);
    let signer = rsa::RsaPrivateKey::from_pkcs8_der(testpki::RSA_A).unwrap();
    let hashed = <sha2::Sha256 as sha2::Digest>::digest(&tbs);
    let sig = signer
        .sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hashed)
        .unwrap();
    let bits = [&[0u8][..], &sig].concat();
    let leaf = tlv(0x30, &[&tbs[..], &without_null, &tlv(0x03, &bits)].concat());
    assert_eq!(
        verify(&leaf, &[], &key.serialize_der(), &[&root.der]),
        Ok(())
    );
    // The same bytes with a flipped signature bit fail: the variant really verifies.
    let mut bad = leaf.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(
        chain_error(verify(&bad, &[], &key.serialize_der(), &[&root.der])),
        CertErrorKind::BadSignature
    );
}

/// [`render_verified_cached`] of one SVID, `leaf` + `int` with `key`, bundle `roots`.
fn verify_cached(
    cache: &mut VerifyCache,
    leaf: &[u8],
    int: &Ca,
    key: &KeyPair,
    roots: &[&[u8]],
) -> Result<(), VerifyError> {
    let resp = X509svidResponse {
        svids: vec![entry(ID, &[leaf, &int.der], key, &roots.concat(), "")],
        ..Default::default()
    };
    render_verified_cached(&resp, &RenderOptions::default(), NOW, cache).map(|_| ())
}

/// A root, an intermediate, a cache warmed by one SVID under them, its key and leaf.
fn warm_cache() -> (Ca, Ca, VerifyCache, KeyPair, Vec<u8>) {
    let root = root(TD);
    let int = intermediate(&root, TD);
    let mut cache = VerifyCache::default();
    let key = testpki::p256();
    let leaf = sign(&leaf_params(ID), &key, &int);
    // The key pair, the leaf's signature, the intermediate's signature.
    assert_eq!(
        verify_cached(&mut cache, &leaf, &int, &key, &[&root.der]),
        Ok(())
    );
    assert_eq!((cache.computed(), cache.len()), (3, 3));
    (root, int, cache, key, leaf)
}

#[test]
fn a_rotation_verifies_only_what_is_new() {
    let (root, int, mut cache, key, leaf) = warm_cache();
    // The same SVID again: nothing is computed.
    assert_eq!(
        verify_cached(&mut cache, &leaf, &int, &key, &[&root.der]),
        Ok(())
    );
    assert_eq!(cache.computed(), 3);
    // A rotation: a new key and leaf under the same intermediate; the intermediate's
    // signature by the root is not verified again.
    let key2 = testpki::p256();
    let leaf2 = sign(&leaf_params(ID), &key2, &int);
    assert_eq!(
        verify_cached(&mut cache, &leaf2, &int, &key2, &[&root.der]),
        Ok(())
    );
    assert_eq!(cache.computed(), 5);
}

#[test]
fn a_changed_certificate_or_key_is_verified_with_the_cache_warm() {
    let (root, int, mut cache, key, leaf) = warm_cache();
    // The same leaf with its signature changed: checked, and refused.
    let mut tampered = leaf.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(
        chain_error(verify_cached(
            &mut cache,
            &tampered,
            &int,
            &key,
            &[&root.der]
        )),
        CertErrorKind::BadSignature
    );
    // The same leaf with another key: refused.
    assert_eq!(
        verify_cached(&mut cache, &leaf, &int, &testpki::p256(), &[&root.der]),
        Err(VerifyError::Render(RenderError::Svid {
            index: 0,
            error: SvidError::KeyMismatch
        }))
    );
    // An intermediate of the same name and key re-signed by another root of the same name:
    // its signature is checked against that root's key, and fails under the first root.
    let impostor_root = testpki::root(TD);
    let resigned = Ca {
        params: int.params.clone(),
        der: sign(&int.params, &int.key, &impostor_root),
        key: testpki::p256(), // signs nothing here
    };
    assert_eq!(
        chain_error(verify_cached(
            &mut cache,
            &leaf,
            &resigned,
            &key,
            &[&root.der]
        )),
        CertErrorKind::BadSignature
    );
    assert_eq!(
        verify_cached(&mut cache, &leaf, &int, &key, &[&root.der]),
        Ok(())
    );
}

#[test]
fn a_changed_bundle_drops_the_cache() {
    let (root, int, mut cache, key, leaf) = warm_cache();
    let other = testpki::root(TD);
    // A bundle that gained a root: everything is checked again.
    let both: [&[u8]; 2] = [&other.der, &root.der];
    assert_eq!(verify_cached(&mut cache, &leaf, &int, &key, &both), Ok(()));
    assert_eq!((cache.computed(), cache.len()), (6, 3));
    // Only another root of the same name: the intermediate's signature is checked against
    // its key and fails (webpki checks from the anchor down, so the leaf's is not reached);
    // nothing the cache held under the old bundle is left, only the new key-pair check.
    assert_eq!(
        chain_error(verify_cached(&mut cache, &leaf, &int, &key, &[&other.der])),
        CertErrorKind::BadSignature
    );
    assert_eq!((cache.computed(), cache.len()), (7, 1));
}

#[test]
fn the_cache_is_bounded_and_keeps_what_every_rotation_uses() {
    let (root, int, mut cache, _, _) = warm_cache();
    let rotations = 2 * CACHE_ENTRIES;
    for _ in 0..rotations {
        let key = testpki::p256();
        let leaf = sign(&leaf_params(ID), &key, &int);
        assert_eq!(
            verify_cached(&mut cache, &leaf, &int, &key, &[&root.der]),
            Ok(())
        );
        assert!(cache.len() <= CACHE_ENTRIES);
    }
    // The intermediate's signature was verified once; each rotation added a key pair and a
    // leaf signature.
    assert_eq!(cache.computed(), 3 + 2 * rotations as u64);
}
