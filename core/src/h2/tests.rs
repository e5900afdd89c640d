//! Handcrafted-frame tests for every connection rule, and header-level replays of the
//! recorded transcripts.

use alloc::vec;
use alloc::vec::Vec;

use super::frame::{Header, flag, kind};
use super::testutil::{frame, parse_frames};
use super::*;
use crate::hpack::{Field, HpackError};
use crate::time::Instant;

/// `:status 200`, `content-type application/grpc` as grpc-go's first block (wire §2.12).
const HEADERS_200: &[u8] = &[
    0x88, 0x5f, 0x8b, 0x1d, 0x75, 0xd0, 0x62, 0x0d, 0x26, 0x3d, 0x4c, 0x4d, 0x65, 0x64,
];
const REQUEST: &[(&[u8], &[u8])] = &[(b":method", b"POST"), (b":path", b"/x")];

fn cfg(initial_window_size: u32) -> Config {
    Config {
        initial_window_size,
        ..Config::default()
    }
}

/// A connection that has seen the server's (empty) SETTINGS, with its output drained.
fn connected(config: Config) -> Connection {
    let mut conn = Connection::new(config, T0);
    conn.recv(&frame(kind::SETTINGS, 0, 0, &[])).unwrap();
    sent(&mut conn);
    conn
}

fn sent(conn: &mut Connection) -> Vec<(Header, Vec<u8>)> {
    let mut out = Vec::new();
    conn.poll_transmit(&mut out);
    parse_frames(&out)
}

fn events(conn: &mut Connection) -> Vec<Event> {
    core::iter::from_fn(|| conn.poll_event()).collect()
}

fn field(name: &str, value: &str) -> Field {
    Field {
        name: name.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

fn ok_headers() -> Vec<Field> {
    vec![
        field(":status", "200"),
        field("content-type", "application/grpc"),
    ]
}

/// Feeds `bytes`, expects a connection error and checks the queued GOAWAY code.
fn expect_error(conn: &mut Connection, bytes: &[u8], code: ErrorCode) -> PeerError {
    let Err(Error::Peer(err)) = conn.recv(bytes) else {
        panic!("no peer error");
    };
    assert_eq!(err.code(), code, "{err}");
    let frames = sent(conn);
    let (h, payload) = frames.last().unwrap();
    assert_eq!(h.kind, kind::GOAWAY);
    assert_eq!(payload[4..8], code.to_u32().to_be_bytes());
    assert_eq!(conn.recv(&[]), Err(LocalError::Closed.into()));
    assert!(conn.is_going_away());
    err
}

fn u32s(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

const T0: Instant = Instant::from_millis(0);

#[test]
fn opening_matches_wire_example() {
    let mut out = Vec::new();
    Connection::new(Config::default(), T0).poll_transmit(&mut out);
    let want: &[u8] = &[
        // preface
        0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d,
        0x0a, 0x0d, 0x0a, 0x53, 0x4d, 0x0d, 0x0a, 0x0d, 0x0a, //
        // SETTINGS: ENABLE_PUSH 0, INITIAL_WINDOW_SIZE 1 MiB, MAX_HEADER_LIST_SIZE 16 KiB
        0x00, 0x00, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x04, 0x00, 0x10, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x40, 0x00,
        // WINDOW_UPDATE +983041 on stream 0
        0x00, 0x00, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x01,
    ];
    assert_eq!(out, want);
}

#[test]
fn non_default_table_size_is_advertised() {
    let frames = sent(&mut Connection::new(
        Config {
            header_table_size: 0,
            ..Config::default()
        },
        T0,
    ));
    assert_eq!(frames[0].1[..6], [0, 1, 0, 0, 0, 0]);
}

#[test]
fn first_server_frame_must_be_settings() {
    let mut conn = Connection::new(Config::default(), T0);
    sent(&mut conn);
    let ping = frame(kind::PING, 0, 0, &[0; 8]);
    let err = expect_error(&mut conn, &ping, ErrorCode::ProtocolError);
    assert_eq!(err, PeerError::MissingServerSettings { kind: kind::PING });
}

#[test]
fn settings_are_acked_and_validated() {
    let mut conn = connected(Config::default());
    let mut payload = vec![0x00, 0x05, 0x00, 0x00, 0x40, 0x00]; // MAX_FRAME_SIZE 16384
    payload.extend([0xfe, 0x03, 0x00, 0x00, 0x00, 0x01]); // unknown id: ignored
    conn.recv(&frame(kind::SETTINGS, 0, 0, &payload)).unwrap();
    conn.recv(&frame(kind::SETTINGS, flag::ACK, 0, &[]))
        .unwrap();
    let frames = sent(&mut conn);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].0.kind, frames[0].0.flags),
        (kind::SETTINGS, flag::ACK)
    );
    assert!(frames[0].1.is_empty());

    let push = frame(kind::SETTINGS, 0, 0, &[0, 2, 0, 0, 0, 1]);
    let err = expect_error(
        &mut connected(cfg(1 << 20)),
        &push,
        ErrorCode::ProtocolError,
    );
    assert_eq!(err, PeerError::BadSetting { id: 2, value: 1 });
    let torn = frame(kind::SETTINGS, 0, 0, &[0, 2, 0, 0, 0]);
    expect_error(
        &mut connected(cfg(1 << 20)),
        &torn,
        ErrorCode::FrameSizeError,
    );
    let ack = frame(kind::SETTINGS, flag::ACK, 0, &[0, 2, 0, 0, 0, 0]);
    let err = expect_error(&mut connected(cfg(1 << 20)), &ack, ErrorCode::ProtocolError);
    assert_eq!(err, PeerError::SettingsAckWithPayload);
    let window = frame(kind::SETTINGS, 0, 0, &[0, 4, 0x80, 0, 0, 0]);
    expect_error(
        &mut connected(cfg(1 << 20)),
        &window,
        ErrorCode::FlowControlError,
    );
    let small = frame(kind::SETTINGS, 0, 0, &[0, 5, 0, 0, 0x3f, 0xff]);
    expect_error(
        &mut connected(cfg(1 << 20)),
        &small,
        ErrorCode::ProtocolError,
    );
    let on_stream = frame(kind::SETTINGS, 0, 1, &[]);
    expect_error(
        &mut connected(cfg(1 << 20)),
        &on_stream,
        ErrorCode::ProtocolError,
    );
}

#[test]
fn streams_are_odd_and_increasing() {
    let mut conn = connected(Config::default());
    let ids: Vec<_> = (0..3)
        .map(|_| conn.send_request(REQUEST, b"").unwrap())
        .collect();
    assert_eq!(ids, [1, 3, 5]);
    let frames = sent(&mut conn);
    let kinds: Vec<_> = frames
        .iter()
        .map(|(h, _)| (h.kind, h.flags, h.stream))
        .collect();
    assert_eq!(
        kinds,
        [
            (kind::HEADERS, flag::END_HEADERS, 1),
            (kind::DATA, flag::END_STREAM, 1),
            (kind::HEADERS, flag::END_HEADERS, 3),
            (kind::DATA, flag::END_STREAM, 3),
            (kind::HEADERS, flag::END_HEADERS, 5),
            (kind::DATA, flag::END_STREAM, 5),
        ]
    );
    // The stateless encoder: `:method POST` indexed (83), `:path` literal name index 4.
    assert_eq!(frames[0].1, [0x83, 0x04, 0x02, b'/', b'x']);
}

#[test]
fn body_is_split_at_max_frame_size_and_waits_for_window() {
    let mut conn = connected(Config::default());
    let body: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
    let id = conn.send_request(REQUEST, &body).unwrap();
    let data: Vec<_> = sent(&mut conn)
        .into_iter()
        .filter(|(h, _)| h.kind == kind::DATA)
        .collect();
    let lens: Vec<_> = data.iter().map(|(h, _)| (h.len, h.flags)).collect();
    // 65535 of window: three full frames and the rest of the window.
    assert_eq!(lens, [(16384, 0), (16384, 0), (16384, 0), (16383, 0)]);
    // The stream window opens, but the connection window is still closed.
    conn.recv(&frame(kind::WINDOW_UPDATE, 0, id, &u32s(10_000)))
        .unwrap();
    assert!(sent(&mut conn).is_empty());
    conn.recv(&frame(kind::WINDOW_UPDATE, 0, 0, &u32s(100_000)))
        .unwrap();
    let rest = sent(&mut conn);
    let lens: Vec<_> = rest.iter().map(|(h, _)| (h.len, h.flags)).collect();
    assert_eq!(lens, [(4465, flag::END_STREAM)]);
    let mut all: Vec<u8> = data.into_iter().flat_map(|(_, p)| p).collect();
    all.extend(&rest[0].1);
    assert_eq!(all, body);
}

#[test]
fn larger_max_frame_size_and_initial_window_shift_apply() {
    let mut conn = connected(Config::default());
    let mut settings = vec![0, 5, 0, 0, 0x80, 0]; // MAX_FRAME_SIZE 32768
    settings.extend([0, 4, 0, 0, 0, 0]); // INITIAL_WINDOW_SIZE 0
    conn.recv(&frame(kind::SETTINGS, 0, 0, &settings)).unwrap();
    conn.recv(&frame(kind::WINDOW_UPDATE, 0, 0, &u32s(100_000)))
        .unwrap();
    sent(&mut conn);
    let body = vec![7u8; 40_000];
    let id = conn.send_request(REQUEST, &body).unwrap();
    let frames = sent(&mut conn);
    assert_eq!(frames.len(), 1, "only HEADERS while the stream window is 0");
    // Raising INITIAL_WINDOW_SIZE shifts the open stream's window (RFC 9113 §6.9.2).
    conn.recv(&frame(kind::SETTINGS, 0, 0, &[0, 4, 0, 0, 0x9c, 0x40]))
        .unwrap();
    let frames = sent(&mut conn);
    let summary: Vec<_> = frames
        .iter()
        .map(|(h, _)| (h.kind, h.len, h.stream))
        .collect();
    assert_eq!(
        summary,
        [
            (kind::SETTINGS, 0, 0),
            (kind::DATA, 32768, id),
            (kind::DATA, 7232, id)
        ]
    );
    assert_eq!(frames[2].0.flags, flag::END_STREAM);
}

#[test]
fn response_after_early_server_close_resets_with_no_error() {
    let mut conn = connected(Config::default());
    conn.recv(&frame(kind::SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 0]))
        .unwrap();
    let id = conn.send_request(REQUEST, b"held").unwrap();
    sent(&mut conn);
    let block = frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        id,
        HEADERS_200,
    );
    conn.recv(&block).unwrap();
    let rst = sent(&mut conn);
    assert_eq!(rst.len(), 1);
    assert_eq!((rst[0].0.kind, rst[0].0.stream), (kind::RST_STREAM, id));
    assert_eq!(rst[0].1, u32s(0));
    // The held body is never sent.
    conn.recv(&frame(kind::WINDOW_UPDATE, 0, id, &u32s(100)))
        .unwrap();
    assert!(sent(&mut conn).is_empty());
}

#[test]
fn padded_and_priority_headers_and_continuation() {
    let mut conn = connected(Config::default());
    let id = conn.send_request(REQUEST, b"").unwrap();
    // HEADERS: PADDED (pad 3) + PRIORITY (5 bytes) + first 4 bytes of the block, END_STREAM.
    let mut payload = vec![3, 0x80, 0, 0, 0, 0xff];
    payload.extend(&HEADERS_200[..4]);
    payload.extend([0, 0, 0]);
    let flags = flag::PADDED | flag::PRIORITY | flag::END_STREAM;
    let mut bytes = frame(kind::HEADERS, flags, id, &payload);
    bytes.extend(frame(kind::CONTINUATION, 0, id, &HEADERS_200[4..9]));
    bytes.extend(frame(
        kind::CONTINUATION,
        flag::END_HEADERS,
        id,
        &HEADERS_200[9..],
    ));
    conn.recv(&bytes).unwrap();
    assert_eq!(
        events(&mut conn),
        [Event::Headers {
            stream: id,
            fields: ok_headers(),
            end_stream: true
        }]
    );
}

#[test]
fn header_block_must_be_contiguous() {
    let mut conn = connected(Config::default());
    let id = conn.send_request(REQUEST, b"").unwrap();
    let mut bytes = frame(kind::HEADERS, 0, id, &HEADERS_200[..4]);
    bytes.extend(frame(kind::PING, 0, 0, &[0; 8]));
    let err = expect_error(&mut conn, &bytes, ErrorCode::ProtocolError);
    assert_eq!(
        err,
        PeerError::ExpectedContinuation {
            stream: id,
            kind: kind::PING,
            got_stream: 0
        }
    );
    let mut conn = connected(Config::default());
    let id = conn.send_request(REQUEST, b"").unwrap();
    let stray = frame(kind::CONTINUATION, flag::END_HEADERS, id, HEADERS_200);
    expect_error(&mut conn, &stray, ErrorCode::ProtocolError);
}

#[test]
fn header_block_is_bounded() {
    let mut conn = connected(Config {
        max_header_block: 20,
        ..Config::default()
    });
    let id = conn.send_request(REQUEST, b"").unwrap();
    let mut bytes = frame(kind::HEADERS, 0, id, HEADERS_200);
    bytes.extend(frame(kind::CONTINUATION, 0, id, &[0x88; 7]));
    let err = expect_error(&mut conn, &bytes, ErrorCode::EnhanceYourCalm);
    assert_eq!(err, PeerError::HeaderBlockTooLarge { max: 20 });
}

#[test]
fn hpack_error_is_compression_error() {
    let mut conn = connected(Config::default());
    let id = conn.send_request(REQUEST, b"").unwrap();
    // Index 70 does not exist in an empty dynamic table.
    let bad = frame(kind::HEADERS, flag::END_HEADERS, id, &[0xc6]);
    let err = expect_error(&mut conn, &bad, ErrorCode::CompressionError);
    assert!(matches!(err, PeerError::Hpack(_)));
}

#[test]
fn header_list_and_table_size_limits_are_connection_errors() {
    // A decoded header list over max_header_list_size: a literal `x-big` of 100 bytes.
    let mut conn = connected(Config {
        max_header_list_size: 64,
        ..Config::default()
    });
    let id = conn.send_request(REQUEST, b"").unwrap();
    let mut block = alloc::vec![0x88, 0x00, 5];
    block.extend(b"x-big");
    block.push(100);
    block.extend([b'v'; 100]);
    let bytes = frame(kind::HEADERS, flag::END_HEADERS, id, &block);
    let err = expect_error(&mut conn, &bytes, ErrorCode::CompressionError);
    assert!(
        matches!(
            err,
            PeerError::Hpack(HpackError::HeaderListTooLarge | HpackError::StringTooLong)
        ),
        "{err:?}"
    );

    // A dynamic table size update (RFC 7541 §6.3) above the advertised 4096: 0x3f e2 1f is
    // 4097.
    let mut conn = connected(Config::default());
    let id = conn.send_request(REQUEST, b"").unwrap();
    let bytes = frame(
        kind::HEADERS,
        flag::END_HEADERS,
        id,
        &[0x3f, 0xe2, 0x1f, 0x88],
    );
    let err = expect_error(&mut conn, &bytes, ErrorCode::CompressionError);
    assert!(
        matches!(err, PeerError::Hpack(HpackError::SizeUpdateTooLarge)),
        "{err:?}"
    );
}

#[test]
fn header_blocks_of_reset_streams_are_still_decoded() {
    let mut conn = connected(Config::default());
    let first = conn.send_request(REQUEST, b"").unwrap();
    let second = conn.send_request(REQUEST, b"").unwrap();
    conn.reset_stream(first, ErrorCode::Cancel);
    let frames = sent(&mut conn);
    let last = frames.last().unwrap();
    assert_eq!((last.0.kind, last.0.stream), (kind::RST_STREAM, first));
    assert_eq!(last.1, u32s(8));
    // The block on the reset stream adds content-type to the dynamic table (index 62)...
    let mut bytes = frame(kind::HEADERS, flag::END_HEADERS, first, HEADERS_200);
    // ...which the next block references as `be`.
    bytes.extend(frame(
        kind::HEADERS,
        flag::END_HEADERS,
        second,
        &[0x88, 0xbe],
    ));
    conn.recv(&bytes).unwrap();
    assert_eq!(
        events(&mut conn),
        [Event::Headers {
            stream: second,
            fields: ok_headers(),
            end_stream: false
        }]
    );
}

#[test]
fn padded_data_counts_padding_for_flow_control() {
    let mut conn = connected(cfg(400)); // stream credit threshold 100
    let id = conn.send_request(REQUEST, b"").unwrap();
    sent(&mut conn);
    let mut payload = vec![90];
    payload.extend(b"0123456789");
    payload.extend([0; 90]);
    conn.recv(&frame(kind::HEADERS, flag::END_HEADERS, id, HEADERS_200))
        .unwrap();
    conn.recv(&frame(kind::DATA, flag::PADDED, id, &payload))
        .unwrap();
    let evs = events(&mut conn);
    assert_eq!(
        evs[1],
        Event::Data {
            stream: id,
            data: b"0123456789".to_vec(),
            end_stream: false
        }
    );
    // The 91 bytes of padding are credited at once, the 10 of data once released.
    conn.release_capacity(id, 10);
    let updates: Vec<_> = sent(&mut conn)
        .into_iter()
        .map(|(h, p)| (h.kind, h.stream, p))
        .collect();
    assert_eq!(
        updates,
        [
            (kind::WINDOW_UPDATE, 0, u32s(101).to_vec()),
            (kind::WINDOW_UPDATE, id, u32s(101).to_vec())
        ]
    );
    let mut bad = vec![11];
    bad.extend([0; 10]);
    let err = expect_error(
        &mut conn,
        &frame(kind::DATA, flag::PADDED, id, &bad),
        ErrorCode::ProtocolError,
    );
    assert_eq!(
        err,
        PeerError::BadPadding {
            kind: kind::DATA,
            stream: id
        }
    );
}

#[test]
fn stream_credit_waits_for_release() {
    let mut conn = connected(cfg(400));
    let id = conn.send_request(REQUEST, b"").unwrap();
    sent(&mut conn);
    conn.recv(&frame(kind::HEADERS, flag::END_HEADERS, id, HEADERS_200))
        .unwrap();
    conn.recv(&frame(kind::DATA, 0, id, &[7; 400])).unwrap();
    events(&mut conn);
    // The connection window is credited on receipt; the stream's only when released.
    let kinds = |conn: &mut Connection| -> Vec<(u8, u32)> {
        sent(conn).iter().map(|(h, _)| (h.kind, h.stream)).collect()
    };
    assert_eq!(kinds(&mut conn), [(kind::WINDOW_UPDATE, 0)]);
    conn.release_capacity(id, 99);
    assert_eq!(kinds(&mut conn), []);
    conn.release_capacity(id, 1);
    let frames = sent(&mut conn);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].0.kind, frames[0].0.stream),
        (kind::WINDOW_UPDATE, id)
    );
    assert_eq!(frames[0].1, u32s(100));
    // Exactly the credit returned fits; one byte more is a flow-control error.
    conn.recv(&frame(kind::DATA, 0, id, &[7; 100])).unwrap();
    expect_error(
        &mut conn,
        &frame(kind::DATA, 0, id, &[0]),
        ErrorCode::FlowControlError,
    );
}

#[test]
fn empty_end_stream_data_sends_no_zero_window_update() {
    let mut conn = connected(cfg(4));
    let id = conn.send_request(REQUEST, b"").unwrap();
    sent(&mut conn);
    conn.recv(&frame(kind::HEADERS, flag::END_HEADERS, id, HEADERS_200))
        .unwrap();
    conn.recv(&frame(kind::DATA, flag::END_STREAM, id, &[]))
        .unwrap();
    assert!(sent(&mut conn).is_empty());
    assert_eq!(
        events(&mut conn)[1],
        Event::Data {
            stream: id,
            data: Vec::new(),
            end_stream: true
        }
    );
}

#[test]
fn data_beyond_the_stream_window_is_a_flow_control_error() {
    let mut conn = connected(cfg(100));
    let id = conn.send_request(REQUEST, b"").unwrap();
    conn.recv(&frame(kind::HEADERS, flag::END_HEADERS, id, HEADERS_200))
        .unwrap();
    sent(&mut conn);
    // 20 bytes are below the threshold of 25: not credited, the window is now 80.
    conn.recv(&frame(kind::DATA, 0, id, &[1; 20])).unwrap();
    let err = expect_error(
        &mut conn,
        &frame(kind::DATA, 0, id, &[1; 81]),
        ErrorCode::FlowControlError,
    );
    assert_eq!(
        err,
        PeerError::FlowControlViolation {
            stream: id,
            len: 81,
            window: 80
        }
    );
}

#[test]
fn data_on_reset_stream_still_credits_the_connection() {
    let mut conn = connected(cfg(4096)); // threshold 1024
    let id = conn.send_request(REQUEST, b"").unwrap();
    conn.reset_stream(id, ErrorCode::Cancel);
    sent(&mut conn);
    conn.recv(&frame(kind::DATA, 0, id, &[0; 2000])).unwrap();
    assert!(events(&mut conn).is_empty());
    let frames = sent(&mut conn);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].0.kind, frames[0].0.stream),
        (kind::WINDOW_UPDATE, 0)
    );
    assert_eq!(frames[0].1, u32s(2000));
}

#[test]
fn frames_on_idle_streams_are_protocol_errors() {
    for (kind, payload) in [
        (kind::DATA, vec![0; 4]),
        (kind::HEADERS, HEADERS_200.to_vec()),
        (kind::RST_STREAM, vec![0; 4]),
    ] {
        let mut conn = connected(Config::default());
        conn.send_request(REQUEST, b"").unwrap();
        let flags = if kind == kind::HEADERS {
            flag::END_HEADERS
        } else {
            0
        };
        let err = expect_error(
            &mut conn,
            &frame(kind, flags, 3, &payload),
            ErrorCode::ProtocolError,
        );
        assert_eq!(err, PeerError::IdleStream { kind, stream: 3 });
        let mut conn = connected(Config::default());
        let err = expect_error(
            &mut conn,
            &frame(kind, flags, 2, &payload),
            ErrorCode::ProtocolError,
        );
        assert_eq!(err, PeerError::IdleStream { kind, stream: 2 });
    }
    let data0 = frame(kind::DATA, 0, 0, &[0; 4]);
    expect_error(
        &mut connected(Config::default()),
        &data0,
        ErrorCode::ProtocolError,
    );
}

#[test]
fn ping_is_acked_first_with_identical_payload() {
    let mut conn = connected(Config::default());
    conn.send_request(REQUEST, b"").unwrap();
    let payload = [1, 6, 1, 8, 0, 3, 3, 9];
    let mut bytes = frame(kind::PING, 0, 0, &payload);
    bytes.extend(frame(kind::PING, flag::ACK, 0, &[9; 8])); // never ACK an ACK
    conn.recv(&bytes).unwrap();
    let frames = sent(&mut conn);
    assert_eq!(
        (frames[0].0.kind, frames[0].0.flags),
        (kind::PING, flag::ACK)
    );
    assert_eq!(frames[0].1, payload);
    assert_eq!(
        frames.iter().filter(|(h, _)| h.kind == kind::PING).count(),
        1
    );
    assert_eq!(frames[1].0.kind, kind::HEADERS);

    let short = frame(kind::PING, 0, 0, &[0; 7]);
    expect_error(
        &mut connected(Config::default()),
        &short,
        ErrorCode::FrameSizeError,
    );
    let on_stream = frame(kind::PING, 0, 1, &[0; 8]);
    expect_error(
        &mut connected(Config::default()),
        &on_stream,
        ErrorCode::ProtocolError,
    );
}

#[test]
fn ping_flood_is_cut_off() {
    let mut conn = connected(Config::default());
    let pings: Vec<u8> = (0..2000)
        .flat_map(|_| frame(kind::PING, 0, 0, &[0; 8]))
        .collect();
    let err = expect_error(&mut conn, &pings, ErrorCode::EnhanceYourCalm);
    assert_eq!(err, PeerError::ControlFlood);
}

#[test]
fn goaway_closes_streams_above_last_and_refuses_new_ones() {
    let mut conn = connected(Config::default());
    let first = conn.send_request(REQUEST, b"").unwrap();
    let second = conn.send_request(REQUEST, b"").unwrap();
    let mut payload = u32s(first).to_vec();
    payload.extend(u32s(0xb));
    payload.extend(b"too_many_pings");
    conn.recv(&frame(kind::GOAWAY, 0, 0, &payload)).unwrap();
    assert_eq!(
        events(&mut conn),
        [Event::GoAway {
            last_stream: first,
            code: ErrorCode::EnhanceYourCalm,
            debug: b"too_many_pings".to_vec()
        }]
    );
    assert!(conn.is_going_away());
    assert_eq!(
        conn.send_request(REQUEST, b""),
        Err(LocalError::GoingAway.into())
    );
    // Stream 3 is closed: its headers are decoded but not reported; stream 1 lives on.
    let mut bytes = frame(kind::HEADERS, flag::END_HEADERS, second, HEADERS_200);
    bytes.extend(frame(
        kind::HEADERS,
        flag::END_HEADERS,
        first,
        &[0x88, 0xbe],
    ));
    conn.recv(&bytes).unwrap();
    assert_eq!(
        events(&mut conn),
        [Event::Headers {
            stream: first,
            fields: ok_headers(),
            end_stream: false
        }]
    );
    let short = frame(kind::GOAWAY, 0, 0, &[0; 7]);
    expect_error(
        &mut connected(Config::default()),
        &short,
        ErrorCode::FrameSizeError,
    );
}

#[test]
fn rst_stream_is_reported_once() {
    let mut conn = connected(Config::default());
    let id = conn.send_request(REQUEST, b"").unwrap();
    let mut bytes = frame(kind::RST_STREAM, 0, id, &u32s(7));
    bytes.extend(frame(kind::RST_STREAM, 0, id, &u32s(0)));
    bytes.extend(frame(kind::DATA, 0, id, b"late"));
    conn.recv(&bytes).unwrap();
    assert_eq!(
        events(&mut conn),
        [Event::Reset {
            stream: id,
            code: ErrorCode::RefusedStream,
            by_server: true,
        }]
    );
    let long = frame(kind::RST_STREAM, 0, id, &[0; 5]);
    expect_error(&mut conn, &long, ErrorCode::FrameSizeError);
}

#[test]
fn window_update_rules() {
    let zero = frame(kind::WINDOW_UPDATE, 0, 0, &u32s(0));
    let err = expect_error(
        &mut connected(Config::default()),
        &zero,
        ErrorCode::ProtocolError,
    );
    assert_eq!(err, PeerError::ZeroWindowIncrement);
    let big = frame(kind::WINDOW_UPDATE, 0, 0, &u32s(0x7fff_ffff));
    expect_error(
        &mut connected(Config::default()),
        &big,
        ErrorCode::FlowControlError,
    );

    // On a stream, zero and overflow are stream errors: RST_STREAM and a Reset event.
    let mut conn = connected(Config::default());
    let a = conn.send_request(REQUEST, b"").unwrap();
    let b = conn.send_request(REQUEST, b"").unwrap();
    sent(&mut conn);
    let mut bytes = frame(kind::WINDOW_UPDATE, 0, a, &u32s(0));
    bytes.extend(frame(kind::WINDOW_UPDATE, 0, b, &u32s(0x7fff_ffff)));
    conn.recv(&bytes).unwrap();
    assert_eq!(
        events(&mut conn),
        [
            Event::Reset {
                stream: a,
                code: ErrorCode::ProtocolError,
                by_server: false,
            },
            Event::Reset {
                stream: b,
                code: ErrorCode::FlowControlError,
                by_server: false,
            }
        ]
    );
    let rsts: Vec<_> = sent(&mut conn)
        .into_iter()
        .map(|(h, p)| (h.kind, h.stream, p))
        .collect();
    assert_eq!(
        rsts,
        [
            (kind::RST_STREAM, a, u32s(1).to_vec()),
            (kind::RST_STREAM, b, u32s(3).to_vec())
        ]
    );
    // Updates for closed streams are ignored.
    conn.recv(&frame(kind::WINDOW_UPDATE, 0, a, &u32s(5)))
        .unwrap();
    let short = frame(kind::WINDOW_UPDATE, 0, 0, &[0; 3]);
    expect_error(&mut conn, &short, ErrorCode::FrameSizeError);
}

#[test]
fn priority_and_unknown_frames_are_ignored() {
    let mut conn = connected(Config::default());
    let id = conn.send_request(REQUEST, b"").unwrap();
    let mut bytes = frame(kind::PRIORITY, 0, id, &[0, 0, 0, 0, 16]);
    bytes.extend(frame(0xfa, 0xff, 0, b"whatever"));
    bytes.extend(frame(0xfa, 0, 9, b""));
    conn.recv(&bytes).unwrap();
    assert!(events(&mut conn).is_empty());
    assert!(sent(&mut conn).iter().all(|(h, _)| h.kind != kind::GOAWAY));
    let bad = frame(kind::PRIORITY, 0, id, &[0; 4]);
    expect_error(&mut conn, &bad, ErrorCode::FrameSizeError);
}

#[test]
fn push_promise_is_a_protocol_error() {
    let mut conn = connected(Config::default());
    let id = conn.send_request(REQUEST, b"").unwrap();
    let push = frame(
        kind::PUSH_PROMISE,
        flag::END_HEADERS,
        id,
        &[0, 0, 0, 2, 0x88],
    );
    let err = expect_error(&mut conn, &push, ErrorCode::ProtocolError);
    assert_eq!(err, PeerError::PushPromise);
}

#[test]
fn an_http1_answer_is_named() {
    let mut conn = Connection::new(Config::default(), T0);
    let _ = sent(&mut conn);
    let answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    let err = expect_error(&mut conn, answer, ErrorCode::ProtocolError);
    assert_eq!(err, PeerError::Http1Response);
    assert_eq!(
        alloc::format!("{err}"),
        "the server answered in HTTP/1.x, not HTTP/2: it is not a gRPC server"
    );
}

#[test]
fn oversized_frame_is_rejected_from_its_header() {
    let mut conn = connected(Config::default());
    let header = [0x00, 0x40, 0x01, kind::DATA, 0, 0, 0, 0, 1];
    let err = expect_error(&mut conn, &header, ErrorCode::FrameSizeError);
    assert_eq!(
        err,
        PeerError::FrameTooLarge {
            len: 16385,
            max: 16384
        }
    );
}

#[test]
fn transcripts_decode_to_the_recorded_headers() {
    let go = include_bytes!("../testdata/h2/grpc-go.server.bin");
    let core_gzip = include_bytes!("../testdata/h2/grpc-core-gzip.server.bin");
    for (server, gzip) in [(&go[..], false), (&core_gzip[..], true)] {
        let mut conn = Connection::new(Config::default(), T0);
        for _ in 0..4 {
            conn.send_request(REQUEST, b"").unwrap();
        }
        for byte in server.chunks(1) {
            conn.recv(byte).unwrap();
        }
        let evs = events(&mut conn);
        let mut headers = ok_headers();
        if gzip {
            headers.push(field("grpc-encoding", "gzip"));
            headers.push(field("grpc-accept-encoding", "identity, deflate, gzip"));
        }
        let trailers = vec![field("grpc-status", "0"), field("grpc-message", "")];
        let mut seen = Vec::new();
        for ev in &evs {
            match ev {
                Event::Headers {
                    stream,
                    fields,
                    end_stream: false,
                } => {
                    assert_eq!(fields, &headers);
                    seen.push(*stream);
                }
                Event::Headers {
                    fields,
                    end_stream: true,
                    ..
                } => assert_eq!(fields, &trailers),
                Event::Data { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, [1, 3, 5, 7]);
        let data = evs
            .iter()
            .filter(|e| matches!(e, Event::Data { .. }))
            .count();
        assert_eq!(data, 7);
    }
}

mod timers;
