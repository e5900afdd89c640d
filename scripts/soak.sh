#!/usr/bin/env bash
# The long soak: 2,000 X.509 rotations (100 ms apart) with a JWT-SVID refreshing and the
# health endpoint polled; fails if descriptors or RSS grow, or a rotation is missed.
# CI runs the same test with 200 rotations. Rerun anyone: scripts/soak.sh [ROTATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --workspace --bins
SOAK_ROTATIONS=${1:-2000} cargo test -q -p svid-tests --test soak -- --nocapture
