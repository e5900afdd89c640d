//! Test PKI: real certificates and keys made with rcgen (ring) for the X.509 tests, plus
//! RSA and Ed25519 v1 keys made once with `openssl genpkey` (ring cannot generate RSA keys;
//! it writes Ed25519 keys as PKCS#8 v2) and checked in under `testdata/`.

use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use crate::proto::{FederatedBundle, X509svid, X509svidResponse};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SignatureAlgorithm,
};

/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`, then
/// `openssl pkcs8 -topk8 -nocrypt -outform DER`.
pub(crate) const RSA_A: &[u8] = include_bytes!("testdata/rsa2048-a.pk8.der");
/// A second, unrelated RSA key made the same way.
pub(crate) const RSA_B: &[u8] = include_bytes!("testdata/rsa2048-b.pk8.der");
/// `openssl genpkey -algorithm ed25519 -outform DER`: PKCS#8 v1, no public key.
pub(crate) const ED25519_V1: &[u8] = include_bytes!("testdata/ed25519-v1.pk8.der");

/// A fresh key of `alg` (EC or Ed25519, which ring can generate).
pub(crate) fn key(alg: &'static SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).unwrap()
}

/// A P-256 key, SPIRE's default.
pub(crate) fn p256() -> KeyPair {
    key(&rcgen::PKCS_ECDSA_P256_SHA256)
}

/// An RSA key from checked-in PKCS#8 DER.
pub(crate) fn rsa(der: &[u8]) -> KeyPair {
    KeyPair::from_pkcs8_der_and_sign_algo(&der.to_vec().into(), &rcgen::PKCS_RSA_SHA256).unwrap()
}

/// The checked-in Ed25519 v1 key (OpenSSL 3.0 cannot read ring's v2 Ed25519 keys).
pub(crate) fn ed25519_v1() -> KeyPair {
    KeyPair::from_pkcs8_der_and_sign_algo(&ED25519_V1.to_vec().into(), &rcgen::PKCS_ED25519)
        .unwrap()
}

/// A certificate authority: its parameters, key and DER.
pub(crate) struct Ca {
    pub params: CertificateParams,
    pub key: KeyPair,
    pub der: Vec<u8>,
}

/// CA parameters like SPIRE's: URI SAN `spiffe://<td>`, CA:TRUE, keyCertSign + cRLSign.
pub(crate) fn ca_params(td: &str, name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.subject_alt_names = vec![uri(&["spiffe://", td].concat())];
    params
}

/// A self-signed root for `td`.
pub(crate) fn root(td: &str) -> Ca {
    root_with(ca_params(td, &["root ", td].concat()), p256())
}

/// A self-signed root from `params` and `key`.
pub(crate) fn root_with(params: CertificateParams, key: KeyPair) -> Ca {
    let der = params.self_signed(&key).unwrap().der().to_vec();
    Ca { params, key, der }
}

/// An intermediate CA of `td` signed by `parent`.
pub(crate) fn intermediate(parent: &Ca, td: &str) -> Ca {
    intermediate_with(parent, ca_params(td, &["intermediate ", td].concat()))
}

/// An intermediate signed by `parent` from `params`.
pub(crate) fn intermediate_with(parent: &Ca, params: CertificateParams) -> Ca {
    let key = p256();
    let der = sign(&params, &key, parent);
    Ca { params, key, der }
}

/// Leaf parameters like SPIRE's: URI SAN `id`, CA:FALSE, keyUsage digitalSignature
/// (critical), EKU serverAuth + clientAuth.
pub(crate) fn leaf_params(id: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "workload");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.subject_alt_names = vec![uri(id)];
    params
}

/// DER of a certificate for `key`'s public key, from `params`, signed by `issuer`.
pub(crate) fn sign(params: &CertificateParams, key: &KeyPair, issuer: &Ca) -> Vec<u8> {
    let issuer = Issuer::from_params(&issuer.params, &issuer.key);
    params.signed_by(key, &issuer).unwrap().der().to_vec()
}

/// A URI SAN.
pub(crate) fn uri(s: &str) -> SanType {
    SanType::URI(s.to_string().try_into().unwrap())
}

/// PEM `CERTIFICATE` blocks of `ders` as rcgen's `pem` crate writes them (LF line ends):
/// an encoder independent of ours, to compare files against.
pub(crate) fn pem_certs(ders: &[&[u8]]) -> Vec<u8> {
    let mut out = String::new();
    for der in ders {
        out.push_str(&pem::encode_config(
            &pem::Pem::new("CERTIFICATE", der.to_vec()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        ));
    }
    out.into_bytes()
}

/// PEM `PRIVATE KEY` of PKCS#8 `der`, written by the `pem` crate.
pub(crate) fn pem_key(der: &[u8]) -> Vec<u8> {
    pem::encode_config(
        &pem::Pem::new("PRIVATE KEY", der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
    .into_bytes()
}

/// The SPIFFE ID of [`svid_response`]'s SVID.
pub(crate) const WORKLOAD_ID: &str = "spiffe://example.test/workload";

/// A response for one SVID of [`WORKLOAD_ID`] (key `leaf_key`) under root -> intermediate of
/// example.test, with `federated` (key, concatenated DER); and the leaf, intermediate and root
/// DER.
pub(crate) fn svid_response(
    leaf_key: &KeyPair,
    federated: &[(&str, Vec<u8>)],
) -> (X509svidResponse, Vec<Vec<u8>>) {
    let root = root("example.test");
    let int = intermediate(&root, "example.test");
    let leaf = sign(&leaf_params(WORKLOAD_ID), leaf_key, &int);
    let svid = X509svid {
        spiffe_id: WORKLOAD_ID.to_string(),
        x509_svid: cat(&[&leaf, &int.der]).into(),
        x509_svid_key: leaf_key.serialize_der().into(),
        bundle: root.der.clone().into(),
        hint: String::new(),
    };
    let federated: Vec<(&str, &[u8])> = federated.iter().map(|(k, v)| (*k, &v[..])).collect();
    (
        response(vec![svid], &federated),
        vec![leaf, int.der, root.der],
    )
}

/// A message of `svids` and `federated` (key, concatenated DER) bundles.
pub(crate) fn response(svids: Vec<X509svid>, federated: &[(&str, &[u8])]) -> X509svidResponse {
    X509svidResponse {
        svids,
        crl: Vec::new(),
        federated_bundles: federated
            .iter()
            .map(|(k, v)| FederatedBundle {
                key: k.to_string(),
                value: v.to_vec().into(),
            })
            .collect(),
    }
}

/// Concatenated DER.
pub(crate) fn cat(ders: &[&[u8]]) -> Vec<u8> {
    ders.concat()
}

/// A DER TLV with a short or long-form length (X.690 §8.1.3).
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}
