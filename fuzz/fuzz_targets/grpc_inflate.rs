//! Compressed gRPC messages, including bombs: the fuzz input, repeated up to 256 KiB, is
//! compressed with gzip or deflate and sent as one message to a `grpc::Response` with a
//! 64 KiB limit. A message that inflates past the limit must end the call with
//! RESOURCE_EXHAUSTED (never allocate its full size); one within it must come back intact.
//!
//! Input: an encoding byte, a big-endian u16 repeat count, then the bytes to repeat.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miniz_oxide::deflate::{compress_to_vec, compress_to_vec_zlib};
use svid_core::grpc::{Code, Output, Response};
use svid_core::hpack::Field;

/// The message limit under test.
const LIMIT: usize = 64 << 10;
/// Most uncompressed bytes one input makes.
const MAX_PLAIN: usize = 256 << 10;

fn field(name: &str, value: &str) -> Field {
    Field {
        name: name.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

/// CRC-32 (IEEE, reflected), bitwise: the gzip trailer checksum (RFC 1952 §8).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fuzz_target!(|data: &[u8]| {
    let Some((&[mode, hi, lo], unit)) = data.split_first_chunk::<3>() else {
        return;
    };
    if unit.is_empty() {
        return;
    }
    let repeat = usize::from(u16::from_be_bytes([hi, lo]))
        .min(MAX_PLAIN / unit.len())
        .max(1);
    let plain = unit.repeat(repeat);
    // Levels 0 (stored) to 6: the higher ones only cost time here.
    let level = (mode >> 4) % 7;
    let (name, compressed) = if mode & 1 == 0 {
        let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        gz.extend(compress_to_vec(&plain, level));
        gz.extend(crc32(&plain).to_le_bytes());
        gz.extend((plain.len() as u32).to_le_bytes());
        ("gzip", gz)
    } else {
        ("deflate", compress_to_vec_zlib(&plain, level))
    };
    let mut body = vec![1];
    body.extend((compressed.len() as u32).to_be_bytes());
    body.extend(&compressed);

    let mut response = Response::new(LIMIT);
    let headers = [
        field(":status", "200"),
        field("content-type", "application/grpc"),
        field("grpc-encoding", name),
    ];
    response.recv_headers(&headers, false);
    response.recv_data(&body, false);
    response.recv_headers(&[field("grpc-status", "0")], true);
    let outputs: Vec<Output> = std::iter::from_fn(|| response.poll()).collect();
    if plain.len() <= LIMIT && compressed.len() <= LIMIT {
        assert_eq!(outputs.len(), 2, "{name} of {} bytes", plain.len());
        assert_eq!(outputs[0], Output::Message(plain.into()));
        assert!(matches!(&outputs[1], Output::Finished(s) if s.is_ok()));
    } else {
        assert_eq!(outputs.len(), 1, "{name} of {} bytes", plain.len());
        let Output::Finished(status) = &outputs[0] else {
            panic!("a message over the limit was delivered");
        };
        assert_eq!(status.code, Code::ResourceExhausted, "{status:?}");
    }
});
