//! JWT-SVID signing (ES256, RFC 7515 compact serialization, RFC 7518 §3.4) and the JWKS
//! documents of the JWT bundles (RFC 7517), one P-256 key per trust domain.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A JWT signing key of one trust domain, with its key ID.
pub struct JwtAuthority {
    kid: String,
    key: SigningKey,
}

/// Why a JWT signing key could not be made.
#[derive(Debug)]
pub enum JwtKeyError {
    /// rcgen could not generate the key.
    Generate(rcgen::Error),
    /// The generated PKCS#8 document did not load as a P-256 key.
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
        let pkcs8 = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(JwtKeyError::Generate)?
            .serialize_der();
        let key = SigningKey::from_pkcs8_der(&pkcs8).map_err(JwtKeyError::Load)?;
        let point = key.verifying_key().to_encoded_point(false);
        let digest = Sha256::digest(point.as_bytes());
        let kid = B64URL.encode(&digest[..24]);
        Ok(Self { kid, key })
    }

    /// The key ID carried in tokens and in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (RFC 7518 §6.2.1): kty EC, crv P-256, x, y, kid.
    pub fn jwk(&self) -> Value {
        let point = self.key.verifying_key().to_encoded_point(false);
        let coordinate = |c: Option<&p256::FieldBytes>| c.map(|c| B64URL.encode(c));
        json!({
            "kty": "EC",
            "kid": self.kid,
            "crv": "P-256",
            "x": coordinate(point.x()),
            "y": coordinate(point.y()),
        })
    }

    /// Signs a JWT-SVID: header `{"alg":"ES256","kid":..,"typ":"JWT"}`, claims `sub`, `aud`
    /// (always a list, as SPIRE does), `exp`, `iat` (Unix seconds).
    pub fn sign(&self, sub: &str, audience: &[String], iat: i64, exp: i64) -> String {
        let header = json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"});
        let claims = json!({"sub": sub, "aud": audience, "exp": exp, "iat": iat});
        let signing_input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        // RFC 7518 §3.4: the JWS signature is R || S, 32 bytes each.
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", B64URL.encode(signature.to_bytes()))
    }
}

/// A JWKS document `{"keys":[...]}` holding the given keys.
pub fn jwks<'a>(keys: impl IntoIterator<Item = &'a JwtAuthority>) -> Vec<u8> {
    let keys: Vec<Value> = keys.into_iter().map(JwtAuthority::jwk).collect();
    json!({ "keys": keys }).to_string().into_bytes()
}
