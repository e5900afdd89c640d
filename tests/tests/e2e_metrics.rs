//! End-to-end: `health_checks.metrics_path` on the real binary, with the development agent
//! rotating. `/metrics` is read by the reference parser (PyPI `prometheus_client`'s
//! `text_string_to_metric_families`), and its values are checked against the files on disk
//! as Python `cryptography` reads them; the expiry and the update counters move across a
//! rotation. Without the key the path is Go's 404.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use svid_tests::{
    DevAgent, Helper, PATIENCE, free_port, helper_bin, helper_dir, http_get, wait_until,
    x509_config,
};

/// Every metric the docs promise (docs/operations.md, "Metrics"), with its type, as the
/// parser names the family (a counter without `_total`).
const CONTRACT: &[(&str, &str)] = &[
    ("spiffe_helper_x509_svid_expiry_timestamp_seconds", "gauge"),
    (
        "spiffe_helper_x509_bundle_expiry_timestamp_seconds",
        "gauge",
    ),
    ("spiffe_helper_jwt_svid_expiry_timestamp_seconds", "gauge"),
    ("spiffe_helper_updates", "counter"),
    ("spiffe_helper_update_failures", "counter"),
    ("spiffe_helper_last_update_timestamp_seconds", "gauge"),
    ("spiffe_helper_agent_connected", "gauge"),
    ("spiffe_helper_agent_connects", "counter"),
    ("spiffe_helper_agent_stalls", "counter"),
    ("spiffe_helper_workload_signals", "counter"),
    ("spiffe_helper_workload_restarts", "counter"),
    ("spiffe_helper_hook_runs", "counter"),
    ("spiffe_helper_build_info", "gauge"),
];

/// Reads the files, GETs `/metrics`, reads the files again, and prints one JSON object: the
/// families as the reference parser reads them, and what the files say (NotAfter of the
/// SVID, the earliest CA NotAfter per trust domain of the bundle, the token's `exp`) before
/// and after the request, so that a rotation in between can be told apart.
const SCRAPE: &str = r#"
import base64, http.client, json, sys
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

port, certs = int(sys.argv[1]), sys.argv[2]

def files():
    with open(certs + "/svid.pem", "rb") as f:
        leaf = x509.load_pem_x509_certificates(f.read())[0]
    with open(certs + "/svid_bundle.pem", "rb") as f:
        cas = x509.load_pem_x509_certificates(f.read())
    bundles = {}
    for ca in cas:
        san = ca.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        td = san.get_values_for_type(x509.UniformResourceIdentifier)[0].removeprefix("spiffe://")
        t = int(ca.not_valid_after_utc.timestamp())
        bundles[td] = min(bundles.get(td, t), t)
    with open(certs + "/svc.token") as f:
        payload = f.read().split(".")[1]
    exp = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]
    return {"svid": int(leaf.not_valid_after_utc.timestamp()), "bundles": bundles, "exp": exp}

before = files()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
c.request("GET", "/metrics")
r = c.getresponse()
text = r.read().decode()
after = files()
families = {}
for f in text_string_to_metric_families(text):
    families[f.name] = {
        "type": f.type,
        "samples": [[s.name, s.labels, s.value] for s in f.samples],
    }
print(json.dumps({
    "status": r.status,
    "content_type": r.getheader("Content-Type"),
    "families": families,
    "before": before,
    "after": after,
}))
"#;

/// One scrape whose files did not change while it ran (retried across rotations).
fn scrape(port: u16, certs: &Path) -> Value {
    let mut last = String::new();
    for _ in 0..20 {
        let out = Command::new("python3")
            .arg("-c")
            .arg(SCRAPE)
            .arg(port.to_string())
            .arg(certs)
            .output()
            .expect("python3");
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            std::thread::sleep(std::time::Duration::from_millis(200));
            continue;
        }
        let v: Value = serde_json::from_slice(&out.stdout).expect("the script's JSON");
        if v["before"] == v["after"] {
            return v;
        }
    }
    panic!("no stable scrape: {last}");
}

/// The value of the sample `name` with exactly `labels` (as `[(label, value)]`).
fn value(v: &Value, family: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    v["families"][family]["samples"]
        .as_array()?
        .iter()
        .find(|s| {
            let got = s[1].as_object().unwrap();
            s[0] == name
                && got.len() == labels.len()
                && labels.iter().all(|(k, want)| got[*k] == *want)
        })
        .and_then(|s| s[2].as_f64())
}

fn updates(v: &Value, output: &str) -> f64 {
    value(
        v,
        "spiffe_helper_updates",
        "spiffe_helper_updates_total",
        &[("output", output)],
    )
    .unwrap_or_else(|| panic!("no updates_total for {output}: {v}"))
}

fn svid_expiry(v: &Value) -> f64 {
    let family = "spiffe_helper_x509_svid_expiry_timestamp_seconds";
    let id = "spiffe://example.org/workload";
    value(v, family, family, &[("spiffe_id", id)]).unwrap_or_else(|| panic!("{family}: {v}"))
}

/// The git commit the binary says it was built from (`-version`), or `unknown`.
fn binary_commit() -> String {
    let out = Command::new(helper_bin()).arg("-version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_once("(git ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or_else(|| "unknown".to_owned(), |(commit, _)| commit.to_owned())
}

/// A helper of `agent` writing the X.509 files and `extra`, with the health listener on a
/// free port and `health` among its keys, once it reports ready: it, the port, `cert_dir`.
fn ready_helper(agent: &DevAgent, extra: &str, health: &str) -> (Helper, u16, PathBuf) {
    let (dir, certs) = helper_dir();
    let port = free_port();
    let extra = format!(
        "{extra}\nhealth_checks {{\n  listener_enabled = true\n  bind_port = {port}\n  {health}\n}}"
    );
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    assert!(
        wait_until(PATIENCE, || http_get(port, "/ready")
            .is_some_and(|r| r.0 == 200)),
        "never ready: {}",
        helper.logs()
    );
    (helper, port, certs)
}

#[test]
fn metrics_follow_the_files_across_rotations_and_parse_with_the_reference_parser() {
    let agent = DevAgent::start(&[
        "--ttl",
        "1h",
        "--rotate-every",
        "2s",
        "--jwt-ttl",
        "10m",
        "--federate",
        "other.test",
    ]);
    let (helper, port, certs) = ready_helper(
        &agent,
        "include_federated_domains = true\n\
         jwt_bundle_file_name = \"jwt_bundle.json\"\n\
         jwt_svids = [{ jwt_audience = \"svc\", jwt_svid_file_name = \"svc.token\" }]\n\
         reload {\n  exec {\n    cmd = \"/bin/true\"\n    on = [\"x509\"]\n  }\n}",
        "metrics_path = \"/metrics\"",
    );
    let first = scrape(port, &certs);
    assert_eq!(first["status"], 200, "{first}");
    assert_eq!(
        first["content_type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    for (name, kind) in CONTRACT {
        assert_eq!(
            first["families"][name]["type"], *kind,
            "{name} is not a {kind}: {first}"
        );
    }

    // The gauges say what the files say.
    let files = &first["after"];
    assert_eq!(svid_expiry(&first), files["svid"].as_f64().unwrap());
    let bundles = files["bundles"].as_object().unwrap();
    assert_eq!(
        bundles.keys().collect::<Vec<_>>(),
        ["example.org", "other.test"]
    );
    let family = "spiffe_helper_x509_bundle_expiry_timestamp_seconds";
    for (td, not_after) in bundles {
        assert_eq!(
            value(&first, family, family, &[("trust_domain", td)]),
            not_after.as_f64(),
            "{td}: {first}"
        );
    }
    let family = "spiffe_helper_jwt_svid_expiry_timestamp_seconds";
    assert_eq!(
        value(&first, family, family, &[("audience", "svc")]),
        files["exp"].as_f64(),
        "{first}"
    );
    let gauge = |v: &Value, name: &str| value(v, name, name, &[]);
    assert_eq!(gauge(&first, "spiffe_helper_agent_connected"), Some(1.0));
    let connects = value(
        &first,
        "spiffe_helper_agent_connects",
        "spiffe_helper_agent_connects_total",
        &[],
    );
    assert_eq!(connects, Some(1.0));
    for output in ["x509", "jwt_bundle", "jwt_svid:svc"] {
        assert!(updates(&first, output) >= 1.0, "{output}: {first}");
        for reason in ["agent", "verification", "write"] {
            let failures = value(
                &first,
                "spiffe_helper_update_failures",
                "spiffe_helper_update_failures_total",
                &[("output", output), ("reason", reason)],
            );
            assert_eq!(failures, Some(0.0), "{output} {reason}: {first}");
        }
    }
    let hook_runs = |v: &Value, result: &str| {
        value(
            v,
            "spiffe_helper_hook_runs",
            "spiffe_helper_hook_runs_total",
            &[("hook", "0"), ("result", result)],
        )
    };
    assert_eq!(hook_runs(&first, "failure"), Some(0.0), "{first}");
    let build = &first["families"]["spiffe_helper_build_info"]["samples"][0];
    assert_eq!(build[1]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(build[1]["commit"], binary_commit().as_str());
    assert_eq!(build[2], 1.0);

    // A rotation: the SVID's expiry moves with the file, the counters and the update time
    // move forward, and the hook ran for it.
    let last_update = |v: &Value| {
        let name = "spiffe_helper_last_update_timestamp_seconds";
        value(v, name, name, &[("output", "x509")]).unwrap()
    };
    let mut second = first.clone();
    assert!(
        wait_until(PATIENCE, || {
            second = scrape(port, &certs);
            updates(&second, "x509") >= updates(&first, "x509") + 2.0
        }),
        "no rotation seen: {second}\n{}",
        helper.logs()
    );
    assert!(svid_expiry(&second) > svid_expiry(&first), "{second}");
    assert_eq!(
        svid_expiry(&second),
        second["after"]["svid"].as_f64().unwrap()
    );
    assert!(last_update(&second) > last_update(&first));
    assert!(
        wait_until(PATIENCE, || {
            second = scrape(port, &certs);
            hook_runs(&second, "success").is_some_and(|n| n >= 2.0)
        }),
        "{second}"
    );
}

#[test]
fn the_metrics_path_is_not_found_without_the_key() {
    let agent = DevAgent::start(&[]);
    let (_helper, port, _) = ready_helper(&agent, "", "");
    assert_eq!(
        http_get(port, "/metrics"),
        Some((404, "404 page not found\n".to_owned()))
    );
}
