#!/usr/bin/env bash
# Builds the static musl release binary and reports its size. With --check, fails above the
# 2 MB hard ceiling of docs/DESIGN.md. Rerun anyone: scripts/size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target=${TARGET:-x86_64-unknown-linux-musl}
cargo build --release --target "$target" -p spiffe-helper
bin="target/$target/release/spiffe-helper"
size=$(stat -c %s "$bin")
echo "spiffe-helper ($target, release, stripped): $size bytes"
file "$bin" 2>/dev/null || true
if [[ "${1:-}" == --check ]] && ((size > 2000000)); then
    echo "binary exceeds the 2 MB ceiling" >&2
    exit 1
fi
