//! Tests of `helper.conf` as a whole: real files from upstream and the seed lab, upstream's
//! test expectations, every validation message, both syntaxes, malformed input.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};

use super::*;

const UPSTREAM_HELPER: &str = include_str!("../../testdata/config/upstream-helper.conf");
const UPSTREAM_TESTDATA: &str = include_str!("../../testdata/config/upstream-testdata-helper.conf");
const UPSTREAM_MYSQL: &str =
    include_str!("../../testdata/config/upstream-examples-mysql-helper.conf");
const UPSTREAM_POSTGRES: &str =
    include_str!("../../testdata/config/upstream-examples-postgresql-helper.conf");
const UPSTREAM_MOSQUITTO: &str =
    include_str!("../../testdata/config/upstream-examples-mosquitto-helper.conf");
const UPSTREAM_IT_MYSQL: &str =
    include_str!("../../testdata/config/upstream-integration-mysql-helper.conf");
const UPSTREAM_GO_SERVER: &str =
    include_str!("../../testdata/config/upstream-it-go-server-helper.conf");
const LAB_SERVER: &str = include_str!("../../testdata/config/lab-04-server-helper.conf");
const LAB_CLIENT: &str = include_str!("../../testdata/config/lab-04-client-helper.conf");

fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("{e}\n--- input ---\n{text}"),
    }
}

fn err(text: &str) -> ParseError {
    match parse(text) {
        Ok(c) => panic!("expected an error, got {c:?}\n--- input ---\n{text}"),
        Err(e) => e,
    }
}

fn validated(text: &str) -> (Validated, Vec<Warning>) {
    ok(text)
        .validate(None, None)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn invalid(text: &str) -> String {
    match ok(text).validate(None, None) {
        Ok(v) => panic!("expected a validation error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

const TRIO: &str = "svid_file_name = \"s.pem\"\nsvid_key_file_name = \"k.pem\"\n\
                    svid_bundle_file_name = \"b.pem\"\n";

#[test]
fn upstream_test_parse_config() {
    // TestParseConfig: cert_file_mode = 444 (no leading zero) stays decimal 444.
    let c = ok(UPSTREAM_TESTDATA);
    assert_eq!(c.agent_address, "/tmp/spire-agent/public/api.sock");
    assert_eq!(c.cmd, "hot-restarter.py");
    assert_eq!(c.cmd_args, "start_envoy.sh");
    assert_eq!(c.cert_dir, "certs");
    assert_eq!(c.renew_signal, "SIGHUP");
    assert_eq!(c.svid_file_name, "svid.pem");
    assert_eq!(c.svid_key_file_name, "svid_key.pem");
    assert_eq!(c.svid_bundle_file_name, "svid_bundle.pem");
    assert_eq!(c.jwt_bundle_file_name, "jwt_bundle.json");
    assert_eq!(
        c.jwt_svids,
        vec![JwtSvidConfig {
            jwt_audience: "your-audience".into(),
            jwt_extra_audiences: vec![
                "your-extra-audience-1".into(),
                "your-extra-audience-2".into()
            ],
            jwt_svid_file_name: "jwt_svid.token".into(),
            unknown_keys: vec![],
        }]
    );
    assert!(c.add_intermediates_to_bundle);
    // This revision of the fixture sets omit_expired = true.
    assert!(c.omit_expired);
    assert!(!c.include_federated_domains);
    assert_eq!(c.daemon_mode, None);
    assert_eq!(
        [
            c.cert_file_mode,
            c.key_file_mode,
            c.jwt_bundle_file_mode,
            c.jwt_svid_file_mode
        ],
        [444; 4]
    );
    assert!(c.unknown_keys.is_empty());

    let (v, warnings) = c.validate(None, None).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(v.cert_file_mode(), 0o674);
    assert_eq!(v.config().cert_file_mode, 444);
    assert!(v.daemon_mode());
    assert!(v.x509_enabled());
}

#[test]
fn upstream_root_example() {
    let c = ok(UPSTREAM_HELPER);
    let want = Config {
        agent_address: "/tmp/spire-agent/public/api.sock".into(),
        cert_dir: "certs".into(),
        renew_signal: "SIGUSR1".into(),
        svid_file_name: "svid.pem".into(),
        svid_key_file_name: "svid_key.pem".into(),
        svid_bundle_file_name: "svid_bundle.pem".into(),
        ..Config::default()
    };
    assert_eq!(c, want);
    let (v, _) = c.validate(None, None).unwrap();
    assert_eq!(
        (
            v.cert_file_mode(),
            v.key_file_mode(),
            v.jwt_bundle_file_mode(),
            v.jwt_svid_file_mode()
        ),
        (0o644, 0o600, 0o600, 0o600)
    );
}

#[test]
fn upstream_examples() {
    let mysql = ok(UPSTREAM_MYSQL);
    assert_eq!(mysql.cmd, "/usr/bin/mysql");
    assert_eq!(mysql.cmd_args, "-e \"ALTER INSTANCE RELOAD TLS;\"");
    assert_eq!(
        split_cmd_args(&mysql.cmd_args).unwrap(),
        ["-e", "ALTER INSTANCE RELOAD TLS;"]
    );
    assert_eq!(mysql.renew_signal, "");
    assert_eq!(mysql.cert_dir, "/var/lib/mysql");
    assert_eq!(mysql.svid_bundle_file_name, "ca.pem");
    assert!(mysql.add_intermediates_to_bundle);
    validated(UPSTREAM_MYSQL);

    let pg = ok(UPSTREAM_POSTGRES);
    assert_eq!(pg.cmd, "/usr/bin/psql");
    assert_eq!(
        split_cmd_args(&pg.cmd_args).unwrap(),
        ["-p", "5432", "-c", "SELECT pg_reload_conf();"]
    );
    assert_eq!(pg.cert_dir, "/opt/spire/certs/postgresql");
    assert_eq!(pg.svid_key_file_name, "svid.key");
    validated(UPSTREAM_POSTGRES);

    let mq = ok(UPSTREAM_MOSQUITTO);
    assert_eq!(mq.cmd, "/usr/sbin/mosquitto");
    assert_eq!(
        split_cmd_args(&mq.cmd_args).unwrap(),
        ["-c", "./examples/mosquitto/mosquitto.conf"]
    );
    assert_eq!(mq.renew_signal, "SIGHUP");
    validated(UPSTREAM_MOSQUITTO);

    // Octal modes written with a leading zero.
    let it = ok(UPSTREAM_IT_MYSQL);
    assert_eq!((it.cert_file_mode, it.key_file_mode), (0o644, 0o644));
    assert_eq!(
        split_cmd_args(&it.cmd_args).unwrap(),
        [
            "--protocol=socket",
            "--socket=/run/mysqld/mysqld.sock",
            "-uroot",
            "-e",
            "ALTER INSTANCE RELOAD TLS;"
        ]
    );
    let (v, _) = validated(UPSTREAM_IT_MYSQL);
    assert_eq!((v.cert_file_mode(), v.key_file_mode()), (0o644, 0o644));
}

#[test]
fn removed_camel_case_keys_are_unknown() {
    // `svid_bundle_fileName` differs from `svid_bundle_file_name` by an underscore, not by
    // case; Go sorts by bytes, so upper case comes first.
    let c = ok(UPSTREAM_GO_SERVER);
    assert_eq!(
        c.unknown_keys,
        ["agentAddress", "cmdArgs", "svid_bundle_fileName"]
    );
    assert_eq!(
        c.validate(None, None).unwrap_err().to_string(),
        "unknown top level key(s): agentAddress,cmdArgs,svid_bundle_fileName"
    );
}

#[test]
fn seed_lab_configs() {
    for (text, cert, key) in [
        (LAB_SERVER, "server_cert.pem", "server_key.pem"),
        (LAB_CLIENT, "client_cert.pem", "client_key.pem"),
    ] {
        let (v, warnings) = validated(text);
        assert!(warnings.is_empty());
        let c = v.config();
        assert_eq!(c.agent_address, "/spire-agent-socket/agent.sock");
        assert_eq!(
            socket_path(&c.agent_address),
            Ok("/spire-agent-socket/agent.sock")
        );
        assert_eq!(c.cmd, "python3");
        assert_eq!(split_cmd_args(&c.cmd_args).unwrap(), ["main.py"]);
        assert_eq!(signal_number(&c.renew_signal), Some(1));
        assert_eq!(c.cert_dir, "/var/run/secrets/svids");
        assert_eq!(
            join_path(&c.cert_dir, &c.svid_file_name),
            format!("/var/run/secrets/svids/{cert}")
        );
        assert_eq!(c.svid_key_file_name, key);
        assert_eq!(c.svid_bundle_file_name, "svid_bundle.pem");
        assert!(v.daemon_mode());
        assert!(!c.health_checks.listener_enabled);
    }
}

#[test]
fn file_mode_forms() {
    // §4.1 table: the form written and the mode that results.
    for (form, mode) in [
        ("0644", 0o644),
        ("\"0644\"", 0o644),
        ("420", 0o644),
        ("644", 0o1204),
        ("0", 0o644),
        ("0x1A4", 0o644),
        ("\"0x1a4\"", 0o644),
        ("\"0o644\"", 0o644),
        ("\"420\"", 0o644),
    ] {
        let (v, _) = validated(&format!("{TRIO}cert_file_mode = {form}\n"));
        assert_eq!(v.cert_file_mode() & 0o777, mode & 0o777, "{form}");
        assert_eq!(
            v.config().cert_file_mode,
            if mode == 0o1204 { 644 } else { 0o644 },
            "{form}"
        );
    }
    assert_eq!(
        invalid(&format!("{TRIO}cert_file_mode = -1\n")),
        "cert file mode must be positive"
    );
    assert_eq!(
        invalid(&format!("{TRIO}cert_file_mode = \"-1\"\n")),
        "cert file mode must be positive"
    );
}

#[test]
fn bad_numbers_are_positioned_errors() {
    let e = err("cert_file_mode = 0o644\n");
    assert_eq!(
        e.pos,
        Pos {
            line: 1,
            column: 19
        }
    );
    assert_eq!(
        e.to_string(),
        "At 1:19: unexpected 'o', expected the end of the number"
    );
    let e = err("key_file_mode = 0869\n");
    assert_eq!(
        (e.pos, e.kind),
        (
            Pos {
                line: 1,
                column: 17
            },
            ParseErrorKind::InvalidNumber
        )
    );
    let e = err("cert_file_mode = \"rw-r--r--\"\n");
    assert_eq!(
        e.to_string(),
        "At 1:18: cert_file_mode: strconv.ParseInt: parsing \"rw-r--r--\": invalid syntax"
    );
    let e = err("cert_file_mode = 1.5\n");
    assert_eq!(
        e.to_string(),
        "At 1:18: cert_file_mode: expected integer, found float"
    );
    let e = err("cert_file_mode = 99999999999999999999\n");
    assert_eq!(
        e.to_string(),
        "At 1:18: cert_file_mode: strconv.ParseInt: parsing \"99999999999999999999\": value out of range"
    );
    let e = err("x = 0x\n");
    assert_eq!(e.kind, ParseErrorKind::InvalidNumber);
}

#[test]
fn types_follow_hcl_v1_decoding() {
    let c = ok(
        "cmd = 123\ncmd_args = true\nhint = 1.5\ndaemon_mode = \"FALSE\"\n\
                omit_expired = 1\ninclude_federated_domains = \"true\"\n\
                add_intermediates_to_bundle = 0\n",
    );
    assert_eq!(
        (c.cmd.as_str(), c.cmd_args.as_str(), c.hint.as_str()),
        ("123", "true", "1.5")
    );
    assert_eq!(c.daemon_mode, Some(false));
    assert!(c.omit_expired && c.include_federated_domains && !c.add_intermediates_to_bundle);

    assert_eq!(
        err("daemon_mode = \"yes\"").to_string(),
        "At 1:15: daemon_mode: unknown value for boolean: yes"
    );
    assert_eq!(
        err("daemon_mode = 2").to_string(),
        "At 1:15: daemon_mode: unknown value for boolean: 2"
    );
    assert_eq!(
        err("cmd = [\"a\"]").to_string(),
        "At 1:7: cmd: expected string, found list"
    );
    assert_eq!(
        err("cmd { }").to_string(),
        "At 1:5: cmd: expected string, found object"
    );
    assert_eq!(
        err("jwt_svids = \"a\"").to_string(),
        "At 1:13: jwt_svids: expected list of objects, found string"
    );
    assert_eq!(
        err("jwt_svids = [{jwt_audience = \"a\"}, \"b\"]").to_string(),
        "At 1:36: jwt_svids[1]: expected object, found string"
    );
    assert_eq!(
        err("jwt_svids = [{jwt_extra_audiences = \"a\"}]").to_string(),
        "At 1:37: jwt_svids[0].jwt_extra_audiences: expected list of strings, found string"
    );
    assert_eq!(
        err("jwt_svids = [{jwt_extra_audiences = [\"a\", {}]}]").to_string(),
        "At 1:43: jwt_svids[0].jwt_extra_audiences[1]: expected string, found object"
    );
    assert_eq!(
        err("health_checks = [1]").to_string(),
        "At 1:17: health_checks: expected object, found list"
    );
    assert_eq!(
        err("health_checks { bind_port = \"http\" }").to_string(),
        "At 1:29: health_checks.bind_port: strconv.ParseInt: parsing \"http\": invalid syntax"
    );
}

#[test]
fn keys_are_case_insensitive_and_duplicates_rejected() {
    let c = ok(
        "Agent_Address = \"/a.sock\"\nSVID_FILE_NAME = \"s\"\n\"svid_key_file_name\" = \"k\"\n\
                Health_Checks { Listener_Enabled = true }\n\
                JWT_SVIDS = [{ JWT_Audience = \"aud\", Jwt_Svid_File_Name = \"t\" }]\n",
    );
    assert_eq!(c.agent_address, "/a.sock");
    assert_eq!(c.svid_file_name, "s");
    assert_eq!(c.svid_key_file_name, "k");
    assert!(c.health_checks.listener_enabled);
    assert_eq!(c.jwt_svids[0].jwt_audience, "aud");
    assert_eq!(c.jwt_svids[0].jwt_svid_file_name, "t");
    assert!(c.unknown_keys.is_empty());

    // Go's EqualFold folds the Kelvin sign to k, and so do we.
    assert_eq!(ok("\u{212A}EY_FILE_MODE = 1").key_file_mode, 1);
    assert_eq!(ok("k\u{e9}y = 1").unknown_keys, ["k\u{e9}y"]);

    let e = err("cmd = \"a\"\nrenew_signal = \"SIGHUP\"\n  CMD = \"b\"\n");
    assert_eq!(e.pos, Pos { line: 3, column: 3 });
    assert_eq!(
        e.to_string(),
        "At 3:3: The argument \"CMD\" at 1:1 was already set. Each argument can only be defined once"
    );
    assert!(matches!(
        err("health_checks { bind_port = 1 }\nhealth_checks { bind_port = 2 }").kind,
        ParseErrorKind::DuplicateKey { .. }
    ));
    assert!(matches!(
        err("jwt_svids = [{ jwt_audience = \"a\"\n jwt_audience = \"b\" }]").kind,
        ParseErrorKind::DuplicateKey { .. }
    ));
    assert!(matches!(
        err("{\"cmd\": \"a\", \"Cmd\": \"b\"}").kind,
        ParseErrorKind::DuplicateKey { .. }
    ));
}

#[test]
fn comments_and_separators() {
    let c = ok(
        "# hash\n// slashes\n/* block\n   comment */ cmd = \"a\" /* inline */, cmd_args = \"b\"\n\
                hint = \"h\" # trailing\nrenew_signal=\"SIGHUP\"renew_signal_x=1\n\
                jwt_svids = [ # in a list\n  { jwt_audience = \"x\", jwt_svid_file_name = \"y\", },\n\
                /* c */ ]\n",
    );
    assert_eq!(
        (c.cmd.as_str(), c.cmd_args.as_str(), c.hint.as_str()),
        ("a", "b", "h")
    );
    assert_eq!(c.renew_signal, "SIGHUP");
    assert_eq!(c.unknown_keys, ["renew_signal_x"]);
    assert_eq!(c.jwt_svids.len(), 1);
    assert_eq!(
        err("cmd = \"a\" /* never closed").to_string(),
        "At 1:11: comment not terminated"
    );
}

#[test]
fn strings_and_escapes() {
    let c = ok(r#"cmd_args = "-e \"ALTER\" \\ \t\n\u00e9\U0001F600 ${HOME} 'q'""#);
    assert_eq!(
        c.cmd_args,
        "-e \"ALTER\" \\ \t\n\u{e9}\u{1F600} ${HOME} 'q'"
    );
    assert_eq!(
        err(r#"cmd = "a\qb""#).to_string(),
        "At 1:9: unknown escape sequence \\q"
    );
    assert_eq!(
        err(r#"cmd = "\uD800""#).kind,
        ParseErrorKind::InvalidUnicodeEscape
    );
    assert_eq!(
        err(r#"cmd = "\u12""#).kind,
        ParseErrorKind::InvalidUnicodeEscape
    );
    assert_eq!(
        err("cmd = \"abc").to_string(),
        "At 1:7: string literal not terminated"
    );
    assert_eq!(
        err("cmd = \"ab\nc\"").to_string(),
        "At 1:10: line break in string literal"
    );
}

#[test]
fn heredocs() {
    let c = ok("cmd_args = <<EOF\n-c \"a b\"\n  indented\nEOF\ncmd = \"x\"\n");
    assert_eq!(c.cmd_args, "-c \"a b\"\n  indented\n");
    assert_eq!(c.cmd, "x");
    let c = ok("hint = <<-EOT\n    one\n      two\n    EOT\n");
    assert_eq!(c.hint, "one\n  two\n");
    // Not every line carries the closing line's indentation: kept as is (HCL v1).
    let c = ok("hint = <<-EOT\n    one\n  two\n    EOT\n");
    assert_eq!(c.hint, "    one\n  two\n");
    // HCL v1 keeps the closing line's indentation after `<<` (checked with hashicorp/hcl).
    let c = ok("hint = <<EOF\nline\n  EOF\ncmd = \"x\"");
    assert_eq!(c.hint, "line\n  ");
    // HCL v1 wants a line break after the closing anchor; we also accept the end of text.
    let c = ok("hint = <<EOF\nEOF");
    assert_eq!(c.hint, "");
    let c = ok("hint = <<EOF\r\nline\r\nEOF\r\n");
    assert_eq!(c.hint, "line\r\n");
    assert_eq!(
        err("hint = <<EOF\nno end\n").to_string(),
        "At 1:8: heredoc <<EOF not terminated"
    );
    assert_eq!(
        err("hint = <<EOF x\nEOF\n").kind,
        ParseErrorKind::InvalidHeredocAnchor
    );
    assert_eq!(
        err("hint = <<\nEOF\n").kind,
        ParseErrorKind::InvalidHeredocAnchor
    );
    assert!(matches!(
        err("hint = <x").kind,
        ParseErrorKind::UnexpectedChar { found: 'x', .. }
    ));
}

#[test]
fn block_forms() {
    for text in [
        "health_checks {\n  listener_enabled = true\n  bind_port = 9000\n  liveness_path = \"/l\"\n  readiness_path = \"/r\"\n}\n",
        "health_checks = {\n  listener_enabled = true, bind_port = 9000\n  liveness_path = \"/l\", readiness_path = \"/r\"\n}\n",
        "health_checks = { listener_enabled = true bind_port = 9000 liveness_path = \"/l\" readiness_path = \"/r\" }",
    ] {
        let c = ok(text);
        assert_eq!(
            c.health_checks,
            HealthChecks {
                listener_enabled: true,
                bind_port: 9000,
                liveness_path: "/l".into(),
                readiness_path: "/r".into()
            },
            "{text}"
        );
    }
    // A single jwt_svids block counts as a list of one.
    let c = ok("jwt_svids { jwt_audience = \"a\"\n jwt_svid_file_name = \"t\" }");
    assert_eq!(c.jwt_svids.len(), 1);
    assert_eq!(c.jwt_svids[0].jwt_svid_file_name, "t");
    assert_eq!(
        err("health_checks \"x\" { }").to_string(),
        "At 1:15: block \"health_checks\" has a label; labelled blocks are not supported"
    );
}

#[test]
fn reference_jwt_svids_form() {
    // §2.3 of the upstream notes.
    let c = ok(r#"
jwt_svids = [
  { jwt_audience = "aud-a", jwt_svid_file_name = "a.token" },
  {
    jwt_audience        = "aud-b"
    jwt_extra_audiences = ["x", "y"]
    jwt_svid_file_name  = "b.token"
  },
]
"#);
    assert_eq!(c.jwt_svids.len(), 2);
    assert_eq!(c.jwt_svids[0].jwt_audience, "aud-a");
    assert!(c.jwt_svids[0].jwt_extra_audiences.is_empty());
    assert_eq!(c.jwt_svids[1].jwt_extra_audiences, ["x", "y"]);
    assert_eq!(c.jwt_svids[1].jwt_svid_file_name, "b.token");
    validated(r#"jwt_svids = [{ jwt_audience = "a", jwt_svid_file_name = "t" }]"#);
}

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
    assert_eq!(socket_path(&hcl.agent_address), Ok("/run/spire/agent.sock"));
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
    assert_eq!(err("{} {}").kind, ParseErrorKind::NotAnObject);
    assert_eq!(
        err("{\"cert_file_mode\": 0644}").pos,
        Pos {
            line: 1,
            column: 21
        }
    );
    assert_eq!(
        err("{\"a\": \"\\x\"}").kind,
        ParseErrorKind::InvalidEscape { found: 'x' }
    );
    assert_eq!(
        err("{\"a\": \"\t\"}").kind,
        ParseErrorKind::ControlCharInString
    );
    assert_eq!(
        err("{\"a\": \"\\ud800\"}").kind,
        ParseErrorKind::InvalidUnicodeEscape
    );
    assert_eq!(ok("{\"hint\": \"\\ud83d\\ude00\"}").hint, "\u{1F600}");
    assert_eq!(err("{\"a\": 1.}").kind, ParseErrorKind::InvalidNumber);
    assert_eq!(err("{\"a\": -}").kind, ParseErrorKind::InvalidNumber);
    let c = ok("{\"jwt_svids\": [{\"jwt_audience\": \"a\", \"foo\": 1}], \"bar\": {}}");
    assert_eq!(c.unknown_keys, ["bar"]);
    assert_eq!(c.jwt_svids[0].unknown_keys, ["foo"]);
}

#[test]
fn nesting_is_bounded() {
    let deep_hcl = format!("x = {}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(
        err(&deep_hcl).kind,
        ParseErrorKind::TooDeep { limit: MAX_DEPTH }
    );
    let deep_obj = format!("{}{}", "a { ".repeat(100), "}".repeat(100));
    assert_eq!(
        err(&deep_obj).kind,
        ParseErrorKind::TooDeep { limit: MAX_DEPTH }
    );
    let deep_json = format!("{{\"x\": {}{}}}", "[".repeat(100), "]".repeat(100));
    assert_eq!(
        err(&deep_json).kind,
        ParseErrorKind::TooDeep { limit: MAX_DEPTH }
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
        ("cmd =", "At 1:6: unexpected end of input, expected a value"),
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
fn upstream_test_validate_config() {
    // Accepted (TestValidateConfig).
    validated(TRIO);
    validated(
        "jwt_svids = [{jwt_svid_file_name = \"jwt.token\", jwt_audience = \"your-audience\"}]\njwt_bundle_file_name = \"bundle.json\"",
    );
    validated("jwt_bundle_file_name = \"bundle.json\"");
    validated(&format!("daemon_mode = false\n{TRIO}"));
    validated(&format!(
        "pid_file_name = \"pidfile\"\nrenew_signal = \"SIGHUP\"\n{TRIO}"
    ));
    validated(&format!(
        "cmd = \"echo\"\nrenew_signal = \"SIGHUP\"\n{TRIO}"
    ));
    validated(&format!("cmd = \"echo\"\n{TRIO}"));
    validated(&format!("renew_signal = \"SIGHUP\"\n{TRIO}"));

    // Rejected, with upstream's exact messages.
    let no_set = "at least one of the sets ('svid_file_name', 'svid_key_file_name', \
                  'svid_bundle_file_name'), 'jwt_svids', or 'jwt_bundle_file_name' must be fully specified";
    assert_eq!(invalid(""), no_set);
    assert_eq!(invalid("agent_address = \"path\""), no_set);
    assert_eq!(
        invalid("svid_file_name = \"cert.pem\""),
        "all or none of 'svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name' must be specified"
    );
    assert_eq!(
        invalid("svid_file_name = \"a\"\nsvid_key_file_name = \"b\"\njwt_bundle_file_name = \"j\""),
        "all or none of 'svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name' must be specified"
    );
    assert_eq!(
        invalid("jwt_svids = [{jwt_svid_file_name = \"jwt.token\"}]"),
        "'jwt_audience' is required in 'jwt_svids'"
    );
    assert_eq!(
        invalid("jwt_svids = [{jwt_audience = \"my-audience\"}]"),
        "'jwt_file_name' is required in 'jwt_svids'"
    );
    assert_eq!(
        invalid("daemon_mode = false\npid_file_name = \"pidfile\""),
        "pid_file_name is set but daemon_mode is false. pid_file_name is only supported in daemon_mode"
    );
    assert_eq!(
        invalid("pid_file_name = \"pidfile\""),
        "must specify renew_signal when using pid_file_name"
    );
    assert_eq!(
        invalid(&format!("{TRIO}key_file_mode = -1")),
        "key file mode must be positive"
    );
    assert_eq!(
        invalid(&format!("{TRIO}jwt_bundle_file_mode = -1")),
        "jwt bundle file mode must be positive"
    );
    assert_eq!(
        invalid(&format!("{TRIO}jwt_svid_file_mode = -0x1")),
        "jwt svid file mode must be positive"
    );
    assert_eq!(
        invalid(&format!(
            "{TRIO}health_checks {{ listener_enabled = true\n bind_port = -1 }}"
        )),
        "bind port must be positive"
    );
}

#[test]
fn validation_order_first_error_wins() {
    // Unknown keys come before everything, top level before jwt_svids.
    assert_eq!(
        invalid("foo = 1\njwt_svids = [{bar = 1}]\npid_file_name = \"p\""),
        "unknown top level key(s): foo"
    );
    assert_eq!(
        invalid("jwt_svids = [{jwt_audience = \"a\"}, {bar = 1}]"),
        "unknown key(s) in jwt_svids[1]: bar"
    );
    // JWT entries are checked in order, file name before audience.
    assert_eq!(
        invalid("jwt_svids = [{jwt_svid_file_name = \"t\"}, {}]"),
        "'jwt_audience' is required in 'jwt_svids'"
    );
    assert_eq!(
        invalid("jwt_svids = [{}]"),
        "'jwt_file_name' is required in 'jwt_svids'"
    );
    // pid_file_name/daemon_mode before the renew_signal rule, before the X.509 trio.
    assert_eq!(
        invalid("daemon_mode = false\npid_file_name = \"p\"\nsvid_file_name = \"s\""),
        "pid_file_name is set but daemon_mode is false. pid_file_name is only supported in daemon_mode"
    );
    assert_eq!(
        invalid("pid_file_name = \"p\"\nsvid_file_name = \"s\""),
        "must specify renew_signal when using pid_file_name"
    );
    // Modes in order, after the sets; health last.
    assert_eq!(
        invalid("cert_file_mode = -1\nkey_file_mode = -1"),
        "at least one of the sets ('svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name'), 'jwt_svids', or 'jwt_bundle_file_name' must be fully specified"
    );
    assert_eq!(
        invalid(&format!(
            "{TRIO}jwt_svid_file_mode = -1\nkey_file_mode = -1\nhealth_checks {{ listener_enabled = true, bind_port = -5 }}"
        )),
        "key file mode must be positive"
    );
}

#[test]
fn upstream_test_detects_unknown_config() {
    assert_eq!(
        invalid("agent_address = \"/tmp\"\nfoo = \"bar\"\nbar = \"foo\"\n"),
        "unknown top level key(s): bar,foo"
    );
    assert_eq!(
        invalid(
            "cmd = \"echo\"\njwt_svids = [\n{\njwt_audience=\"your-audience\",\njwt_svid_file_name=\"jwt_svid.token\",\nfoo = \"bar\", \nbar = \"foo\"\n}\n]\n"
        ),
        "unknown key(s) in jwt_svids[0]: bar,foo"
    );
    assert_eq!(
        invalid(
            "cmd = \"echo\"\njwt_svids = [\n{\njwt_audience = \"your-audience-0\",\njwt_svid_file_name=\"jwt_svid-0.token\",\n},\n{\njwt_audience = \"your-audience-1\",\njwt_svid_file_name = \"jwt_svid-1.token\",\nfoo = \"bar\", \nbar = \"foo\"\n}\n]\n"
        ),
        "unknown key(s) in jwt_svids[1]: bar,foo"
    );
    // Removed keys are unknown now.
    assert_eq!(
        invalid("timeout = \"10s\"\nexit_when_ready = true\n"),
        "unknown top level key(s): exit_when_ready,timeout"
    );
    // Unknown health_checks keys are ignored, as upstream does.
    let (v, _) = validated(&format!("{TRIO}health_checks {{ foo = 1 }}"));
    assert!(!v.config().health_checks.listener_enabled);
}

#[test]
fn agent_address_default() {
    // TestDefaultAgentAddress.
    let cases = [
        (None, None, DEFAULT_AGENT_ADDRESS),
        (Some("MY_ADDRESS"), None, "MY_ADDRESS"),
        (None, Some("MY_ENV_ADDRESS"), "MY_ENV_ADDRESS"),
        (Some("MY_ADDRESS"), Some("MY_ENV_ADDRESS"), "MY_ADDRESS"),
        (None, Some(""), DEFAULT_AGENT_ADDRESS),
    ];
    for (file, env, want) in cases {
        let text = match file {
            Some(a) => format!("agent_address = \"{a}\"\n{TRIO}"),
            None => TRIO.to_string(),
        };
        let (v, _) = ok(&text).validate(None, env).unwrap();
        assert_eq!(v.config().agent_address, want);
    }
}

#[test]
fn daemon_mode_flag_file_default() {
    let cases = [
        ("", None, true),
        ("", Some(false), false),
        ("daemon_mode = false\n", None, false),
        ("daemon_mode = false\n", Some(true), true),
        ("daemon_mode = true\n", Some(false), false),
    ];
    for (line, flag, want) in cases {
        let (v, _) = ok(&format!("{line}{TRIO}")).validate(flag, None).unwrap();
        assert_eq!(v.daemon_mode(), want, "{line:?} {flag:?}");
        assert_eq!(v.config().daemon_mode, Some(want));
    }
}

#[test]
fn one_shot_warnings() {
    let (_, w) = validated(&format!(
        "daemon_mode = false\ncmd = \"x\"\nrenew_signal = \"SIGHUP\"\n{TRIO}"
    ));
    assert_eq!(w, [Warning::CmdIgnored, Warning::RenewSignalIgnored]);
    assert_eq!(
        w[0].to_string(),
        "cmd is set but daemon_mode is false. cmd will be ignored. This may become an error in a future release."
    );
    assert_eq!(
        w[1].to_string(),
        "renew_signal is set but daemon_mode is false. renew_signal will be ignored. This may become an error in a future release."
    );
    let (_, w) = ok(&format!("cmd = \"x\"\n{TRIO}"))
        .validate(Some(true), None)
        .unwrap();
    assert!(w.is_empty());
}

#[test]
fn health_defaults_only_when_enabled() {
    let (v, _) = validated(&format!(
        "{TRIO}health_checks {{ listener_enabled = true }}"
    ));
    let h = &v.config().health_checks;
    assert_eq!(
        (
            h.bind_port,
            h.liveness_path.as_str(),
            h.readiness_path.as_str()
        ),
        (8081, "/live", "/ready")
    );
    let (v, _) = validated(&format!("{TRIO}health_checks {{ bind_port = -1 }}"));
    assert_eq!(
        v.config().health_checks,
        HealthChecks {
            bind_port: -1,
            ..HealthChecks::default()
        }
    );
    let (v, _) = validated(&format!(
        "{TRIO}health_checks {{ listener_enabled = true\n bind_port = 70000 }}"
    ));
    assert_eq!(v.config().health_checks.bind_port, 70000);
}

#[test]
fn modes_keep_only_permission_bits() {
    let (v, _) = validated(&format!(
        "{TRIO}key_file_mode = 04755\ncert_file_mode = 0444"
    ));
    assert_eq!((v.key_file_mode(), v.cert_file_mode()), (0o755, 0o444));
}
