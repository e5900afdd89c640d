//! End-to-end: JWT-SVIDs and the JWT bundle file, written by the real binary from
//! `svid-dev-agent` and checked by an independent verifier (the `jsonwebtoken` crate): the
//! token file holds a token that verifies against the keys in the bundle file, in upstream's
//! exact bundle format, refreshed from the token's own lifetime.

mod jwt_check;

use jwt_check::{read_bundle_file, verify};
use std::collections::BTreeSet;
use std::path::Path;
use svid_tests::{DevAgent, Helper, PATIENCE, helper_dir, wait_for_file, wait_until};

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
