#!/usr/bin/env bash
# Builds the static release binaries for x86_64 and arm64 (musl), checks each against the 2 MB
# ceiling, and packs dist/spiffe-helper-<version>-linux-<arch>.tar.gz (the binary alone) with
# dist/SHA256SUMS. Also lays out dist/image/linux/{amd64,arm64}/spiffe-helper, the build
# context of Dockerfile.scratch, and publishes both platforms' FROM scratch images as one
# multi-platform OCI image index: the layout dist/oci/ (tag <version>) and the same as an
# OCI archive, dist/spiffe-helper-<version>-oci.tar (scripts/oci-image.py). Needs the rustup targets x86_64-unknown-linux-musl and
# aarch64-unknown-linux-musl; aarch64 links with rust-lld unless
# CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER says otherwise (e.g. aarch64-linux-gnu-gcc).
#   scripts/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER:-rust-lld}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[[ -n $version ]] || { echo "no version in Cargo.toml" >&2; exit 1; }
# Reproducible archives: fixed owner, order and time (the commit's, else the epoch).
mtime=$(git log -1 --format=%ct 2>/dev/null || echo 0)
rm -rf dist && mkdir -p dist

# <rust target> <archive arch> <docker platform>
while read -r triple arch platform; do
    TARGET=$triple scripts/size.sh --check
    bin=target/$triple/release/spiffe-helper
    stage=$(mktemp -d)
    cp "$bin" "$stage/spiffe-helper"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" -C "$stage" \
        -cf - spiffe-helper | gzip -9n >"dist/spiffe-helper-$version-linux-$arch.tar.gz"
    rm -rf "$stage"
    mkdir -p "dist/image/$platform"
    cp "$bin" "dist/image/$platform/spiffe-helper"
done <<'TARGETS'
x86_64-unknown-linux-musl x86_64 linux/amd64
aarch64-unknown-linux-musl arm64 linux/arm64
TARGETS

SOURCE_DATE_EPOCH=$mtime scripts/oci-image.py dist/oci "$version" \
    linux/amd64=dist/image/linux/amd64/spiffe-helper linux/arm64=dist/image/linux/arm64/spiffe-helper
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" -C dist/oci \
    -cf "dist/spiffe-helper-$version-oci.tar" .

(cd dist && sha256sum -- *.tar.gz *-oci.tar >SHA256SUMS && sha256sum --quiet -c SHA256SUMS)
for archive in dist/*.tar.gz; do
    [[ $(tar -tzf "$archive") == spiffe-helper ]] || { echo "$archive: unexpected contents" >&2; exit 1; }
done
echo "== dist/ (version $(target/x86_64-unknown-linux-musl/release/spiffe-helper -version))"
ls -l dist/*.tar.gz dist/*-oci.tar
cat dist/SHA256SUMS
