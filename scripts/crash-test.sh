#!/usr/bin/env bash
# SIGKILL the helper at random moments across KILLS rotations (default 1,000), in both
# layouts (plain files, then `symlinked_layout = true`). The set holds every format: the
# SVID, key and bundle, the credential bundle, the SPIFFE bundle map, a trust_bundle_dir
# of two trust domains and the PKCS#12 keystore and truststore. After every kill each file
# must be whole (each PKCS#12 store opens with `openssl pkcs12`, MAC checked) and, with the
# symlinked layout, cert, key, credential bundle and keystore must match; after every
# restart the set must match and verify; leftovers must be gone at the end. The work is the
# e2e test `sigkill_at_random_moments_*` of tests/tests/e2e_writes.rs (30 kills in CI), run
# with CRASH_KILLS. Prints, per layout, how many kills left temporaries behind and how many left
# cert and key from different rotations until the next start.
# Rerun anyone: scripts/crash-test.sh [KILLS]
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-1000}
cargo build -q --workspace --bins
CRASH_KILLS=$kills cargo test -q -p svid-tests --test e2e_writes -- \
    --test-threads 1 sigkill_at_random_moments
