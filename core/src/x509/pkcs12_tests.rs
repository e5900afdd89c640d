//! The PKCS#12 stores read back by a real consumer: `/usr/bin/openssl pkcs12` checks the MAC
//! (so the appendix-B KDF and the HMAC), decrypts both PBES2 layers, and gives back the same
//! key and certificates, with the algorithms OpenSSL 3 writes by default.

use std::format;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::string::{String, ToString};
use std::vec::Vec;

use rcgen::KeyPair;

use super::pkcs12::{RANDOM_LEN, Random};
use super::testpki::{self, pem_certs};
use super::{RenderOptions, render};

const OPENSSL: &str = "/usr/bin/openssl";
const ID: &str = "spiffe://example.test/workload";

/// A file under the system temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("svid-core-p12-{name}-{}", std::process::id()));
        fs::write(&path, bytes).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// `openssl pkcs12 -in FILE -passin pass:PASSWORD ARGS`: (success, stdout, stderr).
fn openssl_pkcs12(file: &TempFile, password: &str, args: &[&str]) -> (bool, String, String) {
    let pass = format!("pass:{password}");
    let out = Command::new(OPENSSL)
        .args(["pkcs12", "-in"])
        .arg(&file.0)
        .args(["-passin", &pass])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {OPENSSL}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn random(seed: u8) -> Random {
    core::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
}

/// Renders a leaf (key `key`) under root -> intermediate with a federated root, and returns
/// what the stores hold plus the leaf, intermediate and the two roots.
fn rendered(key: &KeyPair) -> (super::Pkcs12Contents, Vec<Vec<u8>>) {
    let other = testpki::root("other.test");
    let (resp, mut certs) =
        testpki::svid_response(key, &[("spiffe://other.test", other.der.clone())]);
    let opts = RenderOptions {
        include_federated_domains: true,
        pkcs12: true,
        ..Default::default()
    };
    let out = render(&resp, &opts, 1_800_000_000).unwrap();
    certs.push(other.der);
    (out.pkcs12, certs)
}

/// Checks the keystore and truststore of `key` with `password` through `openssl pkcs12`.
fn check(name: &str, key: KeyPair, password: &str) {
    let (contents, certs) = rendered(&key);
    let [leaf, int, own_root, other_root] = &certs[..] else {
        unreachable!()
    };

    let keystore = TempFile::new(
        &format!("{name}-ks"),
        &contents.keystore(password, &random(1)).unwrap(),
    );
    let (ok, _, info) = openssl_pkcs12(&keystore, password, &["-info", "-noout"]);
    assert!(ok, "{name}: {info}");
    for line in [
        "MAC: sha256, Iteration 2048",
        "MAC length: 32, salt length: 8",
        "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256",
        "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256",
    ] {
        assert!(
            info.lines().any(|l| l == line),
            "{name}: {line:?} in {info}"
        );
    }
    let (ok, key_out, err) = openssl_pkcs12(&keystore, password, &["-nocerts", "-nodes"]);
    assert!(ok, "{name}: {err}");
    assert!(
        key_out.contains(&format!("friendlyName: {ID}")),
        "{key_out}"
    );
    let key_pem = &key_out[key_out.find("-----BEGIN PRIVATE KEY").unwrap()..];
    assert_eq!(
        key_pem,
        String::from_utf8(testpki::pem_key(&key.serialize_der())).unwrap()
    );
    let (ok, certs_out, err) = openssl_pkcs12(&keystore, password, &["-nokeys"]);
    assert!(ok, "{name}: {err}");
    assert_eq!(pem_blocks(&certs_out), pem_certs(&[leaf, int]), "{name}");
    // The key and the leaf share one localKeyID; the intermediate has no attributes.
    let key_id = local_key_id(&key_out);
    assert_eq!(local_key_id(&certs_out), key_id, "{name}");
    assert_eq!(certs_out.matches("localKeyID").count(), 1, "{name}");

    let wrong = openssl_pkcs12(&keystore, &format!("{password}x"), &["-info", "-noout"]);
    assert!(!wrong.0, "{name}: a wrong password is accepted");

    let truststore = TempFile::new(
        &format!("{name}-ts"),
        &contents.truststore(password, &random(2)).unwrap(),
    );
    let (ok, trust_out, err) = openssl_pkcs12(&truststore, password, &["-nokeys", "-info"]);
    assert!(ok, "{name}: {err}");
    assert!(!trust_out.contains("PRIVATE KEY"), "{name}");
    assert_eq!(
        pem_blocks(&trust_out),
        pem_certs(&[own_root, other_root]),
        "{name}"
    );
    for alias in ["example.test-0", "other.test-0"] {
        assert!(
            trust_out.contains(&format!("friendlyName: {alias}")),
            "{name}: {trust_out}"
        );
    }
    // OpenSSL 3.0 prints the Oracle attribute by its OID, with the OID value.
    assert_eq!(
        trust_out
            .matches("2.16.840.1.113894.746875.1.1: <Unsupported tag 6>")
            .count()
            + trust_out
                .matches("Trusted key usage (Oracle): Any Extended Key Usage")
                .count(),
        2,
        "{name}: {trust_out}"
    );
}

/// The PEM blocks of `text`, concatenated (the bag attributes dropped).
fn pem_blocks(text: &str) -> Vec<u8> {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        inside |= line.starts_with("-----BEGIN");
        if inside {
            out.push_str(line);
            out.push('\n');
        }
        inside &= !line.starts_with("-----END");
    }
    out.into_bytes()
}

fn local_key_id(text: &str) -> &str {
    let line = text.lines().find(|l| l.contains("localKeyID:")).unwrap();
    line.trim()
}

#[test]
fn openssl_reads_p256_stores_with_a_password() {
    check("p256", testpki::p256(), "s3cret pass");
}

#[test]
fn openssl_reads_rsa_stores_with_a_password() {
    check("rsa", testpki::rsa(testpki::RSA_A), "changeit");
}

#[test]
fn openssl_reads_stores_with_an_empty_password() {
    check("p256-empty", testpki::p256(), "");
    check("rsa-empty", testpki::rsa(testpki::RSA_A), "");
}

#[test]
fn openssl_reads_stores_with_a_non_ascii_password() {
    check("p256-utf8", testpki::p256(), "pässwörd-€");
}

#[test]
fn the_random_bytes_are_the_only_source_of_variation() {
    let (contents, _) = rendered(&testpki::p256());
    let a = contents.keystore("pw", &random(7)).unwrap();
    assert_eq!(a, contents.keystore("pw", &random(7)).unwrap());
    // Each byte of the random input is used: changing one changes the file.
    for i in 0..RANDOM_LEN {
        let mut other = random(7);
        other[i] ^= 1;
        assert_ne!(a, contents.keystore("pw", &other).unwrap(), "byte {i}");
    }
}
