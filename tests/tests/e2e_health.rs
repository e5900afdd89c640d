//! End-to-end: the health listener of the real binary, queried with Python's `http.client`.
//! Upstream's endpoints and JSON body, and our honest readiness: not ready before every
//! output is written, not ready again once a file on disk has expired (the agent gone).

use svid_tests::{
    DevAgent, Helper, PATIENCE, free_port, helper_dir, http_get as get, wait_until, x509_config,
};

#[test]
fn health_reports_upstreams_body_and_readiness_follows_the_files() {
    let mut agent = DevAgent::start(&["--ttl", "4s", "--rotate-every", "2s", "--jwt-ttl", "4s"]);
    let (dir, certs) = helper_dir();
    let port = free_port();
    let extra = format!(
        "jwt_bundle_file_name = \"jwt_bundle.json\"\n\
         jwt_svids = [{{ jwt_audience = \"svc\", jwt_svid_file_name = \"svc.token\" }}]\n\
         health_checks {{\n  listener_enabled = true\n  bind_port = {port}\n\
           liveness_path = \"/alive\"\n  readiness_path = \"/ready\"\n}}"
    );
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    let body_ok = format!(
        "{{\"status\":\"OK\",\"health\":{{\"file_write_statuses\":{{\"x509_write_status\":\"written\",\
         \"jwt_write_status\":{{\"{c}/jwt_bundle.json\":\"written\",\"{c}/svc.token\":\"written\"}}}}}}}}",
        c = certs.display()
    );
    assert!(
        wait_until(PATIENCE, || get(port, "/ready")
            == Some((200, body_ok.clone()))),
        "ready never reported: {:?}\n{}",
        get(port, "/ready"),
        helper.logs()
    );
    assert_eq!(get(port, "/alive"), Some((200, body_ok.clone())));
    assert_eq!(
        get(port, "/other"),
        Some((404, "404 page not found\n".to_owned()))
    );
    assert!(helper.logs().contains("Starting health server"));

    // The agent goes away: within the SVID's 4 s the files on disk expire, and readiness
    // says so while liveness (no failed write) stays up.
    agent.kill();
    let not_ready = body_ok.replace("\"status\":\"OK\"", "\"status\":\"Service Unavailable\"");
    assert!(
        wait_until(PATIENCE, || get(port, "/ready")
            == Some((503, not_ready.clone()))),
        "{:?}\n{}",
        get(port, "/ready"),
        helper.logs()
    );
    assert_eq!(get(port, "/alive"), Some((200, body_ok)));
}

/// `bind_address` and `read_header_timeout` (ours): the listener answers on that address
/// only, a client that starts a head and stalls is closed once the timeout has passed since
/// its first byte (long before the 5 s a silent connection gets), a taken address is
/// reported with Go's words naming it, and a value that is no IP address is refused at
/// start.
#[test]
fn bind_address_and_read_header_timeout_are_applied() {
    use std::io::{Read, Write};
    use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let port = free_port();
    let extra = format!(
        "health_checks {{\n  listener_enabled = true\n  bind_port = {port}\n\
           bind_address = \"127.0.0.1\"\n  read_header_timeout = \"300ms\"\n}}"
    );
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    assert!(
        wait_until(PATIENCE, || get(port, "/ready")
            .is_some_and(|(c, _)| c == 200)),
        "{}",
        helper.logs()
    );
    // The IPv6 loopback, which the default dual-stack listener serves, is not listened on.
    if TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok() {
        let v6 = TcpStream::connect(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
        assert!(v6.is_err(), "[::1]:{port} answered");
    }
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stalled.write_all(b"GET /ready HTTP/1.1\r\n").unwrap();
    let sent = Instant::now();
    stalled
        .set_read_timeout(Some(Duration::from_secs(4)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        stalled.read(&mut buf).map_err(|e| e.kind()),
        Ok(0),
        "closed without a response before the 5 s a silent connection gets"
    );
    assert!(sent.elapsed() >= Duration::from_millis(300));

    // A second helper on the same address and port: Go's listen error with the address.
    let (dir2, certs2) = helper_dir();
    let second = Helper::start_in(dir2, &x509_config(&agent.address(), &certs2, &extra), &[]);
    let words = format!("listen tcp 127.0.0.1:{port}: bind: address already in use");
    assert!(second.wait_for_log(&words, PATIENCE), "{}", second.logs());
    assert!(second.logs().contains("Error serving health checks"));

    let (dir3, certs3) = helper_dir();
    let bad = "health_checks {\n  listener_enabled = true\n  bind_address = \"localhost\"\n}";
    let mut refused = Helper::start_in(dir3, &x509_config(&agent.address(), &certs3, bad), &[]);
    let status = refused.wait_exit(PATIENCE).expect("the helper exits");
    assert_eq!(status.code(), Some(1), "{}", refused.logs());
    assert!(
        refused
            .logs()
            .contains(r#"health_checks.bind_address \"localhost\" is not an IP address"#),
        "{}",
        refused.logs()
    );
}
