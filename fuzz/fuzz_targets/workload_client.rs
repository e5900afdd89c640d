//! The Workload API client connection fed arbitrary server bytes, split at arbitrary points:
//! it must never panic, and must keep producing well-formed output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::workload::{Client, ClientConfig};

fuzz_target!(|data: &[u8]| {
    let mut client = Client::new(ClientConfig::default());
    let _ = client.fetch_x509_svid();
    let _ = client.fetch_jwt_bundles();
    let _ = client.fetch_jwt_svid(&["aud"], "");
    let mut out = Vec::new();
    client.poll_transmit(&mut out);
    // The first byte chooses the read size, as a socket would split the stream.
    let (split, rest) = data.split_first().map_or((1, data), |(b, r)| (usize::from(*b) + 1, r));
    for chunk in rest.chunks(split) {
        if client.recv(chunk).is_err() {
            break;
        }
        while client.poll_event().is_some() {}
        out.clear();
        client.poll_transmit(&mut out);
    }
});
