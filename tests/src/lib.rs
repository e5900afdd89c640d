//! Development Workload API server (`svid-dev-agent`) and the end-to-end test harness for
//! spiffe-helper-rs.
//!
//! Run: `cargo build -p spiffe-helper && cargo test -p svid-tests` (needs `openssl` and
//! `python3`). `SPIFFE_HELPER_BIN` points the e2e tests at another helper binary.

pub mod agent;
pub mod harness;

pub use harness::dev_agent::{DevAgent, Issued};
pub use harness::fault_peer::{Fault, FaultPeer};
pub use harness::helper::Helper;
pub use harness::verify::{SvidFiles, file_mode, openssl, pem_bodies, split_certificates};
pub use harness::{
    PATIENCE, child_script, dev_agent_bin, free_port, helper_bin, helper_dir, http_get, run_helper,
    wait_for_file, wait_until, x509_config,
};

/// Types and tonic server/client generated from `proto/workload.proto` by `build.rs`.
pub mod pb {
    tonic::include_proto!("_");
}
