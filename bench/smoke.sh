#!/usr/bin/env bash
# CI's smoke run of the benchmark harness: every part of bench/run.sh, tiny, without the
# py-spiffe peer, results in a temporary directory. Fails if any contestant's run fails its
# file check (STRICT=1), never on timings.
set -euo pipefail
cd "$(dirname "$0")/.."
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
RESULTS=$results STRICT=1 SKIP_PY=1 RUNS=2 SCALE_RUNS=1 COUNTS="1 100" ROTATIONS=5 \
    JWT_COUNTS="1 3" CG_ROTATIONS=1 CG_CAS=100 \
    PARTS="sizes oneshot rotations instructions scaling jwt" bench/run.sh
