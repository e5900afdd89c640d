//! `svid-proto`: the SPIFFE Workload API messages as `no_std` prost types.
//!
//! The types in `src/workload.rs` are generated from `workload.proto` and checked in;
//! `tests/regenerate.rs` fails when they are stale. Maps are `BTreeMap`, so everything works
//! with `alloc` alone. `google.protobuf.Struct` comes from `prost-types`.
#![no_std]

extern crate alloc;

#[rustfmt::skip]
mod workload;

pub use prost_types;
pub use workload::*;

/// gRPC method paths (`:path` pseudo-header) of the `SpiffeWorkloadAPI` service.
///
/// The proto file has no `package`, so the service's wire name is bare `SpiffeWorkloadAPI`.
pub mod path {
    /// Server-streaming: `X509SVIDRequest` -> stream of `X509SVIDResponse`.
    pub const FETCH_X509_SVID: &str = "/SpiffeWorkloadAPI/FetchX509SVID";
    /// Server-streaming: `X509BundlesRequest` -> stream of `X509BundlesResponse`.
    pub const FETCH_X509_BUNDLES: &str = "/SpiffeWorkloadAPI/FetchX509Bundles";
    /// Unary: `JWTSVIDRequest` -> `JWTSVIDResponse`.
    pub const FETCH_JWT_SVID: &str = "/SpiffeWorkloadAPI/FetchJWTSVID";
    /// Server-streaming: `JWTBundlesRequest` -> stream of `JWTBundlesResponse`.
    pub const FETCH_JWT_BUNDLES: &str = "/SpiffeWorkloadAPI/FetchJWTBundles";
    /// Unary: `ValidateJWTSVIDRequest` -> `ValidateJWTSVIDResponse`.
    pub const VALIDATE_JWT_SVID: &str = "/SpiffeWorkloadAPI/ValidateJWTSVID";
    /// Server-streaming: `WITSVIDRequest` -> stream of `WITSVIDResponse`.
    pub const FETCH_WIT_SVID: &str = "/SpiffeWorkloadAPI/FetchWITSVID";
    /// Server-streaming: `WITBundlesRequest` -> stream of `WITBundlesResponse`.
    pub const FETCH_WIT_BUNDLES: &str = "/SpiffeWorkloadAPI/FetchWITBundles";
}
