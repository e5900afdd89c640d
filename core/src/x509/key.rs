//! PKCS#8 private keys (RFC 5208, RFC 5958) and the crypto-free check that a key belongs to
//! the leaf certificate.
//!
//! No signature is made or verified here. The check compares the public material the key
//! carries with the leaf's SubjectPublicKeyInfo:
//! - the key algorithm (and, for EC, the named curve) must equal the leaf's;
//! - RSA: `modulus` and `publicExponent` of the RSAPrivateKey (RFC 8017 A.1.2) must equal the
//!   leaf's RSAPublicKey;
//! - EC: the optional `publicKey [1]` point of the ECPrivateKey (RFC 5915 §3) must equal the
//!   leaf's point (a compressed point on either side is compared by X and the parity of Y);
//! - any algorithm: the optional `publicKey [1]` of a v2 OneAsymmetricKey (RFC 5958 §2) must
//!   equal the leaf's subjectPublicKey.
//!
//! When the key carries no public part (an Ed25519 v1 PKCS#8 key, an EC key without the
//! `publicKey` field) the comparison is skipped: proving the match would need the private-key
//! arithmetic, which is crypto this crate does not do.

use der::asn1::{BitStringRef, ObjectIdentifier, OctetStringRef, UintRef};
use der::{Decode, Reader, SliceReader, Tag, TagMode, TagNumber, Tagged};
use x509_cert::spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoOwned};

use super::SvidError;

/// `rsaEncryption` (RFC 8017 A.1).
pub(super) const RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-ecPublicKey` (RFC 5480 §2.1.1).
pub(super) const EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `id-Ed25519` (RFC 8410 §3).
pub(super) const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// `prime256v1` (RFC 5480 §2.1.1.1).
pub(super) const P256_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `secp384r1` (RFC 5480 §2.1.1.1).
pub(super) const P384_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The parts of a PKCS#8 `PrivateKeyInfo` / `OneAsymmetricKey` this module uses.
pub(crate) struct PrivateKeyInfo<'a> {
    algorithm: AlgorithmIdentifierRef<'a>,
    private_key: &'a [u8],
    public_key: Option<BitStringRef<'a>>,
}

#[cfg(feature = "verify")]
impl<'a> PrivateKeyInfo<'a> {
    /// The `privateKey` octets: the algorithm's own private-key encoding.
    pub(super) fn private_key(&self) -> &'a [u8] {
        self.private_key
    }

    /// The key's algorithm OID.
    pub(super) fn algorithm_oid(&self) -> ObjectIdentifier {
        self.algorithm.oid
    }

    /// The named curve of an EC key (`None` if the parameters are absent or not an OID).
    pub(super) fn ec_curve(&self) -> Option<ObjectIdentifier> {
        self.algorithm.parameters.and_then(|p| p.decode_as().ok())
    }
}

/// Checks that the key `info` belongs to `leaf` (see the module docs).
pub(crate) fn check_key(
    info: &PrivateKeyInfo<'_>,
    leaf: &SubjectPublicKeyInfoOwned,
) -> Result<(), SvidError> {
    let oid = info.algorithm.oid;
    let leaf_key = leaf.subject_public_key.raw_bytes();
    if oid != leaf.algorithm.oid {
        return Err(SvidError::KeyMismatch);
    }
    let leaf_unused_bits = leaf.subject_public_key.unused_bits();
    if let Some(public) = &info.public_key
        && (public.unused_bits(), public.raw_bytes()) != (leaf_unused_bits, leaf_key)
    {
        return Err(SvidError::KeyMismatch);
    }
    if oid == RSA_ENCRYPTION {
        let private = rsa_public_part(info.private_key).map_err(SvidError::KeyDer)?;
        let public = rsa_public_key(leaf_key).map_err(|_| SvidError::KeyMismatch)?;
        if private != public {
            return Err(SvidError::KeyMismatch);
        }
    } else if oid == EC_PUBLIC_KEY {
        let key_curve = info.algorithm.parameters.map(|p| (p.tag(), p.value()));
        let leaf_curve = leaf
            .algorithm
            .parameters
            .as_ref()
            .map(|p| (p.tag(), p.value()));
        if key_curve != leaf_curve {
            return Err(SvidError::KeyMismatch);
        }
        let point = ec_public_point(info.private_key).map_err(SvidError::KeyDer)?;
        if let Some(point) = point
            && !same_ec_point(point.raw_bytes(), leaf_key)
        {
            return Err(SvidError::KeyMismatch);
        }
    }
    Ok(())
}

/// Header byte of a context-specific tag `[n]`.
fn context_tag(number: u32, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number: TagNumber(number),
    }
}

/// Parses a PKCS#8 key of a supported algorithm: RSA, EC or Ed25519 (as Go's
/// `x509.ParsePKCS8PrivateKey` for signing keys).
pub(crate) fn parse_key(der: &[u8]) -> Result<PrivateKeyInfo<'_>, SvidError> {
    let info = parse_pkcs8(der).map_err(SvidError::KeyDer)?;
    let oid = info.algorithm.oid;
    if oid != RSA_ENCRYPTION && oid != EC_PUBLIC_KEY && oid != ED25519 {
        return Err(SvidError::UnsupportedKeyAlgorithm(oid));
    }
    Ok(info)
}

/// Decodes `OneAsymmetricKey` (RFC 5958 §2), which includes `PrivateKeyInfo` (RFC 5208 §5).
fn parse_pkcs8(der: &[u8]) -> der::Result<PrivateKeyInfo<'_>> {
    let mut reader = SliceReader::new(der)?;
    let info = reader.sequence(|r: &mut SliceReader<'_>| {
        let version = u8::decode(r)?;
        if version > 1 {
            return Err(r.error(der::ErrorKind::Value { tag: Tag::Integer }));
        }
        let algorithm = AlgorithmIdentifierRef::decode(r)?;
        let private_key = <&OctetStringRef>::decode(r)?.as_bytes();
        if Tag::peek(r).ok() == Some(context_tag(0, true)) {
            r.tlv_bytes()?;
        }
        let public_key = r.context_specific::<BitStringRef<'_>>(TagNumber(1), TagMode::Implicit)?;
        if public_key.is_some() && version == 0 {
            return Err(r.error(der::ErrorKind::Value { tag: Tag::Integer }));
        }
        // RFC 5958 keeps the structure extensible: later fields are skipped.
        while !r.is_finished() {
            r.tlv_bytes()?;
        }
        Ok(PrivateKeyInfo {
            algorithm,
            private_key,
            public_key,
        })
    })?;
    reader.finish()?;
    Ok(info)
}

/// `(modulus, publicExponent)` of an RSAPrivateKey (RFC 8017 A.1.2).
fn rsa_public_part(der: &[u8]) -> der::Result<(UintRef<'_>, UintRef<'_>)> {
    let mut reader = SliceReader::new(der)?;
    let parts = reader.sequence(|r: &mut SliceReader<'_>| {
        let _version = u8::decode(r)?;
        let n = UintRef::decode(r)?;
        let e = UintRef::decode(r)?;
        while !r.is_finished() {
            r.tlv_bytes()?;
        }
        Ok::<_, der::Error>((n, e))
    })?;
    reader.finish()?;
    Ok(parts)
}

/// `(modulus, publicExponent)` of an RSAPublicKey (RFC 8017 A.1.1).
pub(super) fn rsa_public_key(der: &[u8]) -> der::Result<(UintRef<'_>, UintRef<'_>)> {
    let mut reader = SliceReader::new(der)?;
    let parts = reader.sequence(|r: &mut SliceReader<'_>| {
        let n = UintRef::decode(r)?;
        let e = UintRef::decode(r)?;
        Ok::<_, der::Error>((n, e))
    })?;
    reader.finish()?;
    Ok(parts)
}

/// The optional `publicKey [1]` of an ECPrivateKey (RFC 5915 §3, EXPLICIT tags).
fn ec_public_point(der: &[u8]) -> der::Result<Option<BitStringRef<'_>>> {
    let mut reader = SliceReader::new(der)?;
    let point = reader.sequence(|r: &mut SliceReader<'_>| {
        let _version = u8::decode(r)?;
        let _private = <&OctetStringRef>::decode(r)?;
        if Tag::peek(r).ok() == Some(context_tag(0, true)) {
            r.tlv_bytes()?;
        }
        let point = r.context_specific::<BitStringRef<'_>>(TagNumber(1), TagMode::Explicit)?;
        while !r.is_finished() {
            r.tlv_bytes()?;
        }
        Ok::<_, der::Error>(point)
    })?;
    reader.finish()?;
    Ok(point)
}

/// The `privateKey` octets of an ECPrivateKey (RFC 5915 §3) in PKCS#8 `private_key`.
#[cfg(feature = "verify")]
pub(super) fn ec_private_scalar(der: &[u8]) -> der::Result<&[u8]> {
    let mut reader = SliceReader::new(der)?;
    let scalar = reader.sequence(|r: &mut SliceReader<'_>| {
        let _version = u8::decode(r)?;
        let scalar = <&OctetStringRef>::decode(r)?.as_bytes();
        while !r.is_finished() {
            r.tlv_bytes()?;
        }
        Ok::<_, der::Error>(scalar)
    })?;
    reader.finish()?;
    Ok(scalar)
}

/// The 32-byte seed of an Ed25519 `CurvePrivateKey` (RFC 8410 §7) in PKCS#8 `private_key`.
#[cfg(feature = "verify")]
pub(super) fn ed25519_seed(der: &[u8]) -> der::Result<[u8; 32]> {
    let seed = <&OctetStringRef>::from_der(der)?.as_bytes();
    seed.try_into().map_err(|_| {
        der::Error::from(der::ErrorKind::Length {
            tag: Tag::OctetString,
        })
    })
}

/// Compares two SEC 1 (§2.3.3) encoded points, either of which may be compressed.
fn same_ec_point(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let (compressed, full) = match (a.first(), b.first()) {
        (Some(2 | 3), Some(4)) => (a, b),
        (Some(4), Some(2 | 3)) => (b, a),
        _ => return false,
    };
    let (Some((&prefix, x)), Some((_, xy))) = (compressed.split_first(), full.split_first()) else {
        return false;
    };
    if xy.len() != 2 * x.len() {
        return false;
    }
    let (full_x, full_y) = xy.split_at(x.len());
    let y_odd = full_y.last().is_some_and(|b| b & 1 == 1);
    full_x == x && (prefix == 3) == y_odd
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::same_ec_point;

    #[test]
    fn compressed_and_uncompressed_points_compare_by_x_and_parity() {
        let key = crate::x509::testpki::p256();
        let full = key.public_key_raw();
        assert_eq!(full.len(), 65);
        let odd = full[64] & 1 == 1;
        let compressed = |prefix: u8| [&[prefix][..], &full[1..33]].concat();
        let right = compressed(if odd { 3 } else { 2 });
        let wrong = compressed(if odd { 2 } else { 3 });
        assert!(same_ec_point(full, full));
        assert!(same_ec_point(&right, full));
        assert!(same_ec_point(full, &right));
        assert!(!same_ec_point(&wrong, full));
        let mut other_x: Vec<u8> = right.clone();
        other_x[5] ^= 1;
        assert!(!same_ec_point(&other_x, full));
        assert!(!same_ec_point(&right[..20], full));
        assert!(!same_ec_point(&[], full));
    }
}
