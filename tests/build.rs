//! Generates the development agent's tonic server and client from `../proto/workload.proto`
//! with protox (a pure-Rust protobuf compiler), so no `protoc` is needed.
//!
//! The helper's copy declares `X509SVIDResponse.federated_bundles` as the repeated entry
//! message a map is on the wire; the agent is built from the standard's declaration, a
//! `map<string, bytes>`, so that every end-to-end test checks the two agree on the wire.

use std::path::PathBuf;

/// The helper's declaration and the standard's.
const REPEATED: &str = "repeated FederatedBundle federated_bundles = 3;";
const MAP: &str = "map<string, bytes> federated_bundles = 3;";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../proto/workload.proto";
    println!("cargo:rerun-if-changed={proto}");
    let ours = std::fs::read_to_string(proto)?;
    if !ours.contains(REPEATED) {
        return Err(format!("{proto} no longer declares `{REPEATED}`").into());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("standard");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("workload.proto"), ours.replace(REPEATED, MAP))?;
    let fds = protox::compile(["workload.proto"], [&out])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
