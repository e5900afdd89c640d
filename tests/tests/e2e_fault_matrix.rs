//! The fault matrix (issue 7, point 3), end to end against the real `spiffe-helper` binary:
//! for each fault, what the user sees (the log line), that the helper retries (or exits 1),
//! and that the files already on disk are untouched and still verify with OpenSSL. Protocol
//! faults tonic cannot produce come from [`FaultPeer`], a raw-socket HTTP/2 peer. Build the
//! binary first: `cargo build -p spiffe-helper`.
//!
//! Faults tested elsewhere: the agent not started yet
//! (`e2e::helper_started_before_the_agent_writes_once_it_appears`), a restarted agent with a
//! new CA (`e2e::helper_reconnects_to_a_restarted_agent_with_a_new_ca`), PermissionDenied in
//! one-shot mode (`e2e::one_shot_mode_retries_permission_denied`), a stalled agent
//! (`e2e_faults::a_stalled_agent_never_lets_the_files_expire`).

use std::path::PathBuf;
use std::time::Duration;
use svid_tests::{
    DevAgent, Fault, FaultPeer, Helper, PATIENCE, SvidFiles, helper_dir, wait_until, x509_config,
};
use tempfile::TempDir;

const UPDATED: &str = "X.509 certificates updated";

/// A helper that has written its files from a dev agent on `socket`, the agent now gone.
struct Written {
    _agent_dir: TempDir,
    socket: PathBuf,
    helper: Helper,
    files: SvidFiles,
    before: Vec<Vec<u8>>,
}

impl Written {
    /// Starts an agent, a helper (with `extra` helper.conf lines) that writes its files, then
    /// kills the agent (SIGKILL, its socket left behind as a crash leaves it).
    fn start(agent_args: &[&str], extra: &str) -> Written {
        let agent_dir = tempfile::tempdir().unwrap();
        let socket = agent_dir.path().join("agent.sock");
        let mut agent = DevAgent::start_on(&socket, agent_args);
        let (helper, files) = written_by(&agent, extra);
        files.verify_chain().unwrap();
        let before = contents(&files);
        agent.kill();
        Written {
            _agent_dir: agent_dir,
            socket,
            helper,
            files,
            before,
        }
    }

    /// The files are exactly as written before the fault, and OpenSSL still accepts them.
    fn assert_untouched(&self) {
        assert!(
            contents(&self.files) == self.before,
            "the files changed\n{}",
            self.helper.logs()
        );
        self.files.verify_chain().unwrap();
    }

    /// Waits until the helper has logged `needle` twice (it tried again) and dialled `peer`
    /// at least `dials` times.
    fn wait_retries(&self, peer: &FaultPeer, dials: usize, needle: &str, timeout: Duration) {
        let seen = wait_until(timeout, || {
            peer.connections() >= dials && self.helper.count_logs(needle) >= 2
        });
        assert!(
            seen,
            "{} connections, log {needle:?} seen {} times\n{}",
            peer.connections(),
            self.helper.count_logs(needle),
            self.helper.logs()
        );
    }

    /// A real agent comes back on the socket and the helper writes its new files.
    fn recovers(self) {
        let updates = self.helper.count_logs(UPDATED);
        let agent = DevAgent::start_on(&self.socket, &[]);
        assert!(
            self.helper.wait_for_logs(UPDATED, updates + 1, PATIENCE),
            "{}",
            self.helper.logs()
        );
        let issued = agent.issued();
        assert_eq!(self.files.leaf_serial().unwrap(), issued[0].serial_hex);
        self.files.verify_chain().unwrap();
    }
}

/// A helper (with `extra` helper.conf lines) that has written its files from `agent`.
fn written_by(agent: &DevAgent, extra: &str) -> (Helper, SvidFiles) {
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, extra), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    (helper, SvidFiles::in_dir(&certs))
}

fn contents(files: &SvidFiles) -> Vec<Vec<u8>> {
    [&files.svid, &files.key, &files.bundle]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// One protocol fault: the helper logs `needle`, dials again, keeps the files, and recovers
/// once a real agent is back.
/// `dials`: 2 for a fault that ends the connection, 1 for one that ends only the call (the
/// call is retried on the same connection).
fn protocol_fault(fault: Fault, dials: usize, needle: &str, timeout: Duration) {
    let written = Written::start(&[], "");
    let peer = FaultPeer::start(&written.socket, fault);
    written.wait_retries(&peer, dials, needle, timeout);
    written.assert_untouched();
    drop(peer);
    written.recovers();
}

const SOON: Duration = Duration::from_secs(30);

#[test]
fn goaway_is_logged_and_retried() {
    protocol_fault(Fault::GoAway, 2, "GOAWAY", SOON);
}

#[test]
fn rst_stream_is_logged_and_retried() {
    protocol_fault(
        Fault::RstStream,
        1,
        "code = Internal desc = stream reset by server: INTERNAL_ERROR",
        SOON,
    );
}

#[test]
fn garbage_bytes_are_logged_and_retried() {
    protocol_fault(
        Fault::Garbage,
        2,
        "code = Unavailable desc = connection error: HTTP/2: frame of 16777215 bytes",
        SOON,
    );
}

#[test]
fn an_http1_server_is_logged_and_retried() {
    protocol_fault(
        Fault::Http1,
        2,
        "connection error: HTTP/2: the server answered in HTTP/1.x, not HTTP/2",
        SOON,
    );
}

#[test]
fn a_silent_peer_times_out_and_is_retried() {
    // The handshake deadline is 20 s.
    protocol_fault(Fault::Silent, 2, "SETTINGS", Duration::from_secs(70));
}

#[test]
fn unavailable_is_logged_and_retried() {
    protocol_fault(
        Fault::Status(14, "agent is starting"),
        1,
        "code = Unavailable desc = agent is starting",
        SOON,
    );
}

#[test]
fn a_stream_ending_cleanly_is_retried() {
    protocol_fault(
        Fault::EndStream,
        1,
        // As go-spiffe's watcher logs grpc-go's io.EOF.
        "Error while watching x509 context: EOF",
        SOON,
    );
}

#[test]
fn invalid_argument_is_fatal_exit_1() {
    let mut written = Written::start(&[], "");
    let peer = FaultPeer::start(&written.socket, Fault::Status(3, "bad selectors"));
    let status = written.helper.wait_exit(SOON);
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "{}",
        written.helper.logs()
    );
    assert!(peer.connections() >= 1);
    assert!(
        written
            .helper
            .wait_for_log("code = InvalidArgument desc = bad selectors", SOON),
        "{}",
        written.helper.logs()
    );
    written.assert_untouched();
}

#[test]
fn permission_denied_then_success_in_daemon_mode() {
    let agent = DevAgent::start(&["--deny-first", "2"]);
    let (helper, files) = written_by(&agent, "");
    assert_eq!(
        helper.count_logs("code = PermissionDenied"),
        2,
        "{}",
        helper.logs()
    );
    files.verify_chain().unwrap();
}

#[test]
fn a_response_one_byte_per_write_is_reassembled() {
    let agent = DevAgent::start(&["--trickle", "--intermediate"]);
    let (_helper, files) = written_by(&agent, "");
    files.verify_chain().unwrap();
    files.key_matches_leaf().unwrap();
    assert_eq!(files.leaf_serial().unwrap(), agent.issued()[0].serial_hex);
}

#[test]
fn a_message_over_max_message_size_is_refused_and_the_files_kept() {
    // About 300 roots of ~400 bytes: well over the 64 KiB configured.
    let written = Written::start(&[], "max_message_size = 65536");
    let agent = DevAgent::start_on(&written.socket, &["--federate-count", "300"]);
    let needle = "code = ResourceExhausted";
    assert!(
        written.helper.wait_for_logs(needle, 2, SOON),
        "{}",
        written.helper.logs()
    );
    assert!(
        written.helper.logs().contains("65536"),
        "the limit is named\n{}",
        written.helper.logs()
    );
    written.assert_untouched();
    drop(agent);
    written.recovers();
}

#[test]
fn a_bundle_of_10000_federated_cas_is_written() {
    let agent = DevAgent::start(&["--federate-count", "10000"]);
    let (_helper, files) = written_by(&agent, "include_federated_domains = true");
    let bundle = std::fs::read_to_string(&files.bundle).unwrap();
    assert_eq!(
        bundle.matches("-----BEGIN CERTIFICATE-----").count(),
        10_001
    );
    files.verify_chain().unwrap();
}

fn exits_1_for_agent_address(address: &str, message: &str) {
    let (dir, certs) = helper_dir();
    let mut helper = Helper::start_in(dir, &x509_config(address, &certs, ""), &[]);
    let status = helper.wait_exit(SOON);
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{}", helper.logs());
    // The output is read by threads that may still be catching up with the exit.
    assert!(helper.wait_for_log(message, SOON), "{}", helper.logs());
}

#[test]
fn a_socket_path_that_is_a_regular_file_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.sock");
    std::fs::write(&path, "").unwrap();
    let address = path.display().to_string();
    exits_1_for_agent_address(
        &address,
        &format!("agent address {address} is a regular file, not a Unix socket"),
    );
}

#[test]
fn a_socket_path_that_is_a_directory_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let address = dir.path().display().to_string();
    exits_1_for_agent_address(
        &address,
        &format!("agent address {address} is a directory, not a Unix socket"),
    );
}

#[test]
fn a_socket_path_longer_than_sun_path_exits_1() {
    let address = format!("/tmp/{}.sock", "x".repeat(120));
    exits_1_for_agent_address(&address, "socket path is 130 bytes long");
}

#[test]
fn socket_file_removed_and_recreated() {
    let agent_dir = tempfile::tempdir().unwrap();
    let socket = agent_dir.path().join("agent.sock");
    let mut agent = DevAgent::start_on(&socket, &[]);
    let (helper, files) = written_by(&agent, "");
    let before = contents(&files);
    std::fs::remove_file(&socket).unwrap();
    agent.kill();
    assert!(
        helper.wait_for_logs("agent.sock: No such file or directory", 2, SOON),
        "{}",
        helper.logs()
    );
    assert!(contents(&files) == before);
    files.verify_chain().unwrap();
    let agent = DevAgent::start_on(&socket, &[]);
    assert!(
        helper.wait_for_logs(UPDATED, 2, PATIENCE),
        "{}",
        helper.logs()
    );
    assert_eq!(files.leaf_serial().unwrap(), agent.issued()[0].serial_hex);
    files.verify_chain().unwrap();
}

/// 50 crashes and restarts, each agent with a new CA, 150 ms apart: the helper never dies
/// and ends on the last agent's SVID, which OpenSSL accepts. (The three files may briefly
/// come from two agents while they are renamed in turn, so the chain is checked at the end.)
#[test]
fn agent_killed_and_restarted_50_times() {
    let agent_dir = tempfile::tempdir().unwrap();
    let socket = agent_dir.path().join("agent.sock");
    let mut agent = DevAgent::start_on(&socket, &[]);
    let (mut helper, files) = written_by(&agent, "");
    for _ in 0..50 {
        agent.kill();
        agent = DevAgent::start_on(&socket, &[]);
        std::thread::sleep(Duration::from_millis(150));
        assert!(
            helper.wait_exit(Duration::ZERO).is_none(),
            "{}",
            helper.logs()
        );
    }
    let last = agent.issued()[0].serial_hex.clone();
    assert!(
        wait_until(PATIENCE, || files.leaf_serial().ok().as_ref()
            == Some(&last)),
        "{}",
        helper.logs()
    );
    files.verify_chain().unwrap();
    assert!(helper.count_logs("connection closed by the agent") >= 2);
}
