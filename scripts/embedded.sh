#!/usr/bin/env bash
# Builds the no_std firmware example (examples/embedded, thumbv7em-none-eabihf, release) that
# links svid-core's embedded driver, and prints its flash use: .text + .rodata (+ the vector
# table), from `size -A`.
set -euo pipefail
cd "$(dirname "$0")/../examples/embedded"
cargo build --release --quiet
elf=target/thumbv7em-none-eabihf/release/svid-embedded-example
size -A "$elf" | awk '
    $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" { s[$1] = $2; flash += $2 }
    $1 == ".bss" { bss = $2 }
    END {
        printf "embedded example: .text %d + .rodata %d bytes (%d with the vector table); .bss %d (48 KiB heap)\n",
            s[".text"], s[".rodata"], flash, bss
    }'
