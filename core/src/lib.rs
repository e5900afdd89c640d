//! `svid-core`: everything in spiffe-helper-rs that parses or encodes bytes.
//!
//! The crate is `no_std` (with `alloc`) and sans-I/O: no sockets, files, clocks or
//! environment. Time comes in as an argument; bytes come in and go out through buffers.
#![no_std]
#![warn(missing_docs)]
#![warn(clippy::exhaustive_enums)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod config;
pub mod der;
#[cfg(feature = "embedded-io")]
pub mod embedded;
// The verifying types it lists need the `verify` feature.
#[cfg(all(test, feature = "verify"))]
mod error_tests;
pub mod grpc;
pub mod h2;
pub mod health;
pub mod hpack;
mod json;
pub mod jwt;
pub mod metrics;
pub mod pem;
pub mod spiffe_id;
pub mod time;
pub mod workload;
pub mod x509;

/// A shared, cheaply sliced byte buffer: the X.509 messages' certificates and keys are
/// `Bytes` slices of the buffer the message arrived in.
pub use prost::bytes::Bytes;
pub use svid_proto as proto;
