//! JWT-SVID validation as go-spiffe's `jwtsvid.ParseAndValidate` and `jwtsvid.ParseInsecure`.
//!
//! The order of checks, and so which error a token with several faults gets, is go-spiffe's:
//! parse (algorithm allowed) → `sub` present → `exp` present → `sub` is a SPIFFE ID → key ID
//! → bundle of the subject's trust domain → key → signature → audience → `nbf` → `exp` →
//! `iat` → `typ`. Times are compared with go-jose's default leeway of one minute.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::digest::const_oid::AssociatedOid;
use sha2::digest::{Digest, DynDigest};
use sha2::{Sha256, Sha384, Sha512};

use super::jwks::{Curve, Jwks, Key};
use super::{Algorithm, Claims, JwtError, Token};
use crate::spiffe_id::{IdError, SpiffeId, TrustDomain};

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (go-jose's `DefaultLeeway`).
pub const LEEWAY_SECONDS: i64 = 60;

/// Smallest RSA modulus accepted, in bits (Go 1.24+ refuses smaller keys).
const MIN_RSA_BITS: usize = 1024;
/// Largest RSA modulus accepted, in bits (bounds the cost of one verification).
const MAX_RSA_BITS: usize = 8192;

/// A validated JWT-SVID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtSvid {
    /// The subject.
    pub id: SpiffeId,
    /// `exp` in Unix seconds.
    pub expiry: i64,
    /// All claims read from the token.
    pub claims: Claims,
}

/// Why a token was refused. Display texts follow go-spiffe's `jwtsvid` errors, without
/// the `jwtsvid: ` prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is not a well-formed JWT-SVID with an allowed algorithm.
    Malformed(JwtError),
    /// No `sub` claim (or an empty one).
    MissingSubject,
    /// No `exp` claim.
    MissingExpiry,
    /// `sub` is not a SPIFFE ID.
    InvalidSubject(IdError),
    /// The header has no `kid`, so no key can be chosen.
    MissingKeyId,
    /// No JWT bundle for the subject's trust domain.
    NoBundle(TrustDomain),
    /// The bundle of the subject's trust domain has no key with this ID.
    UnknownKeyId {
        /// The token's `kid`.
        kid: String,
        /// The subject's trust domain.
        trust_domain: TrustDomain,
    },
    /// The key cannot make this kind of signature (an ES256 token and an RSA or P-384 key...).
    KeyAlgorithmMismatch {
        /// The token's `alg`.
        alg: Algorithm,
        /// The key's `kid`.
        kid: String,
    },
    /// The RSA key is smaller than 1024 or larger than 8192 bits, or its exponent is unusable.
    UnsupportedKey {
        /// The key's `kid`.
        kid: String,
    },
    /// The signature does not verify with the key.
    BadSignature,
    /// `aud` contains none of the expected audiences.
    WrongAudience {
        /// The audiences accepted.
        expected: Vec<String>,
        /// The token's `aud`.
        actual: Vec<String>,
    },
    /// `nbf` is more than the leeway in the future.
    NotYetValid,
    /// `exp` is more than the leeway in the past.
    Expired,
    /// `iat` is more than the leeway in the future.
    IssuedInFuture,
    /// `typ` is present and neither `JWT` nor `JOSE`.
    BadType(String),
}

/// Writes a list like Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_list(f: &mut fmt::Formatter<'_>, items: &[String]) -> fmt::Result {
    f.write_str("[")?;
    for (i, item) in items.iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        write!(f, "{sep}{item:?}")?;
    }
    f.write_str("]")
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "unable to parse JWT token: {e}"),
            Self::MissingSubject => f.write_str("token missing subject claim"),
            Self::MissingExpiry => f.write_str("token missing exp claim"),
            Self::InvalidSubject(e) => write!(f, "token has an invalid subject claim: {e}"),
            Self::MissingKeyId => f.write_str("token header missing key id"),
            Self::NoBundle(td) => write!(f, "no bundle found for trust domain {:?}", td.as_str()),
            Self::UnknownKeyId { kid, trust_domain } => write!(
                f,
                "no JWT authority {kid:?} found for trust domain {:?}",
                trust_domain.as_str()
            ),
            Self::KeyAlgorithmMismatch { alg, kid } => {
                write!(f, "JWT authority {kid:?} cannot verify {alg} signatures")
            }
            Self::UnsupportedKey { kid } => {
                write!(f, "JWT authority {kid:?} is an unsupported RSA key")
            }
            Self::BadSignature => {
                f.write_str("unable to get claims from token: signature does not verify")
            }
            Self::WrongAudience { expected, actual } => {
                f.write_str("expected audience in ")?;
                go_list(f, expected)?;
                f.write_str(" (audience=")?;
                go_list(f, actual)?;
                f.write_str(")")
            }
            Self::NotYetValid => f.write_str("token not valid yet (nbf)"),
            Self::Expired => f.write_str("token has expired"),
            Self::IssuedInFuture => f.write_str("token issued in the future (iat)"),
            Self::BadType(_) => f.write_str("token header type not equal to either JWT or JOSE"),
        }
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl core::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Malformed(e) => Some(e),
            Self::InvalidSubject(e) => Some(e),
            _ => None,
        }
    }
}

/// Validates a JWT-SVID as go-spiffe's `jwtsvid.ParseAndValidate(token, bundles, [audience])`.
///
/// `bundles` maps trust domains to their JWT bundles, as [`super::parse_bundles`] returns
/// them (the Workload API's `spiffe://td` keys already reduced to the bare name). The
/// signature must verify with the key named by the header's `kid` in the bundle of the
/// trust domain of `sub`; `aud` must contain `audience`; `exp` may be at most
/// [`LEEWAY_SECONDS`] before `now_unix`, `nbf` and `iat` at most that much after it.
pub fn verify(
    token: &str,
    bundles: &BTreeMap<TrustDomain, Jwks>,
    audience: &str,
    now_unix: i64,
) -> Result<JwtSvid, VerifyError> {
    validate(token, &[audience], now_unix, |tok, id| {
        let kid = tok.header.kid.as_deref().ok_or(VerifyError::MissingKeyId)?;
        let trust_domain =
            TrustDomain::parse(id.trust_domain()).map_err(VerifyError::InvalidSubject)?;
        let Some(jwks) = bundles.get(&trust_domain) else {
            return Err(VerifyError::NoBundle(trust_domain));
        };
        let Some(jwk) = jwks.find(kid) else {
            let kid = String::from(kid);
            return Err(VerifyError::UnknownKeyId { kid, trust_domain });
        };
        check_signature(tok, jwk.key()).map_err(|problem| match problem {
            KeyProblem::Signature => VerifyError::BadSignature,
            KeyProblem::Mismatch => VerifyError::KeyAlgorithmMismatch {
                alg: tok.header.alg,
                kid: String::from(kid),
            },
            KeyProblem::Unsupported => VerifyError::UnsupportedKey {
                kid: String::from(kid),
            },
        })
    })
}

/// Validates a JWT-SVID's claims **without checking its signature**, as go-spiffe's
/// `jwtsvid.ParseInsecure(token, audiences)`, which upstream applies to every token
/// `FetchJWTSVID` returns (`fetchJWTSVIDs` in `pkg/sidecar/sidecar.go@v0.11.0`). `aud` must
/// contain at least one of `audiences` (no check when
/// `audiences` is empty); times as in [`verify`].
pub fn validate_insecure(
    token: &str,
    audiences: &[&str],
    now_unix: i64,
) -> Result<JwtSvid, VerifyError> {
    validate(token, audiences, now_unix, |_, _| Ok(()))
}

fn validate(
    token: &str,
    audiences: &[&str],
    now: i64,
    check_key: impl FnOnce(&Token<'_>, &SpiffeId) -> Result<(), VerifyError>,
) -> Result<JwtSvid, VerifyError> {
    let tok = super::parse(token).map_err(VerifyError::Malformed)?;
    let claims = &tok.claims;
    let sub = claims.sub.as_deref().ok_or(VerifyError::MissingSubject)?;
    let expiry = claims.exp.ok_or(VerifyError::MissingExpiry)?;
    let id = SpiffeId::parse(sub).map_err(VerifyError::InvalidSubject)?;
    check_key(&tok, &id)?;

    if !audiences.is_empty() && !claims.aud.iter().any(|a| audiences.contains(&a.as_str())) {
        return Err(VerifyError::WrongAudience {
            expected: audiences.iter().map(|a| String::from(*a)).collect(),
            actual: claims.aud.clone(),
        });
    }
    let (earliest, latest) = (
        now.saturating_sub(LEEWAY_SECONDS),
        now.saturating_add(LEEWAY_SECONDS),
    );
    if claims.nbf.is_some_and(|nbf| latest < nbf) {
        return Err(VerifyError::NotYetValid);
    }
    if earliest > expiry {
        return Err(VerifyError::Expired);
    }
    if claims.iat.is_some_and(|iat| latest < iat) {
        return Err(VerifyError::IssuedInFuture);
    }
    if let Some(typ) = tok
        .header
        .typ
        .as_deref()
        .filter(|t| !matches!(*t, "JWT" | "JOSE"))
    {
        return Err(VerifyError::BadType(String::from(typ)));
    }
    Ok(JwtSvid {
        id,
        expiry,
        claims: tok.claims,
    })
}

/// Why a key did not accept a signature.
enum KeyProblem {
    Signature,
    Mismatch,
    Unsupported,
}

/// Checks the token's signature with `key`, which must suit the token's algorithm.
fn check_signature(tok: &Token<'_>, key: &Key) -> Result<(), KeyProblem> {
    use p256::ecdsa::signature::Verifier;

    let input = tok.signing_input.as_bytes();
    let sig = tok.signature.as_slice();
    let alg = tok.header.alg;
    // JWS ECDSA signatures are R || S (RFC 7518 §3.4), not DER; `from_slice` wants exactly
    // twice the coordinate size. `from_sec1_bytes` cannot fail: the point was checked when
    // the JWKS was read.
    let valid = match (key, alg) {
        (Key::Ec { curve, point }, Algorithm::Es256) if *curve == Curve::P256 => {
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point);
            let sig = p256::ecdsa::Signature::from_slice(sig);
            matches!((key, sig), (Ok(k), Ok(s)) if k.verify(input, &s).is_ok())
        }
        (Key::Ec { curve, point }, Algorithm::Es384) if *curve == Curve::P384 => {
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(point);
            let sig = p384::ecdsa::Signature::from_slice(sig);
            matches!((key, sig), (Ok(k), Ok(s)) if k.verify(input, &s).is_ok())
        }
        (Key::Ed25519(x), Algorithm::EdDsa) => {
            // RFC 8032 §5.1.7; a point that does not decode verifies nothing.
            let key = ed25519_dalek::VerifyingKey::from_bytes(x);
            let sig = ed25519_dalek::Signature::from_slice(sig);
            matches!((key, sig), (Ok(k), Ok(s)) if k.verify(input, &s).is_ok())
        }
        (Key::Rsa { n, e }, _) if alg.is_rsa() => {
            let (n, e) = (BigUint::from_bytes_be(n), BigUint::from_bytes_be(e));
            let key = RsaPublicKey::new_with_max_size(n, e, MAX_RSA_BITS)
                .ok()
                .filter(|k| k.n().bits() >= MIN_RSA_BITS)
                .ok_or(KeyProblem::Unsupported)?;
            match alg {
                Algorithm::Rs256 | Algorithm::Ps256 => rsa_check::<Sha256>(&key, alg, input, sig),
                Algorithm::Rs384 | Algorithm::Ps384 => rsa_check::<Sha384>(&key, alg, input, sig),
                _ => rsa_check::<Sha512>(&key, alg, input, sig),
            }
        }
        _ => return Err(KeyProblem::Mismatch),
    };
    valid.then_some(()).ok_or(KeyProblem::Signature)
}

/// RSASSA-PKCS1-v1_5 (RS*) or RSASSA-PSS with a salt as long as the hash (PS*, RFC 7518
/// §3.5) over `input` hashed with `D`.
fn rsa_check<D>(key: &RsaPublicKey, alg: Algorithm, input: &[u8], sig: &[u8]) -> bool
where
    D: Digest + DynDigest + AssociatedOid + Send + Sync + 'static,
{
    let hashed = D::digest(input);
    let pss = matches!(alg, Algorithm::Ps256 | Algorithm::Ps384 | Algorithm::Ps512);
    let result = if pss {
        key.verify(Pss::new::<D>(), &hashed, sig)
    } else {
        key.verify(Pkcs1v15Sign::new::<D>(), &hashed, sig)
    };
    result.is_ok()
}
