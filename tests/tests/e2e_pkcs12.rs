//! End-to-end tests of the PKCS#12 stores (`pkcs12_keystore_file_name`,
//! `pkcs12_truststore_file_name`, `pkcs12_password_file`) against the dev agent, read by
//! their real consumers: `openssl pkcs12`, Java's `keytool -list -storetype PKCS12`, and a
//! Java TLS server (`tests/java/Server.java`) that loads both stores and accepts an mTLS
//! connection from a Python `ssl` client holding the helper's PEM files, before and after a
//! rotation. The Java parts print `SKIPPED <test>: <why>` when `java` or `keytool` is absent
//! (`.ci/run` installs the JDK). Build the binaries first: `cargo build --workspace --bins`.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use svid_tests::harness::platform::{run, skip, unavailable};
use svid_tests::harness::verify::{file_mode, openssl, pem_bodies};
use svid_tests::{DevAgent, Helper, PATIENCE, helper_dir, wait_until, x509_config};

const UPDATED: &str = "X.509 certificates updated";
const PASSWORD: &str = "s3cret-p12 pass";

fn stores(password_file: &Path) -> String {
    format!(
        "pkcs12_keystore_file_name = \"svid.p12\"\npkcs12_truststore_file_name = \"bundle.p12\"\n\
         pkcs12_password_file = \"{}\"\nkey_file_mode = 0640\ncert_file_mode = 0604",
        password_file.display()
    )
}

/// `openssl pkcs12 -in FILE -passin pass:PASSWORD ARGS`.
fn pkcs12(file: &Path, password: &str, args: &[&str]) -> Result<String, String> {
    let args: Vec<OsString> = ["pkcs12", "-in"]
        .map(OsString::from)
        .into_iter()
        .chain([file.as_os_str().to_owned()])
        .chain(["-passin".into(), format!("pass:{password}").into()])
        .chain(args.iter().map(OsString::from))
        .collect();
    openssl(args)
}

/// Runs the helper once (`-daemon-mode=false`) with both stores and `password_text` in the
/// password file; returns the cert dir's files after it exits 0.
fn one_shot(agent: &DevAgent, password_text: &str) -> (tempfile::TempDir, PathBuf, Helper) {
    let (dir, certs) = helper_dir();
    let password_file = dir.path().join("p12-password");
    fs::write(&password_file, password_text).unwrap();
    let config = x509_config(
        &agent.address(),
        &certs,
        &format!(
            "include_federated_domains = true\n{}",
            stores(&password_file)
        ),
    );
    let mut helper = Helper::start(&config, &["-daemon-mode=false"]);
    assert!(
        helper.wait_exit(PATIENCE).is_some_and(|s| s.success()),
        "{}",
        helper.logs()
    );
    (dir, certs, helper)
}

#[test]
fn openssl_reads_both_stores_with_the_pem_files_contents() {
    let agent = DevAgent::start(&["--intermediate", "--federate", "other.test"]);
    // The file's final newline is not part of the password; an empty password works too.
    for (text, password) in [(format!("{PASSWORD}\n"), PASSWORD), ("\n".into(), "")] {
        let (_dir, certs, helper) = one_shot(&agent, &text);
        let (keystore, truststore) = (certs.join("svid.p12"), certs.join("bundle.p12"));
        assert_eq!(file_mode(&keystore).unwrap(), 0o640, "key_file_mode");
        assert_eq!(file_mode(&truststore).unwrap(), 0o604, "cert_file_mode");
        if !password.is_empty() {
            assert!(!helper.logs().contains(password), "the password is logged");
        }

        let info =
            pkcs12(&keystore, password, &["-info", "-noout"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(info.is_empty(), "{info}");
        let info = pkcs12(&keystore, password, &["-info", "-nodes"]).unwrap();
        let svid = fs::read_to_string(certs.join("svid.pem")).unwrap();
        let key = fs::read_to_string(certs.join("svid_key.pem")).unwrap();
        let bundle = fs::read_to_string(certs.join("svid_bundle.pem")).unwrap();
        let keys = pkcs12(&keystore, password, &["-nocerts", "-nodes"]).unwrap();
        assert_eq!(pem_bodies(&keys), pem_bodies(&key), "the key file's key");
        let chain = pkcs12(&keystore, password, &["-nokeys"]).unwrap();
        assert_eq!(
            pem_bodies(&chain),
            pem_bodies(&svid),
            "leaf and intermediate"
        );
        assert!(
            keys.contains("friendlyName: spiffe://example.org/"),
            "alias = SPIFFE ID: {info}"
        );
        let trusted = pkcs12(&truststore, password, &["-nokeys"]).unwrap();
        assert_eq!(
            pem_bodies(&trusted),
            pem_bodies(&bundle),
            "the bundle file's CAs"
        );
        assert_eq!(pem_bodies(&trusted).len(), 2, "own and federated root");
        for alias in ["example.org-0", "other.test-0"] {
            assert!(
                trusted.contains(&format!("friendlyName: {alias}")),
                "{trusted}"
            );
        }
        let wrong = pkcs12(&keystore, &format!("{password}x"), &["-info", "-noout"]);
        assert!(wrong.is_err(), "a wrong password opens the keystore");
    }
}

/// An `x509_svids` entry's own stores (issue 16 point 5) hold that identity, with the
/// set's password: `openssl pkcs12` reads the entry's key and chain as its PEM files, alias
/// its SPIFFE ID, and its bundle file's CA.
#[test]
fn an_identitys_own_stores_hold_that_identity() {
    let agent = DevAgent::start(&["--extra-svid", "db=spiffe://example.org/db"]);
    let (dir, certs) = helper_dir();
    let password_file = dir.path().join("p12-password");
    fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let extra = format!(
        "pkcs12_password_file = \"{}\"\n\
         x509_svids = [{{ hint = \"db\", svid_file_name = \"db.pem\", \
         svid_key_file_name = \"db_key.pem\", svid_bundle_file_name = \"db_bundle.pem\", \
         pkcs12_keystore_file_name = \"db.p12\", pkcs12_truststore_file_name = \"db-trust.p12\" }}]",
        password_file.display()
    );
    let config = x509_config(&agent.address(), &certs, &extra);
    let mut helper = Helper::start(&config, &["-daemon-mode=false"]);
    assert!(
        helper.wait_exit(PATIENCE).is_some_and(|s| s.success()),
        "{}",
        helper.logs()
    );
    let (keystore, truststore) = (certs.join("db.p12"), certs.join("db-trust.p12"));
    let read = |name: &str| fs::read_to_string(certs.join(name)).unwrap();
    let keys = pkcs12(&keystore, PASSWORD, &["-nocerts", "-nodes"]).unwrap();
    assert_eq!(pem_bodies(&keys), pem_bodies(&read("db_key.pem")));
    assert!(
        keys.contains("friendlyName: spiffe://example.org/db"),
        "{keys}"
    );
    let chain = pkcs12(&keystore, PASSWORD, &["-nokeys"]).unwrap();
    assert_eq!(pem_bodies(&chain), pem_bodies(&read("db.pem")));
    assert_ne!(
        pem_bodies(&chain),
        pem_bodies(&read("svid.pem")),
        "not the default's"
    );
    let trusted = pkcs12(&truststore, PASSWORD, &["-nokeys"]).unwrap();
    assert_eq!(pem_bodies(&trusted), pem_bodies(&read("db_bundle.pem")));
    assert!(
        !certs.join("svid.p12").exists(),
        "no top-level store was named"
    );
}

#[test]
fn keytool_lists_the_key_entry_and_the_trusted_certificates() {
    if let Some(why) = unavailable("keytool", &["-help"]) {
        skip(
            "keytool_lists_the_key_entry_and_the_trusted_certificates",
            &why,
        );
        return;
    }
    let agent = DevAgent::start(&["--intermediate", "--federate", "other.test"]);
    for (text, password) in [(format!("{PASSWORD}\r\n"), PASSWORD), (String::new(), "")] {
        let (_dir, certs, _) = one_shot(&agent, &text);
        let list = |file: &str, password: &str| {
            run(Command::new("keytool")
                .args(["-list", "-storetype", "PKCS12", "-keystore"])
                .arg(certs.join(file))
                .args(["-storepass", password]))
        };
        let keystore = list("svid.p12", password).unwrap();
        assert!(
            keystore.contains("Your keystore contains 1 entry"),
            "{keystore}"
        );
        let entry = keystore
            .lines()
            .find(|l| l.contains("PrivateKeyEntry"))
            .unwrap_or_else(|| panic!("no key entry: {keystore}"));
        assert!(entry.starts_with("spiffe://example.org/"), "{entry}");
        let truststore = list("bundle.p12", password).unwrap();
        assert!(
            truststore.contains("Your keystore contains 2 entries"),
            "{truststore}"
        );
        for alias in ["example.org-0", "other.test-0"] {
            assert!(
                truststore.contains(&format!("{alias}, "))
                    && truststore.contains("trustedCertEntry"),
                "{truststore}"
            );
        }
        if !password.is_empty() {
            let wrong = list("svid.p12", "wrong-password");
            assert!(
                wrong.is_err_and(|e| e.contains("password was incorrect")),
                "the MAC is checked"
            );
        }
    }
}

/// The Java server of `tests/java/Server.java`, killed on drop.
struct JavaServer {
    child: Child,
    port: u16,
    lines: std::sync::mpsc::Receiver<String>,
}

impl JavaServer {
    /// Loads the stores of `certs` with the password of `password_file` on every connection.
    fn start(certs: &Path, password_file: &Path) -> JavaServer {
        let stores = [certs.join("svid.p12"), certs.join("bundle.p12")];
        JavaServer::spawn(
            &[],
            stores
                .iter()
                .map(|p| p.as_os_str())
                .chain([password_file.as_os_str()]),
        )
    }

    /// Runs `java JVM_FLAGS Server.java ARGS`.
    fn spawn<'a>(
        jvm_flags: &[String],
        args: impl IntoIterator<Item = &'a std::ffi::OsStr>,
    ) -> JavaServer {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("java/Server.java");
        let mut child = Command::new("java")
            .args(jvm_flags)
            .arg(source)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting java");
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(PATIENCE)
            .expect("the Java server never listened");
        let port = first
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {first}"));
        JavaServer { child, port, lines }
    }

    /// One mTLS connection by Python `ssl` with the helper's PEM files (copied at once, so a
    /// rotation in between does not mix two sets): the server's answer and the serial of the
    /// server certificate the client saw.
    fn connect(&self, certs: &Path) -> Result<(String, String), String> {
        let scratch = tempfile::tempdir().unwrap();
        for name in ["svid.pem", "svid_key.pem", "svid_bundle.pem"] {
            fs::copy(certs.join(name), scratch.path().join(name)).unwrap();
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tls_client.py");
        let out = run(Command::new("python3")
            .arg(script)
            .arg(self.port.to_string())
            .args(["svid.pem", "svid_key.pem", "svid_bundle.pem"].map(|n| scratch.path().join(n))))
        .map_err(|e| {
            let errors: Vec<String> = self.lines.try_iter().collect();
            format!("{e}\nserver: {errors:?}")
        })?;
        let mut lines = out.lines();
        let answer = lines.next().unwrap_or_default().to_owned();
        let seen = lines
            .next()
            .and_then(|l| l.strip_prefix("server-serial="))
            .unwrap_or_default()
            .to_owned();
        Ok((answer, seen))
    }
}

impl Drop for JavaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Java server saw the client's SPIFFE ID, and the client saw a server certificate the
/// agent issued.
fn assert_served(agent: &DevAgent, answer: &str, seen: &str) {
    assert!(
        answer.starts_with("ok client=spiffe://example.org/"),
        "{answer}"
    );
    let issued: Vec<String> = agent
        .issued()
        .into_iter()
        .map(|i| normal(&i.serial_hex))
        .collect();
    assert!(issued.contains(&normal(seen)), "{seen} in {issued:?}");
}

/// A serial in upper-case hex without leading zeros (Java's `BigInteger.toString(16)`).
fn normal(serial: &str) -> String {
    serial.trim_start_matches('0').to_uppercase()
}

#[test]
fn a_java_tls_server_loads_both_stores_and_serves_the_rotated_svid() {
    if let Some(why) = unavailable("java", &["-version"]) {
        skip(
            "a_java_tls_server_loads_both_stores_and_serves_the_rotated_svid",
            &why,
        );
        return;
    }
    let agent = DevAgent::start(&["--intermediate", "--rotate-every", "4s"]);
    let (dir, certs) = helper_dir();
    let password_file = dir.path().join("p12-password");
    fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let config = x509_config(&agent.address(), &certs, &stores(&password_file));
    let helper = Helper::start_in(dir, &config, &[]);
    assert!(helper.wait_for_log(UPDATED, PATIENCE), "{}", helper.logs());
    let server = JavaServer::start(&certs, &password_file);

    let (answer, first) = server.connect(&certs).unwrap_or_else(|e| panic!("{e}"));
    assert_served(&agent, &answer, &first);
    let served = answer.rsplit("serial=").next().unwrap().to_owned();
    assert_eq!(normal(&served), normal(&first), "the server's own view");

    // After the agent rotates and the helper writes the new stores, the next connection is
    // served with the new SVID.
    let mut last = Err(String::new());
    assert!(
        wait_until(PATIENCE, || {
            last = server.connect(&certs);
            last.as_ref()
                .is_ok_and(|(_, seen)| normal(seen) != normal(&first))
        }),
        "the Java server never served a rotated SVID: {last:?}\n{}",
        helper.logs()
    );
    let (answer, seen) = last.unwrap();
    assert_served(&agent, &answer, &seen);
}

/// `examples/java/`: its `helper.conf` (agent socket, `cert_dir` and password file pointed
/// at the test) writes the stores, and a JVM started with exactly the README's `-D` flags
/// serves them through `SSLContext.getDefault()` to an mTLS client.
#[test]
fn the_java_example_is_read_through_the_jvm_flags() {
    if let Some(why) = unavailable("java", &["-version"]) {
        skip("the_java_example_is_read_through_the_jvm_flags", &why);
        return;
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/java");
    let conf = fs::read_to_string(example.join("helper.conf")).unwrap();
    let readme = fs::read_to_string(example.join("README.md")).unwrap();
    let agent = DevAgent::start(&["--intermediate"]);
    let (dir, certs) = helper_dir();
    let password_file = dir.path().join("p12-password");
    fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let local = |text: &str| {
        text.replace("/run/spire/sockets/agent.sock", &agent.address())
            .replace("/run/spiffe/certs", &certs.display().to_string())
            .replace(
                "/run/secrets/p12-password",
                &password_file.display().to_string(),
            )
    };
    let mut helper = Helper::start_in(dir, &local(&conf), &["-daemon-mode=false"]);
    assert!(
        helper.wait_exit(PATIENCE).is_some_and(|s| s.success()),
        "{}",
        helper.logs()
    );
    let password_arg = format!("\"$(cat {})\"", password_file.display());
    let flags: Vec<String> = local(&readme)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("-D"))
        .map(|l| {
            format!(
                "-D{}",
                l.trim_end_matches(" \\").replace(&password_arg, PASSWORD)
            )
        })
        .collect();
    assert_eq!(flags.len(), 6, "{flags:?}");
    let server = JavaServer::spawn(&flags, [std::ffi::OsStr::new("--jvm-properties")]);
    let (answer, seen) = server.connect(&certs).unwrap_or_else(|e| panic!("{e}"));
    assert_served(&agent, &answer, &seen);
}

#[test]
fn a_password_file_that_cannot_be_read_is_a_start_error_that_names_it() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let missing = dir.path().join("no-such-password");
    let not_utf8 = dir.path().join("binary-password");
    fs::write(&not_utf8, [0xff, 0xfe, b'x']).unwrap();
    for (file, why) in [
        (
            &missing,
            "cannot read: No such file or directory".to_owned(),
        ),
        (&not_utf8, "not UTF-8 text".to_owned()),
    ] {
        let config = x509_config(&agent.address(), &certs, &stores(file));
        let mut helper = Helper::start(&config, &[]);
        let status = helper.wait_exit(PATIENCE).expect("the helper exits");
        assert_eq!(status.code(), Some(1), "{}", helper.logs());
        // The logfmt value escapes the quotes around the path.
        let want = format!(r#"pkcs12_password_file \"{}\": {why}"#, file.display());
        assert!(
            helper.logs().contains(&want),
            "{want} in\n{}",
            helper.logs()
        );
        assert!(!helper.logs().contains("\\xff"), "{}", helper.logs());
    }
    assert!(
        fs::read_dir(&certs).unwrap().next().is_none(),
        "nothing written"
    );
}
