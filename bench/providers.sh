#!/usr/bin/env bash
# Issue 19's choice of crypto provider, measured: this tree as it is (RustCrypto) and this tree
# with each patch of bench/providers/ applied to a copy, each built as the static musl release
# binary for x86_64 and aarch64 (sizes) and counted by callgrind on x86_64 (bench/run.sh
# PARTS=instructions: one-shot fetch, one update, CG_CAS federated CAs).
# ring.patch is commit aa1fff25 whole (`git diff --binary`): ring as the single provider,
# tested and documented, behind svid-core's `verify` feature; it was reverted only for its
# size (BENCHMARKS.md, "The crypto provider, measured"). The aws-lc-rs prototype measured
# on 4c1cfa8 is bench/providers/aws-lc-rs.patch in that commit's tree.
# Needs musl-gcc (musl-tools) and, for ring on aarch64, aarch64-linux-gnu-gcc.
#   bench/providers.sh [ring]
set -euo pipefail
cd "$(dirname "$0")/.."
providers=("$@")
((${#providers[@]})) || providers=(ring)
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER:-rust-lld}
export CC_aarch64_unknown_linux_musl=${CC_aarch64_unknown_linux_musl:-aarch64-linux-gnu-gcc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=bench/.work/providers
mkdir -p "$out"

# build NAME DIR TARGET_DIR: the static binaries of the tree in DIR as $out/NAME-<arch>.
build() {
    local name=$1 dir=$2 target=$3 triple
    for triple in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
        (cd "$dir" && CARGO_TARGET_DIR=$target \
            cargo build -q --release --target "$triple" -p spiffe-helper) ||
            { echo "$name: the $triple build failed" >&2; continue; }
        cp "$target/$triple/release/spiffe-helper" "$out/$name-${triple%%-*}"
    done
}

build rustcrypto "$PWD" "$PWD/target"
for p in "${providers[@]}"; do
    mkdir -p "$work/$p"
    git ls-files -z | tar --null -cf - -T - | tar -xf - -C "$work/$p"
    (cd "$work/$p" && git apply "$OLDPWD/bench/providers/$p.patch")
    build "$p" "$work/$p" "$work/target-$p"
done

echo "static musl release binaries, stripped (bytes)"
printf '%-12s%14s%14s\n' provider x86_64 aarch64
for p in rustcrypto "${providers[@]}"; do
    size() { [[ -f $out/$p-$1 ]] && stat -c %s "$out/$p-$1" || echo -; }
    printf '%-12s%14s%14s\n' "$p" "$(size x86_64)" "$(size aarch64)"
done
cargo build -q -p svid-tests --bin svid-dev-agent
cargo build -q --release --manifest-path bench/peer-rust/Cargo.toml
cc -static -O2 -o bench/.work/spawn bench/spawn.c
cc -static -O2 -o bench/.work/sigrec bench/sigrec.c
for p in rustcrypto "${providers[@]}"; do
    [[ -f $out/$p-x86_64 ]] || continue
    echo "== $p"
    PARTS=instructions RESULTS="$work/results-$p" python3 bench/bench.py "$out/$p-x86_64" \
        target/debug/svid-dev-agent bench/peer-rust/target/release/peer-rust-spiffe \
        bench/.work/spawn "" "$PWD/bench/.work/sigrec" | tail -5
done
