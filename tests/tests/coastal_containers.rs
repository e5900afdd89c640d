//! The Coastal Containers scenario of `examples/coastal-containers/` run locally: the dev agent
//! serves the manifest server's and client's identities on two sockets; two helpers, with the
//! example's `server/helper.conf` and `client/helper.conf` pointed at this machine, start the
//! Python server and a client that keeps fetching. SVIDs live 6 s and rotate every 2 s, so the
//! client only keeps getting the manifest if both sides reload on SIGHUP. Each side checks the
//! other's SPIFFE ID. Needs `cargo build -p spiffe-helper` and `python3`.

use std::path::{Path, PathBuf};
use std::process::Command;
use svid_tests::harness::platform::{run, workspace};
use svid_tests::{DevAgent, Helper, PATIENCE, free_port, wait_until};
use tempfile::TempDir;

const TD: &str = "coastal-containers.example";
const UPDATED: &str = "X.509 certificates updated";
const RECEIVED: &str = "Received ship manifest:";
const RELOADED: &str = "SIGHUP: reloaded certificate, key and trust bundle";
const ROTATIONS: usize = 5;

fn id(role: &str) -> String {
    format!("spiffe://{TD}/manifest/workload/{role}")
}

fn example() -> PathBuf {
    workspace().join("examples/coastal-containers")
}

/// Replaces `from` by `to` in `text`, which must contain it (so the example cannot drift away
/// from what this test adapts).
fn adapt(text: String, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in helper.conf:\n{text}");
    text.replace(from, to)
}

/// The example's helper.conf for `role` with this machine's socket, directory and script path.
fn helper_conf(role: &str, socket: &Path, certs: &Path) -> String {
    let text = std::fs::read_to_string(example().join(role).join("helper.conf")).unwrap();
    let text = adapt(
        text,
        "\"/spire-agent-socket/agent.sock\"",
        &format!("\"{}\"", socket.display()),
    );
    let text = adapt(
        text,
        "\"/var/run/secrets/svids\"",
        &format!("\"{}\"", certs.display()),
    );
    let script = format!("manifest_{role}.py");
    adapt(
        text,
        &format!("\"{script}\""),
        &format!("\"{}\"", example().join(&script).display()),
    )
}

/// The environment of the Python `role`: its files in `certs`, the port, the peer it expects.
fn python_env(role: &str, certs: &Path, port: u16, peer: &str) -> Vec<(String, String)> {
    let file = |name: String| certs.join(name).display().to_string();
    vec![
        ("SVID_CERT".into(), file(format!("{role}_cert.pem"))),
        ("SVID_KEY".into(), file(format!("{role}_key.pem"))),
        ("TRUST_BUNDLE".into(), file("svid_bundle.pem".into())),
        ("PORT".into(), port.to_string()),
        ("SERVER_HOST".into(), "127.0.0.1".into()),
        ("EXPECT_PEER_ID".into(), peer.into()),
        ("FETCH_EVERY".into(), "0.3".into()),
    ]
}

fn start(role: &str, socket: &Path, port: u16, peer: &str) -> (Helper, PathBuf) {
    let dir: TempDir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("svids");
    std::fs::create_dir(&certs).unwrap();
    let env = python_env(role, &certs, port, peer);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config = helper_conf(role, socket, &certs);
    (Helper::start_in_with_env(dir, &config, &[], &env), certs)
}

/// Runs the one-shot client once with `role`'s files, expecting the server to be `peer`.
fn one_shot_client(role: &str, certs: &Path, port: u16, peer: &str) -> Result<String, String> {
    let mut client = Command::new("python3");
    client
        .arg(example().join("manifest_client.py"))
        .envs(python_env(role, certs, port, peer))
        .env("FETCH_EVERY", "0")
        .env("ATTEMPTS", "1");
    run(&mut client)
}

#[test]
fn manifest_keeps_flowing_over_mtls_across_rotations_and_the_server_never_dies() {
    let sockets = tempfile::tempdir().unwrap();
    let client_socket = sockets.path().join("client.sock");
    let agent = DevAgent::start(&[
        "--trust-domain",
        TD,
        "--spiffe-id",
        &id("server"),
        "--workload",
        &format!("{}={}", client_socket.display(), id("client")),
        "--intermediate",
        "--ttl",
        "6s",
        "--rotate-every",
        "2s",
    ]);
    let port = free_port();
    let (server, server_certs) = start("server", agent.socket(), port, &id("client"));
    let (client, client_certs) = start("client", &client_socket, port, &id("server"));
    let logs = || format!("server:\n{}\nclient:\n{}", server.logs(), client.logs());

    // Both sides through at least five rotations after their first SVID, every one reloaded.
    for helper in [&server, &client] {
        assert!(
            helper.wait_for_logs(UPDATED, ROTATIONS + 1, PATIENCE),
            "{}",
            logs()
        );
        assert!(
            helper.wait_for_logs(RELOADED, ROTATIONS, PATIENCE),
            "{}",
            logs()
        );
    }
    // The first SVIDs expired long ago; the manifest still keeps coming.
    let received = client.count_logs(RECEIVED);
    assert!(
        client.wait_for_logs(RECEIVED, received + 3, PATIENCE),
        "{}",
        logs()
    );
    let text = client.logs();
    assert!(text.contains("'ship_name': 'SS Coastal Carrier'"), "{text}");

    assert_eq!(server.count_logs("HQ Server started"), 1, "{}", logs());
    assert_eq!(server.count_logs("Started process"), 1, "{}", logs());
    assert_eq!(server.count_logs("Process exited"), 0, "{}", logs());
    assert_eq!(server.count_logs("Rejected peer"), 0, "{}", logs());

    // The server refuses a workload that is not the client; the client refuses a server
    // whose SPIFFE ID is not the one it expects.
    let as_server = one_shot_client("server", &server_certs, port, &id("server"));
    assert!(as_server.is_err(), "{as_server:?}");
    assert!(
        server.wait_for_log(&format!("Rejected peer '{}'", id("server")), PATIENCE),
        "{}",
        logs()
    );
    let wrong = one_shot_client("client", &client_certs, port, &id("impostor"));
    let err = wrong.expect_err("a server with another SPIFFE ID is refused");
    assert!(
        err.contains(&format!("server SPIFFE ID '{}' is not", id("server"))),
        "{err}"
    );
    let fetched = wait_until(PATIENCE, || {
        one_shot_client("client", &client_certs, port, &id("server"))
            .is_ok_and(|out| out.contains(RECEIVED))
    });
    assert!(fetched, "{}", logs());
}
