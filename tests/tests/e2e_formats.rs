//! End-to-end tests of the output formats of issue 16, each read by the consumer it is for:
//! the credential bundle by OpenSSL, Python `ssl.load_cert_chain(path)` and rustls; the
//! per-trust-domain bundles by `openssl verify`; the SPIFFE bundle map by a strict reader
//! (`tests/scripts/bundle_map.py`: a JSON Schema written from the specs, duplicate names
//! refused, every key checked by Python `cryptography`, and the map compared with the PEM
//! files); `file_owner` and `create_cert_dir` on disk, and a helper that cannot chown
//! refused at start. Build the binaries first: `cargo build --workspace --bins`.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, ServerConfig,
    ServerConnection, SignatureScheme,
};
use svid_tests::harness::platform::{listing, run};
use svid_tests::harness::verify::{file_mode, openssl, split_certificates};
use svid_tests::{DevAgent, Helper, PATIENCE, SvidFiles, helper_dir, wait_until, x509_config};

const UPDATED: &str = "X.509 certificates updated";

fn wait_updates(helper: &Helper, n: usize) {
    assert!(
        helper.wait_for_logs(UPDATED, n, PATIENCE),
        "waiting for {n} updates\n{}",
        helper.logs()
    );
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

/// The serial of the first certificate in the PEM file at `path`.
fn serial(path: &Path) -> String {
    let out = openssl(
        ["x509", "-noout", "-serial", "-in"]
            .map(Into::into)
            .into_iter()
            .chain([path.as_os_str().to_owned()]),
    )
    .unwrap();
    out.trim().trim_start_matches("serial=").to_owned()
}

/// A server-certificate check for SPIFFE peers, which carry no DNS name: the chain is
/// checked by rustls' own WebPKI verifier (the client-auth one, which checks no name),
/// signatures by the provider's algorithms.
#[derive(Debug)]
struct SpiffeServer {
    chain: Arc<dyn ClientCertVerifier>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for SpiffeServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.chain
            .verify_client_cert(end_entity, intermediates, now)
            .map(|_| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A mutual-TLS handshake in memory between a rustls server and a rustls client that both
/// load their certificate chain and key from the one credential file, each checking the
/// other's chain against `bundle`. Returns the leaf the server saw.
fn rustls_mtls(credential: &[u8], bundle: &[u8]) -> Result<CertificateDer<'static>, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    // ring rather than aws-lc-rs (no C toolchain); the post-quantum key exchange it lacks,
    // the reason for the deprecation, is not what this test is about.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(credential)
        .collect::<Result<_, _>>()
        .map_err(|x| e(&x))?;
    let key = PrivateKeyDer::from_pem_slice(credential).map_err(|x| e(&x))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(bundle) {
        roots.add(cert.map_err(|x| e(&x))?).map_err(|x| e(&x))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|x| e(&x))?;
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|x| e(&x))?
        .with_client_cert_verifier(verifier.clone())
        .with_single_cert(chain.clone(), key.clone_key())
        .map_err(|x| e(&x))?;
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|x| e(&x))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SpiffeServer {
            chain: verifier,
            provider,
        }))
        .with_client_auth_cert(chain, key)
        .map_err(|x| e(&x))?;
    let name = ServerName::try_from("workload.example.org").map_err(|x| e(&x))?;
    let mut c = ClientConnection::new(Arc::new(client), name).map_err(|x| e(&x))?;
    let mut s = ServerConnection::new(Arc::new(server)).map_err(|x| e(&x))?;
    for _ in 0..10 {
        if !c.is_handshaking() && !s.is_handshaking() {
            break;
        }
        let mut wire = Vec::new();
        c.write_tls(&mut wire).map_err(|x| e(&x))?;
        s.read_tls(&mut wire.as_slice()).map_err(|x| e(&x))?;
        s.process_new_packets()
            .map_err(|x| format!("server: {x}"))?;
        wire.clear();
        s.write_tls(&mut wire).map_err(|x| e(&x))?;
        c.read_tls(&mut wire.as_slice()).map_err(|x| e(&x))?;
        c.process_new_packets()
            .map_err(|x| format!("client: {x}"))?;
    }
    if c.is_handshaking() || s.is_handshaking() {
        return Err("handshake did not finish".into());
    }
    s.peer_certificates()
        .and_then(|certs| certs.first())
        .map(|leaf| leaf.clone().into_owned())
        .ok_or_else(|| "the server saw no client certificate".into())
}

/// Every check of one credential file (a copy: one read of the file the helper renamed in).
fn check_credential(copy: &Path, bundle: &Path) {
    let text = fs::read_to_string(copy).unwrap();
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{text}");
    assert_eq!(split_certificates(&text).len(), 2, "leaf and intermediate");
    let arg = |p: &Path| p.as_os_str().to_owned();
    let from_key = openssl(["pkey".into(), "-pubout".into(), "-in".into(), arg(copy)]).unwrap();
    let from_leaf = openssl([
        "x509".into(),
        "-noout".into(),
        "-pubkey".into(),
        "-in".into(),
        arg(copy),
    ])
    .unwrap();
    assert_eq!(from_key, from_leaf, "the key is the leaf's");
    let verified = openssl([
        "verify".into(),
        "-x509_strict".into(),
        "-CAfile".into(),
        arg(bundle),
        "-untrusted".into(),
        arg(copy),
        arg(copy),
    ])
    .unwrap();
    assert!(verified.trim().ends_with(": OK"), "{verified}");
    let python = run(Command::new("python3")
        .arg(scripts().join("tls_pair.py"))
        .arg(copy)
        .arg("-")
        .arg(bundle))
    .unwrap();
    assert!(
        python.starts_with("ok server-saw=spiffe://example.org/"),
        "{python}"
    );
    let leaf = rustls_mtls(text.as_bytes(), &fs::read(bundle).unwrap()).unwrap();
    let first = CertificateDer::pem_slice_iter(text.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(leaf, first, "the server saw the credential's leaf");
}

#[test]
fn credential_bundle_is_read_by_openssl_python_and_rustls_and_rotates() {
    let agent = DevAgent::start(&["--intermediate", "--rotate-every", "500ms"]);
    let (dir, certs) = helper_dir();
    let config = x509_config(
        &agent.address(),
        &certs,
        "svid_credential_bundle_file_name = \"credential.pem\"\nkey_file_mode = 0640",
    );
    let helper = Helper::start_in(dir, &config, &[]);
    wait_updates(&helper, 1);
    let credential = certs.join("credential.pem");
    assert_eq!(file_mode(&credential).unwrap(), 0o640, "key_file_mode");
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("credential.pem");
    fs::copy(&credential, &copy).unwrap();
    check_credential(&copy, &certs.join("svid_bundle.pem"));

    let first = serial(&copy);
    assert!(
        wait_until(PATIENCE, || {
            fs::copy(&credential, &copy).is_ok() && serial(&copy) != first
        }),
        "the credential bundle never rotated\n{}",
        helper.logs()
    );
    check_credential(&copy, &certs.join("svid_bundle.pem"));
    let issued: Vec<String> = agent.issued().into_iter().map(|i| i.serial_hex).collect();
    assert!(issued.contains(&serial(&copy)), "{issued:?}");
}

#[test]
fn trust_bundle_dir_holds_one_file_per_trust_domain_and_drops_gone_ones() {
    let agent = DevAgent::start(&[
        "--intermediate",
        "--federate",
        "other.test",
        "--federate",
        "third.test",
    ]);
    for layout in ["false", "true"] {
        let (dir, certs) = helper_dir();
        let certs = certs.join("created/certs");
        let config = x509_config(
            &agent.address(),
            &certs,
            &format!(
                "trust_bundle_dir = \"bundles\"\ncreate_cert_dir = true\n\
                 include_federated_domains = true\nsymlinked_layout = {layout}"
            ),
        );
        let helper = Helper::start_in(dir, &config, &["-daemon-mode=false"]);
        let mut helper = helper;
        assert!(
            helper.wait_exit(PATIENCE).is_some_and(|s| s.success()),
            "{}",
            helper.logs()
        );
        let logs = helper.logs();
        assert!(
            logs.contains("include_federated_domains merges every federated trust domain"),
            "{logs}"
        );
        assert!(logs.contains("Set trust_bundle_dir"), "{logs}");
        assert_eq!(file_mode(&certs).unwrap(), 0o755, "created cert_dir");
        let bundles = certs.join("bundles");
        assert_eq!(
            file_mode(&bundles).unwrap(),
            0o755,
            "symlinked_layout = {layout}"
        );
        assert_eq!(
            listing(&bundles),
            ["example.org.pem", "other.test.pem", "third.test.pem"]
        );
        for td in ["example.org", "other.test", "third.test"] {
            let files = SvidFiles {
                bundle: bundles.join(format!("{td}.pem")),
                ..SvidFiles::in_dir(&certs)
            };
            assert_eq!(file_mode(&files.bundle).unwrap(), 0o644);
            assert_eq!(
                files.bundle_uri_sans().unwrap(),
                [vec![format!("spiffe://{td}")]]
            );
            let verified = files.verify_chain();
            assert_eq!(verified.is_ok(), td == "example.org", "{td}: {verified:?}");
        }

        // A domain that is gone loses its file on the next write; other files stay.
        if layout == "false" {
            fs::write(bundles.join("gone.test.pem"), "old").unwrap();
            fs::write(bundles.join("notes.txt"), "mine").unwrap();
        } else {
            assert_eq!(
                fs::read_link(&bundles).unwrap(),
                Path::new("..data/bundles"),
                "the directory is part of the one version"
            );
        }
        let again = Helper::start(&config, &["-daemon-mode=false"]);
        let mut again = again;
        assert!(
            again.wait_exit(PATIENCE).is_some_and(|s| s.success()),
            "{}",
            again.logs()
        );
        let mut want = vec!["example.org.pem", "other.test.pem", "third.test.pem"];
        if layout == "false" {
            want.insert(1, "notes.txt");
        }
        assert_eq!(listing(&bundles), want, "symlinked_layout = {layout}");
    }
}

#[test]
fn spiffe_bundle_map_is_read_by_a_strict_consumer_and_matches_the_pem_bundles() {
    let agent = DevAgent::start(&[
        "--intermediate",
        "--federate",
        "other.test",
        "--federate-count",
        "3",
        "--rotate-every",
        "500ms",
    ]);
    let (dir, certs) = helper_dir();
    let config = x509_config(
        &agent.address(),
        &certs,
        "trust_bundle_dir = \"bundles\"\ncreate_cert_dir = true\n\
         spiffe_bundle_map_file_name = \"spiffe-bundles.json\"",
    );
    let helper = Helper::start_in(dir, &config, &[]);
    wait_updates(&helper, 3);
    let map = certs.join("spiffe-bundles.json");
    assert_eq!(file_mode(&map).unwrap(), 0o644);
    let checked = run(Command::new("python3")
        .arg(scripts().join("bundle_map.py"))
        .arg(&map)
        .arg(certs.join("bundles")))
    .unwrap();
    assert_eq!(checked.trim(), "ok 5 trust domains, 5 keys");
    // The own domain's entry is the PEM bundle file's root, and a duplicate name is refused
    // by the reader (it is not lenient).
    let text = fs::read_to_string(&map).unwrap();
    let dup = text.replacen(
        "{\"trust_domains\":{",
        "{\"trust_domains\":{\"x.test\":{\"keys\":[]},\"x.test\":{\"keys\":[]},",
        1,
    );
    let scratch = tempfile::tempdir().unwrap();
    fs::write(scratch.path().join("map.json"), dup).unwrap();
    let refused = run(Command::new("python3")
        .arg(scripts().join("bundle_map.py"))
        .arg(scratch.path().join("map.json"))
        .arg(certs.join("bundles")));
    assert!(refused.is_err_and(|e| e.contains("duplicate names")));
}

#[test]
fn the_bundle_map_carries_the_jwt_keys_of_the_jwt_bundle_file() {
    // `other.test` has X.509 roots and JWT keys, `fed<i>.test` X.509 roots only.
    let agent = DevAgent::start(&[
        "--federate",
        "other.test",
        "--federate-count",
        "2",
        "--rotate-every",
        "500ms",
    ]);
    for layout in [false, true] {
        let (dir, certs) = helper_dir();
        let config = x509_config(
            &agent.address(),
            &certs,
            &format!(
                "trust_bundle_dir = \"bundles\"\ncreate_cert_dir = true\n\
                 spiffe_bundle_map_file_name = \"spiffe-bundles.json\"\n\
                 jwt_bundle_file_name = \"jwt_bundle.json\"\nsymlinked_layout = {layout}"
            ),
        );
        let helper = Helper::start_in(dir, &config, &[]);
        // X.509 rotations after the JWT bundle: each rewrites the map with its JWT keys.
        wait_updates(&helper, 3);
        assert!(
            helper.logs().contains("JWT bundle updated"),
            "{}",
            helper.logs()
        );
        let map = certs.join("spiffe-bundles.json");
        let check = |jwt_file: &Path| {
            run(Command::new("python3")
                .arg(scripts().join("bundle_map.py"))
                .arg(&map)
                .arg(certs.join("bundles"))
                .arg(jwt_file))
        };
        let checked = check(&certs.join("jwt_bundle.json")).unwrap();
        assert_eq!(
            checked.trim(),
            "ok 4 trust domains, 4 keys, 2 jwt-svid keys",
            "symlinked_layout = {layout}"
        );
        // The reader is strict: a JWT bundle file with another key is not this map's.
        let scratch = tempfile::tempdir().unwrap();
        let other = scratch.path().join("jwt.json");
        fs::write(&other, br#"{"example.org":"eyJrZXlzIjpudWxsfQ=="}"#).unwrap();
        assert!(check(&other).is_err_and(|e| e.contains("jwt-svid keys")));
        // Without JWT keys allowed, the schema refuses the map.
        let x509_only = run(Command::new("python3")
            .arg(scripts().join("bundle_map.py"))
            .arg(&map)
            .arg(certs.join("bundles")));
        assert!(x509_only.is_err(), "{x509_only:?}");
    }
}

/// (uid, gid) of `path` itself (a symlink is not followed).
fn owner(path: &Path) -> (u32, u32) {
    let meta = fs::symlink_metadata(path).unwrap();
    (meta.uid(), meta.gid())
}

/// Every entry below `dir`, symlinks not followed.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.clone());
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            walk(&path, out);
        }
    }
}

#[test]
fn file_owner_is_given_to_everything_the_helper_creates() {
    if !rustix::process::geteuid().is_root() {
        svid_tests::harness::platform::skip(
            "file_owner_is_given_to_everything_the_helper_creates",
            "needs root to chown",
        );
        return;
    }
    let agent = DevAgent::start(&["--intermediate", "--federate", "other.test"]);
    for layout in ["false", "true"] {
        let (dir, certs) = helper_dir();
        let certs = certs.join("new");
        let config = x509_config(
            &agent.address(),
            &certs,
            &format!(
                "file_owner = \"65534:65533\"\ncreate_cert_dir = true\nsymlinked_layout = {layout}\n\
                 trust_bundle_dir = \"bundles\"\nsvid_credential_bundle_file_name = \"credential.pem\"\n\
                 spiffe_bundle_map_file_name = \"spiffe-bundles.json\"\njwt_bundle_file_name = \"jwt_bundle.json\""
            ),
        );
        let mut helper = Helper::start_in(dir, &config, &["-daemon-mode=false"]);
        assert!(
            helper.wait_exit(PATIENCE).is_some_and(|s| s.success()),
            "{}",
            helper.logs()
        );
        let mut all = vec![certs.clone()];
        walk(&certs, &mut all);
        assert!(all.len() >= 9, "{all:?}");
        for path in &all {
            assert_eq!(
                owner(path),
                (65534, 65533),
                "{} (symlinked_layout = {layout})",
                path.display()
            );
        }
    }
}

#[test]
fn a_helper_that_cannot_chown_is_refused_at_start() {
    if !rustix::process::geteuid().is_root() {
        svid_tests::harness::platform::skip(
            "a_helper_that_cannot_chown_is_refused_at_start",
            "needs root to drop to another user",
        );
        return;
    }
    let (dir, certs) = helper_dir();
    svid_tests::harness::platform::chmod(dir.path(), 0o755);
    svid_tests::harness::platform::chmod(&certs, 0o777);
    let config = x509_config("/nonexistent/agent.sock", &certs, "file_owner = \"0:0\"");
    let mut program = Command::new("setpriv");
    program.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
    program.arg(svid_tests::helper_bin());
    let mut helper = Helper::start_command(program, dir, &config, &[], &[]);
    let status = helper.wait_exit(Duration::from_secs(20));
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{}", helper.logs());
    assert!(
        helper.logs().contains(
            "file_owner \\\"0:0\\\": the helper cannot give its files this owner (fchown: operation not permitted); run it as root or with CAP_CHOWN"
        ),
        "{}",
        helper.logs()
    );
    assert_eq!(
        fs::read_dir(&certs).unwrap().count(),
        0,
        "the probe is removed"
    );
}

/// `examples/envoy/`: its `helper.conf` (agent socket and `cert_dir` pointed at the test)
/// writes every file its `envoy.yaml` names, each holding what Envoy reads there.
#[test]
fn the_envoy_example_writes_every_file_envoy_reads() {
    if !rustix::process::geteuid().is_root() {
        svid_tests::harness::platform::skip(
            "the_envoy_example_writes_every_file_envoy_reads",
            "its file_owner needs root",
        );
        return;
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/envoy");
    let conf = fs::read_to_string(example.join("helper.conf")).unwrap();
    let envoy = fs::read_to_string(example.join("envoy.yaml")).unwrap();
    let agent = DevAgent::start(&["--intermediate", "--federate", "partner.example"]);
    let (dir, certs) = helper_dir();
    let certs = certs.join("run/spiffe/certs");
    let conf = conf
        .replace("/run/spire/sockets/agent.sock", &agent.address())
        .replace("/run/spiffe/certs", &certs.display().to_string());
    let mut helper = Helper::start_in(dir, &conf, &["-daemon-mode=false"]);
    assert!(
        helper.wait_exit(PATIENCE).is_some_and(|s| s.success()),
        "{}",
        helper.logs()
    );
    let named: Vec<&str> = envoy
        .split(['{', '}', '\n', ','])
        .filter_map(|part| {
            let part = part.trim();
            part.strip_prefix("filename: ")
                .or_else(|| part.strip_prefix("path: "))
        })
        .filter_map(|p| p.strip_prefix("/run/spiffe/certs"))
        .collect();
    assert_eq!(named.len(), 5, "{named:?}");
    for name in named {
        let path = certs.join(name.trim_start_matches('/'));
        assert_eq!(owner(&path), (101, 101), "{}", path.display());
        if let Some(td) = name
            .strip_prefix("/bundles/")
            .and_then(|f| f.strip_suffix(".pem"))
        {
            let files = SvidFiles {
                bundle: path.clone(),
                ..SvidFiles::in_dir(&certs)
            };
            assert_eq!(
                files.bundle_uri_sans().unwrap(),
                [vec![format!("spiffe://{td}")]]
            );
        }
    }
    let files = SvidFiles::in_dir(&certs);
    files.key_matches_leaf().unwrap();
    files.verify_chain().unwrap();
}

/// `create_cert_dir` that cannot create the directory stops the helper at start, naming it.
#[test]
fn a_cert_dir_that_cannot_be_created_is_named_at_start() {
    let (dir, certs) = helper_dir();
    let blocker = certs.join("a-file");
    fs::write(&blocker, "kept").unwrap();
    let target = blocker.join("certs");
    let config = x509_config("/nonexistent/agent.sock", &target, "create_cert_dir = true");
    let mut helper = Helper::start_in(dir, &config, &[]);
    let status = helper.wait_exit(Duration::from_secs(20));
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{}", helper.logs());
    let want = format!(
        "create_cert_dir {t}: mkdir {t}: not a directory",
        t = target.display()
    );
    assert!(
        helper.logs().contains(&want),
        "no {want:?} in\n{}",
        helper.logs()
    );
    assert_eq!(fs::read_to_string(&blocker).unwrap(), "kept");
}
