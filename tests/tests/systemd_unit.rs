//! The hardened systemd unit of `examples/systemd/`: `systemd-analyze verify` finds nothing to
//! say about it, `systemd-analyze security` rates its exposure at most 0.5 (and a unit without
//! the sandbox fails that bar), and the helper.conf beside it writes valid files with the key
//! readable by the unit's group. Skips, saying why, without `systemd-analyze`.

use std::path::Path;
use std::process::Command;
use svid_tests::harness::platform::{skip, unavailable, workspace};
use svid_tests::{DevAgent, Helper, PATIENCE, SvidFiles, file_mode, helper_bin, helper_dir};

const UNIT: &str = "spiffe-helper.service";

fn example(name: &str) -> std::path::PathBuf {
    workspace().join("examples/systemd").join(name)
}

/// A root holding the system's own units, the helper at its ExecStart path and `unit_text`
/// as /etc/systemd/system/<name>.
fn unit_root(name: &str, unit_text: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let units = root.path().join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::write(units.join(name), unit_text).unwrap();
    let bin = root.path().join("usr/local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(helper_bin(), bin.join("spiffe-helper")).unwrap();
    let system = root.path().join("usr/lib/systemd");
    std::fs::create_dir_all(&system).unwrap();
    let copied = Command::new("cp")
        .args(["-r", "/usr/lib/systemd/system"])
        .arg(&system)
        .status()
        .unwrap();
    assert!(copied.success(), "copying the system's units");
    root
}

/// `systemd-analyze <args> --root=<root> /etc/systemd/system/<name>`: (success, all output).
fn analyze(root: &Path, args: &[&str], name: &str) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .arg(format!("--root={}", root.display()))
        .arg(format!("/etc/systemd/system/{name}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned();
    (out.status.success(), text)
}

#[test]
fn the_unit_verifies_cleanly_and_is_rated_safe() {
    let test = "the_unit_verifies_cleanly_and_is_rated_safe";
    if let Some(reason) = unavailable("systemd-analyze", &["--version"]) {
        return skip(test, &reason);
    }
    let text = std::fs::read_to_string(example(UNIT)).unwrap();
    let root = unit_root(UNIT, &text);
    let (ok, said) = analyze(root.path(), &["verify", "--man=no"], UNIT);
    assert!(ok && said.trim().is_empty(), "{said}");
    let security = ["security", "--offline=yes", "--threshold=5"];
    let (ok, said) = analyze(root.path(), &security, UNIT);
    assert!(ok, "{said}");

    // The same checks fail on a misspelt key and on a unit without its sandbox.
    let typo = text.replacen("ProtectSystem=strict", "ProtectSystm=strict", 1);
    let root = unit_root("typo.service", &typo);
    let (_, said) = analyze(root.path(), &["verify", "--man=no"], "typo.service");
    assert!(said.contains("Unknown key 'ProtectSystm'"), "{said}");
    let bare: String = text
        .lines()
        .take_while(|l| !l.starts_with("# Sandbox"))
        .map(|l| format!("{l}\n"))
        .collect();
    let root = unit_root("bare.service", &bare);
    let (ok, said) = analyze(root.path(), &security, "bare.service");
    assert!(!ok, "an unsandboxed unit passed the bar:\n{said}");
}

#[test]
fn the_edge_helper_conf_writes_valid_files_with_a_group_readable_key() {
    let agent = DevAgent::start(&["--intermediate"]);
    let (dir, certs) = helper_dir();
    let conf = std::fs::read_to_string(example("helper.conf")).unwrap();
    for expected in [
        "\"/run/spire/sockets/agent.sock\"",
        "\"/run/spiffe-helper\"",
    ] {
        assert!(conf.contains(expected), "{expected} not in helper.conf");
    }
    let conf = conf
        .replace("/run/spire/sockets/agent.sock", &agent.address())
        .replace("/run/spiffe-helper", &certs.display().to_string());
    let mut helper = Helper::start_in(dir, &conf, &["-daemon-mode=false"]);
    let status = helper.wait_exit(PATIENCE).expect("one-shot mode exits");
    assert!(status.success(), "{}", helper.logs());
    let files = SvidFiles::in_dir(&certs);
    files.verify_chain().unwrap();
    files.key_matches_leaf().unwrap();
    assert_eq!(file_mode(&files.key).unwrap(), 0o640);
}
