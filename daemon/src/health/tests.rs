//! The listener against real clients (`curl`, Python's `http.client`, raw sockets) on a
//! loopback port, driven by a small poll loop like the daemon's. The listener's clock is the
//! test's: every round is served at an instant the test gives, so deadlines fire exactly
//! when the test moves that instant past them, whatever the machine's speed.

use super::*;
use std::net::{Ipv6Addr, SocketAddrV6};

use std::os::unix::net::UnixStream;
use std::process::Command;
use std::thread::{self, JoinHandle};

use rustix::event::Timespec;

/// The instant the tests' simulated clock starts at.
const T0: Instant = Instant::from_millis(1_000_000);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// X.509 written, the JWT bundle not yet: live (200) but not ready (503).
fn live_not_ready() -> HealthState {
    let mut s = HealthState::new(true, ["certs/jwt_bundle.json"]);
    s.record_x509(true);
    s
}

fn ready() -> HealthState {
    let mut s = live_not_ready();
    s.record_jwt("certs/jwt_bundle.json", true);
    s
}

fn settings(address: Option<IpAddr>, port: i64) -> Settings {
    Settings {
        address,
        port,
        liveness_path: "/live".into(),
        readiness_path: "/ready".into(),
        read_header_timeout: Duration::from_secs(1),
        metrics_path: String::new(),
    }
}

fn listener() -> Health {
    Health::bind(&settings(None, 0)).expect("bind port 0")
}

fn port(h: &Health) -> u16 {
    h.local_addr().unwrap().port()
}

/// One round of the daemon's loop for the listener at the instant `now`, wired as the module
/// doc shows: another descriptor (the driver's signal pipe) comes first in the poll set.
/// `poll(2)` waits at most 20 ms of real time for the clients' bytes.
fn round(h: &mut Health, now: Instant, state: &HealthState, other: &UnixStream) {
    let wait = ms(20);
    let events = {
        let mut fds = vec![PollFd::new(other, PollFlags::IN)];
        let at = fds.len();
        h.poll_fds(&mut fds);
        rustix::event::poll(&mut fds, Some(&Timespec::try_from(wait).unwrap())).unwrap();
        assert!(
            fds[0].revents().is_empty(),
            "the other descriptor stays quiet"
        );
        h.events(&fds[at..])
    };
    h.on_ready(now, state, &Vec::new, events);
    h.handle_timeouts(now);
    assert!(h.connections() <= h.limits().max_conns);
    assert!(h.buffered() <= h.connections() * MAX_HEAD);
}

/// Runs the loop at the instant `now` until `done`; fails after 3,000 rounds (a minute of
/// real time at most).
fn serve_until(
    h: &mut Health,
    now: Instant,
    state: &HealthState,
    done: impl FnMut(&Health) -> bool,
) {
    serve_ticking(h, now, Duration::ZERO, state, done);
}

/// Runs the loop until `done`, the clock at `from` and `tick` later each round; fails after
/// 3,000 rounds.
fn serve_ticking(
    h: &mut Health,
    from: Instant,
    tick: Duration,
    state: &HealthState,
    mut done: impl FnMut(&Health) -> bool,
) {
    let (other, _peer) = UnixStream::pair().unwrap();
    let mut now = from;
    for _ in 0..3000 {
        if done(h) {
            return;
        }
        round(h, now, state, &other);
        now = now + tick;
    }
    panic!("serve loop: not done after 3000 rounds");
}

/// Runs `client(port)` on a thread while serving at [`T0`], and returns what it returns.
fn with_client<T: Send + 'static>(
    h: &mut Health,
    state: &HealthState,
    client: impl FnOnce(u16) -> T + Send + 'static,
) -> T {
    let p = port(h);
    let t: JoinHandle<T> = thread::spawn(move || client(p));
    serve_until(h, T0, state, |_| t.is_finished());
    t.join().expect("client thread")
}

/// Runs `client(port)` on a thread while serving, the clock at `from` and a millisecond
/// later each round (so a full table's [`Limits::grace`] passes), and returns what it
/// returns.
fn with_client_from<T: Send + 'static>(
    h: &mut Health,
    from: Instant,
    client: impl FnOnce(u16) -> T + Send + 'static,
) -> T {
    let p = port(h);
    let t: JoinHandle<T> = thread::spawn(move || client(p));
    serve_ticking(h, from, ms(1), &ready(), |_| t.is_finished());
    t.join().expect("client thread")
}

/// Sends `raw` and reads until the server closes; a reset counts as the end.
fn raw_exchange(port: u16, raw: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn has(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: `{tool}` is not installed (apt-get install {tool})");
    }
    ok
}

/// `curl` on `http://127.0.0.1:port/path`, or `[::1]` with `-6` among `args`.
fn curl(port: u16, args: &[&str], path: &str) -> String {
    let host = if args.contains(&"-6") {
        "[::1]"
    } else {
        "127.0.0.1"
    };
    let out = Command::new("curl")
        .args(["-s", "-S", "-g", "--max-time", "10"])
        .args(args)
        .arg(format!("http://{host}:{port}{path}"))
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn curl_sees_upstreams_responses() {
    if !has("curl") {
        return;
    }
    let mut h = listener();
    let state = live_not_ready();
    let json = |ok: bool| {
        let mut b = Vec::new();
        state.write_json(ok, &mut b);
        String::from_utf8(b).unwrap()
    };
    let (live, ready, head, post, missing) = with_client(&mut h, &state, |p| {
        (
            curl(p, &["-i"], "/live"),
            curl(p, &["-i"], "/ready?verbose=1"),
            curl(p, &["-I"], "/ready"),
            curl(p, &["-i", "-X", "POST", "-d", "x=1"], "/live"),
            curl(p, &["-i"], "/Live"),
        )
    });
    let expect = |got: &str, status: &str, body: &str| {
        assert!(got.starts_with(&format!("HTTP/1.1 {status}\r\n")), "{got}");
        assert!(got.contains("Content-Type: application/json\r\n"), "{got}");
        assert!(
            got.contains(&format!("Content-Length: {}\r\n", body.len())),
            "{got}"
        );
        assert!(got.contains("Connection: close\r\n"), "{got}");
        assert!(got.ends_with(&format!("\r\n\r\n{body}")), "{got}");
    };
    expect(&live, "200 OK", &json(true));
    expect(&ready, "503 Service Unavailable", &json(false));
    expect(&post, "200 OK", &json(true));
    assert!(
        head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{head}"
    );
    assert!(head.contains(&format!("Content-Length: {}\r\n", json(false).len())));
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
    assert!(
        missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{missing}"
    );
    assert!(
        missing.ends_with("\r\n\r\n404 page not found\n"),
        "{missing}"
    );
    assert_eq!(h.connections(), 0);
}

#[test]
fn curl_reaches_the_dual_stack_listener_over_ipv6() {
    if !has("curl") {
        return;
    }
    let mut h = listener();
    if !h.local_addr().unwrap().is_ipv6()
        || TcpStream::connect(SocketAddrV6::new(Ipv6Addr::LOCALHOST, port(&h), 0, 0)).is_err()
    {
        eprintln!("SKIPPED: no IPv6 loopback here");
        return;
    }
    let text = with_client(&mut h, &ready(), |p| curl(p, &["-6", "-i"], "/ready"));
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
}

#[test]
fn python_http_client_reads_status_type_and_body() {
    if !has("python3") {
        return;
    }
    let mut h = listener();
    let state = live_not_ready();
    let mut body = Vec::new();
    state.write_json(false, &mut body);
    let out = with_client(&mut h, &state, |p| {
        let script = "import http.client, sys\n\
                      c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=10)\n\
                      c.request('GET', '/ready')\n\
                      r = c.getresponse()\n\
                      sys.stdout.write('%d|%s|%s' % (r.status, r.getheader('Content-Type'), r.read().decode()))\n";
        Command::new("python3")
            .args(["-c", script, &p.to_string()])
            .output()
            .unwrap()
    });
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("503|application/json|{}", String::from_utf8(body).unwrap())
    );
}

#[test]
fn a_malformed_request_gets_400_and_a_bad_version_505() {
    let mut h = listener();
    let (bad, version) = with_client(&mut h, &ready(), |p| {
        (
            raw_exchange(p, b"GARBAGE\r\n\r\n"),
            raw_exchange(p, b"GET /live HTTP/2.0\r\n\r\n"),
        )
    });
    assert!(bad.starts_with(b"HTTP/1.1 400 Bad Request\r\n"), "{bad:?}");
    assert!(version.starts_with(b"HTTP/1.1 505 "), "{version:?}");
}

#[test]
fn a_request_split_over_many_writes_is_answered() {
    let mut h = listener();
    let got = with_client(&mut h, &ready(), |p| {
        let mut s = TcpStream::connect(("127.0.0.1", p)).unwrap();
        s.set_nodelay(true).unwrap();
        for b in b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n" {
            s.write_all(&[*b]).unwrap();
            thread::sleep(Duration::from_millis(2));
        }
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        out
    });
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn a_slow_client_is_cut_one_second_after_its_first_byte_without_stalling_others() {
    let mut h = listener(); // default limits: 1 s from the first byte to the end of the head
    let (other, _peer) = UnixStream::pair().unwrap();
    let slow = TcpStream::connect(("127.0.0.1", port(&h))).unwrap();
    serve_until(&mut h, T0, &ready(), |h| h.connections() == 1);
    (&slow).write_all(b"GET /live HTTP/1.1\r\nHo").unwrap();
    // The half-sent head holds its slot; a fast client is answered meanwhile.
    let fast = with_client(&mut h, &ready(), |p| {
        raw_exchange(p, b"GET /live HTTP/1.1\r\n\r\n")
    });
    assert!(fast.starts_with(b"HTTP/1.1 200 OK\r\n"));
    serve_until(&mut h, T0, &ready(), |h| h.connections() == 1);
    assert_eq!(h.next_deadline(), Some(T0 + Duration::from_secs(1)));
    // More bytes do not buy more time.
    (&slow).write_all(b"st: x\r\n").unwrap();
    for _ in 0..5 {
        round(&mut h, T0 + ms(999), &ready(), &other);
    }
    assert_eq!(h.connections(), 1, "kept until its deadline");
    assert_eq!(h.next_deadline(), Some(T0 + Duration::from_secs(1)));
    round(&mut h, T0 + Duration::from_secs(1), &ready(), &other);
    assert_eq!(h.connections(), 0, "cut at its deadline");
    let mut got = Vec::new();
    let _ = (&slow).read_to_end(&mut got);
    assert!(got.is_empty(), "no response to an incomplete head: {got:?}");
}

#[test]
fn a_megabyte_of_headers_gets_431_or_a_close_and_memory_stays_bounded() {
    let mut h = listener();
    let p = port(&h);
    let client = thread::spawn(move || {
        let s = TcpStream::connect(("127.0.0.1", p)).unwrap();
        let mut w = s.try_clone().unwrap();
        let writer = thread::spawn(move || {
            let _ = w.write_all(b"GET /live HTTP/1.1\r\n");
            let line = format!("X-Filler: {}\r\n", "a".repeat(1000));
            for _ in 0..1024 {
                if w.write_all(line.as_bytes()).is_err() {
                    break;
                }
            }
        });
        let mut got = Vec::new();
        let _ = (&s).read_to_end(&mut got);
        let _ = s.shutdown(Shutdown::Both);
        writer.join().unwrap();
        got
    });
    let mut peak = 0;
    // The clock stays at T0: the connection ends after the response, never at a deadline.
    serve_until(&mut h, T0, &ready(), |h| {
        peak = peak.max(h.buffered());
        client.is_finished() && h.connections() == 0
    });
    let got = client.join().unwrap();
    assert!(peak <= MAX_HEAD, "held {peak} bytes");
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn after_the_response_the_connection_lingers_half_a_second() {
    let mut h = listener();
    let (other, _peer) = UnixStream::pair().unwrap();
    let s = TcpStream::connect(("127.0.0.1", port(&h))).unwrap();
    (&s).write_all(b"GET /live HTTP/1.1\r\n\r\n").unwrap();
    let mut got = [0u8; 17];
    let at = T0 + ms(1200);
    // The client keeps its side open: the helper drains it until the linger ends.
    serve_until(&mut h, at, &ready(), |h| {
        h.next_deadline() == Some(at + ms(500))
    });
    (&s).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"HTTP/1.1 200 OK\r\n");
    round(&mut h, at + ms(499), &ready(), &other);
    assert_eq!(h.connections(), 1);
    round(&mut h, at + ms(500), &ready(), &other);
    assert_eq!(h.connections(), 0);
}

#[test]
fn a_hundred_clients_at_once_are_all_served() {
    let mut h = listener();
    let p = port(&h);
    let clients: Vec<_> = (0..100)
        .map(|_| thread::spawn(move || raw_exchange(p, b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n")))
        .collect();
    let mut most = 0;
    serve_until(&mut h, T0, &ready(), |h| {
        most = most.max(h.connections());
        clients.iter().all(JoinHandle::is_finished)
    });
    assert!(most <= 16, "{most} connections at once");
    for c in clients {
        let got = c.join().unwrap();
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"), "{got:?}");
    }
    // The listener still works afterwards.
    let again = with_client(&mut h, &ready(), |p| {
        raw_exchange(p, b"GET /live HTTP/1.1\r\n\r\n")
    });
    assert!(again.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

/// A listener whose table has two slots, and its port.
fn two_slots() -> (Health, u16) {
    let h = listener().with_limits(Limits {
        max_conns: 2,
        ..Limits::default()
    });
    let p = port(&h);
    (h, p)
}

#[test]
fn a_full_table_evicts_the_longest_idle_connection_for_a_new_client_at_once() {
    let (mut h, p) = two_slots();
    let (other, _peer) = UnixStream::pair().unwrap();
    // Two idle connections, accepted at two instants: `older` first.
    let older = TcpStream::connect(("127.0.0.1", p)).unwrap();
    serve_until(&mut h, T0, &ready(), |h| h.connections() == 1);
    let newer = TcpStream::connect(("127.0.0.1", p)).unwrap();
    serve_until(&mut h, T0 + ms(10), &ready(), |h| h.connections() == 2);
    // The clock stays short of every deadline: the client is served because `older` makes
    // room, not because anything timed out.
    let client = with_client_from(&mut h, T0 + ms(20), |p| {
        raw_exchange(p, b"GET /live HTTP/1.1\r\n\r\n")
    });
    assert!(client.starts_with(b"HTTP/1.1 200 OK\r\n"), "{client:?}");
    for _ in 0..5 {
        round(&mut h, T0 + ms(20), &ready(), &other);
    }
    let mut buf = [0u8; 16];
    assert_eq!((&older).read(&mut buf).unwrap_or(0), 0, "evicted");
    assert!(is_held(&newer), "still held");
    assert!(h.connections() <= 2);
}

/// Whether the server still holds `s` open and silent: nothing to read (peeked, so a
/// response stays to be read) and no close.
fn is_held(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    matches!(s.peek(&mut b), Err(ref e) if e.kind() == io::ErrorKind::WouldBlock)
}

#[test]
fn a_newcomer_waits_in_the_accept_queue_while_the_table_is_in_its_grace() {
    let (mut h, p) = two_slots();
    let grace = h.limits().grace;
    let (other, _peer) = UnixStream::pair().unwrap();
    let first = TcpStream::connect(("127.0.0.1", p)).unwrap();
    let second = TcpStream::connect(("127.0.0.1", p)).unwrap();
    serve_until(&mut h, T0, &ready(), |h| h.connections() == 2);
    // Silent, accepted at T0: neither may be taken before T0 + 2 ms, and the listener
    // waits until then.
    assert_eq!(h.next_deadline(), Some(T0 + grace));
    let probe = TcpStream::connect(("127.0.0.1", p)).unwrap();
    for _ in 0..3 {
        round(&mut h, T0 + ms(1), &ready(), &other);
    }
    assert!(
        is_held(&first) && is_held(&second),
        "no eviction within the grace"
    );
    // Its request arrives while it waits; once the grace is over it is accepted and
    // answered, and a silent connection made room.
    (&probe).write_all(b"GET /ready HTTP/1.1\r\n\r\n").unwrap();
    serve_until(&mut h, T0 + grace, &ready(), |_| !is_held(&probe));
    probe.set_nonblocking(false).unwrap();
    let mut got = Vec::new();
    (&probe).read_to_end(&mut got).unwrap();
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"), "{got:?}");
    assert!(!is_held(&first), "the first accepted made room");
    assert!(is_held(&second));
}

#[test]
fn held_connections_cost_the_probes_nothing() {
    // A full table of idle connections and slowloris clients, refilled as they are closed,
    // while probes connect one after the other: every probe is answered.
    let mut h = listener();
    let p = port(&h);
    let (other, _peer) = UnixStream::pair().unwrap();
    let mut held: Vec<TcpStream> = Vec::new();
    let mut answered = 0;
    for probe in 0..20 {
        held.retain(is_held);
        while held.len() < 40 {
            let s = TcpStream::connect(("127.0.0.1", p)).unwrap();
            if held.len().is_multiple_of(2) {
                (&s).write_all(b"G").unwrap();
            }
            held.push(s);
        }
        let now = T0 + ms(probe * 100);
        serve_until(&mut h, now, &ready(), |h| h.connections() == 16);
        let got = with_client_from(&mut h, now, |p| {
            raw_exchange(p, b"GET /ready HTTP/1.1\r\n\r\n")
        });
        assert!(
            got.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "probe {probe}: {got:?}"
        );
        answered += 1;
        round(&mut h, now, &ready(), &other);
    }
    assert_eq!(answered, 20);
}

#[test]
fn a_client_that_leaves_early_is_dropped() {
    let mut h = listener();
    let p = port(&h);
    let s = TcpStream::connect(("127.0.0.1", p)).unwrap();
    serve_until(&mut h, T0, &ready(), |h| h.connections() == 1);
    (&s).write_all(b"GET /li").unwrap();
    drop(s);
    // At the same instant: dropped on the client's close, not at a deadline.
    serve_until(&mut h, T0, &ready(), |h| h.connections() == 0);
}

#[test]
fn deadlines_are_reported_and_enforced() {
    let mut h = listener();
    assert_eq!(h.next_deadline(), None);
    let _s = TcpStream::connect(("127.0.0.1", port(&h))).unwrap();
    serve_until(&mut h, T0, &ready(), |h| h.connections() == 1);
    let d = h.next_deadline().expect("a deadline per connection");
    assert_eq!(d, T0 + Duration::from_secs(5));
    h.handle_timeouts(d - Duration::from_millis(1));
    assert_eq!(h.connections(), 1);
    h.handle_timeouts(d);
    assert_eq!(h.connections(), 0);
    assert_eq!(h.next_deadline(), None);
}

#[test]
fn binding_a_taken_or_invalid_port_fails_with_gos_words() {
    let h = listener();
    let p = port(&h);
    let e = Health::bind(&settings(None, i64::from(p))).err().unwrap();
    assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
    assert_eq!(
        e.to_string(),
        format!("listen tcp :{p}: bind: address already in use")
    );
    let local = Some(IpAddr::from(Ipv4Addr::LOCALHOST));
    let e = Health::bind(&settings(local, i64::from(p))).err().unwrap();
    assert_eq!(
        e.to_string(),
        format!("listen tcp 127.0.0.1:{p}: bind: address already in use")
    );
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is no address of this host.
    let e = Health::bind(&settings(Some("192.0.2.1".parse().unwrap()), 0))
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "listen tcp 192.0.2.1:0: bind: cannot assign requested address"
    );
    for bad in [70000, -1] {
        let e = Health::bind(&settings(None, bad)).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
        assert_eq!(
            e.to_string(),
            format!("listen tcp: address {bad}: invalid port")
        );
        let v6 = Some(IpAddr::from(Ipv6Addr::LOCALHOST));
        let e = Health::bind(&settings(v6, bad)).err().unwrap();
        assert_eq!(
            e.to_string(),
            format!("listen tcp: address [::1]:{bad}: invalid port")
        );
    }
}

#[test]
fn bind_address_listens_on_that_address_only() {
    let mut h = Health::bind(&settings(Some(IpAddr::from(Ipv4Addr::LOCALHOST)), 0)).unwrap();
    let addr = h.local_addr().unwrap();
    assert_eq!(addr.ip(), IpAddr::from(Ipv4Addr::LOCALHOST));
    let got = with_client(&mut h, &ready(), |p| {
        raw_exchange(p, b"GET /ready HTTP/1.1\r\n\r\n")
    });
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    // The IPv6 loopback, which the default dual-stack listener serves, is refused.
    if let Ok(any) = TcpListener::bind(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 0, 0, 0)) {
        drop(any);
        let e = TcpStream::connect(SocketAddrV6::new(Ipv6Addr::LOCALHOST, addr.port(), 0, 0))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    }
}
