//! End-to-end tests of how the real `spiffe-helper` writes its files (issue 7, points 4-6):
//! a failure at any file of the set keeps the whole old set (bind mount, immutable file,
//! directory in the way), a full disk, a read-only or a missing `cert_dir` are named and keep
//! the old files, modes are exact whatever the umask, leftovers of a killed helper are
//! removed at start, SIGKILLs at random moments never leave a partial file, and a reader
//! never keeps a mismatched certificate and key (never sees one with `symlinked_layout`).
//!
//! Faults are real: bind mounts in a private mount namespace (`unshare -m`), `chattr +i`,
//! a 64 KiB tmpfs; the tests that need root or those tools say SKIPPED when they cannot run.
//! Build the binaries first: `cargo build --workspace --bins`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use p256::pkcs8::DecodePrivateKey;
use svid_tests::harness::platform::{listing, note, run, skip};
use svid_tests::harness::verify::openssl;
use svid_tests::{DevAgent, Helper, PATIENCE, SvidFiles, helper_bin, wait_until, x509_config};

const UPDATED: &str = "X.509 certificates updated";
const FAILED: &str = "Unable to dump bundle";
const NAMES: [&str; 3] = ["svid.pem", "svid_key.pem", "svid_bundle.pem"];
/// The outputs of issue 16 the crash test adds to the set: a credential bundle, the SPIFFE
/// bundle map, one bundle per trust domain (the agent adds `other.test`), the PKCS#12 key
/// and trust stores (password [`P12_PASSWORD`]) and a second identity (`x509_svids`, the
/// agent's `--extra-svid` hinted `db`) with its own files.
const FORMATS: &str = concat!(
    "svid_credential_bundle_file_name = \"credential.pem\"\n\
     spiffe_bundle_map_file_name = \"spiffe-bundles.json\"\ntrust_bundle_dir = \"bundles\"\n\
     create_cert_dir = true\n\
     x509_svids = [{ hint = \"db\", svid_file_name = \"db.pem\", svid_key_file_name = \"db_key.pem\",\n\
     svid_bundle_file_name = \"db_bundle.pem\", svid_credential_bundle_file_name = \"db.cred.pem\" }]\n\
     pkcs12_keystore_file_name = \"svid.p12\"\n\
     pkcs12_truststore_file_name = \"bundle.p12\"\npkcs12_password_file = \"",
    env!("CARGO_MANIFEST_DIR"),
    "/scripts/pkcs12-password\""
);
/// The password in `tests/scripts/pkcs12-password`.
const P12_PASSWORD: &str = "pass:changeit";
/// Their names in `cert_dir`.
const FORMAT_NAMES: [&str; 9] = [
    "bundles",
    "credential.pem",
    "spiffe-bundles.json",
    "svid.p12",
    "bundle.p12",
    "db.pem",
    "db_key.pem",
    "db_bundle.pem",
    "db.cred.pem",
];
/// The agent's second identity, for `x509_svids`.
const EXTRA_SVID: [&str; 2] = ["--extra-svid", "db=spiffe://example.org/db"];
/// The files of the per-trust-domain directory.
const DOMAIN_FILES: [&str; 2] = ["example.org.pem", "other.test.pem"];

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A directory for the certificates that the test owns (the helper runs elsewhere).
fn certs_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("creating certs dir")
}

/// The contents of every file of the set (empty for one that is not there), the formats of
/// issue 16 included.
fn snapshot(certs: &Path) -> Vec<Vec<u8>> {
    let domains = DOMAIN_FILES.map(|f| format!("bundles/{f}"));
    NAMES
        .iter()
        .chain(&FORMAT_NAMES[1..])
        .copied()
        .chain(domains.iter().map(String::as_str))
        .map(|n| fs::read(certs.join(n)).unwrap_or_default())
        .collect()
}

/// The DER of the first PEM block labelled `label` in `pem`.
fn pem_der(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----\n");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let b64: String = pem[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// Whether the key's public point appears in the leaf certificate (the first block of
/// `svid`): the pair matches. `None` when either does not parse (a partial file).
fn pair_matches(svid: &[u8], key: &[u8]) -> Option<bool> {
    let cert = pem_der(std::str::from_utf8(svid).ok()?, "CERTIFICATE")?;
    let key = pem_der(std::str::from_utf8(key).ok()?, "PRIVATE KEY")?;
    let secret = p256::SecretKey::from_pkcs8_der(&key).ok()?;
    let point = secret.public_key().to_sec1_bytes();
    Some(cert.windows(point.len()).any(|w| *w == *point))
}

/// Waits for `n` more lines containing `needle`.
fn wait_more(helper: &Helper, needle: &str, n: usize) {
    let want = helper.count_logs(needle) + n;
    assert!(
        helper.wait_for_logs(needle, want, PATIENCE),
        "waiting for {n} more {needle:?}\n{}",
        helper.logs()
    );
}

/// The whole set on disk is a matching, verifiable X.509-SVID.
fn assert_good_set(certs: &Path) {
    // The agent keeps rotating: the three files are copied at once (a plain-layout reader
    // may still catch a set mid-rename, and each OpenSSL check takes a while), and a set that
    // fails is read again, a few times; a set that is never whole fails every read.
    let mut errors = Vec::new();
    for _ in 0..5 {
        let copy = tempfile::tempdir().expect("scratch dir");
        let copied = ["svid.pem", "svid_key.pem", "svid_bundle.pem"]
            .iter()
            .try_for_each(|name| fs::copy(certs.join(name), copy.path().join(name)).map(drop));
        let files = SvidFiles::in_dir(copy.path());
        match copied
            .map_err(|e| e.to_string())
            .and_then(|()| files.key_matches_leaf())
            .and_then(|()| files.verify_chain())
        {
            Ok(()) => return,
            Err(e) => errors.push(e),
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no whole set in {}: {errors:#?}", certs.display());
}

/// Starts the helper on `certs` through `program` (e.g. `unshare ... sh -c ...`).
fn start(agent: &DevAgent, certs: &Path, extra: &str, program: Option<Command>) -> Helper {
    let dir = tempfile::tempdir().expect("helper dir");
    let config = x509_config(&agent.address(), certs, extra);
    match program {
        None => Helper::start_in(dir, &config, &[]),
        Some(p) => Helper::start_command(p, dir, &config, &[], &[]),
    }
}

/// For each file of the set in turn, a fault on that file alone keeps the whole old set
/// while the helper keeps failing, and the helper writes a good set once it is gone.
/// `inject(certs, name)` returns the undo; `expect` is the error text the log must show.
fn each_failing_file(
    extra: &str,
    names: &[&str],
    inject: impl Fn(&Path, &str) -> Box<dyn FnOnce()>,
    expect: &dyn Fn(&Path, &str) -> [String; 2],
) {
    let agent = DevAgent::start(&[
        "--intermediate",
        "--rotate-every",
        "150ms",
        "--federate",
        "other.test",
        EXTRA_SVID[0],
        EXTRA_SVID[1],
    ]);
    for &name in names {
        let certs = certs_dir();
        let certs = certs.path();
        let helper = start(&agent, certs, extra, None);
        wait_more(&helper, UPDATED, 1);
        let undo = inject(certs, name);
        // The first failure may come from a write already past its renames; after it, none
        // of the following ones may change a byte.
        wait_more(&helper, FAILED, 1);
        let before = snapshot(certs);
        let entries = listing(certs);
        wait_more(&helper, FAILED, 3);
        assert_eq!(snapshot(certs), before, "{name} failing: the set changed");
        for want in expect(certs, name) {
            assert!(
                helper.logs().contains(&want),
                "no {want:?} in\n{}",
                helper.logs()
            );
        }
        let files = SvidFiles::in_dir(certs);
        // Each failing write renames and puts back the files before the failing one: a
        // reader can catch that instant (docs/differences.md, "Atomic writes"), not keep it.
        if name != "svid.pem" && name != "svid_key.pem" {
            assert!(
                wait_until(PATIENCE, || files.key_matches_leaf().is_ok()),
                "{name} failing: cert and key stay mismatched"
            );
        }
        // A failing write stages temporaries and backups for a moment; none may stay.
        let entries: Vec<String> = entries
            .into_iter()
            .filter(|e| !e.starts_with('.'))
            .collect();
        assert!(
            wait_until(PATIENCE, || listing(certs) == entries),
            "{name} failing: leftovers {:?}",
            listing(certs)
        );
        if extra.contains(FORMATS) {
            assert!(
                wait_until(PATIENCE, || listing(&certs.join("bundles")) == DOMAIN_FILES),
                "{name} failing: leftovers in bundles/ {:?}",
                listing(&certs.join("bundles"))
            );
        }
        undo();
        wait_more(&helper, UPDATED, 2);
        // Plain files rotating every 150 ms: a reader can straddle one write's renames
        // (docs/differences.md, "Atomic writes"), so the check may need a second look.
        let files = SvidFiles::in_dir(certs);
        assert!(
            wait_until(PATIENCE, || files.key_matches_leaf().is_ok()
                && files.verify_chain().is_ok()),
            "{name}: no good set after the fault was removed"
        );
    }
}

/// A non-empty directory in place of one file: its rename fails (EISDIR) after the files
/// before it were renamed, which are then put back. Runs through the real binary.
#[test]
fn a_directory_in_place_of_any_file_keeps_the_old_set() {
    let names = NAMES.into_iter().chain([
        "credential.pem",
        "spiffe-bundles.json",
        "bundles/other.test.pem",
        "svid.p12",
        "bundle.p12",
        "db.pem",
        "db.cred.pem",
    ]);
    each_failing_file(
        FORMATS,
        &names.collect::<Vec<_>>(),
        |certs, name| {
            let path = certs.join(name);
            // The helper may put a new file there between the two steps: try again.
            loop {
                let _ = fs::remove_file(&path);
                match fs::create_dir(&path) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => panic!("mkdir {}: {e}", path.display()),
                }
            }
            fs::write(path.join("x"), b"x").unwrap();
            Box::new(move || fs::remove_dir_all(&path).unwrap())
        },
        &|certs, name| {
            let path = certs.join(name);
            let file = path.file_name().unwrap().to_string_lossy();
            [
                format!("rename {}/.{file}.", path.parent().unwrap().display()),
                format!(" {}: is a directory", path.display()),
            ]
        },
    );
}

/// `chattr +i` on one file (needs root and a file system with the attribute).
#[test]
fn an_immutable_file_keeps_the_old_set() {
    let probe = certs_dir();
    let file = probe.path().join("probe");
    fs::write(&file, b"x").unwrap();
    if let Err(e) = run(Command::new("chattr").arg("+i").arg(&file)) {
        skip(
            "an_immutable_file_keeps_the_old_set",
            &format!("chattr +i impossible here: {e}"),
        );
        return;
    }
    run(Command::new("chattr").arg("-i").arg(&file)).unwrap();
    each_failing_file(
        "",
        &NAMES,
        |certs, name| {
            let path = certs.join(name);
            run(Command::new("chattr").arg("+i").arg(&path)).unwrap();
            Box::new(move || {
                run(Command::new("chattr").arg("-i").arg(&path)).unwrap();
            })
        },
        &|certs, name| {
            let path = certs.join(name).display().to_string();
            [
                format!("link {path} "),
                ": operation not permitted".to_owned(),
            ]
        },
    );
}

/// A bind-mounted file (as a Kubernetes `subPath` mount is) can be neither renamed over nor
/// hard-linked: the helper runs in its own mount namespace where one file of the set is a
/// bind mount of itself. Needs root and `unshare -m`.
#[test]
fn a_bind_mounted_file_keeps_the_old_set() {
    let test = "a_bind_mounted_file_keeps_the_old_set";
    if !is_root() {
        skip(test, "needs root for unshare -m and mount --bind");
        return;
    }
    if let Err(e) = run(Command::new("unshare").args(["-m", "--propagation", "private", "true"])) {
        skip(test, &format!("unshare -m impossible here: {e}"));
        return;
    }
    let agent = DevAgent::start(&["--intermediate", "--rotate-every", "150ms"]);
    for name in NAMES {
        let certs = certs_dir();
        let certs = certs.path();
        for (n, text) in NAMES
            .iter()
            .zip(["old svid\n", "old key\n", "old bundle\n"])
        {
            fs::write(certs.join(n), text).unwrap();
        }
        let before = snapshot(certs);
        let target = certs.join(name);
        let mut program = Command::new("unshare");
        program
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(r#"mount --bind "$1" "$1" && shift && exec "$@""#)
            .arg("sh")
            .arg(&target)
            .arg(helper_bin());
        let mut helper = start(&agent, certs, "", Some(program));
        wait_more(&helper, FAILED, 3);
        let logs = helper.logs();
        assert_eq!(
            snapshot(certs),
            before,
            "{name} bind-mounted: the set changed"
        );
        let link = format!("link {} ", target.display());
        let named = logs.lines().any(|l| {
            l.contains(FAILED) && l.contains(&link) && l.contains(": invalid cross-device link")
        });
        assert!(named, "the error names {name}:\n{logs}");
        let mut names = NAMES.map(String::from).to_vec();
        names.sort();
        assert_eq!(listing(certs), names, "{name} bind-mounted: leftovers");
        helper.kill();
    }
}

/// A tmpfs mounted on a directory of the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(test: &str, dir: &Path, size: &str) -> Option<Tmpfs> {
        if !is_root() {
            skip(test, "needs root to mount a tmpfs");
            return None;
        }
        match run(Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size}"))
            .arg("tmpfs")
            .arg(dir))
        {
            Ok(_) => Some(Tmpfs(dir.to_path_buf())),
            Err(e) => {
                skip(test, &format!("cannot mount a tmpfs: {e}"));
                None
            }
        }
    }

    fn remount(&self, opt: &str) {
        run(Command::new("mount")
            .args(["-o", &format!("remount,{opt}")])
            .arg(&self.0))
        .unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = run(Command::new("umount").arg("-l").arg(&self.0));
    }
}

/// Fills the file system of `dir` with `filler`; returns once a write fails with ENOSPC.
fn fill(filler: &Path) {
    let mut f = fs::File::create(filler).unwrap();
    let chunk = [0u8; 1024];
    loop {
        use std::io::Write;
        if let Err(e) = f.write_all(&chunk).and_then(|()| f.sync_all()) {
            assert_eq!(e.raw_os_error(), Some(28), "{e}");
            return;
        }
    }
}

/// A full disk (a 64 KiB tmpfs) and then a read-only one: each failed write names the file
/// and the OS error in Go's words and changes nothing; the helper recovers after each.
fn full_and_read_only(layout: &str) {
    let test = "full_disk_and_read_only_cert_dir_keep_the_old_files";
    let certs = certs_dir();
    let Some(fs_) = Tmpfs::mount(test, certs.path(), "64k") else {
        return;
    };
    let certs = certs.path();
    let agent = DevAgent::start(&["--intermediate", "--rotate-every", "150ms"]);
    let helper = start(&agent, certs, layout, None);
    wait_more(&helper, UPDATED, 2);

    let filler = certs.join("filler");
    fill(&filler);
    wait_more(&helper, FAILED, 1);
    let before = snapshot(certs);
    wait_more(&helper, FAILED, 2);
    assert_eq!(snapshot(certs), before, "full disk: the set changed");
    assert_good_set(certs);
    let logs = helper.logs();
    let named = logs.lines().any(|l| {
        l.contains(FAILED)
            && l.contains(&format!("{}/", certs.display()))
            && l.contains(": no space left on device")
    });
    assert!(named, "full disk error names the path:\n{logs}");
    note(&format!(
        "full disk {layout:?}: {}",
        logs.lines()
            .find(|l| l.contains("no space"))
            .unwrap_or_default()
    ));
    fs::remove_file(&filler).unwrap();
    wait_more(&helper, UPDATED, 2);
    assert_good_set(certs);

    fs_.remount("ro");
    wait_more(&helper, FAILED, 1);
    let before = snapshot(certs);
    wait_more(&helper, FAILED, 2);
    assert_eq!(snapshot(certs), before, "read-only: the set changed");
    let want = match layout {
        "" => format!("open {}/svid.pem: read-only file system", certs.display()),
        _ => format!("mkdir {}/..", certs.display()),
    };
    assert!(
        helper.logs().contains(&want),
        "no {want:?} in\n{}",
        helper.logs()
    );
    assert!(helper.logs().contains("read-only file system"));
    fs_.remount("rw");
    wait_more(&helper, UPDATED, 2);
    assert_good_set(certs);
}

#[test]
fn full_disk_and_read_only_cert_dir_keep_the_old_files() {
    full_and_read_only("");
}

#[test]
fn full_disk_and_read_only_cert_dir_keep_the_old_files_symlinked() {
    full_and_read_only("symlinked_layout = true");
}

/// Read-only through permissions, for a helper that is not root: skipped as root, where
/// permissions do not stop writes (the tmpfs remount above covers root).
#[test]
fn a_cert_dir_without_write_permission_is_named() {
    if is_root() {
        skip(
            "a_cert_dir_without_write_permission_is_named",
            "root ignores directory permissions",
        );
        return;
    }
    let certs = certs_dir();
    let certs = certs.path();
    let agent = DevAgent::start(&["--rotate-every", "150ms"]);
    let helper = start(&agent, certs, "", None);
    wait_more(&helper, UPDATED, 1);
    let before = snapshot(certs);
    fs::set_permissions(certs, fs::Permissions::from_mode(0o555)).unwrap();
    wait_more(&helper, FAILED, 2);
    let want = format!("open {}/svid.pem: permission denied", certs.display());
    assert!(helper.logs().contains(&want), "{}", helper.logs());
    assert_eq!(snapshot(certs), before);
    fs::set_permissions(certs, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `cert_dir` taken away: the error names the file; the old files (moved with it) are
/// untouched; once it is back the helper writes there again.
#[test]
fn a_missing_cert_dir_is_named_and_keeps_the_old_files() {
    let top = certs_dir();
    let certs = top.path().join("certs");
    let moved = top.path().join("moved");
    fs::create_dir(&certs).unwrap();
    let agent = DevAgent::start(&["--rotate-every", "150ms"]);
    let helper = start(&agent, &certs, "", None);
    wait_more(&helper, UPDATED, 1);
    fs::rename(&certs, &moved).unwrap();
    wait_more(&helper, FAILED, 1);
    let before = snapshot(&moved);
    wait_more(&helper, FAILED, 2);
    let want = format!(
        "open {}/svid.pem: no such file or directory",
        certs.display()
    );
    assert!(helper.logs().contains(&want), "{}", helper.logs());
    assert_eq!(snapshot(&moved), before);
    assert_good_set(&moved);
    fs::rename(&moved, &certs).unwrap();
    wait_more(&helper, UPDATED, 2);
    assert_good_set(&certs);
}

/// Modes are exact whatever the umask (0 and 077), and a symlink at a target is replaced,
/// not followed.
#[test]
fn modes_are_exact_whatever_the_umask_and_symlinks_are_replaced() {
    let agent = DevAgent::start(&[]);
    for (umask, extra) in [
        ("000", ""),
        ("077", ""),
        ("000", "cert_file_mode = 0640\nkey_file_mode = 0400"),
    ] {
        let certs = certs_dir();
        let certs = certs.path();
        let outside = certs.join("outside");
        fs::write(&outside, b"precious").unwrap();
        std::os::unix::fs::symlink("outside", certs.join("svid_key.pem")).unwrap();
        let mut program = Command::new("sh");
        program
            .arg("-c")
            .arg(format!(r#"umask {umask} && exec "$@""#))
            .arg("sh")
            .arg(helper_bin());
        let helper = start(&agent, certs, extra, Some(program));
        wait_more(&helper, UPDATED, 1);
        let (cert_mode, key_mode) = if extra.is_empty() {
            (0o644, 0o600)
        } else {
            (0o640, 0o400)
        };
        for (name, want) in NAMES.iter().zip([cert_mode, key_mode, cert_mode]) {
            let meta = fs::symlink_metadata(certs.join(name)).unwrap();
            assert!(meta.is_file(), "{name} is a regular file");
            assert_eq!(
                meta.permissions().mode() & 0o777,
                want,
                "{name}, umask {umask}"
            );
        }
        assert_eq!(fs::read(&outside).unwrap(), b"precious");
        assert_good_set(certs);
    }
}

/// What a killed helper leaves (temporaries and backups, a key copy among them, a stale
/// versioned directory, a `..data_tmp`) is removed at the next start, and only that.
#[test]
fn leftovers_of_a_crash_are_removed_at_start() {
    let agent = DevAgent::start(&[]);
    let certs = certs_dir();
    let certs = certs.path();
    let helper = start(&agent, certs, "symlinked_layout = true", None);
    wait_more(&helper, UPDATED, 1);
    drop(helper);
    let junk = [
        ".svid_key.pem.4242.7.tmp",
        ".svid_key.pem.4242.3.old",
        ".svid.pem.1.0.tmp",
        "..2020_01_01_00_00_00.000000001",
        "..data_tmp",
    ];
    for name in &junk[..3] {
        fs::write(certs.join(name), b"-----BEGIN PRIVATE KEY-----\n").unwrap();
    }
    fs::create_dir(certs.join(junk[3])).unwrap();
    fs::write(certs.join(junk[3]).join("svid_key.pem"), b"old key").unwrap();
    std::os::unix::fs::symlink(junk[3], certs.join(junk[4])).unwrap();
    fs::write(certs.join("unrelated.tmp"), b"x").unwrap();
    let helper = start(&agent, certs, "symlinked_layout = true", None);
    wait_more(&helper, UPDATED, 1);
    let left = listing(certs);
    for name in junk {
        assert!(!left.contains(&name.to_owned()), "{name} left: {left:?}");
    }
    assert!(left.contains(&"unrelated.tmp".to_owned()));
    assert_eq!(
        helper.count_logs("Removed a leftover of an interrupted write"),
        junk.len()
    );
    assert_good_set(certs);
}

/// Starts the helper before its agent (it retries the dial) and, once it has cleaned up at
/// start, lays `count` files in `certs` under the names of its first temporaries
/// (`.svid.pem.<pid>.<n>.tmp`, n from 0), as an earlier process with the same pid could
/// have left them; then starts the agent with `agent_args`. Returns the files laid.
fn taken_temporaries(
    certs: &Path,
    count: u32,
    agent_args: &[&str],
) -> (DevAgent, Helper, Vec<PathBuf>, tempfile::TempDir) {
    let sockets = tempfile::tempdir().expect("socket dir");
    let socket = sockets.path().join("agent.sock");
    let dir = tempfile::tempdir().expect("helper dir");
    let config = x509_config(&socket.display().to_string(), certs, "");
    let helper = Helper::start_in(dir, &config, &[]);
    assert!(
        helper.wait_for_log("Launching daemon", PATIENCE),
        "{}",
        helper.logs()
    );
    let pid = helper.pid();
    let taken: Vec<PathBuf> = (0..count)
        .map(|n| certs.join(format!(".svid.pem.{pid}.{n}.tmp")))
        .collect();
    for path in &taken {
        fs::write(path, b"not the helper's").unwrap();
    }
    let agent = DevAgent::start_on(&socket, agent_args);
    (agent, helper, taken, sockets)
}

/// The files laid by [`taken_temporaries`] are still there, untouched.
fn assert_untouched(taken: &[PathBuf]) {
    for path in taken {
        let data = fs::read(path).unwrap_or_default();
        assert_eq!(data, b"not the helper's", "{}", path.display());
    }
}

/// A temporary name that is already taken is skipped: the write succeeds under the next
/// free name, and the file in the way is left alone.
#[test]
fn a_taken_temporary_name_is_skipped_and_left_alone() {
    let certs = certs_dir();
    let certs = certs.path();
    let (_agent, helper, taken, _sockets) = taken_temporaries(certs, 3, &[]);
    wait_more(&helper, UPDATED, 1);
    assert_eq!(helper.count_logs(FAILED), 0, "{}", helper.logs());
    assert_good_set(certs);
    assert_untouched(&taken);
}

/// When every name tried is taken, the error names the temporary (not the target, which
/// exists or not regardless), and the next update writes under a fresh name.
#[test]
fn a_write_with_every_temporary_name_taken_names_the_temporary() {
    let certs = certs_dir();
    let certs = certs.path();
    let (_agent, helper, taken, _sockets) = taken_temporaries(certs, 8, &["--rotate-every", "1s"]);
    wait_more(&helper, UPDATED, 1);
    let want = format!("open {}: file exists", taken[7].display());
    let failures: Vec<String> = helper
        .logs()
        .lines()
        .filter(|l| l.contains(FAILED))
        .map(String::from)
        .collect();
    assert!(
        matches!(&failures[..], [one] if one.contains(&want)),
        "{want}\n{}",
        helper.logs()
    );
    assert_good_set(certs);
    assert_untouched(&taken);
}

/// Files in `cert_dir` that are not the helper's, some named like its own: a layout switch
/// must leave them as they are.
const FOREIGN: [&str; 3] = ["notes.txt", "..data.bak", "..2020_not_a_version"];

fn lay_foreign(certs: &Path) {
    fs::write(certs.join(FOREIGN[0]), b"mine").unwrap();
    std::os::unix::fs::symlink("..2020_01_01_00_00_00.000000001", certs.join(FOREIGN[1])).unwrap();
    fs::create_dir(certs.join(FOREIGN[2])).unwrap();
    fs::write(certs.join(FOREIGN[2]).join("svid_key.pem"), b"mine too").unwrap();
}

fn assert_foreign_kept(certs: &Path) {
    assert_eq!(fs::read(certs.join(FOREIGN[0])).unwrap(), b"mine");
    let link = fs::read_link(certs.join(FOREIGN[1])).unwrap();
    assert_eq!(link, Path::new("..2020_01_01_00_00_00.000000001"));
    let inner = fs::read(certs.join(FOREIGN[2]).join("svid_key.pem")).unwrap();
    assert_eq!(inner, b"mine too");
}

/// `symlinked_layout = true`, then without it: at start, before any agent answers, the
/// outputs become plain files with the same bytes and modes, and `..data` and the versioned
/// directory (with its copy of the key) are removed and logged; files that are not the
/// helper's stay. Then back to `symlinked_layout = true`: the plain files become symlinks
/// and no plain copy of the key is left beside them.
#[test]
fn switching_layouts_leaves_nothing_of_the_other_behind() {
    let certs = certs_dir();
    let certs = certs.path();
    lay_foreign(certs);
    let mut agent = DevAgent::start(&[]);
    let helper = start(&agent, certs, "symlinked_layout = true", None);
    wait_more(&helper, UPDATED, 1);
    drop(helper);
    agent.kill();
    let version = fs::read_link(certs.join("..data")).unwrap();
    let before = snapshot(certs);

    // Plain, with no agent to answer: only the start-up clean-up runs.
    let helper = start(&agent, certs, "", None);
    assert!(
        helper.wait_for_logs("Removed a file of symlinked_layout, now off", 2, PATIENCE),
        "{}",
        helper.logs()
    );
    for name in NAMES {
        let path = certs.join(name);
        assert!(fs::symlink_metadata(&path).unwrap().is_file(), "{name}");
        let logged = format!("file={}", path.display());
        assert!(
            helper.logs().contains(&logged),
            "{logged}\n{}",
            helper.logs()
        );
    }
    assert_eq!(snapshot(certs), before, "the same bytes, now plain files");
    assert_eq!(svid_tests::file_mode(&certs.join(NAMES[1])).unwrap(), 0o600);
    let logged = format!("file={}", certs.join(&version).display());
    assert!(
        helper.logs().contains(&logged),
        "{logged}\n{}",
        helper.logs()
    );
    let mut want: Vec<String> = NAMES
        .iter()
        .chain(&FOREIGN)
        .map(|n| n.to_string())
        .collect();
    want.sort();
    assert_eq!(listing(certs), want);
    assert_foreign_kept(certs);
    assert_good_set(certs);
    drop(helper);

    // And back: the plain files are replaced by symlinks into one version.
    let agent = DevAgent::start(&[]);
    let helper = start(&agent, certs, "symlinked_layout = true", None);
    wait_more(&helper, UPDATED, 1);
    let version = fs::read_link(certs.join("..data")).unwrap();
    for name in NAMES {
        let link = fs::read_link(certs.join(name)).unwrap();
        assert_eq!(link, Path::new("..data").join(name));
    }
    let mut want: Vec<String> = NAMES
        .iter()
        .chain(&FOREIGN)
        .map(|n| n.to_string())
        .collect();
    want.extend(["..data".to_owned(), version.display().to_string()]);
    want.sort();
    assert_eq!(listing(certs), want);
    assert_foreign_kept(certs);
    assert_good_set(certs);
}

/// A tiny deterministic generator for kill delays (no `rand` dependency).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Every file is whole: exactly its PEM blocks, nothing partial.
fn assert_whole(certs: &Path, round: usize) {
    let read = |n: &str| fs::read_to_string(certs.join(n)).unwrap_or_default();
    let (svid, key, bundle) = (read(NAMES[0]), read(NAMES[1]), read(NAMES[2]));
    let blocks = |t: &str, label: &str| {
        let b = format!("-----BEGIN {label}-----\n");
        let e = format!("-----END {label}-----\n");
        (
            t.matches(&b).count(),
            t.matches(&e).count(),
            t.starts_with(&b) && t.ends_with(&e),
        )
    };
    assert_eq!(
        blocks(&svid, "CERTIFICATE"),
        (2, 2, true),
        "round {round}: svid.pem\n{svid}"
    );
    assert_eq!(
        blocks(&key, "PRIVATE KEY"),
        (1, 1, true),
        "round {round}: key\n{key}"
    );
    assert_eq!(
        blocks(&bundle, "CERTIFICATE"),
        (1, 1, true),
        "round {round}: bundle\n{bundle}"
    );
    if !certs.join("credential.pem").exists() {
        return;
    }
    let credential = read("credential.pem");
    assert!(
        credential.starts_with("-----BEGIN PRIVATE KEY-----\n")
            && blocks(&credential, "CERTIFICATE") == (2, 2, false)
            && credential.ends_with("-----END CERTIFICATE-----\n"),
        "round {round}: credential\n{credential}"
    );
    let map: serde_json::Value = serde_json::from_str(&read("spiffe-bundles.json"))
        .unwrap_or_else(|e| panic!("round {round}: bundle map: {e}"));
    let domains = map["trust_domains"].as_object().expect("trust_domains");
    assert_eq!(domains.len(), DOMAIN_FILES.len(), "round {round}");
    let files = listing(&certs.join("bundles"));
    let files: Vec<&String> = files.iter().filter(|f| !f.starts_with('.')).collect();
    assert_eq!(
        files, DOMAIN_FILES,
        "round {round}: bundles/ (leftovers aside)"
    );
    for file in DOMAIN_FILES {
        let text = read(&format!("bundles/{file}"));
        assert_eq!(
            blocks(&text, "CERTIFICATE"),
            (1, 1, true),
            "round {round}: {file}"
        );
    }
    for (store, certificates) in [("svid.p12", 2), ("bundle.p12", 1)] {
        let text = p12_certificates(certs, store)
            .unwrap_or_else(|e| panic!("round {round}: {store}: {e}"));
        assert_eq!(
            blocks(&text, "CERTIFICATE").0,
            certificates,
            "round {round}: {store}\n{text}"
        );
    }
}

/// The certificates of a PKCS#12 store of the set, as `openssl pkcs12` decrypts them after
/// checking the MAC (a partial or mixed file fails).
fn p12_certificates(certs: &Path, store: &str) -> Result<String, String> {
    openssl(
        ["pkcs12", "-nokeys", "-passin", P12_PASSWORD, "-in"]
            .map(Into::into)
            .into_iter()
            .chain([certs.join(store).into_os_string()]),
    )
}

/// The key of `credential.pem` is the key file's and its leaf the SVID file's leaf, and so
/// is the leaf of the PKCS#12 keystore; the `db` identity's key is its leaf's, and so is its
/// credential bundle's.
fn credential_matches(certs: &Path) -> bool {
    let read = |n: &str| fs::read_to_string(certs.join(n)).unwrap_or_default();
    let matches = |credential: &str, key: &str, svid: &str| {
        let (credential, key, svid) = (read(credential), read(key), read(svid));
        credential.starts_with(&key)
            && pem_der(&credential, "CERTIFICATE") == pem_der(&svid, "CERTIFICATE")
    };
    let leaf = pem_der(&read(NAMES[0]), "CERTIFICATE");
    let entry = pair_matches(read("db.pem").as_bytes(), read("db_key.pem").as_bytes());
    matches("credential.pem", NAMES[1], NAMES[0])
        && p12_certificates(certs, "svid.p12").is_ok_and(|p12| pem_der(&p12, "CERTIFICATE") == leaf)
        && entry == Some(true)
        && matches("db.cred.pem", "db_key.pem", "db.pem")
}

/// What is in `certs` besides the three files, `..data` and the version it points to:
/// temporaries, backups, `..data_tmp`, versioned directories never published or not removed.
fn leftovers(certs: &Path) -> Vec<String> {
    let current = fs::read_link(certs.join("..data")).ok();
    listing(certs)
        .into_iter()
        .filter(|n| {
            !NAMES.contains(&n.as_str())
                && !FORMAT_NAMES.contains(&n.as_str())
                && n != "..data"
                && current.as_deref() != Some(Path::new(n))
        })
        .chain(
            fs::read_dir(certs.join("bundles"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| format!("bundles/{}", e.file_name().to_string_lossy()))
                .filter(|n| !DOMAIN_FILES.iter().any(|f| n.ends_with(&format!("/{f}")))),
        )
        .collect()
}

/// Kills the helper with SIGKILL at random moments while the agent rotates every 40 ms.
/// The set holds every format (upstream's three files, the credential bundle, the bundle
/// map, a directory of two trust domains' bundles). After every kill each file is whole
/// (with `symlinked_layout`, cert, key and credential bundle also match); the next start,
/// before it reaches the agent, leaves them matching and no leftovers (it puts back a plain
/// set killed between its renames); at the end the set verifies. `CRASH_KILLS` sets the
/// number of kills (default 30; `scripts/crash-test.sh` runs 1,000).
fn crash(layout: &str) -> (usize, usize) {
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let agent = DevAgent::start(&[
        "--intermediate",
        "--rotate-every",
        "40ms",
        "--federate",
        "other.test",
        EXTRA_SVID[0],
        EXTRA_SVID[1],
    ]);
    let layout = &format!("{layout}\n{FORMATS}");
    let symlinked = layout.contains("symlinked_layout = true");
    let certs = certs_dir();
    let certs = certs.path();
    let mut rng = Lcg(std::process::id().into());
    let (mut mismatched_after_kill, mut mid_write, mut restored) = (0, 0, 0);
    let mut helper = start(&agent, certs, layout, None);
    wait_more(&helper, UPDATED, 1);
    for round in 0..kills {
        std::thread::sleep(Duration::from_micros(rng.below(200_000)));
        helper.kill();
        assert_whole(certs, round);
        let pair = pair_matches(
            &fs::read(certs.join(NAMES[0])).unwrap(),
            &fs::read(certs.join(NAMES[1])).unwrap(),
        );
        if !leftovers(certs).is_empty() {
            mid_write += 1;
        }
        if pair != Some(true) || !credential_matches(certs) {
            mismatched_after_kill += 1;
            assert!(
                !symlinked,
                "round {round}: mismatched pair left by a kill with {layout}"
            );
        }
        // The next start repairs the set on its own, before it reaches any agent: a helper
        // whose agent does not exist gets as far as launching its loop.
        let offline = Helper::start(&x509_config("/nonexistent/agent.sock", certs, layout), &[]);
        assert!(
            offline.wait_for_log("Launching daemon", PATIENCE),
            "{}",
            offline.logs()
        );
        if offline.count_logs("Restored the previous file") > 0 {
            restored += 1;
        }
        let offline_logs = offline.logs();
        drop(offline);
        assert_whole(certs, round);
        let pair = pair_matches(
            &fs::read(certs.join(NAMES[0])).unwrap(),
            &fs::read(certs.join(NAMES[1])).unwrap(),
        );
        assert_eq!(
            pair,
            Some(true),
            "round {round}: mismatched after the next start"
        );
        assert!(
            credential_matches(certs),
            "round {round}: credential bundle or the db identity mismatched after the next start"
        );
        let junk = leftovers(certs);
        assert!(
            junk.is_empty(),
            "round {round}: leftovers after the next start: {junk:?}\n{offline_logs}"
        );
        helper = start(&agent, certs, layout, None);
        wait_more(&helper, UPDATED, 1);
    }
    helper.terminate();
    assert!(helper.wait_exit(PATIENCE).is_some());
    assert_good_set(certs);
    let left: Vec<String> = listing(certs)
        .into_iter()
        .filter(|n| !NAMES.contains(&n.as_str()) && !FORMAT_NAMES.contains(&n.as_str()))
        .collect();
    if !symlinked {
        assert!(left.is_empty(), "{left:?}");
    } else {
        assert_eq!(left.len(), 2, "..data and one version: {left:?}");
    }
    note(&format!(
        "crash {layout:?}: {kills} kills, {mid_write} left temporaries or versions behind, {mismatched_after_kill} left cert and key from different rotations, {restored} starts put the old set back"
    ));
    (kills, mismatched_after_kill)
}

#[test]
fn sigkill_at_random_moments_leaves_whole_files_plain() {
    crash("");
}

#[test]
fn sigkill_at_random_moments_leaves_whole_matching_files_symlinked() {
    crash("symlinked_layout = true");
}

/// A reader that loads cert and key on each change while the agent rotates every 30 ms.
/// Plain layout: it may catch a mismatched pair mid-rename, but never one that stays.
/// Symlinked layout, reading both files through one resolution of `..data`: never a mismatch.
fn reader(layout: &str) {
    let agent = DevAgent::start(&["--rotate-every", "30ms"]);
    let certs = certs_dir();
    let certs = certs.path().to_path_buf();
    let helper = start(&agent, &certs, layout, None);
    wait_more(&helper, UPDATED, 1);
    let symlinked = !layout.is_empty();
    let load = |certs: &Path| -> Option<(Vec<u8>, Vec<u8>)> {
        let base = if symlinked {
            certs.join(fs::read_link(certs.join("..data")).ok()?)
        } else {
            certs.to_path_buf()
        };
        Some((
            fs::read(base.join(NAMES[0])).ok()?,
            fs::read(base.join(NAMES[1])).ok()?,
        ))
    };
    let (mut changes, mut mismatches) = (0, 0);
    let mut last: Option<(Vec<u8>, Vec<u8>)> = None;
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        let Some(pair) = load(&certs) else { continue }; // a version removed under us: retry
        if last.as_ref() == Some(&pair) {
            continue;
        }
        changes += 1;
        match pair_matches(&pair.0, &pair.1) {
            Some(true) => {}
            other => {
                mismatches += 1;
                assert!(!symlinked, "mismatched pair with {layout}: {other:?}");
                // Plain: the next change must come and resolve it.
                let resolved = wait_until(Duration::from_secs(5), || {
                    load(&certs)
                        .is_some_and(|p| p != pair && pair_matches(&p.0, &p.1) == Some(true))
                });
                assert!(resolved, "a mismatched pair stayed on disk");
            }
        }
        last = Some(pair);
    }
    note(&format!(
        "reader {layout:?}: {changes} changes seen, {mismatches} mismatched pairs caught mid-rename"
    ));
    assert!(
        changes >= 20,
        "only {changes} changes seen\n{}",
        helper.logs()
    );
}

#[test]
fn a_reader_never_keeps_a_mismatched_pair_plain() {
    reader("");
}

#[test]
fn a_reader_never_sees_a_mismatched_pair_symlinked() {
    reader("symlinked_layout = true");
}

/// With `symlinked_layout`, the X.509 trio, the JWT bundle and a JWT-SVID share one version:
/// X.509 rotations carry the JWT files over (hard links), every output is a symlink into
/// `..data`, and only the current version is left.
#[test]
fn symlinked_layout_keeps_every_output_across_rotations() {
    let agent = DevAgent::start(&["--rotate-every", "100ms"]);
    let certs = certs_dir();
    let certs = certs.path();
    let extra = "symlinked_layout = true\n\
                 jwt_bundle_file_name = \"jwt_bundle.json\"\n\
                 jwt_svids = [{ jwt_audience = \"svc-a\", jwt_svid_file_name = \"a.token\" }]";
    let helper = start(&agent, certs, extra, None);
    assert!(
        helper.wait_for_log("JWT SVID updated", PATIENCE),
        "{}",
        helper.logs()
    );
    assert!(
        helper.wait_for_log("JWT bundle updated", PATIENCE),
        "{}",
        helper.logs()
    );
    let token = fs::read(certs.join("a.token")).unwrap();
    wait_more(&helper, UPDATED, 5);
    let outputs = [NAMES[0], NAMES[1], NAMES[2], "jwt_bundle.json", "a.token"];
    for name in outputs {
        let link = fs::read_link(certs.join(name)).unwrap();
        assert_eq!(link, Path::new("..data").join(name));
        assert!(!fs::read(certs.join(name)).unwrap().is_empty(), "{name}");
    }
    assert_eq!(
        fs::read(certs.join("a.token")).unwrap(),
        token,
        "carried over"
    );
    let mode = |n: &str| fs::metadata(certs.join(n)).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        [mode("a.token"), mode(NAMES[1]), mode(NAMES[0])],
        [0o600, 0o600, 0o644]
    );
    drop(helper);
    assert_eq!(
        leftovers(certs),
        ["a.token", "jwt_bundle.json"],
        "one version only"
    );
    assert_good_set(certs);
}
