//! gRPC framing, status, percent-decoding (wire §6 vectors), response decoding and
//! decompression tests.

use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::h2::ErrorCode;
use crate::hpack::{Decoder, Field};

/// `gzip -9 -c greeting.txt` (GNU gzip; FNAME "greeting.txt", OS Unix).
const GZIP_GREETING: &[u8] = &[
    0x1f, 0x8b, 0x08, 0x08, 0xa5, 0x74, 0x0a, 0x6b, 0x02, 0x03, 0x67, 0x72, 0x65, 0x65, 0x74, 0x69,
    0x6e, 0x67, 0x2e, 0x74, 0x78, 0x74, 0x00, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0x28, 0xcf, 0x2f,
    0xca, 0xce, 0xc9, 0x4f, 0x4c, 0x51, 0x48, 0x2c, 0xc8, 0xd4, 0x51, 0xc8, 0xc0, 0x25, 0xa6, 0x08,
    0x00, 0x2a, 0x24, 0x26, 0x62, 0x2e, 0x00, 0x00, 0x00,
];
const GREETING: &[u8] = b"hello workload api, hello workload api, hello!";

fn field(name: &str, value: &str) -> Field {
    Field {
        name: name.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

fn headers(extra: &[(&str, &str)]) -> Vec<Field> {
    let mut fields = vec![
        field(":status", "200"),
        field("content-type", "application/grpc"),
    ];
    fields.extend(extra.iter().map(|(n, v)| field(n, v)));
    fields
}

fn trailers(status: &str, message: &str) -> Vec<Field> {
    vec![field("grpc-status", status), field("grpc-message", message)]
}

fn drain(response: &mut Response) -> Vec<Output> {
    core::iter::from_fn(|| response.poll()).collect()
}

fn framed(flag: u8, message: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend((message.len() as u32).to_be_bytes());
    out.extend(message);
    out
}

fn finished(code: Code, message: &str) -> Output {
    Output::Finished(Status::new(code, message))
}

/// A response whose headers (plus `extra`) have been received.
fn open(max: usize, extra: &[(&str, &str)]) -> Response {
    let mut response = Response::new(max);
    response.recv_headers(&headers(extra), false);
    assert!(drain(&mut response).is_empty());
    response
}

#[test]
fn percent_decoding_vectors() {
    // grpc-go internal/transport/http_util_test.go: the encoded forms decode back.
    assert_eq!(percent_decode(b"%00"), "\0");
    assert_eq!(percent_decode(b"%25"), "%");
    assert_eq!(percent_decode(b"%E7%B3%BB%E7%BB%9F"), "系统");
    assert_eq!(
        percent_decode(b"%EF%BF%BD%EF%BF%BD%EF%BF%BD"),
        "\u{fffd}\u{fffd}\u{fffd}"
    );
    assert_eq!(percent_decode(b"H%61o"), "Hao");
    assert_eq!(percent_decode(b"H%6"), "H%6");
    assert_eq!(percent_decode(b"%G0"), "%G0");
    assert_eq!(percent_decode(b"%"), "%");
    assert_eq!(percent_decode(b"%e7%b3%bb"), "系");
    // Invalid UTF-8, raw or percent-encoded, decodes lossily and never fails.
    assert_eq!(
        percent_decode(&[0xff, 0xfe, 0xfd]),
        "\u{fffd}\u{fffd}\u{fffd}"
    );
    assert_eq!(percent_decode(b"a%FFb"), "a\u{fffd}b");
    // Every printable ASCII character except `%` passes through.
    let printable: Vec<u8> = (0x20..=0x7e).filter(|&b| b != b'%').collect();
    assert_eq!(percent_decode(&printable).as_bytes(), printable.as_slice());
}

#[test]
fn grpc_status_parsing() {
    assert_eq!(
        Status::from_trailers(b"0", Some(b"")),
        Status::new(Code::Ok, "")
    );
    assert_eq!(
        Status::from_trailers(b"7", Some(b"no identity issued")),
        Status::new(Code::PermissionDenied, "no identity issued")
    );
    assert_eq!(
        Status::from_trailers(b"16", None),
        Status::new(Code::Unauthenticated, "")
    );
    for bad in [
        &b""[..],
        b"+1",
        b"-1",
        b" 1",
        b"abc",
        b"17",
        b"4294967296",
        b"0x1",
    ] {
        let status = Status::from_trailers(bad, Some(b"m%21"));
        assert_eq!(status.code, Code::Unknown, "{bad:?}");
        assert!(
            status.message.starts_with("malformed grpc-status"),
            "{status}"
        );
        assert!(status.message.ends_with("m!"), "{status}");
    }
    assert_eq!(
        Status::new(Code::PermissionDenied, "no identity issued").to_string(),
        "PERMISSION_DENIED: no identity issued"
    );
    for n in 0..=16 {
        assert_eq!(Code::from_u32(n).map(|c| c as u32), Some(n));
    }
}

#[test]
fn http_status_synthesis() {
    let cases = [
        (400, Code::Internal),
        (401, Code::Unauthenticated),
        (403, Code::PermissionDenied),
        (404, Code::Unimplemented),
        (429, Code::Unavailable),
        (502, Code::Unavailable),
        (503, Code::Unavailable),
        (504, Code::Unavailable),
        (500, Code::Unknown),
        (200, Code::Unknown),
    ];
    for (http, code) in cases {
        assert_eq!(Code::from_http_status(http), code, "{http}");
    }
}

#[test]
fn request_framing() {
    let mut out = Vec::new();
    encode_message(&mut out, b"");
    assert_eq!(out, [0, 0, 0, 0, 0]);
    out.clear();
    // wire §2.3: JWTSVIDRequest{audience: ["reports"]}.
    encode_message(&mut out, b"\x0a\x07reports");
    assert_eq!(out, b"\x00\x00\x00\x00\x09\x0a\x07reports");
}

#[test]
fn trailers_only_permission_denied_vectors() {
    // wire §2.12: as the first block of a connection.
    let first: &[u8] = &[
        0x88, 0x5f, 0x8b, 0x1d, 0x75, 0xd0, 0x62, 0x0d, 0x26, 0x3d, 0x4c, 0x4d, 0x65, 0x64, 0x40,
        0x88, 0x9a, 0xca, 0xc8, 0xb2, 0x12, 0x34, 0xda, 0x8f, 0x01, 0x37, 0x40, 0x89, 0x9a, 0xca,
        0xc8, 0xb5, 0x25, 0x42, 0x07, 0x31, 0x7f, 0x8d, 0xa8, 0xea, 0x1a, 0x42, 0xd4, 0x93, 0x27,
        0xd2, 0x86, 0x42, 0x2d, 0x2c, 0x9f,
    ];
    let denied = finished(Code::PermissionDenied, "no identity issued");
    let mut response = Response::new(DEFAULT_MAX_MESSAGE_SIZE);
    response.recv_headers(&Decoder::new(4096, 16384).decode(first).unwrap(), true);
    assert!(response.is_finished());
    assert_eq!(drain(&mut response), core::slice::from_ref(&denied));

    // wire §2.12: on a connection that already carried one response and its OK trailers.
    let mut decoder = Decoder::new(4096, 16384);
    let ok_response: &[u8] = &[
        0x88, 0x5f, 0x8b, 0x1d, 0x75, 0xd0, 0x62, 0x0d, 0x26, 0x3d, 0x4c, 0x4d, 0x65, 0x64,
    ];
    let ok_trailers: &[u8] = &[
        0x40, 0x88, 0x9a, 0xca, 0xc8, 0xb2, 0x12, 0x34, 0xda, 0x8f, 0x01, 0x30, 0x40, 0x89, 0x9a,
        0xca, 0xc8, 0xb5, 0x25, 0x42, 0x07, 0x31, 0x7f, 0x00,
    ];
    let mut ok = Response::new(DEFAULT_MAX_MESSAGE_SIZE);
    ok.recv_headers(&decoder.decode(ok_response).unwrap(), false);
    ok.recv_data(&[0, 0, 0, 0, 0], false);
    ok.recv_headers(&decoder.decode(ok_trailers).unwrap(), true);
    assert_eq!(
        drain(&mut ok),
        [Output::Message(Vec::new().into()), finished(Code::Ok, "")]
    );
    let second: &[u8] = &[
        0x88, 0xc0, 0x7f, 0x00, 0x01, 0x37, 0x7f, 0x00, 0x8d, 0xa8, 0xea, 0x1a, 0x42, 0xd4, 0x93,
        0x27, 0xd2, 0x86, 0x42, 0x2d, 0x2c, 0x9f,
    ];
    let mut response = Response::new(DEFAULT_MAX_MESSAGE_SIZE);
    response.recv_headers(&decoder.decode(second).unwrap(), true);
    assert_eq!(drain(&mut response), [denied]);
}

#[test]
fn big_message_across_many_frames_with_split_prefix() {
    let message: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
    let mut stream = framed(0, &message);
    stream.extend(framed(0, b"second"));
    stream.extend(framed(0, b""));
    for size in [1, 3, 4, 5, 6, 4099, 16384] {
        let mut response = open(DEFAULT_MAX_MESSAGE_SIZE, &[]);
        for piece in stream.chunks(size) {
            response.recv_data(piece, false);
        }
        response.recv_headers(&trailers("0", ""), true);
        assert_eq!(
            drain(&mut response),
            [
                Output::Message(message.clone().into()),
                Output::Message(b"second".to_vec().into()),
                Output::Message(Vec::new().into()),
                finished(Code::Ok, ""),
            ],
            "chunk {size}"
        );
    }
}

#[test]
fn oversized_message_is_resource_exhausted() {
    let mut response = open(10, &[]);
    response.recv_data(&framed(0, b"0123456789"), false);
    // The prefix alone is enough to refuse.
    response.recv_data(&[0, 0, 0, 0, 11], false);
    assert!(response.is_finished());
    response.recv_headers(&trailers("0", ""), true);
    assert_eq!(
        drain(&mut response),
        [
            Output::Message(b"0123456789".to_vec().into()),
            finished(
                Code::ResourceExhausted,
                "received message larger than max (11 vs. 10)"
            ),
        ]
    );
}

#[test]
fn malformed_bodies_are_internal() {
    let mut response = open(100, &[]);
    response.recv_data(&framed(2, b"x"), false);
    assert_eq!(
        drain(&mut response),
        [finished(
            Code::Internal,
            "invalid message compressed flag 2"
        )]
    );

    let mut response = open(100, &[]);
    response.recv_data(&framed(0, b"abc")[..6], true);
    assert_eq!(
        drain(&mut response),
        [finished(
            Code::Internal,
            "stream ended with a partial message (6 bytes)"
        )]
    );

    let mut response = open(100, &[]);
    response.recv_data(&[0, 0, 0], false);
    response.recv_headers(&trailers("0", ""), true);
    assert_eq!(
        drain(&mut response),
        [finished(
            Code::Internal,
            "stream ended with a partial message (3 bytes)"
        )]
    );

    let mut response = open(100, &[]);
    response.recv_data(&framed(0, b"abc"), true);
    assert_eq!(
        drain(&mut response),
        [
            Output::Message(b"abc".to_vec().into()),
            finished(
                Code::Internal,
                "server closed the stream without sending trailers"
            )
        ]
    );

    let mut response = open(100, &[]);
    response.recv_headers(&headers(&[]), false);
    assert_eq!(
        drain(&mut response),
        [finished(
            Code::Internal,
            "a HEADERS frame cannot appear in the middle of a stream"
        )]
    );

    let mut response = Response::new(100);
    response.recv_data(&framed(0, b""), false);
    assert_eq!(
        drain(&mut response),
        [finished(Code::Internal, "DATA before response headers")]
    );
}

#[test]
fn missing_grpc_status_is_unknown() {
    let mut response = open(100, &[]);
    response.recv_headers(&[field("grpc-message", "x")], true);
    assert_eq!(
        drain(&mut response)[0],
        finished(Code::Unknown, "trailers without grpc-status")
    );

    let mut response = Response::new(100);
    response.recv_headers(&headers(&[]), true);
    assert_eq!(
        drain(&mut response)[0],
        finished(Code::Unknown, "response ended without grpc-status")
    );
}

#[test]
fn non_grpc_responses_are_synthesized_from_http_status() {
    let html = [field(":status", "404"), field("content-type", "text/html")];
    let mut response = Response::new(100);
    response.recv_headers(&html, false);
    let out = drain(&mut response);
    let [Output::Finished(status)] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(status.code, Code::Unimplemented);
    assert!(status.message.contains("404") && status.message.contains("text/html"));

    let mut response = Response::new(100);
    response.recv_headers(&[field(":status", "503")], true);
    assert!(
        matches!(&drain(&mut response)[..], [Output::Finished(s)] if s.code == Code::Unavailable)
    );

    // 200 but not gRPC content: UNKNOWN.
    let mut response = Response::new(100);
    response.recv_headers(
        &[
            field(":status", "200"),
            field("content-type", "application/grpc-web"),
        ],
        false,
    );
    assert!(matches!(&drain(&mut response)[..], [Output::Finished(s)] if s.code == Code::Unknown));

    // A gRPC early abort: grpc-status wins over the HTTP status.
    let mut abort = vec![field(":status", "415")];
    abort.extend(headers(&[]).split_off(1));
    abort.extend(trailers("3", "invalid%20content-type"));
    let mut response = Response::new(100);
    response.recv_headers(&abort, true);
    assert_eq!(
        drain(&mut response),
        [finished(Code::InvalidArgument, "invalid content-type")]
    );

    // `application/grpc+proto` and `;` parameters are gRPC.
    for ct in ["application/grpc+proto", "application/grpc;charset=utf-8"] {
        let mut response = Response::new(100);
        response.recv_headers(&[field(":status", "200"), field("content-type", ct)], false);
        assert!(drain(&mut response).is_empty(), "{ct}");
    }

    let mut response = Response::new(100);
    response.recv_headers(&[field(":status", "20")], false);
    assert_eq!(
        drain(&mut response),
        [finished(Code::Internal, "missing or malformed :status")]
    );
}

#[test]
fn informational_headers_are_skipped() {
    let mut response = Response::new(100);
    response.recv_headers(&[field(":status", "100")], false);
    response.recv_headers(&headers(&[]), false);
    response.recv_data(&framed(0, b"m"), false);
    response.recv_headers(&trailers("0", ""), true);
    assert_eq!(
        drain(&mut response),
        [
            Output::Message(b"m".to_vec().into()),
            finished(Code::Ok, "")
        ]
    );
    let mut response = Response::new(100);
    response.recv_headers(&[field(":status", "103")], true);
    assert_eq!(
        drain(&mut response),
        [finished(
            Code::Internal,
            "informational HTTP status 103 ended the stream"
        )]
    );
}

#[test]
fn reset_after_trailers_keeps_the_status() {
    let mut response = open(100, &[]);
    response.recv_headers(&trailers("7", "denied"), true);
    response.recv_reset(ErrorCode::NoError, true);
    assert_eq!(
        drain(&mut response),
        [finished(Code::PermissionDenied, "denied")]
    );
}

#[test]
fn reset_codes_map_per_wire_2_10() {
    let cases = [
        (ErrorCode::NoError, Code::Internal),
        (ErrorCode::ProtocolError, Code::Internal),
        (ErrorCode::InternalError, Code::Internal),
        (ErrorCode::FlowControlError, Code::Internal),
        (ErrorCode::StreamClosed, Code::Internal),
        (ErrorCode::FrameSizeError, Code::Internal),
        (ErrorCode::RefusedStream, Code::Unavailable),
        (ErrorCode::Cancel, Code::Cancelled),
        (ErrorCode::EnhanceYourCalm, Code::ResourceExhausted),
        (ErrorCode::Unknown(0x99), Code::Internal),
    ];
    for (h2, code) in cases {
        let mut response = open(100, &[]);
        response.recv_reset(h2, true);
        let out = drain(&mut response);
        assert!(
            matches!(&out[..], [Output::Finished(s)] if s.code == code && s.message.contains("reset")),
            "{h2}: {out:?}"
        );
    }
    // A reset we sent is not blamed on the server.
    let mut response = open(100, &[]);
    response.recv_reset(ErrorCode::FlowControlError, false);
    assert!(matches!(
        &drain(&mut response)[..],
        [Output::Finished(s)] if s.message == "stream reset after a stream error: FLOW_CONTROL_ERROR"
    ));
}

#[test]
fn crc32_check_value() {
    // The CRC-32 check value of "123456789" (ISO 3309 / ITU-T V.42).
    assert_eq!(compression::crc32(b"123456789"), 0xcbf4_3926);
    assert_eq!(compression::crc32(b""), 0);
}

#[test]
fn gzip_message_from_gnu_gzip() {
    let mut response = open(100, &[("grpc-encoding", "gzip")]);
    let body = framed(1, GZIP_GREETING);
    for piece in body.chunks(5) {
        response.recv_data(piece, false);
    }
    response.recv_headers(&trailers("0", ""), true);
    assert_eq!(
        drain(&mut response),
        [
            Output::Message(GREETING.to_vec().into()),
            finished(Code::Ok, "")
        ]
    );
}

/// A gzip member around miniz_oxide's raw DEFLATE output (RFC 1952 §2.3).
fn gzip(data: &[u8], extra_flags: u8) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, extra_flags, 0, 0, 0, 0, 0, 0xff];
    if extra_flags & 0x04 != 0 {
        out.extend([3, 0, b'a', b'b', b'c']);
    }
    if extra_flags & 0x10 != 0 {
        out.extend(b"comment\0");
    }
    if extra_flags & 0x02 != 0 {
        out.extend([0x12, 0x34]);
    }
    out.extend(miniz_oxide::deflate::compress_to_vec(data, 6));
    out.extend(compression::crc32(data).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

#[test]
fn gzip_and_deflate_messages_built_with_miniz() {
    let data: Vec<u8> = b"spiffe://example.org/workload ".repeat(500);
    for flags in [0, 0x04 | 0x10 | 0x02] {
        let mut response = open(1 << 20, &[("grpc-encoding", "gzip")]);
        response.recv_data(&framed(1, &gzip(&data, flags)), false);
        response.recv_data(&framed(0, b"plain"), false);
        assert_eq!(
            drain(&mut response),
            [
                Output::Message(data.clone().into()),
                Output::Message(b"plain".to_vec().into())
            ]
        );
    }
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&data, 6);
    assert!(zlib.len() < data.len() / 10);
    let mut response = open(1 << 20, &[("grpc-encoding", "deflate")]);
    for piece in framed(1, &zlib).chunks(3) {
        response.recv_data(piece, false);
    }
    assert_eq!(drain(&mut response), [Output::Message(data.into())]);
}

#[test]
fn corrupt_gzip_is_internal() {
    let mut bad_crc = gzip(b"payload", 0);
    let at = bad_crc.len() - 8;
    bad_crc[at] ^= 1;
    let mut bad_size = gzip(b"payload", 0);
    let at = bad_size.len() - 4;
    bad_size[at] ^= 1;
    let mut reserved = gzip(b"payload", 0);
    reserved[3] = 0x20;
    let cases: [(&[u8], &str); 5] = [
        (&bad_crc, "gzip CRC-32 mismatch"),
        (&bad_size, "gzip ISIZE mismatch: trailer 6, data 7"),
        (&reserved, "malformed gzip header"),
        (&GZIP_GREETING[..12], "truncated gzip member"),
        (
            &[
                0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
            "corrupt",
        ),
    ];
    for (body, want) in cases {
        let mut response = open(100, &[("grpc-encoding", "gzip")]);
        response.recv_data(&framed(1, body), false);
        let out = drain(&mut response);
        assert!(
            matches!(&out[..], [Output::Finished(s)] if s.code == Code::Internal && s.message.contains(want)),
            "{want}: {out:?}"
        );
    }
}

#[test]
fn decompression_is_bounded() {
    let zeros = vec![0u8; 10_000];
    let mut response = open(9_999, &[("grpc-encoding", "gzip")]);
    response.recv_data(&framed(1, &gzip(&zeros, 0)), false);
    assert_eq!(
        drain(&mut response),
        [finished(
            Code::ResourceExhausted,
            "decompressed message larger than max (9999)"
        )]
    );
    let mut response = open(10_000, &[("grpc-encoding", "deflate")]);
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&zeros, 6);
    response.recv_data(&framed(1, &zlib), false);
    assert_eq!(drain(&mut response), [Output::Message(zeros.into())]);
}

#[test]
fn compressed_flag_needs_a_known_encoding() {
    let cases = [
        (
            None,
            Code::Internal,
            "compressed flag set without grpc-encoding",
        ),
        (
            Some("identity"),
            Code::Internal,
            "compressed flag set without grpc-encoding",
        ),
        (
            Some("snappy"),
            Code::Unimplemented,
            "decompressor is not installed for grpc-encoding \"snappy\"",
        ),
    ];
    for (encoding, code, message) in cases {
        let extra: Vec<(&str, &str)> = encoding.map(|e| ("grpc-encoding", e)).into_iter().collect();
        let mut response = open(100, &extra);
        response.recv_data(&framed(1, GZIP_GREETING), false);
        assert_eq!(drain(&mut response), [finished(code, message)]);
    }
}

#[test]
fn inflate_error_messages_name_the_problem() {
    let e = compression::inflate(Encoding::Gzip, &[0x1f, 0x8b, 9, 0, 0, 0, 0, 0, 0, 0], 10);
    assert_eq!(e, Err(InflateError::BadGzipHeader));
    assert_eq!(
        InflateError::SizeMismatch {
            expected: 1,
            actual: 2
        }
        .to_string(),
        "gzip ISIZE mismatch: trailer 1, data 2"
    );
    assert_eq!(
        InflateError::TooLarge { limit: 5 }.to_string(),
        "inflated message exceeds 5 bytes"
    );
}

/// grpc-go's names (`codes/code_string.go`): the canonical name in CamelCase, but for its
/// spellings `OK` and `Canceled`.
#[test]
fn go_names_are_grpc_gos() {
    for v in 0..=16 {
        let code = Code::from_u32(v).unwrap();
        let camel: String = code
            .as_str()
            .split('_')
            .map(|w| w[..1].to_string() + &w[1..].to_lowercase())
            .collect();
        let want = match code {
            Code::Ok => "OK",
            Code::Cancelled => "Canceled",
            _ => &camel,
        };
        assert_eq!(code.go_name(), want);
    }
}
