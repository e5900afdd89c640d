#!/usr/bin/env bash
# CI's fuzz step: builds every cargo-fuzz target and runs each for FUZZ_SMOKE_SECONDS (default
# 3) from its committed corpus (fuzz/corpus/<target>, read only: new inputs go to a scratch
# folder), with the limits of scripts/fuzz-long.sh. Fails on any crash, hang or allocation
# past the limits, leaving the input in fuzz/artifacts/<target>/. Skipped, saying so, when
# the nightly toolchain or cargo-fuzz is missing (.ci/run installs both).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz smoke: skipped (needs the nightly toolchain and cargo-fuzz)"
    exit 0
fi
seconds=${FUZZ_SMOKE_SECONDS:-3}
start=$SECONDS
cargo +nightly fuzz build -O
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
mapfile -t targets < <(cargo +nightly fuzz list)
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target" "corpus/$target" "artifacts/$target"
    log="$scratch/$target.log"
    if cargo +nightly fuzz run -O "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=512 -malloc_limit_mb=64 \
        -print_final_stats=1 -artifact_prefix="artifacts/$target/" >"$log" 2>&1; then
        runs=$(awk '/stat::number_of_executed_units/ { n = $2 } END { print n + 0 }' "$log")
        echo "fuzz smoke: $target ok, $runs executions"
    else
        tail -n 40 "$log"
        echo "fuzz smoke: $target FAILED (input in fuzz/artifacts/$target/)"
        failed+=("$target")
    fi
done
echo "fuzz smoke: ${#targets[@]} targets, ${#failed[@]} failed, $((SECONDS - start)) s"
((${#failed[@]} == 0))
