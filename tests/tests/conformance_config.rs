//! Conformance with upstream's configuration tests (`cmd/spiffe-helper/config/config_test.go`
//! at spiffe/spiffe-helper 06cfd7e), run through the real `spiffe-helper` binary: each test is
//! named after the upstream test (and sub-test) it mirrors, uses the same values, and expects
//! the strings upstream's test expects, as the binary prints them (`invalid configuration`
//! with the message in `error=`, exit code 1).
//!
//! Upstream checks some cases on the decoded struct; here they are checked through what the
//! binary does with them. Configurations that validation accepts are checked for the
//! validation outcome: the helper goes past validation and prints none of upstream's
//! validation errors (their outputs are checked in `conformance_sidecar.rs` and
//! `conformance_examples.rs`).
//!
//! Not mirrored: `TestNewSidecarConfig` (a struct-to-struct copy with nothing to observe).
//! Build the binary first: `cargo build -p spiffe-helper`.

use std::path::Path;
use svid_tests::{DevAgent, Helper, PATIENCE, SvidFiles, file_mode, helper_dir, wait_until};

/// Every error upstream's `ValidateConfig` can return on Linux, fixed texts only.
const VALIDATION_ERRORS: &[&str] = &[
    "unknown top level key(s)",
    "unknown key(s) in jwt_svids",
    "'jwt_file_name' is required in 'jwt_svids'",
    "'jwt_audience' is required in 'jwt_svids'",
    "pid_file_name is set but daemon_mode is false",
    "must specify renew_signal when using pid_file_name",
    "all or none of 'svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name'",
    "at least one of the sets",
    "file mode must be positive",
    "bind port must be positive",
];

/// `cmd/spiffe-helper/config/testdata/helper.conf` at 06cfd7e, verbatim (the fixture in
/// `core/testdata/config/` is another revision, with `omit_expired = true`).
const UPSTREAM_TESTDATA_HELPER_CONF: &str = r#"agent_address = "/tmp/spire-agent/public/api.sock"
cmd = "hot-restarter.py"
cmd_args = "start_envoy.sh"
cert_dir = "certs"
cert_file_mode = 444
key_file_mode = 444
jwt_bundle_file_mode = 444
jwt_svid_file_mode = 444
renew_signal = "SIGHUP"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
jwt_bundle_file_name = "jwt_bundle.json"
jwt_svids = [
  {
    jwt_svid_file_name = "jwt_svid.token"
    jwt_audience = "your-audience"
    jwt_extra_audiences = ["your-extra-audience-1", "your-extra-audience-2"]

  }
]
add_intermediates_to_bundle = true
"#;

/// Upstream's test constants.
const TEST_AGENT_ADDRESS: &str = "path";
const X509_TRIO: &str = "svid_file_name = \"cert.pem\"\n\
                         svid_key_file_name = \"key.pem\"\n\
                         svid_bundle_file_name = \"bundle.pem\"\n";

/// The helper started on `config` with `args`, `SPIFFE_ENDPOINT_SOCKET` set to `endpoint`
/// (empty counts as unset, for upstream and for us).
fn start(config: &str, args: &[&str], endpoint: &str) -> Helper {
    let dir = tempfile::tempdir().expect("creating the helper directory");
    Helper::start_in_with_env(dir, config, args, &[("SPIFFE_ENDPOINT_SOCKET", endpoint)])
}

/// Runs the helper on `config` and asserts that validation rejects it with exactly `error`
/// (upstream's text) and exit code 1.
fn assert_rejected(config: &str, args: &[&str], error: &str) {
    let mut helper = start(config, args, "");
    let status = helper.wait_exit(PATIENCE).expect("the helper exits");
    let line = format!("level=error msg=\"invalid configuration\" error=\"{error}\"");
    assert!(helper.wait_for_log(&line, PATIENCE), "{}", helper.logs());
    assert_eq!(status.code(), Some(1), "{}", helper.logs());
    assert_eq!(
        helper.count_logs("level=error"),
        1,
        "one error only: {}",
        helper.logs()
    );
}

/// Runs the helper on `config` and asserts that validation accepts it: the helper goes on to
/// run (`Launching daemon`, `Daemon mode disabled`) and prints no validation or parse error. Returns the helper, still running if it is.
fn assert_accepted(config: &str, args: &[&str], endpoint: &str) -> Helper {
    let helper = start(config, args, endpoint);
    let past_validation = ["Launching daemon", "Daemon mode disabled"];
    let decided = wait_until(PATIENCE, || {
        let logs = helper.logs();
        past_validation.iter().any(|m| logs.contains(m))
            || logs.contains("failed to parse configuration")
            || logs.contains("invalid configuration")
    });
    let logs = helper.logs();
    assert!(decided, "the helper never got past validation: {logs}");
    assert!(!logs.contains("failed to parse configuration"), "{logs}");
    for error in VALIDATION_ERRORS {
        assert!(!logs.contains(error), "validation rejected it: {logs}");
    }
    helper
}

#[test]
fn test_parse_config() {
    // Upstream's cmd/spiffe-helper/config/testdata/helper.conf: it parses with no unknown key
    // and validates.
    let upstream = UPSTREAM_TESTDATA_HELPER_CONF;
    assert_accepted(upstream, &[], "");

    // What the binary can show of the values without JWT support: the same file without its
    // JWT keys, against the dev agent. `cert_file_mode = 444` and `key_file_mode = 444` are
    // decimal 444 (upstream's test expects 444), i.e. mode 0o674, and `cert_dir = "certs"`
    // holds the three files named in the file.
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let x509_only: String = upstream
        .replace(
            "/tmp/spire-agent/public/api.sock",
            &agent.socket().display().to_string(),
        )
        .lines()
        .take_while(|l| !l.starts_with("jwt_svids"))
        .filter(|l| !l.starts_with("jwt_bundle_file_name"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(x509_only.contains("cert_file_mode = 444"), "{x509_only}");
    let helper = Helper::start_in(dir, &x509_only, &[]);
    assert!(
        helper.wait_for_log("X.509 certificates updated", PATIENCE),
        "{}",
        helper.logs()
    );
    let files = SvidFiles::in_dir(&certs);
    assert_eq!(file_mode(&files.svid).unwrap(), 0o674);
    assert_eq!(file_mode(&files.key).unwrap(), 0o674);
    assert_eq!(file_mode(&files.bundle).unwrap(), 0o674);
    files.verify_chain().unwrap();
}

#[test]
fn test_validate_config_valid_x509_config() {
    let config = format!("agent_address = \"{TEST_AGENT_ADDRESS}\"\n{X509_TRIO}");
    let helper = assert_accepted(&config, &[], "");
    assert!(
        helper.logs().contains("Launching daemon"),
        "{}",
        helper.logs()
    );
}

#[test]
fn test_validate_config_valid_jwt_svid_config() {
    let config = format!(
        "agent_address = \"{TEST_AGENT_ADDRESS}\"\n\
         jwt_svids = [{{ jwt_svid_file_name = \"jwt.token\", jwt_audience = \"your-audience\" }}]\n\
         jwt_bundle_file_name = \"bundle.json\"\n"
    );
    assert_accepted(&config, &[], "");
}

#[test]
fn test_validate_config_valid_jwt_bundle_config() {
    let config = format!(
        "agent_address = \"{TEST_AGENT_ADDRESS}\"\njwt_bundle_file_name = \"bundle.json\"\n"
    );
    assert_accepted(&config, &[], "");
}

#[test]
fn test_validate_config_no_error_in_oneshot_mode() {
    let config =
        format!("daemon_mode = false\nagent_address = \"{TEST_AGENT_ADDRESS}\"\n{X509_TRIO}");
    let helper = assert_accepted(&config, &[], "");
    assert!(
        helper.logs().contains("Daemon mode disabled"),
        "{}",
        helper.logs()
    );
}

#[test]
fn test_validate_config_no_set_specified() {
    assert_rejected(
        &format!("agent_address = \"{TEST_AGENT_ADDRESS}\"\n"),
        &[],
        "at least one of the sets ('svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name'), 'jwt_svids', or 'jwt_bundle_file_name' must be fully specified",
    );
}

#[test]
fn test_validate_config_missing_svid_config() {
    assert_rejected(
        &format!("agent_address = \"{TEST_AGENT_ADDRESS}\"\nsvid_file_name = \"cert.pem\"\n"),
        &[],
        "all or none of 'svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name' must be specified",
    );
}

#[test]
fn test_validate_config_missing_jwt_audience() {
    assert_rejected(
        &format!(
            "agent_address = \"{TEST_AGENT_ADDRESS}\"\n\
             jwt_svids = [{{ jwt_svid_file_name = \"jwt.token\" }}]\n"
        ),
        &[],
        "'jwt_audience' is required in 'jwt_svids'",
    );
}

#[test]
fn test_validate_config_missing_jwt_path() {
    assert_rejected(
        &format!(
            "agent_address = \"{TEST_AGENT_ADDRESS}\"\n\
             jwt_svids = [{{ jwt_audience = \"my-audience\" }}]\n"
        ),
        &[],
        "'jwt_file_name' is required in 'jwt_svids'",
    );
}

#[test]
fn test_validate_config_no_error_with_pid_file_name_and_renew_signal() {
    let config = format!(
        "pid_file_name = \"pidfile\"\nrenew_signal = \"SIGHUP\"\n\
         agent_address = \"{TEST_AGENT_ADDRESS}\"\n{X509_TRIO}"
    );
    assert_accepted(&config, &[], "");
}

#[test]
fn test_validate_config_pid_file_name_set_in_not_daemon_mode() {
    assert_rejected(
        "daemon_mode = false\npid_file_name = \"pidfile\"\n",
        &[],
        "pid_file_name is set but daemon_mode is false. pid_file_name is only supported in daemon_mode",
    );
}

#[test]
fn test_validate_config_renew_signal_required_if_pid_file_name_set() {
    assert_rejected(
        "pid_file_name = \"pidfile\"\nrenew_signal = \"\"\n",
        &[],
        "must specify renew_signal when using pid_file_name",
    );
}

#[test]
fn test_validate_config_renew_signal_allowed_without_pid_file_name() {
    let config = format!(
        "cmd = \"echo\"\nrenew_signal = \"SIGHUP\"\n\
         agent_address = \"{TEST_AGENT_ADDRESS}\"\n{X509_TRIO}"
    );
    let helper = assert_accepted(&config, &[], "");
    assert!(
        helper.logs().contains("Launching daemon"),
        "{}",
        helper.logs()
    );
}

#[test]
fn test_detects_unknown_config_unknown_configuration_at_top_level() {
    assert_rejected(
        "\n\t\t\t\tagent_address = \"/tmp\"\n\t\t\t\tfoo = \"bar\"\n\t\t\t\tbar = \"foo\"\n\t\t\t\t",
        &[],
        "unknown top level key(s): bar,foo",
    );
}

#[test]
fn test_detects_unknown_config_unknown_configuration_in_first_jwt_svid() {
    assert_rejected(
        r#"
				cmd = "echo"
				jwt_svids = [
						{
							jwt_audience="your-audience",
							jwt_svid_file_name="jwt_svid.token",
							foo = "bar", 
							bar = "foo"
						}
					    ]
				"#,
        &[],
        "unknown key(s) in jwt_svids[0]: bar,foo",
    );
}

#[test]
fn test_detects_unknown_config_unknown_configuration_in_second_jwt_svid() {
    assert_rejected(
        r#"
				cmd = "echo"
				jwt_svids = [
						{
							jwt_audience = "your-audience-0",
							jwt_svid_file_name="jwt_svid-0.token",
						},
						{
							jwt_audience = "your-audience-1",
							jwt_svid_file_name = "jwt_svid-1.token",
							foo = "bar", 
							bar = "foo"
						}
					    ]
				"#,
        &[],
        "unknown key(s) in jwt_svids[1]: bar,foo",
    );
}

/// Runs the X.509 trio with `agent_address` (if any) and `SPIFFE_ENDPOINT_SOCKET`, and
/// asserts the daemon dials `expected` (the address it settled on), which does not exist.
fn assert_dials(agent_address: Option<&str>, endpoint: &str, expected: &str) {
    assert!(!Path::new(expected).exists(), "{expected} must not exist");
    let address = agent_address.map_or(String::new(), |a| format!("agent_address = \"{a}\"\n"));
    let helper = assert_accepted(&format!("{address}{X509_TRIO}"), &[], endpoint);
    let dial = format!("dial unix {expected}:");
    assert!(
        helper.wait_for_log(&dial, PATIENCE),
        "expected to dial {expected}: {}",
        helper.logs()
    );
}

#[test]
fn test_default_agent_address_not_set_in_config_or_env() {
    assert_dials(None, "", "/tmp/spire-agent/public/api.sock");
}

#[test]
fn test_default_agent_address_set_in_config_but_not_in_env() {
    assert_dials(Some("MY_ADDRESS"), "", "MY_ADDRESS");
}

#[test]
fn test_default_agent_address_not_set_in_config_but_spiffe_endpoint_socket_is_set_in_env() {
    assert_dials(None, "MY_ENV_ADDRESS", "MY_ENV_ADDRESS");
}

#[test]
fn test_default_agent_address_set_in_config_and_set_in_env() {
    assert_dials(Some("MY_ADDRESS"), "MY_ENV_ADDRESS", "MY_ADDRESS");
}

#[test]
fn test_daemon_mode_flag() {
    let helper = assert_accepted(X509_TRIO, &["-daemon-mode=false"], "");
    let logs = helper.logs();
    assert!(logs.contains("Daemon mode disabled"), "{logs}");
    assert!(!logs.contains("Launching daemon"), "{logs}");
    // Without the flag (and without daemon_mode in the file) the helper is a daemon.
    let helper = assert_accepted(X509_TRIO, &[], "");
    assert!(
        helper.logs().contains("Launching daemon"),
        "{}",
        helper.logs()
    );
}

/// Not an upstream test: the warnings of upstream's `ValidateConfig` (its step 5), which
/// upstream's tests leave out ("they just log warnings"). They are logged at warning level
/// and the run goes on.
#[test]
fn validate_config_warns_about_cmd_and_renew_signal_in_one_shot_mode() {
    let config = format!(
        "daemon_mode = false\ncmd = \"echo\"\nrenew_signal = \"SIGHUP\"\n\
         agent_address = \"{TEST_AGENT_ADDRESS}\"\n{X509_TRIO}"
    );
    let helper = assert_accepted(&config, &[], "");
    let logs = helper.logs();
    for warning in [
        "level=warning msg=\"cmd is set but daemon_mode is false. cmd will be ignored. This may become an error in a future release.\"",
        "level=warning msg=\"renew_signal is set but daemon_mode is false. renew_signal will be ignored. This may become an error in a future release.\"",
    ] {
        assert!(logs.contains(warning), "{logs}");
    }
    assert!(logs.contains("Daemon mode disabled"), "{logs}");
}
