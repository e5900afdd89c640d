//! The HCL v1 syntax and HCL v1's decoding rules.

use alloc::string::ToString;

use super::*;

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
            SyntaxErrorKind::InvalidNumber
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
    assert_eq!(e.kind, SyntaxErrorKind::InvalidNumber);
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
fn keys_are_case_insensitive() {
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
        SyntaxErrorKind::InvalidUnicodeEscape
    );
    assert_eq!(
        err(r#"cmd = "\u12""#).kind,
        SyntaxErrorKind::InvalidUnicodeEscape
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
        SyntaxErrorKind::InvalidHeredocAnchor
    );
    assert_eq!(
        err("hint = <<\nEOF\n").kind,
        SyntaxErrorKind::InvalidHeredocAnchor
    );
    assert!(matches!(
        err("hint = <x").kind,
        SyntaxErrorKind::UnexpectedChar { found: 'x', .. }
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
                readiness_path: "/r".into(),
                ..HealthChecks::default()
            },
            "{text}"
        );
    }
    assert_eq!(
        err("health_checks \"x\" { }").to_string(),
        "At 1:15: block \"health_checks\" has a label; labelled blocks are not supported"
    );
}

#[test]
fn reference_jwt_svids_form() {
    // A list of objects, one per line or spread over lines, as `hcl.Decode` reads them
    // (`cmd/spiffe-helper/config/config.go@v0.11.0`; upstream's `README.md` writes one line).
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

/// A top-level `key =` that ends the file (comments after the `=` included) is dropped with
/// nothing else lost, as HCL v1's parser does (`object()` returns `errEofToken`, which
/// `objectList` takes as the end of the file): an unknown key there is dropped too. A bare
/// key at the end, or `key =` inside braces, is still an error, as there.
#[test]
fn a_top_level_assignment_without_a_value_at_the_end_is_dropped() {
    for text in [
        "agent_address = \"/a.sock\"\ncmd =",
        "agent_address = \"/a.sock\"\ncmd =\n",
        "agent_address = \"/a.sock\"\ncmd = # nothing\n",
        "agent_address = \"/a.sock\"\n\"cmd\" = /* nothing */",
        "agent_address = \"/a.sock\"\ncmd = \"x\"\ncmd =",
        "agent_address = \"/a.sock\"\nno_such_key =",
    ] {
        let c = ok(text);
        assert_eq!(c.agent_address, "/a.sock", "{text:?}");
        assert!(c.unknown_keys.is_empty(), "{text:?}");
        let want = if text.contains("cmd = \"x\"") {
            "x"
        } else {
            ""
        };
        assert_eq!(c.cmd, want, "{text:?}");
    }
    assert_eq!(
        err("agent_address = \"/a.sock\"\ncmd").to_string(),
        "At 2:4: unexpected end of input, expected '=' or '{' after the key"
    );
    assert_eq!(
        err("health_checks {\n  bind_port =\n}").to_string(),
        "At 3:1: unexpected '}', expected a value"
    );
    assert_eq!(
        err("cmd =\nhint = \"h\"").to_string(),
        "At 2:1: unexpected 'h', expected a value (string, number, bool, list or object)"
    );
}
