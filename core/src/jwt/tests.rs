//! Unit tests with fixtures made outside this crate: tokens and a JWKS signed and written by
//! Python `cryptography` (OpenSSL, `testdata/jwt-tokens.py`), and the JWT bundle file's
//! expected bytes. The tests signing with the `jsonwebtoken` crate are in `core/tests/jwt.rs`.

use super::*;
use crate::spiffe_id::{IdError, TrustDomain};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;

const NOW: i64 = 1_800_000_000;
const ID: &str = "spiffe://example.org/workload";
const AUD: &str = "svc";

#[cfg(feature = "verify")]
const TOKENS: &str = include_str!("../testdata/jwt-tokens.txt");
const BUNDLE: &[u8] = include_bytes!("../testdata/jwt-bundle.json");

#[cfg(feature = "verify")]
fn bundles() -> BTreeMap<TrustDomain, Jwks> {
    parse_bundles([("spiffe://example.org", BUNDLE)]).unwrap()
}

/// A token whose header and claims are given as JSON text, with a dummy signature.
fn unsigned(header: &str, claims: &str) -> String {
    let mut out = alloc::vec::Vec::new();
    b64::encode(header.as_bytes(), &mut out);
    out.push(b'.');
    b64::encode(claims.as_bytes(), &mut out);
    out.extend_from_slice(b".c2ln");
    String::from_utf8(out).unwrap()
}

#[test]
#[cfg(feature = "verify")]
fn openssl_signed_tokens_verify() {
    let set = bundles();
    let mut algs = alloc::vec::Vec::new();
    for line in TOKENS.lines() {
        let (alg, token) = line.split_once(' ').unwrap();
        let svid = verify(token, &set, AUD, NOW).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(svid.id.as_str(), ID);
        assert_eq!(svid.expiry, 1_800_000_300);
        assert_eq!(parse(token).unwrap().header.alg.name(), alg);
        assert_eq!(
            verify(token, &set, AUD, 1_800_000_361),
            Err(VerifyError::Expired)
        );
        assert!(verify(token, &set, "other", NOW).is_err());
        algs.push(alg);
    }
    assert_eq!(
        algs,
        [
            "ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"
        ]
    );
}

#[test]
#[cfg(feature = "verify")]
fn openssl_signatures_do_not_move_between_tokens() {
    let set = bundles();
    let tokens: alloc::vec::Vec<&str> = TOKENS.lines().map(|l| &l[6..]).collect();
    // RS256's signing input under RS384's signature, and so on round the list.
    for (i, token) in tokens.iter().enumerate() {
        let other = tokens[(i + 1) % tokens.len()];
        let sig = &other[other.rfind('.').unwrap()..];
        let spliced = format!("{}{sig}", &token[..token.rfind('.').unwrap()]);
        assert!(verify(&spliced, &set, AUD, NOW).is_err(), "{spliced}");
    }
}

#[test]
fn claim_and_header_checks_in_go_spiffe_order() {
    let c = |text: &str| {
        validate_insecure(&unsigned(r#"{"alg":"ES256","kid":"k"}"#, text), &[AUD], NOW)
    };
    assert_eq!(
        c(r#"{"aud":"svc","exp":1}"#),
        Err(VerifyError::MissingSubject)
    );
    assert_eq!(
        c(r#"{"sub":"","aud":"svc","exp":1}"#),
        Err(VerifyError::MissingSubject)
    );
    assert_eq!(
        c(r#"{"sub":null,"exp":1}"#),
        Err(VerifyError::MissingSubject)
    );
    assert_eq!(
        c(r#"{"sub":"x","aud":"svc"}"#),
        Err(VerifyError::MissingExpiry)
    );
    assert_eq!(
        c(r#"{"sub":"spiffe://Example.org/w","exp":1}"#),
        Err(VerifyError::InvalidSubject(IdError::BadTrustDomainChar))
    );
    let wrong_type = |name| {
        Err(VerifyError::Malformed(JwtError::WrongType(
            Part::Claims,
            name,
        )))
    };
    assert_eq!(c(r#"{"sub":"x","exp":"1"}"#), wrong_type("exp"));
    assert_eq!(c(r#"{"sub":"x","exp":1e400}"#), wrong_type("exp"));
    assert_eq!(c(r#"{"sub":1,"exp":1}"#), wrong_type("sub"));
    assert_eq!(c(r#"{"sub":"x","exp":1,"aud":[1]}"#), wrong_type("aud"));
    assert_eq!(c(r#"{"sub":"x","exp":1,"aud":{}}"#), wrong_type("aud"));
    assert_eq!(c(r#"{"sub":"x","exp":1,"iss":2}"#), wrong_type("iss"));
    assert_eq!(c(r#"{"sub":"x","exp":1,"nbf":true}"#), wrong_type("nbf"));

    let h = |header: &str| {
        let body = format!(r#"{{"sub":"{ID}","aud":"svc","exp":{}}}"#, NOW + 300);
        validate_insecure(&unsigned(header, &body), &[AUD], NOW)
    };
    assert!(h(r#"{"alg":"ES256","typ":"JWT"}"#).is_ok());
    assert!(h(r#"{"alg":"ES256","typ":"JOSE"}"#).is_ok());
    assert_eq!(
        h(r#"{"alg":"ES256","typ":"jwt"}"#),
        Err(VerifyError::BadType("jwt".into()))
    );
    let malformed = |e| Err(VerifyError::Malformed(e));
    assert_eq!(
        h(r#"{"alg":"ES256","crit":["b64"]}"#),
        malformed(JwtError::CriticalHeader)
    );
    assert_eq!(h(r#"{"typ":"JWT"}"#), malformed(JwtError::MissingAlgorithm));
    assert_eq!(
        h(r#"{"alg":256}"#),
        malformed(JwtError::WrongType(Part::Header, "alg"))
    );
    assert_eq!(
        h(r#"{"alg":"ES256","kid":7}"#),
        malformed(JwtError::WrongType(Part::Header, "kid"))
    );
    // Go's encoding/json: the last of duplicate members wins.
    assert_eq!(
        h(r#"{"alg":"ES256","alg":"none"}"#),
        malformed(JwtError::UnsupportedAlgorithm("none".into()))
    );
}

/// The JWT bundle file, byte for byte. The input is pretty-printed like SPIRE's and carries
/// members upstream drops; the RSA modulus has a leading zero byte and the exponent two,
/// which Go's `big.Int` drops on re-marshalling; the `kid` needs Go's HTML escaping; the
/// Ed25519, `oct` and P-521 keys are kept as go-jose writes them (`kty, kid, crv, x`;
/// `kty, kid, k`; the P-521 coordinates 66 bytes); an empty bundle is `{"keys":null}`. The expected bytes were
/// made with Python's `base64` module from the JWKS text written out below.
#[test]
fn bundle_file_exact_bytes() {
    let example = r#"{
    "keys": [
        {
            "use": "jwt-svid",
            "kty": "EC",
            "kid": "ec-1",
            "crv": "P-256",
            "x": "OIGDZIPakoNS_jTIzqpIqco9bcPhIDluwmbvsZFnWD8",
            "y": "OleEQnfDu1VJJhQeBGt7xbJbPBC4WKMnDiq3uz-lr8k"
        },
        {
            "x": "bI-78TAdvi2foBDxID4nVBeR04k5Wb95OZGnEyNj79o",
            "alg": "EdDSA",
            "crv": "Ed25519",
            "kid": "ed",
            "kty": "OKP"
        },
        {
            "e": "AAEAAQ",
            "n": "AMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t_g4eLj5OXm5-jp6uvs7e7v8A",
            "kid": "rsa<1>",
            "alg": "RS256",
            "kty": "RSA"
        },
        {
            "k": "c2VjcmV0",
            "kid": "sym",
            "kty": "oct"
        },
        {
            "kty": "EC",
            "kid": "p521",
            "crv": "P-521",
            "x": "AYr0tBI_x1xmyXzTHyQIzUlhFxfE7YPTBgATtIr9Tri9hsmIXm45lEShQwma6IET-yJjATONi47Rgd_9zLjFaiir",
            "y": "ABE7ChYb0WEa95Z72FCUZCHBjCdvMG4LOOXZ40Pcn6B2dPfBifFFA74ODdFvvDcIzeVrT5uYfIN7DMdYXVwrYnJf"
        }
    ],
    "spiffe_sequence": 12,
    "spiffe_refresh_hint": 300
}"#;
    let set = parse_bundles([
        ("spiffe://other.org", &b"{\"keys\":[]}"[..]),
        ("spiffe://example.org", example.as_bytes()),
    ])
    .unwrap();
    let jwks = &set[&TrustDomain::parse("example.org").unwrap()];
    assert_eq!(
        String::from_utf8(jwks.to_json()).unwrap(),
        concat!(
            r#"{"keys":[{"kty":"EC","kid":"ec-1","crv":"P-256","#,
            r#""x":"OIGDZIPakoNS_jTIzqpIqco9bcPhIDluwmbvsZFnWD8","#,
            r#""y":"OleEQnfDu1VJJhQeBGt7xbJbPBC4WKMnDiq3uz-lr8k"},"#,
            r#"{"kty":"OKP","kid":"ed","crv":"Ed25519","x":"bI-78TAdvi2foBDxID4nVBeR04k5Wb95OZGnEyNj79o"},"#,
            r#"{"kty":"RSA","kid":"rsa\u003c1\u003e","#,
            r#""n":"wcLDxMXGx8jJysvMzc7P0NHS09TV1tfY2drb3N3e3-Dh4uPk5ebn6Onq6-zt7u_w","e":"AQAB"},"#,
            r#"{"kty":"oct","kid":"sym","k":"c2VjcmV0"},"#,
            r#"{"kty":"EC","kid":"p521","crv":"P-521","#,
            r#""x":"AYr0tBI_x1xmyXzTHyQIzUlhFxfE7YPTBgATtIr9Tri9hsmIXm45lEShQwma6IET-yJjATONi47Rgd_9zLjFaiir","#,
            r#""y":"ABE7ChYb0WEa95Z72FCUZCHBjCdvMG4LOOXZ40Pcn6B2dPfBifFFA74ODdFvvDcIzeVrT5uYfIN7DMdYXVwrYnJf"}]}"#
        )
    );
    let expected = concat!(
        r#"{"example.org":"eyJrZXlzIjpbeyJrdHkiOiJFQyIsImtpZCI6ImVjLTEiLCJjcnYiOiJQLTI1NiIsIngiOiJPSUdEWklQYWtvTlNfalRJenFwSXFjbzliY1BoSURsdXdtYnZzWkZuV0Q4IiwieSI6Ik9sZUVRbmZEdTFWSkpoUWVCR3Q3eGJKYlBCQzRXS01uRGlxM3V6LWxyOGsifSx7Imt0eSI6Ik9LUCIsImtpZCI6ImVkIiwiY3J2IjoiRWQyNTUxOSIsIngiOiJiSS03OFRBZHZpMmZvQkR4SUQ0blZCZVIwNGs1V2I5NU9aR25FeU5qNzlvIn0seyJrdHkiOiJSU0EiLCJraWQiOiJyc2FcdTAwM2MxXHUwMDNlIiwibiI6IndjTER4TVhHeDhqSnlzdk16YzdQME5IUzA5VFYxdGZZMmRyYjNOM2UzLURoNHVQazVlYm42T25xNi16dDd1X3ciLCJlIjoiQVFBQiJ9LHsia3R5Ijoib2N0Iiwia2lkIjoic3ltIiwiayI6ImMyVmpjbVYwIn0seyJrdHkiOiJFQyIsImtpZCI6InA1MjEiLCJjcnYiOiJQLTUyMSIsIngiOiJBWXIwdEJJX3gxeG15WHpUSHlRSXpVbGhGeGZFN1lQVEJnQVR0SXI5VHJpOWhzbUlYbTQ1bEVTaFF3bWE2SUVULXlKakFUT05pNDdSZ2RfOXpMakZhaWlyIiwieSI6IkFCRTdDaFliMFdFYTk1WjcyRkNVWkNIQmpDZHZNRzRMT09YWjQwUGNuNkIyZFBmQmlmRkZBNzRPRGRGdnZEY0l6ZVZyVDV1WWZJTjdETWRZWFZ3clluSmYifV19","#,
        r#""other.org":"eyJrZXlzIjpudWxsfQ=="}"#
    );
    assert_eq!(
        String::from_utf8(render_bundle_file(&set)).unwrap(),
        expected
    );
    assert_eq!(render_bundle_file(&BTreeMap::new()), b"{}");
}

#[test]
fn mangled_jwks_never_panic() {
    assert_eq!(Jwks::parse(BUNDLE).unwrap().keys().len(), 3);
    for len in 0..BUNDLE.len() {
        let _ = Jwks::parse(&BUNDLE[..len]);
    }
    for i in 0..BUNDLE.len() {
        let mut flipped = BUNDLE.to_vec();
        flipped[i] ^= 1 << (i % 8);
        if let Ok(jwks) = Jwks::parse(&flipped) {
            // Whatever still parses renders and parses again to the same keys.
            assert_eq!(Jwks::parse(&jwks.to_json()), Ok(jwks));
        }
    }
}
