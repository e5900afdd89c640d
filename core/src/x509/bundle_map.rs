//! The SPIFFE bundle map of `spiffe_bundle_map_file_name`: every trust domain's X.509 roots
//! as the JSON that gRPC's `spiffe_trust_bundle_map_file` reads (gRFC A87, "Configuring
//! SPIFFE Verification via xDS").
//!
//! The format is the SPIFFE Trust Domain and Bundle standard's:
//! - §5.1.1: one object with a `trust_domains` member mapping each trust-domain name (unique,
//!   here in name order) to that domain's SPIFFE bundle; no `spiffe_refresh_hint` in a map;
//! - §4.1: each bundle a JWK Set (RFC 7517 §5) whose `keys` member is always present (empty
//!   when a domain has no root left). `spiffe_sequence` is a SHOULD (§4.1.1) that must grow
//!   with every change; the Workload API's X.509 response carries none, and one made up here
//!   could go backwards across restarts, so it is left out;
//! - §4.2 and X509-SVID §6.1: one JWK per root, `use` = `x509-svid`, no `kid`, `x5c` = the one
//!   certificate in standard base64 DER (RFC 7517 §4.7), `kty` (RFC 7517 §4.1) and the public
//!   key's members: `crv`, `x`, `y` for EC (RFC 7518 §6.2.1), `n`, `e` for RSA (RFC 7518
//!   §6.3.1), `crv`, `x` for Ed25519 (`kty` `OKP`, RFC 8037 §2), in base64url without padding.
//!
//! gRPC reads `kty`, `use` and `x5c` only and ignores a whole bundle if one key is odd (A87);
//! the key members are there for the other readers of the format (go-spiffe's
//! `spiffebundle.Parse` among them).
//!
//! With the JWT bundles (`jwt_bundle_file_name` set), each trust domain's JWT signing keys
//! follow its roots (§4.2.2): `use` = `jwt-svid`, then the key as go-jose marshals it (its
//! `kid` included, as go-spiffe's `spiffebundle.Bundle.Marshal` writes a JWT authority). A
//! trust domain with JWT keys only has no X.509 key. The X.509 half is encoded once per
//! X.509 update ([`X509Keys`]) and joined with each JWT bundle that comes.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use der::Decode;
use der::asn1::ObjectIdentifier;
use x509_cert::Certificate;

use super::RenderError;
use super::key::{EC_PUBLIC_KEY, ED25519, P256_CURVE, P384_CURVE, RSA_ENCRYPTION, rsa_public_key};
use crate::jwt::{Jwks, b64};
use crate::spiffe_id::TrustDomain;

/// `secp521r1` (RFC 5480 §2.1.1.1).
const P521_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// Why a root cannot be written as a JWK.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The certificate does not decode as X.509 (RFC 5280 §4.1).
    Certificate(der::Error),
    /// Its public key algorithm has no JWK form here (neither RSA, EC nor Ed25519).
    Algorithm(ObjectIdentifier),
    /// An EC key on a curve other than P-256, P-384 and P-521, or without a named curve.
    Curve,
    /// The public key bits are not a well-formed key of their algorithm (an EC point that is
    /// not uncompressed, an RSAPublicKey that does not decode, an Ed25519 key not 32 bytes).
    PublicKey,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Certificate(e) => write!(f, "not an X.509 certificate: {e}"),
            Self::Algorithm(oid) => write!(f, "public key algorithm {oid} has no JWK form"),
            Self::Curve => f.write_str("EC key not on P-256, P-384 or P-521"),
            Self::PublicKey => f.write_str("malformed public key"),
        }
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl core::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Certificate(e) => Some(e),
            _ => None,
        }
    }
}

/// The X.509 half of a bundle map: each trust domain's root JWKs, encoded and joined by
/// commas, in trust-domain name order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct X509Keys(Vec<(String, Vec<u8>)>);

/// The root JWKs of `roots`: (trust-domain name, DER roots), names unique and in order
/// (the bundle set's order).
pub(super) fn x509_keys<'a, C>(
    roots: impl Iterator<Item = (&'a str, C)>,
) -> Result<X509Keys, RenderError>
where
    C: Iterator<Item = &'a [u8]>,
{
    let mut keys = Vec::new();
    for (td, certs) in roots {
        let mut out = Vec::new();
        for (index, der) in certs.enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write_jwk(der, &mut out).map_err(|error| RenderError::BundleMapKey {
                trust_domain: td.into(),
                index,
                error,
            })?;
        }
        keys.push((String::from(td), out));
    }
    Ok(X509Keys(keys))
}

/// The bundle map of `x509` and, if given, the JWT keys of `jwt`: every trust domain of
/// either, in name order (both maps are sorted by name, so they are merged as they are
/// walked). Trust-domain names are written unescaped: the SPIFFE ID standard (§2.1) allows
/// only `a-z 0-9 . - _` in them, which [`TrustDomain`] enforces.
pub fn encode(x509: &X509Keys, jwt: Option<&BTreeMap<TrustDomain, Jwks>>) -> Vec<u8> {
    let mut roots = x509
        .0
        .iter()
        .map(|(td, keys)| (td.as_str(), keys))
        .peekable();
    debug_assert!(x509.0.windows(2).all(|w| w[0].0 < w[1].0));
    let mut jwt = jwt
        .into_iter()
        .flatten()
        .map(|(td, jwks)| (td.as_str(), jwks))
        .peekable();
    let mut out = Vec::from(&b"{\"trust_domains\":{"[..]);
    let mut first = true;
    loop {
        let td = match (roots.peek(), jwt.peek()) {
            (Some(&(a, _)), Some(&(b, _))) => a.min(b),
            (Some(&(a, _)), None) => a,
            (None, Some(&(b, _))) => b,
            (None, None) => break,
        };
        let root_keys = roots.next_if(|&(name, _)| name == td).map(|(_, keys)| keys);
        let jwks = jwt.next_if(|&(name, _)| name == td).map(|(_, jwks)| jwks);
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(td.as_bytes());
        out.extend_from_slice(b"\":{\"keys\":[");
        let root_keys = root_keys.filter(|keys| !keys.is_empty());
        if let Some(keys) = root_keys {
            out.extend_from_slice(keys);
        }
        let jwt_keys = jwks.map_or(&[][..], Jwks::keys);
        for (index, key) in jwt_keys.iter().enumerate() {
            if index > 0 || root_keys.is_some() {
                out.push(b',');
            }
            key.write_json_with_use(Some("jwt-svid"), &mut out);
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"}}\n");
    out
}

/// A JWK's `kty`, `crv` (if any) and key members with their raw values.
type JwkParts<'a> = (
    &'static str,
    Option<&'static str>,
    Vec<(&'static str, &'a [u8])>,
);

/// Appends the JWK of one root certificate.
fn write_jwk(der: &[u8], out: &mut Vec<u8>) -> Result<(), KeyError> {
    let cert = Certificate::from_der(der).map_err(KeyError::Certificate)?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyError::PublicKey)?;
    let oid = spki.algorithm.oid;
    let (kty, crv, members): JwkParts<'_> = if oid == RSA_ENCRYPTION {
        let (n, e) = rsa_public_key(key).map_err(|_| KeyError::PublicKey)?;
        ("RSA", None, vec![("n", n.as_bytes()), ("e", e.as_bytes())])
    } else if oid == EC_PUBLIC_KEY {
        let curve: Option<ObjectIdentifier> = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as().ok());
        let (crv, size) = match curve {
            Some(P256_CURVE) => ("P-256", 32),
            Some(P384_CURVE) => ("P-384", 48),
            Some(P521_CURVE) => ("P-521", 66),
            _ => return Err(KeyError::Curve),
        };
        let point = match key {
            [4, point @ ..] if point.len() == 2 * size => point,
            _ => return Err(KeyError::PublicKey),
        };
        let (x, y) = point.split_at(size);
        ("EC", Some(crv), vec![("x", x), ("y", y)])
    } else if oid == ED25519 {
        if key.len() != 32 {
            return Err(KeyError::PublicKey);
        }
        ("OKP", Some("Ed25519"), vec![("x", key)])
    } else {
        return Err(KeyError::Algorithm(oid));
    };
    out.extend_from_slice(b"{\"use\":\"x509-svid\",\"kty\":\"");
    out.extend_from_slice(kty.as_bytes());
    out.push(b'"');
    if let Some(crv) = crv {
        out.extend_from_slice(b",\"crv\":\"");
        out.extend_from_slice(crv.as_bytes());
        out.push(b'"');
    }
    for (name, value) in members {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":\"");
        b64::encode(value, out);
        out.push(b'"');
    }
    out.extend_from_slice(b",\"x5c\":[\"");
    crate::pem::base64(der, out);
    out.extend_from_slice(b"\"]}");
    Ok(())
}
