//! Generates the development agent's tonic server and client from `proto/workload.proto` (the
//! standard's declarations) with protox (a pure-Rust protobuf compiler), so no `protoc` is
//! needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/workload.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
