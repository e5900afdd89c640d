//! The JWT checks shared by the JWT end-to-end and conformance tests: upstream's bundle file
//! format decoded, and tokens verified by an independent verifier (`jsonwebtoken`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::path::Path;

/// The bundle file decoded: trust-domain name to its JWKS document.
pub fn read_bundle_file(path: &Path) -> serde_json::Map<String, Value> {
    let text = std::fs::read(path).expect("the bundle file exists");
    assert!(!text.ends_with(b"\n"), "no trailing newline");
    let outer: serde_json::Map<String, Value> = serde_json::from_slice(&text).unwrap();
    outer
        .into_iter()
        .map(|(td, b64)| {
            let jwks = STANDARD
                .decode(b64.as_str().unwrap())
                .expect("padded base64");
            (td, serde_json::from_slice(&jwks).expect("a JWKS document"))
        })
        .collect()
}

/// Verifies `token` against the keys in `bundles` with `jsonwebtoken` (ES256 with an EC key,
/// EdDSA with an OKP one); returns its claims.
pub fn verify(token: &str, bundles: &serde_json::Map<String, Value>, aud: &str) -> Value {
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwk = bundles["example.org"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the token's kid is in the bundle file");
    let x = jwk["x"].as_str().unwrap();
    let (key, alg) = match jwk["kty"].as_str() {
        Some("OKP") => (DecodingKey::from_ed_components(x), Algorithm::EdDSA),
        _ => {
            let y = jwk["y"].as_str().unwrap();
            (DecodingKey::from_ec_components(x, y), Algorithm::ES256)
        }
    };
    let mut validation = Validation::new(alg);
    validation.set_audience(&[aud]);
    jsonwebtoken::decode::<Value>(token, &key.unwrap(), &validation)
        .expect("the token verifies against the bundle file")
        .claims
}
