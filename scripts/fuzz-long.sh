#!/usr/bin/env bash
# Long fuzzing: runs every cargo-fuzz target (or those named) one after the other, each for
# FUZZ_SECONDS (default 3600) or FUZZ_RUNS executions (default unbounded), whichever comes
# first, growing fuzz/corpus/<target> and leaving any crash, timeout or
# out-of-memory input in fuzz/artifacts/<target>/ (and its log there). One fuzzing process at
# a time; on a bigger machine run several copies of this script on different targets.
#   scripts/fuzz-long.sh                      # an hour per target
#   FUZZ_SECONDS=600 scripts/fuzz-long.sh hpack_diff workload_client
#   FUZZ_SECONDS=1800 FUZZ_RUNS=10000000 scripts/fuzz-long.sh   # issue 10's bar
# Limits: 512 MB RSS, 64 MB per allocation, 10 s per input. Needs nightly and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-3600}
runs_limit=${FUZZ_RUNS:--1}
mapfile -t targets < <(if (($#)); then printf '%s\n' "$@"; else cargo +nightly fuzz list; fi)
cargo +nightly fuzz build -O
summary=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    log="artifacts/$target/fuzz.log"
    status=ok
    cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -runs="$runs_limit" -timeout=10 \
        -rss_limit_mb=512 -malloc_limit_mb=64 -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" >"$log" 2>&1 || status=FAILED
    runs=$(awk '/stat::number_of_executed_units/ { n = $2 } END { print n + 0 }' "$log")
    took=$(awk '/^Done [0-9]+ runs in/ { t = $5 } END { print t + 0 }' "$log")
    summary+=("$target: $status, $runs executions in ${took}s")
    echo "${summary[-1]}"
done
printf '%s\n' "${summary[@]}"
