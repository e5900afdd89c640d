//! `-version` prints the crate version, and the git commit when built from a checkout.
//! Build the binary first: `cargo build -p spiffe-helper`.

use std::process::Command;
use svid_tests::harness::platform::{run, workspace};
use svid_tests::helper_bin;

#[test]
fn version_names_the_crate_version_and_the_checkout_commit() {
    let out = run(Command::new(helper_bin()).arg("-version")).unwrap();
    let line = out.trim_end();
    let version = env!("CARGO_PKG_VERSION");
    match run(Command::new("git").arg("-C").arg(workspace()).args([
        "rev-parse",
        "--short=12",
        "HEAD",
    ])) {
        Ok(commit) => assert_eq!(line, format!("{version} (git {})", commit.trim())),
        Err(_) => assert_eq!(line, version),
    }
}
