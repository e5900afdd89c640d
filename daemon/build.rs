//! Sets `SPIFFE_HELPER_VERSION` for `-version`: the crate version, followed by the git commit
//! when built from a checkout (`0.1.0 (git 0123456789ab)`), or the crate version alone when
//! there is no git or no repository (a source tarball). Sets `SPIFFE_HELPER_COMMIT` for the
//! `spiffe_helper_build_info` metric: that commit, else the `SPIFFE_HELPER_COMMIT` variable
//! of the build's environment (for builds outside a checkout), else `unknown`.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SPIFFE_HELPER_COMMIT");
    // Only this project's own checkout counts, not an unrelated repository around a tarball.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .ok();
    let toplevel =
        git(&["rev-parse", "--show-toplevel"]).map(|t| Path::new(&t).canonicalize().ok());
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).filter(|_| toplevel == Some(workspace));
    let Some(commit) = commit else {
        let given = std::env::var("SPIFFE_HELPER_COMMIT").ok();
        let commit = given.filter(|c| !c.trim().is_empty());
        println!(
            "cargo:rustc-env=SPIFFE_HELPER_COMMIT={}",
            commit.as_deref().map_or("unknown", str::trim)
        );
        println!("cargo:rustc-env=SPIFFE_HELPER_VERSION={version}");
        return;
    };
    println!("cargo:rustc-env=SPIFFE_HELPER_COMMIT={commit}");
    // Rebuild when HEAD moves: the HEAD file, the branch it points to, packed refs.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name]) else {
            continue;
        };
        // A branch packed by `git gc` has no file of its own until the next commit writes
        // one: watch its directory then, which that commit changes.
        let path = Path::new(&path);
        let dir = path.parent().filter(|_| name.starts_with("refs/"));
        if let Some(watched) = [Some(path), dir].into_iter().flatten().find(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", watched.display());
        }
    }
    println!("cargo:rustc-env=SPIFFE_HELPER_VERSION={version} (git {commit})");
}
