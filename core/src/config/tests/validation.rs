//! Upstream's validation: order, messages, defaults (`TestValidateConfig` and
//! `TestDetectsUnknownConfig` in `cmd/spiffe-helper/config/config_test.go@v0.11.0`, then ours).

use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use core::time::Duration;

use super::*;

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
fn health_bind_address_is_an_ip_literal_and_read_header_timeout_a_positive_duration() {
    use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let health = |keys: &str| format!("{TRIO}health_checks {{ listener_enabled = true\n{keys} }}");
    let (v, _) = validated(&health(""));
    assert_eq!(v.health_bind_address(), None, "all interfaces by default");
    assert_eq!(v.health_read_header_timeout(), Duration::from_secs(1));
    for (text, addr) in [
        ("127.0.0.1", IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ("0.0.0.0", IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ("::1", IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ("[::1]", IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ("[::]", IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
    ] {
        let (v, _) = validated(&health(&format!("bind_address = \"{text}\"")));
        assert_eq!(v.health_bind_address(), Some(addr), "{text}");
    }
    for bad in [
        "localhost",
        "127.0.0.1:8081",
        "[127.0.0.1]",
        "[::1",
        "fe80::1%eth0",
        "1.2.3",
        " 127.0.0.1",
    ] {
        assert_eq!(
            invalid(&health(&format!("bind_address = \"{bad}\""))),
            format!(
                "health_checks.bind_address \"{bad}\" is not an IP address such as \"127.0.0.1\", \
                 \"::1\" or \"[::1]\" (leave it out to listen on all interfaces)"
            )
        );
    }
    for (text, d) in [("250ms", 250), ("1s", 1000), ("1m30s", 90_000)] {
        let (v, _) = validated(&health(&format!("read_header_timeout = \"{text}\"")));
        assert_eq!(v.health_read_header_timeout(), Duration::from_millis(d));
    }
    for bad in ["0s", "1", "soon", "-1s"] {
        assert_eq!(
            invalid(&health(&format!("read_header_timeout = \"{bad}\""))),
            format!(
                "health_checks.read_header_timeout \"{bad}\" is not a positive duration such as \
                 \"1s\" or \"500ms\""
            )
        );
    }
    // Checked even with the listener off, so a typo shows before it is turned on.
    assert!(
        invalid(&format!("{TRIO}health_checks {{ bind_address = \"x\" }}"))
            .starts_with("health_checks.bind_address \"x\"")
    );
}

#[test]
fn metrics_path_is_off_by_default_and_must_be_a_path_of_its_own() {
    let (v, _) = validated(&format!(
        "{TRIO}health_checks {{ listener_enabled = true }}"
    ));
    assert_eq!(v.config().health_checks.metrics_path, "");
    let (v, _) = validated(&format!(
        "{TRIO}health_checks {{ listener_enabled = true\n metrics_path = \"/metrics\" }}"
    ));
    assert_eq!(v.config().health_checks.metrics_path, "/metrics");
    // The JSON form, and blocks merged as upstream merges health_checks.
    let (v, _) = validated(&format!(
        "{TRIO}health_checks {{ listener_enabled = true }}\nhealth_checks {{ metrics_path = \"/m\" }}"
    ));
    assert_eq!(v.config().health_checks.metrics_path, "/m");
    for bad in ["metrics", "/met rics", "/m?x=1", "/m#top", "/m\\tx"] {
        assert_eq!(
            invalid(&format!(
                "{TRIO}health_checks {{ listener_enabled = true\n metrics_path = \"{bad}\" }}"
            )),
            format!(
                "health_checks.metrics_path {:?} is not a URL path: it must start with '/' and \
                 hold no '?', '#', space or control character (empty turns metrics off)",
                bad.replace("\\t", "\t")
            )
        );
    }
    assert_eq!(
        invalid(&format!(
            "{TRIO}health_checks {{ listener_enabled = true\n metrics_path = \"/ready\" }}"
        )),
        "health_checks.metrics_path \"/ready\" is also the readiness_path: give the metrics their own path"
    );
    assert_eq!(
        invalid(&format!(
            "{TRIO}health_checks {{ listener_enabled = true, liveness_path = \"/m\", metrics_path = \"/m\" }}"
        )),
        "health_checks.metrics_path \"/m\" is also the liveness_path: give the metrics their own path"
    );
}

#[test]
fn modes_keep_only_permission_bits() {
    let (v, _) = validated(&format!(
        "{TRIO}key_file_mode = 04755\ncert_file_mode = 0444"
    ));
    assert_eq!((v.key_file_mode(), v.cert_file_mode()), (0o755, 0o444));
}

#[test]
fn max_message_size_is_ours_with_a_default_and_a_range() {
    assert_eq!(validated(TRIO).0.max_message_size(), 16 << 20);
    for (line, bytes) in [
        ("max_message_size = 0", 16 << 20),
        ("max_message_size = 4096", 4096),
        ("Max_Message_Size = \"0x4000000\"", 64 << 20),
        ("max_message_size = 1073741824", 1 << 30),
    ] {
        let size = validated(&format!("{TRIO}{line}")).0.max_message_size();
        assert_eq!(size, bytes, "{line}");
    }
    for bad in ["-1", "1073741825"] {
        assert_eq!(
            invalid(&format!("{TRIO}max_message_size = {bad}")),
            format!(
                "max_message_size {bad} is out of range: give a number of bytes from 1 to \
                 1073741824 (1 GiB), or 0 for the default 16777216 (16 MiB)"
            )
        );
    }
    let json = "{\"svid_file_name\": \"s\", \"svid_key_file_name\": \"k\", \
                \"svid_bundle_file_name\": \"b\", \"max_message_size\": 65536}";
    assert_eq!(validated(json).0.max_message_size(), 65536);
}

#[test]
fn symlinked_layout_is_a_bool_off_by_default_and_needs_plain_names() {
    assert!(!validated(TRIO).0.config().symlinked_layout);
    let on = validated(&format!("{TRIO}symlinked_layout = true")).0;
    assert!(on.config().symlinked_layout);
    assert!(
        err(&format!("{TRIO}symlinked_layout = \"yes\""))
            .to_string()
            .contains("symlinked_layout")
    );
    for bad in ["sub/svid.pem", "..data", "/abs.pem"] {
        assert_eq!(
            invalid(&format!(
                "symlinked_layout = true\nsvid_file_name = \"{bad}\"\nsvid_key_file_name = \"k\"\nsvid_bundle_file_name = \"b\""
            )),
            format!(
                "symlinked_layout needs plain file names in cert_dir (no '/', not starting with '..'): \"{bad}\""
            )
        );
    }
    assert_eq!(
        invalid(&format!(
            "{TRIO}symlinked_layout = true\njwt_svids = [{{jwt_audience = \"a\", jwt_svid_file_name = \"x/t\"}}]"
        )),
        "symlinked_layout needs plain file names in cert_dir (no '/', not starting with '..'): \"x/t\""
    );
    // Without the layout these names stay accepted, as upstream.
    validated(
        "svid_file_name = \"sub/svid.pem\"\nsvid_key_file_name = \"k\"\nsvid_bundle_file_name = \"b\"",
    );
}

#[test]
fn one_shot_timeout_is_a_positive_go_duration_for_one_shot_mode_only() {
    let one_shot = |extra: &str| {
        ok(&format!("{TRIO}daemon_mode = false\n{extra}"))
            .validate(None, None)
            .map(|(v, w)| (v.one_shot_timeout(), w))
    };
    assert_eq!(one_shot("").unwrap(), (None, vec![]));
    assert_eq!(
        one_shot("one_shot_timeout = \"1m30s\"").unwrap(),
        (Some(Duration::from_secs(90)), vec![])
    );
    assert_eq!(
        one_shot("ONE_SHOT_TIMEOUT = \"250ms\"").unwrap().0,
        Some(Duration::from_millis(250))
    );
    for bad in ["30", "0s", "-5s", "soon", "1 m"] {
        assert_eq!(
            one_shot(&format!("one_shot_timeout = \"{bad}\""))
                .unwrap_err()
                .to_string(),
            format!(
                "one_shot_timeout \"{bad}\" is not a positive duration such as \"30s\", \"2m\" or \"1m30s\""
            )
        );
    }
    // A number is read as written, as every string key takes one, and needs a unit.
    assert!(one_shot("one_shot_timeout = 30").is_err());
    // Daemon mode runs until stopped: the key is ignored with a warning.
    let (v, warnings) = validated(&format!("{TRIO}one_shot_timeout = \"30s\""));
    assert_eq!(v.one_shot_timeout(), None);
    assert_eq!(warnings, [Warning::TimeoutIgnored]);
    let json = "{\"svid_file_name\": \"s\", \"svid_key_file_name\": \"k\", \
                \"svid_bundle_file_name\": \"b\", \"daemon_mode\": false, \"one_shot_timeout\": \"2m\"}";
    assert_eq!(
        validated(json).0.one_shot_timeout(),
        Some(Duration::from_secs(120))
    );
}

/// The model a validated daemon-mode config maps onto.
fn lifecycle_of(text: &str) -> Lifecycle {
    validated(&format!("{TRIO}{text}")).0.lifecycle().clone()
}

#[test]
fn start_and_reload_blocks_map_onto_the_same_model_as_the_legacy_keys() {
    let blocks = lifecycle_of(
        r#"
        start {
          cmd     = "/usr/bin/envoy"
          args    = ["-c", "/etc/envoy/envoy.yaml", "a b,c"]
          restart = "never"
        }
        reload {
          signal   = "SIGHUP"
          pid_file = "/run/app.pid"
        }
        "#,
    );
    assert_eq!(
        blocks,
        Lifecycle {
            workload: Some(Workload {
                cmd: "/usr/bin/envoy".into(),
                args: Args::List(vec![
                    "-c".into(),
                    "/etc/envoy/envoy.yaml".into(),
                    "a b,c".into()
                ]),
                restart: Restart::Never,
            }),
            signal: "SIGHUP".into(),
            pid_file: "/run/app.pid".into(),
            hooks: vec![],
        }
    );
    let legacy = lifecycle_of(
        "cmd = \"/usr/bin/envoy\"\ncmd_args = \"-c /etc/envoy/envoy.yaml\"\n\
         renew_signal = \"SIGHUP\"\npid_file_name = \"/run/app.pid\"\n",
    );
    assert_eq!(
        legacy.workload.as_ref().unwrap().args,
        Args::Csv("-c /etc/envoy/envoy.yaml".into())
    );
    assert_eq!(
        legacy.workload.as_ref().unwrap().args.split().unwrap(),
        ["-c", "/etc/envoy/envoy.yaml"]
    );
    assert_eq!(
        (legacy.signal, legacy.pid_file),
        (blocks.signal, blocks.pid_file)
    );
    // The JSON form, a start block alone, no args.
    let json = "{\"svid_file_name\": \"s\", \"svid_key_file_name\": \"k\", \
                \"svid_bundle_file_name\": \"b\", \"start\": {\"cmd\": \"app\"}}";
    let workload = validated(json).0.lifecycle().workload.clone().unwrap();
    assert_eq!(workload.args, Args::List(vec![]));
    for (text, policy) in [
        ("never", Restart::Never),
        ("on-failure", Restart::OnFailure),
        ("always", Restart::Always),
    ] {
        let start = format!("start {{\ncmd = \"a\"\nrestart = \"{text}\"\n}}");
        assert_eq!(lifecycle_of(&start).workload.unwrap().restart, policy);
    }
    assert_eq!(legacy.workload.unwrap().restart, Restart::Never);
    assert_eq!(lifecycle_of(""), Lifecycle::default());
}

#[test]
fn a_legacy_key_with_its_block_counterpart_is_refused_naming_both() {
    for (legacy, block, text) in [
        ("cmd", "start.cmd", "cmd = \"a\"\nstart { cmd = \"b\" }"),
        (
            "cmd_args",
            "start.args",
            "cmd_args = \"x\"\nstart { cmd = \"b\" }",
        ),
        (
            "renew_signal",
            "reload.signal",
            "renew_signal = \"SIGHUP\"\nreload {}",
        ),
        (
            "pid_file_name",
            "reload.pid_file",
            "pid_file_name = \"/p\"\nreload { signal = \"SIGHUP\" }",
        ),
    ] {
        assert_eq!(
            invalid(&format!("{TRIO}{text}")),
            format!(
                "{legacy} and {block} are both set: keep one (the start and reload blocks \
                 replace cmd, cmd_args, renew_signal and pid_file_name)"
            )
        );
    }
    // Legacy keys of the other block mix fine.
    let mixed = lifecycle_of("start { cmd = \"app\" }\nrenew_signal = \"SIGUSR1\"");
    assert_eq!(mixed.signal, "SIGUSR1");
}

#[test]
fn the_blocks_refuse_what_they_cannot_do_with_a_clear_message() {
    let bad = |text: &str| invalid(&format!("{TRIO}{text}"));
    assert_eq!(
        bad("start { args = [\"x\"] }"),
        "'cmd' is required in 'start'"
    );
    assert_eq!(
        bad("start {\ncmd = \"a\"\nrestart = \"sometimes\"\n}"),
        "start.restart \"sometimes\" is not one of \"never\", \"on-failure\", \"always\""
    );
    assert_eq!(
        bad("start {\ncmd = \"a\"\nbogus = 1\nargz = []\n}"),
        "unknown key(s) in start: argz,bogus"
    );
    for (exec, error) in [
        ("args = [\"x\"]", "'cmd' is required"),
        ("cmd = \"h\"\nwhen = 1", "unknown key(s): when"),
        (
            "cmd = \"h\"\non = [\"x509\", \"X509\"]",
            "on \"X509\" is not one of \"x509\", \"jwt_svid\", \"jwt_bundle\"",
        ),
        (
            "cmd = \"h\"\non = []",
            "on is empty: name at least one of \"x509\", \"jwt_svid\", \"jwt_bundle\"",
        ),
        (
            "cmd = \"h\"\ntimeout = \"0s\"",
            "timeout \"0s\" is not a positive duration such as \"10s\" or \"1m30s\"",
        ),
    ] {
        assert_eq!(
            bad(&format!(
                "reload {{\nexec {{ cmd = \"ok\" }}\nexec {{\n{exec}\n}}\n}}"
            )),
            format!("reload.exec[1]: {error}")
        );
    }
    assert_eq!(
        bad("reload { pid_file = \"/p\" }"),
        "must specify reload.signal when using reload.pid_file"
    );
    assert_eq!(
        bad("reload { signal = \"HUP\" }"),
        "reload.signal \"HUP\" is not a signal name such as \"SIGHUP\""
    );
    assert!(
        err(&format!("{TRIO}start {{ cmd = \"a\"\nargs = \"x y\" }}"))
            .to_string()
            .contains("start.args")
    );
    // One-shot mode: a pid file is refused as upstream refuses pid_file_name; the rest is
    // ignored with a warning.
    let one_shot =
        |text: &str| ok(&format!("{TRIO}daemon_mode = false\n{text}")).validate(None, None);
    assert_eq!(
        one_shot("reload {\nsignal = \"SIGHUP\"\npid_file = \"/p\"\n}")
            .unwrap_err()
            .to_string(),
        "reload.pid_file is set but daemon_mode is false. reload.pid_file is only supported \
         in daemon_mode"
    );
    let (v, warnings) = one_shot("start { cmd = \"a\" }\nreload { signal = \"SIGHUP\" }").unwrap();
    assert_eq!(
        warnings,
        [
            Warning::BlockIgnored("start"),
            Warning::BlockIgnored("reload")
        ]
    );
    assert_eq!(v.lifecycle().workload, None);
}

#[test]
fn a_hook_on_an_output_not_configured_is_refused_naming_the_hook_event_and_key() {
    let reload = |on: &str| {
        format!("reload {{\nexec {{ cmd = \"ok\" }}\nexec {{\ncmd = \"h\"\n{on}\n}}\n}}")
    };
    assert_eq!(
        invalid(&format!(
            "{TRIO}{}",
            reload("on = [\"x509\", \"jwt_svid\"]")
        )),
        "reload.exec[1]: on \"jwt_svid\" names an output that is not configured: jwt_svids is \
         not set, so this hook would never run"
    );
    assert_eq!(
        invalid(&format!("{TRIO}{}", reload("on = [\"jwt_bundle\"]"))),
        "reload.exec[1]: on \"jwt_bundle\" names an output that is not configured: \
         jwt_bundle_file_name is not set, so this hook would never run"
    );
    // JWT outputs only: `on`'s default, x509, names no output either.
    let jwt_only = "jwt_bundle_file_name = \"jwt.json\"\n";
    assert_eq!(
        invalid(&format!("{jwt_only}reload {{ exec {{ cmd = \"h\" }} }}")),
        "reload.exec[0]: on \"x509\" (the default when on is not set) names an output that is \
         not configured: svid_file_name is not set, so this hook would never run"
    );
    let (v, _) = validated(&format!(
        "{jwt_only}reload {{ exec {{\ncmd = \"h\"\non = [\"jwt_bundle\"]\n}} }}"
    ));
    assert_eq!(v.lifecycle().hooks[0].on, [HookEvent::JwtBundle]);
}

#[test]
fn exec_blocks_are_hooks_in_order_in_both_modes() {
    let hooks = |text: &str| lifecycle_of(text).hooks;
    let two = hooks(
        r#"
        jwt_bundle_file_name = "jwt.json"
        reload {
          exec {
            cmd     = "/usr/local/bin/push-secret"
            args    = ["--namespace", "prod"]
            on      = ["x509", "jwt_bundle", "x509"]
            timeout = "1m30s"
          }
          exec { cmd = "reload-envoy" }
        }
        "#,
    );
    assert_eq!(
        two,
        [
            Hook {
                cmd: "/usr/local/bin/push-secret".into(),
                args: vec!["--namespace".into(), "prod".into()],
                on: vec![HookEvent::X509, HookEvent::JwtBundle],
                timeout: Duration::from_secs(90),
            },
            Hook {
                cmd: "reload-envoy".into(),
                args: vec![],
                on: vec![HookEvent::X509],
                timeout: DEFAULT_HOOK_TIMEOUT,
            },
        ]
    );
    // JSON: a list of objects.
    let json = "{\"svid_file_name\": \"s\", \"svid_key_file_name\": \"k\", \
                \"svid_bundle_file_name\": \"b\", \"jwt_svids\": [{\"jwt_audience\": \"a\", \
                \"jwt_svid_file_name\": \"t\"}], \"reload\": {\"exec\": \
                [{\"cmd\": \"a\", \"on\": [\"jwt_svid\"]}, {\"cmd\": \"b\"}]}}";
    let from_json = validated(json).0.lifecycle().hooks.clone();
    assert_eq!(from_json.len(), 2);
    assert_eq!(from_json[0].on, [HookEvent::JwtSvid]);
    // One-shot mode keeps the hooks and says nothing about a reload block holding only them.
    let (v, warnings) = ok(&format!(
        "{TRIO}daemon_mode = false\nreload {{ exec {{ cmd = \"h\" }} }}"
    ))
    .validate(None, None)
    .unwrap();
    assert_eq!(warnings, []);
    assert_eq!(v.lifecycle().hooks.len(), 1);
}

#[test]
fn output_format_keys_are_opt_in_and_need_the_x509_files() {
    let off = validated(TRIO).0;
    let c = off.config();
    assert!(c.svid_credential_bundle_file_name.is_empty() && c.trust_bundle_dir.is_empty());
    assert!(c.spiffe_bundle_map_file_name.is_empty() && !c.create_cert_dir);
    assert_eq!(off.file_owner(), None);

    let on = validated(&format!(
        "{TRIO}svid_credential_bundle_file_name = \"credential.pem\"\ntrust_bundle_dir = \"bundles\"\n\
         spiffe_bundle_map_file_name = \"spiffe-bundles.json\"\nCreate_Cert_Dir = true\nfile_owner = \"1000:2000\""
    ))
    .0;
    let c = on.config();
    assert_eq!(c.svid_credential_bundle_file_name, "credential.pem");
    assert_eq!(c.trust_bundle_dir, "bundles");
    assert_eq!(c.spiffe_bundle_map_file_name, "spiffe-bundles.json");
    assert!(c.create_cert_dir);
    assert_eq!(on.file_owner(), Some((1000, 2000)));

    for key in [
        "svid_credential_bundle_file_name",
        "trust_bundle_dir",
        "spiffe_bundle_map_file_name",
    ] {
        assert_eq!(
            invalid(&format!("jwt_bundle_file_name = \"j\"\n{key} = \"x\"")),
            format!(
                "{key} needs the X.509 files: set 'svid_file_name', 'svid_key_file_name' and \
                 'svid_bundle_file_name' too"
            )
        );
    }
}

#[test]
fn trust_bundle_dir_must_not_hold_other_outputs() {
    let message = |dir: &str| {
        format!(
            "trust_bundle_dir {dir:?} must be a directory below cert_dir that holds no other \
             output file (the helper removes the files of trust domains that are gone)"
        )
    };
    for dir in [".", "./", "sub/.."] {
        assert_eq!(
            invalid(&format!(
                "{TRIO}cert_dir = \"/certs\"\ntrust_bundle_dir = \"{dir}\""
            )),
            message(dir)
        );
    }
    assert_eq!(
        invalid(
            "svid_file_name = \"b/svid.pem\"\nsvid_key_file_name = \"k\"\nsvid_bundle_file_name = \"c\"\ntrust_bundle_dir = \"b\""
        ),
        message("b")
    );
    assert_eq!(
        invalid(&format!(
            "{TRIO}trust_bundle_dir = \"b\"\njwt_svids = [{{jwt_audience = \"a\", jwt_svid_file_name = \"b/t\"}}]"
        )),
        message("b")
    );
    validated(&format!("{TRIO}trust_bundle_dir = \"bundles/x\""));
    validated(&format!("{TRIO}trust_bundle_dir = \"..\""));
}

#[test]
fn file_owner_is_numeric_uid_colon_gid() {
    for bad in [
        "1000",
        "root:root",
        "1000:",
        ":1000",
        "-1:0",
        "1:2:3",
        "4294967295:0",
        " 1:2",
    ] {
        assert_eq!(
            invalid(&format!("{TRIO}file_owner = \"{bad}\"")),
            format!(
                "file_owner {bad:?} is not \"UID:GID\" with numeric IDs, such as \"1000:1000\""
            )
        );
    }
    assert_eq!(
        validated(&format!("{TRIO}file_owner = \"0:4294967294\""))
            .0
            .file_owner(),
        Some((0, 4_294_967_294))
    );
}

#[test]
fn symlinked_layout_needs_plain_names_for_the_new_outputs_too() {
    for (key, bad) in [
        ("svid_credential_bundle_file_name", "c/credential.pem"),
        ("trust_bundle_dir", "b/x"),
        ("spiffe_bundle_map_file_name", "..map.json"),
    ] {
        assert_eq!(
            invalid(&format!("{TRIO}symlinked_layout = true\n{key} = \"{bad}\"")),
            format!(
                "symlinked_layout needs plain file names in cert_dir (no '/', not starting with '..'): \"{bad}\""
            )
        );
    }
}

#[test]
fn pkcs12_stores_and_their_password_file_go_together() {
    let on = validated(&format!(
        "{TRIO}pkcs12_keystore_file_name = \"svid.p12\"\npkcs12_truststore_file_name = \"bundle.p12\"\n\
         pkcs12_password_file = \"/run/secrets/p12\""
    ))
    .0;
    let c = on.config();
    assert_eq!(
        (
            c.pkcs12_keystore_file_name.as_str(),
            c.pkcs12_truststore_file_name.as_str(),
            c.pkcs12_password_file.as_str()
        ),
        ("svid.p12", "bundle.p12", "/run/secrets/p12")
    );
    let off = validated(TRIO).0;
    assert!(off.config().pkcs12_password_file.is_empty());

    for key in ["pkcs12_keystore_file_name", "pkcs12_truststore_file_name"] {
        assert_eq!(
            invalid(&format!("{TRIO}{key} = \"x.p12\"")),
            format!(
                "{key} needs 'pkcs12_password_file': the file holding the store's password \
                 (it may be empty)"
            )
        );
        assert_eq!(
            invalid(&format!(
                "jwt_bundle_file_name = \"j\"\n{key} = \"x\"\npkcs12_password_file = \"p\""
            )),
            format!(
                "{key} needs the X.509 files: set 'svid_file_name', 'svid_key_file_name' and \
                 'svid_bundle_file_name' too"
            )
        );
        assert_eq!(
            invalid(&format!(
                "{TRIO}symlinked_layout = true\npkcs12_password_file = \"p\"\n{key} = \"d/x.p12\""
            )),
            "symlinked_layout needs plain file names in cert_dir (no '/', not starting with '..'): \"d/x.p12\""
        );
    }
    assert_eq!(
        invalid(&format!("{TRIO}pkcs12_password_file = \"p\"")),
        "pkcs12_password_file is set but neither 'pkcs12_keystore_file_name' nor \
         'pkcs12_truststore_file_name' is"
    );
    assert_eq!(
        invalid(&format!(
            "{TRIO}trust_bundle_dir = \"b\"\npkcs12_password_file = \"p\"\npkcs12_keystore_file_name = \"b/k.p12\""
        )),
        "trust_bundle_dir \"b\" must be a directory below cert_dir that holds no other \
         output file (the helper removes the files of trust domains that are gone)"
    );
}

/// An `x509_svids` entry's own PKCS#12 stores take the top-level password file, which they
/// need as the top-level stores do; their names are unique like the entry's other files.
#[test]
fn an_entrys_pkcs12_stores_need_the_password_file_and_unique_names() {
    let entry = |stores: &str| {
        format!(
            "{TRIO}x509_svids = [{{ hint = \"db\", svid_file_name = \"db.pem\", \
             svid_key_file_name = \"db_key.pem\", svid_bundle_file_name = \"db_bundle.pem\", \
             {stores} }}]\n"
        )
    };
    let (v, _) = validated(
        &(entry("pkcs12_keystore_file_name = \"db.p12\"")
            + "pkcs12_password_file = \"/run/secrets/p12\""),
    );
    let e = &v.config().x509_svids[0];
    assert_eq!(e.pkcs12_keystore_file_name, "db.p12");
    assert_eq!(e.pkcs12_truststore_file_name, "");
    assert_eq!(
        invalid(&entry("pkcs12_truststore_file_name = \"db-trust.p12\"")),
        "x509_svids[0].pkcs12_truststore_file_name needs 'pkcs12_password_file': the file \
         holding the store's password (it may be empty)"
    );
    assert_eq!(
        invalid(
            &(entry("pkcs12_keystore_file_name = \"svid.p12\"")
                + "pkcs12_keystore_file_name = \"svid.p12\"\npkcs12_password_file = \"p\"")
        ),
        "x509_svids[0].pkcs12_keystore_file_name \"svid.p12\" is also the file of another \
         output: each file name must be unique"
    );
}
