//! The rendered files checked by a real consumer: `/usr/bin/openssl` verifies the chain
//! against the bundle and confirms the key belongs to the leaf.

use std::format;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::string::{String, ToString};
use std::vec;

use rcgen::KeyPair;

use super::testpki::{self, leaf_params, root, sign};
use super::{RenderOptions, render};

const OPENSSL: &str = "/usr/bin/openssl";
const ID: &str = "spiffe://example.test/workload";

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("svid-core-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs openssl with `args` in `dir`; returns stdout, failing the test on a non-zero exit.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(OPENSSL)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {OPENSSL}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "openssl {args:?} in {} failed: {stdout}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Renders a leaf (key `key`) under root -> intermediate and checks the files with openssl.
fn check_with_openssl(name: &str, key: KeyPair, add_intermediates: bool) {
    let (resp, _) = testpki::svid_response(&key, &[]);
    let opts = RenderOptions {
        add_intermediates_to_bundle: add_intermediates,
        ..Default::default()
    };
    let out = render(&resp, &opts, 1_800_000_000).unwrap();

    let dir = TempDir::new(name);
    fs::write(dir.0.join("svid.pem"), &out.svid_pem).unwrap();
    fs::write(dir.0.join("svid_key.pem"), &out.key_pem).unwrap();
    fs::write(dir.0.join("svid_bundle.pem"), out.bundle_pem()).unwrap();

    let verified = openssl(
        &dir.0,
        &[
            "verify",
            "-CAfile",
            "svid_bundle.pem",
            "-untrusted",
            "svid.pem",
            "svid.pem",
        ],
    );
    assert_eq!(verified, "svid.pem: OK\n", "{name}");

    let from_cert = openssl(&dir.0, &["x509", "-in", "svid.pem", "-noout", "-pubkey"]);
    let from_key = openssl(&dir.0, &["pkey", "-in", "svid_key.pem", "-pubout"]);
    assert!(
        from_cert.starts_with("-----BEGIN PUBLIC KEY-----"),
        "{name}"
    );
    assert_eq!(from_cert, from_key, "{name}");

    let text = openssl(
        &dir.0,
        &[
            "x509",
            "-in",
            "svid.pem",
            "-noout",
            "-ext",
            "subjectAltName",
        ],
    );
    assert!(text.contains(&format!("URI:{ID}")), "{name}: {text}");
}

#[test]
fn openssl_accepts_rendered_files() {
    check_with_openssl("p256", testpki::p256(), false);
    check_with_openssl("p256-int", testpki::p256(), true);
    check_with_openssl("rsa", testpki::rsa(testpki::RSA_A), false);
    check_with_openssl("ed25519", testpki::ed25519_v1(), true);
}

#[test]
fn openssl_rejects_a_bundle_of_another_trust_domain() {
    // The same check fails when the bundle file is not the signer's: the test can fail.
    let key = testpki::p256();
    let leaf = sign(&leaf_params(ID), &key, &root("example.test"));
    let stranger = root("example.test");
    let dir = TempDir::new("stranger");
    let mut svid = vec![];
    crate::pem::encode(crate::pem::CERTIFICATE, &leaf, &mut svid);
    let mut bundle = vec![];
    crate::pem::encode(crate::pem::CERTIFICATE, &stranger.der, &mut bundle);
    fs::write(dir.0.join("svid.pem"), svid).unwrap();
    fs::write(dir.0.join("bundle.pem"), bundle).unwrap();
    let out = Command::new(OPENSSL)
        .args(["verify", "-CAfile", "bundle.pem", "svid.pem"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn serial_matches_openssl_x509_serial() {
    let dir = TempDir::new("serial");
    let ca = root("example.test");
    let key = testpki::p256();
    let mut params = leaf_params("spiffe://example.test/w");
    // A leading 0x00 (a high first byte) and a short serial: printed as OpenSSL prints them.
    for serial in [vec![0x00, 0x9a, 0x01, 0xff], vec![0x05], vec![0x7f; 20]] {
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let leaf = sign(&params, &key, &ca);
        fs::write(dir.0.join("leaf.der"), &leaf).unwrap();
        let printed = openssl(
            &dir.0,
            &[
                "x509", "-inform", "DER", "-in", "leaf.der", "-noout", "-serial",
            ],
        );
        assert_eq!(
            format!("serial={}", super::serial_hex(&leaf).unwrap()),
            printed.trim(),
            "{serial:02x?}"
        );
    }
}
