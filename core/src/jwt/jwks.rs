//! JWT bundles: one trust domain's JSON Web Key Set (RFC 7517 §5) as the Workload API's
//! `FetchJWTBundles` delivers it, read as go-spiffe's `jwtbundle.Parse` reads it.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::b64;
use super::json::{self, JsonError, Value};
use crate::json::write_go_string;
use crate::spiffe_id::{IdError, TrustDomain};

/// One JWT signing key of a bundle: a non-empty key ID and a validated public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    kid: String,
    key: Key,
}

/// The public key material of a [`Jwk`], validated when the JWKS is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Key {
    /// An EC key: the SEC1 uncompressed point `04 || x || y`, checked to be on the curve
    /// (P-256 and P-384, with the `verify` feature).
    Ec { curve: Curve, point: Vec<u8> },
    /// An RSA key: modulus and exponent, big-endian without leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An `OKP` key on Ed25519 (RFC 8037 §2): the 32-byte public key.
    Ed25519([u8; 32]),
    /// An `oct` (symmetric) key: kept and written as go-jose keeps it, never used to verify
    /// (no HMAC algorithm is accepted in a JWT-SVID).
    Oct(Vec<u8>),
}

/// The EC curves go-jose reads (`jwk.go` `ecPublicKey`@v4.1.2). P-521 keys are kept for the
/// bundle file but verify nothing (no ES512 here), and their point is not checked to be on
/// the curve: no P-521 arithmetic is linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// Bytes of one coordinate.
    fn size(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }
}

impl Jwk {
    /// The key ID (`kid`), never empty.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key type: `"EC"`, `"RSA"`, `"OKP"` or `"oct"`.
    pub fn kty(&self) -> &'static str {
        match self.key {
            Key::Ec { .. } => "EC",
            Key::Rsa { .. } => "RSA",
            Key::Ed25519(_) => "OKP",
            Key::Oct(_) => "oct",
        }
    }

    /// The curve name (`"P-256"`, `"P-384"`, `"P-521"`, `"Ed25519"`) of an EC or OKP key.
    pub fn crv(&self) -> Option<&'static str> {
        match self.key {
            Key::Ec { curve, .. } => Some(curve.name()),
            Key::Ed25519(_) => Some("Ed25519"),
            Key::Rsa { .. } | Key::Oct(_) => None,
        }
    }

    #[cfg(feature = "verify")]
    pub(super) fn key(&self) -> &Key {
        &self.key
    }

    /// Appends the key object as go-jose marshals it (`rawJSONWebKey`'s field order,
    /// `jwk.go`@v4.1.2): `kty, kid, crv, x, y` (EC), `kty, kid, n, e` (RSA),
    /// `kty, kid, crv, x` (OKP) or `kty, kid, k` (oct).
    fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_with_use(None, out);
    }

    /// [`Jwk::write_json`] with go-jose's `use` member first when given, as go-spiffe's
    /// `spiffebundle.Bundle.Marshal` writes a JWT authority (`"use":"jwt-svid"`).
    pub(crate) fn write_json_with_use(&self, use_: Option<&str>, out: &mut Vec<u8>) {
        out.push(b'{');
        if let Some(use_) = use_ {
            out.extend_from_slice(b"\"use\":");
            write_go_string(use_, out);
            out.push(b',');
        }
        out.extend_from_slice(b"\"kty\":");
        write_go_string(self.kty(), out);
        out.extend_from_slice(b",\"kid\":");
        write_go_string(&self.kid, out);
        if let Some(crv) = self.crv() {
            out.extend_from_slice(b",\"crv\":");
            write_go_string(crv, out);
        }
        let mut member = |name: &str, bytes: &[u8]| {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":\"");
            b64::encode(bytes, out);
            out.push(b'"');
        };
        match &self.key {
            Key::Ec { curve, point } => {
                let (x, y) = point[1..].split_at(curve.size());
                member("x", x);
                member("y", y);
            }
            Key::Rsa { n, e } => {
                member("n", n);
                member("e", e);
            }
            Key::Ed25519(x) => member("x", x),
            Key::Oct(k) => member("k", k),
        }
        out.push(b'}');
    }
}

/// One trust domain's JWT bundle: its JWT signing keys by key ID.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

/// Why a JWKS document was refused. `index` is the position in the `keys` array.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksError {
    /// The document is not a JSON object.
    Json(JsonError),
    /// `keys` is not an array.
    KeysNotArray,
    /// An element of `keys` is not an object.
    KeyNotObject {
        /// Position in `keys`.
        index: usize,
    },
    /// A supported key has no `kid`, or an empty one.
    MissingKid {
        /// Position in `keys`.
        index: usize,
    },
    /// A member a supported key needs is missing.
    MissingMember {
        /// Position in `keys`.
        index: usize,
        /// The member name.
        member: &'static str,
    },
    /// A member is not a string, or not unpadded base64url where that is required.
    BadMember {
        /// Position in `keys`.
        index: usize,
        /// The member name.
        member: &'static str,
    },
    /// An EC key names a curve that neither this crate nor go-jose knows.
    UnsupportedCurve {
        /// Position in `keys`.
        index: usize,
        /// The `crv` value.
        crv: String,
    },
    /// EC coordinates of the wrong length or not on the curve, an RSA modulus of zero, or an
    /// Ed25519 key that is not 32 bytes.
    InvalidKey {
        /// Position in `keys`.
        index: usize,
    },
    /// A `kty` go-jose does not read (`jwk.go`@v4.1.2 refuses the whole JWKS with
    /// `unsupported key type/format`), an `OKP` key on a curve other than Ed25519, or no
    /// `kty` at all (`None`; go-jose: `missing json web key type`).
    UnsupportedKeyType {
        /// Position in `keys`.
        index: usize,
        /// The `kty` value, with the `crv` of an `OKP` key (`"OKP X25519"`).
        kty: Option<String>,
    },
    /// The key has private members (`d`): never written to a bundle file (go-jose would
    /// keep the private key and write it back).
    PrivateKey {
        /// Position in `keys`.
        index: usize,
    },
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "unable to parse JWKS: {e}"),
            Self::KeysNotArray => f.write_str("unable to parse JWKS: \"keys\" is not an array"),
            Self::KeyNotObject { index } => write!(f, "JWKS key {index} is not an object"),
            Self::MissingKid { index } => {
                write!(
                    f,
                    "error adding authority {index} of JWKS: keyID cannot be empty"
                )
            }
            Self::MissingMember { index, member } => {
                write!(f, "JWKS key {index}: missing {member:?}")
            }
            Self::BadMember { index, member } => {
                write!(
                    f,
                    "JWKS key {index}: {member:?} is not a (base64url) string"
                )
            }
            Self::UnsupportedCurve { index, crv } => {
                write!(f, "JWKS key {index}: unsupported elliptic curve {crv:?}")
            }
            Self::InvalidKey { index } => write!(f, "JWKS key {index}: invalid public key"),
            Self::UnsupportedKeyType { index, kty: None } => {
                write!(f, "JWKS key {index}: missing json web key type")
            }
            Self::UnsupportedKeyType {
                index,
                kty: Some(kty),
            } => write!(f, "JWKS key {index}: unsupported key type {kty:?}"),
            Self::PrivateKey { index } => {
                write!(f, "JWKS key {index}: holds a private key (\"d\")")
            }
        }
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl core::error::Error for JwksError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Json(e) => Some(e),
            _ => None,
        }
    }
}

impl Jwks {
    /// Reads a JWKS document `{"keys":[...], ...}`.
    ///
    /// As go-spiffe (`jwtbundle.Parse` over go-jose's `JSONWebKey.UnmarshalJSON`,
    /// `jwk.go`@v4.1.2): unknown members are ignored (`use`, `alg`, `spiffe_sequence`,
    /// `spiffe_refresh_hint`, `x5c`, ...); a missing or `null` `keys` is an empty bundle;
    /// every key needs a non-empty `kid`; a later key with the same `kid` replaces the
    /// earlier one; `EC` (P-256, P-384, P-521), `RSA`, `OKP` (Ed25519) and `oct` keys are
    /// kept; a key of any other type or curve, or a malformed one (missing or
    /// non-base64url members, coordinates not of the curve's size or not on it), fails the
    /// whole document, so nothing is ever dropped silently.
    ///
    /// Unlike go-jose: a key with private members (`d`) fails the document too, an Ed25519
    /// `x` must be exactly 32 bytes (go-jose pads or cuts it), and a P-521 point is not
    /// checked to be on its curve.
    pub fn parse(doc: &[u8]) -> Result<Jwks, JwksError> {
        let members = json::parse_object(doc).map_err(JwksError::Json)?;
        let items = match json::member(&members, "keys") {
            None => return Ok(Jwks::default()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(JwksError::KeysNotArray),
        };
        let mut jwks = Jwks::default();
        // Position of each kid in `jwks.keys`, so that duplicates cost O(log n).
        let mut positions = BTreeMap::new();
        for (index, item) in items.iter().enumerate() {
            let Value::Object(members) = item else {
                return Err(JwksError::KeyNotObject { index });
            };
            let key = read_key(members, index)?;
            let kid = match json::member(members, "kid") {
                Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
                None | Some(Value::String(_)) => return Err(JwksError::MissingKid { index }),
                Some(_) => {
                    return Err(JwksError::BadMember {
                        index,
                        member: "kid",
                    });
                }
            };
            match positions.get(&kid) {
                Some(&at) => jwks.keys[at] = Jwk { kid, key },
                None => {
                    positions.insert(kid.clone(), jwks.keys.len());
                    jwks.keys.push(Jwk { kid, key });
                }
            }
        }
        Ok(jwks)
    }

    /// The keys, in document order (a replaced `kid` keeps its first position).
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The key with ID `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The JWKS as go-spiffe's `jwtbundle.Bundle.Marshal` writes it: `{"keys":[...]}` with
    /// each key as [`Jwk`] writes it (go-jose's field order), no whitespace, and `{"keys":null}` when there are no keys (Go's nil slice).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::from(&b"{\"keys\":"[..]);
        if self.keys.is_empty() {
            out.extend_from_slice(b"null");
        }
        for (i, key) in self.keys.iter().enumerate() {
            out.push(if i == 0 { b'[' } else { b',' });
            key.write_json(&mut out);
        }
        if !self.keys.is_empty() {
            out.push(b']');
        }
        out.push(b'}');
        out
    }
}

/// Whether the SEC1 uncompressed `point` is a point of `curve` other than the identity, as
/// go-jose's `ecPublicKey` requires (`IsOnCurve`); P-521 points are not checked. `ring` has
/// no public check of a point alone: its ECDH checks the peer's point (NIST SP 800-56A
/// §5.6.2.3.4, partial validation) before using it, so this agrees with an ephemeral key.
#[cfg(feature = "verify")]
fn on_curve(curve: Curve, point: &[u8]) -> bool {
    use ring::agreement::{ECDH_P256, ECDH_P384, EphemeralPrivateKey, UnparsedPublicKey};
    let alg = match curve {
        Curve::P256 => &ECDH_P256,
        Curve::P384 => &ECDH_P384,
        Curve::P521 => return true,
    };
    let rng = ring::rand::SystemRandom::new();
    EphemeralPrivateKey::generate(alg, &rng).is_ok_and(|ours| {
        ring::agreement::agree_ephemeral(ours, &UnparsedPublicKey::new(alg, point), |_| ()).is_ok()
    })
}

/// Reads the material of one key.
fn read_key(members: &[(String, Value)], index: usize) -> Result<Key, JwksError> {
    let text = |member: &'static str| match json::member(members, member) {
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        None => Ok(None),
        Some(_) => Err(JwksError::BadMember { index, member }),
    };
    let bytes = |member: &'static str| {
        let s = text(member)?.ok_or(JwksError::MissingMember { index, member })?;
        b64::decode(s).ok_or(JwksError::BadMember { index, member })
    };
    if json::member(members, "d").is_some() {
        return Err(JwksError::PrivateKey { index });
    }
    match text("kty")? {
        Some("EC") => {
            let curve = match text("crv")? {
                Some("P-256") => Curve::P256,
                Some("P-384") => Curve::P384,
                Some("P-521") => Curve::P521,
                crv => {
                    let crv = String::from(crv.unwrap_or_default());
                    return Err(JwksError::UnsupportedCurve { index, crv });
                }
            };
            let (x, y) = (bytes("x")?, bytes("y")?);
            if x.len() != curve.size() || y.len() != curve.size() {
                return Err(JwksError::InvalidKey { index });
            }
            let point = [&[4u8][..], &x, &y].concat();
            #[cfg(feature = "verify")]
            if !on_curve(curve, &point) {
                return Err(JwksError::InvalidKey { index });
            }
            Ok(Key::Ec { curve, point })
        }
        Some("RSA") => {
            let (n, e) = (minimal(bytes("n")?), minimal(bytes("e")?));
            if n.is_empty() || e.is_empty() || e.len() > 8 {
                return Err(JwksError::InvalidKey { index });
            }
            Ok(Key::Rsa { n, e })
        }
        Some("OKP") if text("crv")? == Some("Ed25519") => {
            let x = <[u8; 32]>::try_from(bytes("x")?);
            x.map(Key::Ed25519)
                .map_err(|_| JwksError::InvalidKey { index })
        }
        Some("oct") => Ok(Key::Oct(bytes("k")?)),
        Some("OKP") => {
            let crv = text("crv")?.unwrap_or_default();
            let kty = Some(alloc::format!("OKP {crv}"));
            Err(JwksError::UnsupportedKeyType { index, kty })
        }
        kty => Err(JwksError::UnsupportedKeyType {
            index,
            kty: kty.filter(|k| !k.is_empty()).map(String::from),
        }),
    }
}

/// A big-endian unsigned integer without leading zero bytes (Go's `big.Int.Bytes`).
fn minimal(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// Why the `bundles` map of a `FetchJWTBundles` response was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundlesError {
    /// A map key is not a trust domain.
    TrustDomain {
        /// The map key.
        key: String,
        /// What is wrong with it.
        error: IdError,
    },
    /// A value is not a valid JWKS.
    Jwks {
        /// The trust domain.
        trust_domain: TrustDomain,
        /// What is wrong with its JWKS.
        error: JwksError,
    },
}

impl fmt::Display for BundlesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TrustDomain { key, error } => {
                write!(f, "JWT bundle key {key:?} is not a trust domain: {error}")
            }
            Self::Jwks {
                trust_domain,
                error,
            } => write!(f, "JWT bundle of {:?}: {error}", trust_domain.as_str()),
        }
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl core::error::Error for BundlesError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::TrustDomain { error, .. } => Some(error),
            Self::Jwks { error, .. } => Some(error),
        }
    }
}

/// Reads the `bundles` map of a `FetchJWTBundles` response: each key is a trust domain as
/// `spiffe://td` (what SPIRE sends), `spiffe://td/path` or a bare `td` (both accepted, as
/// go-spiffe does), each value a JWKS. One bad entry fails the whole message, as in
/// go-spiffe. Two keys naming the same trust domain: the later in iteration order wins.
pub fn parse_bundles<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<BTreeMap<TrustDomain, Jwks>, BundlesError> {
    let mut bundles = BTreeMap::new();
    for (key, doc) in entries {
        let trust_domain =
            TrustDomain::from_id_or_name(key).map_err(|error| BundlesError::TrustDomain {
                key: String::from(key),
                error,
            })?;
        match Jwks::parse(doc) {
            Ok(jwks) => bundles.insert(trust_domain, jwks),
            Err(error) => {
                return Err(BundlesError::Jwks {
                    trust_domain,
                    error,
                });
            }
        };
    }
    Ok(bundles)
}
