#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests of every crate, the development agent's
# own tests and the end-to-end tests that run the built spiffe-helper binary against it.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# The end-to-end tests run target/debug/spiffe-helper as a process: build it first.
cargo build --workspace --bins
cargo test --workspace
# The core must build for a bare-metal target: no_std, no I/O.
cargo build -p svid-core --target thumbv7em-none-eabihf
