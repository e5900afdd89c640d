//! `svid_core::jwt` against tokens signed by an independent implementation (the
//! `jsonwebtoken` crate) with the OpenSSL-made keys of `core/src/testdata`.
//!
//! An integration test rather than unit tests: `jsonwebtoken` brings `serde_json`, whose
//! `PartialEq` impls would make `assert_eq!(x, [])` ambiguous in the crate's other tests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use jsonwebtoken::{Algorithm as Alg, EncodingKey, encode};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::DecodePrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use svid_core::jwt::*;
use svid_core::spiffe_id::TrustDomain;

const NOW: i64 = 1_800_000_000;
const ID: &str = "spiffe://example.org/workload";
const AUD: &str = "svc";

const P256_DER: &[u8] = include_bytes!("../src/testdata/leaf-ec.key.der");
const P256_OTHER_DER: &[u8] = include_bytes!("../src/testdata/ca-ec.key.der");
const P384_DER: &[u8] = include_bytes!("../src/testdata/p384.key.der");
const RSA_DER: &[u8] = include_bytes!("../src/testdata/ca-rsa.key.der");
const RSA_1024_DER: &[u8] = include_bytes!("../src/testdata/rsa1024.key.der");
const ED25519_DER: &[u8] = include_bytes!("../src/testdata/ed25519.key.der");

/// A signing key of the independent signer and its public JWK.
struct Signer {
    kid: &'static str,
    key: EncodingKey,
    jwk: Json,
}

fn ec_jwk(kid: &str, crv: &str, x: &[u8], y: &[u8]) -> Json {
    // `use` as SPIRE's own bundle endpoint adds it; the parser must ignore it.
    json!({"kty": "EC", "kid": kid, "crv": crv, "x": B64URL.encode(x), "y": B64URL.encode(y), "use": "jwt-svid"})
}

fn p256(der: &[u8], kid: &'static str) -> Signer {
    let point = p256::SecretKey::from_pkcs8_der(der)
        .unwrap()
        .public_key()
        .to_encoded_point(false);
    Signer {
        kid,
        key: EncodingKey::from_ec_der(der),
        jwk: ec_jwk(kid, "P-256", point.x().unwrap(), point.y().unwrap()),
    }
}

fn p384(kid: &'static str) -> Signer {
    let secret = p384::SecretKey::from_pkcs8_der(P384_DER).unwrap();
    let point = secret.public_key().to_encoded_point(false);
    Signer {
        kid,
        key: EncodingKey::from_ec_der(P384_DER),
        jwk: ec_jwk(kid, "P-384", point.x().unwrap(), point.y().unwrap()),
    }
}

fn rsa_key(kid: &'static str) -> Signer {
    rsa_key_of(RSA_DER, kid)
}

/// The RSA key `der` (PKCS#8) as a JWK.
fn rsa_key_of(der: &[u8], kid: &'static str) -> Signer {
    let private = rsa::RsaPrivateKey::from_pkcs8_der(der).unwrap();
    let jwk = json!({
        "kty": "RSA", "kid": kid, "alg": "RS256",
        "n": B64URL.encode(private.n().to_bytes_be()),
        "e": B64URL.encode(private.e().to_bytes_be()),
    });
    let pkcs1 = private.to_pkcs1_der().unwrap();
    Signer {
        kid,
        key: EncodingKey::from_rsa_der(pkcs1.as_bytes()),
        jwk,
    }
}

/// An Ed25519 key (PKCS#8) as an `OKP` JWK (RFC 8037 §2), its public key read by rcgen.
fn ed25519(pkcs8: &[u8], kid: &'static str) -> Signer {
    let pair = rcgen::KeyPair::try_from(pkcs8).unwrap();
    let x = B64URL.encode(pair.public_key_raw());
    Signer {
        kid,
        key: EncodingKey::from_ed_der(pkcs8),
        jwk: json!({"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": x, "alg": "EdDSA"}),
    }
}

/// A fresh Ed25519 key made by rcgen.
fn ed25519_fresh(kid: &'static str) -> Signer {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    ed25519(&pair.serialize_der(), kid)
}

fn claims(sub: &str, aud: &str, exp: i64) -> Json {
    json!({"sub": sub, "aud": [aud], "exp": exp, "iat": NOW - 10})
}

fn sign_as(signer: &Signer, alg: Alg, kid: Option<&str>, claims: &Json) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = kid.map(String::from);
    encode(&header, claims, &signer.key).unwrap()
}

fn sign(signer: &Signer, alg: Alg, claims: &Json) -> String {
    sign_as(signer, alg, Some(signer.kid), claims)
}

/// A token whose header and claims are given as JSON text, with a dummy signature.
fn unsigned(header: &str, claims: &str) -> String {
    format!("{}.{}.c2ln", B64URL.encode(header), B64URL.encode(claims))
}

fn jwks_doc(signers: &[&Signer]) -> Vec<u8> {
    let keys: Vec<&Json> = signers.iter().map(|s| &s.jwk).collect();
    json!({"keys": keys, "spiffe_sequence": 7})
        .to_string()
        .into_bytes()
}

/// The bundle map as the Workload API delivers it: keyed `spiffe://example.org`.
fn bundles(signers: &[&Signer]) -> BTreeMap<TrustDomain, Jwks> {
    let doc = jwks_doc(signers);
    parse_bundles([("spiffe://example.org", doc.as_slice())]).unwrap()
}

#[test]
fn every_algorithm_verifies() {
    let (ec256, ec384, rsa) = (p256(P256_DER, "ec256"), p384("ec384"), rsa_key("rsa"));
    let ed = ed25519(ED25519_DER, "ed");
    let set = bundles(&[&ec256, &ec384, &rsa, &ed]);
    let cases = [
        (&ec256, Alg::ES256),
        (&ec384, Alg::ES384),
        (&rsa, Alg::RS256),
        (&rsa, Alg::RS384),
        (&rsa, Alg::RS512),
        (&rsa, Alg::PS256),
        (&rsa, Alg::PS384),
        (&rsa, Alg::PS512),
        (&ed, Alg::EdDSA),
    ];
    for (signer, alg) in cases {
        let token = sign(signer, alg, &claims(ID, AUD, NOW + 300));
        let svid = verify(&token, &set, AUD, NOW).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(svid.id.as_str(), ID);
        assert_eq!(svid.expiry, NOW + 300);
        assert_eq!(svid.claims.aud, [AUD]);
        assert_eq!(svid.claims.iat, Some(NOW - 10));
        let parsed = parse(&token).unwrap();
        assert_eq!(parsed.header.alg.name(), format!("{alg:?}"));
        assert_eq!(parsed.header.typ.as_deref(), Some("JWT"));
    }
}

#[test]
fn signature_must_come_from_the_named_key() {
    let good = p256(P256_DER, "k1");
    let set = bundles(&[&good]);
    // Another key, same kid.
    let impostor = p256(P256_OTHER_DER, "k1");
    let token = sign(&impostor, Alg::ES256, &claims(ID, AUD, NOW + 300));
    assert_eq!(
        verify(&token, &set, AUD, NOW),
        Err(VerifyError::BadSignature)
    );

    // Payload swapped under a valid signature.
    let token = sign(&good, Alg::ES256, &claims(ID, AUD, NOW + 300));
    let parts: Vec<&str> = token.split('.').collect();
    let forged = B64URL.encode(claims("spiffe://example.org/admin", AUD, NOW + 300).to_string());
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    assert_eq!(
        verify(&tampered, &set, AUD, NOW),
        Err(VerifyError::BadSignature)
    );

    // A signature of the wrong length (DER instead of R || S, say).
    let short = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40]);
    assert_eq!(
        verify(&short, &set, AUD, NOW),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn an_ed25519_signature_must_come_from_the_named_key() {
    let (good, impostor) = (ed25519(ED25519_DER, "ed"), ed25519_fresh("ed"));
    let set = bundles(&[&good]);
    let token = sign(&impostor, Alg::EdDSA, &claims(ID, AUD, NOW + 300));
    assert_eq!(
        verify(&token, &set, AUD, NOW),
        Err(VerifyError::BadSignature)
    );
    let token = sign(&good, Alg::EdDSA, &claims(ID, AUD, NOW + 300));
    let flipped = token.replace(".", "x.").replacen("x.", ".", 1);
    assert!(verify(&flipped, &set, AUD, NOW).is_err());
    // An `x` that is not a curve point verifies nothing.
    let bad = br#"{"keys":[{"kty":"OKP","kid":"ed","crv":"Ed25519","x":"AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#;
    let set = parse_bundles([("example.org", &bad[..])]).unwrap();
    assert_eq!(
        verify(&token, &set, AUD, NOW),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn key_lookup_errors() {
    let signer = p256(P256_DER, "k1");
    let set = bundles(&[&signer]);
    let token = sign_as(&signer, Alg::ES256, Some("k2"), &claims(ID, AUD, NOW + 300));
    let err = verify(&token, &set, AUD, NOW).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no JWT authority \"k2\" found for trust domain \"example.org\""
    );
    assert!(matches!(err, VerifyError::UnknownKeyId { kid, .. } if kid == "k2"));

    let token = sign(
        &signer,
        Alg::ES256,
        &claims("spiffe://other.org/w", AUD, NOW + 300),
    );
    let err = verify(&token, &set, AUD, NOW).unwrap_err();
    assert_eq!(
        err,
        VerifyError::NoBundle(TrustDomain::parse("other.org").unwrap())
    );
    assert_eq!(
        err.to_string(),
        "no bundle found for trust domain \"other.org\""
    );

    let token = sign_as(&signer, Alg::ES256, None, &claims(ID, AUD, NOW + 300));
    assert_eq!(
        verify(&token, &set, AUD, NOW),
        Err(VerifyError::MissingKeyId)
    );
    // Without verification no key is needed.
    assert!(validate_insecure(&token, &[AUD], NOW).is_ok());
}

#[test]
fn key_must_suit_the_algorithm() {
    let (ec256, ec384, rsa) = (p256(P256_DER, "ec256"), p384("ec384"), rsa_key("rsa"));
    let ed = ed25519(ED25519_DER, "ed");
    let set = bundles(&[&ec256, &ec384, &rsa, &ed]);
    let c = claims(ID, AUD, NOW + 300);
    for (signer, alg, kid) in [
        (&ec384, Alg::ES384, "ec256"),
        (&ec256, Alg::ES256, "ec384"),
        (&ec256, Alg::ES256, "rsa"),
        (&rsa, Alg::RS256, "ec256"),
        (&ed, Alg::EdDSA, "ec256"),
        (&ed, Alg::EdDSA, "rsa"),
        (&ec256, Alg::ES256, "ed"),
        (&rsa, Alg::PS256, "ed"),
    ] {
        let token = sign_as(signer, alg, Some(kid), &c);
        let err = verify(&token, &set, AUD, NOW).unwrap_err();
        assert!(
            matches!(err, VerifyError::KeyAlgorithmMismatch { .. }),
            "{alg:?} {kid}: {err}"
        );
    }
}

#[test]
fn rsa_keys_below_1024_bits_are_refused() {
    let tiny = br#"{"keys":[{"kty":"RSA","kid":"tiny","n":"wcLDxMXGx8jJysvMzc7P0NHS09TV1tfY2drb3N3e3-Dh4uPk5ebn6Onq6-zt7u_w","e":"AQAB"}]}"#;
    let set = parse_bundles([("example.org", &tiny[..])]).unwrap();
    let token = sign_as(
        &rsa_key("rsa"),
        Alg::RS256,
        Some("tiny"),
        &claims(ID, AUD, NOW + 300),
    );
    let err = verify(&token, &set, AUD, NOW).unwrap_err();
    assert_eq!(err, VerifyError::UnsupportedKey { kid: "tiny".into() });
}

#[test]
fn rsa_1024_bit_keys_verify_rs256_and_rs512_only() {
    let small = rsa_key_of(RSA_1024_DER, "small");
    let set = bundles(&[&small]);
    let claims = claims(ID, AUD, NOW + 300);
    for alg in [Alg::RS256, Alg::RS512] {
        let token = sign(&small, alg, &claims);
        assert!(verify(&token, &set, AUD, NOW).is_ok(), "{alg:?}");
    }
    // PS512 cannot be signed with 1,024 bits (RFC 8017 §9.1.1: a 64-byte salt and hash).
    for alg in [Alg::RS384, Alg::PS256, Alg::PS384] {
        let token = sign(&small, alg, &claims);
        let err = verify(&token, &set, AUD, NOW).unwrap_err();
        assert_eq!(
            err,
            VerifyError::UnsupportedKey {
                kid: "small".into()
            },
            "{alg:?}"
        );
    }
}

#[test]
fn audience_must_match() {
    let signer = p256(P256_DER, "k1");
    let set = bundles(&[&signer]);
    let token = sign(&signer, Alg::ES256, &claims(ID, "other", NOW + 300));
    let err = verify(&token, &set, AUD, NOW).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"expected audience in ["svc"] (audience=["other"])"#
    );
    // `aud` as a single string, and among several.
    let single = json!({"sub": ID, "aud": AUD, "exp": NOW + 300});
    assert!(verify(&sign(&signer, Alg::ES256, &single), &set, AUD, NOW).is_ok());
    let several = json!({"sub": ID, "aud": ["a", AUD, "b"], "exp": NOW + 300});
    assert!(verify(&sign(&signer, Alg::ES256, &several), &set, AUD, NOW).is_ok());
    let none = json!({"sub": ID, "exp": NOW + 300});
    let err = verify(&sign(&signer, Alg::ES256, &none), &set, AUD, NOW).unwrap_err();
    assert!(matches!(err, VerifyError::WrongAudience { actual, .. } if actual.is_empty()));
    // Insecure validation: any one of the requested audiences.
    assert!(validate_insecure(&token, &["x", "other"], NOW).is_ok());
    assert!(validate_insecure(&token, &["x"], NOW).is_err());
}

#[test]
fn times_have_one_minute_of_leeway() {
    let signer = p256(P256_DER, "k1");
    let set = bundles(&[&signer]);
    let at = |c: Json| verify(&sign(&signer, Alg::ES256, &c), &set, AUD, NOW);
    assert!(at(claims(ID, AUD, NOW - 30)).is_ok());
    assert!(at(claims(ID, AUD, NOW - 60)).is_ok());
    assert_eq!(at(claims(ID, AUD, NOW - 61)), Err(VerifyError::Expired));
    assert_eq!(VerifyError::Expired.to_string(), "token has expired");
    let with = |name: &str, value: i64| {
        let mut c = claims(ID, AUD, NOW + 300);
        c[name] = json!(value);
        at(c)
    };
    assert!(with("nbf", NOW + 60).is_ok());
    assert_eq!(with("nbf", NOW + 61), Err(VerifyError::NotYetValid));
    assert!(with("iat", NOW + 60).is_ok());
    assert_eq!(with("iat", NOW + 61), Err(VerifyError::IssuedInFuture));
    // Fractional NumericDates are truncated, as go-jose does.
    let mut c = claims(ID, AUD, 0);
    c["exp"] = json!((NOW - 60) as f64 + 0.9);
    assert!(at(c).is_ok());
}

#[test]
fn none_and_hmac_are_refused_before_anything_else() {
    let body = claims(ID, AUD, NOW + 300).to_string();
    let none = format!(
        "{}.{}.",
        B64URL.encode(r#"{"alg":"none"}"#),
        B64URL.encode(&body)
    );
    // The bundle holds the HMAC secret itself as an `oct` key, which go-jose keeps too.
    let secret = json!({"kty": "oct", "kid": "k1", "k": B64URL.encode(b"k1")});
    let doc = json!({"keys": [secret]}).to_string();
    let set = parse_bundles([("example.org", doc.as_bytes())]).unwrap();
    let refused = |alg: &str| VerifyError::Malformed(JwtError::UnsupportedAlgorithm(alg.into()));
    assert_eq!(verify(&none, &set, AUD, NOW), Err(refused("none")));
    let hmac = EncodingKey::from_secret(b"k1");
    let mut header = jsonwebtoken::Header::new(Alg::HS256);
    header.kid = Some("k1".into());
    let token = encode(&header, &claims(ID, AUD, NOW + 300), &hmac).unwrap();
    assert_eq!(verify(&token, &set, AUD, NOW), Err(refused("HS256")));
    assert_eq!(
        validate_insecure(&token, &[AUD], NOW),
        Err(refused("HS256"))
    );
    for alg in ["ES512", "eddsa", "es256", "HS384"] {
        let token = unsigned(&format!(r#"{{"alg":"{alg}"}}"#), &body);
        assert_eq!(validate_insecure(&token, &[AUD], NOW), Err(refused(alg)));
    }
}

#[test]
fn parse_splits_and_decodes() {
    let signer = p256(P256_DER, "k1");
    let token = sign(&signer, Alg::ES256, &claims(ID, AUD, NOW + 300));
    let parsed = parse(&token).unwrap();
    assert_eq!(parsed.header.kid.as_deref(), Some("k1"));
    assert_eq!(parsed.claims.sub.as_deref(), Some(ID));
    assert_eq!(parsed.claims.exp, Some(NOW + 300));
    assert_eq!(parsed.claims.nbf, None);
    assert_eq!(parsed.signature.len(), 64);
    assert_eq!(parsed.signing_input, &token[..token.rfind('.').unwrap()]);

    assert_eq!(parse("a.b"), Err(JwtError::NotCompact));
    assert_eq!(parse(&format!("{token}.x")), Err(JwtError::NotCompact));
    assert_eq!(parse(""), Err(JwtError::NotCompact));
    let parts: Vec<&str> = token.split('.').collect();
    let padded = format!("{}=.{}.{}", parts[0], parts[1], parts[2]);
    assert_eq!(parse(&padded), Err(JwtError::Base64(Part::Header)));
    let bad_sig = format!("{}.{}.{}+", parts[0], parts[1], parts[2]);
    assert_eq!(parse(&bad_sig), Err(JwtError::Base64(Part::Signature)));
    let not_json = format!("{}.{}.{}", parts[0], B64URL.encode("[1]"), parts[2]);
    assert!(matches!(
        parse(&not_json),
        Err(JwtError::Json(Part::Claims, _))
    ));
}

#[test]
fn mangled_tokens_never_panic_and_never_verify() {
    let (ec, rsa) = (p256(P256_DER, "ec"), rsa_key("rsa"));
    let set = bundles(&[&ec, &rsa]);
    // Half the bits of each byte of the ES256 token, one of the PS256 one (unoptimized
    // test builds make the crypto slow).
    for (token, bits) in [
        (sign(&ec, Alg::ES256, &claims(ID, AUD, NOW + 300)), 0..4),
        (sign(&rsa, Alg::PS256, &claims(ID, AUD, NOW + 300)), 0..1),
    ] {
        assert!(verify(&token, &set, AUD, NOW).is_ok());
        for len in 0..token.len() {
            assert!(
                verify(&token[..len], &set, AUD, NOW).is_err(),
                "truncated to {len}"
            );
        }
        let bytes = token.as_bytes();
        for i in 0..bytes.len() {
            for bit in bits.clone() {
                let mut flipped = bytes.to_vec();
                flipped[i] ^= 1 << ((bit + i) % 8);
                let Ok(text) = core::str::from_utf8(&flipped) else {
                    continue;
                };
                // A flip in the last character's unused bits would be another encoding of
                // the same bytes; canonical base64url refuses it, so nothing verifies.
                assert!(verify(text, &set, AUD, NOW).is_err(), "byte {i} bit {bit}");
                let _ = parse(text);
            }
        }
    }
}

/// Each key's `kid`, `kty` and `crv`, in order.
fn kinds(jwks: &Jwks) -> Vec<(&str, &str, Option<&str>)> {
    let keys = jwks.keys().iter();
    keys.map(|k| (k.kid(), k.kty(), k.crv())).collect()
}

#[test]
fn jwks_with_ec_and_rsa_keys() {
    let (ec256, ec384, rsa) = (p256(P256_DER, "a"), p384("b"), rsa_key("c"));
    let jwks = Jwks::parse(&jwks_doc(&[&ec256, &ec384, &rsa])).unwrap();
    assert_eq!(
        kinds(&jwks),
        [
            ("a", "EC", Some("P-256")),
            ("b", "EC", Some("P-384")),
            ("c", "RSA", None)
        ]
    );
    assert!(jwks.find("c").is_some() && jwks.find("d").is_none());
}

#[test]
fn jwks_keeps_every_key_go_jose_keeps_and_refuses_the_rest() {
    let ec = p256(P256_DER, "ec").jwk;
    let ed = ed25519(ED25519_DER, "ed").jwk;
    let doc = |keys: Json| json!({"keys": keys}).to_string().into_bytes();
    let p521 = json!({"kty": "EC", "kid": "p521", "crv": "P-521",
        "x": B64URL.encode([1u8; 66]), "y": B64URL.encode([2u8; 66])});
    let kept = json!([{"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}, ed, p521, ec]);
    let jwks = Jwks::parse(&doc(kept)).unwrap();
    assert_eq!(
        kinds(&jwks),
        [
            ("sym", "oct", None),
            ("ed", "OKP", Some("Ed25519")),
            ("p521", "EC", Some("P-521")),
            ("ec", "EC", Some("P-256")),
        ]
    );

    // What go-jose refuses fails the whole document, with the reason.
    let refused = |key: Json| Jwks::parse(&doc(json!([ec, key]))).unwrap_err();
    let err = refused(json!({"kty": "OKP", "kid": "x", "crv": "X25519", "x": "AA"}));
    let kty = Some("OKP X25519".into());
    assert_eq!(err, JwksError::UnsupportedKeyType { index: 1, kty });
    assert_eq!(
        err.to_string(),
        "JWKS key 1: unsupported key type \"OKP X25519\""
    );
    let err = refused(json!({"kty": "PQC", "kid": "x"}));
    let kty = Some("PQC".into());
    assert_eq!(err, JwksError::UnsupportedKeyType { index: 1, kty });
    let err = refused(json!({"kid": "no-kty"}));
    assert_eq!(
        err,
        JwksError::UnsupportedKeyType {
            index: 1,
            kty: None
        }
    );
    assert_eq!(err.to_string(), "JWKS key 1: missing json web key type");
    let err = refused(json!({"kty": "oct", "kid": "s"}));
    assert_eq!(
        err,
        JwksError::MissingMember {
            index: 1,
            member: "k"
        }
    );
    let err = refused(json!({"kty": "OKP", "kid": "e", "crv": "Ed25519", "x": "AA"}));
    assert_eq!(err, JwksError::InvalidKey { index: 1 });
    // A private key is never taken into a bundle (go-jose would keep it and write it back).
    let mut private = ed25519(ED25519_DER, "p").jwk;
    private["d"] = json!(B64URL.encode([7u8; 32]));
    assert_eq!(refused(private), JwksError::PrivateKey { index: 1 });

    assert_eq!(Jwks::parse(b"{}").unwrap(), Jwks::default());
    assert_eq!(Jwks::parse(br#"{"keys":null}"#).unwrap(), Jwks::default());
    assert_eq!(Jwks::parse(br#"{"keys":{}}"#), Err(JwksError::KeysNotArray));
    assert_eq!(
        Jwks::parse(br#"{"keys":[1]}"#),
        Err(JwksError::KeyNotObject { index: 0 })
    );
    assert!(matches!(Jwks::parse(b"[]"), Err(JwksError::Json(_))));

    let with = |name: &str, value: Json| {
        let mut key = ec.clone();
        key[name] = value;
        Jwks::parse(&doc(
            json!([{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}, key]),
        ))
    };
    let err = with("kid", json!("")).unwrap_err();
    assert_eq!(err, JwksError::MissingKid { index: 1 });
    assert_eq!(
        err.to_string(),
        "error adding authority 1 of JWKS: keyID cannot be empty"
    );
    assert_eq!(
        with("kid", Json::Null),
        Err(JwksError::MissingKid { index: 1 })
    );
    assert_eq!(
        with("crv", json!("secp256k1")),
        Err(JwksError::UnsupportedCurve {
            index: 1,
            crv: "secp256k1".into()
        })
    );
    assert_eq!(
        with("x", json!("AAAA")),
        Err(JwksError::InvalidKey { index: 1 })
    );
    let off_curve = B64URL.encode([1u8; 32]);
    assert_eq!(
        with("y", json!(off_curve)),
        Err(JwksError::InvalidKey { index: 1 })
    );
    assert_eq!(
        with("x", Json::Null),
        Err(JwksError::MissingMember {
            index: 1,
            member: "x"
        })
    );
    assert_eq!(
        with("x", json!("a+b")),
        Err(JwksError::BadMember {
            index: 1,
            member: "x"
        })
    );
    assert_eq!(
        with("x", json!(5)),
        Err(JwksError::BadMember {
            index: 1,
            member: "x"
        })
    );
    let rsa = json!([{"kty": "RSA", "kid": "r", "n": "AA", "e": "AQAB"}]);
    assert_eq!(
        Jwks::parse(&doc(rsa)),
        Err(JwksError::InvalidKey { index: 0 })
    );
}

#[test]
fn jwks_later_duplicate_kid_replaces_earlier() {
    let (first, second) = (p256(P256_DER, "k"), p256(P256_OTHER_DER, "k"));
    let jwks = Jwks::parse(&jwks_doc(&[&first, &second])).unwrap();
    assert_eq!(jwks.keys().len(), 1);
    let set = bundles(&[&first, &second]);
    let token = sign(&second, Alg::ES256, &claims(ID, AUD, NOW + 300));
    assert!(verify(&token, &set, AUD, NOW).is_ok());
}

#[test]
fn bundles_map_keys_are_trust_domains() {
    let doc = jwks_doc(&[&p256(P256_DER, "k")]);
    for key in [
        "spiffe://example.org",
        "example.org",
        "spiffe://example.org/path",
    ] {
        let set = parse_bundles([(key, doc.as_slice())]).unwrap();
        assert_eq!(
            set.keys().map(TrustDomain::as_str).collect::<Vec<_>>(),
            ["example.org"]
        );
    }
    let err = parse_bundles([("spiffe://Bad", doc.as_slice())]).unwrap_err();
    assert!(matches!(err, BundlesError::TrustDomain { .. }));
    let err = parse_bundles([("example.org", &b"{"[..])]).unwrap_err();
    assert!(matches!(err, BundlesError::Jwks { .. }), "{err}");
}

#[test]
fn bundle_file_round_trips_real_keys() {
    let (ec256, ec384, rsa) = (p256(P256_DER, "a"), p384("b"), rsa_key("c"));
    let set = bundles(&[&ec256, &ec384, &rsa]);
    let file: Json = serde_json::from_slice(&render_bundle_file(&set)).unwrap();
    let encoded = file["example.org"].as_str().unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let jwks: Json = serde_json::from_slice(&decoded).unwrap();
    let expected: Vec<Json> = [ec256.jwk, ec384.jwk, rsa.jwk]
        .into_iter()
        .map(|mut k| {
            let k = k.as_object_mut().unwrap();
            k.remove("use");
            k.remove("alg");
            Json::Object(k.clone())
        })
        .collect();
    assert_eq!(jwks, json!({"keys": expected}));
    // And the re-marshalled JWKS verifies the same tokens.
    let again = parse_bundles([("example.org", decoded.as_slice())]).unwrap();
    assert_eq!(again, set);
}
