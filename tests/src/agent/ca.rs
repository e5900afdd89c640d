//! The agent's in-memory certificate authority (rcgen): a root CA per trust domain, an optional
//! intermediate, and leaf X.509-SVIDs shaped like SPIRE's (X509-SVID.md §4, §5).

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
    SerialNumber,
};
use std::time::Duration;
use time::OffsetDateTime;

/// How far NotBefore of a leaf is backdated, as SPIRE does against clock skew.
pub const BACKDATE: Duration = Duration::from_secs(10);
/// Shortest lifetime of the CA certificates; longer when leaves live longer.
pub const CA_TTL: Duration = Duration::from_secs(24 * 3600);

/// A self-signed root CA (optionally with an intermediate) that issues X.509-SVIDs.
pub struct Authority {
    root: CertifiedIssuer<'static, KeyPair>,
    intermediate: Option<CertifiedIssuer<'static, KeyPair>>,
    next_serial: u64,
}

/// One freshly issued X.509-SVID, in the Workload API's wire shapes.
#[derive(Clone, Debug)]
pub struct IssuedSvid {
    /// The leaf's SPIFFE ID (its only URI SAN).
    pub spiffe_id: String,
    /// DER leaf followed by the DER intermediate, if any.
    pub chain_der: Vec<u8>,
    /// The leaf's private key, PKCS#8 DER.
    pub key_pkcs8: Vec<u8>,
    /// The serial number in the form `openssl x509 -serial` prints it (upper-case hex).
    pub serial_hex: String,
    /// NotAfter as Unix seconds.
    pub not_after: i64,
}

impl Authority {
    /// Creates a root CA for `trust_domain` (URI SAN `spiffe://<td>`), and an intermediate if
    /// asked. The CA lifetime covers at least two leaf lifetimes.
    pub fn new(
        trust_domain: &str,
        intermediate: bool,
        leaf_ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<Self, rcgen::Error> {
        let ca_ttl = CA_TTL.max(leaf_ttl.saturating_mul(2));
        let root_params = ca_params(trust_domain, "svid-dev-agent root CA", now, ca_ttl)?;
        let root = CertifiedIssuer::self_signed(root_params, new_key()?)?;
        let intermediate = if intermediate {
            let params = ca_params(trust_domain, "svid-dev-agent intermediate CA", now, ca_ttl)?;
            Some(CertifiedIssuer::signed_by(params, new_key()?, &root)?)
        } else {
            None
        };
        // Serials grow within a run and differ across runs: Unix seconds in the high bits.
        let base = u64::try_from(now.unix_timestamp()).unwrap_or(0) << 20;
        Ok(Self {
            root,
            intermediate,
            next_serial: base.max(1),
        })
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        self.root.der()
    }

    /// Issues a leaf X.509-SVID for `spiffe_id`: EC P-256, CA:FALSE (critical), keyUsage
    /// digitalSignature + keyEncipherment + keyAgreement (critical), EKU serverAuth +
    /// clientAuth, NotBefore = now - 10 s, NotAfter = now + `ttl`.
    pub fn issue(
        &mut self,
        spiffe_id: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<IssuedSvid, rcgen::Error> {
        let serial = self.next_serial.to_be_bytes();
        self.next_serial = self.next_serial.wrapping_add(1);
        let first = serial
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(serial.len() - 1);
        let serial = &serial[first..];

        let mut params = CertificateParams::default();
        params.serial_number = Some(SerialNumber::from_slice(serial));
        params.distinguished_name = subject("SPIRE");
        params.subject_alt_names = vec![SanType::URI(spiffe_id.try_into()?)];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyAgreement,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - BACKDATE;
        let not_after = now + ttl;
        params.not_after = not_after;

        let key = new_key()?;
        let issuer = self.intermediate.as_ref().unwrap_or(&self.root);
        let leaf = params.signed_by(&key, issuer)?;
        let mut chain_der = leaf.der().to_vec();
        if let Some(intermediate) = &self.intermediate {
            chain_der.extend_from_slice(intermediate.der());
        }
        Ok(IssuedSvid {
            spiffe_id: spiffe_id.to_owned(),
            chain_der,
            key_pkcs8: key.serialize_der(),
            serial_hex: serial.iter().map(|b| format!("{b:02X}")).collect(),
            not_after: not_after.unix_timestamp(),
        })
    }
}

/// `count` self-signed roots of the trust domains `fed0.test`, `fed1.test`, ..., as
/// (`spiffe://<td>`, DER) pairs. They share one key: only the bundle's size matters to a
/// test, and signing is then the whole cost (10,000 roots in about a second).
pub fn federated_roots(
    count: u32,
    ttl: Duration,
    now: OffsetDateTime,
) -> Result<Vec<(String, Vec<u8>)>, rcgen::Error> {
    let key = new_key()?;
    (0..count)
        .map(|i| {
            let td = format!("fed{i}.test");
            let params = ca_params(&td, "svid-dev-agent federated root", now, ttl)?;
            let cert = params.self_signed(&key)?;
            Ok((format!("spiffe://{td}"), cert.der().to_vec()))
        })
        .collect()
}

/// Parameters of a signing certificate: CA:TRUE, keyCertSign + cRLSign, URI SAN `spiffe://td`.
fn ca_params(
    trust_domain: &str,
    common_name: &str,
    now: OffsetDateTime,
    ttl: Duration,
) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::default();
    let mut dn = subject("SPIFFE");
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.subject_alt_names = vec![SanType::URI(format!("spiffe://{trust_domain}").try_into()?)];
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - Duration::from_secs(60);
    params.not_after = now + ttl;
    Ok(params)
}

fn subject(organization: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::OrganizationName, organization);
    dn
}

fn new_key() -> Result<KeyPair, rcgen::Error> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_increase_and_print_like_openssl() {
        let now = OffsetDateTime::now_utc();
        let mut ca = Authority::new("example.org", true, Duration::from_secs(60), now).unwrap();
        let a = ca
            .issue("spiffe://example.org/w", Duration::from_secs(60), now)
            .unwrap();
        let b = ca
            .issue("spiffe://example.org/w", Duration::from_secs(60), now)
            .unwrap();
        let value = |hex: &str| u64::from_str_radix(hex, 16).unwrap();
        assert_eq!(value(&b.serial_hex), value(&a.serial_hex) + 1);
        assert_eq!(a.serial_hex.len() % 2, 0, "whole bytes, as openssl prints");
        assert_eq!(a.serial_hex, a.serial_hex.to_uppercase());
        assert_eq!(
            a.not_after,
            (now + Duration::from_secs(60)).unix_timestamp()
        );
        assert_ne!(a.key_pkcs8, b.key_pkcs8, "every SVID has a fresh key");
    }

    #[test]
    fn federated_roots_are_distinct_cas() {
        let now = OffsetDateTime::now_utc();
        let roots = federated_roots(3, CA_TTL, now).unwrap();
        let ids: Vec<&str> = roots.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "spiffe://fed0.test",
                "spiffe://fed1.test",
                "spiffe://fed2.test"
            ]
        );
        assert_ne!(roots[0].1, roots[1].1);
        assert!(roots.iter().all(|(_, der)| der[0] == 0x30));
    }

    #[test]
    fn chain_is_leaf_then_intermediate_only_when_asked() {
        let now = OffsetDateTime::now_utc();
        let ttl = Duration::from_secs(60);
        let mut plain = Authority::new("example.org", false, ttl, now).unwrap();
        let mut layered = Authority::new("example.org", true, ttl, now).unwrap();
        let single = plain.issue("spiffe://example.org/w", ttl, now).unwrap();
        let double = layered.issue("spiffe://example.org/w", ttl, now).unwrap();
        // Each certificate starts with SEQUENCE (0x30); a chain of two holds two of them back
        // to back, and the intermediate is appended after the leaf.
        let intermediate = layered.intermediate.as_ref().unwrap().der().to_vec();
        assert!(double.chain_der.ends_with(&intermediate));
        assert!(!single.chain_der.ends_with(plain.root_der()));
        assert!(double.chain_der.len() > single.chain_der.len());
    }
}
