#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests of every crate, the development agent's
# own tests and the end-to-end tests that run the built spiffe-helper binary against it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The toolchain, components and targets rust-toolchain.toml pins (the musl and thumbv7em
# builds below need them): a no-op when installed; rustup 1.29 does not do it by itself.
rustup toolchain install --no-self-update
# Python packages the end-to-end tests read outputs with: jsonschema (the SPIFFE bundle map's
# schema check), cryptography (its keys), kubernetes-validate (the Kubernetes schemas the
# example manifests are checked against) and prometheus_client (the reference parser of the
# metrics text). A Debian python3 needs --break-system-packages.
python_packages=(jsonschema cryptography kubernetes-validate prometheus_client)
if ! python3 -c 'import jsonschema, cryptography, kubernetes_validate, prometheus_client' 2>/dev/null; then
    python3 -m pip install --quiet "${python_packages[@]}" 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages "${python_packages[@]}"
fi
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# Every doc comment's links resolve: rustdoc warnings are errors.
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet
# The core must build for a bare-metal target: no_std, no I/O (without `verify`: ring needs
# an OS random source).
cargo build -p svid-core --target thumbv7em-none-eabihf --no-default-features
# The end-to-end tests run target/debug/spiffe-helper as a process: build it first.
cargo build --workspace --bins
# The packaging tests run the static release binaries: x86_64 in a FROM scratch image and in an
# empty chroot, aarch64 under qemu-aarch64-static.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER:-rust-lld}
for triple in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
    cargo build --release --target "$triple" -p spiffe-helper
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace 2>&1 | tee "$log"
# The end-to-end suite again with the aarch64 binary, under qemu-aarch64-static.
if command -v qemu-aarch64-static >/dev/null; then
    qemu_dir=$(mktemp -d)
    printf '#!/bin/sh\nexec qemu-aarch64-static %s "$@"\n' \
        "$PWD/target/aarch64-unknown-linux-musl/release/spiffe-helper" >"$qemu_dir/spiffe-helper"
    chmod +x "$qemu_dir/spiffe-helper"
    SPIFFE_HELPER_BIN=$qemu_dir/spiffe-helper cargo test -p svid-tests --test e2e \
        --test e2e_config --test e2e_faults --test seed_lab 2>&1 | tee -a "$log"
    rm -rf "$qemu_dir"
else
    echo "SKIPPED the aarch64 end-to-end run: qemu-aarch64-static is not installed"
fi
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "summary: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
