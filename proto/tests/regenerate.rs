//! Checks that `src/workload.rs` is exactly what `workload.proto` generates.
//!
//! Generation needs no `protoc`: `protox` compiles the proto file in Rust and `prost-build`
//! turns the descriptors into code. Run with `REGENERATE_PROTO=1` to rewrite the checked-in file:
//!
//! ```text
//! REGENERATE_PROTO=1 cargo test -p svid-proto --test regenerate
//! ```

use std::fs;
use std::path::Path;

/// First lines of the checked-in file, above what prost-build writes.
const HEADER: &str = "\
// Generated from proto/workload.proto by protox + prost-build; do not edit.
// Regenerate with: REGENERATE_PROTO=1 cargo test -p svid-proto --test regenerate
";

/// Generates the Rust code for `workload.proto`, header included.
fn generate() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fds = protox::compile(["workload.proto"], [crate_dir]).expect("workload.proto compiles");
    let out = tempfile::tempdir().expect("temp dir");
    prost_build::Config::new()
        .btree_map(["."])
        // The X.509 messages' certificates and keys as `Bytes`: decoded from a `Bytes`
        // buffer they share it instead of copying (thousands of federated bundles).
        .bytes([".X509SVIDResponse", ".X509SVID", ".FederatedBundle"])
        .default_package_filename("workload")
        .out_dir(out.path())
        .compile_fds(fds)
        .expect("prost-build generates code");
    let body = fs::read_to_string(out.path().join("workload.rs")).expect("generated file");
    format!("{HEADER}{body}")
}

#[test]
fn checked_in_code_matches_proto() {
    let generated = generate();
    let checked_in_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/workload.rs");
    if std::env::var_os("REGENERATE_PROTO").is_some_and(|v| v == "1") {
        fs::write(&checked_in_path, &generated).expect("write src/workload.rs");
        return;
    }
    let checked_in = fs::read_to_string(&checked_in_path).expect("read src/workload.rs");
    assert!(
        checked_in == generated,
        "src/workload.rs is stale; regenerate with REGENERATE_PROTO=1 cargo test -p svid-proto --test regenerate"
    );
}
