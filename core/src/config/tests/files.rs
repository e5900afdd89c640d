//! Real configuration files: upstream's fixture (`cmd/spiffe-helper/config/testdata/helper.conf`)
//! and examples (`helper.conf`, `examples/*/helper.conf`, `.github/tests/it/*/helper.conf`, all
//! @v0.11.0), the seed lab's files.

use alloc::string::ToString;
use alloc::{format, vec};

use super::*;

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
            agent_endpoint(&c.agent_address),
            Ok(Endpoint::Unix("/spire-agent-socket/agent.sock"))
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
