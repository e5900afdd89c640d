#!/usr/bin/env bash
# Rebuilds the committed corpus: the seeds from make_seeds.py plus whatever fuzz/corpus holds
# (e.g. after scripts/fuzz-long.sh), minimised per target with `cargo fuzz cmin` to the
# smallest set of inputs that keeps the same coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 seeds/make_seeds.py corpus
mapfile -t targets < <(if (($#)); then printf '%s\n' "$@"; else cargo +nightly fuzz list; fi)
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    cargo +nightly fuzz cmin -O "$target" "corpus/$target" -- \
        -rss_limit_mb=512 -malloc_limit_mb=64 -timeout=10 >/dev/null 2>&1
    echo "$target: $(find "corpus/$target" -type f | wc -l) inputs, $(du -sk "corpus/$target" | cut -f1) KiB"
done
