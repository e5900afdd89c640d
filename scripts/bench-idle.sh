#!/usr/bin/env bash
# Issue 19's idle target (RssAnon <= 128 kB, no syscall between keepalives, one thread): the
# static release helper in daemon mode against svid-dev-agent (an hour-long SVID, no rotation);
# /proc/<pid>/status SETTLE seconds (default 3) after its first files, then every syscall of
# every thread for WATCH seconds (default 20) with `strace -f -c`. Needs strace (Debian
# package `strace`) and the right to ptrace the helper (root, or ptrace_scope 0).
# Rerun anyone: scripts/bench-idle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
watch=${WATCH:-20}
settle=${SETTLE:-3}
target=${TARGET:-x86_64-unknown-linux-musl}
command -v strace >/dev/null || { echo "bench-idle.sh needs strace" >&2; exit 1; }
cargo build -q --release --target "$target" -p spiffe-helper
cargo build -q -p svid-tests --bin svid-dev-agent
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
source scripts/bench-common.sh
start_agent --intermediate --ttl 1h --rotate-every 1h
write_conf
"target/$target/release/spiffe-helper" -config "$work/helper.conf" 2>"$work/helper.log" &
helper=$!
for _ in $(seq 100); do [[ -s $work/certs/svid_bundle.pem ]] && break; sleep 0.1; done
[[ -s $work/certs/svid_bundle.pem ]] || { echo "the helper wrote no files" >&2; exit 1; }
sleep "$settle"
grep -E '^(RssAnon|RssFile|VmHWM|Threads):' "/proc/$helper/status"
timeout -s INT "$watch" strace -f -c -p "$helper" -o "$work/strace.txt" 2>/dev/null || true
# The summary's last row: "100.00 seconds usecs/call calls [errors] total".
calls=$(awk '$NF == "total" { print $4 }' "$work/strace.txt")
echo "syscalls of every thread in ${watch} s, from ${settle} s after the first files: ${calls:-0}"
