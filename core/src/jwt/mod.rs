//! JWT-SVIDs (SPIFFE JWT-SVID.md): parsing compact JWS tokens, JWT bundles (JWKS), signature
//! and claim validation as go-spiffe's `jwtsvid.ParseAndValidate` does it, and the JWT bundle
//! file exactly as upstream spiffe-helper writes it (`pkg/disk/json.go@v0.11.0`).
//!
//! Pure functions: no I/O, no clock (the time is an argument in Unix seconds).
//!
//! - [`parse`] splits and decodes a token; nothing in it is trusted yet.
//! - [`Jwks::parse`] reads one trust domain's JWKS as `FetchJWTBundles` delivers it;
//!   [`parse_bundles`] reads the whole map.
//! - [`verify`] checks a token against the bundles and an audience; [`validate_insecure`]
//!   checks only the claims, like go-spiffe's `jwtsvid.ParseInsecure`.
//! - [`render_bundle_file`] writes the `jwt_bundle_file_name` contents.
//!
//! # Cryptography
//!
//! Signatures are checked with `ring` 0.17 (`ring::signature`: ECDSA P-256/P-384 in the JWS
//! `R || S` form, RSASSA-PKCS1-v1_5 and RSASSA-PSS, Ed25519), the provider X.509
//! verification uses too, so one is linked; chosen by instruction counts (BENCHMARKS.md,
//! "The crypto provider, measured"). [`verify`] and the on-curve check of EC keys in
//! [`Jwks::parse`] need the `verify` feature, which the embedded build leaves out (`ring`
//! does not build for `thumbv7em-none-eabihf`).
//!
//! # Differences from go-spiffe
//!
//! None of these concern what SPIRE issues.
//! - ES512 is left out: a P-521 JWK is kept in the bundle (and its file) but an ES512 token
//!   is refused as an unsupported algorithm (go-spiffe accepts it).
//! - EdDSA tokens are verified with the bundle's Ed25519 (`OKP`) keys; go-spiffe's
//!   `jwtsvid` (`svid.go`@v2.6.0, `allowedSignatureAlgorithms`) refuses the algorithm.
//! - A JWK with private members fails the whole JWKS ([`Jwks::parse`]).
//! - PS* signatures need a salt as long as the hash (RFC 7518 §3.5); Go verifies any length.
//! - Base64url must be canonical: no padding, no non-zero unused bits.
//! - RSA keys must have 1024 to 8192 bits for RS256 and RS512 and 2048 to 8192 for RS384
//!   and PS* (`ring`'s parameter sets; Go 1.24+ takes 1024 bits and up for all), and an odd
//!   public exponent from 3 to 2^33 − 1.
//! - Error texts are go-spiffe's without the `jwtsvid: ` prefix.

pub(crate) mod b64;
mod bundle_file;
#[cfg(fuzzing)]
pub mod json;
// Its items are `pub` for the fuzz targets, which see it under `cfg(fuzzing)`.
#[cfg(not(fuzzing))]
#[allow(unreachable_pub)]
pub(crate) mod json;
mod jwks;
mod verify;

#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

pub use bundle_file::render_bundle_file;
pub use json::{JsonError, JsonErrorKind, MAX_JSON_DEPTH};
pub use jwks::{BundlesError, Jwk, Jwks, JwksError, parse_bundles};
#[cfg(feature = "verify")]
pub use verify::verify;
pub use verify::{JwtSvid, LEEWAY_SECONDS, VerifyError, validate_insecure};

use json::Value;

/// The longest JWT-SVID the helper writes, in bytes. A token with one audience is a few
/// hundred bytes, so hundreds of audiences fit; a longer one is refused before it is parsed,
/// so an agent cannot make the helper write megabytes into a token file.
pub const MAX_TOKEN_SIZE: usize = 16 * 1024;

/// The signature algorithms accepted in a JWT-SVID header: JWT-SVID.md §3.1 minus ES512,
/// plus EdDSA with Ed25519 keys (RFC 8037 §3.1), which go-spiffe's `jwtsvid` refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256 and a 32-byte salt.
    Ps256,
    /// RSASSA-PSS with SHA-384 and a 48-byte salt.
    Ps384,
    /// RSASSA-PSS with SHA-512 and a 64-byte salt.
    Ps512,
    /// EdDSA over Ed25519 (RFC 8032 §5.1).
    EdDsa,
}

impl Algorithm {
    const ALL: [Algorithm; 9] = [
        Self::Es256,
        Self::Es384,
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::EdDsa,
    ];

    /// The JOSE name (`"ES256"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::EdDsa => "EdDSA",
        }
    }

    /// RS* or PS*: verified with an RSA key.
    pub fn is_rsa(self) -> bool {
        !matches!(self, Self::Es256 | Self::Es384 | Self::EdDsa)
    }

    /// The algorithm named `name` exactly (case-sensitive), if it is accepted.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The JOSE header of a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// `alg`.
    pub alg: Algorithm,
    /// `kid`, absent if missing or empty.
    pub kid: Option<String>,
    /// `typ`, if present.
    pub typ: Option<String>,
}

/// The registered claims of a token that JWT-SVID validation reads. Unknown claims are
/// ignored; `null` counts as absent, as in Go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    /// `sub`, absent if missing or empty.
    pub sub: Option<String>,
    /// `aud`: a string becomes a one-element list; empty if missing.
    pub aud: Vec<String>,
    /// `exp` in Unix seconds (fractions truncated, as go-jose's NumericDate).
    pub exp: Option<i64>,
    /// `iat` in Unix seconds.
    pub iat: Option<i64>,
    /// `nbf` in Unix seconds.
    pub nbf: Option<i64>,
}

/// A decoded compact JWS, not verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    /// The decoded header.
    pub header: Header,
    /// The decoded claims.
    pub claims: Claims,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub signing_input: &'a str,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// The three parts of a compact JWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(
    clippy::exhaustive_enums,
    reason = "a compact JWS has exactly these three parts (RFC 7515 §7.1)"
)]
pub enum Part {
    /// The JOSE header.
    Header,
    /// The payload (the claims set).
    Claims,
    /// The signature.
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Claims => "claims",
            Self::Signature => "signature",
        })
    }
}

/// Why a string is not a well-formed JWT-SVID token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three `.`-separated parts (JWS JSON serialization and JWE are not accepted).
    NotCompact,
    /// A part is not unpadded base64url.
    Base64(Part),
    /// The header or claims are not a JSON object.
    Json(Part, JsonError),
    /// The header has no `alg`.
    MissingAlgorithm,
    /// `alg` is not one of [`Algorithm`] (`none`, `HS256`, `ES512`, ...).
    UnsupportedAlgorithm(String),
    /// The header has a `crit` member: no JWS extension is understood (RFC 7515 §4.1.11).
    CriticalHeader,
    /// A header member or claim has the wrong JSON type (`exp` a string, `aud` an object...).
    WrongType(Part, &'static str),
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotCompact => f.write_str("token is not a compact JWS (three parts)"),
            Self::Base64(part) => write!(f, "token {part} is not unpadded base64url"),
            Self::Json(part, e) => write!(f, "token {part}: {e}"),
            Self::MissingAlgorithm => f.write_str("token header missing alg"),
            Self::UnsupportedAlgorithm(alg) => {
                write!(f, "unsupported token signature algorithm {alg:?}")
            }
            Self::CriticalHeader => f.write_str("token header has unsupported crit member"),
            Self::WrongType(part, name) => {
                write!(f, "token {part} member {name:?} has the wrong type")
            }
        }
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl core::error::Error for JwtError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Json(_, e) => Some(e),
            _ => None,
        }
    }
}

/// Decodes a compact JWS JWT-SVID (RFC 7515 §7.1): header, claims and signature. The
/// algorithm must be one of [`Algorithm`]; nothing else is checked or trusted.
pub fn parse(token: &str) -> Result<Token<'_>, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::NotCompact);
    };
    let object = |text: &str, part: Part| {
        let bytes = b64::decode(text).ok_or(JwtError::Base64(part))?;
        json::parse_object(&bytes).map_err(|e| JwtError::Json(part, e))
    };
    let header_members = object(header, Part::Header)?;
    let claims_members = object(payload, Part::Claims)?;
    Ok(Token {
        header: read_header(&header_members)?,
        claims: read_claims(&claims_members)?,
        signing_input: &token[..header.len() + 1 + payload.len()],
        signature: b64::decode(signature).ok_or(JwtError::Base64(Part::Signature))?,
    })
}

/// A string member, or `None` if absent.
fn string_member(
    members: &[(String, Value)],
    part: Part,
    name: &'static str,
) -> Result<Option<String>, JwtError> {
    match json::member(members, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JwtError::WrongType(part, name)),
    }
}

fn read_header(members: &[(String, Value)]) -> Result<Header, JwtError> {
    let alg = string_member(members, Part::Header, "alg")?.ok_or(JwtError::MissingAlgorithm)?;
    let alg = Algorithm::from_name(&alg).ok_or(JwtError::UnsupportedAlgorithm(alg))?;
    if json::member(members, "crit").is_some() {
        return Err(JwtError::CriticalHeader);
    }
    Ok(Header {
        alg,
        kid: string_member(members, Part::Header, "kid")?.filter(|k| !k.is_empty()),
        typ: string_member(members, Part::Header, "typ")?,
    })
}

fn read_claims(members: &[(String, Value)]) -> Result<Claims, JwtError> {
    // Wrong types here fail go-jose's claims decoding too, even for claims not kept.
    for name in ["iss", "jti"] {
        string_member(members, Part::Claims, name)?;
    }
    let date = |name: &'static str| match json::member(members, name) {
        None => Ok(None),
        // Truncation toward zero as Go's int64(float64); Go's ParseFloat refuses what
        // overflows a float64 (1e400), and so does this.
        Some(Value::Number(n)) if n.is_finite() => Ok(Some(*n as i64)),
        Some(_) => Err(JwtError::WrongType(Part::Claims, name)),
    };
    let aud = match json::member(members, "aud") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(JwtError::WrongType(Part::Claims, "aud")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(JwtError::WrongType(Part::Claims, "aud")),
    };
    Ok(Claims {
        sub: string_member(members, Part::Claims, "sub")?.filter(|s| !s.is_empty()),
        aud,
        exp: date("exp")?,
        iat: date("iat")?,
        nbf: date("nbf")?,
    })
}
