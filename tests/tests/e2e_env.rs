//! End-to-end: the helper configured by `SPIFFE_HLP_*` environment variables, alone or over
//! `helper.conf`, run as the real binary against `svid-dev-agent`; the files it writes are
//! checked with OpenSSL and a bad variable is refused naming it. Build the binaries first:
//! `cargo build --workspace --bins`.

use svid_tests::{DevAgent, Helper, PATIENCE, SvidFiles, helper_dir, x509_config};

/// No `helper.conf` and no `-config`: the environment is the whole configuration, a
/// `jwt_svids` list given as JSON among it.
#[test]
fn the_environment_alone_configures_a_one_shot_run() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let address = agent.address();
    let cert_dir = certs.display().to_string();
    let mut helper = Helper::start_without_config_flag(
        dir,
        &[],
        &[
            ("SPIFFE_HLP_AGENT_ADDRESS", &address),
            ("SPIFFE_HLP_CERT_DIR", &cert_dir),
            ("SPIFFE_HLP_SVID_FILE_NAME", "svid.pem"),
            ("SPIFFE_HLP_SVID_KEY_FILE_NAME", "svid_key.pem"),
            ("SPIFFE_HLP_SVID_BUNDLE_FILE_NAME", "svid_bundle.pem"),
            (
                "SPIFFE_HLP_JWT_SVIDS",
                r#"[{"jwt_audience":"svc-a","jwt_svid_file_name":"a.token"}]"#,
            ),
            ("SPIFFE_HLP_DAEMON_MODE", "false"),
            ("SPIFFE_HLP_KEY_FILE_MODE", "0640"),
        ],
    );
    let status = helper.wait_exit(PATIENCE).expect("the one-shot run exits");
    let logs = helper.logs();
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains(
            "msg=\"No configuration file \\\"helper.conf\\\": the SPIFFE_HLP_* environment \
             variables are the configuration\""
        ),
        "{logs}"
    );
    let files = SvidFiles::in_dir(&certs);
    files.verify_chain().unwrap();
    files.key_matches_leaf().unwrap();
    assert_eq!(
        svid_tests::file_mode(&certs.join("svid_key.pem")).unwrap(),
        0o640
    );
    let token = std::fs::read_to_string(certs.join("a.token")).unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
}

/// A variable wins over the file's key; a list in a variable replaces the file's list.
#[test]
fn a_variable_wins_over_the_file() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let config = x509_config(
        &agent.address(),
        &certs,
        "daemon_mode = true\njwt_svids = [{ jwt_audience = \"f\", jwt_svid_file_name = \"f.token\" }]",
    );
    let mut helper = Helper::start_in_with_env(
        dir,
        &config,
        &[],
        &[
            ("SPIFFE_HLP_SVID_FILE_NAME", "env_svid.pem"),
            ("SPIFFE_HLP_DAEMON_MODE", "0"),
            (
                "SPIFFE_HLP_JWT_SVIDS",
                r#"[{"jwt_audience":"e","jwt_svid_file_name":"e.token"}]"#,
            ),
        ],
    );
    let status = helper.wait_exit(PATIENCE).expect("the one-shot run exits");
    let logs = helper.logs();
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains(
            "msg=\"Using SPIFFE_HLP_* environment variables over the file's keys\" \
             variables=\"SPIFFE_HLP_DAEMON_MODE,SPIFFE_HLP_JWT_SVIDS,SPIFFE_HLP_SVID_FILE_NAME\" \
             system=spiffe-helper"
        ),
        "{logs}"
    );
    assert!(certs.join("env_svid.pem").exists(), "{logs}");
    assert!(!certs.join("svid.pem").exists());
    assert!(certs.join("e.token").exists());
    assert!(!certs.join("f.token").exists());
}

/// A bad value is refused before anything is written, with the file's message after the
/// variable's name; `-config` naming a missing file stays an error even with variables set.
#[test]
fn a_bad_variable_is_named_and_a_missing_config_flag_file_is_an_error() {
    let (dir, certs) = helper_dir();
    let before = std::fs::read_dir(&certs).unwrap().count();
    let mut helper = Helper::start_in_with_env(
        dir,
        &x509_config("/nowhere.sock", &certs, ""),
        &[],
        &[("SPIFFE_HLP_DAEMON_MODE", "maybe")],
    );
    let status = helper.wait_exit(PATIENCE).expect("the helper exits");
    let logs = helper.logs();
    assert_eq!(status.code(), Some(1), "{logs}");
    assert!(
        logs.contains(
            "msg=\"failed to parse configuration\" error=\"SPIFFE_HLP_DAEMON_MODE: daemon_mode: \
             unknown value for boolean: maybe\""
        ),
        "{logs}"
    );
    assert_eq!(std::fs::read_dir(&certs).unwrap().count(), before);

    let (dir, _) = helper_dir();
    let missing = dir.path().join("missing.conf").display().to_string();
    let mut helper = Helper::start_without_config_flag(
        dir,
        &["-config", &missing],
        &[("SPIFFE_HLP_JWT_BUNDLE_FILE_NAME", "b.json")],
    );
    let status = helper.wait_exit(PATIENCE).expect("the helper exits");
    let logs = helper.logs();
    assert_eq!(status.code(), Some(1), "{logs}");
    assert!(
        logs.contains(&format!("open {missing}: no such file or directory")),
        "{logs}"
    );
}
