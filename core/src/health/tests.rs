use super::*;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

const GET_READY: &[u8] = b"GET /ready HTTP/1.1\r\nHost: localhost:8081\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\n\r\n";

fn req(buf: &[u8]) -> Request<'_> {
    match parse(buf, MAX_HEAD) {
        Ok(Head::Complete(r)) => r,
        other => panic!("{:?}: {other:?}", core::str::from_utf8(buf)),
    }
}

fn err(buf: &[u8]) -> RequestError {
    match parse(buf, MAX_HEAD) {
        Err(e) => e,
        other => panic!("{:?}: {other:?}", core::str::from_utf8(buf)),
    }
}

// --- parser -------------------------------------------------------------------------------

#[test]
fn parses_a_probe_request() {
    let r = req(GET_READY);
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/ready");
    assert_eq!(r.minor_version, 1);
    assert_eq!(r.head_len, GET_READY.len());
    assert!(!r.is_head());
}

#[test]
fn head_len_stops_at_the_empty_line_and_a_body_is_left_alone() {
    let mut buf = b"POST /live HTTP/1.1\r\nContent-Length: 5\r\n\r\n".to_vec();
    let head = buf.len();
    buf.extend_from_slice(b"hello");
    let r = req(&buf);
    assert_eq!((r.method, r.path, r.head_len), ("POST", "/live", head));
}

#[test]
fn strips_the_query_and_reads_absolute_and_asterisk_targets() {
    assert_eq!(req(b"GET /ready?x=1&y HTTP/1.1\r\n\r\n").path, "/ready");
    assert_eq!(req(b"GET /ready? HTTP/1.1\r\n\r\n").path, "/ready");
    assert_eq!(
        req(b"GET http://h:8081/live?a HTTP/1.1\r\n\r\n").path,
        "/live"
    );
    assert_eq!(req(b"GET http://h:8081 HTTP/1.1\r\n\r\n").path, "/");
    assert_eq!(req(b"OPTIONS * HTTP/1.1\r\n\r\n").path, "*");
    // The path is taken as sent: no decoding, no cleaning.
    assert_eq!(req(b"GET /re%61dy HTTP/1.1\r\n\r\n").path, "/re%61dy");
    assert_eq!(req(b"GET //ready HTTP/1.1\r\n\r\n").path, "//ready");
}

#[test]
fn accepts_bare_lf_http_1_0_and_other_1_x_minors() {
    let r = req(b"HEAD /live HTTP/1.0\nHost: x\n\n");
    assert_eq!((r.method, r.minor_version, r.head_len), ("HEAD", 0, 29));
    assert!(r.is_head());
    assert_eq!(req(b"GET / HTTP/1.2\r\n\r\n").minor_version, 2);
    // No headers at all.
    assert_eq!(req(b"GET / HTTP/1.1\r\n\r\n").head_len, 18);
}

#[test]
fn refuses_malformed_request_lines() {
    for bad in [
        &b"\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET /ready\r\n\r\n",
        b"GET /ready HTTP/1.1 extra\r\n\r\n",
        b"GET  /ready HTTP/1.1\r\n\r\n",
        b" GET /ready HTTP/1.1\r\n\r\n",
        b"G(T /ready HTTP/1.1\r\n\r\n",
        b"GET /re\x01dy HTTP/1.1\r\n\r\n",
        b"GET /re\x7fdy HTTP/1.1\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\n\r\n",
        b"GET ready HTTP/1.1\r\n\r\n",
        b"GET 1http://h/ready HTTP/1.1\r\n\r\n",
        b"GET /ready HTTP/11\r\n\r\n",
        b"GET /ready http/1.1\r\n\r\n",
        b"GET /ready HTTP/1.x\r\n\r\n",
        b"GET /ready HTTP/1.1 \r\n\r\n",
    ] {
        assert_eq!(
            err(bad),
            RequestError::BadRequestLine,
            "{:?}",
            core::str::from_utf8(bad)
        );
    }
}

#[test]
fn refuses_other_major_versions_with_505() {
    assert_eq!(
        err(b"GET /ready HTTP/2.0\r\n\r\n"),
        RequestError::UnsupportedVersion
    );
    assert_eq!(
        err(b"GET /ready HTTP/0.9\r\n\r\n"),
        RequestError::UnsupportedVersion
    );
    assert_eq!(RequestError::UnsupportedVersion.status(), 505);
}

#[test]
fn a_malformed_line_is_refused_with_400_before_its_version_with_505() {
    // Go's order (`readRequest` checks the method, version syntax and target before the
    // server answers 505); the parser before httparse looked at the version first.
    for bad in [
        &b"G(T /ready HTTP/2.0\r\n\r\n"[..],
        b"GET /re\x01dy HTTP/2.0\r\n\r\n",
        b"GET ready HTTP/2.0\r\n\r\n",
    ] {
        assert_eq!(
            err(bad),
            RequestError::BadRequestLine,
            "{:?}",
            core::str::from_utf8(bad)
        );
    }
}

#[test]
fn refuses_malformed_header_lines() {
    for bad in [
        &b"GET / HTTP/1.1\r\nHost\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET / HTTP/1.1\r\n: x\r\n\r\n",
        b"GET / HTTP/1.1\r\n Host: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
    ] {
        assert_eq!(
            err(bad),
            RequestError::BadHeader,
            "{:?}",
            core::str::from_utf8(bad)
        );
    }
    // HTAB and bytes past ASCII are allowed in values.
    assert_eq!(req(b"GET / HTTP/1.1\r\nX:\ta\xc3\xa9\r\n\r\n").path, "/");
}

#[test]
fn reports_partial_until_the_empty_line() {
    for n in 0..GET_READY.len() {
        assert_eq!(parse(&GET_READY[..n], MAX_HEAD), Ok(Head::Partial), "{n}");
    }
}

#[test]
fn finds_a_bad_request_line_before_the_head_ends() {
    assert_eq!(
        parse(b"GET /ready HTTP/9\r\nHost: x\r\n", MAX_HEAD),
        Err(RequestError::BadRequestLine)
    );
    assert_eq!(
        parse(b"GET / HTTP/1.1\r\nno colon\r\n", MAX_HEAD),
        Err(RequestError::BadHeader)
    );
}

#[test]
fn the_limit_is_exact() {
    let head = b"GET / HTTP/1.1\r\nX: abc\r\n\r\n";
    assert!(matches!(parse(head, head.len()), Ok(Head::Complete(_))));
    assert_eq!(parse(head, head.len() - 1), Err(RequestError::TooLarge));
    // A partial head that fills the limit can never complete within it.
    assert_eq!(parse(&head[..10], 10), Err(RequestError::TooLarge));
    assert_eq!(parse(&head[..9], 10), Ok(Head::Partial));
    assert_eq!(RequestError::TooLarge.status(), 431);
}

#[test]
fn endless_headers_are_too_large() {
    let mut buf = b"GET /ready HTTP/1.1\r\n".to_vec();
    while buf.len() <= MAX_HEAD {
        buf.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    assert_eq!(parse(&buf, MAX_HEAD), Err(RequestError::TooLarge));
    // One line longer than the limit, with no newline at all.
    assert_eq!(
        parse(&vec![b'A'; MAX_HEAD + 1], MAX_HEAD),
        Err(RequestError::TooLarge)
    );
}

#[test]
fn reader_byte_by_byte_matches_parse() {
    let mut r = RequestReader::new(MAX_HEAD);
    for (i, b) in GET_READY.iter().enumerate() {
        let st = r.feed(core::slice::from_ref(b)).unwrap();
        if i + 1 < GET_READY.len() {
            assert_eq!(st, Head::Partial, "{i}");
        } else {
            assert_eq!(st, Head::Complete(req(GET_READY)));
        }
    }
    assert_eq!(r.space(), 0);
    // Further bytes (a body) are ignored and the result stays.
    assert_eq!(r.feed(b"more").unwrap(), Head::Complete(req(GET_READY)));
    assert_eq!(r.buffered(), GET_READY.len());
}

#[test]
fn reader_never_holds_more_than_its_limit() {
    let mut r = RequestReader::new(MAX_HEAD);
    assert_eq!(r.space(), MAX_HEAD);
    r.feed(b"GET / HTTP/1.1\r\n").unwrap();
    let chunk = [b'x'; 4096];
    let mut result = Ok(());
    for _ in 0..256 {
        // 1 MiB in all.
        result = r.feed(&chunk).map(|_| ());
        assert!(r.buffered() <= MAX_HEAD);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(RequestError::TooLarge));
    assert_eq!(r.buffered(), MAX_HEAD);
    assert_eq!(r.space(), 0);
    // The error sticks.
    assert_eq!(r.feed(b"\r\n\r\n").map(|_| ()), Err(RequestError::TooLarge));
}

#[test]
fn reader_reports_errors_early_and_keeps_them() {
    let mut r = RequestReader::new(MAX_HEAD);
    assert_eq!(r.feed(b"GET /x HTTP/1.1 junk"), Ok(Head::Partial));
    assert_eq!(r.feed(b"\r\n"), Err(RequestError::BadRequestLine));
    assert_eq!(r.space(), 0);
    assert_eq!(r.feed(b"\r\n"), Err(RequestError::BadRequestLine));
}

// --- model --------------------------------------------------------------------------------

fn full_state() -> HealthState {
    HealthState::new(true, ["certs/jwt_svid.token", "certs/jwt_bundle.json"])
}

#[test]
fn starts_unwritten_live_and_not_ready() {
    let s = full_state();
    assert_eq!(s.x509, Some(WriteStatus::Unwritten));
    assert!(s.jwt.values().all(|&v| v == WriteStatus::Unwritten));
    assert!(s.is_live());
    assert!(!s.is_ready());
}

#[test]
fn ready_when_every_entry_is_written() {
    let mut s = full_state();
    s.record_x509(true);
    s.record_jwt("certs/jwt_bundle.json", true);
    assert!(!s.is_ready());
    s.record_jwt("certs/jwt_svid.token", true);
    assert!(s.is_ready() && s.is_live());
}

#[test]
fn a_failed_entry_is_not_live_until_written_again() {
    let mut s = full_state();
    s.record_x509(true);
    s.record_jwt("certs/jwt_bundle.json", true);
    s.record_jwt("certs/jwt_svid.token", false);
    assert!(!s.is_live() && !s.is_ready());
    s.record_jwt("certs/jwt_svid.token", true);
    assert!(s.is_live() && s.is_ready());
    s.record_x509(false);
    assert_eq!(s.x509, Some(WriteStatus::Failed));
    assert!(!s.is_live() && !s.is_ready());
}

#[test]
fn an_empty_state_is_live_but_never_ready() {
    // Upstream issue #423: upstream reports ready with nothing to write.
    let s = HealthState::new(false, core::iter::empty::<&str>());
    assert!(s.is_live());
    assert!(!s.is_ready());
}

#[test]
fn x509_is_recorded_only_when_configured() {
    let mut s = HealthState::new(false, ["a.jwt"]);
    s.record_x509(true);
    assert_eq!(s.x509, None);
    s.record_jwt("a.jwt", true);
    assert!(s.is_ready());
}

#[test]
fn a_lost_agent_or_expired_file_is_not_ready_but_live() {
    let mut s = full_state();
    s.record_x509(true);
    s.record_jwt("certs/jwt_bundle.json", true);
    s.record_jwt("certs/jwt_svid.token", true);
    s.agent_connected_recently = false;
    assert!(s.is_live() && !s.is_ready());
    s.agent_connected_recently = true;
    s.files_expired = true;
    assert!(s.is_live() && !s.is_ready());
    s.files_expired = false;
    assert!(s.is_ready());
}

#[test]
fn equal_jwt_paths_share_one_entry_and_new_paths_are_added() {
    let mut s = HealthState::new(false, ["x", "x"]);
    assert_eq!(s.jwt.len(), 1);
    s.record_jwt("y", false);
    assert_eq!(s.jwt.get("y"), Some(&WriteStatus::Failed));
}

fn json(s: &HealthState, ok: bool) -> String {
    let mut out = Vec::new();
    s.write_json(ok, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn json_body_is_upstreams() {
    let mut s = full_state();
    s.record_x509(true);
    s.record_jwt("certs/jwt_bundle.json", true);
    assert_eq!(
        json(&s, false),
        r#"{"status":"Service Unavailable","health":{"file_write_statuses":{"x509_write_status":"written","jwt_write_status":{"certs/jwt_bundle.json":"written","certs/jwt_svid.token":"unwritten"}}}}"#
    );
    assert_eq!(
        json(&HealthState::new(false, ["b", "a"]), true),
        r#"{"status":"OK","health":{"file_write_statuses":{"jwt_write_status":{"a":"unwritten","b":"unwritten"}}}}"#
    );
    assert_eq!(
        json(&HealthState::new(true, core::iter::empty::<&str>()), true),
        r#"{"status":"OK","health":{"file_write_statuses":{"x509_write_status":"unwritten","jwt_write_status":{}}}}"#
    );
}

#[test]
fn json_keys_are_escaped_as_go_does() {
    let s = HealthState::new(false, ["a\"b\\c\n\t\u{1}<>&\u{2028}é\u{8}\u{c}\r"]);
    assert_eq!(
        json(&s, true),
        "{\"status\":\"OK\",\"health\":{\"file_write_statuses\":{\"jwt_write_status\":{\
         \"a\\\"b\\\\c\\n\\t\\u0001\\u003c\\u003e\\u0026\\u2028é\\b\\f\\r\":\"unwritten\"}}}}"
    );
}

#[test]
fn json_keys_sort_bytewise() {
    let s = HealthState::new(false, ["b", "B", "a/b", "a", "é"]);
    let body = json(&s, true);
    let order: Vec<usize> = ["\"B\"", "\"a\"", "\"a/b\"", "\"b\"", "\"é\""]
        .iter()
        .map(|k| body.find(k).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{body}");
}

// --- responses ----------------------------------------------------------------------------

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

fn respond(raw: &[u8], s: &HealthState) -> String {
    text(render_response(&req(raw), s, "/live", "/ready"))
}

#[test]
fn ready_and_unready_responses_are_exact() {
    let mut s = HealthState::new(true, core::iter::empty::<&str>());
    let body_503 = r#"{"status":"Service Unavailable","health":{"file_write_statuses":{"x509_write_status":"unwritten","jwt_write_status":{}}}}"#;
    assert_eq!(
        respond(b"GET /ready HTTP/1.1\r\n\r\n", &s),
        format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body_503}",
            body_503.len()
        )
    );
    s.record_x509(true);
    let body_200 = r#"{"status":"OK","health":{"file_write_statuses":{"x509_write_status":"written","jwt_write_status":{}}}}"#;
    assert_eq!(
        respond(b"GET /ready HTTP/1.1\r\n\r\n", &s),
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body_200}",
            body_200.len()
        )
    );
}

#[test]
fn liveness_and_readiness_differ_only_in_status() {
    let s = full_state(); // live, not ready
    let live = respond(b"GET /live HTTP/1.1\r\n\r\n", &s);
    let ready = respond(b"GET /ready HTTP/1.1\r\n\r\n", &s);
    assert!(live.starts_with("HTTP/1.1 200 OK\r\n"), "{live}");
    assert!(
        ready.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{ready}"
    );
    assert!(live.ends_with(&json(&s, true)));
    assert!(ready.ends_with(&json(&s, false)));
}

#[test]
fn head_gets_the_headers_without_a_body() {
    let s = full_state();
    let get = respond(b"GET /live HTTP/1.1\r\n\r\n", &s);
    let head = respond(b"HEAD /live HTTP/1.1\r\n\r\n", &s);
    let (get_head, body) = get.split_once("\r\n\r\n").unwrap();
    assert!(!body.is_empty());
    assert_eq!(head, format!("{get_head}\r\n\r\n"));
    assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
    let nf = respond(b"HEAD /nope HTTP/1.1\r\n\r\n", &s);
    assert!(nf.starts_with("HTTP/1.1 404 Not Found\r\n") && nf.ends_with("\r\n\r\n"));
    assert!(nf.contains("Content-Length: 19\r\n"));
}

#[test]
fn any_method_is_answered_on_the_two_paths() {
    let s = full_state();
    for m in ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW"] {
        let r = respond(format!("{m} /live HTTP/1.1\r\n\r\n").as_bytes(), &s);
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{m}: {r}");
    }
}

#[test]
fn other_paths_get_gos_404() {
    let s = full_state();
    let expected = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\
                    X-Content-Type-Options: nosniff\r\nContent-Length: 19\r\n\
                    Connection: close\r\n\r\n404 page not found\n";
    for path in [
        "/", "/Live", "/live/", "/lives", "/ready/x", "*", "/re%61dy",
    ] {
        let r = respond(format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes(), &s);
        assert_eq!(r, expected, "{path}");
    }
    // The query is ignored.
    let r = respond(b"GET /live?verbose=1 HTTP/1.1\r\n\r\n", &s);
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
}

#[test]
fn http_1_0_requests_get_a_1_0_status_line() {
    let s = full_state();
    assert!(respond(b"GET /live HTTP/1.0\r\n\r\n", &s).starts_with("HTTP/1.0 200 OK\r\n"));
}

#[test]
fn configured_paths_are_used() {
    let s = full_state();
    let r = render_response(
        &req(b"GET /healthz HTTP/1.1\r\n\r\n"),
        &s,
        "/healthz",
        "/readyz",
    );
    assert!(text(r).starts_with("HTTP/1.1 200 OK\r\n"));
    let r = render_response(
        &req(b"GET /live HTTP/1.1\r\n\r\n"),
        &s,
        "/healthz",
        "/readyz",
    );
    assert!(text(r).starts_with("HTTP/1.1 404 Not Found\r\n"));
}

#[test]
fn error_responses_are_exact() {
    assert_eq!(
        text(render_error(RequestError::TooLarge)),
        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 35\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large"
    );
    assert_eq!(
        text(render_error(RequestError::BadHeader)),
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 15\r\nConnection: close\r\n\r\n400 Bad Request"
    );
    let v = text(render_error(RequestError::UnsupportedVersion));
    assert!(
        v.starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"),
        "{v}"
    );
    assert!(v.ends_with("\r\n\r\n505 HTTP Version Not Supported: unsupported protocol version"));
    assert_eq!(RequestError::BadHeader.to_string(), "malformed header line");
}

// --- fuzz-style ---------------------------------------------------------------------------

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Checks every invariant on one input: no panic, the reader (fed in random chunks) agrees
/// with `parse`, nothing is buffered past the limit, a complete head is within the limit and
/// the input, and its response renders.
fn check(input: &[u8], limit: usize, rng: &mut Rng, state: &HealthState) {
    let direct = parse(input, limit);
    let mut reader = RequestReader::new(limit);
    let mut fed = 0;
    while fed < input.len() {
        let n = 1 + rng.below(64).min(input.len() - fed - 1);
        let partial = reader.feed(&input[fed..fed + n]) == Ok(Head::Partial);
        assert!(reader.buffered() <= limit);
        fed += n;
        if !partial {
            break;
        }
    }
    let last = reader.feed(&[]);
    match (direct, last) {
        (Ok(Head::Complete(a)), Ok(Head::Complete(b))) => {
            assert_eq!(a, b);
            assert!(a.head_len <= limit && a.head_len <= input.len());
            assert!(a.path.starts_with('/') || a.path == "*");
            let out = render_response(&a, state, "/live", "/ready");
            assert!(out.starts_with(b"HTTP/1."));
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "{input:?}");
            assert!(render_error(a).starts_with(b"HTTP/1.1 "));
        }
        (a, b) => assert_eq!(a, b, "{input:?}"),
    }
}

#[test]
fn fuzz_random_and_mutated_inputs_never_panic_and_agree() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let state = full_state();
    let alphabet = b"GETHAD /?:\r\n\t HTTP/1.0x\x00\xff\xc3\xa9*%";
    let seeds: [&[u8]; 5] = [
        GET_READY,
        b"HEAD /live?x HTTP/1.0\nA: b\n\n",
        b"GET http://h/ready HTTP/1.1\r\n\r\nbody",
        b"OPTIONS * HTTP/1.1\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
    ];
    for round in 0..20_000 {
        let limit = if round % 3 == 0 {
            1 + rng.below(96)
        } else {
            MAX_HEAD
        };
        let mut input: Vec<u8> = match round % 4 {
            // Pure noise from a biased alphabet.
            0 => (0..rng.below(200))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect(),
            // Uniform bytes.
            1 => (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
            // A seed, truncated.
            2 => {
                let s = seeds[rng.below(seeds.len())];
                s[..rng.below(s.len() + 1)].to_vec()
            }
            // A seed with a few bytes replaced, inserted or removed.
            _ => {
                let mut s = seeds[rng.below(seeds.len())].to_vec();
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(s.len() + 1);
                    match rng.below(3) {
                        0 if at < s.len() => s[at] = alphabet[rng.below(alphabet.len())],
                        1 => s.insert(at, rng.next() as u8),
                        _ if at < s.len() => {
                            s.remove(at);
                        }
                        _ => {}
                    }
                }
                s
            }
        };
        check(&input, limit, &mut rng, &state);
        input.truncate(rng.below(input.len() + 1));
        check(&input, limit, &mut rng, &state);
    }
}

// --- metrics path ---------------------------------------------------------------------------

#[test]
fn the_metrics_path_is_answered_with_the_text_format_and_only_when_set() {
    let body = || b"spiffe_helper_agent_connected 1\n".to_vec();
    let get = req(b"GET /metrics?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    let response = render_metrics(&get, "/metrics", body).unwrap();
    assert_eq!(
        response,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
          Content-Length: 32\r\nConnection: close\r\n\r\nspiffe_helper_agent_connected 1\n"
    );
    // HEAD: the same headers, no body.
    let head = req(b"HEAD /metrics HTTP/1.0\r\n\r\n");
    let response = render_metrics(&head, "/metrics", body).unwrap();
    assert!(response.starts_with(b"HTTP/1.0 200 OK\r\n"));
    assert!(response.ends_with(b"Content-Length: 32\r\nConnection: close\r\n\r\n"));
    // Off (empty) or another path: not answered here, and the body is never rendered.
    let never = || -> Vec<u8> { panic!("rendered for a path that is not the metrics path") };
    assert_eq!(render_metrics(&get, "", never), None);
    assert_eq!(render_metrics(&req(GET_READY), "/metrics", never), None);
    assert_eq!(render_metrics(&get, "/metrics/", never), None);
}

#[test]
fn x509_svids_entries_have_their_own_member_and_count_for_readiness() {
    let mut s = HealthState::new(true, ["certs/jwt_bundle.json"]);
    s.record_x509(true);
    s.record_jwt("certs/jwt_bundle.json", true);
    assert!(s.is_ready());
    s.record_x509_svid("web", true);
    s.record_x509_svid("db", false);
    assert!(!s.is_ready() && !s.is_live());
    assert_eq!(
        json(&s, false),
        r#"{"status":"Service Unavailable","health":{"file_write_statuses":{"x509_write_status":"written","x509_svids_write_status":{"db":"failed","web":"written"},"jwt_write_status":{"certs/jwt_bundle.json":"written"}}}}"#
    );
    s.record_x509_svid("db", true);
    assert!(s.is_ready());
}
