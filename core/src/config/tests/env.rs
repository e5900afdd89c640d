//! `SPIFFE_HLP_*` variables: every type of key, JSON blocks and lists, replacement over the
//! file, unknown names, and errors that name the variable.

use super::*;
use alloc::format;

fn env(config: &mut Config, vars: &[(&str, &str)]) -> Result<usize, String> {
    apply_env(
        config,
        vars.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
    )
    .map_err(|e| e.to_string())
}

fn from_env(vars: &[(&str, &str)]) -> Config {
    let mut c = Config::default();
    env(&mut c, vars).unwrap_or_else(|e| panic!("{e}"));
    c
}

fn env_error(vars: &[(&str, &str)]) -> String {
    env(&mut Config::default(), vars).expect_err("an error")
}

#[test]
fn strings_bools_and_ints_read_as_the_file_reads_them() {
    let c = from_env(&[
        ("SPIFFE_HLP_CERT_DIR", "/certs"),
        ("SPIFFE_HLP_SVID_FILE_NAME", "svid.pem"),
        ("SPIFFE_HLP_DAEMON_MODE", "FALSE"),
        ("SPIFFE_HLP_OMIT_EXPIRED", "1"),
        ("SPIFFE_HLP_CERT_FILE_MODE", "0640"),
        ("SPIFFE_HLP_KEY_FILE_MODE", "0x180"),
        ("SPIFFE_HLP_JWT_SVID_FILE_MODE", "0b110100000"),
        ("SPIFFE_HLP_MAX_MESSAGE_SIZE", "1_048_576"),
        ("SPIFFE_HLP_ONE_SHOT_TIMEOUT", "1m30s"),
        ("SPIFFE_HLP_RENEW_SIGNAL", "SIGHUP"),
        ("HOME", "/root"),
    ]);
    assert_eq!(c.cert_dir, "/certs");
    assert_eq!(c.svid_file_name, "svid.pem");
    assert_eq!(c.daemon_mode, Some(false));
    assert!(c.omit_expired);
    assert_eq!(c.cert_file_mode, 0o640);
    assert_eq!(c.key_file_mode, 0x180);
    assert_eq!(c.jwt_svid_file_mode, 0o640);
    assert_eq!(c.max_message_size, 1 << 20);
    assert_eq!(c.one_shot_timeout, "1m30s");
    assert_eq!(c.renew_signal, "SIGHUP");
    // The file's reading of the same values gives the same configuration.
    let file = ok("cert_dir = \"/certs\"\nsvid_file_name = \"svid.pem\"\n\
                   daemon_mode = \"FALSE\"\nomit_expired = \"1\"\ncert_file_mode = \"0640\"\n\
                   key_file_mode = \"0x180\"\njwt_svid_file_mode = \"0b110100000\"\n\
                   max_message_size = \"1_048_576\"\none_shot_timeout = \"1m30s\"\n\
                   renew_signal = \"SIGHUP\"\n");
    assert_eq!(c, file);
}

#[test]
fn a_bad_scalar_names_the_variable_and_gives_the_files_message() {
    assert_eq!(
        env_error(&[("SPIFFE_HLP_DAEMON_MODE", "maybe")]),
        "SPIFFE_HLP_DAEMON_MODE: daemon_mode: unknown value for boolean: maybe"
    );
    let file = err("daemon_mode = \"maybe\"").kind.to_string();
    assert_eq!(file, "daemon_mode: unknown value for boolean: maybe");
    assert_eq!(
        env_error(&[("SPIFFE_HLP_CERT_FILE_MODE", "0o9")]),
        format!(
            "SPIFFE_HLP_CERT_FILE_MODE: {}",
            err("cert_file_mode = \"0o9\"").kind
        )
    );
    assert_eq!(
        env_error(&[("SPIFFE_HLP_BIND_PORT", "1")]),
        "SPIFFE_HLP_BIND_PORT: not a configuration key (SPIFFE_HLP_ must be followed by a \
         key of helper.conf in upper case, such as SPIFFE_HLP_CERT_DIR)"
    );
    assert!(env_error(&[("SPIFFE_HLP_cert_dir", "x")]).starts_with("SPIFFE_HLP_cert_dir: not a"));
    assert!(env_error(&[("SPIFFE_HLP_", "x")]).starts_with("SPIFFE_HLP_: not a"));
    let mut c = Config::default();
    let bad = apply_env(&mut c, [(&b"SPIFFE_HLP_HINT"[..], &b"\xff"[..])]).unwrap_err();
    assert_eq!(bad.to_string(), "SPIFFE_HLP_HINT: the value is not UTF-8");
}

#[test]
fn blocks_and_lists_are_json() {
    let c = from_env(&[
        (
            "SPIFFE_HLP_JWT_SVIDS",
            r#"[{"jwt_audience":"a","jwt_svid_file_name":"a.jwt"},
                {"jwt_audience":"b","jwt_extra_audiences":["c","d"],"jwt_svid_file_name":"b.jwt"}]"#,
        ),
        (
            "SPIFFE_HLP_HEALTH_CHECKS",
            r#"{"listener_enabled":true,"bind_port":"0x1F91"}"#,
        ),
        (
            "SPIFFE_HLP_START",
            r#"{"cmd":"envoy","args":["-c","e.yaml"]}"#,
        ),
        (
            "SPIFFE_HLP_RELOAD",
            r#"{"exec":[{"cmd":"/bin/true","on":["jwt_svid"]}]}"#,
        ),
    ]);
    let file = ok(
        r#"{"jwt_svids":[{"jwt_audience":"a","jwt_svid_file_name":"a.jwt"},
        {"jwt_audience":"b","jwt_extra_audiences":["c","d"],"jwt_svid_file_name":"b.jwt"}],
        "health_checks":{"listener_enabled":true,"bind_port":"0x1F91"},
        "start":{"cmd":"envoy","args":["-c","e.yaml"]},
        "reload":{"exec":[{"cmd":"/bin/true","on":["jwt_svid"]}]}}"#,
    );
    assert_eq!(c, file);
    assert_eq!(c.health_checks.bind_port, 8081);
    assert_eq!(c.jwt_svids[1].jwt_extra_audiences, ["c", "d"]);
}

#[test]
fn bad_json_names_the_variable_and_the_position_in_it() {
    assert_eq!(
        env_error(&[("SPIFFE_HLP_JWT_SVIDS", r#"[{"jwt_audience":"a",}]"#)]),
        "SPIFFE_HLP_JWT_SVIDS: At 1:22: unexpected '}', expected a quoted key (the value of \
         a block or list is JSON)"
    );
    assert_eq!(
        env_error(&[("SPIFFE_HLP_JWT_SVIDS", r#"[{"jwt_audience":[]}]"#)]),
        "SPIFFE_HLP_JWT_SVIDS: At 1:18: jwt_svids[0].jwt_audience: expected string, found \
         list (the value of a block or list is JSON)"
    );
    assert!(
        env_error(&[("SPIFFE_HLP_HEALTH_CHECKS", "listener_enabled=true")])
            .starts_with("SPIFFE_HLP_HEALTH_CHECKS: At 1:1: unexpected 'l'")
    );
    assert!(
        env_error(&[("SPIFFE_HLP_HEALTH_CHECKS", "{} {}")])
            .starts_with("SPIFFE_HLP_HEALTH_CHECKS: At 1:4: unexpected '{', expected the end")
    );
    assert!(
        env_error(&[("SPIFFE_HLP_START", "[]")]).contains("start: expected object, found list")
    );
}

#[test]
fn a_variable_replaces_the_files_value_whole() {
    let mut c = ok(r#"
        cert_dir = "/file"
        daemon_mode = false
        jwt_svids = [{ jwt_audience = "f", jwt_svid_file_name = "f.jwt" }]
        health_checks { listener_enabled = true, bind_port = 9000, readiness_path = "/r" }
    "#);
    let n = env(
        &mut c,
        &[
            ("SPIFFE_HLP_CERT_DIR", "/env"),
            ("SPIFFE_HLP_DAEMON_MODE", "true"),
            (
                "SPIFFE_HLP_JWT_SVIDS",
                r#"[{"jwt_audience":"e","jwt_svid_file_name":"e.jwt"}]"#,
            ),
            ("SPIFFE_HLP_HEALTH_CHECKS", r#"{"listener_enabled":true}"#),
        ],
    )
    .unwrap();
    assert_eq!(n, 4);
    assert_eq!(c.cert_dir, "/env");
    assert_eq!(c.daemon_mode, Some(true));
    assert_eq!(c.jwt_svids.len(), 1);
    assert_eq!(c.jwt_svids[0].jwt_audience, "e");
    assert_eq!(c.health_checks.bind_port, 0);
    assert_eq!(c.health_checks.readiness_path, "");
    // An empty value sets the key to empty, as `cert_dir = ""` does.
    env(&mut c, &[("SPIFFE_HLP_CERT_DIR", "")]).unwrap();
    assert_eq!(c.cert_dir, "");
}

#[test]
fn nothing_applied_without_our_prefix_and_validation_is_the_files() {
    let mut c = Config::default();
    assert_eq!(
        env(
            &mut c,
            &[("SPIFFE_ENDPOINT_SOCKET", "unix:///s"), ("PATH", "/bin")]
        ),
        Ok(0)
    );
    assert_eq!(c, Config::default());
    let c = from_env(&[(
        "SPIFFE_HLP_JWT_SVIDS",
        r#"[{"jwt_audience":"a","jwt_file":"x"}]"#,
    )]);
    assert_eq!(
        c.validate(None, None).unwrap_err().to_string(),
        invalid(r#"{"jwt_svids":[{"jwt_audience":"a","jwt_file":"x"}]}"#)
    );
    let c = from_env(&[("SPIFFE_HLP_SVID_FILE_NAME", "s.pem")]);
    assert_eq!(
        c.validate(None, None).unwrap_err().to_string(),
        invalid("svid_file_name = \"s.pem\"")
    );
}

#[test]
fn every_key_has_its_variable() {
    for key in decode::top_level_keys() {
        let var = format!("{ENV_PREFIX}{}", key.to_ascii_uppercase());
        let value = if decode::STRUCTURED_KEYS.contains(&key) {
            if key.ends_with("_svids") { "[]" } else { "{}" }
        } else {
            "1"
        };
        env(&mut Config::default(), &[(&var, value)]).unwrap_or_else(|e| panic!("{e}"));
    }
}
