//! Development Workload API server (`svid-dev-agent`) and the end-to-end test harness for
//! spiffe-helper-rs.

pub mod agent;

/// Types and tonic server/client generated from `proto/workload.proto` by `build.rs`.
pub mod pb {
    tonic::include_proto!("_");
}
