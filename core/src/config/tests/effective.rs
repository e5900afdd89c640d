//! `Validated::to_json`: every key, defaults applied, valid JSON that reads back as a
//! `helper.conf` validating to the same effective configuration.

use super::*;
use alloc::format;

const FULL: &str = r#"
    agent_address = "unix:///run/agent.sock"
    cert_dir = "/certs"
    svid_file_name = "svid.pem"
    svid_key_file_name = "key.pem"
    svid_bundle_file_name = "bundle.pem"
    jwt_bundle_file_name = "jwt_bundle.json"
    jwt_svids = [{ jwt_audience = "a\"<b>", jwt_extra_audiences = ["x", "y"], jwt_svid_file_name = "a.jwt" }]
    cert_file_mode = 0640
    health_checks { listener_enabled = true, bind_port = 9000 }
    log_level = "DEBUG"
    trust_bundle_dir = "bundles"
    start { cmd = "envoy", args = ["-c", "e y"], restart = "on-failure" }
    reload {
      signal = "SIGHUP"
      exec { cmd = "/bin/true" }
      exec { cmd = "/bin/echo", args = ["x"], on = ["jwt_svid", "x509"], timeout = "3s" }
    }
"#;

fn json_of(text: &str) -> String {
    validated(text).0.to_json()
}

fn object(json: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(json) {
        Ok(serde_json::Value::Object(map)) => map,
        other => panic!("{other:?}\n{json}"),
    }
}

#[test]
fn every_key_is_printed_with_its_effective_value() {
    let json = json_of(FULL);
    let map = object(&json);
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    let mut all: Vec<&str> = decode::top_level_keys().collect();
    all.sort_unstable();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, all);
    assert_eq!(map["daemon_mode"], true);
    assert_eq!(map["cert_file_mode"], "0640");
    assert_eq!(map["key_file_mode"], "0600");
    assert_eq!(map["max_message_size"], 16 << 20);
    assert_eq!(map["log_level"], "debug");
    assert_eq!(map["log_format"], "text");
    assert_eq!(map["jwt_svids"][0]["jwt_audience"], "a\"<b>");
    let health = map["health_checks"].as_object().unwrap();
    let mut health_keys: Vec<&str> = health.keys().map(String::as_str).collect();
    health_keys.sort_unstable();
    let mut want: Vec<&str> = decode::health_check_keys().collect();
    want.sort_unstable();
    assert_eq!(health_keys, want);
    assert_eq!(map["health_checks"]["bind_port"], 9000);
    assert_eq!(map["health_checks"]["readiness_path"], "/ready");
    assert_eq!(map["start"]["args"], serde_json::json!(["-c", "e y"]));
    assert_eq!(map["reload"]["exec"][0]["on"], serde_json::json!(["x509"]));
    assert_eq!(map["reload"]["exec"][0]["timeout"], "10s");
    assert_eq!(
        map["reload"]["exec"][1]["on"],
        serde_json::json!(["jwt_svid", "x509"])
    );
}

#[test]
fn defaults_are_printed_and_absent_blocks_left_out() {
    let map = object(&json_of(UPSTREAM_HELPER));
    assert!(!map.contains_key("start") && !map.contains_key("reload"));
    assert_eq!(map["health_checks"]["bind_port"], 8081);
    assert_eq!(map["health_checks"]["liveness_path"], "/live");
    let map = object(&json_of(&format!("{TRIO}daemon_mode = false")));
    assert_eq!(map["agent_address"], DEFAULT_AGENT_ADDRESS);
    assert_eq!(map["daemon_mode"], false);
    assert_eq!(map["jwt_svids"], serde_json::json!([]));
}

#[test]
fn the_output_reads_back_to_the_same_configuration() {
    for text in [
        FULL,
        UPSTREAM_HELPER,
        UPSTREAM_MYSQL,
        UPSTREAM_POSTGRES,
        UPSTREAM_MOSQUITTO,
        LAB_SERVER,
        LAB_CLIENT,
    ] {
        let (first, _) = validated(text);
        let json = first.to_json();
        let (again, _) = validated(&json);
        assert_eq!(again.to_json(), json);
        assert_eq!(again.daemon_mode(), first.daemon_mode());
        assert_eq!(again.lifecycle(), first.lifecycle());
        assert_eq!(again.file_owner(), first.file_owner());
        for (a, b) in [
            (again.cert_file_mode(), first.cert_file_mode()),
            (again.key_file_mode(), first.key_file_mode()),
            (again.jwt_svid_file_mode(), first.jwt_svid_file_mode()),
        ] {
            assert_eq!(a, b);
        }
        let (c, d) = (again.config(), first.config());
        assert_eq!(
            (&c.jwt_svids, &c.agent_address, &c.svid_file_name),
            (&d.jwt_svids, &d.agent_address, &d.svid_file_name)
        );
    }
}
