#!/usr/bin/env python3
"""Writes jwt-tokens.txt (one "ALG token" per line) and jwt-bundle.json (their JWKS, laid out
as SPIRE serves it: 4-space indent, `use`, `spiffe_sequence`) with Python `cryptography`
(OpenSSL): an implementation independent of `ring`, which core/src/jwt verifies with.

Keys: the PKCS#8 files of this directory (leaf-ec P-256, p384, ca-rsa). Claims are fixed
(exp 1800000300), so only the randomized ECDSA/PSS signatures change between runs.
Run from this directory: python3 jwt-tokens.py
"""
import base64
import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load(path):
    with open(path, "rb") as f:
        return serialization.load_der_private_key(f.read(), password=None)


HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def sign(key, alg, kid, claims):
    header = {"alg": alg, "kid": kid, "typ": "JWT"}
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    ).encode()
    digest = HASHES[alg[2:]]()
    if alg.startswith("ES"):
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest)))
        size = (key.curve.key_size + 7) // 8
        sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    elif alg.startswith("RS"):
        sig = key.sign(signing_input, padding.PKCS1v15(), digest)
    else:
        pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=padding.PSS.DIGEST_LENGTH)
        sig = key.sign(signing_input, pss, digest)
    return signing_input.decode() + "." + b64url(sig)


claims = {
    "sub": "spiffe://example.org/workload",
    "aud": ["svc"],
    "exp": 1800000300,
    "iat": 1799999990,
}
keys = {"ec256": load("leaf-ec.key.der"), "ec384": load("p384.key.der"), "rsa": load("ca-rsa.key.der")}
tokens = []
for alg, kid in [
    ("ES256", "ec256"),
    ("ES384", "ec384"),
    ("RS256", "rsa"),
    ("RS384", "rsa"),
    ("RS512", "rsa"),
    ("PS256", "rsa"),
    ("PS384", "rsa"),
    ("PS512", "rsa"),
]:
    tokens.append(f"{alg} {sign(keys[kid], alg, kid, claims)}\n")
with open("jwt-tokens.txt", "w") as f:
    f.writelines(tokens)


def int_bytes(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def jwk(kid, key):
    pub = key.public_key().public_numbers()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        crv = {256: "P-256", 384: "P-384"}[key.curve.key_size]
        coords = {"x": b64url(pub.x.to_bytes(size, "big")), "y": b64url(pub.y.to_bytes(size, "big"))}
        return {"kty": "EC", "kid": kid, "use": "jwt-svid", "crv": crv, **coords}
    return {"kty": "RSA", "kid": kid, "use": "jwt-svid", "n": b64url(int_bytes(pub.n)), "e": b64url(int_bytes(pub.e))}


bundle = {"keys": [jwk(kid, key) for kid, key in keys.items()], "spiffe_sequence": 3}
with open("jwt-bundle.json", "w") as f:
    f.write(json.dumps(bundle, indent=4))
