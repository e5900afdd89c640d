//! Repeated keys and the object (block) form of `jwt_svids`, as HCL v1's `hcl.Decode` reads
//! them into upstream's `Config` struct (hashicorp/hcl v1.0.1-vault-7, `decoder.go`):
//! `decodeStruct` decodes every item matching a field, in order, into the same field, so a
//! scalar keeps the last value, a slice is appended to and a struct is decoded over again.

use alloc::format;
use alloc::string::ToString;

use super::*;

#[test]
fn a_repeated_scalar_key_keeps_the_last_value_in_hcl() {
    let c = ok(
        "cmd = \"a\"\nhint = \"h1\"\nCMD = \"b\"\ndaemon_mode = true\n\
                cert_file_mode = 0600\nhint = \"h2\"\ndaemon_mode = false\n\
                cert_file_mode = 0640\nomit_expired = true\nomit_expired = false\n",
    );
    assert_eq!(c.cmd, "b");
    assert_eq!(c.hint, "h2");
    assert_eq!(c.daemon_mode, Some(false));
    assert_eq!(c.cert_file_mode, 0o640);
    assert!(!c.omit_expired);
    assert!(c.unknown_keys.is_empty());
}

#[test]
fn a_repeated_scalar_key_keeps_the_last_value_in_json() {
    let c = ok(
        r#"{"cmd": "a", "Cmd": "b", "key_file_mode": "0400", "key_file_mode": 416,
                  "daemon_mode": false, "daemon_mode": true}"#,
    );
    assert_eq!(c.cmd, "b");
    assert_eq!(c.key_file_mode, 0o640);
    assert_eq!(c.daemon_mode, Some(true));
}

#[test]
fn a_repeated_key_in_one_jwt_svids_entry_keeps_the_last_value() {
    let c = ok(
        "jwt_svids = [{ jwt_audience = \"a\"\n jwt_audience = \"b\"\n\
                jwt_svid_file_name = \"t\" }]",
    );
    assert_eq!(c.jwt_svids.len(), 1);
    assert_eq!(c.jwt_svids[0].jwt_audience, "b");
}

#[test]
fn repeated_lists_are_concatenated() {
    let hcl = "jwt_svids = [{ jwt_audience = \"a\", jwt_svid_file_name = \"a.jwt\" }]\n\
               cmd = \"x\"\n\
               jwt_svids = [{ jwt_audience = \"b\", jwt_svid_file_name = \"b.jwt\",\n\
                              jwt_extra_audiences = [\"x\"], jwt_extra_audiences = [\"y\", \"z\"] }]\n";
    let json = r#"{"jwt_svids": [{"jwt_audience": "a", "jwt_svid_file_name": "a.jwt"}],
                   "cmd": "x",
                   "jwt_svids": [{"jwt_audience": "b", "jwt_svid_file_name": "b.jwt",
                                  "jwt_extra_audiences": ["x"],
                                  "jwt_extra_audiences": ["y", "z"]}]}"#;
    for text in [hcl, json] {
        let c = ok(text);
        let files: Vec<&str> = c
            .jwt_svids
            .iter()
            .map(|j| j.jwt_svid_file_name.as_str())
            .collect();
        assert_eq!(files, ["a.jwt", "b.jwt"], "{text}");
        assert!(c.jwt_svids[0].jwt_extra_audiences.is_empty());
        assert_eq!(c.jwt_svids[1].jwt_extra_audiences, ["x", "y", "z"]);
        validated(text);
    }
    // Entries are numbered across both lists in validation messages.
    assert_eq!(
        invalid(
            "jwt_svids = [{ jwt_audience = \"a\", jwt_svid_file_name = \"a.jwt\" }]\n\
             jwt_svids = [{ jwt_audience = \"b\", foo = 1 }]\n"
        ),
        "unknown key(s) in jwt_svids[1]: foo"
    );
}

#[test]
fn repeated_health_checks_blocks_merge_key_by_key() {
    let hcl = "health_checks { bind_port = 9000\n liveness_path = \"/l\"\n bind_address = \"::1\" }\n\
               health_checks = { listener_enabled = true, bind_port = 9001, read_header_timeout = \"2s\" }\n";
    let json = r#"{"health_checks": {"bind_port": 9000, "liveness_path": "/l", "bind_address": "::1"},
                   "health_checks": {"listener_enabled": true, "bind_port": 9001, "read_header_timeout": "2s"}}"#;
    for text in [hcl, json] {
        assert_eq!(
            ok(text).health_checks,
            HealthChecks {
                listener_enabled: true,
                bind_port: 9001,
                liveness_path: "/l".into(),
                readiness_path: String::new(),
                bind_address: "::1".into(),
                read_header_timeout: "2s".into(),
                ..HealthChecks::default()
            },
            "{text}"
        );
    }
}

#[test]
fn a_repeated_unknown_key_is_reported_once() {
    let c = ok("foo = 1\nbar = 2\nfoo = 3\nFoo = 4\n");
    assert_eq!(c.unknown_keys, ["Foo", "bar", "foo"]);
    assert_eq!(
        invalid("foo = 1\nfoo = 2\n"),
        "unknown top level key(s): foo"
    );
}

#[test]
fn a_quoted_unknown_key_is_ignored_in_hcl_but_not_in_json() {
    // HCL v1 records only identifier keys (and JSON keys) as unused.
    let c = ok(&format!(
        "\"foo\" = 1\njwt_svids = [{{ \"bar\" = 2, jwt_audience = \"a\", \
                         jwt_svid_file_name = \"t\" }}]\n{TRIO}"
    ));
    assert!(c.unknown_keys.is_empty());
    assert!(c.jwt_svids[0].unknown_keys.is_empty());
    assert_eq!(ok("\"cmd\" = \"x\"").cmd, "x");
    assert_eq!(ok(r#"{"foo": 1}"#).unknown_keys, ["foo"]);
}

#[test]
fn a_jwt_svids_block_gives_one_entry_per_key_as_upstream() {
    for text in [
        "jwt_svids {\n  jwt_audience = \"a\"\n  jwt_svid_file_name = \"t\"\n}\n",
        "jwt_svids = { jwt_audience = \"a\", jwt_svid_file_name = \"t\" }\n",
        r#"{"jwt_svids": {"jwt_audience": "a", "jwt_svid_file_name": "t"}}"#,
    ] {
        let c = ok(text);
        assert_eq!(
            c.jwt_svids,
            [
                JwtSvidConfig {
                    jwt_audience: "a".into(),
                    ..JwtSvidConfig::default()
                },
                JwtSvidConfig {
                    jwt_svid_file_name: "t".into(),
                    ..JwtSvidConfig::default()
                },
            ],
            "{text}"
        );
        // So upstream's validation rejects it: the first entry has no file name.
        assert_eq!(invalid(text), "'jwt_file_name' is required in 'jwt_svids'");
    }
    assert_eq!(
        invalid("jwt_svids {\n  jwt_svid_file_name = \"t\"\n  jwt_audience = \"a\"\n}\n"),
        "'jwt_audience' is required in 'jwt_svids'"
    );
    assert_eq!(
        invalid("jwt_svids {\n  jwt_svid_file_name = \"t\"\n  foo = \"a\"\n}\n"),
        "unknown key(s) in jwt_svids[1]: foo"
    );
    // A list value inside the block is not an object: a decoding error, as in HCL v1.
    assert_eq!(
        err("jwt_svids {\n  jwt_audience = \"a\"\n  jwt_extra_audiences = [\"x\"]\n}\n")
            .to_string(),
        "At 3:25: jwt_svids[1]: expected object, found list"
    );
}

#[test]
fn several_jwt_svids_blocks_and_lists_append_in_order() {
    // Each nested object of a block is one entry (its name is ignored), as HCL v1 decodes an
    // item whose value is an object; blocks and lists append to the same list.
    let text = "jwt_svids {\n  one { jwt_audience = \"a\", jwt_svid_file_name = \"a.jwt\" }\n\
                  two { jwt_audience = \"b\", jwt_svid_file_name = \"b.jwt\" }\n}\n\
                jwt_svids = [{ jwt_audience = \"c\", jwt_svid_file_name = \"c.jwt\" }]\n\
                jwt_svids { three { jwt_audience = \"d\", jwt_svid_file_name = \"d.jwt\",\n\
                                    jwt_extra_audiences = [\"e\"] } }\n";
    let c = ok(text);
    let auds: Vec<&str> = c
        .jwt_svids
        .iter()
        .map(|j| j.jwt_audience.as_str())
        .collect();
    assert_eq!(auds, ["a", "b", "c", "d"]);
    assert_eq!(c.jwt_svids[3].jwt_extra_audiences, ["e"]);
    assert_eq!(c.jwt_svids[3].jwt_svid_file_name, "d.jwt");
    validated(text);

    // Two plain blocks: four one-key entries.
    let c = ok(
        "jwt_svids { jwt_audience = \"a\"\n jwt_svid_file_name = \"a.jwt\" }\n\
                jwt_svids { jwt_audience = \"b\"\n jwt_svid_file_name = \"b.jwt\" }\n",
    );
    assert_eq!(c.jwt_svids.len(), 4);
    assert_eq!(c.jwt_svids[2].jwt_audience, "b");
    assert_eq!(c.jwt_svids[3].jwt_svid_file_name, "b.jwt");

    // An empty block adds nothing.
    assert!(ok("jwt_svids {}\n").jwt_svids.is_empty());
}
