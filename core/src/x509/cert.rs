//! The X509-SVID certificate rules (SPIFFE X509-SVID §4 and §5, as go-spiffe applies them)
//! on certificates decoded by `x509-cert`.

use alloc::string::String;

use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, SubjectAltName};

use super::SvidError;

/// The single URI SAN of `cert` (RFC 5280 §4.2.1.6), as go-spiffe's `x509svid.IDFromCert`.
pub(crate) fn uri_san(cert: &Certificate, index: usize) -> Result<String, SvidError> {
    let san = cert
        .tbs_certificate()
        .get_extension::<SubjectAltName>()
        .map_err(|error| SvidError::Extension { index, error })?;
    let mut uris = san
        .iter()
        .flat_map(|(_, names)| names.0.iter())
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.as_str()),
            _ => None,
        });
    match (uris.next(), uris.next()) {
        (None, _) => Err(SvidError::NoUriSan),
        (Some(uri), None) => Ok(uri.into()),
        (Some(_), Some(_)) => Err(SvidError::MultipleUriSans),
    }
}

/// Leaf rules: not a CA (an absent basicConstraints counts as not a CA, like go-spiffe);
/// keyUsage has digitalSignature and neither keyCertSign nor cRLSign (an absent keyUsage has
/// no bits, so it fails the first test).
pub(crate) fn check_leaf(cert: &Certificate) -> Result<(), SvidError> {
    if is_ca(cert, 0)? {
        return Err(SvidError::LeafIsCa);
    }
    let usage = key_usage(cert, 0)?;
    if !usage.is_some_and(|u| u.digital_signature()) {
        return Err(SvidError::LeafWithoutDigitalSignature);
    }
    if usage.is_some_and(|u| u.key_cert_sign()) {
        return Err(SvidError::LeafWithKeyCertSign);
    }
    if usage.is_some_and(|u| u.crl_sign()) {
        return Err(SvidError::LeafWithCrlSign);
    }
    Ok(())
}

/// Signing-certificate rules for chain element `index` (>= 1): CA flag and keyCertSign.
pub(crate) fn check_signing(cert: &Certificate, index: usize) -> Result<(), SvidError> {
    if !is_ca(cert, index)? {
        return Err(SvidError::SigningCertNotCa { index });
    }
    if !key_usage(cert, index)?.is_some_and(|u| u.key_cert_sign()) {
        return Err(SvidError::SigningCertWithoutKeyCertSign { index });
    }
    Ok(())
}

/// `cA` of basicConstraints (RFC 5280 §4.2.1.9); absent means false.
fn is_ca(cert: &Certificate, index: usize) -> Result<bool, SvidError> {
    let bc = cert
        .tbs_certificate()
        .get_extension::<BasicConstraints>()
        .map_err(|error| SvidError::Extension { index, error })?;
    Ok(bc.is_some_and(|(_, bc)| bc.ca))
}

/// keyUsage (RFC 5280 §4.2.1.3), if present.
fn key_usage(cert: &Certificate, index: usize) -> Result<Option<KeyUsage>, SvidError> {
    let ku = cert
        .tbs_certificate()
        .get_extension::<KeyUsage>()
        .map_err(|error| SvidError::Extension { index, error })?;
    Ok(ku.map(|(_, ku)| ku))
}
