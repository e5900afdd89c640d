//! End-to-end: `log_level`, `log_format` and their flags `-log-level`, `-log-format` on the
//! real binary against `svid-dev-agent`. JSON lines are read back by Python's `json`; no
//! line, at any level, carries the private key or a JWT-SVID.

use std::path::Path;
use std::process::Command;
use svid_tests::{DevAgent, Helper, PATIENCE, helper_dir, wait_for_file, x509_config};

const UPDATED: &str = "X.509 certificates updated";

/// X.509 files, one JWT-SVID and the JWT bundle, plus `extra` lines.
fn full_config(agent: &DevAgent, certs: &Path, extra: &str) -> String {
    x509_config(
        &agent.address(),
        certs,
        &format!(
            "jwt_bundle_file_name = \"jwt_bundle.json\"\n\
             jwt_svids = [{{ jwt_audience = \"svc\", jwt_svid_file_name = \"svc.token\" }}]\n\
             {extra}"
        ),
    )
}

/// Checks with Python's `json` that every line of `logs` is one JSON object whose keys are
/// sorted (Go's `encoding/json` map order) and include `time`, `level` and `msg`; returns
/// the levels seen, one per line.
fn json_levels(logs: &str) -> Vec<String> {
    let script = "import json, sys\n\
        for line in sys.stdin.read().splitlines():\n\
        \x20   pairs = json.loads(line, object_pairs_hook=lambda p: p)\n\
        \x20   keys = [k for k, _ in pairs]\n\
        \x20   assert keys == sorted(keys), line\n\
        \x20   assert {'time', 'level', 'msg'} <= set(keys), line\n\
        \x20   print(dict(pairs)['level'])\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), logs.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "not JSON lines: {}\n{logs}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_debug_json_session_logs_json_lines_and_never_a_secret() {
    let agent = DevAgent::start(&["--rotate-every", "1s", "--jwt-ttl", "4s"]);
    let (dir, certs) = helper_dir();
    let mut helper = Helper::start_in(
        dir,
        &full_config(&agent, &certs, ""),
        &["-log-level", "debug", "-log-format", "json"],
    );
    assert!(
        helper.wait_for_logs(UPDATED, 3, PATIENCE),
        "{}",
        helper.logs()
    );
    assert!(wait_for_file(&certs.join("svc.token"), PATIENCE));
    assert!(helper.wait_for_logs("JWT SVID updated", 2, PATIENCE));
    helper.terminate();
    helper.wait_exit(PATIENCE).expect("exits on SIGTERM");
    let logs = helper.final_logs();

    let levels = json_levels(&logs);
    assert!(levels.iter().any(|l| l == "debug"), "{logs}");
    assert!(levels.iter().any(|l| l == "info"), "{logs}");

    // The key's base64 body, whole and line by line, and every token the agent signed.
    let key = std::fs::read_to_string(certs.join("svid_key.pem")).unwrap();
    let body: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut secrets: Vec<String> = body.iter().map(|l| (*l).to_owned()).collect();
    secrets.push(body.concat());
    let tokens: Vec<String> = agent
        .stdout()
        .iter()
        .filter_map(|l| l.strip_prefix("jwt ").map(str::to_owned))
        .collect();
    assert!(!tokens.is_empty(), "the agent signed JWT-SVIDs");
    for token in &tokens {
        secrets.push(token.clone());
        // Each of the three parts alone too (the signature is the secret-bearing one).
        secrets.extend(token.split('.').map(str::to_owned));
    }
    for line in logs.lines() {
        for secret in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "secret in log line: {line}"
            );
        }
    }
}

#[test]
fn the_file_sets_level_and_format_and_flags_win() {
    let agent = DevAgent::start(&[]);
    let one_shot = |extra: &str, flags: &[&str]| {
        let (dir, certs) = helper_dir();
        let config = x509_config(
            &agent.address(),
            &certs,
            &format!("daemon_mode = false\n{extra}"),
        );
        let mut helper = Helper::start_in(dir, &config, flags);
        let status = helper.wait_exit(PATIENCE).expect("one-shot exits");
        assert_eq!(status.code(), Some(0), "{}", helper.logs());
        helper.final_logs()
    };

    // From the file: JSON at warn, so a clean run says nothing.
    let quiet = one_shot("log_level = \"warn\"\nlog_format = \"json\"", &[]);
    assert_eq!(quiet, "", "nothing at warn");
    // The flag's level wins over the file's; the file's format stays.
    let info = one_shot(
        "log_level = \"warn\"\nlog_format = \"json\"",
        &["-log-level=info"],
    );
    assert!(json_levels(&info).iter().all(|l| l == "info"), "{info}");
    assert!(info.contains(UPDATED), "{info}");
    // The flag's format wins: logrus text lines.
    let text = one_shot("log_format = \"json\"", &["-log-format", "text"]);
    assert!(
        text.lines()
            .all(|l| l.starts_with("time=\"") && l.ends_with(" system=spiffe-helper")),
        "{text}"
    );
}

#[test]
fn unknown_values_are_refused_naming_the_key() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let config = x509_config(&agent.address(), &certs, "log_level = \"verbose\"");
    let mut helper = Helper::start_in(dir, &config, &[]);
    let status = helper.wait_exit(PATIENCE).expect("refused at start");
    assert_eq!(status.code(), Some(1), "{}", helper.logs());
    assert!(
        helper
            .final_logs()
            .contains("log_level \\\"verbose\\\" is not one of debug, info, warn or error"),
        "{}",
        helper.logs()
    );
    assert!(!certs.join("svid.pem").exists(), "nothing written");

    let (dir, _certs) = helper_dir();
    let mut helper = Helper::start_in(dir, &config, &["-log-format", "yaml"]);
    let status = helper.wait_exit(PATIENCE).expect("usage error");
    assert_eq!(status.code(), Some(2), "{}", helper.logs());
    assert!(
        helper
            .final_logs()
            .contains("invalid value \"yaml\" for flag -log-format"),
        "{}",
        helper.logs()
    );
}
