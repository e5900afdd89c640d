//! End-to-end: `-validate` prints the effective configuration (file, `SPIFFE_HLP_*`
//! environment, flags) as JSON, read back by Python's `json` and by the helper itself as a
//! `helper.conf`, or exits 1 with the error the helper would give at start. Build the binaries
//! first: `cargo build --workspace --bins`.

use std::process::{Command, Stdio};

use svid_tests::{DevAgent, Helper, PATIENCE, SvidFiles, helper_dir, run_helper, x509_config};

/// `expr` evaluated by Python over the JSON document `json` (bound to `d`), printed with
/// `json.dumps`.
fn python(json: &str, expr: &str) -> String {
    let script =
        format!("import json, sys\nd = json.loads(sys.stdin.read())\nprint(json.dumps({expr}))");
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), json.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python could not read:\n{json}");
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

/// The error line of a log, without its time.
fn error_line(logs: &str) -> String {
    let line = logs
        .lines()
        .find(|l| l.contains("level=error"))
        .unwrap_or_else(|| panic!("no error line in:\n{logs}"));
    line.split_once(' ').unwrap().1.to_owned()
}

#[test]
fn a_good_file_prints_every_key_and_reads_back_as_a_config() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let extra = "jwt_svids = [{ jwt_audience = \"a\", jwt_svid_file_name = \"a.jwt\" }]\n\
                 health_checks { listener_enabled = true }\nkey_file_mode = 0640";
    std::fs::write(
        dir.path().join("helper.conf"),
        x509_config(&agent.address(), &certs, extra),
    )
    .unwrap();
    let (code, json, stderr) = run_helper(dir.path(), &["-validate"], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(python(&json, "d['daemon_mode']"), "true");
    assert_eq!(python(&json, "d['key_file_mode']"), "\"0640\"");
    assert_eq!(python(&json, "d['cert_file_mode']"), "\"0644\"");
    assert_eq!(
        python(&json, "d['health_checks']"),
        r#"{"listener_enabled": true, "bind_port": 8081, "liveness_path": "/live", "readiness_path": "/ready", "bind_address": "", "read_header_timeout": "1s", "metrics_path": ""}"#
    );
    assert_eq!(
        python(&json, "d['jwt_svids']"),
        r#"[{"jwt_audience": "a", "jwt_extra_audiences": [], "jwt_svid_file_name": "a.jwt"}]"#
    );
    assert_eq!(
        python(&json, "d['agent_address']"),
        format!("\"{}\"", agent.address())
    );
    assert_eq!(
        python(
            &json,
            "['start' in d, 'reload' in d, 'max_message_size' in d]"
        ),
        "[false, false, true]"
    );

    // The JSON is a helper.conf: it validates to itself, and a one-shot run from it writes the
    // files.
    std::fs::write(dir.path().join("effective.json"), &json).unwrap();
    let (code, again, stderr) =
        run_helper(dir.path(), &["-config", "effective.json", "-validate"], &[]);
    assert_eq!((code, again.as_str()), (Some(0), json.as_str()), "{stderr}");
    let mut helper = Helper::start_in(dir, &json, &["-daemon-mode=false"]);
    let status = helper.wait_exit(PATIENCE).expect("the one-shot run exits");
    assert!(status.success(), "{}", helper.logs());
    SvidFiles::in_dir(&certs).verify_chain().unwrap();
}

#[test]
fn the_environment_alone_then_over_the_file_then_under_the_flags() {
    let (dir, _) = helper_dir();
    let env = [
        ("SPIFFE_HLP_JWT_BUNDLE_FILE_NAME", "bundle.json"),
        ("SPIFFE_HLP_DAEMON_MODE", "false"),
        ("SPIFFE_HLP_LOG_LEVEL", "error"),
        (
            "SPIFFE_HLP_HEALTH_CHECKS",
            r#"{"listener_enabled":true,"bind_port":9999}"#,
        ),
    ];
    let (code, json, stderr) = run_helper(dir.path(), &["-validate"], &env);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        python(&json, "d['jwt_bundle_file_name']"),
        "\"bundle.json\""
    );
    assert_eq!(python(&json, "d['daemon_mode']"), "false");
    assert_eq!(python(&json, "d['log_level']"), "\"error\"");
    assert_eq!(python(&json, "d['health_checks']['bind_port']"), "9999");

    std::fs::write(
        dir.path().join("helper.conf"),
        "jwt_bundle_file_name = \"file.json\"\ncert_dir = \"from-file\"\nlog_level = \"warn\"\n\
         health_checks { listener_enabled = true, bind_port = 7000, liveness_path = \"/l\" }\n",
    )
    .unwrap();
    let (code, json, stderr) = run_helper(dir.path(), &["-validate"], &env);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        python(&json, "d['jwt_bundle_file_name']"),
        "\"bundle.json\""
    );
    assert_eq!(python(&json, "d['cert_dir']"), "\"from-file\"");
    assert_eq!(
        python(
            &json,
            "[d['health_checks'][k] for k in ('bind_port', 'liveness_path')]"
        ),
        "[9999, \"/live\"]",
        "the variable replaces the whole block"
    );

    let (code, json, stderr) = run_helper(
        dir.path(),
        &["-daemon-mode", "true", "-log-level", "debug", "-validate"],
        &env,
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        python(&json, "[d['daemon_mode'], d['log_level']]"),
        "[true, \"debug\"]"
    );
}

#[test]
fn a_bad_variable_or_file_exits_1_with_the_helpers_own_error() {
    let (dir, _) = helper_dir();
    std::fs::write(
        dir.path().join("helper.conf"),
        "jwt_bundle_file_name = \"b.json\"\n",
    )
    .unwrap();
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("SPIFFE_HLP_DAEMON_MODE", "maybe")],
            "error=\"SPIFFE_HLP_DAEMON_MODE: daemon_mode: unknown value for boolean: maybe\"",
        ),
        (
            &[("SPIFFE_HLP_SVID_FILE_NAME", "s.pem")],
            "msg=\"invalid configuration\" error=\"all or none of 'svid_file_name', \
             'svid_key_file_name', 'svid_bundle_file_name' must be specified\"",
        ),
        (
            &[("SPIFFE_HLP_AGENT_ADDRESS", "tcp://localhost:1")],
            "msg=\"invalid configuration\"",
        ),
    ];
    for (env, want) in cases {
        let (code, stdout, stderr) = run_helper(dir.path(), &["-validate"], env);
        assert_eq!((code, stdout.as_str()), (Some(1), ""), "{stderr}");
        assert!(stderr.contains(want), "{stderr}");
        // The helper itself stops at start with the same line.
        let (code, _, daemon) = run_helper(dir.path(), &[], env);
        assert_eq!(code, Some(1), "{daemon}");
        assert_eq!(error_line(&stderr), error_line(&daemon));
    }

    std::fs::write(dir.path().join("helper.conf"), "cert_dir = \n[").unwrap();
    let (code, stdout, stderr) = run_helper(dir.path(), &["-validate"], &[]);
    assert_eq!((code, stdout.as_str()), (Some(1), ""), "{stderr}");
    let (_, _, daemon) = run_helper(dir.path(), &[], &[]);
    assert!(
        stderr.contains("msg=\"failed to parse configuration\""),
        "{stderr}"
    );
    assert_eq!(error_line(&stderr), error_line(&daemon));
}
