//! JWT-SVID signing (ES256, RFC 7515 compact serialization, RFC 7518 §3.4; or EdDSA, RFC 8037
//! §3.1) and the JWKS documents of the JWT bundles (RFC 7517), one key per trust domain.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ED25519};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A JWT signing key of one trust domain, with its key ID.
pub struct JwtAuthority {
    kid: String,
    key: Key,
}

/// The signing key of a [`JwtAuthority`].
enum Key {
    /// ES256.
    P256(SigningKey),
    /// EdDSA.
    Ed25519(ed25519_dalek::SigningKey),
}

/// Why a JWT signing key could not be made.
#[derive(Debug)]
pub enum JwtKeyError {
    /// rcgen could not generate the key.
    Generate(rcgen::Error),
    /// The generated PKCS#8 document did not load as a P-256 or Ed25519 key.
    Load(p256::pkcs8::Error),
}

impl std::fmt::Display for JwtKeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Generate(e) => write!(f, "generating the JWT signing key: {e}"),
            Self::Load(e) => write!(f, "loading the JWT signing key: {e}"),
        }
    }
}

impl std::error::Error for JwtKeyError {}

impl JwtAuthority {
    /// Generates a fresh P-256 key. The `kid` is the first 24 bytes of the SHA-256 of the
    /// uncompressed public point, base64url (32 characters, like SPIRE's random key IDs).
    pub fn generate() -> Result<Self, JwtKeyError> {
        let key = SigningKey::from_pkcs8_der(&pkcs8(&PKCS_ECDSA_P256_SHA256)?)
            .map_err(JwtKeyError::Load)?;
        let point = key.verifying_key().to_encoded_point(false);
        Ok(Self {
            kid: key_id(point.as_bytes()),
            key: Key::P256(key),
        })
    }

    /// Generates a fresh Ed25519 key; the `kid` is made from its 32-byte public key as
    /// [`JwtAuthority::generate`] makes it from the point.
    pub fn generate_ed25519() -> Result<Self, JwtKeyError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let key = ed25519_dalek::SigningKey::from_pkcs8_der(&pkcs8(&PKCS_ED25519)?)
            .map_err(JwtKeyError::Load)?;
        Ok(Self {
            kid: key_id(key.verifying_key().as_bytes()),
            key: Key::Ed25519(key),
        })
    }

    /// The key ID carried in tokens and in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK: kty EC, crv P-256, x, y, kid (RFC 7518 §6.2.1), or kty OKP,
    /// crv Ed25519, x, kid (RFC 8037 §2).
    pub fn jwk(&self) -> Value {
        match &self.key {
            Key::P256(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                let coordinate = |c: Option<&p256::FieldBytes>| c.map(|c| B64URL.encode(c));
                json!({
                    "kty": "EC",
                    "kid": self.kid,
                    "crv": "P-256",
                    "x": coordinate(point.x()),
                    "y": coordinate(point.y()),
                })
            }
            Key::Ed25519(key) => json!({
                "kty": "OKP",
                "kid": self.kid,
                "crv": "Ed25519",
                "x": B64URL.encode(key.verifying_key().as_bytes()),
            }),
        }
    }

    /// Signs a JWT-SVID: header `{"alg":..,"kid":..,"typ":"JWT"}`, claims `sub`, `aud`
    /// (always a list, as SPIRE does), `exp`, `iat` (Unix seconds), and `pad` of `padding`
    /// bytes when it is not zero.
    pub fn sign(
        &self,
        sub: &str,
        audience: &[String],
        iat: i64,
        exp: i64,
        padding: usize,
    ) -> String {
        let alg = match self.key {
            Key::P256(_) => "ES256",
            Key::Ed25519(_) => "EdDSA",
        };
        let header = json!({"alg": alg, "kid": self.kid, "typ": "JWT"});
        let mut claims = json!({"sub": sub, "aud": audience, "exp": exp, "iat": iat});
        if padding > 0 {
            claims["pad"] = Value::String("p".repeat(padding));
        }
        let signing_input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let signature = match &self.key {
            // RFC 7518 §3.4: the JWS signature is R || S, 32 bytes each.
            Key::P256(key) => {
                let signature: Signature = key.sign(signing_input.as_bytes());
                signature.to_bytes().to_vec()
            }
            Key::Ed25519(key) => key.sign(signing_input.as_bytes()).to_bytes().to_vec(),
        };
        format!("{signing_input}.{}", B64URL.encode(signature))
    }
}

/// A fresh PKCS#8 key of `alg` from rcgen.
fn pkcs8(alg: &'static rcgen::SignatureAlgorithm) -> Result<Vec<u8>, JwtKeyError> {
    let pair = KeyPair::generate_for(alg).map_err(JwtKeyError::Generate)?;
    Ok(pair.serialize_der())
}

/// The first 24 bytes of the SHA-256 of `public`, base64url.
fn key_id(public: &[u8]) -> String {
    B64URL.encode(&Sha256::digest(public)[..24])
}

/// A JWKS document `{"keys":[...]}` holding the given keys.
pub fn jwks<'a>(keys: impl IntoIterator<Item = &'a JwtAuthority>) -> Vec<u8> {
    let keys: Vec<Value> = keys.into_iter().map(JwtAuthority::jwk).collect();
    json!({ "keys": keys }).to_string().into_bytes()
}
