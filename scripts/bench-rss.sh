#!/usr/bin/env bash
# Peak RSS of the static release helper over N X.509 rotations (docs/DESIGN.md budget for 100
# rotations: anonymous memory 256 kB, peak RSS 2 MB; this version does X.509 only). Reads VmHWM,
# VmRSS, RssAnon and RssFile from /proc. Rerun anyone: scripts/bench-rss.sh [ROTATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
rotations=${1:-100}
target=${TARGET:-x86_64-unknown-linux-musl}
cargo build -q --release --target "$target" -p spiffe-helper
cargo build -q -p svid-tests --bin svid-dev-agent
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
source scripts/bench-common.sh
start_agent --intermediate --rotate-every 50ms
write_conf
: >"$work/helper.log" # exists before the loop below reads it: grep -c then always prints a count
"target/$target/release/spiffe-helper" -config "$work/helper.conf" 2>>"$work/helper.log" &
helper=$!
while (($(grep -c 'X.509 certificates updated' "$work/helper.log" || true) < rotations)); do
    sleep 0.1
done
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$helper/status")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$helper/status")
anon=$(awk '/RssAnon/ {print $2}' "/proc/$helper/status")
file=$(awk '/RssFile/ {print $2}' "/proc/$helper/status")
echo "spiffe-helper ($target) after $rotations rotations: peak RSS ${hwm} kB, current RSS ${rss} kB" \
    "(anonymous ${anon} kB, file-backed ${file} kB: the binary's pages)"
