#!/usr/bin/env bash
# What each output format of issue 16 costs in the static binary: builds it (as
# scripts/size.sh does) once with everything, then once per format with that format's code
# made unreachable (its switch a constant `false` at its call sites in the core and the
# daemon), in a copy of the tree with its own target directory. Prints each size; the
# difference to the first line is that format's cost (the binary moves in 4 KiB steps).
# Rerun anyone: scripts/size-formats.sh   (about 20 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
work=${SIZE_FORMATS_DIR:-$src/target/size-formats}
target=${TARGET:-x86_64-unknown-linux-musl}
mkdir -p "$work"
for variant in all bundle_map trust_bundle_dir credential_bundle file_owner; do
    rm -rf "$work/src" && mkdir -p "$work/src"
    git ls-files -z | xargs -0 -I{} cp --parents {} "$work/src/"
    d=$work/src
    r=$d/core/src/x509/render.rs x=$d/daemon/src/x509_set.rs m=$d/daemon/src/main.rs
    f=$d/daemon/src/files.rs
    case $variant in
    bundle_map)
        sed -i 's/if opts.bundle_map {/if false {/' "$r"
        sed -i 's/if let Some(path) = &paths.bundle_map {/if let Some(path) = None::<\&String> {/' "$x" ;;
    trust_bundle_dir)
        sed -i 's/if opts.trust_domain_bundles {/if false {/' "$r"
        sed -i 's/\.trust_bundle_dir$/.trust_bundle_dir.as_ref().filter(|_| false)/; s/^        \.iter()$/        .into_iter()/' "$x"
        sed -i 's/plan.x509.as_ref().and_then(|x| x.trust_bundle_dir.as_ref())/None::<\&String>/g' "$m" ;;
    credential_bundle)
        sed -i 's/if opts.credential_bundle {/if false {/' "$r"
        sed -i 's/if let Some(path) = &paths.credential {/if let Some(path) = None::<\&String> {/' "$x" ;;
    file_owner)
        sed -i 's/let Some(&(uid, gid)) = OWNER.get() else/let Some(\&(uid, gid)) = None::<\&(u32, u32)> else/' "$f"
        sed -i 's/if let Some((uid, gid)) = cfg.file_owner()/if let Some((uid, gid)) = None::<(u32, u32)>/; s/if c.create_cert_dir {/if false {/; s/if let Some(owner) = cfg.file_owner()/if let Some(owner) = None::<(u32, u32)>/' "$m" ;;
    esac
    changed=$(diff -r "$src/core/src" "$d/core/src" | grep -c '^>' || true)
    changed=$((changed + $(diff -r "$src/daemon/src" "$d/daemon/src" | grep -c '^>' || true)))
    (cd "$d" && CARGO_TARGET_DIR=$work/target cargo build -q --release --target "$target" -p spiffe-helper)
    [[ $variant == all ]] && label="everything on" || label="$variant off ($changed lines changed)"
    echo "$label: $(stat -c %s "$work/target/$target/release/spiffe-helper") bytes"
done
