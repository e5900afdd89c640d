//! End-to-end: JWT-SVIDs and the JWT bundle file, written by the real binary from
//! `svid-dev-agent` and checked by an independent verifier (the `jsonwebtoken` crate): the
//! token file holds a token that verifies against the keys in the bundle file, in upstream's
//! exact bundle format, refreshed from the token's own lifetime.

mod jwt_check;

use base64::Engine;
use jwt_check::{read_bundle_file, verify};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use svid_tests::{
    DevAgent, Helper, PATIENCE, free_port, helper_dir, http_get, wait_for_file, wait_until,
};

fn jwt_config(agent: &DevAgent, certs: &Path, extra: &str) -> String {
    format!(
        "agent_address = \"{}\"\n\
         cert_dir = \"{}\"\n\
         jwt_bundle_file_name = \"jwt_bundle.json\"\n\
         jwt_svids = [\n\
           {{ jwt_audience = \"svc-a\", jwt_svid_file_name = \"a.token\" }},\n\
           {{ jwt_audience = \"svc-b\", jwt_extra_audiences = [\"x\", \"y\"], jwt_svid_file_name = \"b.token\" }},\n\
         ]\n\
         {extra}\n",
        agent.address(),
        certs.display()
    )
}

#[test]
fn tokens_and_bundle_are_written_verifiable_and_refreshed() {
    let agent = DevAgent::start(&["--jwt-ttl", "4s", "--federate", "partner.test"]);
    let (dir, certs) = helper_dir();
    let helper = Helper::start_in(dir, &jwt_config(&agent, &certs, ""), &[]);
    let (a, b, bundle) = (
        certs.join("a.token"),
        certs.join("b.token"),
        certs.join("jwt_bundle.json"),
    );
    for f in [&a, &b, &bundle] {
        assert!(wait_for_file(f, PATIENCE), "{}", helper.logs());
    }
    let bundles = read_bundle_file(&bundle);
    assert_eq!(
        bundles.keys().collect::<Vec<_>>(),
        ["example.org", "partner.test"],
        "every trust domain, sorted, without spiffe://"
    );
    for key in bundles["example.org"]["keys"].as_array().unwrap() {
        let fields: Vec<&String> = key.as_object().unwrap().keys().collect();
        assert_eq!(fields, ["crv", "kid", "kty", "x", "y"]);
    }
    let token = std::fs::read_to_string(&a).unwrap();
    assert!(!token.ends_with('\n'), "no newline after the token");
    let claims = verify(&token, &bundles, "svc-a");
    assert_eq!(claims["sub"], "spiffe://example.org/workload");
    let claims = verify(&std::fs::read_to_string(&b).unwrap(), &bundles, "svc-b");
    let aud: BTreeSet<&str> = claims["aud"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(aud, BTreeSet::from(["svc-b", "x", "y"]), "extra audiences");
    for (path, mode) in [(&a, 0o600), (&bundle, 0o600)] {
        assert_eq!(svid_tests::file_mode(path).unwrap(), mode);
    }
    // A 4 s token is refreshed after about 3 s: the file changes, and the new one verifies.
    let mut seen = BTreeSet::from([token]);
    assert!(
        wait_until(PATIENCE, || {
            seen.insert(std::fs::read_to_string(&a).unwrap_or_default());
            seen.len() >= 3
        }),
        "{}",
        helper.logs()
    );
    for token in seen.iter().filter(|t| !t.is_empty()) {
        let claims = verify(token, &read_bundle_file(&bundle), "svc-a");
        assert_eq!(claims["aud"], serde_json::json!(["svc-a"]));
    }
    assert!(
        helper.logs().contains("JWT SVID updated"),
        "{}",
        helper.logs()
    );
    assert!(
        helper.logs().contains("JWT bundle updated"),
        "{}",
        helper.logs()
    );
}

#[test]
fn one_shot_writes_every_output_then_exits_0() {
    let agent = DevAgent::start(&["--intermediate"]);
    let (dir, certs) = helper_dir();
    let x509 = "svid_file_name = \"svid.pem\"\n\
                svid_key_file_name = \"svid_key.pem\"\n\
                svid_bundle_file_name = \"svid_bundle.pem\"";
    let config = jwt_config(&agent, &certs, x509);
    let mut helper = Helper::start_in(dir, &config, &["-daemon-mode=false"]);
    let status = helper.wait_exit(PATIENCE).expect("one-shot mode exits");
    assert!(status.success(), "{status}\n{}", helper.logs());
    for name in [
        "svid.pem",
        "svid_key.pem",
        "svid_bundle.pem",
        "a.token",
        "b.token",
    ] {
        assert!(certs.join(name).exists(), "{name}\n{}", helper.logs());
    }
    let bundles = read_bundle_file(&certs.join("jwt_bundle.json"));
    verify(
        &std::fs::read_to_string(certs.join("b.token")).unwrap(),
        &bundles,
        "svc-b",
    );
    for line in [
        "Successfully fetched x509 certificates",
        "Successfully fetched JWT bundle",
        "Successfully fetched JWT SVIDs",
    ] {
        assert!(helper.logs().contains(line), "{line}\n{}", helper.logs());
    }
}

/// Starts the helper with one token (`svc.token`, audience `svc`), the JWT bundle and the
/// health listener against an agent started with `agent_args`; waits for the bundle file.
fn start_with_health(agent_args: &[&str]) -> (DevAgent, Helper, PathBuf, u16) {
    let agent = DevAgent::start(agent_args);
    let (dir, certs) = helper_dir();
    let port = free_port();
    let config = format!(
        "agent_address = \"{}\"\n\
         cert_dir = \"{}\"\n\
         jwt_bundle_file_name = \"jwt_bundle.json\"\n\
         jwt_svids = [{{ jwt_audience = \"svc\", jwt_svid_file_name = \"svc.token\" }}]\n\
         health_checks {{\n  listener_enabled = true\n  bind_port = {port}\n}}\n",
        agent.address(),
        certs.display()
    );
    let helper = Helper::start_in(dir, &config, &[]);
    let bundle = certs.join("jwt_bundle.json");
    assert!(wait_for_file(&bundle, PATIENCE), "{}", helper.logs());
    (agent, helper, certs, port)
}

/// The helper logs `reason` for the token, never writes it, and both health endpoints say
/// its write failed.
fn token_is_refused(helper: &Helper, certs: &Path, port: u16, reason: &str) {
    // The log quotes the message as logrus does.
    let reason = reason.replace('"', "\\\"");
    let line = format!("Unable to parse or validate token: {reason}");
    assert!(
        helper.wait_for_logs(&line, 2, PATIENCE),
        "refused and asked for again\n{}",
        helper.logs()
    );
    assert!(!certs.join("svc.token").exists(), "{}", helper.logs());
    let failed = format!("\"{}/svc.token\":\"failed\"", certs.display());
    for path in ["/live", "/ready"] {
        let (code, body) = http_get(port, path).expect("the health listener answers");
        assert_eq!(code, 503, "{path}: {body}");
        assert!(body.contains(&failed), "{path}: {body}");
    }
}

#[test]
fn another_workloads_token_is_refused_and_health_fails() {
    let (_agent, helper, certs, port) =
        start_with_health(&["--jwt-subject", "spiffe://example.org/other"]);
    token_is_refused(
        &helper,
        &certs,
        port,
        "token subject \"spiffe://example.org/other\" is not the SPIFFE ID of the JWT-SVID \
         \"spiffe://example.org/workload\"",
    );
}

#[test]
fn a_validly_signed_token_of_1_4_mb_is_refused() {
    let (agent, helper, certs, port) = start_with_health(&["--jwt-padding", "1050000"]);
    assert!(
        helper.wait_for_log("over the limit of 16384 bytes", PATIENCE),
        "{}",
        helper.logs()
    );
    let issued = agent.stdout();
    let token = issued
        .iter()
        .find_map(|l| l.strip_prefix("jwt "))
        .expect("the agent issued a token");
    assert!(token.len() > 1_400_000, "{}", token.len());
    let reason = format!(
        "token is {} bytes, over the limit of 16384 bytes",
        token.len()
    );
    token_is_refused(&helper, &certs, port, &reason);
}

#[test]
fn an_ed25519_key_is_kept_in_go_joses_format_and_its_eddsa_token_verifies() {
    let (_agent, helper, certs, _port) = start_with_health(&["--jwt-ed25519"]);
    let token_file = certs.join("svc.token");
    assert!(wait_for_file(&token_file, PATIENCE), "{}", helper.logs());
    let bundles = read_bundle_file(&certs.join("jwt_bundle.json"));
    let keys = bundles["example.org"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    // go-jose's member order, byte for byte: kty, kid, crv, x.
    let expected = format!(
        r#"{{"keys":[{{"kty":"OKP","kid":"{}","crv":"Ed25519","x":"{}"}}]}}"#,
        keys[0]["kid"].as_str().unwrap(),
        keys[0]["x"].as_str().unwrap()
    );
    let file = std::fs::read(certs.join("jwt_bundle.json")).unwrap();
    let file: serde_json::Value = serde_json::from_slice(&file).unwrap();
    let jwks = base64::engine::general_purpose::STANDARD
        .decode(file["example.org"].as_str().unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(jwks).unwrap(), expected);
    let token = std::fs::read_to_string(&token_file).unwrap();
    let claims = verify(&token, &bundles, "svc");
    assert_eq!(claims["sub"], "spiffe://example.org/workload");
}
