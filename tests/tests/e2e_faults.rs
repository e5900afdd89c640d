//! End-to-end fault tests of the real `spiffe-helper` binary: readers during fast rotation and
//! a SIGKILL in the middle of it. Build the binary first: `cargo build -p spiffe-helper`.

use std::path::Path;
use std::time::Instant;
use svid_tests::{DevAgent, Helper, PATIENCE, SvidFiles, helper_dir, openssl, x509_config};

const UPDATED: &str = "X.509 certificates updated";

/// `text` is exactly `blocks` complete PEM blocks of type `label`, and nothing else.
fn complete(text: &str, label: &str, blocks: usize) -> bool {
    let begin = format!("-----BEGIN {label}-----\n");
    let end = format!("-----END {label}-----\n");
    text.matches(&begin).count() == blocks
        && text.matches(&end).count() == blocks
        && text.starts_with(&begin)
        && text.ends_with(&end)
}

/// Every file of the set is whole: the leaf + intermediate, one key, one root. (Key and leaf
/// may come from different rotations after a SIGKILL between renames, so they are not
/// compared here.)
fn assert_whole(files: &SvidFiles) {
    let read = |p: &Path| std::fs::read_to_string(p).expect("the file exists");
    let (svid, key, bundle) = (read(&files.svid), read(&files.key), read(&files.bundle));
    assert!(
        complete(&svid, "CERTIFICATE", 2),
        "partial svid.pem:\n{svid}"
    );
    assert!(complete(&key, "PRIVATE KEY", 1), "partial key file:\n{key}");
    assert!(
        complete(&bundle, "CERTIFICATE", 1),
        "partial bundle:\n{bundle}"
    );
}

#[test]
fn readers_never_see_partial_files_and_sigkill_leaves_whole_files() {
    let agent = DevAgent::start(&["--intermediate", "--rotate-every", "100ms"]);
    let (dir, certs) = helper_dir();
    let mut helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, ""), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    let files = SvidFiles::in_dir(&certs);

    // Read continuously while at least 20 more rotations land.
    let target = helper.count_logs(UPDATED) + 20;
    let deadline = Instant::now() + PATIENCE;
    while helper.count_logs(UPDATED) < target {
        assert_whole(&files);
        assert!(
            Instant::now() < deadline,
            "rotation stalled\n{}",
            helper.logs()
        );
    }

    helper.kill();
    assert_whole(&files);
    for path in [&files.svid, &files.bundle] {
        openssl([
            "x509".as_ref(),
            "-noout".as_ref(),
            "-in".as_ref(),
            path.as_os_str(),
        ])
        .unwrap();
    }
    openssl([
        "pkey".as_ref(),
        "-noout".as_ref(),
        "-in".as_ref(),
        files.key.as_os_str(),
    ])
    .unwrap();
    files.verify_chain().unwrap();
}

/// An agent that stops writing on a connection after two updates but keeps it open: the
/// helper notices the silence from the SVID's own NotAfter, finds the connection dead (its
/// PING goes unanswered), re-dials, and the files on disk never expire.
#[test]
fn a_stalled_agent_never_lets_the_files_expire() {
    let agent = DevAgent::start(&["--ttl", "6s", "--rotate-every", "3s", "--stall-after", "2"]);
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, ""), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    let files = SvidFiles::in_dir(&certs);
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let start = Instant::now();
    let mut samples = 0;
    while start.elapsed().as_secs() < 30 {
        let serial = files.leaf_serial().expect("the SVID file stays readable");
        let at = unix_now();
        let issued = agent.issued();
        let not_after = issued
            .iter()
            .find(|i| i.serial_hex == serial)
            .unwrap_or_else(|| panic!("serial {serial} was issued"))
            .not_after;
        assert!(
            (not_after as f64) > at,
            "the SVID on disk expired at {not_after} (now {at:.1})\nhelper:\n{}\nagent:\n{}",
            helper.logs(),
            agent.stderr()
        );
        samples += 1;
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(samples > 50);
    let stalls = agent.stderr().matches("connection stalled").count();
    assert!(
        stalls >= 3,
        "the agent stalled {stalls} times\n{}",
        agent.stderr()
    );
    assert!(
        helper.count_logs("No X.509 update from the agent") >= 3,
        "{}",
        helper.logs()
    );
}

/// An SVID that does not verify against its bundle (here the agent serves another CA's root)
/// is not written: the helper says why and writes nothing. `skip_svid_verification = true`
/// writes it, as upstream would.
#[test]
fn an_svid_that_fails_verification_is_never_written() {
    let agent = DevAgent::start(&["--foreign-bundle"]);
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, ""), &[]);
    assert!(
        helper.wait_for_log("X.509-SVID failed verification", PATIENCE),
        "{}",
        helper.logs()
    );
    assert!(
        helper
            .logs()
            .contains("does not verify against the trust bundle"),
        "{}",
        helper.logs()
    );
    assert!(!certs.join("svid.pem").exists() && !certs.join("svid_key.pem").exists());

    let (dir, certs) = helper_dir();
    let config = x509_config(&agent.address(), &certs, "skip_svid_verification = true");
    let helper = Helper::start_in(dir, &config, &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    assert!(
        SvidFiles::in_dir(&certs).verify_chain().is_err(),
        "the bad chain was written as asked"
    );
}
