//! X.509-SVIDs: parsing and validating a chain and its key with the SPIFFE X509-SVID rules
//! (go-spiffe's `x509svid.ParseRaw`), and rendering one `FetchX509SVID` message into the three
//! files upstream `spiffe-helper` writes (`pkg/disk/x509.go@v0.11.0`; see [`render`]).
//!
//! [`parse_svid`] verifies no signature: like go-spiffe's parser, it checks structure and the
//! SVID rules, and expiry is not a parse error. [`verify_svid`] adds the checks a TLS peer
//! makes (signatures, validity, constraints, key usage) and proves the key pair by arithmetic.

mod bundle_map;
mod cert;
#[cfg(test)]
mod formats_tests;
mod key;
#[cfg(test)]
mod openssl_tests;
#[cfg(feature = "verify")]
pub mod pkcs12;
#[cfg(all(test, feature = "verify"))]
mod pkcs12_tests;
mod render;
#[cfg(test)]
mod render_tests;
#[cfg(test)]
mod svid_tests;
#[cfg(test)]
pub(crate) mod testpki;
#[cfg(feature = "verify")]
mod verify;
#[cfg(all(test, feature = "verify"))]
mod verify_tests;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use der::Decode;
use der::asn1::ObjectIdentifier;
use x509_cert::Certificate;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::der::{DerError, split_concatenated};
use crate::spiffe_id::{IdError, SpiffeId};

pub use bundle_map::{KeyError, X509Keys, encode as encode_bundle_map};
pub use render::{
    EntryOptions, MAX_TRUST_DOMAIN_FILE_STEM, MapJwt, Pkcs12Contents, RenderError, RenderOptions,
    Rendered, SvidFiles, TrustDomainBundle, is_trust_domain_file_stem, render,
};
#[cfg(feature = "verify")]
pub use verify::{
    ALGORITHMS, CACHE_ENTRIES, CertError, CertErrorKind, VerifyCache, VerifyError, render_verified,
    render_verified_cached, verify_svid,
};

/// One validated X.509-SVID (leaf + intermediates) and its key.
#[derive(Clone, PartialEq, Eq)]
pub struct X509Svid {
    /// The SPIFFE ID in the leaf's URI SAN.
    pub spiffe_id: SpiffeId,
    /// DER certificates, leaf first, then intermediates, as received.
    pub certs: Vec<Vec<u8>>,
    /// The PKCS#8 private key, as received.
    pub key_pkcs8: Vec<u8>,
    /// The operator's hint (empty from [`parse_svid`]; [`render`] fills it from the message).
    pub hint: String,
    /// The leaf's public key, kept from the parse for the key-pair check of [`verify_svid`]
    /// so that the leaf is not decoded a second time.
    leaf_key: SubjectPublicKeyInfoOwned,
}

impl fmt::Debug for X509Svid {
    /// Leaves the private key out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("X509Svid")
            .field("spiffe_id", &self.spiffe_id)
            .field("certs", &self.certs.len())
            .field("hint", &self.hint)
            .finish_non_exhaustive()
    }
}

/// Why a chain and key are not a valid X.509-SVID. The messages follow go-spiffe's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SvidError {
    /// The chain is not back-to-back DER.
    Chain(DerError),
    /// The chain holds no certificate.
    NoCertificates,
    /// Certificate `index` (0 = leaf) is not a DER X.509 certificate.
    Certificate {
        /// Position in the chain.
        index: usize,
        /// The decoding error.
        error: der::Error,
    },
    /// Certificate `index` does not have the structure of an X.509 certificate (RFC 5280
    /// §4.1), found by the walk that reads a bundle certificate's NotAfter.
    CertificateStructure {
        /// Position in the chain or bundle.
        index: usize,
        /// What is wrong, and where.
        error: DerError,
    },
    /// An extension of certificate `index` is malformed or present twice.
    Extension {
        /// Position in the chain.
        index: usize,
        /// The decoding error.
        error: der::Error,
    },
    /// The leaf has no URI SAN.
    NoUriSan,
    /// The leaf has more than one URI SAN.
    MultipleUriSans,
    /// The leaf's URI SAN is not a SPIFFE ID.
    InvalidSpiffeId(IdError),
    /// The leaf's SPIFFE ID has no path (X509-SVID §2: a leaf names a workload).
    LeafWithoutPath,
    /// The leaf's basicConstraints has `cA` set.
    LeafIsCa,
    /// The leaf's keyUsage lacks `digitalSignature` (or is absent).
    LeafWithoutDigitalSignature,
    /// The leaf's keyUsage has `keyCertSign`.
    LeafWithKeyCertSign,
    /// The leaf's keyUsage has `cRLSign`.
    LeafWithCrlSign,
    /// Chain element `index` (an intermediate) is not a CA.
    SigningCertNotCa {
        /// Position in the chain.
        index: usize,
    },
    /// Chain element `index` (an intermediate) lacks `keyCertSign`.
    SigningCertWithoutKeyCertSign {
        /// Position in the chain.
        index: usize,
    },
    /// The key is not a DER PKCS#8 `PrivateKeyInfo`, or its inner key is malformed.
    KeyDer(der::Error),
    /// The key's algorithm is not RSA, EC or Ed25519.
    UnsupportedKeyAlgorithm(ObjectIdentifier),
    /// The key's public part differs from the leaf's public key.
    KeyMismatch,
}

impl fmt::Display for SvidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Chain(e) => write!(f, "cannot parse DER encoded certificate: {e}"),
            Self::NoCertificates => f.write_str("no certificates found"),
            Self::Certificate { index, error } => {
                write!(f, "cannot parse DER encoded certificate {index}: {error}")
            }
            Self::CertificateStructure { index, error } => {
                write!(f, "cannot parse DER encoded certificate {index}: {error}")
            }
            Self::Extension { index, error } => {
                write!(
                    f,
                    "certificate {index} has a malformed or duplicate extension: {error}"
                )
            }
            Self::NoUriSan => f.write_str("certificate contains no URI SAN"),
            Self::MultipleUriSans => f.write_str("certificate contains more than one URI SAN"),
            Self::InvalidSpiffeId(e) => write!(f, "cannot get leaf certificate SPIFFE ID: {e}"),
            Self::LeafWithoutPath => {
                f.write_str("leaf certificate SPIFFE ID must have a non-empty path")
            }
            Self::LeafIsCa => f.write_str("leaf certificate must not have CA flag set to true"),
            Self::LeafWithoutDigitalSignature => {
                f.write_str("leaf certificate must have 'digitalSignature' set as key usage")
            }
            Self::LeafWithKeyCertSign => {
                f.write_str("leaf certificate must not have 'keyCertSign' set as key usage")
            }
            Self::LeafWithCrlSign => {
                f.write_str("leaf certificate must not have 'cRLSign' set as key usage")
            }
            Self::SigningCertNotCa { index } => {
                write!(
                    f,
                    "signing certificate {index} must have CA flag set to true"
                )
            }
            Self::SigningCertWithoutKeyCertSign { index } => write!(
                f,
                "signing certificate {index} must have 'keyCertSign' set as key usage"
            ),
            Self::KeyDer(e) => write!(f, "cannot parse DER encoded private key: {e}"),
            Self::UnsupportedKeyAlgorithm(oid) => {
                write!(f, "unsupported private key algorithm {oid}")
            }
            Self::KeyMismatch => f.write_str("leaf certificate does not match private key"),
        }
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl core::error::Error for SvidError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Chain(e) | Self::CertificateStructure { error: e, .. } => Some(e),
            Self::Certificate { error: e, .. }
            | Self::Extension { error: e, .. }
            | Self::KeyDer(e) => Some(e),
            Self::InvalidSpiffeId(e) => Some(e),
            _ => None,
        }
    }
}

/// Parses and validates an X.509-SVID: `chain_der` is concatenated DER certificates, leaf
/// first; `key_pkcs8` is an unencrypted PKCS#8 key (Workload API wire §4.4).
///
/// Order of checks (go-spiffe's): every certificate decodes, the key decodes, the leaf rules,
/// the signing-certificate rules, then the key matches the leaf.
pub fn parse_svid(chain_der: &[u8], key_pkcs8: &[u8]) -> Result<X509Svid, SvidError> {
    parse_with_expiry(chain_der, key_pkcs8).map(|(svid, _)| svid)
}

/// [`parse_svid`], also returning each chain certificate's NotAfter (Unix seconds).
fn parse_with_expiry(
    chain_der: &[u8],
    key_pkcs8: &[u8],
) -> Result<(X509Svid, Vec<i64>), SvidError> {
    let ders = split_concatenated(chain_der).map_err(SvidError::Chain)?;
    let certs = ders
        .iter()
        .enumerate()
        .map(|(index, der)| {
            Certificate::from_der(der).map_err(|error| SvidError::Certificate { index, error })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let key = key::parse_key(key_pkcs8)?;
    let (leaf, signers) = certs.split_first().ok_or(SvidError::NoCertificates)?;
    let uri = cert::uri_san(leaf, 0)?;
    let spiffe_id = SpiffeId::parse(&uri).map_err(SvidError::InvalidSpiffeId)?;
    if spiffe_id.path().is_empty() {
        return Err(SvidError::LeafWithoutPath);
    }
    cert::check_leaf(leaf)?;
    for (i, signer) in signers.iter().enumerate() {
        cert::check_signing(signer, i + 1)?;
    }
    key::check_key(&key, leaf.tbs_certificate().subject_public_key_info())?;
    let svid = X509Svid {
        spiffe_id,
        certs: ders.iter().map(|d| d.to_vec()).collect(),
        key_pkcs8: key_pkcs8.to_vec(),
        hint: String::new(),
        leaf_key: leaf.tbs_certificate().subject_public_key_info().clone(),
    };
    Ok((svid, certs.iter().map(cert_not_after).collect()))
}

/// NotAfter of a DER certificate as Unix seconds (RFC 5280 §4.1.2.5), read by a walk of the
/// certificate's structure rather than a full decode.
pub fn not_after(cert_der: &[u8]) -> Result<i64, SvidError> {
    cert::walk_not_after(cert_der)
        .map_err(|error| SvidError::CertificateStructure { index: 0, error })
}

/// The serial number of a DER certificate in upper-case hex, as `openssl x509 -serial`
/// prints it (RFC 5280 §4.1.2.2), read by the structural walk rather than a full decode.
pub fn serial_hex(cert_der: &[u8]) -> Result<String, SvidError> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let serial = cert::walk_serial(cert_der)
        .map_err(|error| SvidError::CertificateStructure { index: 0, error })?;
    // The 0x00 that keeps a positive INTEGER's high bit clear is not part of the number.
    let serial = match serial {
        [0, rest @ ..] if rest.first().is_some_and(|b| b & 0x80 != 0) => rest,
        _ => serial,
    };
    Ok(serial
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
        .map(char::from)
        .collect())
}

/// NotAfter of a decoded certificate as Unix seconds.
fn cert_not_after(cert: &Certificate) -> i64 {
    cert::unix_seconds(&cert.tbs_certificate().validity().not_after)
}
