//! gRPC message reassembly (`grpc::Response`) fed arbitrary DATA at arbitrary split points
//! after arbitrary response headers: never panics, never yields a message over the limit,
//! and finishes at most once, with nothing after it.
//!
//! Input: a headers byte (encoding, trailers-only), a read-size byte, then the DATA bytes;
//! the last byte's low bit says whether trailers or END_STREAM on DATA end the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::grpc::{Output, Response};
use svid_core::hpack::Field;

/// The message limit under test.
const LIMIT: usize = 64 << 10;

fn field(name: &str, value: &str) -> Field {
    Field {
        name: name.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&[headers, split], body)) = data.split_first_chunk::<2>() else {
        return;
    };
    let mut response = Response::new(LIMIT);
    let mut fields = vec![
        field(":status", "200"),
        field("content-type", "application/grpc"),
    ];
    let encoding = ["", "identity", "gzip", "deflate", "br"][usize::from(headers % 5)];
    if !encoding.is_empty() {
        fields.push(field("grpc-encoding", encoding));
    }
    response.recv_headers(&fields, headers & 0x80 != 0);
    let split = usize::from(split) + 1;
    let trailers = data.last().is_some_and(|b| b & 1 == 0);
    let chunks: Vec<&[u8]> = body.chunks(split).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        response.recv_data(chunk, !trailers && i + 1 == chunks.len());
    }
    if trailers {
        response.recv_headers(&[field("grpc-status", "0")], true);
    }
    let mut finished = false;
    while let Some(output) = response.poll() {
        assert!(!finished, "output after Finished");
        match output {
            Output::Message(m) => assert!(m.len() <= LIMIT, "message of {} bytes", m.len()),
            Output::Finished(_) => finished = true,
        }
    }
    assert_eq!(finished, response.is_finished());
});
