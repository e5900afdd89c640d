//! The JSON form, and malformed input of every kind.

use alloc::format;
use alloc::string::ToString;

use super::*;

const FULL_HCL: &str = r#"
agent_address = "unix:///run/spire/agent.sock"
cmd = "nginx"
cmd_args = "-g \"daemon off;\""
pid_file_name = "/run/nginx.pid"
renew_signal = "SIGHUP"
cert_dir = "/certs"
daemon_mode = true
add_intermediates_to_bundle = true
include_federated_domains = true
omit_expired = true
hint = "internal"
svid_file_name = "svid.pem"
svid_key_file_name = "svid.key"
svid_bundle_file_name = "bundle.pem"
jwt_bundle_file_name = "jwt_bundle.json"
jwt_svids = [{ jwt_audience = "a", jwt_extra_audiences = ["b", "c"], jwt_svid_file_name = "/etc/a.jwt" }]
cert_file_mode = 0640
key_file_mode = "0600"
jwt_bundle_file_mode = 416
jwt_svid_file_mode = 0x180
health_checks { listener_enabled = true, bind_port = 8088, liveness_path = "/l", readiness_path = "/r" }
"#;

const FULL_JSON: &str = r#"  {
  "agent_address": "unix:///run/spire/agent.sock",
  "cmd": "nginx",
  "cmd_args": "-g \"daemon off;\"",
  "pid_file_name": "\/run\/nginx.pid",
  "renew_signal": "SIGHUP",
  "cert_dir": "/certs",
  "daemon_mode": true,
  "add_intermediates_to_bundle": true,
  "include_federated_domains": "true",
  "omit_expired": 1,
  "hint": "internal",
  "svid_file_name": "svid.pem",
  "svid_key_file_name": "svid.key",
  "svid_bundle_file_name": "bundle.pem",
  "jwt_bundle_file_name": "jwt_bundle.json",
  "jwt_svids": [{"jwt_audience": "a", "jwt_extra_audiences": ["b", "c"], "jwt_svid_file_name": "/etc/a.jwt"}],
  "cert_file_mode": "0640",
  "key_file_mode": "0600",
  "jwt_bundle_file_mode": 416,
  "jwt_svid_file_mode": "0x180",
  "Health_Checks": {"listener_enabled": true, "bind_port": 8088, "liveness_path": "/l", "readiness_path": "/r"}
}
"#;

#[test]
fn json_form_equals_hcl_form() {
    let hcl = ok(FULL_HCL);
    let json = ok(FULL_JSON);
    assert_eq!(hcl, json);
    assert_eq!(hcl.cmd_args, "-g \"daemon off;\"");
    assert_eq!(hcl.cert_file_mode, 0o640);
    assert_eq!(hcl.key_file_mode, 0o600);
    assert_eq!(hcl.jwt_svid_file_mode, 0o600);
    assert_eq!(hcl.jwt_bundle_file_mode, 0o640);
    assert_eq!(
        agent_endpoint(&hcl.agent_address),
        Ok(Endpoint::Unix("/run/spire/agent.sock"))
    );
    assert_eq!(
        join_path(&hcl.cert_dir, &hcl.jwt_svids[0].jwt_svid_file_name),
        "/certs/etc/a.jwt"
    );
    let (v, w) = hcl.validate(None, None).unwrap();
    assert!(w.is_empty());
    assert_eq!(v.config().health_checks.bind_port, 8088);
}

#[test]
fn json_errors() {
    assert_eq!(
        err("{\"cmd\": \"a\",}").to_string(),
        "At 1:13: unexpected '}', expected a quoted key"
    );
    assert_eq!(
        err("{\"cmd\": null}").to_string(),
        "At 1:9: unexpected 'n', expected a JSON value (not null)"
    );
    assert_eq!(err("{} {}").kind, SyntaxErrorKind::NotAnObject);
    assert_eq!(
        err("{\"cert_file_mode\": 0644}").pos,
        Pos {
            line: 1,
            column: 21
        }
    );
    assert_eq!(
        err("{\"a\": \"\\x\"}").kind,
        SyntaxErrorKind::InvalidEscape { found: 'x' }
    );
    assert_eq!(
        err("{\"a\": \"\t\"}").kind,
        SyntaxErrorKind::ControlCharInString
    );
    assert_eq!(
        err("{\"a\": \"\\ud800\"}").kind,
        SyntaxErrorKind::InvalidUnicodeEscape
    );
    assert_eq!(ok("{\"hint\": \"\\ud83d\\ude00\"}").hint, "\u{1F600}");
    assert_eq!(err("{\"a\": 1.}").kind, SyntaxErrorKind::InvalidNumber);
    assert_eq!(err("{\"a\": -}").kind, SyntaxErrorKind::InvalidNumber);
    // Positions of the shared tokenizer's errors: the opening quote of an unterminated
    // string, the backslash of a bad escape, what follows a leading zero.
    for (text, message) in [
        ("{\n \"a\": \"abc", "At 2:7: string literal not terminated"),
        ("{\"a\": \"ab\\", "At 1:10: string literal not terminated"),
        ("{\"a\": \"é\\q\"}", "At 1:9: unknown escape sequence \\q"),
        ("{\"a\": \"x\ny\"}", "At 1:9: line break in string literal"),
        ("{\"a\": 01}", "At 1:8: unexpected '1', expected ',' or '}'"),
        (
            "{\"a\": [1 \"b]}",
            "At 1:10: unexpected '\"', expected ',' or ']'",
        ),
        (
            "{\"a\": nul}",
            "At 1:7: unexpected 'n', expected a JSON value (not null)",
        ),
        (
            "{\"a\": 1, }",
            "At 1:10: unexpected '}', expected a quoted key",
        ),
        ("{\"a\" 1}", "At 1:6: unexpected '1', expected ':'"),
        (
            "{\"a\": 1} x",
            "At 1:10: a JSON configuration must be a single object",
        ),
    ] {
        assert_eq!(err(text).to_string(), message, "{text:?}");
    }
    let c = ok("{\"jwt_svids\": [{\"jwt_audience\": \"a\", \"foo\": 1}], \"bar\": {}}");
    assert_eq!(c.unknown_keys, ["bar"]);
    assert_eq!(c.jwt_svids[0].unknown_keys, ["foo"]);
}

#[test]
fn nesting_is_bounded() {
    let deep_hcl = format!("x = {}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(
        err(&deep_hcl).kind,
        SyntaxErrorKind::TooDeep { limit: MAX_DEPTH }
    );
    let deep_obj = format!("{}{}", "a { ".repeat(100), "}".repeat(100));
    assert_eq!(
        err(&deep_obj).kind,
        SyntaxErrorKind::TooDeep { limit: MAX_DEPTH }
    );
    let deep_json = format!("{{\"x\": {}{}}}", "[".repeat(100), "]".repeat(100));
    assert_eq!(
        err(&deep_json).kind,
        SyntaxErrorKind::TooDeep { limit: MAX_DEPTH }
    );
    let fine = format!("x = {}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert_eq!(ok(&fine).unknown_keys, ["x"]);
}

#[test]
fn malformed_input_reports_positions() {
    let cases: &[(&str, &str)] = &[
        (
            "cmd",
            "At 1:4: unexpected end of input, expected '=' or '{' after the key",
        ),
        (
            "a { cmd =",
            "At 1:10: unexpected end of input, expected a value",
        ),
        (
            "cmd = foo",
            "At 1:7: unexpected 'f', expected a value (string, number, bool, list or object)",
        ),
        ("= 1", "At 1:1: unexpected '=', expected a key"),
        ("a = [1 2]", "At 1:8: unexpected '2', expected ',' or ']'"),
        (
            "a = [1,",
            "At 1:8: unexpected end of input, expected a value",
        ),
        (
            "a {\n b = 1\n",
            "At 3:1: unexpected end of input, expected '}'",
        ),
        ("a = 1 }", "At 1:7: unexpected '}', expected a key"),
        ("a = -x", "At 1:6: unexpected 'x', expected a digit"),
        ("a = 1 / 2", "At 1:7: unexpected '/', expected a key"),
        ("\n\n  cmd = @", "At 3:9: unexpected '@', expected a value"),
        (
            "é = \"ü\" ü",
            "At 1:10: unexpected end of input, expected '=' or '{' after the key",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(err(text).to_string(), *want, "{text:?}");
    }
}

#[test]
fn every_prefix_parses_or_fails_cleanly() {
    for text in [
        FULL_HCL,
        FULL_JSON,
        UPSTREAM_TESTDATA,
        UPSTREAM_POSTGRES,
        LAB_SERVER,
    ] {
        let ends = text.char_indices().map(|(i, _)| i).chain([text.len()]);
        for end in ends {
            let prefix = &text[..end];
            if let Ok(c) = parse(prefix) {
                let _ = c.validate(None, None);
            }
            let _ = split_cmd_args(prefix);
        }
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A deterministic xorshift stream over the characters that matter to the parsers.
    let alphabet: Vec<char> = "{}[]=,\"\\<-#/*\n\r\t 0x9.eE+aUu_:trufalsEOF{é"
        .chars()
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..3000 {
        let mut s = String::new();
        for _ in 0..(state % 40) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            s.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        let _ = parse(&s);
        let _ = parse(&format!("{{{s}"));
        let _ = split_cmd_args(&s);
    }
}

#[test]
fn bytes_that_are_not_utf8_are_a_positioned_error() {
    let e = parse_bytes(b"cmd = \"a\"\nhint = \"\xc3\xa9\xff\"\n").unwrap_err();
    assert_eq!(e.to_string(), "At 2:10: illegal UTF-8 encoding");
    assert_eq!(
        parse_bytes(b"\xfe").unwrap_err().pos,
        Pos { line: 1, column: 1 }
    );
    assert_eq!(parse_bytes(b"cmd = \"\xc3\xa9\"").unwrap().cmd, "\u{e9}");
}
