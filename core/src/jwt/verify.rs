//! JWT-SVID validation as go-spiffe's `jwtsvid.ParseAndValidate` and `jwtsvid.ParseInsecure`.
//!
//! The order of checks, and so which error a token with several faults gets, is go-spiffe's:
//! parse (algorithm allowed) → `sub` present → `exp` present → `sub` is a SPIFFE ID → key ID
//! → bundle of the subject's trust domain → key → signature → audience → `nbf` → `exp` →
//! `iat` → `typ`. Times are compared with go-jose's default leeway of one minute.

#[cfg(feature = "verify")]
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

#[cfg(feature = "verify")]
use ring::signature as sig;

#[cfg(feature = "verify")]
use super::jwks::{Curve, Jwks, Key};
use super::{Algorithm, Claims, JwtError, Token};
use crate::spiffe_id::{IdError, SpiffeId, TrustDomain};

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (go-jose's `DefaultLeeway`).
pub const LEEWAY_SECONDS: i64 = 60;

/// Largest RSA modulus accepted, in bits (bounds the cost of one verification; `ring`'s
/// bound).
#[cfg(feature = "verify")]
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
    /// The RSA key is smaller than the algorithm's floor (1024 bits for RS256 and RS512, 2048
    /// for RS384 and PS*) or larger than 8192 bits, or its exponent is not an odd number from
    /// 3 to 2^33 − 1.
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
#[cfg(feature = "verify")]
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
#[cfg(feature = "verify")]
enum KeyProblem {
    Signature,
    Mismatch,
    Unsupported,
}

/// Checks the token's signature with `key`, which must suit the token's algorithm, with
/// `ring`'s verifiers. JWS ECDSA signatures are R || S (RFC 7518 §3.4), `ring`'s `FIXED`
/// form; the point was checked to be on the curve when the JWKS was read.
#[cfg(feature = "verify")]
fn check_signature(tok: &Token<'_>, key: &Key) -> Result<(), KeyProblem> {
    let input = tok.signing_input.as_bytes();
    let signature = tok.signature.as_slice();
    let alg = tok.header.alg;
    let (verifier, public_key): (&'static dyn sig::VerificationAlgorithm, &[u8]) = match (key, alg)
    {
        (
            Key::Ec {
                curve: Curve::P256,
                point,
            },
            Algorithm::Es256,
        ) => (&sig::ECDSA_P256_SHA256_FIXED, point),
        (
            Key::Ec {
                curve: Curve::P384,
                point,
            },
            Algorithm::Es384,
        ) => (&sig::ECDSA_P384_SHA384_FIXED, point),
        // RFC 8032 §5.1.7; a point that does not decode verifies nothing.
        (Key::Ed25519(x), Algorithm::EdDsa) => (&sig::ED25519, x),
        (Key::Rsa { n, e }, _) if alg.is_rsa() => {
            let (params, min_bits) = rsa_parameters(alg);
            if !(min_bits..=MAX_RSA_BITS).contains(&bit_length(n)) || !usable_exponent(e) {
                return Err(KeyProblem::Unsupported);
            }
            return sig::RsaPublicKeyComponents { n, e }
                .verify(params, input, signature)
                .map_err(|_| KeyProblem::Signature);
        }
        _ => return Err(KeyProblem::Mismatch),
    };
    sig::UnparsedPublicKey::new(verifier, public_key)
        .verify(input, signature)
        .map_err(|_| KeyProblem::Signature)
}

/// `ring`'s RSASSA-PKCS1-v1_5 (RS*) or RSASSA-PSS (PS*, salt as long as the hash, RFC 7518
/// §3.5) parameters for an RSA algorithm, and the smallest modulus they take in bits.
#[cfg(feature = "verify")]
fn rsa_parameters(alg: Algorithm) -> (&'static sig::RsaParameters, usize) {
    match alg {
        Algorithm::Rs256 => (&sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, 1024),
        Algorithm::Rs384 => (&sig::RSA_PKCS1_2048_8192_SHA384, 2048),
        Algorithm::Rs512 => (&sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY, 1024),
        Algorithm::Ps256 => (&sig::RSA_PSS_2048_8192_SHA256, 2048),
        Algorithm::Ps384 => (&sig::RSA_PSS_2048_8192_SHA384, 2048),
        _ => (&sig::RSA_PSS_2048_8192_SHA512, 2048),
    }
}

/// Bits of a big-endian unsigned integer without leading zero bytes.
#[cfg(feature = "verify")]
fn bit_length(n: &[u8]) -> usize {
    n.first()
        .map_or(0, |&top| n.len() * 8 - top.leading_zeros() as usize)
}

/// Whether a big-endian public exponent is odd and from 3 to 2^33 − 1 (`ring`'s bounds).
#[cfg(feature = "verify")]
fn usable_exponent(e: &[u8]) -> bool {
    let value = e.iter().try_fold(0u64, |acc, &b| {
        acc.checked_mul(256).map(|v| v | u64::from(b))
    });
    value.is_some_and(|v| v % 2 == 1 && (3..1 << 33).contains(&v))
}
