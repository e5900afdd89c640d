//! Replays of the recorded grpc-go and gRPC C-core transcripts through [`Client`], plus
//! unary-cardinality and connection-failure behaviour.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::h2::frame::{flag, kind};
use crate::h2::testutil::{frame, parse_frames};
use crate::hpack::Decoder;
use crate::time::Instant;

const GO_SERVER: &[u8] = include_bytes!("../testdata/h2/grpc-go.server.bin");
const CORE_SERVER: &[u8] = include_bytes!("../testdata/h2/grpc-core-gzip.server.bin");
const GO_PING: [u8; 8] = [0x02, 0x04, 0x10, 0x10, 0x09, 0x0e, 0x07, 0x07];
const CORE_PING: [u8; 8] = [0xde, 0xf7, 0xaf, 0x30, 0xe5, 0x37, 0x7b, 0x37];
const ID: &str = "spiffe://example.org/workload";

/// Issues the four recorded requests, feeds `server` in `chunk`-byte pieces, and returns
/// the events and every byte the client transmitted.
fn replay(server: &[u8], chunk: usize, config: ClientConfig) -> (Vec<Event>, Vec<u8>) {
    let mut client = Client::new(config, T0);
    assert_eq!(client.fetch_x509_svid().unwrap(), 1);
    assert_eq!(client.fetch_jwt_bundles().unwrap(), 3);
    assert_eq!(client.fetch_jwt_svid(&["aud-one"], "").unwrap(), 5);
    assert_eq!(client.fetch_jwt_svid(&["aud-two"], "").unwrap(), 7);
    let mut sent = Vec::new();
    let mut events = Vec::new();
    for piece in server.chunks(chunk) {
        client.poll_transmit(&mut sent);
        client.recv(piece).unwrap();
        events.extend(core::iter::from_fn(|| client.poll_event()));
    }
    client.poll_transmit(&mut sent);
    assert!(!client.is_going_away());
    (events, sent)
}

/// Decodes the base64url (unpadded) JWT payload, enough to read its claims as text.
fn jwt_payload(token: &str) -> String {
    let part = token.split('.').nth(1).unwrap();
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in part.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {c}"),
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8(out).unwrap()
}

fn check_x509(event: &Event) -> Vec<u8> {
    let Event::X509Svid { stream, response } = event else {
        panic!("expected X509Svid, got {event:?}");
    };
    assert_eq!(*stream, 1);
    assert_eq!(response.svids.len(), 1);
    let svid = &response.svids[0];
    assert_eq!(svid.spiffe_id, ID);
    // DER SEQUENCE with a two-byte length: leaf, then the intermediate.
    assert_eq!(svid.x509_svid[..2], [0x30, 0x82]);
    assert_eq!(svid.x509_svid_key[..2], [0x30, 0x81]);
    assert_eq!(svid.bundle[..2], [0x30, 0x82]);
    svid.x509_svid.to_vec()
}

fn check_bundles(event: &Event) {
    let Event::JwtBundles { stream, response } = event else {
        panic!("expected JwtBundles, got {event:?}");
    };
    assert_eq!(*stream, 3);
    let keys: Vec<&String> = response.bundles.keys().collect();
    assert_eq!(keys, ["spiffe://example.org"]);
    let jwks = core::str::from_utf8(&response.bundles["spiffe://example.org"]).unwrap();
    assert!(jwks.trim_start().starts_with('{'), "{jwks}");
    assert!(jwks.contains("\"keys\""), "{jwks}");
    assert!(jwks.contains("\"kty\""), "{jwks}");
}

fn check_jwt(event: &Event, want_stream: StreamId, audience: &str) {
    let Event::JwtSvid { stream, response } = event else {
        panic!("expected JwtSvid, got {event:?}");
    };
    assert_eq!(*stream, want_stream);
    assert_eq!(response.svids.len(), 1);
    assert_eq!(response.svids[0].spiffe_id, ID);
    let claims = jwt_payload(&response.svids[0].svid);
    assert!(claims.contains(audience), "{claims}");
    assert!(claims.contains(ID), "{claims}");
}

fn check_ok(event: &Event, want_stream: StreamId) {
    assert_eq!(
        *event,
        Event::Closed {
            stream: want_stream,
            status: Status::new(Code::Ok, ""),
        }
    );
}

fn check_events(events: &[Event], core_order: bool) {
    assert_eq!(events.len(), 9, "{events:#?}");
    let (first_x509, bundles) = if core_order { (1, 0) } else { (0, 1) };
    let mut certs = vec![check_x509(&events[first_x509])];
    check_bundles(&events[bundles]);
    check_jwt(&events[2], 5, "aud-one");
    check_ok(&events[3], 5);
    check_jwt(&events[4], 7, "aud-two");
    check_ok(&events[5], 7);
    for event in &events[6..] {
        certs.push(check_x509(event));
    }
    // The first SVID and three rotations, each a new certificate.
    for pair in certs.windows(2) {
        assert_ne!(pair[0], pair[1]);
    }
}

/// Checks the transmitted bytes: preface, our SETTINGS first, the ACKs, and the request
/// headers in the order of wire §2.3. Returns the WINDOW_UPDATE increments per stream.
fn check_transmitted(sent: &[u8], ping: [u8; 8]) -> Vec<(StreamId, u32)> {
    assert!(sent.starts_with(crate::h2::frame::PREFACE));
    let frames = parse_frames(sent);
    assert_eq!(frames[0].0.kind, kind::SETTINGS);
    assert_eq!(frames[0].0.flags, 0);
    let settings_acks = frames
        .iter()
        .filter(|(h, p)| h.kind == kind::SETTINGS && h.flags == flag::ACK && p.is_empty())
        .count();
    assert_eq!(settings_acks, 1);
    let pings: Vec<_> = frames
        .iter()
        .filter(|(h, _)| h.kind == kind::PING)
        .collect();
    assert_eq!(pings.len(), 1);
    assert_eq!(pings[0].0.flags, flag::ACK);
    assert_eq!(pings[0].1, ping);
    assert!(
        !frames
            .iter()
            .any(|(h, _)| h.kind == kind::GOAWAY || h.kind == kind::RST_STREAM)
    );

    let mut decoder = Decoder::new(4096, 16384);
    let headers: Vec<_> = frames
        .iter()
        .filter(|(h, _)| h.kind == kind::HEADERS)
        .collect();
    assert_eq!(headers.len(), 4);
    for ((h, block), (id, path)) in headers.iter().zip([
        (1, svid_proto::path::FETCH_X509_SVID),
        (3, svid_proto::path::FETCH_JWT_BUNDLES),
        (5, svid_proto::path::FETCH_JWT_SVID),
        (7, svid_proto::path::FETCH_JWT_SVID),
    ]) {
        assert_eq!((h.stream, h.flags), (id, flag::END_HEADERS));
        let fields = decoder.decode(block).unwrap();
        let fields: Vec<(&[u8], &[u8])> = fields
            .iter()
            .map(|f| (f.name.as_slice(), f.value.as_slice()))
            .collect();
        let want: [(&[u8], &[u8]); 9] = [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", path.as_bytes()),
            (b":authority", b"localhost"),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
            (b"user-agent", b"test-agent/1"),
            (b"grpc-accept-encoding", b"gzip, deflate"),
            (b"workload.spiffe.io", b"true"),
        ];
        assert_eq!(fields, want);
    }
    let data: Vec<_> = frames
        .iter()
        .filter(|(h, _)| h.kind == kind::DATA)
        .collect();
    assert_eq!(data.len(), 4);
    let bodies: [&[u8]; 4] = [
        &[0, 0, 0, 0, 0],
        &[0, 0, 0, 0, 0],
        b"\x00\x00\x00\x00\x09\x0a\x07aud-one",
        b"\x00\x00\x00\x00\x09\x0a\x07aud-two",
    ];
    for ((h, payload), body) in data.iter().zip(bodies) {
        assert_eq!(h.flags, flag::END_STREAM);
        assert_eq!(payload.as_slice(), body);
    }
    frames
        .iter()
        .filter(|(h, _)| h.kind == kind::WINDOW_UPDATE)
        .map(|(h, p)| (h.stream, u32::from_be_bytes(p[..4].try_into().unwrap())))
        .collect()
}

/// DATA payload bytes the server sent per stream (0 = all streams).
fn server_data(server: &[u8], stream: StreamId) -> u32 {
    parse_frames(server)
        .iter()
        .filter(|(h, _)| h.kind == kind::DATA && (stream == 0 || h.stream == stream))
        .map(|(h, _)| h.len)
        .sum()
}

fn config(initial_window_size: u32) -> ClientConfig {
    ClientConfig {
        user_agent: "test-agent/1",
        h2: h2::Config {
            initial_window_size,
            ..h2::Config::default()
        },
        ..ClientConfig::default()
    }
}

fn replay_all_splits(server: &[u8], ping: [u8; 8], core_order: bool) {
    for chunk in [server.len(), 1, 2, 7, 9, 10, 100, 1021, 4093] {
        let (events, sent) = replay(server, chunk, config(1 << 20));
        check_events(&events, core_order);
        let updates = check_transmitted(&sent, ping);
        // Only the connection window raise to 1 MiB: far below a quarter of the window.
        assert_eq!(updates, [(0, (1 << 20) - 65_535)], "chunk {chunk}");
    }
}

const T0: Instant = Instant::from_millis(0);

#[test]
fn replays_grpc_go_transcript() {
    replay_all_splits(GO_SERVER, GO_PING, false);
}

#[test]
fn replays_grpc_core_gzip_transcript() {
    replay_all_splits(CORE_SERVER, CORE_PING, true);
}

/// With a 4 KiB stream window the client credits every 1 KiB: the WINDOW_UPDATEs are all
/// positive, never exceed what arrived, and leave less than the threshold uncredited.
#[test]
fn small_window_credits_received_data() {
    for (server, ping, core_order) in [(GO_SERVER, GO_PING, false), (CORE_SERVER, CORE_PING, true)]
    {
        let (events, sent) = replay(server, 13, config(4096));
        check_events(&events, core_order);
        let updates = check_transmitted(&sent, ping);
        assert!(updates.iter().all(|&(_, inc)| inc > 0));
        for stream in [0, 1, 3] {
            let received = server_data(server, stream);
            let credited: u32 = updates
                .iter()
                .filter(|&&(s, _)| s == stream)
                .map(|&(_, inc)| inc)
                .sum();
            assert!(credited <= received, "stream {stream}");
            assert!(
                received - credited < 1024,
                "stream {stream}: {received} vs {credited}"
            );
        }
        // Stream 1 got four large messages, so it was credited.
        assert!(updates.iter().any(|&(s, _)| s == 1));
    }
}

fn connected() -> (Client, Vec<u8>) {
    let mut client = Client::new(config(1 << 20), T0);
    let mut sent = Vec::new();
    client.recv(&frame(kind::SETTINGS, 0, 0, &[])).unwrap();
    client.poll_transmit(&mut sent);
    (client, sent)
}

const HEADERS_200: &[u8] = &[
    0x88, 0x5f, 0x8b, 0x1d, 0x75, 0xd0, 0x62, 0x0d, 0x26, 0x3d, 0x4c, 0x4d, 0x65, 0x64,
];
/// `grpc-status: 0`, `grpc-message: ""` after HEADERS_200 (wire §2.12).
const TRAILERS_OK: &[u8] = &[
    0x40, 0x88, 0x9a, 0xca, 0xc8, 0xb2, 0x12, 0x34, 0xda, 0x8f, 0x01, 0x30, 0x40, 0x89, 0x9a, 0xca,
    0xc8, 0xb5, 0x25, 0x42, 0x07, 0x31, 0x7f, 0x00,
];

fn jwt_message() -> Vec<u8> {
    let response = JwtsvidResponse {
        svids: vec![svid_proto::Jwtsvid {
            spiffe_id: ID.into(),
            svid: "a.b.c".into(),
            hint: String::new(),
        }],
    };
    let mut body = Vec::new();
    grpc::encode_message(&mut body, &response.encode_to_vec());
    body
}

#[test]
fn unary_with_two_messages_is_a_cardinality_violation() {
    let (mut client, _) = connected();
    let stream = client.fetch_jwt_svid(&["aud"], ID).unwrap();
    let mut bytes = frame(kind::HEADERS, flag::END_HEADERS, stream, HEADERS_200);
    let mut two = jwt_message();
    two.extend(jwt_message());
    bytes.extend(frame(kind::DATA, 0, stream, &two));
    client.recv(&bytes).unwrap();
    let Some(Event::Closed { status, .. }) = client.poll_event() else {
        panic!("expected Closed");
    };
    assert_eq!(status.code, Code::Internal);
    assert!(status.message.contains("cardinality violation"), "{status}");
    assert_eq!(client.poll_event(), None);
    // The still-open stream is cancelled.
    let mut sent = Vec::new();
    client.poll_transmit(&mut sent);
    let rst = frame(kind::RST_STREAM, 0, stream, &8u32.to_be_bytes());
    assert!(sent.ends_with(&rst));
}

#[test]
fn unary_ok_without_message_is_a_cardinality_violation() {
    let (mut client, _) = connected();
    let stream = client.fetch_jwt_svid(&["aud"], "").unwrap();
    let mut bytes = frame(kind::HEADERS, flag::END_HEADERS, stream, HEADERS_200);
    bytes.extend(frame(kind::HEADERS, 5, stream, TRAILERS_OK));
    client.recv(&bytes).unwrap();
    let Some(Event::Closed { status, .. }) = client.poll_event() else {
        panic!("expected Closed");
    };
    assert_eq!(status.code, Code::Internal);
    assert!(status.message.contains("no response message"), "{status}");
}

#[test]
fn unary_message_is_held_until_ok_trailers() {
    let (mut client, _) = connected();
    let stream = client.fetch_jwt_svid(&["aud"], "").unwrap();
    let mut bytes = frame(kind::HEADERS, flag::END_HEADERS, stream, HEADERS_200);
    bytes.extend(frame(kind::DATA, 0, stream, &jwt_message()));
    client.recv(&bytes).unwrap();
    assert_eq!(client.poll_event(), None);
    client
        .recv(&frame(kind::HEADERS, 5, stream, TRAILERS_OK))
        .unwrap();
    assert!(matches!(client.poll_event(), Some(Event::JwtSvid { .. })));
    assert!(matches!(client.poll_event(), Some(Event::Closed { status, .. }) if status.is_ok()));
}

#[test]
fn undecodable_message_keeps_the_watch_open() {
    let (mut client, _) = connected();
    let stream = client.fetch_x509_svid().unwrap();
    let mut bytes = frame(kind::HEADERS, flag::END_HEADERS, stream, HEADERS_200);
    // Field 1 (LEN) claiming 16 bytes with only 1 present.
    bytes.extend(frame(
        kind::DATA,
        0,
        stream,
        &[0, 0, 0, 0, 3, 0x0a, 0x10, 0x00],
    ));
    let good = X509svidResponse {
        svids: vec![svid_proto::X509svid {
            spiffe_id: ID.into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut body = Vec::new();
    grpc::encode_message(&mut body, &good.encode_to_vec());
    bytes.extend(frame(kind::DATA, 0, stream, &body));
    client.recv(&bytes).unwrap();
    match client.poll_event() {
        Some(Event::BadMessage { stream: s, error }) => {
            assert_eq!(s, stream);
            assert!(
                error
                    .to_string()
                    .starts_with("malformed response message: "),
                "{error}"
            );
        }
        other => panic!("expected BadMessage, got {other:?}"),
    }
    assert_eq!(
        client.poll_event(),
        Some(Event::X509Svid {
            stream,
            response: good
        })
    );
}

#[test]
fn cancel_sends_rst_cancel_and_drops_later_frames() {
    let (mut client, _) = connected();
    let stream = client.fetch_x509_svid().unwrap();
    client.cancel(stream);
    let mut sent = Vec::new();
    client.poll_transmit(&mut sent);
    assert!(sent.ends_with(&frame(kind::RST_STREAM, 0, stream, &8u32.to_be_bytes())));
    client
        .recv(&frame(
            kind::HEADERS,
            flag::END_HEADERS,
            stream,
            HEADERS_200,
        ))
        .unwrap();
    assert_eq!(client.poll_event(), None);
}

#[test]
fn goaway_closes_unprocessed_calls_as_unavailable() {
    let (mut client, _) = connected();
    let first = client.fetch_x509_svid().unwrap();
    let second = client.fetch_jwt_bundles().unwrap();
    let mut goaway = first.to_be_bytes().to_vec();
    goaway.extend(0u32.to_be_bytes());
    goaway.extend(b"bye");
    client.recv(&frame(kind::GOAWAY, 0, 0, &goaway)).unwrap();
    let Some(Event::Closed { stream, status }) = client.poll_event() else {
        panic!("expected Closed");
    };
    assert_eq!((stream, status.code), (second, Code::Unavailable));
    assert!(status.message.contains("bye"), "{status}");
    assert_eq!(client.poll_event(), None);
    assert!(client.is_going_away());
    assert!(matches!(
        client.fetch_x509_svid(),
        Err(h2::Error::Local(h2::LocalError::GoingAway))
    ));
}

#[test]
fn connection_error_closes_every_call() {
    let (mut client, _) = connected();
    let stream = client.fetch_x509_svid().unwrap();
    let err = client
        .recv(&frame(kind::PUSH_PROMISE, 4, stream, &[0, 0, 0, 2]))
        .unwrap_err();
    assert_eq!(err, h2::PeerError::PushPromise.into());
    let Some(Event::Closed { status, .. }) = client.poll_event() else {
        panic!("expected Closed");
    };
    assert_eq!(status.code, Code::Unavailable);
    let mut sent = Vec::new();
    client.poll_transmit(&mut sent);
    let goaway = [0, 0, 0, 0, 0, 0, 0, 1];
    assert!(sent.ends_with(&frame(kind::GOAWAY, 0, 0, &goaway)));
}

/// Corrupted transcripts (deterministic xorshift bit flips, truncation, duplication) must
/// end in events or a connection error, never a panic, and a failed connection stays failed.
#[test]
fn corrupted_transcripts_never_panic() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for server in [GO_SERVER, CORE_SERVER] {
        for round in 0..300 {
            let mut bytes = server.to_vec();
            for _ in 0..=(round % 8) {
                let at = (next() as usize) % bytes.len();
                match next() % 4 {
                    0 => bytes[at] ^= 1 << (next() % 8),
                    1 => bytes[at] = next() as u8,
                    2 => bytes.truncate(at.max(1)),
                    _ => {
                        let end = (at + (next() as usize) % 64).min(bytes.len());
                        let copy = bytes[at..end].to_vec();
                        bytes.splice(at..at, copy);
                    }
                }
            }
            let mut client = Client::new(ClientConfig::default(), T0);
            client.fetch_x509_svid().unwrap();
            client.fetch_jwt_bundles().unwrap();
            client.fetch_jwt_svid(&["aud-one"], "").unwrap();
            let mut failed = false;
            for piece in bytes.chunks(1 + (next() as usize) % 700) {
                if client.recv(piece).is_err() {
                    failed = true;
                    break;
                }
                while client.poll_event().is_some() {}
            }
            if failed {
                assert!(client.is_going_away());
                assert_eq!(client.recv(&[]), Err(h2::LocalError::Closed.into()));
            }
            let mut out = Vec::new();
            client.poll_transmit(&mut out);
        }
    }
}

#[test]
fn oversized_request_headers_are_refused() {
    let mut client = Client::new(
        ClientConfig {
            user_agent: {
                const LONG: &str = match core::str::from_utf8(&[b'a'; 17_000]) {
                    Ok(s) => s,
                    Err(_) => "",
                };
                LONG
            },
            ..ClientConfig::default()
        },
        T0,
    );
    assert!(matches!(
        client.fetch_x509_svid(),
        Err(h2::Error::Local(h2::LocalError::RequestHeadersTooLarge {
            max: 16384,
            ..
        }))
    ));
}

/// wire §2.12: the trailers-only PERMISSION_DENIED frame exactly as grpc-go sends it as the
/// first block of a connection, then the RST_STREAM(NO_ERROR) that follows early trailers.
#[test]
fn trailers_only_permission_denied_then_rst_no_error() {
    let (mut client, _) = connected();
    let stream = client.fetch_x509_svid().unwrap();
    let mut bytes = vec![0x00, 0x00, 0x33, 0x01, 0x05, 0x00, 0x00, 0x00, 0x01];
    bytes.extend([
        0x88, 0x5f, 0x8b, 0x1d, 0x75, 0xd0, 0x62, 0x0d, 0x26, 0x3d, 0x4c, 0x4d, 0x65, 0x64, 0x40,
        0x88, 0x9a, 0xca, 0xc8, 0xb2, 0x12, 0x34, 0xda, 0x8f, 0x01, 0x37, 0x40, 0x89, 0x9a, 0xca,
        0xc8, 0xb5, 0x25, 0x42, 0x07, 0x31, 0x7f, 0x8d, 0xa8, 0xea, 0x1a, 0x42, 0xd4, 0x93, 0x27,
        0xd2, 0x86, 0x42, 0x2d, 0x2c, 0x9f,
    ]);
    bytes.extend(frame(kind::RST_STREAM, 0, stream, &0u32.to_be_bytes()));
    client.recv(&bytes).unwrap();
    assert_eq!(
        client.poll_event(),
        Some(Event::Closed {
            stream,
            status: Status::new(Code::PermissionDenied, "no identity issued"),
        })
    );
    assert_eq!(client.poll_event(), None);
    // The server ended the stream: nothing to cancel.
    let mut sent = Vec::new();
    client.poll_transmit(&mut sent);
    assert!(
        parse_frames(&sent)
            .iter()
            .all(|(h, _)| h.kind != kind::RST_STREAM)
    );
}

/// A watch message over the configured limit ends the call with RESOURCE_EXHAUSTED and
/// cancels the stream.
#[test]
fn oversized_message_cancels_the_watch() {
    let mut client = Client::new(
        ClientConfig {
            max_message_size: 1000,
            ..config(1 << 20)
        },
        T0,
    );
    client.recv(&frame(kind::SETTINGS, 0, 0, &[])).unwrap();
    let stream = client.fetch_x509_svid().unwrap();
    let mut sent = Vec::new();
    client.poll_transmit(&mut sent);
    let mut bytes = frame(kind::HEADERS, flag::END_HEADERS, stream, HEADERS_200);
    bytes.extend(frame(kind::DATA, 0, stream, &[0, 0, 0, 0x03, 0xe9]));
    client.recv(&bytes).unwrap();
    let Some(Event::Closed { status, .. }) = client.poll_event() else {
        panic!("expected Closed");
    };
    assert_eq!(status.code, Code::ResourceExhausted);
    sent.clear();
    client.poll_transmit(&mut sent);
    assert!(sent.ends_with(&frame(kind::RST_STREAM, 0, stream, &8u32.to_be_bytes())));
}

/// A server that outpaces its reader gets no more credit than one stream window: bytes are
/// credited back only once the messages built from them have been polled.
#[test]
fn credit_returns_as_messages_are_polled() {
    let mut client = Client::new(config(400), T0);
    client.recv(&frame(kind::SETTINGS, 0, 0, &[])).unwrap();
    let stream = client.fetch_x509_svid().unwrap();
    let mut sent = Vec::new();
    client.poll_transmit(&mut sent);
    // Four 100-byte messages: an empty X509SVIDResponse padded with unknown field 15.
    let mut message = vec![0x7a, 93];
    message.extend([0u8; 93]);
    let mut body = Vec::new();
    grpc::encode_message(&mut body, &message);
    assert_eq!(body.len(), 100);
    let mut bytes = frame(kind::HEADERS, flag::END_HEADERS, stream, HEADERS_200);
    for _ in 0..4 {
        bytes.extend(frame(kind::DATA, 0, stream, &body));
    }
    client.recv(&bytes).unwrap();
    let stream_updates = |client: &mut Client| -> Vec<u32> {
        let mut out = Vec::new();
        client.poll_transmit(&mut out);
        parse_frames(&out)
            .into_iter()
            .filter(|(h, _)| h.kind == kind::WINDOW_UPDATE && h.stream == stream)
            .map(|(_, p)| u32::from_be_bytes(p.try_into().unwrap()))
            .collect()
    };
    assert_eq!(stream_updates(&mut client), [0u32; 0], "nothing polled yet");
    for _ in 0..3 {
        assert!(matches!(client.poll_event(), Some(Event::X509Svid { .. })));
    }
    assert_eq!(
        stream_updates(&mut client),
        [0u32; 0],
        "one message still unread"
    );
    assert!(matches!(client.poll_event(), Some(Event::X509Svid { .. })));
    assert_eq!(stream_updates(&mut client), [400]);
    client.recv(&frame(kind::DATA, 0, stream, &body)).unwrap();
}
