//! End-to-end: `-healthcheck live|ready`, the exec probe of a `FROM scratch` image, run as
//! the real binary against a running helper (ready, then not ready), against a port nobody
//! listens on (fails at once), and against a server that accepts and never answers (fails at
//! the deadline). Build the binaries first: `cargo build --workspace --bins`.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use svid_tests::{
    DevAgent, Helper, PATIENCE, free_port, helper_dir, http_get, run_helper, wait_until,
    x509_config,
};

/// Runs `spiffe-helper -config <conf> -healthcheck <args>`: exit code, stderr and how long it
/// took.
fn probe(conf: &Path, args: &[&str]) -> (Option<i32>, String, Duration) {
    let conf = conf.to_str().unwrap();
    let args: Vec<&str> = ["-config", conf, "-healthcheck"]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    let start = Instant::now();
    let (code, _, stderr) = run_helper(Path::new("/"), &args, &[]);
    (code, stderr, start.elapsed())
}

fn health(port: u16) -> String {
    format!("health_checks {{\n  listener_enabled = true\n  bind_port = {port}\n}}")
}

#[test]
fn a_ready_helper_passes_and_a_waiting_one_fails_readiness_only() {
    let agent = DevAgent::start(&[]);
    let port = free_port();
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(
        dir,
        &x509_config(&agent.address(), &certs, &health(port)),
        &[],
    );
    let conf = helper.dir().join("helper.conf");
    assert!(
        wait_until(PATIENCE, || http_get(port, "/ready")
            .is_some_and(|(s, _)| s == 200)),
        "{}",
        helper.logs()
    );
    for which in ["ready", "live"] {
        let (code, stderr, _) = probe(&conf, &[which]);
        assert_eq!(code, Some(0), "{which}: {stderr}");
        assert_eq!(stderr, "", "a passing probe prints nothing");
    }

    // No agent: the listener answers, live but not ready.
    let port = free_port();
    let (dir, certs) = helper_dir();
    let missing = dir.path().join("no-agent.sock").display().to_string();
    let waiting = Helper::start_in(dir, &x509_config(&missing, &certs, &health(port)), &[]);
    let conf = waiting.dir().join("helper.conf");
    assert!(
        wait_until(PATIENCE, || http_get(port, "/ready")
            .is_some_and(|(s, _)| s == 503)),
        "{}",
        waiting.logs()
    );
    let (code, stderr, _) = probe(&conf, &["ready"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&format!(
            "msg=\"Health check failed\" error=\"http://127.0.0.1:{port}/ready: HTTP 503 \
             Service Unavailable\""
        )),
        "{stderr}"
    );
    assert_eq!(probe(&conf, &["live"]).0, Some(0));
}

/// With `health_checks { bind_address }` the probe asks that address: here the IPv6
/// loopback, where `127.0.0.1` is not served.
#[test]
fn the_probe_asks_the_bind_address() {
    if TcpListener::bind("[::1]:0").is_err() {
        return svid_tests::harness::platform::skip(
            "the_probe_asks_the_bind_address",
            "no IPv6 loopback here",
        );
    }
    let agent = DevAgent::start(&[]);
    let port = free_port();
    let (dir, certs) = helper_dir();
    let extra = format!(
        "health_checks {{\n  listener_enabled = true\n  bind_port = {port}\n  \
         bind_address = \"::1\"\n}}"
    );
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    let conf = helper.dir().join("helper.conf");
    assert!(
        wait_until(PATIENCE, || probe(&conf, &["ready"]).0 == Some(0)),
        "{}\n{}",
        probe(&conf, &["ready"]).1,
        helper.logs()
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "127.0.0.1 is not served"
    );
}

#[test]
fn no_listener_fails_at_once_and_a_silent_one_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("helper.conf");
    let port = free_port();
    std::fs::write(
        &conf,
        format!("jwt_bundle_file_name = \"b.json\"\n{}", health(port)),
    )
    .unwrap();
    // Nobody listens: refused long before a 30 s deadline.
    let (code, stderr, took) = probe(&conf, &["live", "-timeout", "30s"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error=\"http://127.0.0.1:{port}/live: connect to 127.0.0.1:{port}: connection \
             refused\""
        )),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");

    // A server that accepts (the kernel completes the handshake) and never answers.
    let silent = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = silent.local_addr().unwrap().port();
    std::fs::write(
        &conf,
        format!("jwt_bundle_file_name = \"b.json\"\n{}", health(port)),
    )
    .unwrap();
    let (code, stderr, took) = probe(&conf, &["ready"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error=\"http://127.0.0.1:{port}/ready: no answer within 1s\""
        )),
        "{stderr}"
    );
    assert!(
        took >= Duration::from_secs(1),
        "the default deadline is 1 s: {took:?}"
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let (code, stderr, took) = probe(&conf, &["ready", "-timeout", "300ms"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no answer within 300ms"), "{stderr}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    drop(silent);
}

#[test]
fn a_configuration_without_a_listener_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("helper.conf");
    std::fs::write(&conf, "jwt_bundle_file_name = \"b.json\"\n").unwrap();
    let (code, stderr, _) = probe(&conf, &["ready"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("it needs health_checks { listener_enabled = true } and daemon mode"),
        "{stderr}"
    );
    std::fs::write(&conf, "jwt_bundle_file_name = [").unwrap();
    let (code, stderr, _) = probe(&conf, &["ready"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("msg=\"failed to parse configuration\""),
        "{stderr}"
    );
}
