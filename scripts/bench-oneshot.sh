#!/usr/bin/env bash
# One-shot mode side by side: wall time and CPU (user+sys) of each given static helper binary
# over RUNS alternating runs against one svid-dev-agent, files on tmpfs (/dev/shm), and the
# threads each creates (strace -f). Figures are medians; compare ratios within one run, the
# machine is shared. Rerun anyone:
#   scripts/bench-oneshot.sh [RUNS] [OTHER_BINARY...]   (this tree's release build comes first)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
shift || true
target=${TARGET:-x86_64-unknown-linux-musl}
cargo build -q --release --target "$target" -p spiffe-helper
cargo build -q -p svid-tests --bin svid-dev-agent
bins=("target/$target/release/spiffe-helper" "$@")
work=$(mktemp -d /dev/shm/oneshot.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
source scripts/bench-common.sh
start_agent --intermediate
write_conf "daemon_mode = false"
python3 - "$runs" "$work/helper.conf" "${bins[@]}" <<'PY'
import os, resource, statistics, subprocess, sys, time
runs, conf, bins = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
wall = {b: [] for b in bins}
cpu = {b: [] for b in bins}
for _ in range(runs):
    for b in bins:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([b, "-config", conf], check=True, stderr=subprocess.DEVNULL)
        wall[b].append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[b].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
for b in bins:
    trace = subprocess.run(["strace", "-f", "-e", "trace=clone,clone3", b, "-config", conf],
                           capture_output=True, text=True).stderr
    threads = 1 + sum(1 for l in trace.splitlines() if l.startswith(("clone", "clone3")) and "= " in l)
    print(f"{b}: wall median {statistics.median(wall[b])*1e3:.2f} ms, "
          f"p90 {sorted(wall[b])[int(0.9*runs)]*1e3:.2f} ms, "
          f"cpu median {statistics.median(cpu[b])*1e3:.2f} ms, threads {threads}")
PY
