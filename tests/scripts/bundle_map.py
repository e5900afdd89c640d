#!/usr/bin/env python3
"""Reads a SPIFFE bundle map as a strict consumer would, and compares it with the PEM files.

Usage: bundle_map.py MAP_JSON TRUST_BUNDLE_DIR [JWT_BUNDLE_JSON]

- JSON with duplicate names refused (SPIFFE Trust Domain and Bundle §5.1.1, §6.3);
- validated with `jsonschema` against a schema written from the specs: §5.1.1 (a
  `trust_domains` object keyed by trust-domain names, SPIFFE ID §2.1; no
  `spiffe_refresh_hint` in a map), §4.1 (`keys` present, `spiffe_sequence` an integer),
  §4.2 and X509-SVID §6.1 (`kty`, `use` = `x509-svid`, no `kid`, exactly one `x5c`
  certificate in standard base64), RFC 7518 §6.2.1 / §6.3.1 and RFC 8037 §2 (the key
  members of EC, RSA and OKP keys, base64url without padding);
- each `x5c` decoded by `cryptography` as an X.509 certificate whose public key is the key
  the JWK members describe;
- each trust domain's certificates equal, in order, those of TRUST_BUNDLE_DIR/<td>.pem, and
  the map names exactly the trust domains that have a file there;
- with JWT_BUNDLE_JSON (the helper's `jwt_bundle_file_name`): the JWT keys too, after each
  domain's X.509 keys (§4.2.2: `use` = `jwt-svid`, `kid` required, no `x5c`; `oct` keys
  as go-jose keeps them), each domain's equal, in order and member by member, to the keys
  of that domain's JWKS in the JWT bundle file (`use` aside); the map then names the
  trust domains of either file.

Prints "ok <domains> trust domains, <keys> keys[, <n> jwt-svid keys]" and exits 0 on
success.
"""
import base64
import json
import os
import ssl
import sys

import jsonschema
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

B64URL = "^[A-Za-z0-9_-]+$"
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["trust_domains"],
    "additionalProperties": False,
    "properties": {
        "trust_domains": {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z0-9._-]+$", "maxLength": 255},
            "additionalProperties": {"$ref": "#/$defs/bundle"},
        }
    },
    "$defs": {
        "bundle": {
            "type": "object",
            "required": ["keys"],
            "additionalProperties": False,
            "properties": {
                "keys": {"type": "array", "items": {"$ref": "#/$defs/x509_jwk"}},
                "spiffe_sequence": {"type": "integer", "minimum": 0},
            },
        },
        "x509_jwk": {
            "type": "object",
            "required": ["kty", "use", "x5c"],
            "additionalProperties": False,
            "properties": {
                "use": {"const": "x509-svid"},
                "kty": {"enum": ["EC", "RSA", "OKP"]},
                "x5c": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": {"type": "string", "pattern": "^[A-Za-z0-9+/]+={0,2}$"},
                },
                "crv": {"enum": ["P-256", "P-384", "P-521", "Ed25519"]},
                "x": {"type": "string", "pattern": B64URL},
                "y": {"type": "string", "pattern": B64URL},
                "n": {"type": "string", "pattern": B64URL},
                "e": {"type": "string", "pattern": B64URL},
            },
            "allOf": [
                {
                    "if": {"properties": {"kty": {"const": "EC"}}},
                    "then": {
                        "required": ["crv", "x", "y"],
                        "properties": {"crv": {"enum": ["P-256", "P-384", "P-521"]}},
                        "not": {"anyOf": [{"required": ["n"]}, {"required": ["e"]}]},
                    },
                },
                {
                    "if": {"properties": {"kty": {"const": "RSA"}}},
                    "then": {
                        "required": ["n", "e"],
                        "not": {"anyOf": [{"required": [k]} for k in ("crv", "x", "y")]},
                    },
                },
                {
                    "if": {"properties": {"kty": {"const": "OKP"}}},
                    "then": {
                        "required": ["crv", "x"],
                        "properties": {"crv": {"const": "Ed25519"}},
                        "not": {"anyOf": [{"required": [k]} for k in ("y", "n", "e")]},
                    },
                },
            ],
        },
    },
}


JWT_JWK = {
    "type": "object",
    "required": ["use", "kty", "kid"],
    "additionalProperties": False,
    "properties": {
        "use": {"const": "jwt-svid"},
        "kty": {"enum": ["EC", "RSA", "OKP", "oct"]},
        "kid": {"type": "string", "minLength": 1},
        "crv": {"enum": ["P-256", "P-384", "P-521", "Ed25519"]},
        "x": {"type": "string", "pattern": B64URL},
        "y": {"type": "string", "pattern": B64URL},
        "n": {"type": "string", "pattern": B64URL},
        "e": {"type": "string", "pattern": B64URL},
        "k": {"type": "string", "pattern": B64URL},
    },
    "allOf": [
        {
            "if": {"properties": {"kty": {"const": "EC"}}},
            "then": {"required": ["crv", "x", "y"]},
        },
        {"if": {"properties": {"kty": {"const": "RSA"}}}, "then": {"required": ["n", "e"]}},
        {"if": {"properties": {"kty": {"const": "OKP"}}}, "then": {"required": ["crv", "x"]}},
        {"if": {"properties": {"kty": {"const": "oct"}}}, "then": {"required": ["k"]}},
    ],
}


def with_jwt_keys(schema):
    """The schema with a bundle's keys either X.509 or JWT keys."""
    schema = json.loads(json.dumps(schema))
    schema["$defs"]["jwt_jwk"] = JWT_JWK
    schema["$defs"]["bundle"]["properties"]["keys"]["items"] = {
        "oneOf": [{"$ref": "#/$defs/x509_jwk"}, {"$ref": "#/$defs/jwt_jwk"}]
    }
    return schema


def no_duplicates(pairs):
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise ValueError("duplicate names in one object: %r" % names)
    return dict(pairs)


def b64url_int(text):
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_key(jwk, cert):
    public = cert.public_key()
    kty = jwk["kty"]
    if kty == "EC":
        assert isinstance(public, ec.EllipticCurvePublicKey), (kty, public)
        curve = {"P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1"}[jwk["crv"]]
        assert public.curve.name == curve, (jwk["crv"], public.curve.name)
        size = (public.curve.key_size + 7) // 8
        assert len(b64url(jwk["x"])) == size and len(b64url(jwk["y"])) == size, "coordinate size"
        numbers = public.public_numbers()
        assert (b64url_int(jwk["x"]), b64url_int(jwk["y"])) == (numbers.x, numbers.y), "EC point"
    elif kty == "RSA":
        assert isinstance(public, rsa.RSAPublicKey), (kty, public)
        numbers = public.public_numbers()
        assert b64url(jwk["n"])[0] != 0 and b64url(jwk["e"])[0] != 0, "Base64urlUInt is minimal"
        assert (b64url_int(jwk["n"]), b64url_int(jwk["e"])) == (numbers.n, numbers.e), "RSA key"
    else:
        assert isinstance(public, ed25519.Ed25519PublicKey), (kty, public)
        assert b64url(jwk["x"]) == public.public_bytes(Encoding.Raw, PublicFormat.Raw), "Ed25519"


def pem_ders(path):
    text = open(path).read()
    blocks = text.split("-----END CERTIFICATE-----")
    return [
        ssl.PEM_cert_to_DER_cert(block.strip() + "\n-----END CERTIFICATE-----\n")
        for block in blocks
        if "-----BEGIN CERTIFICATE-----" in block
    ]


def jwt_bundles(path):
    """The JWT bundle file: each trust domain's keys, in JWKS order."""
    with open(path) as f:
        doc = json.load(f, object_pairs_hook=no_duplicates)
    return {
        td: json.loads(base64.b64decode(jwks, validate=True), object_pairs_hook=no_duplicates)[
            "keys"
        ]
        or []
        for td, jwks in doc.items()
    }


def main():
    map_path, bundle_dir = sys.argv[1:3]
    jwt = jwt_bundles(sys.argv[3]) if len(sys.argv) > 3 else None
    with open(map_path) as f:
        doc = json.load(f, object_pairs_hook=no_duplicates)
    schema = SCHEMA if jwt is None else with_jwt_keys(SCHEMA)
    jsonschema.validate(doc, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    domains = doc["trust_domains"]
    files = sorted(f[: -len(".pem")] for f in os.listdir(bundle_dir) if f.endswith(".pem"))
    want_domains = sorted(set(files) | set(jwt or {}))
    assert sorted(domains) == want_domains, "map %s, files %s" % (sorted(domains), want_domains)
    keys = jwt_keys = 0
    for td, bundle in domains.items():
        x509_keys = [jwk for jwk in bundle["keys"] if jwk["use"] == "x509-svid"]
        rest = bundle["keys"][len(x509_keys) :]
        assert all(jwk["use"] == "jwt-svid" for jwk in rest), "%s: X.509 keys come first" % td
        ders = [base64.b64decode(jwk["x5c"][0], validate=True) for jwk in x509_keys]
        for jwk, der in zip(x509_keys, ders):
            check_key(jwk, x509.load_der_x509_certificate(der))
        path = os.path.join(bundle_dir, td + ".pem")
        want = pem_ders(path) if os.path.exists(path) else []
        assert ders == want, "%s: the map's certificates differ from %s.pem" % (td, td)
        keys += len(ders)
        if jwt is not None:
            got = [{k: v for k, v in jwk.items() if k != "use"} for jwk in rest]
            assert got == jwt.get(td, []), "%s: jwt-svid keys %r, JWT bundle file %r" % (
                td,
                got,
                jwt.get(td),
            )
            assert all(list(a) == list(b) for a, b in zip(got, jwt.get(td, []))), "member order"
            jwt_keys += len(rest)
    extra = "" if jwt is None else ", %d jwt-svid keys" % jwt_keys
    print("ok %d trust domains, %d keys%s" % (len(domains), keys, extra))


if __name__ == "__main__":
    main()
