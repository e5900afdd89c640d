//! Protobuf decoding of every Workload API response message (those the client reads and the
//! rest of workload.proto): never panics, and what decodes re-encodes to bytes that decode to
//! the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use svid_core::proto::{
    JwtBundlesResponse, JwtsvidResponse, ValidateJwtsvidResponse, WitBundlesResponse,
    WitsvidResponse, X509BundlesResponse, X509svidResponse,
};

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(message) = M::decode(bytes) {
        let again = M::decode(message.encode_to_vec().as_slice()).expect("re-encoding decodes");
        assert_eq!(again, message);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<X509svidResponse>(data);
    round_trip::<X509BundlesResponse>(data);
    round_trip::<JwtsvidResponse>(data);
    round_trip::<JwtBundlesResponse>(data);
    round_trip::<ValidateJwtsvidResponse>(data);
    round_trip::<WitsvidResponse>(data);
    round_trip::<WitBundlesResponse>(data);
});
