//! The renderer on its own: escaping, order, types and values, then a round trip through
//! the reference parser (PyPI `prometheus_client`'s `text_string_to_metric_families`).

use std::process::{Command, Stdio};
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

use super::*;

const BUILD: BuildInfo<'static> = BuildInfo {
    version: "1.2.3",
    commit: "abc123def456",
};

fn rendered(m: &Metrics) -> String {
    let mut out = String::new();
    m.render(&BUILD, &mut out);
    out
}

/// A state with every family holding samples, and label values that need escaping.
fn busy() -> Metrics {
    let outputs = vec![
        (
            "x509".to_string(),
            OutputCounters {
                updates: 3,
                failures: [0, 1, 2],
                last_update: Some(UnixTime::from_millis(1_893_456_000_250)),
            },
        ),
        (
            "jwt_svid:aud \"q\"\\x\ny".to_string(),
            OutputCounters::default(),
        ),
    ];
    let mut m = Metrics {
        outputs,
        x509_svid: Some(("spiffe://example.test/a\"b".to_string(), 1_893_459_600)),
        jwt_svids: vec![
            ("aud \"q\"\\x\ny".to_string(), Some(1_893_456_900)),
            ("aud \"q\"\\x\ny".to_string(), Some(1_893_456_300)),
            ("unwritten".to_string(), None),
        ],
        agent_connected: true,
        agent_connects: 2,
        agent_stalls: 1,
        workload_signals: 4,
        workload_starts: 6,
        hook_runs: vec![[0; 4]; 11],
        ..Metrics::default()
    };
    m.hook_ran(10, HookResult::Timeout);
    m.hook_ran(0, HookResult::Success);
    m.hook_ran(0, HookResult::Success);
    m.set_bundles(
        "example.test",
        vec![
            ("example.test".to_string(), 300),
            ("z.test".to_string(), 100),
        ],
    );
    m
}

#[test]
fn label_values_escape_backslash_quote_and_line_feed() {
    let text = rendered(&busy());
    assert!(
        text.contains(
            "spiffe_helper_x509_svid_expiry_timestamp_seconds{spiffe_id=\"spiffe://example.test/a\\\"b\"} 1893459600\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "spiffe_helper_jwt_svid_expiry_timestamp_seconds{audience=\"aud \\\"q\\\"\\\\x\\ny\"} 1893456300\n"
        ),
        "the earliest token of one audience: {text}"
    );
    // One sample per line: every line is a comment or starts with a metric name.
    assert!(
        text.lines()
            .all(|l| l.starts_with("# ") || l.starts_with("spiffe_helper_")),
        "{text}"
    );
}

#[test]
fn families_come_in_contract_order_each_with_help_and_type() {
    let text = rendered(&Metrics::default());
    let types: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    let expected: Vec<String> = FAMILIES
        .iter()
        .map(|f| format!("{} {}", f.name, f.kind))
        .collect();
    assert_eq!(types, expected);
    for f in FAMILIES {
        assert_eq!(
            f.kind == "counter",
            f.name.ends_with("_total"),
            "{}",
            f.name
        );
        assert!(text.contains(&format!("# HELP {} ", f.name)), "{}", f.name);
    }
    // Nothing written yet: no expiry or update time, the plain counters at 0.
    assert!(!text.contains("expiry_timestamp_seconds{"), "{text}");
    assert!(
        text.contains("\nspiffe_helper_agent_connected 0\n"),
        "{text}"
    );
    assert!(
        text.contains("\nspiffe_helper_agent_connects_total 0\n"),
        "{text}"
    );
    assert!(
        text.ends_with("spiffe_helper_build_info{commit=\"abc123def456\",version=\"1.2.3\"} 1\n")
    );
}

#[test]
fn series_come_in_a_fixed_order_and_every_reason_and_result_is_present() {
    let text = rendered(&busy());
    let hooks: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("spiffe_helper_hook_runs_total{"))
        .collect();
    assert_eq!(hooks.len(), 11 * 4);
    assert_eq!(
        hooks[..5],
        [
            "spiffe_helper_hook_runs_total{hook=\"0\",result=\"failure\"} 0",
            "spiffe_helper_hook_runs_total{hook=\"0\",result=\"not_started\"} 0",
            "spiffe_helper_hook_runs_total{hook=\"0\",result=\"success\"} 2",
            "spiffe_helper_hook_runs_total{hook=\"0\",result=\"timeout\"} 0",
            "spiffe_helper_hook_runs_total{hook=\"1\",result=\"failure\"} 0",
        ]
    );
    // Hooks by index, the last last.
    assert_eq!(
        hooks[40],
        "spiffe_helper_hook_runs_total{hook=\"10\",result=\"failure\"} 0"
    );
    // Outputs in configuration order.
    let updates: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("spiffe_helper_updates_total{"))
        .collect();
    assert_eq!(
        updates,
        [
            "spiffe_helper_updates_total{output=\"x509\"} 3",
            "spiffe_helper_updates_total{output=\"jwt_svid:aud \\\"q\\\"\\\\x\\ny\"} 0",
        ]
    );
    assert!(text.contains("spiffe_helper_hook_runs_total{hook=\"10\",result=\"timeout\"} 1\n"));
    let x509_failures: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("spiffe_helper_update_failures_total{output=\"x509\""))
        .collect();
    assert_eq!(
        x509_failures,
        [
            "spiffe_helper_update_failures_total{output=\"x509\",reason=\"agent\"} 0",
            "spiffe_helper_update_failures_total{output=\"x509\",reason=\"verification\"} 1",
            "spiffe_helper_update_failures_total{output=\"x509\",reason=\"write\"} 2",
        ]
    );
    assert!(
        text.contains(
            "spiffe_helper_last_update_timestamp_seconds{output=\"x509\"} 1893456000.250\n"
        )
    );
    let bundles: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("spiffe_helper_x509_bundle_expiry_timestamp_seconds{"))
        .collect();
    assert_eq!(
        bundles,
        [
            "spiffe_helper_x509_bundle_expiry_timestamp_seconds{trust_domain=\"example.test\"} 300",
            "spiffe_helper_x509_bundle_expiry_timestamp_seconds{trust_domain=\"z.test\"} 100",
        ]
    );
}

#[test]
fn bundle_series_are_capped_keeping_the_own_trust_domain_and_the_earliest() {
    // In name order, as the X.509 set gives them: the later names expire first, and the
    // last 100 tie at the cutoff.
    let mut expiries: Vec<(String, i64)> = (0..1000)
        .map(|i| (format!("td{i:04}.test"), (10_000 - i64::from(i)).max(9_100)))
        .collect();
    expiries.insert(0, ("own.test".to_string(), 99_999));
    let mut m = Metrics::default();
    m.set_bundles("own.test", expiries);
    assert_eq!(m.bundles.len(), MAX_BUNDLE_SERIES);
    let get = |td: &str| m.bundles.iter().find(|(t, _)| t == td).map(|(_, e)| *e);
    assert_eq!(
        get("own.test"),
        Some(99_999),
        "the own trust domain is kept"
    );
    assert_eq!(get("td0900.test"), Some(9_100), "the earliest is kept");
    assert_eq!(get("td0000.test"), None, "the latest is dropped");
    // Ties at the cutoff: the first in name order while room is left.
    let names: Vec<&str> = m.bundles.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names[..2], ["own.test", "td0900.test"]);
    assert_eq!(names[63], "td0962.test");
    // At most the cap: nothing is dropped.
    let few = vec![("a.test".to_string(), 5), ("b.test".to_string(), 1)];
    m.set_bundles("b.test", few.clone());
    assert_eq!(m.bundles, few);
}

#[test]
fn negative_and_sub_second_times_are_exact() {
    let at = |ms| OutputCounters {
        last_update: Some(UnixTime::from_millis(ms)),
        ..OutputCounters::default()
    };
    let m = Metrics {
        outputs: vec![
            ("x509".to_string(), at(-1_500)),
            ("jwt_bundle".to_string(), at(7)),
        ],
        ..Metrics::default()
    };
    let text = rendered(&m);
    assert!(text.contains("{output=\"x509\"} -1.500\n"), "{text}");
    assert!(text.contains("{output=\"jwt_bundle\"} 0.007\n"), "{text}");
}

/// The reference parser reads the text back: every family with its type, every sample with
/// its labels unescaped and its value.
#[test]
fn the_reference_parser_reads_back_every_family_label_and_value() {
    const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        out.append([f.name, f.type, s.name, s.labels, s.value])
    if not f.samples:
        out.append([f.name, f.type, None, None, None])
print(json.dumps(out))
"#;
    let text = rendered(&busy());
    let mut child = match Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!("python3 is needed (scripts/test.sh installs prometheus_client): {e}"),
    };
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "prometheus_client refused the text ({}):\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let rows = parsed.as_array().unwrap();
    let find = |sample: &str, label: &str, value: &str| {
        rows.iter()
            .find(|r| r[2] == sample && r[3].get(label).is_some_and(|v| v == value))
            .unwrap_or_else(|| panic!("no {sample}{{{label}={value:?}}} in {stdout}"))
    };
    let jwt = find(
        "spiffe_helper_jwt_svid_expiry_timestamp_seconds",
        "audience",
        "aud \"q\"\\x\ny",
    );
    assert_eq!(jwt[1], "gauge");
    assert_eq!(jwt[4], 1_893_456_300.0);
    let updates = find("spiffe_helper_updates_total", "output", "x509");
    assert_eq!(
        (&updates[0], &updates[1]),
        (&"spiffe_helper_updates".into(), &"counter".into())
    );
    assert_eq!(updates[4], 3.0);
    let last = find(
        "spiffe_helper_last_update_timestamp_seconds",
        "output",
        "x509",
    );
    assert_eq!(last[4], 1_893_456_000.25);
    let id = find(
        "spiffe_helper_x509_svid_expiry_timestamp_seconds",
        "spiffe_id",
        "spiffe://example.test/a\"b",
    );
    assert_eq!(id[4], 1_893_459_600.0);
    for f in FAMILIES {
        let name = f.name.strip_suffix("_total").unwrap_or(f.name);
        assert!(
            rows.iter().any(|r| r[0] == name && r[1] == f.kind),
            "{name} {} missing from {stdout}",
            f.kind
        );
    }
}
