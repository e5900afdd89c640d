//! Tests of [`parse_svid`] and [`not_after`]: every X509-SVID rule, with real certificates.

use std::string::ToString;
use std::vec;
use std::vec::Vec;

use rcgen::{BasicConstraints, IsCa, KeyPair, KeyUsagePurpose};

use super::testpki::{
    self, cat, intermediate, intermediate_with, leaf_params, root, rsa, sign, tlv,
};
use super::{SvidError, not_after, parse_svid};

const ID: &str = "spiffe://example.test/workload";

/// A valid leaf for `key` signed by a fresh root.
fn leaf_for(key: &KeyPair) -> Vec<u8> {
    sign(&leaf_params(ID), key, &root("example.test"))
}

/// Parses a leaf made from `params`, with a matching P-256 key.
fn parse_leaf(params: rcgen::CertificateParams) -> Result<super::X509Svid, SvidError> {
    let key = testpki::p256();
    let leaf = sign(&params, &key, &root("example.test"));
    parse_svid(&leaf, &key.serialize_der())
}

#[test]
fn valid_p256_leaf() {
    let key = testpki::p256();
    let leaf = leaf_for(&key);
    let svid = parse_svid(&leaf, &key.serialize_der()).unwrap();
    assert_eq!(svid.spiffe_id.as_str(), ID);
    assert_eq!(svid.certs, vec![leaf]);
    assert_eq!(svid.key_pkcs8, key.serialize_der());
    assert_eq!(svid.hint, "");
}

#[test]
fn valid_chain_with_intermediate() {
    let root = root("example.test");
    let int = intermediate(&root, "example.test");
    let key = testpki::p256();
    let leaf = sign(&leaf_params(ID), &key, &int);
    let svid = parse_svid(&cat(&[&leaf, &int.der]), &key.serialize_der()).unwrap();
    assert_eq!(svid.certs, vec![leaf, int.der.clone()]);
}

#[test]
fn valid_p384_rsa_and_ed25519_leaves() {
    for key in [
        testpki::key(&rcgen::PKCS_ECDSA_P384_SHA384),
        rsa(testpki::RSA_A),
        testpki::key(&rcgen::PKCS_ED25519),
    ] {
        let svid = parse_svid(&leaf_for(&key), &key.serialize_der()).unwrap();
        assert_eq!(svid.spiffe_id.as_str(), ID);
    }
}

#[test]
fn leaf_without_basic_constraints_is_accepted() {
    let mut params = leaf_params(ID);
    params.is_ca = IsCa::NoCa;
    assert!(parse_leaf(params).is_ok());
}

#[test]
fn leaf_with_other_sans_is_accepted() {
    let mut params = leaf_params(ID);
    params.subject_alt_names.push(rcgen::SanType::DnsName(
        "w.example.test".try_into().unwrap(),
    ));
    assert!(parse_leaf(params).is_ok());
}

#[test]
fn leaf_uri_san_rules() {
    let cases: [(&[&str], SvidError); 4] = [
        (&[], SvidError::NoUriSan),
        (
            &[ID, "spiffe://example.test/other"],
            SvidError::MultipleUriSans,
        ),
        (
            &["https://example.test/workload"],
            SvidError::InvalidSpiffeId(crate::spiffe_id::IdError::WrongScheme),
        ),
        (&["spiffe://example.test"], SvidError::LeafWithoutPath),
    ];
    for (uris, expected) in cases {
        let mut params = leaf_params(ID);
        params.subject_alt_names = uris.iter().map(|u| testpki::uri(u)).collect();
        assert_eq!(parse_leaf(params).unwrap_err(), expected, "{uris:?}");
    }
}

#[test]
fn leaf_must_not_be_ca() {
    let mut params = leaf_params(ID);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    assert_eq!(parse_leaf(params).unwrap_err(), SvidError::LeafIsCa);
}

#[test]
fn leaf_key_usage_rules() {
    use KeyUsagePurpose::*;
    let cases = [
        (vec![], SvidError::LeafWithoutDigitalSignature),
        (
            vec![KeyEncipherment, KeyAgreement],
            SvidError::LeafWithoutDigitalSignature,
        ),
        (
            vec![DigitalSignature, KeyCertSign],
            SvidError::LeafWithKeyCertSign,
        ),
        (vec![DigitalSignature, CrlSign], SvidError::LeafWithCrlSign),
    ];
    for (usages, expected) in cases {
        let mut params = leaf_params(ID);
        params.key_usages = usages.clone();
        assert_eq!(parse_leaf(params).unwrap_err(), expected, "{usages:?}");
    }
    // SPIRE's own set is fine.
    let mut params = leaf_params(ID);
    params.key_usages = vec![DigitalSignature, KeyEncipherment, KeyAgreement];
    assert!(parse_leaf(params).is_ok());
}

#[test]
fn signing_certificate_rules() {
    let root = root("example.test");
    let mut not_ca = testpki::ca_params("example.test", "not a CA");
    not_ca.is_ca = IsCa::ExplicitNoCa;
    let mut no_cert_sign = testpki::ca_params("example.test", "no keyCertSign");
    no_cert_sign.key_usages = vec![KeyUsagePurpose::CrlSign];
    let good = intermediate(&root, "example.test");
    let cases = [
        (not_ca, SvidError::SigningCertNotCa { index: 2 }),
        (
            no_cert_sign,
            SvidError::SigningCertWithoutKeyCertSign { index: 2 },
        ),
    ];
    for (params, expected) in cases {
        let bad = intermediate_with(&root, params);
        let key = testpki::p256();
        let leaf = sign(&leaf_params(ID), &key, &good);
        let chain = cat(&[&leaf, &good.der, &bad.der]);
        assert_eq!(
            parse_svid(&chain, &key.serialize_der()).unwrap_err(),
            expected
        );
    }
}

#[test]
fn key_of_another_leaf_is_rejected() {
    let rsa_b = rsa(testpki::RSA_B);
    let rsa_a = rsa(testpki::RSA_A);
    let pairs = [
        (testpki::p256(), testpki::p256()),
        (
            testpki::p256(),
            testpki::key(&rcgen::PKCS_ECDSA_P384_SHA384),
        ),
        (testpki::p256(), rsa(testpki::RSA_A)),
        (rsa_a, rsa_b),
        (rsa(testpki::RSA_A), testpki::p256()),
        (
            testpki::key(&rcgen::PKCS_ED25519),
            testpki::key(&rcgen::PKCS_ED25519),
        ),
    ];
    for (leaf_key, other) in pairs {
        let leaf = leaf_for(&leaf_key);
        assert_eq!(
            parse_svid(&leaf, &other.serialize_der()).unwrap_err(),
            SvidError::KeyMismatch
        );
    }
}

/// Rebuilds a P-256 PKCS#8 key (RFC 5208) without the ECPrivateKey `publicKey` field.
pub(super) fn p256_without_public(key: &KeyPair) -> Vec<u8> {
    use der::{Decode, Reader, SliceReader};
    let der = key.serialize_der();
    let mut outer = SliceReader::new(&der).unwrap();
    let scalar: Vec<u8> = outer
        .sequence(|r: &mut SliceReader<'_>| {
            u8::decode(r)?;
            r.tlv_bytes()?;
            let inner = <&der::asn1::OctetStringRef>::decode(r)?.as_bytes();
            SliceReader::new(inner)?.sequence(|r: &mut SliceReader<'_>| {
                u8::decode(r)?;
                let d = <&der::asn1::OctetStringRef>::decode(r)?.as_bytes().to_vec();
                while !r.is_finished() {
                    r.tlv_bytes()?;
                }
                Ok::<_, der::Error>(d)
            })
        })
        .unwrap();
    let ec_private_key = tlv(0x30, &cat(&[&[0x02, 0x01, 0x01], &tlv(0x04, &scalar)]));
    let algorithm = tlv(
        0x30,
        &cat(&[
            &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01],
            &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        ]),
    );
    tlv(
        0x30,
        &cat(&[&[0x02, 0x01, 0x00], &algorithm, &tlv(0x04, &ec_private_key)]),
    )
}

#[test]
fn keys_without_public_part_skip_the_match() {
    // Documented limitation: without the public part, matching needs crypto; the key is
    // accepted even though it belongs to another leaf.
    let leaf_key = testpki::p256();
    let other = p256_without_public(&testpki::p256());
    let own = p256_without_public(&leaf_key);
    assert!(parse_svid(&leaf_for(&leaf_key), &own).is_ok());
    assert!(parse_svid(&leaf_for(&leaf_key), &other).is_ok());

    let ed = testpki::key(&rcgen::PKCS_ED25519);
    assert!(parse_svid(&leaf_for(&ed), testpki::ED25519_V1).is_ok());
    // The algorithm is still compared.
    assert_eq!(
        parse_svid(&leaf_for(&testpki::p256()), testpki::ED25519_V1).unwrap_err(),
        SvidError::KeyMismatch
    );
}

#[test]
fn malformed_input() {
    let key = testpki::p256();
    let leaf = leaf_for(&key);
    let pk8 = key.serialize_der();
    assert!(matches!(
        parse_svid(&leaf[..leaf.len() - 1], &pk8),
        Err(SvidError::Chain(_))
    ));
    assert_eq!(
        parse_svid(&[], &pk8).unwrap_err(),
        SvidError::NoCertificates
    );
    // A DER SEQUENCE that is not a certificate, after a good leaf.
    let junk = tlv(0x30, &[0x02, 0x01, 0x00]);
    assert!(matches!(
        parse_svid(&cat(&[&leaf, &junk]), &pk8),
        Err(SvidError::Certificate { index: 1, .. })
    ));
    assert!(matches!(parse_svid(&leaf, &[]), Err(SvidError::KeyDer(_))));
    assert!(matches!(
        parse_svid(&leaf, &pk8[..pk8.len() - 1]),
        Err(SvidError::KeyDer(_))
    ));
    assert!(matches!(
        parse_svid(&leaf, &leaf),
        Err(SvidError::KeyDer(_))
    ));
    // X25519 (RFC 8410 §7 example key): PKCS#8, but not a signing key.
    let x25519 = cat(&[
        &[
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22,
            0x04, 0x20,
        ],
        &[0u8; 32],
    ]);
    assert_eq!(
        parse_svid(&leaf, &x25519).unwrap_err().to_string(),
        "unsupported private key algorithm 1.3.101.110"
    );
}

#[test]
fn error_messages_follow_go_spiffe() {
    let cases = [
        (SvidError::NoUriSan, "certificate contains no URI SAN"),
        (
            SvidError::LeafIsCa,
            "leaf certificate must not have CA flag set to true",
        ),
        (
            SvidError::LeafWithoutDigitalSignature,
            "leaf certificate must have 'digitalSignature' set as key usage",
        ),
        (
            SvidError::KeyMismatch,
            "leaf certificate does not match private key",
        ),
        (
            SvidError::SigningCertWithoutKeyCertSign { index: 1 },
            "signing certificate 1 must have 'keyCertSign' set as key usage",
        ),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
    }
}

#[test]
fn not_after_in_unix_seconds() {
    let key = testpki::p256();
    let mut params = leaf_params(ID);
    params.not_after = rcgen::date_time_ymd(2030, 1, 1);
    let leaf = sign(&params, &key, &root("example.test"));
    assert_eq!(not_after(&leaf), Ok(1_893_456_000));
    // rcgen's default NotAfter, 4096-01-01, is a GeneralizedTime.
    assert_eq!(not_after(&leaf_for(&key)), Ok(67_090_118_400));
    assert!(matches!(
        not_after(&[0x30, 0x00]),
        Err(SvidError::CertificateStructure { index: 0, .. })
    ));
}

#[test]
fn openssl_made_svid() {
    // Independent of rcgen: core/src/testdata/generate.sh makes these with OpenSSL.
    const CA_EC: &[u8] = include_bytes!("../testdata/ca-ec.der");
    const CA_EC_KEY: &[u8] = include_bytes!("../testdata/ca-ec.key.der");
    const CA_RSA: &[u8] = include_bytes!("../testdata/ca-rsa.der");
    const LEAF: &[u8] = include_bytes!("../testdata/leaf-ec.der");
    const LEAF_KEY: &[u8] = include_bytes!("../testdata/leaf-ec.key.der");

    let svid = parse_svid(&cat(&[LEAF, CA_EC]), LEAF_KEY).unwrap();
    assert_eq!(svid.spiffe_id.as_str(), "spiffe://example.org/workload");
    assert_eq!(svid.certs, vec![LEAF.to_vec(), CA_EC.to_vec()]);
    assert_eq!(
        parse_svid(LEAF, CA_EC_KEY).unwrap_err(),
        SvidError::KeyMismatch
    );
    // The RSA CA has no keyUsage extension, so it cannot sign an SVID chain.
    assert_eq!(
        parse_svid(&cat(&[LEAF, CA_RSA]), LEAF_KEY).unwrap_err(),
        SvidError::SigningCertWithoutKeyCertSign { index: 1 }
    );
    // A CA certificate is no leaf: its SPIFFE ID has no path.
    assert_eq!(
        parse_svid(CA_EC, CA_EC_KEY).unwrap_err(),
        SvidError::LeafWithoutPath
    );
}

/// The elements inside a DER SEQUENCE, each with its header.
fn children(seq: &[u8]) -> Vec<Vec<u8>> {
    use der::{Decode, Reader, SliceReader};
    let mut reader = SliceReader::new(seq).unwrap();
    let content = der::asn1::AnyRef::decode(&mut reader).unwrap();
    let mut inner = SliceReader::new(content.value()).unwrap();
    let mut out = Vec::new();
    while !inner.is_finished() {
        out.push(inner.tlv_bytes().unwrap().to_vec());
    }
    out
}

/// A SEQUENCE of `parts`.
fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

#[test]
fn walked_not_after_equals_the_full_decode() {
    use der::Decode;
    use x509_cert::Certificate;
    let key = testpki::p256();
    let ca = root("example.test");
    let certs: [Vec<u8>; 6] = [
        include_bytes!("../testdata/ca-ec.der").to_vec(),
        include_bytes!("../testdata/ca-rsa.der").to_vec(),
        include_bytes!("../testdata/leaf-ec.der").to_vec(),
        leaf_for(&key),
        ca.der.clone(),
        sign(&leaf_params(ID), &key, &intermediate(&ca, "example.test")),
    ];
    for der in &certs {
        let full = Certificate::from_der(der).unwrap();
        let expected = super::cert_not_after(&full);
        assert_eq!(not_after(der), Ok(expected));
    }
}

#[test]
fn walk_refuses_what_is_not_a_certificate() {
    const LEAF: &[u8] = include_bytes!("../testdata/leaf-ec.der");
    let bad = |der: &[u8]| {
        assert!(
            matches!(
                not_after(der),
                Err(SvidError::CertificateStructure { index: 0, .. })
            ),
            "accepted {der:02x?}"
        );
    };
    for cut in 0..LEAF.len() {
        bad(&LEAF[..cut]);
    }
    bad(&[LEAF, &[0]].concat());

    let top = children(LEAF);
    let tbs = children(&top[0]);
    // tbs: [0] version, serial, signature, issuer, validity, subject, spki, [3] extensions.
    assert_eq!(tbs.len(), 8);
    let with_tbs =
        |fields: Vec<Vec<u8>>| sequence(&[sequence(&fields), top[1].clone(), top[2].clone()]);
    assert_eq!(
        with_tbs(tbs.clone()),
        LEAF,
        "the pieces rebuild the certificate"
    );

    let mut swapped = tbs.clone();
    swapped.swap(1, 3);
    bad(&with_tbs(swapped));
    let mut twice = tbs.clone();
    twice.push(tbs[7].clone());
    bad(&with_tbs(twice));
    let mut extra = tbs.clone();
    extra.push(tlv(0x30, &[]));
    bad(&with_tbs(extra));
    let mut no_spki = tbs.clone();
    no_spki.remove(6);
    bad(&with_tbs(no_spki));
    let mut octet_time = tbs.clone();
    let times = children(&tbs[4]);
    octet_time[4] = sequence(&[times[0].clone(), tlv(0x04, &times[1][2..])]);
    bad(&with_tbs(octet_time));
    let mut bad_time = tbs.clone();
    let mut time = times[1].clone();
    let month = if time[0] == 0x18 { 6 } else { 4 }; // GeneralizedTime: YYYY, UTCTime: YY
    time[month] = b'9';
    bad_time[4] = sequence(&[times[0].clone(), time]);
    bad(&with_tbs(bad_time));
    for time in [
        &b"20230229000000Z"[..],
        b"20240229240000Z",
        b"20240230000000Z",
    ] {
        let mut no_such_day = tbs.clone();
        no_such_day[4] = sequence(&[times[0].clone(), tlv(0x18, time)]);
        bad(&with_tbs(no_such_day));
    }
    let mut leap_day = tbs.clone();
    leap_day[4] = sequence(&[times[0].clone(), tlv(0x18, b"20240229235959Z")]);
    assert_eq!(not_after(&with_tbs(leap_day)), Ok(1_709_251_199));
    bad(&sequence(&[
        top[0].clone(),
        top[1].clone(),
        top[2].clone(),
        tlv(0x05, &[]),
    ]));
    bad(&sequence(&[top[0].clone(), top[1].clone()]));
}

#[test]
fn walked_times_equal_the_full_decode_across_calendar_edges() {
    use der::Decode;
    use x509_cert::Certificate;
    let key = testpki::p256();
    let ca = root("example.test");
    let dates = [
        (1970, 1, 1),
        (2000, 2, 29),
        (2024, 2, 29),
        (2049, 12, 31), // the last UTCTime year
        (2050, 1, 1),   // GeneralizedTime from here on
        (2100, 3, 1),
        (9999, 12, 31),
    ];
    for (y, m, d) in dates {
        let mut params = leaf_params(ID);
        params.not_after = rcgen::date_time_ymd(y, m, d);
        let leaf = sign(&params, &key, &ca);
        let full = Certificate::from_der(&leaf).unwrap();
        assert_eq!(
            not_after(&leaf),
            Ok(super::cert_not_after(&full)),
            "{y}-{m}-{d}"
        );
    }
    // 1969 is a UTCTime of 1969, before the Unix epoch: refused by both.
    let mut params = leaf_params(ID);
    params.not_after = rcgen::date_time_ymd(1969, 12, 31);
    let leaf = sign(&params, &key, &ca);
    assert!(Certificate::from_der(&leaf).is_err());
    assert!(matches!(
        not_after(&leaf),
        Err(SvidError::CertificateStructure { index: 0, .. })
    ));
}
