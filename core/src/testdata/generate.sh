#!/bin/sh
# Regenerates the test certificates and keys of core/src/der.rs and core/src/pem.rs with
# OpenSSL (real DER, not hand-made bytes). Run from this directory: sh generate.sh
set -eu
days=36500

# genkey OUT GENPKEY-ARGS...: a new private key as unencrypted PKCS#8 DER (what the Workload
# API sends). OpenSSL 3.0's `genpkey -outform DER` would write the traditional SEC1/PKCS#1 form.
genkey() {
  out=$1
  shift
  openssl genpkey "$@" | openssl pkcs8 -topk8 -nocrypt -outform DER -out "$out"
}

# EC P-256 CA of spiffe://example.org.
genkey ca-ec.key.der -algorithm EC -pkeyopt ec_paramgen_curve:P-256
openssl req -x509 -new -key ca-ec.key.der -keyform DER -days "$days" -subj "/O=SPIFFE/CN=ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectAltName=URI:spiffe://example.org" -outform DER -out ca-ec.der

# EC P-256 X509-SVID leaf spiffe://example.org/workload, signed by the CA.
genkey leaf-ec.key.der -algorithm EC -pkeyopt ec_paramgen_curve:P-256
openssl req -new -key leaf-ec.key.der -keyform DER -subj "/O=SPIFFE" -out leaf.csr
printf '%s\n' "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment,keyAgreement" \
  "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=URI:spiffe://example.org/workload" \
  > leaf.ext
openssl x509 -req -in leaf.csr -CA ca-ec.der -CAform DER -CAkey ca-ec.key.der -CAkeyform DER \
  -days "$days" -extfile leaf.ext -outform DER -out leaf-ec.der
rm leaf.csr leaf.ext

# RSA 2048 CA (a second, larger bundle member).
genkey ca-rsa.key.der -algorithm RSA -pkeyopt rsa_keygen_bits:2048
openssl req -x509 -new -key ca-rsa.key.der -keyform DER -days "$days" -subj "/CN=rsa-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -outform DER -out ca-rsa.der

# EC P-384 PKCS#8 key: a SEQUENCE with a one-octet long-form length (0x81).
genkey p384.key.der -algorithm EC -pkeyopt ec_paramgen_curve:P-384

# Ed25519 PKCS#8 key: a 48-byte SEQUENCE with a short-form length.
genkey ed25519.key.der -algorithm ED25519

# RSA 1024 key: the smallest modulus RS256 and RS512 accept, below RS384's and PS*'s floor.
genkey rsa1024.key.der -algorithm RSA -pkeyopt rsa_keygen_bits:1024
