//! Tests of the development agent itself, through an independent client stack (tonic) and
//! independent verifiers (OpenSSL, Python `ssl`, the `jsonwebtoken` crate).

use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::path::Path;
use svid_tests::pb::spiffe_workload_api_client::SpiffeWorkloadApiClient;
use svid_tests::pb::{
    JwtBundlesRequest, JwtsvidRequest, WitsvidRequest, X509BundlesRequest, X509svidRequest,
    X509svidResponse,
};
use svid_tests::{DevAgent, PATIENCE, SvidFiles, agent::pem_certificate, openssl};
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Code, Request, Streaming};

/// A tonic channel to the agent's Unix socket (authority `localhost`, as go-spiffe sends).
async fn channel(socket: &Path) -> Channel {
    let socket = socket.to_owned();
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?)) }
        }))
        .await
        .expect("connecting to the dev agent")
}

async fn client(socket: &Path) -> SpiffeWorkloadApiClient<Channel> {
    SpiffeWorkloadApiClient::new(channel(socket).await)
}

/// `message` with the `workload.spiffe.io: true` header.
/// Opens FetchX509SVID with the security header.
async fn x509_stream(client: &mut SpiffeWorkloadApiClient<Channel>) -> Streaming<X509svidResponse> {
    client
        .fetch_x509svid(secure(X509svidRequest {}))
        .await
        .unwrap()
        .into_inner()
}

fn secure<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("workload.spiffe.io", "true".parse().expect("valid header"));
    request
}

/// Splits concatenated DER certificates by their outer SEQUENCE lengths (test-only helper;
/// lengths up to 2 bytes, which every certificate here has).
fn split_der(mut der: &[u8]) -> Vec<Vec<u8>> {
    let mut certs = Vec::new();
    while !der.is_empty() {
        assert_eq!(der[0], 0x30, "certificate must start with a SEQUENCE");
        let (header, len) = match der[1] {
            n if n < 0x80 => (2, usize::from(n)),
            0x81 => (3, usize::from(der[2])),
            0x82 => (4, usize::from(der[2]) << 8 | usize::from(der[3])),
            other => panic!("unexpected DER length byte {other:#x}"),
        };
        let (cert, rest) = der.split_at(header + len);
        certs.push(cert.to_vec());
        der = rest;
    }
    certs
}

/// Writes the first SVID of `response` as svid/key/bundle PEM files in `dir`, like the helper
/// would, for the external verifiers.
fn write_files(response: &X509svidResponse, dir: &Path) -> SvidFiles {
    let svid = &response.svids[0];
    let files = SvidFiles::in_dir(dir);
    let chain: String = split_der(&svid.x509_svid)
        .iter()
        .map(|c| pem_certificate(c))
        .collect();
    std::fs::write(&files.svid, chain).unwrap();
    let der_file = dir.join("key.der");
    std::fs::write(&der_file, &svid.x509_svid_key).unwrap();
    let key_pem = openssl([
        "pkey".as_ref(),
        "-inform".as_ref(),
        "DER".as_ref(),
        "-in".as_ref(),
        der_file.as_os_str(),
    ])
    .expect("openssl reads the PKCS#8 key");
    std::fs::write(&files.key, key_pem).unwrap();
    let bundle: String = split_der(&svid.bundle)
        .iter()
        .map(|c| pem_certificate(c))
        .collect();
    std::fs::write(&files.bundle, bundle).unwrap();
    files
}

fn leaf_text(files: &SvidFiles) -> String {
    openssl([
        "x509".as_ref(),
        "-noout".as_ref(),
        "-text".as_ref(),
        "-in".as_ref(),
        files.svid.as_os_str(),
    ])
    .unwrap()
}

#[tokio::test]
async fn calls_without_exactly_one_true_security_header_are_invalid_argument() {
    let agent = DevAgent::start(&[]);
    let mut client = client(agent.socket()).await;

    let missing = client.fetch_x509svid(X509svidRequest {}).await.unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(missing.message(), "security header missing from request");

    let mut wrong = Request::new(JwtsvidRequest {
        audience: vec!["a".into()],
        spiffe_id: String::new(),
    });
    wrong
        .metadata_mut()
        .insert("workload.spiffe.io", "TRUE".parse().unwrap());
    let wrong = client.fetch_jwtsvid(wrong).await.unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument);

    let mut twice = secure(X509BundlesRequest {});
    twice
        .metadata_mut()
        .append("workload.spiffe.io", "true".parse().unwrap());
    let twice = client.fetch_x509_bundles(twice).await.unwrap_err();
    assert_eq!(twice.code(), Code::InvalidArgument);
    assert_eq!(twice.message(), "security header missing from request");

    let ok = client.fetch_x509svid(secure(X509svidRequest {})).await;
    assert!(ok.is_ok(), "with the header the call succeeds: {ok:?}");
}

#[tokio::test]
async fn x509_svid_with_intermediate_verifies_with_openssl_and_python() {
    let agent = DevAgent::start(&["--intermediate", "--ttl", "5m"]);
    let mut client = client(agent.socket()).await;
    let mut stream = x509_stream(&mut client).await;
    let response = stream.message().await.unwrap().expect("a first message");
    assert_eq!(response.svids.len(), 1);
    assert_eq!(response.svids[0].spiffe_id, "spiffe://example.org/workload");
    assert_eq!(
        split_der(&response.svids[0].x509_svid).len(),
        2,
        "leaf + intermediate"
    );

    let dir = tempfile::tempdir().unwrap();
    let files = write_files(&response, dir.path());
    files.verify_chain().unwrap();
    files.key_matches_leaf().unwrap();
    assert_eq!(
        files.leaf_uri_sans().unwrap(),
        ["spiffe://example.org/workload"]
    );
    let issued = agent.wait_issued(1, PATIENCE);
    assert_eq!(files.leaf_serial().unwrap(), issued[0].serial_hex);

    // The bundle equals the root the agent wrote to --out-dir.
    let ca = std::fs::read_to_string(agent.ca_pem()).unwrap();
    assert_eq!(std::fs::read_to_string(&files.bundle).unwrap(), ca);

    // SPIRE-shaped leaf: CA:FALSE critical, keyUsage critical, both EKUs, P-256.
    let text = leaf_text(&files);
    for expected in [
        "X509v3 Basic Constraints: critical\n                CA:FALSE",
        "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment, Key Agreement",
        "TLS Web Server Authentication, TLS Web Client Authentication",
        "NIST CURVE: P-256",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // NotAfter = now + 300 s: still valid in 240 s, expired within 360 s.
    let svid = files.svid.as_os_str();
    let checkend = |secs: &str| {
        openssl([
            "x509".as_ref(),
            "-noout".as_ref(),
            "-checkend".as_ref(),
            secs.as_ref(),
            "-in".as_ref(),
            svid,
        ])
    };
    assert!(checkend("240").is_ok());
    assert!(checkend("360").is_err());

    let report = files.python_mtls().unwrap();
    assert_eq!(
        report.trim(),
        "ok server-saw=spiffe://example.org/workload client-saw=spiffe://example.org/workload"
    );
}

#[tokio::test]
async fn rotation_pushes_each_new_svid_on_the_open_stream() {
    let agent = DevAgent::start(&["--rotate-every", "1s"]);
    let mut client = client(agent.socket()).await;
    let mut stream = x509_stream(&mut client).await;
    let dir = tempfile::tempdir().unwrap();
    let mut serials = Vec::new();
    for _ in 0..3 {
        let response = stream.message().await.unwrap().expect("an update");
        let files = write_files(&response, dir.path());
        files.verify_chain().unwrap();
        serials.push(files.leaf_serial().unwrap());
    }
    let issued: Vec<String> = agent
        .wait_issued(3, PATIENCE)
        .into_iter()
        .map(|i| i.serial_hex)
        .collect();
    // Each received serial is one the agent reported, in increasing order.
    for pair in serials.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (ia, ib) = (
            issued.iter().position(|s| s == a),
            issued.iter().position(|s| s == b),
        );
        assert!(
            ia.is_some() && ib > ia,
            "{serials:?} not in order within {issued:?}"
        );
    }
}

#[tokio::test]
async fn workload_sockets_serve_their_own_identity_from_the_same_ca() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("client.sock");
    let mut agent = DevAgent::start(&[
        "--workload",
        &format!("{}=spiffe://example.org/client", other.display()),
        "--rotate-every",
        "1s",
    ]);
    let out = tempfile::tempdir().unwrap();
    for (socket, id) in [
        (agent.socket().to_owned(), "spiffe://example.org/workload"),
        (other.clone(), "spiffe://example.org/client"),
    ] {
        let mut client = client(&socket).await;
        let mut stream = x509_stream(&mut client).await;
        for _ in 0..2 {
            let response = stream.message().await.unwrap().expect("an update");
            let files = write_files(&response, out.path());
            files.verify_chain().unwrap();
            assert_eq!(files.leaf_uri_sans().unwrap(), [id]);
            assert_eq!(
                std::fs::read_to_string(&files.bundle).unwrap(),
                std::fs::read_to_string(agent.ca_pem()).unwrap(),
                "one CA for every socket"
            );
        }
    }
    agent.terminate();
    assert!(agent.wait_exit(PATIENCE).is_some_and(|s| s.success()));
    assert!(!other.exists(), "every socket is removed on SIGTERM");
}

#[tokio::test]
async fn deny_first_answers_permission_denied_then_serves() {
    let agent = DevAgent::start(&["--deny-first", "2"]);
    let mut client = client(agent.socket()).await;
    for _ in 0..2 {
        let denied = client
            .fetch_x509svid(secure(X509svidRequest {}))
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        assert_eq!(denied.message(), "no identity issued");
    }
    let mut stream = x509_stream(&mut client).await;
    assert!(stream.message().await.unwrap().is_some());
}

#[tokio::test]
async fn exit_after_updates_counts_updates_on_all_streams_then_exits() {
    let mut agent = DevAgent::start(&["--exit-after-updates", "2"]);
    let mut client = client(agent.socket()).await;
    let mut first = x509_stream(&mut client).await;
    assert!(first.message().await.unwrap().is_some());
    let mut second = x509_stream(&mut client).await;
    assert!(second.message().await.unwrap().is_some());
    // Both streams end when the process goes away (an error, as for a crashed agent).
    for stream in [&mut first, &mut second] {
        let end = stream.message().await;
        assert!(!matches!(end, Ok(Some(_))), "no further update: {end:?}");
    }
    let status = agent.wait_exit(PATIENCE).expect("the agent exits");
    assert!(status.success(), "{status}");
    assert!(agent.stderr().contains("sent 2 X.509 updates, exiting"));
}

#[tokio::test]
async fn federated_bundles_are_separate_roots_keyed_by_trust_domain_id() {
    let agent = DevAgent::start(&["--federate", "partner.test", "--trust-domain", "home.test"]);
    let mut client = client(agent.socket()).await;
    let mut stream = x509_stream(&mut client).await;
    let response = stream.message().await.unwrap().unwrap();
    assert_eq!(response.svids[0].spiffe_id, "spiffe://home.test/workload");
    let keys: Vec<&String> = response.federated_bundles.keys().collect();
    assert_eq!(keys, ["spiffe://partner.test"]);
    let partner = &response.federated_bundles["spiffe://partner.test"];
    assert_ne!(partner, &response.svids[0].bundle);

    // The partner root is a self-signed CA for spiffe://partner.test.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("partner.pem");
    std::fs::write(&root, pem_certificate(partner)).unwrap();
    let text = openssl([
        "x509".as_ref(),
        "-noout".as_ref(),
        "-text".as_ref(),
        "-in".as_ref(),
        root.as_os_str(),
    ])
    .unwrap();
    assert!(text.contains("URI:spiffe://partner.test"), "{text}");
    assert!(text.contains("CA:TRUE"), "{text}");
    let verified = openssl([
        "verify".as_ref(),
        "-CAfile".as_ref(),
        root.as_os_str(),
        root.as_os_str(),
    ])
    .unwrap();
    assert!(verified.trim().ends_with(": OK"), "{verified}");

    let mut bundles = client
        .fetch_x509_bundles(secure(X509BundlesRequest {}))
        .await
        .unwrap()
        .into_inner();
    let bundles = bundles.message().await.unwrap().unwrap().bundles;
    assert_eq!(bundles["spiffe://home.test"], response.svids[0].bundle);
    assert_eq!(&bundles["spiffe://partner.test"], partner);
}

#[tokio::test]
async fn jwt_svids_verify_against_the_jwks_with_jsonwebtoken() {
    let agent = DevAgent::start(&["--jwt-ttl", "2m", "--federate", "partner.test"]);
    let mut client = client(agent.socket()).await;
    let response = client
        .fetch_jwtsvid(secure(JwtsvidRequest {
            audience: vec!["svc-a".into(), "svc-b".into()],
            spiffe_id: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.svids.len(), 1);
    let token = &response.svids[0].svid;

    let mut bundles = client
        .fetch_jwt_bundles(secure(JwtBundlesRequest {}))
        .await
        .unwrap()
        .into_inner();
    let bundles = bundles.message().await.unwrap().unwrap().bundles;
    assert_eq!(bundles.len(), 2, "own and federated trust domain");
    let jwks: serde_json::Value = serde_json::from_slice(&bundles["spiffe://example.org"]).unwrap();
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");

    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), jwk["kid"].as_str());
    assert_eq!(header.typ.as_deref(), Some("JWT"));

    let key =
        DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["svc-b"]);
    validation.set_required_spec_claims(&["exp", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .expect("the token verifies against the JWKS")
        .claims;
    assert_eq!(claims["sub"], "spiffe://example.org/workload");
    assert_eq!(claims["aud"], serde_json::json!(["svc-a", "svc-b"]));
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 120);

    // The partner domain's key is a different key: the token must not verify with it.
    let partner: serde_json::Value =
        serde_json::from_slice(&bundles["spiffe://partner.test"]).unwrap();
    let partner = &partner["keys"][0];
    assert_ne!(partner["kid"], jwk["kid"]);
    let wrong_key = DecodingKey::from_ec_components(
        partner["x"].as_str().unwrap(),
        partner["y"].as_str().unwrap(),
    )
    .unwrap();
    assert!(jsonwebtoken::decode::<serde_json::Value>(token, &wrong_key, &validation).is_err());

    let empty = client
        .fetch_jwtsvid(secure(JwtsvidRequest {
            audience: vec![],
            spiffe_id: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert_eq!(empty.message(), "audience must be specified");
}

#[tokio::test]
async fn wit_profile_is_unimplemented() {
    let agent = DevAgent::start(&[]);
    let mut client = client(agent.socket()).await;
    let status = client
        .fetch_witsvid(secure(WitsvidRequest {
            spiffe_id: String::new(),
        }))
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

#[test]
fn stale_socket_is_replaced_but_other_files_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    // A socket file left by a dead agent: bind, then drop the listener (the file stays).
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    let agent = DevAgent::start_on(&socket, &[]);
    assert!(std::os::unix::net::UnixStream::connect(agent.socket()).is_ok());
    drop(agent);

    let regular = dir.path().join("not-a-socket");
    std::fs::write(&regular, b"keep me").unwrap();
    let status = std::process::Command::new(svid_tests::dev_agent_bin())
        .arg("--socket")
        .arg(&regular)
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("is not a socket"),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(std::fs::read(&regular).unwrap(), b"keep me");
}

#[test]
fn sigterm_removes_the_socket_and_exits_0() {
    let mut agent = DevAgent::start(&[]);
    assert!(agent.socket().exists());
    agent.terminate();
    let status = agent
        .wait_exit(PATIENCE)
        .expect("the agent exits on SIGTERM");
    assert!(status.success(), "{status}");
    assert!(!agent.socket().exists(), "the socket file is removed");
}

#[test]
fn bad_command_line_exits_2_with_the_reason() {
    let out = std::process::Command::new(svid_tests::dev_agent_bin())
        .args(["--socket", "/nonexistent/x.sock", "--ttl", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--ttl: \"soon\" is not a positive duration"),
        "{stderr}"
    );
}
