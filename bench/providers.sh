#!/usr/bin/env bash
# Issue 19's crypto provider, measured on this tree: `ring` 0.17 for every check (chains
# through rustls-webpki's `ring` algorithms, JWT-SVIDs, key pairs, the JWKS on-curve check,
# PKCS#12's PBKDF2, HMAC and SHA-256). The static musl release binaries for x86_64 and
# aarch64 (sizes) and callgrind's instruction counts on x86_64 (one-shot fetch, one update,
# CG_CAS federated CAs), beside the rust-spiffe peer: bench/run.sh's `sizes` and
# `instructions` parts, which this runs. The alternatives measured against it (RustCrypto at
# 62467cda and 74ea7eb3, aws-lc-rs on 4c1cfa8) are BENCHMARKS.md's table "The crypto
# provider, measured"; to measure RustCrypto again, run the same command in a checkout of
# 62467cda. Needs musl-gcc (musl-tools) and, for ring on aarch64, aarch64-linux-gnu-gcc
# (gcc-aarch64-linux-gnu, .cargo/config.toml).
#   bench/providers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PARTS="sizes instructions" SKIP_PY=1 exec bench/run.sh
