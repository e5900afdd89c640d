//! One-shot exit codes (docs/lifecycle.md), end to end against the real binary: each code
//! provoked by a real peer (the dev agent, or the raw HTTP/2 fault peer for a status tonic's
//! agent never sends) or a real filesystem, with the log line that explains it. Build the
//! binary first: `cargo build --workspace --bins`.

use std::path::Path;
use std::time::{Duration, Instant};

use svid_tests::{
    DevAgent, Fault, FaultPeer, Helper, PATIENCE, SvidFiles, helper_dir, x509_config,
};

const ONE_SHOT: &[&str] = &["-daemon-mode=false"];

/// Runs a one-shot helper on `address` with `extra` config lines until it exits; returns its
/// exit code, the helper (for its logs) and the certs directory's listing.
fn one_shot(address: &str, extra: &str) -> (Option<i32>, Helper, Vec<String>) {
    let (dir, certs) = helper_dir();
    let mut helper = Helper::start_in(dir, &x509_config(address, &certs, extra), ONE_SHOT);
    let status = helper.wait_exit(PATIENCE).expect("one-shot mode exits");
    let files = listing(&certs);
    (status.code(), helper, files)
}

/// Whether the helper logged `needle` (its output is read by threads that may still be
/// catching up with the exit).
fn logged(helper: &Helper, needle: &str) -> bool {
    helper.wait_for_log(needle, PATIENCE)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn every_output_written_exits_0() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let config = x509_config(&agent.address(), &certs, "one_shot_timeout = \"30s\"");
    let mut helper = Helper::start_in(dir, &config, ONE_SHOT);
    let status = helper.wait_exit(PATIENCE).expect("one-shot mode exits");
    assert_eq!(status.code(), Some(0), "{}", helper.logs());
    SvidFiles::in_dir(&certs).verify_chain().unwrap();
}

#[test]
fn a_bad_timeout_is_a_configuration_error_exit_1() {
    let (code, helper, files) = one_shot("/nowhere/agent.sock", "one_shot_timeout = \"soon\"");
    assert_eq!(code, Some(1), "{}", helper.logs());
    assert!(
        logged(
            &helper,
            r#"one_shot_timeout \"soon\" is not a positive duration"#
        ),
        "{}",
        helper.logs()
    );
    assert!(files.is_empty());
}

#[test]
fn an_unreachable_agent_past_the_timeout_exits_2() {
    let started = Instant::now();
    let (code, helper, files) = one_shot("/nowhere/agent.sock", "one_shot_timeout = \"1500ms\"");
    assert_eq!(code, Some(2), "{}", helper.logs());
    // Upstream's retry schedule alone would keep it going for over an hour.
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(
        logged(
            &helper,
            "timeout of 1.5s passed before every output was written"
        ),
        "{}",
        helper.logs()
    );
    assert!(files.is_empty());
}

#[test]
fn a_status_the_agent_will_not_change_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let _peer = FaultPeer::start(&socket, Fault::Status(3, "bad selectors"));
    let (code, helper, files) = one_shot(&socket.display().to_string(), "");
    assert_eq!(code, Some(3), "{}", helper.logs());
    assert!(
        logged(&helper, "code = InvalidArgument desc = bad selectors"),
        "{}",
        helper.logs()
    );
    assert!(files.is_empty());
}

#[test]
fn an_svid_failing_verification_exits_4_and_writes_nothing() {
    let agent = DevAgent::start(&["--foreign-bundle"]);
    let (code, helper, files) = one_shot(&agent.address(), "");
    assert_eq!(code, Some(4), "{}", helper.logs());
    assert!(
        logged(
            &helper,
            "certificate chain does not verify against the trust bundle"
        ),
        "{}",
        helper.logs()
    );
    assert!(files.is_empty(), "{files:?}");
}

#[test]
fn an_output_that_cannot_be_written_exits_4() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let config = x509_config(&agent.address(), &certs.join("missing"), "");
    let mut helper = Helper::start_in(dir, &config, ONE_SHOT);
    let status = helper.wait_exit(PATIENCE).expect("one-shot mode exits");
    assert_eq!(status.code(), Some(4), "{}", helper.logs());
    assert!(
        logged(&helper, "unable to write the X.509 files"),
        "{}",
        helper.logs()
    );
}

#[test]
fn sigterm_before_the_outputs_are_written_exits_143_and_sigint_130() {
    for (signal, code) in [
        (rustix::process::Signal::TERM, 143),
        (rustix::process::Signal::INT, 130),
    ] {
        let (dir, certs) = helper_dir();
        let config = x509_config("/nowhere/agent.sock", &certs, "");
        let mut helper = Helper::start_in(dir, &config, ONE_SHOT);
        // Retrying the missing agent: the run is not done.
        assert!(
            helper.wait_for_log("Error fetching x509 certificates", PATIENCE),
            "{}",
            helper.logs()
        );
        helper.signal(signal);
        let status = helper.wait_exit(PATIENCE).expect("the helper exits");
        assert_eq!(status.code(), Some(code), "{}", helper.logs());
        assert!(
            helper.logs().contains("before every output was written"),
            "{}",
            helper.logs()
        );
        assert!(listing(&certs).is_empty());
    }
}
