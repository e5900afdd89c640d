//! The session on a simulated clock, as quinn-proto tests its connections: a scripted agent
//! answers with frames built from grpc-go's recorded header blocks, time only moves when a
//! test moves it, and nothing sleeps. Covers backoff schedules, reopening after a stream
//! ends, stall detection, PING and handshake deadlines, the server's stream limit, GOAWAY,
//! and one-shot completion and retries.

use alloc::borrow::ToOwned;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use prost::Message;

use super::*;
use crate::config::{HookEvent, Restart};
use crate::grpc;
use crate::h2::frame::{Header, flag, kind};
use crate::h2::testutil::{frame, parse_frames};
use crate::health::WriteStatus;
use crate::jwt;
use crate::proto::{X509svid, X509svidResponse};
use crate::workload::ClientConfig;
use crate::x509;
use crate::x509::testpki::{self, cat, leaf_params, root, sign};

/// 2030-01-01T00:00:00Z.
const BASE_UNIX: i64 = 1_893_456_000;
const ID: &str = "spiffe://example.test/workload";
/// `:status 200`, `content-type: application/grpc` as grpc-go encodes them.
const HEADERS_200: &[u8] = &[
    0x88, 0x5f, 0x8b, 0x1d, 0x75, 0xd0, 0x62, 0x0d, 0x26, 0x3d, 0x4c, 0x4d, 0x65, 0x64,
];
/// `grpc-status: 0`, `grpc-message: ""` after HEADERS_200.
const TRAILERS_OK: &[u8] = &[
    0x40, 0x88, 0x9a, 0xca, 0xc8, 0xb2, 0x12, 0x34, 0xda, 0x8f, 0x01, 0x30, 0x40, 0x89, 0x9a, 0xca,
    0xc8, 0xb5, 0x25, 0x42, 0x07, 0x31, 0x7f, 0x00,
];
/// grpc-go's trailers-only PERMISSION_DENIED "no identity issued", first block on a
/// connection.
const DENIED: &[u8] = &[
    0x88, 0x5f, 0x8b, 0x1d, 0x75, 0xd0, 0x62, 0x0d, 0x26, 0x3d, 0x4c, 0x4d, 0x65, 0x64, 0x40, 0x88,
    0x9a, 0xca, 0xc8, 0xb2, 0x12, 0x34, 0xda, 0x8f, 0x01, 0x37, 0x40, 0x89, 0x9a, 0xca, 0xc8, 0xb5,
    0x25, 0x42, 0x07, 0x31, 0x7f, 0x8d, 0xa8, 0xea, 0x1a, 0x42, 0xd4, 0x93, 0x27, 0xd2, 0x86, 0x42,
    0x2d, 0x2c, 0x9f,
];

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// One X.509 message whose SVID expires `not_after` seconds after [`BASE_UNIX`].
fn x509_message(not_after: u64) -> Vec<u8> {
    x509_message_with(not_after, false)
}

/// As [`x509_message`]; with `foreign_bundle`, the bundle is another CA's, so the chain
/// does not verify.
fn x509_message_with(not_after: u64, foreign_bundle: bool) -> Vec<u8> {
    let ca = root("example.test");
    let key = testpki::p256();
    let mut params = leaf_params(ID);
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2030, 1, 1) + secs(not_after);
    let leaf = sign(&params, &key, &ca);
    let response = X509svidResponse {
        svids: vec![X509svid {
            spiffe_id: ID.into(),
            x509_svid: leaf.into(),
            x509_svid_key: key.serialize_der().into(),
            bundle: if foreign_bundle {
                root("example.test").der
            } else {
                cat(&[&ca.der])
            }
            .into(),
            hint: Default::default(),
        }],
        ..Default::default()
    };
    let mut body = Vec::new();
    grpc::encode_message(&mut body, &response.encode_to_vec());
    body
}

/// One X.509 message holding, from one CA, the default SVID (no hint) and one SVID per
/// (hint, seconds after [`BASE_UNIX`] it expires).
fn x509_message_hinted(default_not_after: u64, hinted: &[(&str, u64)]) -> Vec<u8> {
    let ca = root("example.test");
    let svid = |name: &str, hint: &str, not_after: u64| {
        let key = testpki::p256();
        let id = alloc::format!("spiffe://example.test/{name}");
        let mut params = leaf_params(&id);
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1) + secs(not_after);
        X509svid {
            spiffe_id: id,
            x509_svid: sign(&params, &key, &ca).into(),
            x509_svid_key: key.serialize_der().into(),
            bundle: cat(&[&ca.der]).into(),
            hint: hint.into(),
        }
    };
    let response = X509svidResponse {
        svids: core::iter::once(svid("workload", "", default_not_after))
            .chain(hinted.iter().map(|&(hint, n)| svid(hint, hint, n)))
            .collect(),
        ..Default::default()
    };
    let mut body = Vec::new();
    grpc::encode_message(&mut body, &response.encode_to_vec());
    body
}

/// Response headers and DATA frames of at most 16,384 bytes carrying `body` on `stream`.
fn reply(stream: StreamId, body: &[u8]) -> Vec<u8> {
    let mut bytes = frame(kind::HEADERS, flag::END_HEADERS, stream, HEADERS_200);
    for chunk in body.chunks(16_384) {
        bytes.extend(frame(kind::DATA, 0, stream, chunk));
    }
    bytes
}

/// A daemon-mode session writing the X.509 files only.
fn x509_only() -> SessionConfig {
    SessionConfig {
        client: ClientConfig::default(),
        one_shot: false,
        hint: String::new(),
        x509: Some(X509Options {
            verify: true,
            ..X509Options::default()
        }),
        jwt_bundle: None,
        jwt_svids: Vec::new(),
        pid_file: false,
        workload: false,
        restart: Restart::Never,
        wrap: false,
        timeout: None,
        notify: None,
        hooks: Vec::new(),
    }
}

/// What the driver saw, action by action.
#[derive(Default)]
struct Seen {
    dials: usize,
    disconnects: usize,
    /// The last bytes sent on connections before they were closed.
    goodbye: Vec<u8>,
    writes: Vec<i64>,
    /// The bundle map of each X.509 set written (empty: not in the set).
    x509_maps: Vec<Vec<u8>>,
    /// JWT bundle files written.
    jwt_bundles: Vec<Vec<u8>>,
    /// Bundle maps written with a JWT bundle file.
    bundle_maps: Vec<Vec<u8>>,
    /// JWT-SVID files written: entry, token, when.
    jwt_tokens: Vec<(usize, String, Instant)>,
    reports: Vec<Report>,
    /// Pid-file attempts, with the simulated time each was asked for.
    pid_attempts: Vec<(u32, Instant)>,
    /// What was asked of the `cmd` process: `start` or `signal`.
    workload: Vec<&'static str>,
    /// When each [`Action::StartWorkload`] was asked for.
    started_at: Vec<Instant>,
    /// When each `cmd` exit was reported.
    exited_at: Vec<Instant>,
    /// When each [`Action::KillWorkload`] was asked for.
    killed_at: Vec<Instant>,
    /// Hook runs asked for: hook, event, output, when.
    hook_runs: Vec<(usize, HookEvent, Subscription, Instant)>,
    /// Hook kills asked for: hook, when.
    hook_kills: Vec<(usize, Instant)>,
    /// Service-manager notifications, with the simulated time each was sent.
    notes: Vec<(Notify, Instant)>,
    exit: Option<Exit>,
}

/// A session, its simulated clocks, and a driver that performs every action at once.
struct Sim {
    session: Session,
    now: Instant,
    unix_now: UnixTime,
    write_ok: bool,
    pid_ok: bool,
    /// What the driver reports for an [`Action::StartWorkload`].
    start_pid: Option<u32>,
    seen: Seen,
}

impl Sim {
    fn new(one_shot: bool) -> Sim {
        Sim::with(SessionConfig {
            one_shot,
            ..x509_only()
        })
    }

    fn with(config: SessionConfig) -> Sim {
        let now = Instant::from_millis(1_000_000);
        let mut sim = Sim {
            session: Session::new(config, now),
            now,
            unix_now: UnixTime::from_secs(BASE_UNIX),
            write_ok: true,
            pid_ok: true,
            start_pid: Some(4242),
            seen: Seen::default(),
        };
        sim.pump();
        sim
    }

    /// Performs every pending action; [`Action::Exit`] must be the last.
    fn pump(&mut self) {
        while let Some(action) = self.session.poll_action() {
            assert!(self.seen.exit.is_none(), "{action:?} after Exit");
            match action {
                Action::Dial => self.seen.dials += 1,
                Action::Disconnect => {
                    self.seen.disconnects += 1;
                    self.session.poll_transmit(&mut self.seen.goodbye);
                }
                Action::WriteX509(rendered) => {
                    self.seen.writes.push(rendered.not_after - BASE_UNIX);
                    self.seen.x509_maps.push(rendered.bundle_map.clone());
                    let (now, unix, ok) = (self.now, self.unix_now, self.write_ok);
                    self.session.written(now, unix, Subscription::X509, ok);
                }
                Action::WriteJwtBundle { file, bundle_map } => {
                    self.seen.jwt_bundles.push(file);
                    self.seen.bundle_maps.extend(bundle_map);
                    let (now, unix, ok) = (self.now, self.unix_now, self.write_ok);
                    self.session
                        .written(now, unix, Subscription::JwtBundles, ok);
                }
                Action::WriteJwtSvid { index, token } => {
                    self.seen.jwt_tokens.push((index, token, self.now));
                    let (now, unix, ok) = (self.now, self.unix_now, self.write_ok);
                    self.session
                        .written(now, unix, Subscription::JwtSvid(index), ok);
                }
                Action::SignalPidFile { attempt } => {
                    self.seen.pid_attempts.push((attempt, self.now));
                    self.session.pid_signalled(self.now, self.pid_ok);
                }
                Action::StartWorkload => {
                    self.seen.workload.push("start");
                    self.seen.started_at.push(self.now);
                    self.session.workload_started(self.now, self.start_pid);
                }
                Action::SignalWorkload => self.seen.workload.push("signal"),
                Action::ForwardSignal(15) => self.seen.workload.push("forward SIGTERM"),
                Action::ForwardSignal(_) => self.seen.workload.push("forward"),
                Action::KillWorkload => {
                    self.seen.workload.push("kill");
                    self.seen.killed_at.push(self.now);
                }
                Action::RunHook { id, event, sub, .. } => {
                    self.seen.hook_runs.push((id, event, sub, self.now));
                }
                Action::KillHook { id } => self.seen.hook_kills.push((id, self.now)),
                Action::Notify(n) => self.seen.notes.push((n, self.now)),
                Action::Report(r) => self.seen.reports.push(r),
                Action::Exit(e) => self.seen.exit = Some(e),
            }
        }
    }

    /// Moves both clocks forward by `d`, firing every deadline on the way, in order.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self.session.poll_timeout().filter(|&t| t <= end);
            let to = next.unwrap_or(end);
            let step = to.saturating_duration_since(self.now);
            self.now = to;
            self.unix_now = self.unix_now + step;
            if next.is_none() {
                return;
            }
            self.session.handle_timeout(self.now, self.unix_now);
            self.pump();
        }
    }

    /// The dial succeeds and the agent completes the HTTP/2 handshake.
    fn connect(&mut self) {
        self.session.connected(self.now);
        self.pump();
        let mut hello = frame(kind::SETTINGS, 0, 0, &[]);
        hello.extend(frame(kind::SETTINGS, flag::ACK, 0, &[]));
        self.server(&hello);
    }

    fn server(&mut self, bytes: &[u8]) {
        self.session.recv(self.now, self.unix_now, bytes);
        self.pump();
    }

    /// Response headers and one X.509 message on `stream`.
    fn send_update(&mut self, stream: StreamId, not_after: u64, first: bool) {
        let message = x509_message(not_after);
        let bytes = if first {
            reply(stream, &message)
        } else {
            frame(kind::DATA, 0, stream, &message)
        };
        self.server(&bytes);
    }

    /// Every frame the session sent since the last call.
    fn sent(&mut self) -> Vec<(Header, Vec<u8>)> {
        let mut out = Vec::new();
        self.session.poll_transmit(&mut out);
        parse_frames(&out)
    }

    /// The streams on which a request went out since the last call to [`Sim::sent`].
    fn opened(&mut self) -> Vec<StreamId> {
        self.sent()
            .iter()
            .filter(|(h, _)| h.kind == kind::HEADERS)
            .map(|(h, _)| h.stream)
            .collect()
    }

    fn take_reports(&mut self) -> Vec<Report> {
        core::mem::take(&mut self.seen.reports)
    }
}

/// The frames of kind `k` (PING ACKs left out), as (stream, payload).
fn is(frames: &[(Header, Vec<u8>)], k: u8) -> Vec<(u32, Vec<u8>)> {
    frames
        .iter()
        .filter(|(h, _)| h.kind == k && !(k == kind::PING && h.flags & flag::ACK != 0))
        .map(|(h, p)| (h.stream, p.clone()))
        .collect()
}

fn status(code: Code, message: &str) -> Status {
    Status::new(code, message)
}

#[test]
fn dials_opens_the_watch_and_writes_each_update() {
    let mut sim = Sim::new(false);
    assert_eq!(sim.seen.dials, 1);
    assert_eq!(sim.session.poll_timeout(), None);
    sim.connect();
    assert_eq!(sim.opened(), [1]);
    sim.send_update(1, 3600, true);
    sim.send_update(1, 7200, false);
    assert_eq!(sim.seen.writes, [3600, 7200]);
    assert!(sim.take_reports().is_empty());
    assert_eq!(sim.seen.exit, None);
}

#[test]
fn a_closed_watch_is_reopened_on_go_spiffes_linear_schedule() {
    let mut sim = Sim::new(false);
    sim.connect();
    let mut stream = sim.opened()[0];
    for wait in [1, 2, 3] {
        sim.server(&frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            stream,
            DENIED,
        ));
        assert_eq!(
            sim.take_reports(),
            [Report::CallFailed {
                sub: Subscription::X509,
                status: status(Code::PermissionDenied, "no identity issued"),
                retry_in: secs(wait),
            }]
        );
        sim.advance(secs(wait) - Duration::from_millis(1));
        assert_eq!(sim.opened(), [0u32; 0]);
        sim.advance(Duration::from_millis(1));
        let opened = sim.opened();
        assert_eq!(opened.len(), 1);
        stream = opened[0];
    }
    // A message resets the schedule; a clean end of the stream is retried after 1 s.
    sim.send_update(stream, 3600, true);
    sim.server(&frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        stream,
        TRAILERS_OK,
    ));
    assert_eq!(
        sim.take_reports(),
        [Report::CallFailed {
            sub: Subscription::X509,
            status: status(Code::Ok, ""),
            retry_in: secs(1),
        }]
    );
    sim.advance(secs(1));
    assert_eq!(sim.opened().len(), 1);
    assert_eq!(sim.seen.dials, 1, "all on one connection");
}

#[test]
fn invalid_argument_is_fatal() {
    let mut sim = Sim::new(false);
    sim.connect();
    // HEADERS 200 + grpc-status 3 (trailers-only), literal fields.
    let mut block = HEADERS_200.to_vec();
    crate::hpack::encode_field(&mut block, b"grpc-status", b"3");
    sim.server(&frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        1,
        &block,
    ));
    assert_eq!(
        sim.seen.exit,
        Some(Exit::Fatal(Fatal::Status {
            sub: Subscription::X509,
            status: status(Code::InvalidArgument, "")
        }))
    );
    assert_eq!(sim.session.poll_timeout(), None);
}

#[test]
fn a_lost_connection_is_redialled_with_backoff_and_the_watch_reopened() {
    let mut sim = Sim::new(false);
    sim.connect();
    sim.opened();
    sim.session.connection_lost(sim.now);
    sim.session.connection_lost(sim.now); // the re-dial failed too
    sim.pump();
    assert_eq!(sim.seen.dials, 1);
    sim.advance(secs(2) - Duration::from_millis(1));
    assert_eq!(sim.seen.dials, 1);
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.seen.dials, 2);
    sim.connect();
    assert_eq!(sim.opened(), [1], "a new connection starts at stream 1");
}

#[test]
fn an_agent_that_never_speaks_is_dropped_after_the_handshake_timeout() {
    let mut sim = Sim::new(false);
    sim.session.connected(sim.now);
    sim.pump();
    sim.advance(secs(20) - Duration::from_millis(1));
    assert_eq!(sim.seen.disconnects, 0);
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.seen.disconnects, 1);
    assert_eq!(
        sim.take_reports(),
        [Report::ConnectionFailed(h2::Error::Peer(
            h2::PeerError::HandshakeTimeout {
                server_settings: false
            }
        ))]
    );
    // GOAWAY(SETTINGS_TIMEOUT) went out before the close; re-dialled after 1 s.
    let goaway = is(&parse_frames(&sim.seen.goodbye), kind::GOAWAY);
    assert_eq!(goaway[0].1[4..8], 4u32.to_be_bytes());
    sim.advance(secs(1));
    assert_eq!(sim.seen.dials, 2);
}

#[test]
fn keepalive_pings_every_six_minutes_and_a_missed_ack_redials_at_once() {
    let mut sim = Sim::new(false);
    sim.connect();
    sim.send_update(1, 86_400, true);
    sim.sent();
    sim.advance(secs(360));
    let pings = is(&sim.sent(), kind::PING);
    assert_eq!(pings.len(), 1);
    sim.server(&frame(kind::PING, flag::ACK, 0, &pings[0].1));
    sim.advance(secs(360));
    assert_eq!(is(&sim.sent(), kind::PING).len(), 1);
    assert_eq!(sim.seen.disconnects, 0);
    sim.advance(secs(20));
    assert_eq!(sim.seen.disconnects, 1);
    assert_eq!(
        sim.take_reports(),
        [Report::ConnectionFailed(h2::PeerError::PingTimeout.into())]
    );
    assert_eq!(sim.seen.dials, 2, "re-dialled without waiting");
}

#[test]
fn a_stalled_watch_is_probed_reopened_then_redialled() {
    let mut sim = Sim::new(false);
    sim.connect();
    // An SVID with 80 s to live: silence is a stall after 60 s.
    sim.send_update(1, 80, true);
    sim.sent();
    sim.advance(secs(60) - Duration::from_millis(1));
    assert_eq!(sim.take_reports(), []);
    sim.advance(Duration::from_millis(1));
    assert_eq!(
        sim.take_reports(),
        [Report::Stalled {
            sub: Subscription::X509,
            silent_for: secs(60),
            expires_in_ms: 20_000,
            remedy: Remedy::Reopen,
        }]
    );
    let frames = sim.sent();
    let ping = is(&frames, kind::PING);
    assert_eq!(ping.len(), 1);
    assert_eq!(
        is(&frames, kind::RST_STREAM),
        [(1, 8u32.to_be_bytes().to_vec())]
    );
    assert_eq!(is(&frames, kind::HEADERS)[0].0, 3);
    // The transport answers, but the new call stays silent too: 3/4 of the 20 s left.
    sim.server(&frame(kind::PING, flag::ACK, 0, &ping[0].1));
    sim.advance(secs(15));
    assert_eq!(
        sim.take_reports(),
        [Report::Stalled {
            sub: Subscription::X509,
            silent_for: secs(75),
            expires_in_ms: 5_000,
            remedy: Remedy::Redial,
        }]
    );
    assert_eq!((sim.seen.disconnects, sim.seen.dials), (1, 2));
    // The new connection delivers a fresh SVID: the watch starts over from it.
    sim.connect();
    assert_eq!(sim.opened(), [1]);
    sim.send_update(1, 3600, true);
    assert_eq!(sim.seen.writes, [80, 3600]);
    // Quiet but alive (keepalive PINGs answered) until 3/4 of its hour has passed.
    for _ in 0..7 {
        sim.advance(secs(360));
        for (_, ping) in is(&sim.sent(), kind::PING) {
            sim.server(&frame(kind::PING, flag::ACK, 0, &ping));
        }
    }
    assert_eq!(sim.take_reports(), []);
    sim.advance(secs(2700 - 7 * 360));
    assert!(matches!(
        sim.take_reports()[..],
        [Report::Stalled {
            remedy: Remedy::Reopen,
            ..
        }]
    ));
}

#[test]
fn a_stall_probe_without_ack_redials_before_expiry() {
    let mut sim = Sim::new(false);
    sim.connect();
    sim.send_update(1, 6, true);
    sim.sent();
    // Stall at 4.5 s; the PING must be answered within 1/8 of the 1.5 s left (250 ms floor).
    sim.advance(Duration::from_millis(4500));
    assert_eq!(is(&sim.sent(), kind::PING).len(), 1);
    sim.advance(Duration::from_millis(250));
    assert_eq!(
        sim.take_reports()[1..],
        [Report::ConnectionFailed(h2::PeerError::PingTimeout.into())]
    );
    assert_eq!(sim.seen.dials, 2);
    assert!(
        sim.unix_now < UnixTime::from_secs(BASE_UNIX + 6),
        "re-dialled before expiry"
    );
}

#[test]
fn the_same_expired_svid_again_is_not_asked_for_in_a_tight_loop() {
    // Verification would refuse an expired SVID: this is `skip_svid_verification = true`.
    let mut sim = Sim::with(SessionConfig {
        x509: Some(X509Options::default()),
        ..x509_only()
    });
    sim.connect();
    sim.send_update(1, 0, true); // expires now
    sim.sent();
    let mut gaps = Vec::new();
    for _ in 0..6 {
        let next = sim.session.poll_timeout().unwrap();
        gaps.push(next.saturating_duration_since(sim.now).as_secs());
        sim.advance(next.saturating_duration_since(sim.now));
        let frames = sim.sent();
        for (_, ping) in is(&frames, kind::PING) {
            sim.server(&frame(kind::PING, flag::ACK, 0, &ping));
        }
        // The agent has nothing newer: it sends the same SVID on the reopened call.
        let stream = is(&frames, kind::HEADERS)[0].0;
        sim.send_update(stream, 0, true);
    }
    assert_eq!(gaps, [1, 1, 2, 3, 4, 5]);
    assert_eq!(sim.seen.writes.len(), 7);
    assert_eq!(sim.seen.dials, 1);
}

#[test]
fn a_server_stream_limit_queues_the_watch() {
    let mut sim = Sim::new(false);
    sim.connect();
    assert_eq!(sim.opened(), [1]);
    // SETTINGS_MAX_CONCURRENT_STREAMS = 1 counts the open watch: nothing else could open.
    sim.server(&frame(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 1]));
    sim.server(&frame(kind::RST_STREAM, 0, 1, &7u32.to_be_bytes())); // REFUSED_STREAM
    sim.server(&frame(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 0]));
    sim.advance(secs(1));
    assert_eq!(sim.opened(), [0u32; 0], "queued while the limit is 0");
    sim.server(&frame(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 1]));
    assert_eq!(sim.opened(), [3]);
}

#[test]
fn goaway_then_a_closed_watch_moves_to_a_new_connection() {
    let mut sim = Sim::new(false);
    sim.connect();
    sim.send_update(1, 3600, true);
    sim.sent();
    // GOAWAY(NO_ERROR) with last stream 1: the watch may finish, then ends cleanly.
    let mut goaway = 1u32.to_be_bytes().to_vec();
    goaway.extend(0u32.to_be_bytes());
    sim.server(&frame(kind::GOAWAY, 0, 0, &goaway));
    assert_eq!(sim.seen.disconnects, 0);
    sim.server(&frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        1,
        TRAILERS_OK,
    ));
    assert_eq!(sim.seen.disconnects, 1);
    // One report: the call's end; the connection is dropped without a second line.
    assert!(matches!(
        sim.take_reports()[..],
        [Report::CallFailed { .. }]
    ));
    sim.advance(secs(1));
    assert_eq!(sim.seen.dials, 2);
    sim.connect();
    sim.advance(secs(1));
    assert_eq!(sim.opened(), [1]);
}

#[test]
fn a_protocol_error_keeps_the_update_before_it_and_redials() {
    let mut sim = Sim::new(false);
    sim.connect();
    let mut bytes = reply(1, &x509_message(3600));
    bytes.extend(frame(kind::DATA, 0, 2, b"even stream")); // idle stream: PROTOCOL_ERROR
    sim.server(&bytes);
    assert_eq!(sim.seen.writes, [3600]);
    assert_eq!(sim.seen.disconnects, 1);
    assert!(matches!(
        sim.take_reports()[..],
        [Report::ConnectionFailed(h2::Error::Peer(
            h2::PeerError::IdleStream { .. }
        ))]
    ));
}

#[test]
fn one_shot_writes_once_cancels_and_exits() {
    let mut sim = Sim::new(true);
    sim.connect();
    sim.send_update(1, 3600, true);
    assert_eq!(sim.seen.writes, [3600]);
    assert_eq!(sim.seen.exit, Some(Exit::Done));
    assert_eq!(
        is(&sim.sent(), kind::RST_STREAM),
        [(1, 8u32.to_be_bytes().to_vec())]
    );
    assert_eq!(sim.session.poll_timeout(), None);
}

/// Found by the `workload_session` fuzz target: a connection error in the same read as the
/// message that ended the run was reported after the Exit.
#[test]
fn one_shot_says_nothing_after_its_exit() {
    let mut sim = Sim::new(true);
    sim.connect();
    let mut bytes = reply(1, &x509_message_with(3600, true));
    bytes.extend(frame(kind::DATA, 0, 2, b"even stream")); // idle stream: PROTOCOL_ERROR
    sim.server(&bytes);
    assert!(matches!(
        sim.seen.exit,
        Some(Exit::Fatal(Fatal::Rejected(_)))
    ));
    assert_eq!(sim.seen.disconnects, 0);
    assert_eq!(sim.take_reports(), []);
    sim.session.connection_lost(sim.now);
    sim.server(b"more");
    sim.advance(secs(3600));
    assert_eq!(sim.session.poll_timeout(), None);
}

#[test]
fn one_shot_retries_on_upstreams_schedule_then_gives_up() {
    let mut sim = Sim::new(true);
    sim.connect();
    let mut delays = Vec::new();
    loop {
        let stream = sim.opened()[0];
        sim.server(&frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            stream,
            DENIED,
        ));
        if sim.seen.exit.is_some() {
            break;
        }
        let Some(Report::Retrying {
            sub: Some(Subscription::X509),
            attempt,
            delay,
            after: Failure::Status(s),
        }) = sim.take_reports().pop()
        else {
            panic!("expected a retry");
        };
        assert_eq!(s.code, Code::PermissionDenied);
        assert_eq!(attempt as usize, delays.len() + 1);
        delays.push(delay.as_millis());
        sim.advance(delay);
    }
    assert_eq!(
        delays,
        [10, 50, 250, 1250, 6250, 31250, 156_250, 781_250, 3_906_250]
    );
    assert_eq!(
        sim.seen.exit,
        Some(Exit::Fatal(Fatal::RetriesExhausted(Failure::Status(
            status(Code::PermissionDenied, "no identity issued")
        ))))
    );
}

#[test]
fn one_shot_retries_an_unreachable_agent_and_a_failed_write_is_fatal() {
    let mut sim = Sim::new(true);
    sim.session.connection_lost(sim.now);
    sim.pump();
    assert_eq!(
        sim.take_reports(),
        [Report::Retrying {
            sub: None,
            attempt: 1,
            delay: Duration::from_millis(10),
            after: Failure::Connection
        }]
    );
    sim.advance(Duration::from_millis(10));
    assert_eq!(sim.seen.dials, 2);
    sim.connect();
    sim.write_ok = false;
    sim.send_update(1, 3600, true);
    assert_eq!(
        sim.seen.exit,
        Some(Exit::Fatal(Fatal::WriteFailed(Subscription::X509)))
    );
}

#[test]
fn a_failed_write_keeps_watching_the_svid_on_disk() {
    let mut sim = Sim::new(false);
    sim.connect();
    sim.send_update(1, 80, true);
    sim.write_ok = false;
    sim.send_update(1, 3600, false);
    assert_eq!(sim.seen.exit, None);
    // The stall deadline still follows the 80 s SVID that is on disk.
    sim.advance(secs(60));
    assert!(matches!(
        sim.take_reports()[..],
        [Report::Stalled {
            remedy: Remedy::Reopen,
            ..
        }]
    ));
}

#[test]
fn the_pid_file_is_retried_on_upstreams_schedule_without_blocking_updates() {
    let mut sim = Sim::with(SessionConfig {
        pid_file: true,
        ..x509_only()
    });
    sim.connect();
    sim.pid_ok = false;
    sim.send_update(1, 86_400, true);
    let start = sim.now;
    sim.advance(Duration::from_millis(700));
    let offsets = |sim: &Sim| -> Vec<(u32, u64)> {
        sim.seen
            .pid_attempts
            .iter()
            .map(|&(a, t)| (a, t.saturating_duration_since(start).as_millis() as u64))
            .collect()
    };
    assert_eq!(offsets(&sim), [(1, 0), (2, 100), (3, 300), (4, 700)]);
    // An update meanwhile is written at once, and starts a fresh run of attempts.
    sim.seen.pid_attempts.clear();
    let restart = sim.now;
    sim.send_update(1, 86_400, false);
    assert_eq!(sim.seen.writes.len(), 2);
    sim.advance(secs(60));
    let attempts: Vec<u32> = sim.seen.pid_attempts.iter().map(|a| a.0).collect();
    assert_eq!(attempts, (1..=10).collect::<Vec<_>>());
    let last = sim.seen.pid_attempts.last().unwrap().1;
    assert_eq!(
        last.saturating_duration_since(restart),
        Duration::from_millis(51_100)
    );
    assert_eq!(sim.take_reports(), [Report::PidFileGaveUp { attempts: 10 }]);
    // Success ends a run at once.
    sim.pid_ok = true;
    sim.seen.pid_attempts.clear();
    sim.send_update(1, 86_400, false);
    sim.advance(secs(60));
    assert_eq!(sim.seen.pid_attempts.len(), 1);
}

/// The JWKS and an ES256 token (sub `spiffe://example.org/workload`, aud `svc`, exp 300 s
/// after [`JWT_NOW`]) signed by Python `cryptography`, from the jwt module's test data.
const JWKS: &[u8] = include_bytes!("../../testdata/jwt-bundle.json");
const JWT_NOW: i64 = 1_800_000_000;

fn es256_token() -> String {
    let tokens = include_str!("../../testdata/jwt-tokens.txt");
    let line = tokens.lines().find(|l| l.starts_with("ES256 ")).unwrap();
    line["ES256 ".len()..].to_owned()
}

/// The JWT outputs' paths in [`jwt_config`], which key their health entries.
const BUNDLE_FILE: &str = "certs/jwt_bundle.json";
const TOKEN_FILE: &str = "certs/jwt_svid.token";

fn jwt_config(audience: &str) -> SessionConfig {
    SessionConfig {
        jwt_bundle: Some(BUNDLE_FILE.into()),
        jwt_svids: vec![JwtSvidOptions {
            audience: audience.into(),
            extra_audiences: vec!["extra".into()],
            path: TOKEN_FILE.into(),
        }],
        ..x509_only()
    }
}

fn bundles_message() -> Vec<u8> {
    bundles_message_of(&[("spiffe://example.org", JWKS)])
}

/// A FetchJWTBundles message mapping each trust-domain ID to its JWKS.
fn bundles_message_of(bundles: &[(&str, &[u8])]) -> Vec<u8> {
    let response = crate::proto::JwtBundlesResponse {
        bundles: bundles
            .iter()
            .map(|(td, jwks)| ((*td).to_owned(), jwks.to_vec()))
            .collect(),
    };
    let mut body = Vec::new();
    grpc::encode_message(&mut body, &response.encode_to_vec());
    body
}

/// A whole unary FetchJWTSVID response on `stream` for `spiffe://example.org/workload`:
/// headers, the message, OK trailers.
fn jwt_svid_response(stream: StreamId, token: &str) -> Vec<u8> {
    jwt_svid_response_for(stream, token, "spiffe://example.org/workload")
}

/// As [`jwt_svid_response`], with `spiffe_id` as the response's SPIFFE ID of the token.
fn jwt_svid_response_for(stream: StreamId, token: &str, spiffe_id: &str) -> Vec<u8> {
    let response = crate::proto::JwtsvidResponse {
        svids: vec![crate::proto::Jwtsvid {
            spiffe_id: spiffe_id.into(),
            svid: token.into(),
            hint: String::new(),
        }],
    };
    let mut body = Vec::new();
    grpc::encode_message(&mut body, &response.encode_to_vec());
    let mut bytes = reply(stream, &body);
    bytes.extend(frame(
        kind::HEADERS,
        flag::END_HEADERS | flag::END_STREAM,
        stream,
        TRAILERS_OK,
    ));
    bytes
}

#[test]
fn every_subscription_shares_one_connection_and_tokens_refresh_on_their_own_clock() {
    let mut sim = Sim::with(jwt_config("svc"));
    sim.unix_now = UnixTime::from_secs(JWT_NOW);
    sim.connect();
    // The X.509 watch and the bundle watch open at once; the token waits for the bundle.
    assert_eq!(sim.opened(), [1, 3]);
    sim.send_update(1, 3600 * 24 * 365 * 4, true);
    sim.server(&reply(3, &bundles_message()));
    assert_eq!(sim.seen.jwt_bundles.len(), 1);
    assert!(sim.seen.jwt_bundles[0].starts_with(br#"{"example.org":""#));
    let frames = sim.sent();
    let requests = is(&frames, kind::HEADERS);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0, 5);
    // The request asks for both audiences.
    let data = is(&frames, kind::DATA);
    let request = crate::proto::JwtsvidRequest::decode(&data[0].1[5..]).unwrap();
    assert_eq!(request.audience, ["svc", "extra"]);

    let token = es256_token();
    sim.server(&jwt_svid_response(5, &token));
    assert_eq!(sim.seen.jwt_tokens.len(), 1);
    assert_eq!(sim.seen.jwt_tokens[0].1, token);
    assert_eq!(sim.take_reports(), []);
    // 300 s left: refreshed after 151 s, on the same connection.
    sim.advance(secs(151) - Duration::from_millis(1));
    assert_eq!(sim.opened(), [0u32; 0]);
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.opened(), [7]);
    assert_eq!(sim.seen.dials, 1);
    assert!(!sim.session.files_expired(sim.unix_now));
    // The agent hands back the same token, now with 149 s left: next refresh in 75.5 s.
    sim.server(&jwt_svid_response(7, &token));
    sim.advance(Duration::from_millis(75_499));
    assert_eq!(sim.opened(), [0u32; 0]);
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.opened(), [9]);
    assert_eq!(sim.take_reports(), []);
}

#[test]
fn a_token_that_fails_verification_is_not_written_and_retried_on_upstreams_backoff() {
    let mut sim = Sim::with(jwt_config("another-audience"));
    sim.unix_now = UnixTime::from_secs(JWT_NOW);
    sim.connect();
    sim.server(&reply(3, &bundles_message()));
    sim.sent();
    let token = es256_token();
    let mut stream = 5;
    for wait in [1, 2, 4] {
        sim.server(&jwt_svid_response(stream, &token));
        let reports = sim.take_reports();
        assert!(
            matches!(
                &reports[..],
                [Report::JwtRejected {
                    sub: Subscription::JwtSvid(0),
                    error: JwtRejection::Invalid(jwt::VerifyError::WrongAudience { .. }),
                    retry_in: Some(d),
                }] if *d == secs(wait)
            ),
            "{reports:?}"
        );
        sim.advance(secs(wait));
        stream = sim.opened()[0];
    }
    assert!(sim.seen.jwt_tokens.is_empty());
    // A refused token counts as a failed write of its file, for the health endpoints.
    let health = sim.session.health(sim.now, sim.unix_now);
    assert_eq!(health.jwt.get(TOKEN_FILE), Some(&WriteStatus::Failed));
    assert_eq!(health.jwt.get(BUNDLE_FILE), Some(&WriteStatus::Written));
    assert!(!health.is_live());
}

#[test]
fn an_expired_token_on_disk_is_reported_and_refreshed_no_sooner_than_a_second() {
    let mut sim = Sim::with(jwt_config("svc"));
    // 20 s past the token's exp, still inside the one-minute leeway.
    sim.unix_now = UnixTime::from_secs(JWT_NOW + 320);
    sim.connect();
    sim.server(&reply(3, &bundles_message()));
    sim.sent();
    sim.server(&jwt_svid_response(5, &es256_token()));
    assert_eq!(sim.seen.jwt_tokens.len(), 1);
    assert!(sim.session.files_expired(sim.unix_now));
    sim.advance(Duration::from_millis(999));
    assert_eq!(sim.opened(), [0u32; 0]);
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.opened(), [7]);
}

#[test]
fn an_svid_that_fails_verification_is_not_written() {
    let mut sim = Sim::new(false);
    sim.connect();
    sim.server(&reply(1, &x509_message_with(3600, true)));
    assert!(sim.seen.writes.is_empty());
    assert!(matches!(
        sim.take_reports()[..],
        [Report::Rejected(x509::VerifyError::Chain(_))]
    ));
    // The next good one is written; the watch never stopped.
    sim.send_update(1, 3600, false);
    assert_eq!(sim.seen.writes, [3600]);
}

fn with_cmd(one_shot: bool) -> Sim {
    Sim::with(SessionConfig {
        one_shot,
        workload: true,
        pid_file: true,
        ..x509_only()
    })
}

#[test]
fn cmd_starts_after_the_first_write_and_is_signalled_on_later_ones() {
    let mut sim = with_cmd(false);
    sim.connect();
    assert_eq!(sim.seen.workload, [""; 0], "nothing before a write");
    sim.send_update(1, 3600, true);
    assert_eq!(sim.seen.writes, [3600]);
    assert_eq!(sim.seen.workload, ["start"]);
    assert_eq!(sim.seen.pid_attempts.len(), 1);
    sim.send_update(1, 7200, false);
    sim.send_update(1, 9000, false);
    assert_eq!(sim.seen.workload, ["start", "signal", "signal"]);
    assert_eq!(sim.take_reports(), []);
}

#[test]
fn an_exited_cmd_is_reported_and_started_again_at_the_next_write() {
    let mut sim = with_cmd(false);
    sim.connect();
    sim.send_update(1, 3600, true);
    sim.session.workload_exited(sim.now, ProcessStatus::Code(3));
    sim.pump();
    assert_eq!(
        sim.take_reports(),
        [Report::WorkloadExited {
            pid: 4242,
            status: ProcessStatus::Code(3)
        }]
    );
    // As upstream (`signalProcess`, `pkg/sidecar/sidecar.go@v0.11.0`): not restarted before
    // the next renewal.
    sim.advance(secs(60));
    assert_eq!(sim.seen.workload, ["start"]);
    // An exit reported twice, or of a process the session did not start, says nothing.
    sim.session
        .workload_exited(sim.now, ProcessStatus::Signal(9));
    sim.pump();
    assert_eq!(sim.take_reports(), []);
    sim.send_update(1, 7200, false);
    assert_eq!(sim.seen.workload, ["start", "start"]);
    sim.send_update(1, 9000, false);
    assert_eq!(sim.seen.workload, ["start", "start", "signal"]);
}

#[test]
fn a_cmd_that_could_not_start_is_tried_again_at_the_next_write() {
    let mut sim = with_cmd(false);
    sim.start_pid = None;
    sim.connect();
    sim.send_update(1, 3600, true);
    sim.start_pid = Some(7);
    sim.send_update(1, 7200, false);
    sim.send_update(1, 9000, false);
    assert_eq!(sim.seen.workload, ["start", "start", "signal"]);
}

#[test]
fn a_failed_or_refused_update_neither_starts_nor_signals_the_cmd() {
    let mut sim = with_cmd(false);
    sim.connect();
    sim.write_ok = false;
    sim.send_update(1, 3600, true);
    sim.write_ok = true;
    sim.server(&frame(kind::DATA, 0, 1, &x509_message_with(3600, true)));
    assert_eq!(sim.seen.workload, [""; 0]);
    assert!(sim.seen.pid_attempts.is_empty());
}

#[test]
fn one_shot_never_starts_or_signals_the_cmd() {
    let mut sim = with_cmd(true);
    sim.connect();
    sim.send_update(1, 3600, true);
    assert_eq!(sim.seen.exit, Some(Exit::Done));
    assert_eq!(sim.seen.workload, [""; 0]);
    assert!(sim.seen.pid_attempts.is_empty());
}

/// A daemon with `start { restart = policy }`, its `cmd` started by a first X.509 write.
fn restarting(policy: Restart) -> Sim {
    let mut sim = Sim::with(SessionConfig {
        workload: true,
        restart: policy,
        ..x509_only()
    });
    sim.connect();
    sim.send_update(1, 3600, true);
    assert_eq!(sim.seen.workload, ["start"]);
    sim
}

impl Sim {
    /// `cmd` exits with `status` once it has run for `uptime` (after its pending restart).
    fn cmd_exits_after(&mut self, uptime: Duration, status: ProcessStatus) {
        while self.seen.started_at.len() <= self.seen.exited_at.len() {
            let at = self.session.poll_timeout().expect("a restart pending");
            self.advance(at.saturating_duration_since(self.now));
        }
        let started = self.seen.started_at[self.seen.started_at.len() - 1];
        self.advance((started + uptime).saturating_duration_since(self.now));
        self.seen.exited_at.push(self.now);
        self.session.workload_exited(self.now, status);
        self.pump();
    }

    /// The time from each exit to the next start, in milliseconds.
    fn restart_delays(&self) -> Vec<u64> {
        let starts = self.seen.started_at.iter().skip(1);
        let exits = self.seen.exited_at.iter();
        exits
            .zip(starts)
            .map(|(exit, start)| start.saturating_duration_since(*exit).as_millis() as u64)
            .collect()
    }
}

#[test]
fn restart_always_backs_off_from_1s_doubling_to_60s() {
    let mut sim = restarting(Restart::Always);
    for _ in 0..9 {
        // Up 59 s at most: short of the 60 s that reset the backoff.
        sim.cmd_exits_after(secs(59), ProcessStatus::Code(0));
    }
    sim.advance(secs(60));
    let ms = |s: &[u64]| s.iter().map(|s| s * 1000).collect::<Vec<_>>();
    assert_eq!(sim.restart_delays(), ms(&[1, 2, 4, 8, 16, 32, 60, 60, 60]));
    let reports = sim.take_reports();
    let restarts = reports
        .iter()
        .filter(|r| matches!(r, Report::WorkloadRestarting { .. }))
        .collect::<Vec<_>>();
    assert_eq!(restarts.len(), 9);
    assert_eq!(
        *restarts[2],
        Report::WorkloadRestarting {
            pid: Some(4242),
            status: Some(ProcessStatus::Code(0)),
            delay: secs(4)
        }
    );
    // Nothing is started before the backoff passes, not even by an update.
    sim.cmd_exits_after(secs(1), ProcessStatus::Signal(9));
    sim.send_update(1, 7200, false);
    sim.advance(Duration::from_millis(59_999));
    assert_eq!(sim.seen.workload.len(), 10);
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.seen.workload.len(), 11);
}

#[test]
fn a_run_of_60s_resets_the_restart_backoff() {
    let mut sim = restarting(Restart::Always);
    let failed = ProcessStatus::Code(1);
    sim.cmd_exits_after(secs(0), failed);
    sim.cmd_exits_after(secs(0), failed);
    // Up 59.999 s: the backoff keeps growing.
    sim.cmd_exits_after(Duration::from_millis(59_999), failed);
    // Up 60 s: back to 1 s.
    sim.cmd_exits_after(secs(60), failed);
    sim.cmd_exits_after(secs(0), failed);
    sim.advance(secs(10));
    assert_eq!(sim.restart_delays(), [1000, 2000, 4000, 1000, 2000]);
}

#[test]
fn restart_on_failure_restarts_a_failure_but_not_a_clean_exit() {
    let mut sim = restarting(Restart::OnFailure);
    sim.cmd_exits_after(secs(0), ProcessStatus::Signal(9));
    sim.cmd_exits_after(secs(0), ProcessStatus::Code(3));
    sim.cmd_exits_after(secs(0), ProcessStatus::Code(0));
    assert_eq!(sim.seen.workload, ["start", "start", "start"]);
    assert_eq!(
        sim.take_reports().last(),
        Some(&Report::WorkloadExited {
            pid: 4242,
            status: ProcessStatus::Code(0)
        })
    );
    // Done for good: no timer, and later updates neither start nor signal it.
    sim.advance(secs(600));
    sim.send_update(1, 7200, false);
    assert_eq!(sim.seen.workload, ["start", "start", "start"]);
}

#[test]
fn a_cmd_that_could_not_start_is_retried_with_the_backoff_under_a_policy() {
    let mut sim = restarting(Restart::OnFailure);
    sim.start_pid = None;
    sim.cmd_exits_after(secs(0), ProcessStatus::Code(2));
    sim.advance(secs(1 + 2 + 4));
    let starts = &sim.seen.started_at;
    let gaps = starts
        .windows(2)
        .map(|w| w[1].saturating_duration_since(w[0]));
    assert_eq!(gaps.collect::<Vec<_>>(), [secs(1), secs(2), secs(4)]);
    assert_eq!(
        sim.take_reports().last(),
        Some(&Report::WorkloadRestarting {
            pid: None,
            status: None,
            delay: secs(8)
        })
    );
}

#[test]
fn nothing_is_restarted_during_shutdown() {
    for policy in [Restart::Always, Restart::OnFailure] {
        let mut sim = restarting(policy);
        sim.session.stop(sim.now, 15);
        sim.pump();
        assert_eq!(sim.seen.workload, ["start", "forward SIGTERM"]);
        sim.session
            .workload_exited(sim.now, ProcessStatus::Signal(15));
        sim.pump();
        assert_eq!(sim.seen.exit, Some(Exit::Stopped { signal: 15 }));
        assert_eq!(sim.seen.workload, ["start", "forward SIGTERM"]);
        assert_eq!(sim.session.poll_timeout(), None);
    }
    // A restart pending when the stop arrives is dropped with the run.
    let mut sim = restarting(Restart::Always);
    sim.session.workload_exited(sim.now, ProcessStatus::Code(1));
    sim.session.stop(sim.now, 15);
    sim.pump();
    assert_eq!(sim.seen.exit, Some(Exit::Stopped { signal: 15 }), "at once");
    assert_eq!(sim.session.poll_timeout(), None);
    sim.session.handle_timeout(sim.now + secs(5), sim.unix_now);
    assert!(sim.session.poll_action().is_none());
}

#[test]
fn a_workload_that_exits_within_the_grace_is_not_killed() {
    let mut sim = restarting(Restart::Never);
    let stopped = sim.now;
    sim.session.stop(stopped, 15);
    sim.pump();
    assert_eq!(sim.seen.workload, ["start", "forward SIGTERM"]);
    assert_eq!(sim.seen.exit, None, "the run waits for cmd");
    // Updates during the grace are not written and signal nothing.
    sim.send_update(1, 7200, false);
    sim.advance(SHUTDOWN_GRACE - Duration::from_millis(1));
    assert_eq!(sim.seen.writes.len(), 1);
    sim.session.workload_exited(sim.now, ProcessStatus::Code(0));
    sim.pump();
    assert_eq!(sim.seen.exit, Some(Exit::Stopped { signal: 15 }));
    assert_eq!(sim.seen.workload, ["start", "forward SIGTERM"]);
    assert_eq!(sim.session.poll_timeout(), None);
}

#[test]
fn a_workload_still_running_after_the_grace_is_killed_at_exactly_10s() {
    let mut sim = restarting(Restart::Never);
    let stopped = sim.now;
    sim.session.stop(stopped, 15);
    sim.pump();
    assert_eq!(sim.session.poll_timeout(), Some(stopped + secs(10)));
    // A second SIGTERM during the grace starts no second grace and forwards nothing.
    sim.advance(secs(5));
    sim.session.stop(sim.now, 15);
    sim.pump();
    sim.advance(Duration::from_millis(4_999));
    assert_eq!(sim.seen.workload, ["start", "forward SIGTERM"]);
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.seen.workload, ["start", "forward SIGTERM", "kill"]);
    assert_eq!(sim.seen.killed_at, [stopped + SHUTDOWN_GRACE]);
    assert_eq!(sim.seen.exit, None);
    sim.session
        .workload_exited(sim.now, ProcessStatus::Signal(9));
    sim.pump();
    assert_eq!(sim.seen.exit, Some(Exit::Stopped { signal: 15 }));

    // An end never reported: the run ends KILL_WAIT after the kill anyway.
    let mut sim = restarting(Restart::Never);
    let stopped = sim.now;
    sim.session.stop(stopped, 2);
    sim.pump();
    sim.advance(SHUTDOWN_GRACE + KILL_WAIT - Duration::from_millis(1));
    assert_eq!(sim.seen.exit, None);
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.seen.exit, Some(Exit::Stopped { signal: 2 }));
    assert_eq!(sim.seen.workload, ["start", "forward", "kill"]);
}

#[test]
fn running_hooks_are_killed_at_shutdown_and_the_run_ends_with_them() {
    let mut sim = with_hooks(false);
    sim.send_update(1, 3600, true);
    sim.send_update(1, 7200, false);
    assert_eq!(
        sim.hooks_run(),
        [(0, Subscription::X509)],
        "one run, one queued"
    );
    sim.advance(secs(2));
    sim.session.stop(sim.now, 15);
    sim.pump();
    assert_eq!(sim.seen.hook_kills, [(0, sim.now)]);
    assert_eq!(sim.seen.exit, None);
    sim.hook_ends(0, Some(ProcessStatus::Signal(9)));
    assert_eq!(sim.seen.exit, Some(Exit::Stopped { signal: 15 }));
    assert_eq!(
        sim.hooks_run(),
        [(0, Subscription::X509)],
        "the queued run is dropped"
    );
}

/// A session with an X.509 hook (10 s timeout) and a JWT bundle hook.
fn with_hooks(one_shot: bool) -> Sim {
    let mut sim = Sim::with(SessionConfig {
        one_shot,
        hooks: vec![
            HookOptions {
                on: vec![HookEvent::X509],
                timeout: secs(10),
            },
            HookOptions {
                on: vec![HookEvent::JwtBundle],
                timeout: secs(10),
            },
        ],
        ..x509_only()
    });
    sim.connect();
    sim
}

impl Sim {
    /// Hook `id`'s run ends with `status`.
    fn hook_ends(&mut self, id: usize, status: Option<ProcessStatus>) {
        self.session.hook_finished(self.now, id, status);
        self.pump();
    }

    /// The hooks asked to run so far: hook and output.
    fn hooks_run(&self) -> Vec<(usize, Subscription)> {
        self.seen.hook_runs.iter().map(|r| (r.0, r.2)).collect()
    }
}

#[test]
fn a_hook_runs_after_its_output_is_written_and_a_busy_one_queues_exactly_one_more() {
    let mut sim = with_hooks(false);
    sim.write_ok = false;
    sim.send_update(1, 3600, true);
    assert_eq!(sim.hooks_run(), [], "no hook for a failed write");
    sim.write_ok = true;
    sim.send_update(1, 3700, false);
    assert_eq!(
        sim.seen.hook_runs,
        [(0, HookEvent::X509, Subscription::X509, sim.now)]
    );
    // Three updates during the run: one more run, after it.
    for not_after in [7200, 9000, 9900] {
        sim.send_update(1, not_after, false);
    }
    assert_eq!(sim.hooks_run(), [(0, Subscription::X509)]);
    sim.advance(secs(2));
    sim.hook_ends(0, Some(ProcessStatus::Code(0)));
    assert_eq!(
        sim.hooks_run(),
        [(0, Subscription::X509), (0, Subscription::X509)]
    );
    assert_eq!(sim.seen.hook_runs[1].3, sim.now, "at once");
    sim.hook_ends(0, Some(ProcessStatus::Code(0)));
    sim.advance(secs(60));
    assert_eq!(sim.hooks_run().len(), 2);
    assert!(sim.seen.hook_kills.is_empty());
    assert_eq!(
        sim.take_reports()
            .iter()
            .filter(|r| matches!(
                r,
                Report::HookFinished {
                    id: 0,
                    timed_out: false,
                    ..
                }
            ))
            .count(),
        2
    );
    // An end reported twice, or of a hook that does not run, says nothing.
    sim.hook_ends(0, Some(ProcessStatus::Code(0)));
    sim.hook_ends(7, Some(ProcessStatus::Code(0)));
    assert_eq!(sim.take_reports(), []);
}

#[test]
fn a_hook_past_its_timeout_is_killed_and_a_failing_hook_never_blocks_later_updates() {
    let mut sim = with_hooks(false);
    sim.send_update(1, 3600, true);
    let started = sim.now;
    sim.advance(Duration::from_millis(9_999));
    assert!(sim.seen.hook_kills.is_empty());
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.seen.hook_kills, [(0, started + secs(10))]);
    // Asked once, whatever the time until the end is reported.
    sim.advance(secs(30));
    assert_eq!(sim.seen.hook_kills.len(), 1);
    sim.hook_ends(0, Some(ProcessStatus::Signal(9)));
    assert_eq!(
        sim.take_reports()
            .into_iter()
            .filter(|r| matches!(r, Report::HookFinished { .. }))
            .collect::<Vec<_>>(),
        [Report::HookFinished {
            id: 0,
            event: HookEvent::X509,
            status: Some(ProcessStatus::Signal(9)),
            timed_out: true
        }]
    );
    // Failed, or not even started: the next update runs it again.
    sim.send_update(1, 7200, false);
    sim.hook_ends(0, Some(ProcessStatus::Code(1)));
    sim.send_update(1, 9000, false);
    sim.hook_ends(0, None);
    sim.send_update(1, 9900, false);
    assert_eq!(sim.hooks_run().len(), 4);
    assert_eq!(sim.seen.exit, None);
}

#[test]
fn one_shot_ends_once_its_hooks_have_run_and_exits_5_when_one_failed() {
    for (status, exit) in [
        (Some(ProcessStatus::Code(0)), Exit::Done),
        (Some(ProcessStatus::Code(2)), Exit::Fatal(Fatal::HookFailed)),
        (None, Exit::Fatal(Fatal::HookFailed)),
    ] {
        let mut sim = with_hooks(true);
        sim.send_update(1, 3600, true);
        assert_eq!(sim.hooks_run(), [(0, Subscription::X509)]);
        assert_eq!(sim.seen.exit, None, "waits for the hook");
        sim.hook_ends(0, status);
        assert_eq!(sim.seen.exit, Some(exit));
    }
    assert_eq!(Exit::Fatal(Fatal::HookFailed).code(true), EXIT_HOOK);
    assert_eq!(EXIT_HOOK, 5);
    // A hook killed at its timeout fails the run too.
    let mut sim = with_hooks(true);
    sim.send_update(1, 3600, true);
    sim.advance(secs(10));
    assert_eq!(sim.seen.hook_kills.len(), 1);
    sim.hook_ends(0, Some(ProcessStatus::Signal(9)));
    assert_eq!(sim.seen.exit, Some(Exit::Fatal(Fatal::HookFailed)));
}

/// Wrapper mode around a program, with X.509 files and a JWT bundle file.
fn wrapper() -> Sim {
    let mut sim = Sim::with(SessionConfig {
        workload: true,
        wrap: true,
        jwt_bundle: Some("bundle.json".into()),
        ..x509_only()
    });
    sim.connect();
    sim
}

#[test]
fn a_wrapper_starts_its_program_once_every_output_is_written_and_ends_with_it() {
    let mut sim = wrapper();
    let streams = sim.opened();
    sim.send_update(streams[0], 3600, true);
    assert_eq!(sim.seen.writes, [3600]);
    assert_eq!(
        sim.seen.workload, [""; 0],
        "the JWT bundle file is not written yet"
    );
    sim.server(&reply(streams[1], &bundles_message()));
    assert_eq!(sim.seen.jwt_bundles.len(), 1);
    assert_eq!(sim.seen.workload, ["start"]);
    // Rotations signal it as in daemon mode; SIGTERM goes to it, the run goes on.
    sim.send_update(streams[0], 7200, false);
    sim.session.stop(sim.now, 15);
    sim.pump();
    assert_eq!(sim.seen.workload, ["start", "signal", "forward SIGTERM"]);
    assert_eq!(sim.seen.exit, None);
    // Its end is the run's, with its status.
    sim.session
        .workload_exited(sim.now, ProcessStatus::Signal(15));
    sim.pump();
    assert_eq!(
        sim.seen.exit,
        Some(Exit::Wrapped(Some(ProcessStatus::Signal(15))))
    );
    assert_eq!(sim.seen.exit.as_ref().unwrap().code(false), 143);
    for (exit, code) in [
        (Exit::Wrapped(Some(ProcessStatus::Code(7))), 7),
        (Exit::Wrapped(Some(ProcessStatus::Code(0))), 0),
        (Exit::Wrapped(Some(ProcessStatus::Signal(9))), 137),
        (Exit::Wrapped(None), 127),
    ] {
        assert_eq!(exit.code(false), code);
    }
}

#[test]
fn a_wrapper_stopped_before_its_program_runs_ends_and_one_that_cannot_start_exits_127() {
    let mut sim = wrapper();
    sim.session.stop(sim.now, 15);
    sim.pump();
    assert_eq!(sim.seen.exit, Some(Exit::Stopped { signal: 15 }));

    let mut sim = Sim::with(SessionConfig {
        workload: true,
        wrap: true,
        ..x509_only()
    });
    sim.start_pid = None;
    sim.connect();
    sim.send_update(1, 3600, true);
    assert_eq!(sim.seen.exit, Some(Exit::Wrapped(None)));
}

#[test]
fn health_follows_each_output_and_counts_a_refused_update_as_failed() {
    use WriteStatus::{Failed, Unwritten, Written};
    let mut sim = Sim::with(jwt_config("svc"));
    sim.unix_now = UnixTime::from_secs(JWT_NOW);
    let health = |sim: &Sim| sim.session.health(sim.now, sim.unix_now);
    let jwt = |sim: &Sim| -> Vec<(String, WriteStatus)> { health(sim).jwt.into_iter().collect() };
    assert_eq!(health(&sim).x509, Some(Unwritten));
    assert_eq!(
        jwt(&sim),
        [
            (BUNDLE_FILE.into(), Unwritten),
            (TOKEN_FILE.into(), Unwritten)
        ]
    );
    assert!(health(&sim).is_live() && !health(&sim).is_ready());
    sim.connect();
    sim.send_update(1, 3600 * 24 * 365 * 4, true);
    sim.server(&reply(3, &bundles_message()));
    assert_eq!(health(&sim).x509, Some(Written));
    assert!(!health(&sim).is_ready(), "the token is not written yet");
    sim.sent();
    sim.server(&jwt_svid_response(5, &es256_token()));
    assert_eq!(
        jwt(&sim),
        [(BUNDLE_FILE.into(), Written), (TOKEN_FILE.into(), Written)]
    );
    assert!(health(&sim).is_ready());
    // A refused X.509 update: not live, not ready, until a good one is written.
    sim.server(&frame(kind::DATA, 0, 1, &x509_message_with(3600, true)));
    assert_eq!(health(&sim).x509, Some(Failed));
    assert!(!health(&sim).is_live() && !health(&sim).is_ready());
    sim.send_update(1, 3600 * 24 * 365 * 4, false);
    assert!(health(&sim).is_live() && health(&sim).is_ready());
    // A failed write of the token's next refresh fails its entry only.
    sim.write_ok = false;
    sim.advance(secs(151));
    let stream = sim.opened()[0];
    sim.server(&jwt_svid_response(stream, &es256_token()));
    assert_eq!(
        jwt(&sim),
        [(BUNDLE_FILE.into(), Written), (TOKEN_FILE.into(), Failed)]
    );
    assert_eq!(health(&sim).x509, Some(Written));
}

#[test]
fn readiness_ends_after_the_agent_grace_and_with_an_expired_file() {
    let mut sim = Sim::new(false);
    sim.connect();
    sim.send_update(1, 3600, true);
    let ready = |sim: &Sim| sim.session.health(sim.now, sim.unix_now).is_ready();
    assert!(ready(&sim));
    sim.session.connection_lost(sim.now);
    sim.pump();
    sim.advance(READY_GRACE - Duration::from_millis(1));
    assert!(ready(&sim), "inside the grace");
    sim.advance(Duration::from_millis(1));
    let health = sim.session.health(sim.now, sim.unix_now);
    assert!(!health.agent_connected_recently && !health.is_ready());
    assert!(health.is_live(), "the files are still good");
    // The agent speaks again on a new connection.
    sim.connect();
    assert!(ready(&sim));
    // The wall clock reaches the SVID's NotAfter with nothing newer on disk.
    sim.unix_now = UnixTime::from_millis((BASE_UNIX + 3600) * 1000 - 1);
    assert!(ready(&sim));
    sim.unix_now = sim.unix_now + Duration::from_millis(1);
    let health = sim.session.health(sim.now, sim.unix_now);
    assert!(health.files_expired && !health.is_ready());
}

/// A one-shot session with a 30 s `timeout`.
fn one_shot_within_30s() -> Sim {
    Sim::with(SessionConfig {
        one_shot: true,
        timeout: Some(secs(30)),
        ..x509_only()
    })
}

#[test]
fn one_shot_gives_up_at_its_timeout_with_exit_2() {
    let mut sim = one_shot_within_30s();
    // The agent is unreachable: upstream's schedule (`pkg/sidecar/workloadapi.go@v0.11.0`)
    // would retry for over an hour.
    sim.session.connection_lost(sim.now);
    sim.pump();
    sim.advance(secs(30) - Duration::from_millis(1));
    assert_eq!(sim.seen.exit, None);
    // Re-dialled after 10 ms; that dial never completes, and the timeout still ends it.
    assert_eq!(sim.seen.dials, 2);
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.seen.exit, Some(Exit::Fatal(Fatal::TimedOut(secs(30)))));
    assert_eq!(sim.seen.exit.as_ref().unwrap().code(true), 2);
    assert_eq!(sim.session.poll_timeout(), None);
}

#[test]
fn a_timeout_does_not_end_a_one_shot_run_that_is_done_or_a_daemon() {
    let mut sim = one_shot_within_30s();
    sim.connect();
    sim.send_update(1, 3600, true);
    assert_eq!(sim.seen.exit, Some(Exit::Done));
    assert_eq!(sim.session.poll_timeout(), None);

    let mut sim = Sim::with(SessionConfig {
        timeout: Some(secs(30)),
        ..x509_only()
    });
    sim.connect();
    sim.advance(secs(120));
    assert_eq!(sim.seen.exit, None);
}

#[test]
fn a_stop_ends_a_daemon_with_0_and_an_unfinished_one_shot_run_with_128_plus_the_signal() {
    let mut sim = Sim::new(false);
    sim.connect();
    sim.send_update(1, 3600, true);
    sim.session.stop(sim.now, 15);
    sim.pump();
    // No workload runs: the run ends at once, with no grace.
    assert_eq!(sim.seen.exit, Some(Exit::Stopped { signal: 15 }));
    assert_eq!(sim.seen.exit.as_ref().unwrap().code(false), 0);
    assert_eq!(sim.session.poll_timeout(), None);

    let mut sim = Sim::new(true);
    sim.connect();
    sim.session.stop(sim.now, 2);
    sim.pump();
    let exit = sim.seen.exit.take().unwrap();
    assert_eq!(exit, Exit::Fatal(Fatal::Interrupted { signal: 2 }));
    assert_eq!(exit.code(true), 130);
    // A second signal says nothing more.
    sim.session.stop(sim.now, 15);
    sim.pump();
    assert_eq!(sim.seen.exit, None);
}

#[test]
fn exit_codes_name_what_ended_a_one_shot_run() {
    let denied = status(Code::PermissionDenied, "no identity issued");
    let cases = [
        (Exit::Done, 0),
        (Exit::Fatal(Fatal::RetriesExhausted(Failure::Connection)), 2),
        (
            Exit::Fatal(Fatal::RetriesExhausted(Failure::Status(status(
                Code::Unavailable,
                "",
            )))),
            2,
        ),
        (Exit::Fatal(Fatal::TimedOut(secs(5))), 2),
        (
            Exit::Fatal(Fatal::RetriesExhausted(Failure::Status(denied))),
            3,
        ),
        (
            Exit::Fatal(Fatal::Status {
                sub: Subscription::X509,
                status: status(Code::InvalidArgument, "no header"),
            }),
            3,
        ),
        (Exit::Fatal(Fatal::WriteFailed(Subscription::JwtBundles)), 4),
        (
            Exit::Fatal(Fatal::JwtRejected(
                Subscription::JwtSvid(0),
                JwtRejection::HintNotFound,
            )),
            4,
        ),
        (Exit::Fatal(Fatal::Interrupted { signal: 15 }), 143),
    ];
    for (exit, code) in cases {
        assert_eq!(exit.code(true), code, "{exit:?}");
        // Daemon mode keeps upstream's 1 for every failure (`cmd/spiffe-helper/main.go@v0.11.0`).
        let daemon = if matches!(exit, Exit::Fatal(_)) { 1 } else { 0 };
        assert_eq!(exit.code(false), daemon, "{exit:?}");
    }
}

/// A session with `config` whose service manager listens, with this watchdog.
fn notified(config: SessionConfig, watchdog: Option<Duration>) -> Sim {
    Sim::with(SessionConfig {
        notify: Some(NotifyConfig { watchdog }),
        ..config
    })
}

impl Sim {
    /// The notifications sent since the last call, without their times.
    fn take_notes(&mut self) -> Vec<Notify> {
        self.seen.notes.drain(..).map(|(n, _)| n).collect()
    }
}

/// An ES256 token signed with the P-256 key `ec256` of [`JWKS`] (`testdata/leaf-ec.key.der`)
/// by the `p256` crate: `sub`, aud `svc`, exp 300 s after [`JWT_NOW`], then `extra` claims.
fn es256_token_for(sub: &str, extra: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::DecodePrivateKey;

    let der = include_bytes!("../../testdata/leaf-ec.key.der");
    let key = p256::ecdsa::SigningKey::from_pkcs8_der(der).unwrap();
    let header = r#"{"alg":"ES256","kid":"ec256","typ":"JWT"}"#;
    let (exp, iat) = (JWT_NOW + 300, JWT_NOW - 10);
    let claims =
        alloc::format!(r#"{{"sub":"{sub}","aud":["svc"],"exp":{exp},"iat":{iat}{extra}}}"#);
    let input = alloc::format!("{}.{}", B64URL.encode(header), B64URL.encode(claims));
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    alloc::format!("{input}.{}", B64URL.encode(signature.to_bytes()))
}

/// Runs `token` (described by the response as `spiffe_id`) through a daemon session whose
/// bundle watch has delivered `bundles`; returns the reports and whether it was written.
fn offer_token(bundles: &[u8], token: &str, spiffe_id: &str) -> (Vec<Report>, bool) {
    let mut sim = Sim::with(jwt_config("svc"));
    sim.unix_now = UnixTime::from_secs(JWT_NOW);
    sim.connect();
    sim.server(&reply(3, bundles));
    sim.sent();
    sim.server(&jwt_svid_response_for(5, token, spiffe_id));
    (sim.take_reports(), !sim.seen.jwt_tokens.is_empty())
}

/// The rejection of a token that was not written, and when it is asked for again.
fn rejection(outcome: (Vec<Report>, bool)) -> JwtRejection {
    match outcome {
        (reports, false) => match &reports[..] {
            [
                Report::JwtRejected {
                    sub: Subscription::JwtSvid(0),
                    error,
                    retry_in: Some(d),
                },
            ] if *d == secs(1) => error.clone(),
            _ => panic!("{reports:?}"),
        },
        (reports, true) => panic!("written: {reports:?}"),
    }
}

#[test]
fn ready_once_every_output_is_written_and_a_status_for_each_svid() {
    let mut sim = notified(jwt_config("svc"), None);
    sim.unix_now = UnixTime::from_secs(JWT_NOW);
    sim.connect();
    let not_after = 3600 * 24 * 365 * 4;
    sim.send_update(1, not_after, true);
    let x509_status = Notify::Status {
        sub: Subscription::X509,
        spiffe_id: ID.into(),
        expires: BASE_UNIX + not_after as i64,
    };
    assert_eq!(sim.take_notes(), core::slice::from_ref(&x509_status));
    sim.server(&reply(3, &bundles_message()));
    assert_eq!(
        sim.take_notes(),
        [],
        "a bundle has no SPIFFE ID; the token is missing"
    );
    sim.sent();
    sim.server(&jwt_svid_response(5, &es256_token()));
    assert_eq!(
        sim.take_notes(),
        [
            Notify::Status {
                sub: Subscription::JwtSvid(0),
                spiffe_id: "spiffe://example.org/workload".into(),
                expires: JWT_NOW + 300,
            },
            Notify::Ready
        ]
    );
    // Later updates say what changed; READY=1 is not repeated.
    sim.send_update(1, not_after, false);
    assert_eq!(sim.take_notes(), [x509_status]);
    // A failed write says nothing.
    sim.write_ok = false;
    sim.send_update(1, not_after + 1, false);
    assert_eq!(sim.take_notes(), []);
}

#[test]
fn nothing_is_notified_without_a_service_manager() {
    let mut sim = Sim::new(true);
    sim.connect();
    sim.send_update(1, 3600, true);
    assert_eq!(sim.seen.exit, Some(Exit::Done));
    assert_eq!(sim.take_notes(), []);
}

#[test]
fn stopping_comes_just_before_every_exit() {
    let one_shot = SessionConfig {
        one_shot: true,
        ..x509_only()
    };
    let mut sim = notified(one_shot, None);
    sim.connect();
    sim.send_update(1, 3600, true);
    let notes = sim.take_notes();
    assert!(matches!(notes[0], Notify::Status { .. }), "{notes:?}");
    assert_eq!(notes[1..], [Notify::Ready, Notify::Stopping]);
    assert_eq!(sim.seen.exit, Some(Exit::Done));

    let mut sim = notified(x509_only(), None);
    sim.session.stop(sim.now, 15);
    sim.pump();
    assert_eq!(sim.take_notes(), [Notify::Stopping]);
    assert_eq!(sim.seen.exit, Some(Exit::Stopped { signal: 15 }));
}

#[test]
fn the_watchdog_beats_every_half_interval_until_the_files_expire_with_the_agent_gone() {
    let mut sim = notified(x509_only(), Some(secs(10)));
    let start = sim.now;
    let beats = |sim: &mut Sim| -> Vec<u64> {
        let times = sim
            .seen
            .notes
            .iter()
            .filter(|(n, _)| *n == Notify::Watchdog)
            .map(|(_, t)| t.saturating_duration_since(start).as_secs())
            .collect();
        sim.seen.notes.clear();
        times
    };
    // Healthy before the first write too: nothing has expired.
    sim.advance(secs(11));
    assert_eq!(beats(&mut sim), [5, 10]);
    sim.connect();
    sim.send_update(1, 60, true);
    sim.session.connection_lost(sim.now);
    sim.pump();
    // Gone but the files are good: it beats on. The SVID expires at 60 s of wall clock.
    sim.advance(secs(40));
    assert_eq!(beats(&mut sim), [15, 20, 25, 30, 35, 40, 45, 50]);
    // Past the expiry, the agent gone for over 30 s: silence, so the service manager acts.
    sim.advance(secs(20));
    assert_eq!(beats(&mut sim), [55]);
    // The agent is back with a fresh SVID: it beats again.
    sim.connect();
    sim.send_update(1, 3600, true);
    sim.advance(secs(5));
    assert_eq!(beats(&mut sim), [75]);
}

#[test]
fn a_watchdog_below_the_clocks_resolution_beats_every_millisecond_not_in_a_loop() {
    let mut sim = notified(x509_only(), Some(Duration::from_micros(1)));
    sim.advance(Duration::from_millis(10));
    assert_eq!(sim.take_notes(), vec![Notify::Watchdog; 10]);
}

#[test]
fn another_workloads_token_is_refused() {
    const WORKLOAD: &str = "spiffe://example.org/workload";
    let bundles = bundles_message();
    let good = es256_token_for(WORKLOAD, "");
    assert_eq!(offer_token(&bundles, &good, WORKLOAD), (vec![], true));
    // Validly signed by the subject's own trust domain, for another workload.
    let other = es256_token_for("spiffe://example.org/other", "");
    let error = rejection(offer_token(&bundles, &other, WORKLOAD));
    assert_eq!(
        error.to_string(),
        "token subject \"spiffe://example.org/other\" is not the SPIFFE ID of the JWT-SVID \"spiffe://example.org/workload\""
    );
    // The response must name the SPIFFE ID: an empty one matches no subject.
    let error = rejection(offer_token(&bundles, &good, ""));
    assert!(matches!(error, JwtRejection::SubjectMismatch { .. }));
}

#[test]
fn the_verifying_key_must_come_from_the_subjects_trust_domain() {
    // `ec256` of example.org signs for a workload of other.org, whose JWKS is there but
    // holds only other keys; the response agrees with the token's subject.
    const FOREIGN: &str = "spiffe://other.org/workload";
    let token = es256_token_for(FOREIGN, "");
    let other_jwks = br#"{"keys":[{"kty":"OKP","kid":"other","crv":"Ed25519","x":"bI-78TAdvi2foBDxID4nVBeR04k5Wb95OZGnEyNj79o"}]}"#;
    let body = bundles_message_of(&[
        ("spiffe://example.org", JWKS),
        ("spiffe://other.org", other_jwks),
    ]);
    let error = rejection(offer_token(&body, &token, FOREIGN));
    assert!(
        matches!(&error, JwtRejection::Invalid(jwt::VerifyError::UnknownKeyId { kid, trust_domain })
            if kid == "ec256" && trust_domain.as_str() == "other.org"),
        "{error}"
    );
    // And with no JWKS for other.org at all.
    let error = rejection(offer_token(&bundles_message(), &token, FOREIGN));
    assert!(
        matches!(&error, JwtRejection::Invalid(jwt::VerifyError::NoBundle(td)) if td.as_str() == "other.org"),
        "{error}"
    );
}

#[test]
fn a_token_over_the_size_limit_is_refused_before_it_is_parsed() {
    const WORKLOAD: &str = "spiffe://example.org/workload";
    let bundles = bundles_message();
    // The longest validly signed token within the limit is written; one byte more is not.
    let padded =
        |n: usize| es256_token_for(WORKLOAD, &alloc::format!(r#","pad":"{}""#, "x".repeat(n)));
    // The length grows with the padding: find the first padding over the limit.
    let (mut under, mut over) = (0, jwt::MAX_TOKEN_SIZE);
    while over - under > 1 {
        let mid = (under + over) / 2;
        match padded(mid).len() > jwt::MAX_TOKEN_SIZE {
            true => over = mid,
            false => under = mid,
        }
    }
    let (fits, over) = (padded(under), padded(over));
    assert!(fits.len() > jwt::MAX_TOKEN_SIZE - 4, "{}", fits.len());
    assert_eq!(offer_token(&bundles, &fits, WORKLOAD), (vec![], true));
    let error = rejection(offer_token(&bundles, &over, WORKLOAD));
    assert_eq!(error, JwtRejection::TooLarge { size: over.len() });
    assert_eq!(
        error.to_string(),
        alloc::format!(
            "token is {} bytes, over the limit of 16384 bytes",
            over.len()
        )
    );
}

#[test]
fn a_jwks_with_a_key_type_go_jose_refuses_fails_the_bundle_update() {
    let mut sim = Sim::with(jwt_config("svc"));
    sim.unix_now = UnixTime::from_secs(JWT_NOW);
    sim.connect();
    assert_eq!(sim.opened(), [1, 3]);
    // A real X25519 public key (RFC 7748 §6.1, Alice's) beside the good keys.
    let x25519 = br#"{"keys":[{"kty":"OKP","kid":"x","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}]}"#;
    let body = bundles_message_of(&[
        ("spiffe://example.org", JWKS),
        ("spiffe://other.org", x25519),
    ]);
    sim.server(&reply(3, &body));
    let reports = sim.take_reports();
    let [
        Report::JwtRejected {
            sub: Subscription::JwtBundles,
            error: JwtRejection::BadBundles(error),
            retry_in: None,
        },
    ] = &reports[..]
    else {
        panic!("{reports:?}");
    };
    assert_eq!(
        error.to_string(),
        "JWT bundle of \"other.org\": JWKS key 0: unsupported key type \"OKP X25519\""
    );
    // Nothing is written, and no token is asked for without a bundle to verify it with.
    assert!(sim.seen.jwt_bundles.is_empty());
    assert_eq!(sim.opened(), [0u32; 0]);
}

mod metrics;

/// A daemon-mode session with `x509_svids` entries `db` and `web`, telling a service
/// manager.
fn with_entries(one_shot: bool) -> SessionConfig {
    let entry = |hint: &str| x509::EntryOptions {
        hint: hint.into(),
        credential_bundle: false,
        pkcs12: false,
    };
    let mut config = x509_only();
    config.one_shot = one_shot;
    config.notify = Some(NotifyConfig::default());
    if let Some(x509) = &mut config.x509 {
        x509.entries = vec![entry("db"), entry("web")];
    }
    config
}

#[test]
fn an_entry_whose_hint_is_missing_is_not_ready_while_the_rest_is_written() {
    use WriteStatus::{Failed, Unwritten, Written};
    let mut sim = Sim::with(with_entries(false));
    let health = |sim: &Sim| sim.session.health(sim.now, sim.unix_now);
    let entries =
        |sim: &Sim| -> Vec<(String, WriteStatus)> { health(sim).x509_svids.into_iter().collect() };
    assert_eq!(
        entries(&sim),
        [("db".into(), Unwritten), ("web".into(), Unwritten)]
    );
    sim.connect();
    // `web` is missing: the default and `db` are written as one set, `web` is reported.
    sim.server(&reply(1, &x509_message_hinted(7200, &[("db", 3600)])));
    assert_eq!(sim.seen.writes, [7200]);
    assert_eq!(
        sim.take_reports(),
        [Report::EntryHintNotFound {
            index: 1,
            hint: "web".into()
        }]
    );
    assert_eq!(health(&sim).x509, Some(Written));
    assert_eq!(
        entries(&sim),
        [("db".into(), Written), ("web".into(), Failed)]
    );
    assert!(!health(&sim).is_ready());
    let ready = |sim: &Sim| sim.seen.notes.iter().any(|(n, _)| *n == Notify::Ready);
    assert!(!ready(&sim), "READY=1 waits for every entry");

    // The next message has every hint: all written, ready.
    let message = x509_message_hinted(7200, &[("web", 5400), ("db", 3600)]);
    sim.server(&frame(kind::DATA, 0, 1, &message));
    assert_eq!(sim.seen.writes, [7200, 7200]);
    assert!(sim.take_reports().is_empty());
    assert_eq!(
        entries(&sim),
        [("db".into(), Written), ("web".into(), Written)]
    );
    assert!(health(&sim).is_ready() && ready(&sim));

    // The set on disk expires with its earliest leaf, `db`'s.
    sim.unix_now = UnixTime::from_millis((BASE_UNIX + 3600) * 1000 + 1);
    assert!(health(&sim).files_expired && !health(&sim).is_ready());
    sim.unix_now = UnixTime::from_secs(BASE_UNIX);

    // A failed write fails every entry.
    sim.write_ok = false;
    sim.server(&frame(kind::DATA, 0, 1, &message));
    assert_eq!(
        entries(&sim),
        [("db".into(), Failed), ("web".into(), Failed)]
    );
}

#[test]
fn one_shot_refuses_a_message_without_an_entry_hint() {
    let mut sim = Sim::with(with_entries(true));
    sim.connect();
    sim.server(&reply(1, &x509_message_hinted(7200, &[("web", 3600)])));
    assert!(sim.seen.writes.is_empty());
    let error = x509::RenderError::EntryHintNotFound {
        index: 0,
        hint: "db".into(),
    };
    assert_eq!(
        sim.seen.exit,
        Some(Exit::Fatal(Fatal::Rejected(error.into())))
    );
}

#[test]
fn the_bundle_map_with_jwt_keys_waits_for_both_streams_and_follows_each() {
    let has = |map: &[u8], word: &str| core::str::from_utf8(map).unwrap().contains(word);
    let config = || {
        let mut config = jwt_config("svc");
        config.jwt_svids.clear();
        if let Some(x509) = &mut config.x509 {
            x509.bundle_map = true;
        }
        config
    };
    // X.509 first: its set leaves the map out; the JWT bundle brings it, with both halves.
    let mut sim = Sim::with(config());
    sim.unix_now = UnixTime::from_secs(JWT_NOW);
    sim.connect();
    assert_eq!(sim.opened(), [1, 3]);
    sim.send_update(1, 3600 * 24 * 365 * 4, true);
    assert_eq!(sim.seen.x509_maps, [Vec::<u8>::new()]);
    sim.server(&reply(3, &bundles_message()));
    let [map] = &sim.seen.bundle_maps[..] else {
        panic!("{:?}", sim.seen.bundle_maps.len())
    };
    assert!(has(map, "\"x509-svid\"") && has(map, "\"jwt-svid\""));
    // Each later update of either stream rewrites it whole.
    sim.send_update(1, 3600 * 24 * 365 * 4, false);
    let last = sim.seen.x509_maps.last().unwrap();
    assert!(has(last, "\"x509-svid\"") && has(last, "\"jwt-svid\""));
    sim.server(&frame(kind::DATA, 0, 3, &bundles_message()));
    assert_eq!(sim.seen.bundle_maps.len(), 2);
    assert!(sim.session.health(sim.now, sim.unix_now).is_ready());

    // The JWT bundle first: it has no map to write; the X.509 set carries it.
    let mut sim = Sim::with(config());
    sim.unix_now = UnixTime::from_secs(JWT_NOW);
    sim.connect();
    sim.sent();
    sim.server(&reply(3, &bundles_message()));
    assert_eq!(
        (sim.seen.jwt_bundles.len(), sim.seen.bundle_maps.len()),
        (1, 0)
    );
    sim.send_update(1, 3600 * 24 * 365 * 4, true);
    assert!(has(&sim.seen.x509_maps[0], "\"jwt-svid\""));

    // A JWT bundle that never comes: no X.509-only map is ever written, and the helper is
    // not ready (the JWT bundle file is not written either).
    let mut sim = Sim::with(config());
    sim.unix_now = UnixTime::from_secs(JWT_NOW);
    sim.connect();
    sim.send_update(1, 3600 * 24 * 365 * 4, true);
    sim.send_update(1, 3600 * 24 * 365 * 4, false);
    assert_eq!(sim.seen.x509_maps, [Vec::<u8>::new(), Vec::new()]);
    assert!(!sim.session.health(sim.now, sim.unix_now).is_ready());
}
