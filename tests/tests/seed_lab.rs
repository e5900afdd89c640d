//! The seed lab scenario end to end: the Python manifest server and client of
//! `examples/coastal-containers/` run as the `cmd` of two spiffe-helper daemons, talk mutual
//! TLS with the files the helpers write, and the server reloads them on SIGHUP when the SVID
//! rotates. Needs `cargo build -p spiffe-helper` and `python3`.

use std::path::{Path, PathBuf};
use svid_tests::{DevAgent, Helper, PATIENCE, free_port};
use tempfile::TempDir;

const ID: &str = "spiffe://example.org/workload";

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/coastal-containers")
        .join(name)
}

/// Starts a helper running `python3 <script>` with the lab's file names for `role`.
fn lab_helper(agent: &DevAgent, role: &str, script: &str, extra: &str, port: u16) -> Helper {
    let dir: TempDir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("svids");
    std::fs::create_dir(&certs).unwrap();
    let config = format!(
        "agent_address = \"{socket}\"\n\
         cmd = \"python3\"\n\
         cmd_args = \"{script}\"\n\
         cert_dir = \"{certs}\"\n\
         svid_file_name = \"{role}_cert.pem\"\n\
         svid_key_file_name = \"{role}_key.pem\"\n\
         svid_bundle_file_name = \"svid_bundle.pem\"\n\
         {extra}\n",
        socket = agent.socket().display(),
        script = example(script).display(),
        certs = certs.display(),
    );
    let file = |name: String| certs.join(name).display().to_string();
    let (cert, key, bundle) = (
        file(format!("{role}_cert.pem")),
        file(format!("{role}_key.pem")),
        file("svid_bundle.pem".into()),
    );
    let port = port.to_string();
    let env = [
        ("SVID_CERT", cert.as_str()),
        ("SVID_KEY", key.as_str()),
        ("TRUST_BUNDLE", bundle.as_str()),
        ("PORT", port.as_str()),
        ("SERVER_HOST", "127.0.0.1"),
        ("EXPECT_PEER_ID", ID),
        ("ATTEMPTS", "20"),
    ];
    Helper::start_in_with_env(dir, &config, &[], &env)
}

#[test]
fn manifest_client_fetches_the_manifest_over_mtls_and_server_reloads_on_rotation() {
    let agent = DevAgent::start(&["--intermediate", "--rotate-every", "2s"]);
    let port = free_port();

    let server = lab_helper(
        &agent,
        "server",
        "manifest_server.py",
        "renew_signal = \"SIGHUP\"",
        port,
    );
    assert!(
        server.wait_for_log("HQ Server started. Waiting for connections...", PATIENCE),
        "{}",
        server.logs()
    );

    // No renew_signal: the short-lived client is run again on each update (upstream's
    // "reload command" pattern); the first run is enough.
    let client = lab_helper(&agent, "client", "manifest_client.py", "", port);
    assert!(
        client.wait_for_log("Received ship manifest:", PATIENCE),
        "client:\n{}\nserver:\n{}",
        client.logs(),
        server.logs()
    );
    let logs = client.logs();
    assert!(logs.contains("'ship_name': 'SS Coastal Carrier'"), "{logs}");
    assert!(
        logs.contains("{'type': 'food', 'quantity': 3000}"),
        "{logs}"
    );

    // A rotation makes the helper send SIGHUP; the server reloads and keeps serving.
    assert!(
        server.wait_for_log(
            "SIGHUP: reloaded certificate, key and trust bundle",
            PATIENCE
        ),
        "{}",
        server.logs()
    );
    assert!(
        server.count_logs("Ship manifest sent") >= 1,
        "{}",
        server.logs()
    );
    assert_eq!(
        server.count_logs("HQ Server started"),
        1,
        "the server never restarts"
    );
}
