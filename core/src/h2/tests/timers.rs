//! The connection's clocks on a simulated time line: the handshake deadline (RFC 9113
//! §6.5.3), keepalive PINGs within grpc-go's enforcement policy, PING ACK deadlines, and the
//! server's stream limit.

use core::time::Duration;

use super::*;

fn at(secs: u64) -> Instant {
    Instant::from_millis(secs * 1000)
}

/// A connection whose handshake is complete: server SETTINGS and the ACK of ours.
fn handshaken(config: Config) -> Connection {
    let mut conn = Connection::new(config, T0);
    let mut bytes = frame(kind::SETTINGS, 0, 0, &[]);
    bytes.extend(frame(kind::SETTINGS, flag::ACK, 0, &[]));
    conn.recv(&bytes).unwrap();
    sent(&mut conn);
    conn
}

fn pings(conn: &mut Connection) -> Vec<[u8; 8]> {
    sent(conn)
        .into_iter()
        .filter(|(h, _)| h.kind == kind::PING && h.flags == 0)
        .map(|(_, p)| p.try_into().unwrap())
        .collect()
}

fn goaway_code(conn: &mut Connection) -> ErrorCode {
    let frames = sent(conn);
    let (h, payload) = frames.last().unwrap();
    assert_eq!(h.kind, kind::GOAWAY);
    ErrorCode::from_u32(u32::from_be_bytes(payload[4..8].try_into().unwrap()))
}

#[test]
fn a_server_that_never_speaks_times_out() {
    let mut conn = Connection::new(Config::default(), T0);
    sent(&mut conn);
    assert_eq!(conn.poll_timeout(), Some(at(20)));
    conn.handle_timeout(at(20) - Duration::from_millis(1))
        .unwrap();
    assert_eq!(
        conn.handle_timeout(at(20)),
        Err(Error::Peer(PeerError::HandshakeTimeout {
            server_settings: false
        }))
    );
    assert_eq!(goaway_code(&mut conn), ErrorCode::SettingsTimeout);
    assert_eq!(conn.poll_timeout(), None);
    assert!(conn.is_going_away());
}

#[test]
fn settings_never_acknowledged_time_out() {
    let mut conn = connected(Config::default());
    assert_eq!(
        conn.handle_timeout(at(20)),
        Err(Error::Peer(PeerError::HandshakeTimeout {
            server_settings: true
        }))
    );
    // Acknowledged: no deadline is left while no stream is open.
    let conn = handshaken(Config::default());
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn keepalive_pings_only_with_an_open_stream_and_never_under_five_minutes() {
    let mut conn = handshaken(Config {
        keepalive_interval: Duration::from_secs(30),
        ..Config::default()
    });
    assert_eq!(conn.poll_timeout(), None);
    let id = conn.send_request(REQUEST, b"").unwrap();
    sent(&mut conn);
    // 30 s is raised to grpc-go's enforced minimum.
    assert_eq!(conn.poll_timeout(), Some(at(300)));
    conn.handle_timeout(at(299)).unwrap();
    assert!(pings(&mut conn).is_empty());
    conn.handle_timeout(at(300)).unwrap();
    let sent_pings = pings(&mut conn);
    assert_eq!(sent_pings.len(), 1);
    // The ACK deadline, then the next keepalive.
    assert_eq!(conn.poll_timeout(), Some(at(320)));
    // An ACK with another payload is not ours.
    conn.recv(&frame(kind::PING, flag::ACK, 0, &[0xee; 8]))
        .unwrap();
    assert_eq!(conn.poll_timeout(), Some(at(320)));
    conn.recv(&frame(kind::PING, flag::ACK, 0, &sent_pings[0]))
        .unwrap();
    assert_eq!(conn.poll_timeout(), Some(at(600)));
    // The stream ends: no more pings.
    let mut end = frame(kind::HEADERS, flag::END_HEADERS, id, HEADERS_200);
    end.extend(frame(kind::DATA, flag::END_STREAM, id, &[]));
    conn.recv(&end).unwrap();
    assert_eq!(conn.poll_timeout(), None);
    conn.handle_timeout(at(600)).unwrap();
    assert!(pings(&mut conn).is_empty());
}

#[test]
fn an_unanswered_ping_kills_the_connection() {
    let mut conn = handshaken(Config::default());
    conn.send_request(REQUEST, b"").unwrap();
    conn.handle_timeout(at(360)).unwrap();
    assert_eq!(pings(&mut conn).len(), 1);
    assert_eq!(conn.poll_timeout(), Some(at(380)));
    assert_eq!(
        conn.handle_timeout(at(380)),
        Err(PeerError::PingTimeout.into())
    );
    assert_eq!(goaway_code(&mut conn), ErrorCode::NoError);
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn probes_respect_the_ping_rate_limit() {
    let mut conn = handshaken(Config::default());
    conn.send_request(REQUEST, b"").unwrap();
    sent(&mut conn);
    // The first probe goes out at once, with its own deadline.
    assert!(conn.ping(at(10), Duration::from_secs(2)));
    let first = pings(&mut conn);
    assert_eq!(first.len(), 1);
    assert_eq!(conn.poll_timeout(), Some(at(12)));
    // A second probe while one is in flight sends nothing and keeps the earlier deadline.
    assert!(conn.ping(at(11), Duration::from_secs(20)));
    assert!(pings(&mut conn).is_empty());
    assert_eq!(conn.poll_timeout(), Some(at(12)));
    conn.recv(&frame(kind::PING, flag::ACK, 0, &first[0]))
        .unwrap();
    // Answered: another PING within five minutes would be a strike.
    assert!(!conn.ping(at(309), Duration::from_secs(2)));
    assert!(pings(&mut conn).is_empty());
    assert!(conn.ping(at(310), Duration::from_secs(2)));
    let second = pings(&mut conn);
    assert_eq!(second.len(), 1);
    assert_ne!(first, second);
}

#[test]
fn the_server_stream_limit_is_reported() {
    let mut conn = Connection::new(Config::default(), T0);
    // SETTINGS_MAX_CONCURRENT_STREAMS = 1
    conn.recv(&frame(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 1]))
        .unwrap();
    assert!(conn.can_open_stream());
    let id = conn.send_request(REQUEST, b"").unwrap();
    assert!(!conn.can_open_stream());
    conn.recv(&frame(kind::RST_STREAM, 0, id, &u32s(0)))
        .unwrap();
    assert!(conn.can_open_stream());
}
