//! Verifying an X.509-SVID before it is written: the key belongs to the leaf, and the chain
//! verifies against the trust bundle as a TLS peer would check it.
//!
//! # What is checked, in order
//!
//! 1. The X509-SVID rules of [`super::parse_svid`] (leaf not a CA, `digitalSignature` and no
//!    `keyCertSign`/`cRLSign` on the leaf, intermediates are CAs with `keyCertSign`...).
//! 2. The leaf's URI SAN equals the expected SPIFFE ID (the `spiffe_id` of the response).
//! 3. The private key belongs to the leaf, by arithmetic, not by comparing bytes the key
//!    happens to carry: `ring`'s key-pair constructors derive the public key from the
//!    private key and compare it with the leaf's SubjectPublicKeyInfo.
//!    - EC P-256 / P-384 (`EcdsaKeyPair::from_private_key_and_public_key`): the scalar times
//!      the base point;
//!    - Ed25519 (`Ed25519KeyPair::from_seed_and_public_key`): the public key of the seed;
//!    - RSA (`RsaKeyPair::from_pkcs8`): the key is checked to be consistent (the primes
//!      multiply to the modulus, the CRT exponents and coefficient match), then its public
//!      key compared with the leaf's.
//! 4. The chain verifies with `rustls-webpki`'s `EndEntityCert::verify_for_usage`: the bundle
//!    certificates are the trust anchors, the chain after the leaf the intermediates, at
//!    `now_unix`; signatures, validity periods of every certificate, CA bits, path-length
//!    constraints, name constraints and extended key usage (see below).
//!
//! # Extended key usage
//!
//! SPIFFE X.509-SVIDs serve both TLS roles. A TLS client checks its server's chain for
//! `serverAuth`, a server checks a client's for `clientAuth`; webpki (like RFC 5280 §4.2.1.12)
//! accepts a certificate without the EKU extension for either. The chain is accepted if it
//! verifies for **either** role: SPIRE's leaves carry both and pass, leaves without EKU pass,
//! a client-only or server-only SVID passes. A chain no TLS peer would accept in either role
//! (say a leaf with only `codeSigning`) is refused, where go-spiffe's `x509svid.Verify`
//! (`ExtKeyUsageAny`) would take it.
//!
//! # Cryptography
//!
//! No primitive is implemented here: `ring` 0.17 does every check. [`ALGORITHMS`] is
//! rustls-webpki's `ring` set (`ALL_VERIFICATION_ALGS`): ECDSA P-256/P-384 with
//! SHA-256/SHA-384, RSA PKCS#1 v1.5 (NULL parameters present or absent) and PSS with
//! SHA-256/384/512 (2048 to 8192-bit moduli; PSS with a salt as long as the hash), Ed25519;
//! webpki chooses among them by the exact AlgorithmIdentifiers. The JWT verifier uses the
//! same crate, so one provider is linked.
//!
//! Chosen by measurement over RustCrypto (`p256`, `p384`, `rsa`, `ed25519-dalek`, `sha2`)
//! and `aws-lc-rs` (`bench/providers.sh`, BENCHMARKS.md "The crypto provider, measured"):
//! a one-shot fetch with an intermediate CA costs about 4.4 times fewer instructions with
//! `ring` than with RustCrypto and an update about 5 times fewer, for 82 kB more binary
//! (its P-256 precomputed table is 151,552 bytes). `ring` needs an OS random source
//! (`getrandom`) and does not build for `thumbv7em-none-eabihf`: this module is behind the
//! `verify` feature, which the embedded build leaves out.
//!
//! # Checks made once
//!
//! [`render_verified_cached`] keeps a [`VerifyCache`]: each signature check webpki asks for
//! and the key-pair check are looked up by the SHA-256 of all they read before they are
//! made, so a rotation that brings a new leaf under the same intermediate verifies the
//! leaf's signature and key pair, not the intermediate's signature by the root again. The
//! path is still built and every other rule checked each time.
//!
//! # Limits
//!
//! RSA private keys outside 2048 to 4096 bits are refused (`ring`'s `RsaKeyPair` bounds);
//! SPIRE issues 2048 and 4096-bit keys. No revocation (CRL) check.
//! A bundle certificate is a trust anchor as RFC 5280 §6.1 takes one: its subject, key and
//! name constraints; webpki checks neither its validity period nor its pathLenConstraint
//! (Go's `crypto/x509` checks both on a root).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use core::time::Duration;

use ring::signature::{self as sig, KeyPair as _};
use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm,
    TrustAnchor, UnixTime,
};
use webpki::{EndEntityCert, KeyUsage};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use super::render::render_checked;
use super::{RenderError, RenderOptions, Rendered, SvidError, X509Svid, parse_svid};
use crate::proto::X509svidResponse;

/// Why an X.509-SVID was not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The message cannot be rendered, so there is no SVID to verify ([`render_verified`]).
    Render(RenderError),
    /// The chain holds no certificate.
    NoCertificates,
    /// The chain and key break the X509-SVID rules (see [`super::parse_svid`]).
    Svid(SvidError),
    /// The leaf's SPIFFE ID is not the one the response names.
    WrongSpiffeId {
        /// The SPIFFE ID the response names.
        expected: String,
        /// The SPIFFE ID in the leaf's URI SAN.
        actual: String,
    },
    /// The private key cannot be read by the crypto crate of its algorithm (for RSA: it is
    /// inconsistent, or not of 2048 to 4096 bits).
    BadPrivateKey,
    /// The private key is not RSA, EC P-256, EC P-384 or Ed25519.
    UnsupportedKey,
    /// The public key derived from the private key is not the leaf's.
    KeyMismatch,
    /// The trust bundle holds no certificate.
    EmptyBundle,
    /// Bundle certificate `index` cannot be used as a trust anchor.
    BadTrustAnchor {
        /// Position in the bundle.
        index: usize,
        /// webpki's reason.
        error: CertError,
    },
    /// The leaf cannot be decoded by webpki.
    BadLeaf(CertError),
    /// No path from the leaf through the intermediates to a bundle certificate passes
    /// webpki's checks; the error says what failed on the best path found.
    Chain(CertError),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Render(e) => e.fmt(f),
            Self::NoCertificates => f.write_str("no certificates found"),
            Self::Svid(e) => e.fmt(f),
            Self::WrongSpiffeId { expected, actual } => write!(
                f,
                "leaf certificate SPIFFE ID {actual:?} is not the SVID's {expected:?}"
            ),
            Self::BadPrivateKey => f.write_str("private key is malformed or inconsistent"),
            Self::UnsupportedKey => {
                f.write_str("private key is not RSA, ECDSA P-256, ECDSA P-384 or Ed25519")
            }
            Self::KeyMismatch => {
                f.write_str("leaf certificate public key does not match the private key")
            }
            Self::EmptyBundle => f.write_str("trust bundle holds no certificate"),
            Self::BadTrustAnchor { index, error } => {
                write!(
                    f,
                    "bundle certificate {index} is not a usable trust anchor: {error}"
                )
            }
            Self::BadLeaf(e) => write!(f, "cannot parse leaf certificate: {e}"),
            Self::Chain(e) => write!(
                f,
                "certificate chain does not verify against the trust bundle: {e}"
            ),
        }
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl core::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Render(e) => Some(e),
            Self::Svid(e) => Some(e),
            Self::BadTrustAnchor { error: e, .. } | Self::BadLeaf(e) | Self::Chain(e) => Some(e),
            _ => None,
        }
    }
}

impl From<RenderError> for VerifyError {
    fn from(error: RenderError) -> Self {
        VerifyError::Render(error)
    }
}

/// Why webpki refused a trust anchor, the leaf or the chain: webpki's error kept whole for
/// its text, behind a type of ours so that `rustls-webpki` stays out of the public API (its
/// `Error` changes with its minor versions). [`CertError::kind`] tells the cases apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertError(webpki::Error);

/// What a [`CertError`] is about: the failures a bad SVID chain meets, each displayed in
/// plain words (webpki's `Error` names them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertErrorKind {
    /// A certificate has expired (`CertExpired`).
    Expired,
    /// A certificate is not valid yet (`CertNotValidYet`).
    NotValidYet,
    /// A certificate's notBefore is after its notAfter (`InvalidCertValidity`).
    InvalidValidity,
    /// No issuer found in the intermediates or the bundle (`UnknownIssuer`).
    UnknownIssuer,
    /// A certificate signature does not verify (`InvalidSignatureForPublicKey`).
    BadSignature,
    /// A certificate is signed with an algorithm or key webpki does not support.
    UnsupportedAlgorithm,
    /// The leaf is a CA certificate (`CaUsedAsEndEntity`).
    CaUsedAsEndEntity,
    /// An issuer is not a CA certificate (`EndEntityUsedAsCa`).
    EndEntityUsedAsCa,
    /// A CA's path length constraint is exceeded (`PathLenConstraintViolated`).
    PathLenConstraint,
    /// A CA's name constraints exclude a name (`NameConstraintViolation`).
    NameConstraint,
    /// The extended key usage allows neither serverAuth nor clientAuth
    /// (`RequiredEkuNotFound`).
    ExtendedKeyUsage,
    /// A certificate has an unsupported critical extension.
    UnsupportedCriticalExtension,
    /// A certificate is not valid DER (`BadDer`, `BadDerTime`, `TrailingData`).
    BadDer,
    /// The chain is too long or has too many candidate paths.
    PathTooComplex,
    /// Another webpki error; its text is webpki's debug form.
    Other,
}

impl CertError {
    /// Which failure this is.
    pub fn kind(&self) -> CertErrorKind {
        use CertErrorKind as K;
        use webpki::Error as E;
        match self.0 {
            E::CertExpired { .. } => K::Expired,
            E::CertNotValidYet { .. } => K::NotValidYet,
            E::InvalidCertValidity => K::InvalidValidity,
            E::UnknownIssuer => K::UnknownIssuer,
            E::InvalidSignatureForPublicKey => K::BadSignature,
            E::UnsupportedSignatureAlgorithmContext(_)
            | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => K::UnsupportedAlgorithm,
            E::CaUsedAsEndEntity => K::CaUsedAsEndEntity,
            E::EndEntityUsedAsCa => K::EndEntityUsedAsCa,
            E::PathLenConstraintViolated => K::PathLenConstraint,
            E::NameConstraintViolation => K::NameConstraint,
            E::RequiredEkuNotFoundContext(_) => K::ExtendedKeyUsage,
            E::UnsupportedCriticalExtension => K::UnsupportedCriticalExtension,
            E::BadDer | E::BadDerTime | E::TrailingData(_) => K::BadDer,
            E::MaximumPathDepthExceeded | E::MaximumPathBuildCallsExceeded => K::PathTooComplex,
            _ => K::Other,
        }
    }
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CertErrorKind as K;
        f.write_str(match self.kind() {
            K::Expired => "a certificate has expired",
            K::NotValidYet => "a certificate is not valid yet",
            K::InvalidValidity => "a certificate's notBefore is after its notAfter",
            K::UnknownIssuer => "no issuer found in the intermediates or the bundle",
            K::BadSignature => "a certificate signature does not verify",
            K::UnsupportedAlgorithm => {
                "a certificate is signed with an unsupported algorithm or key"
            }
            K::CaUsedAsEndEntity => "the leaf is a CA certificate",
            K::EndEntityUsedAsCa => "an issuer is not a CA certificate",
            K::PathLenConstraint => "a CA's path length constraint is exceeded",
            K::NameConstraint => "a CA's name constraints exclude a name",
            K::ExtendedKeyUsage => "extended key usage allows neither serverAuth nor clientAuth",
            K::UnsupportedCriticalExtension => {
                "a certificate has an unsupported critical extension"
            }
            K::BadDer => "a certificate is not valid DER",
            K::PathTooComplex => "the chain is too long or has too many candidate paths",
            K::Other => return write!(f, "{:?}", self.0),
        })
    }
}

/// No `source()`: webpki's error stays inside (its text is the message), as
/// [`DecodeError`](crate::workload::DecodeError) keeps prost's.
impl core::error::Error for CertError {}

/// Verifies an X.509-SVID before it is written (see the module docs for the checks).
///
/// - `chain_der`: the DER certificates, leaf first, then intermediates (as received);
/// - `key_pkcs8`: the unencrypted PKCS#8 private key;
/// - `bundle_der`: the DER certificates of the SVID's trust-domain bundle (trust anchors);
/// - `expected_id`: the SPIFFE ID the response gives for this SVID;
/// - `now_unix`: the current time in Unix seconds (before 1970 counts as 1970).
pub fn verify_svid(
    chain_der: &[&[u8]],
    key_pkcs8: &[u8],
    bundle_der: &[&[u8]],
    expected_id: &str,
    now_unix: i64,
) -> Result<(), VerifyError> {
    if chain_der.is_empty() {
        return Err(VerifyError::NoCertificates);
    }
    let svid = parse_svid(&chain_der.concat(), key_pkcs8).map_err(VerifyError::Svid)?;
    verify_parsed(
        &svid,
        bundle_der,
        expected_id,
        now_unix,
        &mut VerifyCache::default(),
    )
}

/// [`verify_svid`] for an SVID [`parse_svid`] has already accepted, so that its chain is not
/// decoded again: the leaf's public key comes with it.
fn verify_parsed(
    svid: &X509Svid,
    bundle_der: &[&[u8]],
    expected_id: &str,
    now_unix: i64,
    cache: &mut VerifyCache,
) -> Result<(), VerifyError> {
    let chain: Vec<&[u8]> = svid.certs.iter().map(Vec::as_slice).collect();
    let (&leaf_der, intermediates_der) = chain.split_first().ok_or(VerifyError::NoCertificates)?;
    if svid.spiffe_id.as_str() != expected_id {
        return Err(VerifyError::WrongSpiffeId {
            expected: String::from(expected_id),
            actual: String::from(svid.spiffe_id.as_str()),
        });
    }
    cache.use_bundle(bundle_der);
    let pair = digest_of(b"key pair", &[&svid.key_pkcs8, leaf_der]);
    if !cache.take(&pair) {
        check_key_pair(&svid.key_pkcs8, &svid.leaf_key)?;
        cache.add(pair);
    }
    check_chain_cached(leaf_der, intermediates_der, bundle_der, now_unix, cache)
}

/// [`super::render`] with the SVID it picks verified before any file is encoded: its chain
/// and key as received, against the bundle of its trust domain in the message's bundle set
/// (built as `render` builds it: federated bundles override), and the `spiffe_id` the message
/// gives it (checks in the module docs). The other options do not matter to the checks: the
/// chain is verified as received, before `omit_expired` or `add_intermediates_to_bundle`
/// reshape the files. Nothing is decoded twice.
pub fn render_verified(
    resp: &X509svidResponse,
    opts: &RenderOptions<'_>,
    now_unix: i64,
) -> Result<Rendered, VerifyError> {
    render_verified_cached(resp, opts, now_unix, &mut VerifyCache::default())
}

/// [`render_verified`] with a [`VerifyCache`] kept across the messages of one watch, so that
/// a rotation verifies only what it brings: the new leaf's signature and key pair, not the
/// intermediates' signatures again.
pub fn render_verified_cached(
    resp: &X509svidResponse,
    opts: &RenderOptions<'_>,
    now_unix: i64,
    cache: &mut VerifyCache,
) -> Result<Rendered, VerifyError> {
    render_checked(resp, opts, now_unix, |picked| {
        verify_parsed(
            picked.svid,
            &picked.roots,
            picked.message_id,
            now_unix,
            cache,
        )
    })
}

/// How many checks a [`VerifyCache`] keeps: a chain's signatures and key pair with room for
/// the previous SVID's, several times over.
pub const CACHE_ENTRIES: usize = 16;

/// The signature checks (issuer key, signed certificate) and key-pair checks (key, leaf)
/// already passed, for the life of one trust bundle: a check found here is not made again.
///
/// An entry is the SHA-256 of everything the check read: for a signature, the algorithm,
/// the issuer's public key, the signed TBSCertificate and the signature value; for a key
/// pair, the PKCS#8 key and the leaf certificate. So a changed certificate, key or
/// signature is a new entry and is checked. Entries are dropped when the trust bundle
/// changes, and the least recently used go once there are more than [`CACHE_ENTRIES`].
/// Everything else about a chain (validity at `now`, constraints, key usage, path building)
/// is checked every time by webpki.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyCache {
    /// SHA-256 of the trust bundle the entries were checked under.
    bundle: Option<[u8; 32]>,
    /// Digests of passed checks, least recently used first.
    entries: Vec<[u8; 32]>,
    /// Checks made with the crypto, not answered from the cache, since it was made.
    computed: u64,
}

impl VerifyCache {
    /// How many checks (signatures and key pairs) were computed rather than found.
    pub fn computed(&self) -> u64 {
        self.computed
    }

    /// How many passed checks it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no passed check.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every entry unless `bundle` is the bundle they were checked under.
    fn use_bundle(&mut self, bundle: &[&[u8]]) {
        let digest = digest_of(b"bundle", bundle);
        if self.bundle != Some(digest) {
            self.bundle = Some(digest);
            self.entries.clear();
        }
    }

    /// Whether `entry` is held; if so it becomes the most recently used.
    fn take(&mut self, entry: &[u8; 32]) -> bool {
        let held = self.entries.iter().position(|e| e == entry);
        if let Some(i) = held {
            self.entries.remove(i);
            self.entries.push(*entry);
        }
        held.is_some()
    }

    /// Adds a check just computed and passed, as the most recently used.
    fn add(&mut self, entry: [u8; 32]) {
        self.computed += 1;
        self.entries.retain(|e| *e != entry);
        self.entries.push(entry);
        let over = self.entries.len().saturating_sub(CACHE_ENTRIES);
        self.entries.drain(..over);
    }
}

/// SHA-256 over a label and length-prefixed parts, so that no two inputs run together.
fn digest_of(label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    hash.update(label);
    for part in parts {
        hash.update(&(part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let mut out = [0; 32];
    out.copy_from_slice(hash.finish().as_ref());
    out
}

/// Checks that the public key derived from `key_pkcs8` is `leaf`'s, with `ring`'s key-pair
/// constructors, which derive the public key from the private one and compare.
fn check_key_pair(key_pkcs8: &[u8], leaf: &SubjectPublicKeyInfoOwned) -> Result<(), VerifyError> {
    let info = super::key::parse_key(key_pkcs8).map_err(|_| VerifyError::BadPrivateKey)?;
    let leaf_key = leaf.subject_public_key.raw_bytes();
    let key_oid = info.algorithm_oid();
    if key_oid != leaf.algorithm.oid {
        return Err(VerifyError::KeyMismatch);
    }
    let same = match key_oid {
        super::key::RSA_ENCRYPTION => {
            // `from_pkcs8` checks the key's consistency (RSA 2048 to 4096 bits); the
            // public part it holds is the leaf's RSAPublicKey DER if it is the same key.
            let private =
                sig::RsaKeyPair::from_pkcs8(key_pkcs8).map_err(|_| VerifyError::BadPrivateKey)?;
            private.public_key().as_ref() == leaf_key
        }
        super::key::EC_PUBLIC_KEY => {
            let scalar = super::key::ec_private_scalar(info.private_key())
                .map_err(|_| VerifyError::BadPrivateKey)?;
            let alg = match info.ec_curve() {
                Some(super::key::P256_CURVE) => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
                Some(super::key::P384_CURVE) => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
                _ => return Err(VerifyError::UnsupportedKey),
            };
            // Fails when the scalar is out of range, the point is not on the curve or the
            // scalar times the base point is not the point.
            let rng = ring::rand::SystemRandom::new();
            sig::EcdsaKeyPair::from_private_key_and_public_key(alg, scalar, leaf_key, &rng).is_ok()
        }
        super::key::ED25519 => {
            let seed = super::key::ed25519_seed(info.private_key())
                .map_err(|_| VerifyError::BadPrivateKey)?;
            sig::Ed25519KeyPair::from_seed_and_public_key(&seed, leaf_key).is_ok()
        }
        _ => return Err(VerifyError::UnsupportedKey),
    };
    if same {
        Ok(())
    } else {
        Err(VerifyError::KeyMismatch)
    }
}

/// webpki path validation of `leaf` for TLS server or client use (module docs).
#[cfg(test)]
pub(super) fn check_chain(
    leaf_der: &[u8],
    intermediates_der: &[&[u8]],
    bundle_der: &[&[u8]],
    now_unix: i64,
) -> Result<(), VerifyError> {
    let mut cache = VerifyCache::default();
    cache.use_bundle(bundle_der);
    check_chain_cached(
        leaf_der,
        intermediates_der,
        bundle_der,
        now_unix,
        &mut cache,
    )
}

/// The path validation of `check_chain`, with each signature webpki asks for looked up in
/// `cache` (under the bundle it was set to) before it is verified, and those verified added.
fn check_chain_cached(
    leaf_der: &[u8],
    intermediates_der: &[&[u8]],
    bundle_der: &[&[u8]],
    now_unix: i64,
    cache: &mut VerifyCache,
) -> Result<(), VerifyError> {
    if bundle_der.is_empty() {
        return Err(VerifyError::EmptyBundle);
    }
    let roots: Vec<CertificateDer<'_>> = bundle_der
        .iter()
        .map(|d| CertificateDer::from(*d))
        .collect();
    let anchors = roots
        .iter()
        .enumerate()
        .map(|(index, der)| {
            webpki::anchor_from_trusted_cert(der).map_err(|error| VerifyError::BadTrustAnchor {
                index,
                error: CertError(error),
            })
        })
        .collect::<Result<Vec<TrustAnchor<'_>>, _>>()?;
    let intermediates: Vec<CertificateDer<'_>> = intermediates_der
        .iter()
        .map(|d| CertificateDer::from(*d))
        .collect();
    let leaf = CertificateDer::from(leaf_der);
    let leaf = EndEntityCert::try_from(&leaf).map_err(|e| VerifyError::BadLeaf(CertError(e)))?;
    let secs = u64::try_from(now_unix).unwrap_or(0);
    let time = UnixTime::since_unix_epoch(Duration::from_secs(secs));
    let seen = Seen::default();
    let cached: Vec<Cached<'_>> = ALGORITHMS
        .iter()
        .zip(0u8..)
        .map(|(&alg, index)| Cached {
            alg,
            index,
            known: &cache.entries,
            seen: &seen,
        })
        .collect();
    let algorithms: Vec<&dyn SignatureVerificationAlgorithm> = cached
        .iter()
        .map(|c| c as &dyn SignatureVerificationAlgorithm)
        .collect();
    let verify = |usage| {
        leaf.verify_for_usage(
            &algorithms,
            &anchors,
            &intermediates,
            time,
            usage,
            None,
            None,
        )
        .map(|_| ())
    };
    let result = match verify(KeyUsage::server_auth()) {
        Err(webpki::Error::RequiredEkuNotFoundContext(_)) => verify(KeyUsage::client_auth()),
        other => other,
    }
    .map_err(|e| VerifyError::Chain(CertError(e)));
    for (entry, computed) in seen.entries() {
        if computed {
            cache.add(entry);
        } else {
            cache.take(&entry);
        }
    }
    result
}

/// How many passed signature checks one path validation records for the cache (a chain
/// is at most webpki's path depth; further ones are verified but not remembered).
const SEEN_ENTRIES: usize = 8;

/// The signature checks that passed during one path validation: webpki holds the
/// algorithms as `Sync` trait objects, so they record into atomics.
#[derive(Debug, Default)]
struct Seen {
    /// Digest words of each passed check.
    words: [[AtomicU32; 8]; SEEN_ENTRIES],
    /// Whether each was computed (1) or found in the cache (0).
    computed: [AtomicU32; SEEN_ENTRIES],
    len: AtomicUsize,
}

impl Seen {
    fn record(&self, entry: &[u8; 32], computed: bool) {
        let i = self.len.fetch_add(1, Ordering::Relaxed);
        let (Some(words), Some(flag)) = (self.words.get(i), self.computed.get(i)) else {
            return;
        };
        for (word, bytes) in words.iter().zip(entry.chunks_exact(4)) {
            word.store(
                u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
                Ordering::Relaxed,
            );
        }
        flag.store(u32::from(computed), Ordering::Relaxed);
    }

    /// The recorded checks, in order: (digest, computed).
    fn entries(&self) -> impl Iterator<Item = ([u8; 32], bool)> + '_ {
        let len = self.len.load(Ordering::Relaxed).min(SEEN_ENTRIES);
        self.words[..len]
            .iter()
            .zip(&self.computed)
            .map(|(words, flag)| {
                let mut entry = [0; 32];
                for (bytes, word) in entry.chunks_exact_mut(4).zip(words) {
                    bytes.copy_from_slice(&word.load(Ordering::Relaxed).to_be_bytes());
                }
                (entry, flag.load(Ordering::Relaxed) == 1)
            })
    }
}

/// One of [`ALGORITHMS`] behind the cache: a check already passed is answered from it, a
/// new one verified and recorded.
#[derive(Debug)]
struct Cached<'a> {
    alg: &'static dyn SignatureVerificationAlgorithm,
    /// Position in [`ALGORITHMS`], part of the digest.
    index: u8,
    known: &'a [[u8; 32]],
    seen: &'a Seen,
}

impl SignatureVerificationAlgorithm for Cached<'_> {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let entry = digest_of(
            b"signature",
            &[&[self.index], public_key, message, signature],
        );
        let known = self.known.contains(&entry);
        if !known {
            self.alg.verify_signature(public_key, message, signature)?;
        }
        self.seen.record(&entry, !known);
        Ok(())
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.alg.public_key_alg_id()
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.alg.signature_alg_id()
    }
}

/// The signature algorithms webpki may use on the chain (module docs).
pub static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = webpki::ALL_VERIFICATION_ALGS;
