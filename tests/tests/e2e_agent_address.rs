//! `agent_address` and `SPIFFE_ENDPOINT_SOCKET` in the SPIFFE Workload Endpoint forms
//! (`standards/SPIFFE_Workload_Endpoint.md` §4): the helper fetches over loopback TCP from
//! the dev agent, and refuses the forms the specification rules out at start, exit 1.

use std::time::Duration;

use svid_tests::harness::platform::skip;
use svid_tests::{
    DevAgent, Helper, PATIENCE, SvidFiles, free_port, helper_dir, http_get, wait_until, x509_config,
};

const UPDATED: &str = "X.509 certificates updated";

#[test]
fn daemon_fetches_and_writes_through_a_tcp_agent_address() {
    let agent = DevAgent::start(&["--tcp", "127.0.0.1:0", "--rotate-every", "1s"]);
    let address = agent.tcp_address();
    assert!(address.starts_with("tcp://127.0.0.1:"), "{address}");
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &x509_config(&address, &certs, ""), &[]);
    // Two updates: the first SVID, then a rotation pushed on the same TCP stream.
    assert!(
        helper.wait_for_logs(UPDATED, 2, PATIENCE),
        "{}",
        helper.logs()
    );
    let files = SvidFiles::in_dir(&certs);
    files.verify_chain().unwrap();
    files.key_matches_leaf().unwrap();
    assert_eq!(
        files.leaf_uri_sans().unwrap(),
        ["spiffe://example.org/workload"]
    );
    let issued: Vec<String> = agent.issued().into_iter().map(|i| i.serial_hex).collect();
    assert!(
        issued.contains(&files.leaf_serial().unwrap()),
        "the written SVID is one the agent issued"
    );
}

#[test]
fn a_refused_tcp_connect_is_retried_until_the_agent_listens() {
    let port = free_port();
    let address = format!("tcp://127.0.0.1:{port}");
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &x509_config(&address, &certs, ""), &[]);
    // The non-blocking connect is over once the socket polls ready; its SO_ERROR names the
    // dial. Logged, retried with backoff.
    let refused = format!("connection error: dial tcp 127.0.0.1:{port}: Connection refused");
    assert!(helper.wait_for_log(&refused, PATIENCE), "{}", helper.logs());
    let listen = format!("127.0.0.1:{port}");
    let _agent = DevAgent::start(&["--tcp", &listen]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    SvidFiles::in_dir(&certs).verify_chain().unwrap();
}

#[test]
fn an_ipv6_literal_in_brackets_is_dialled() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        skip("an_ipv6_literal_in_brackets_is_dialled", "no IPv6 loopback");
        return;
    }
    let agent = DevAgent::start(&["--tcp", "[::1]:0"]);
    let address = agent.tcp_address();
    assert!(address.starts_with("tcp://[::1]:"), "{address}");
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &x509_config(&address, &certs, ""), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    SvidFiles::in_dir(&certs).key_matches_leaf().unwrap();
}

#[test]
fn one_shot_takes_a_tcp_address_from_spiffe_endpoint_socket() {
    let agent = DevAgent::start(&["--tcp", "127.0.0.1:0"]);
    let address = agent.tcp_address();
    let (dir, certs) = helper_dir();
    let config =
        x509_config("", &certs, "daemon_mode = false").replace("agent_address = \"\"\n", "");
    let mut helper = Helper::start_in_with_env(
        dir,
        &config,
        &[],
        &[("SPIFFE_ENDPOINT_SOCKET", address.as_str())],
    );
    let status = helper.wait_exit(PATIENCE).expect("one-shot exits");
    assert_eq!(status.code(), Some(0), "{}", helper.logs());
    let files = SvidFiles::in_dir(&certs);
    files.verify_chain().unwrap();
    assert_eq!(files.leaf_serial().unwrap(), agent.issued()[0].serial_hex);
}

#[test]
fn forms_the_specification_rules_out_are_refused_at_start() {
    let cases = [
        (
            "tcp://localhost:8081",
            "tcp URI host must be an IP address (v4, or v6 in brackets), not a name",
        ),
        (
            "tcp://127.0.0.1:8081/agent",
            "tcp URI must not have userinfo, a path, a query or a fragment",
        ),
        (
            "tcp://127.0.0.1",
            "tcp URI must have a port from 1 to 65535",
        ),
        (
            "tcp:127.0.0.1:8081",
            "tcp URI must have the form tcp://IP:PORT",
        ),
        (
            "http://127.0.0.1:8081",
            "scheme \\\"http\\\" is not supported: the SPIFFE Workload Endpoint scheme must be unix or tcp",
        ),
    ];
    for (address, needle) in cases {
        for via_env in [false, true] {
            let (dir, certs) = helper_dir();
            let config = x509_config(address, &certs, "");
            let (config, env) = if via_env {
                let config = config.replace(&format!("agent_address = \"{address}\"\n"), "");
                (config, vec![("SPIFFE_ENDPOINT_SOCKET", address)])
            } else {
                (config, vec![])
            };
            let mut helper = Helper::start_in_with_env(dir, &config, &[], &env);
            let status = helper.wait_exit(PATIENCE).expect("refused at start");
            assert_eq!(status.code(), Some(1), "{address}: {}", helper.logs());
            assert!(
                helper.wait_for_log(needle, PATIENCE),
                "{address} (env: {via_env}): {}",
                helper.logs()
            );
            assert!(!certs.join("svid.pem").exists(), "nothing written");
        }
    }
}

/// SIGTERM stops the daemon with status 0, whatever its dial is doing.
fn stops_on_sigterm(helper: &mut Helper) {
    helper.terminate();
    let status = helper
        .wait_exit(PATIENCE)
        .expect("SIGTERM stops the helper");
    assert_eq!(status.code(), Some(0), "{}", helper.logs());
}

/// An agent socket whose listener never accepts and whose accept backlog is full. A
/// blocking connect(2) waits for room there, for ever; a non-blocking one fails with
/// `EAGAIN` (connect(2), ERRORS). The helper dials without blocking, so while its dials fail
/// and are retried it still answers its health probe and stops on SIGTERM (status 0, as a
/// daemon stopped by SIGTERM). With the blocking dial, the loop never got to either.
#[test]
fn a_full_accept_backlog_stalls_neither_the_probes_nor_sigterm() {
    use rustix::io::Errno;
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let (dir, certs) = helper_dir();
    let path = dir.path().join("agent.sock");
    let addr = SocketAddrUnix::new(path.as_path()).unwrap();
    let stream = || {
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None).unwrap()
    };
    let listener = stream();
    rustix::net::bind(&listener, &addr).unwrap();
    rustix::net::listen(&listener, 0).unwrap();
    let mut queued = Vec::new();
    loop {
        let client = stream();
        match rustix::net::connect(&client, &addr) {
            Ok(()) => queued.push(client),
            Err(Errno::AGAIN) => break,
            Err(e) => panic!("connect {}: {e}", path.display()),
        }
    }
    assert!(!queued.is_empty(), "the backlog holds a connection");

    let port = free_port();
    let extra = format!(
        "health_checks {{\n  listener_enabled = true\n  bind_port = {port}\n  \
         bind_address = \"127.0.0.1\"\n}}"
    );
    let address = path.display().to_string();
    let mut helper = Helper::start_in(dir, &x509_config(&address, &certs, &extra), &[]);
    let answered = wait_until(PATIENCE, || {
        http_get(port, "/live").is_some_and(|(code, _)| code == 200)
    });
    assert!(answered, "liveness unanswered:\n{}", helper.logs());
    assert_eq!(
        http_get(port, "/ready").map(|(code, _)| code),
        Some(503),
        "nothing is written"
    );
    let dial_failed = format!(
        "dial unix {}: Resource temporarily unavailable",
        path.display()
    );
    assert!(
        helper.wait_for_logs(&dial_failed, 2, PATIENCE),
        "the dial is retried:\n{}",
        helper.logs()
    );
    stops_on_sigterm(&mut helper);
    assert!(!certs.join("svid.pem").exists());
    drop((listener, queued));
}

/// A TCP listener whose accept queue is full drops the helper's SYN, so its connect stays in
/// progress (retransmitted SYNs) for minutes. The session is told `connected` at the dial,
/// so its 20 s handshake deadline bounds the connect too: the dial is given up, logged and
/// made again.
#[test]
fn a_tcp_connect_that_never_completes_ends_at_the_handshake_deadline() {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let listener = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    rustix::net::bind(
        &listener,
        &"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap(),
    )
    .unwrap();
    rustix::net::listen(&listener, 0).unwrap();
    let addr = std::net::TcpListener::from(listener);
    let port = addr.local_addr().unwrap().port();
    // The one connection a backlog of 0 takes; the queue is full from then on.
    let _queued = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (dir, certs) = helper_dir();
    let address = format!("tcp://127.0.0.1:{port}");
    let mut helper = Helper::start_in(dir, &x509_config(&address, &certs, ""), &[]);
    assert!(
        helper.wait_for_logs(
            "the server sent no HTTP/2 SETTINGS in time",
            1,
            Duration::from_secs(70)
        ),
        "{}",
        helper.logs()
    );
    assert!(
        !helper.logs().contains("Connection refused"),
        "{}",
        helper.logs()
    );
    stops_on_sigterm(&mut helper);
}
