//! End-to-end tests of helper.conf options that shape the X.509 output (intermediates, federated
//! bundles, file modes, hints), of the agent-address forms docs/configuration.md lists, of repeated keys
//! and the `jwt_svids` block form as upstream's `hcl.Decode` reads them, and of unreadable
//! config files (OS errors in Go's words), run through the real `spiffe-helper` binary. Build
//! it first: `cargo build -p spiffe-helper`.

use std::os::unix::fs::PermissionsExt;
use svid_tests::{
    DevAgent, Helper, PATIENCE, SvidFiles, file_mode, helper_dir, pem_bodies, wait_until,
    x509_config,
};

const UPDATED: &str = "X.509 certificates updated";

#[test]
fn intermediates_and_federated_roots_move_to_the_bundle_when_asked() {
    let agent = DevAgent::start(&[
        "--intermediate",
        "--federate",
        "partner.test",
        "--federate",
        "alpha.test",
    ]);
    let (dir, certs) = helper_dir();
    let extra = "add_intermediates_to_bundle = true\ninclude_federated_domains = true";
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, extra), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());

    let files = SvidFiles::in_dir(&certs);
    assert_eq!(
        files.chain().unwrap().len(),
        1,
        "only the leaf stays in svid.pem"
    );
    // Own root, then the intermediate, then the federated roots by trust-domain name.
    let uris = files.bundle_uri_sans().unwrap();
    assert_eq!(
        uris,
        [
            ["spiffe://example.org"],
            ["spiffe://example.org"],
            ["spiffe://alpha.test"],
            ["spiffe://partner.test"],
        ]
    );
    let bundle = std::fs::read_to_string(&files.bundle).unwrap();
    let root = std::fs::read_to_string(agent.ca_pem()).unwrap();
    assert_eq!(pem_bodies(&bundle)[0], pem_bodies(&root)[0]);
    files.verify_chain().unwrap();
    files.key_matches_leaf().unwrap();
}

#[test]
fn by_default_intermediates_stay_in_the_svid_and_federated_roots_are_left_out() {
    let agent = DevAgent::start(&["--intermediate", "--federate", "partner.test"]);
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, ""), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    let files = SvidFiles::in_dir(&certs);
    assert_eq!(files.chain().unwrap().len(), 2);
    assert_eq!(files.bundle_uri_sans().unwrap(), [["spiffe://example.org"]]);
}

#[test]
fn configured_modes_are_applied_and_reapplied_on_rotation() {
    let agent = DevAgent::start(&["--rotate-every", "1s"]);
    let (dir, certs) = helper_dir();
    let extra = "cert_file_mode = 0640\nkey_file_mode = 0400";
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, extra), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    let files = SvidFiles::in_dir(&certs);
    assert_eq!(file_mode(&files.svid).unwrap(), 0o640);
    assert_eq!(file_mode(&files.bundle).unwrap(), 0o640);
    assert_eq!(file_mode(&files.key).unwrap(), 0o400);

    // Someone loosens the SVID file; the next rotation writes it with the configured mode.
    std::fs::set_permissions(&files.svid, std::fs::Permissions::from_mode(0o666)).unwrap();
    let updates = helper.count_logs(UPDATED);
    assert!(
        helper.wait_for_logs(UPDATED, updates + 1, PATIENCE),
        "{}",
        helper.logs()
    );
    assert!(
        wait_until(PATIENCE, || file_mode(&files.svid)
            .is_ok_and(|m| m == 0o640)),
        "mode stayed {:o}",
        file_mode(&files.svid).unwrap()
    );
}

#[test]
fn agent_address_may_be_a_unix_uri() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let address = format!("unix://{}", agent.socket().display());
    let helper = Helper::start_in(dir, &x509_config(&address, &certs, ""), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    SvidFiles::in_dir(&certs).verify_chain().unwrap();
}

#[test]
fn daemon_retries_permission_denied_and_then_writes() {
    let agent = DevAgent::start(&["--deny-first", "2"]);
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, ""), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    assert!(
        agent.stderr().contains("call 2 denied"),
        "{}",
        agent.stderr()
    );
    assert!(
        helper.count_logs("Error while watching x509 context") >= 2,
        "{}",
        helper.logs()
    );
    SvidFiles::in_dir(&certs).verify_chain().unwrap();
}

#[test]
fn files_stay_valid_while_the_agent_is_gone() {
    let mut agent = DevAgent::start(&["--exit-after-updates", "1"]);
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, ""), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    assert!(
        agent.wait_exit(PATIENCE).is_some(),
        "the agent exits by itself"
    );
    assert!(
        helper.wait_for_log("Error while watching x509 context", PATIENCE),
        "{}",
        helper.logs()
    );
    let files = SvidFiles::in_dir(&certs);
    files.verify_chain().unwrap();
    files.key_matches_leaf().unwrap();
    assert_eq!(files.leaf_serial().unwrap(), agent.issued()[0].serial_hex);
}

#[test]
fn a_hint_that_matches_nothing_writes_nothing_and_starts_nothing() {
    let agent = DevAgent::start(&["--rotate-every", "1s"]);
    let (dir, certs) = helper_dir();
    let marker = certs.join("../child-ran");
    let extra = format!(
        "hint = \"external\"\ncmd = \"/bin/sh\"\ncmd_args = \"-c \\\"touch {}\\\"\"",
        marker.display()
    );
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    assert!(
        helper.wait_for_logs("failed to find the hinted x509 SVID", 2, PATIENCE),
        "{}",
        helper.logs()
    );
    let logs = helper.logs();
    assert!(logs.contains("Unable to dump bundle"), "{logs}");
    assert!(!logs.contains(UPDATED), "{logs}");
    assert_eq!(
        std::fs::read_dir(&certs).unwrap().count(),
        0,
        "no file written"
    );
    assert!(!marker.exists(), "cmd must not run without files");
}

/// Runs the helper with `-config <config>` in a fresh directory holding `certs/` and waits
/// for it to exit; returns its exit code and what it printed.
fn run_with_config_path(config: &str) -> (Option<i32>, String) {
    let (dir, _certs) = helper_dir();
    let mut helper = Helper::start_in(dir, "", &["-config", config]);
    let status = helper.wait_exit(PATIENCE).expect("the helper exits");
    assert!(
        helper.wait_for_log("failed to parse configuration", PATIENCE),
        "{}",
        helper.logs()
    );
    (status.code(), helper.logs())
}

#[test]
fn a_missing_config_file_is_reported_in_go_words_and_exits_1() {
    let (code, logs) = run_with_config_path("missing.conf");
    assert_eq!(code, Some(1), "{logs}");
    assert!(
        logs.contains(
            r#"level=error msg="failed to parse configuration" error="failed to parse \"missing.conf\": open missing.conf: no such file or directory""#
        ),
        "{logs}"
    );
}

#[test]
fn a_directory_given_as_config_is_reported_in_go_words_and_exits_1() {
    // Go's os.ReadFile opens a directory and fails at the first read.
    let (code, logs) = run_with_config_path("certs");
    assert_eq!(code, Some(1), "{logs}");
    assert!(
        logs.contains(r#"error="failed to parse \"certs\": read certs: is a directory""#),
        "{logs}"
    );
    let (code, logs) = run_with_config_path("certs/../helper.conf/x");
    assert_eq!(code, Some(1), "{logs}");
    assert!(
        logs.contains(": open certs/../helper.conf/x: not a directory\""),
        "{logs}"
    );
}

#[test]
fn a_repeated_key_keeps_its_last_value_as_hcl_decode_does() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    // x509_config names svid.pem first; the later lines win.
    let extra = "svid_file_name = \"last.pem\"\ncert_file_mode = 0600\nCert_File_Mode = 0640";
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, extra), &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    assert!(!certs.join("svid.pem").exists());
    assert_eq!(file_mode(&certs.join("last.pem")).unwrap(), 0o640);
}

#[test]
fn a_jwt_svids_block_is_one_entry_per_key_and_rejected_as_upstream() {
    let (dir, certs) = helper_dir();
    let block = "jwt_svids {\n  jwt_audience = \"aud\"\n  jwt_svid_file_name = \"a.jwt\"\n}";
    let mut helper = Helper::start_in(dir, &x509_config("/nowhere.sock", &certs, block), &[]);
    let status = helper.wait_exit(PATIENCE).expect("the helper exits");
    assert!(
        helper.wait_for_log(
            "msg=\"invalid configuration\" error=\"'jwt_file_name' is required in 'jwt_svids'\"",
            PATIENCE
        ),
        "{}",
        helper.logs()
    );
    assert_eq!(status.code(), Some(1));
}

/// `-h` prints upstream's usage, wrapper mode's form and one line pointing to the key table,
/// exit 0; a flag error prints the error and upstream's usage alone, exit 2, as Go's `flag`
/// package does. The program name in `Usage of PROG:` is the binary's argv[0], which a
/// wrapper such as `qemu-aarch64-static` replaces: it is compared as `PROG`.
#[test]
fn help_points_to_the_keys_and_a_flag_error_prints_the_usage_alone() {
    let prog = svid_tests::helper_bin();
    let usage = "Usage of PROG:\n  -config string\n    \t<configFile> Configuration file path (default \"helper.conf\")\n  -daemon-mode\n    \tToggle running as a daemon to rotate X.509/JWT or just fetch and exit (default true)\n  -version\n    \tprint version\n";
    let run = |arg: &str| {
        let out = std::process::Command::new(&prog).arg(arg).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        let unnamed = match stderr.split_once("Usage of ") {
            Some((before, after)) => match after.split_once(":\n") {
                Some((_, rest)) => format!("{before}Usage of PROG:\n{rest}"),
                None => stderr.clone(),
            },
            None => stderr.clone(),
        };
        (out.status.code(), unnamed)
    };
    let epilogue = "Flags of spiffe-helper-rs:\n  -healthcheck string\n    \tlive or ready: request \
                    the running helper's health endpoint on localhost, exit 0 only on HTTP 200\n  \
                    -timeout duration\n    \tdeadline of -healthcheck (default 1s)\n  -validate\n    \tprint the effective configuration \
                    (file, SPIFFE_HLP_* environment, flags) as JSON and exit\nAfter the flags, -- PROG [ARGS...] runs PROG once every output is written and \
                    exits with its status (wrapper mode).\nConfiguration file keys: see \
                    docs/configuration.md, section \"Configuration keys\" of spiffe-helper-rs.\n";
    for flag in ["-h", "-help", "--help"] {
        assert_eq!(run(flag), (Some(0), format!("{usage}{epilogue}")), "{flag}");
    }
    assert_eq!(
        run("-bogus"),
        (
            Some(2),
            format!("flag provided but not defined: -bogus\n{usage}")
        )
    );
}
