#!/usr/bin/env bash
# Issue 9's benchmark, one command: ours (the static release helper) beside a rust-spiffe peer
# (bench/peer-rust, the `spiffe` crate on tonic) and a py-spiffe peer (bench/peer_py.py, grpcio;
# skipped if pip cannot install it), all against one svid-dev-agent. PARTS (default: all):
#   sizes      binary sizes: ours x86_64 and aarch64 (built only for this part), the peers
#   oneshot    svid.pem, svid_key.pem, svid_bundle.pem once, on tmpfs and disk (RUNS runs);
#              ours also with skip_svid_verification
#   rotations  daemon / watch mode while the agent rotates every 50 ms, ROTATIONS updates each:
#              CPU per update, peak RSS, latency from the agent to the files (ours: and its
#              cmd signalled, bench/sigrec.c); ours also without verification, and with JWT
#              and health
#   instructions  instructions counted by valgrind's callgrind (load-independent): one-shot
#              fetch, one update in daemon / watch mode (over CG_ROTATIONS updates), one-shot
#              with CG_CAS federated CAs; ours with and without verification and rust-spiffe
#   scaling    one-shot with COUNTS federated CAs (SCALE_RUNS runs each)
#   jwt        one-shot with JWT_COUNTS audiences (SCALE_RUNS runs each)
# Every run is checked (files verified with OpenSSL); STRICT=1 exits 1 if any run failed its
# check (bench/smoke.sh runs every part tiny that way in CI). Prints the tables, writes
# results.json (and scaling.svg) to RESULTS (default bench/results). See BENCHMARKS.md.
#   bench/run.sh
#   RUNS=40 SCALE_RUNS=5 COUNTS="1 100 1000 5000 10000" ROTATIONS=100 JWT_COUNTS="1 10 100" \
#     CG_ROTATIONS=4 CG_CAS=5000 PARTS="sizes oneshot rotations instructions scaling jwt" \
#     SKIP_PY=1 BEFORE=path/to/older/spiffe-helper bench/run.sh
# Not part of the workspace. Compare ratios within one run: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${TARGET:-x86_64-unknown-linux-musl}
export PARTS=${PARTS:-sizes oneshot rotations instructions scaling jwt}
echo "building: spiffe-helper ($target, release), svid-dev-agent, bench/peer-rust," \
    "bench/spawn.c, bench/sigrec.c" >&2
cargo build -q --release --target "$target" -p spiffe-helper
if [[ " $PARTS " == *" sizes "* ]]; then
    echo "building: spiffe-helper (aarch64-unknown-linux-musl, release) for the sizes" >&2
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER:-rust-lld} \
        cargo build -q --release --target aarch64-unknown-linux-musl -p spiffe-helper
fi
cargo build -q -p svid-tests --bin svid-dev-agent
cargo build -q --release --manifest-path bench/peer-rust/Cargo.toml
py=""
if [[ -z "${SKIP_PY:-}" ]]; then
    if [[ -x bench/.venv/bin/python ]] && bench/.venv/bin/python -c 'import spiffe' 2>/dev/null; then
        py=bench/.venv/bin/python
    elif python3 -m venv bench/.venv && bench/.venv/bin/pip install -q spiffe; then
        py=bench/.venv/bin/python
    else
        echo "py-spiffe could not be installed with pip into bench/.venv: skipping that peer" >&2
    fi
else
    echo "SKIP_PY set: skipping the py-spiffe peer" >&2
fi
mkdir -p bench/.work
cc -static -O2 -o bench/.work/spawn bench/spawn.c
cc -static -O2 -o bench/.work/sigrec bench/sigrec.c
command -v openssl >/dev/null || { echo "openssl is needed to check the written files" >&2; exit 1; }
exec python3 bench/bench.py "target/$target/release/spiffe-helper" target/debug/svid-dev-agent \
    bench/peer-rust/target/release/peer-rust-spiffe bench/.work/spawn "$py" "$PWD/bench/.work/sigrec"
