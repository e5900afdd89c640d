//! End-to-end: `reload { exec { ... } }` hooks against the dev agent and the real binary. A
//! hook runs once its files are durable, with the update in its environment; one that hangs
//! is killed with its whole process group at its timeout; one that fails is logged with its
//! status and last stderr line and runs again at the next update; in one-shot mode the run
//! waits for its hooks and exits 5 when one failed. Build the binary first: `cargo build
//! --workspace --bins`.

use std::path::Path;
use std::process::Command;

use rustix::process::{Pid, test_kill_process};
use svid_tests::{DevAgent, Helper, PATIENCE, helper_dir, wait_for_file, wait_until, x509_config};

const ONE_SHOT: &[&str] = &["-daemon-mode=false"];

/// A `reload` block with one hook running `script` with `sh -c`.
fn hook(script: &str, on: &str, timeout: &str) -> String {
    format!(
        "reload {{\n  exec {{\n    cmd = \"/bin/sh\"\n    args = [\"-c\", {script:?}]\n    \
         on = [{on}]\n    timeout = \"{timeout}\"\n  }}\n}}"
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `serial=...` of `openssl x509 -serial` for the certificate in `pem`.
fn openssl_serial(pem: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(pem)
        .output()
        .expect("openssl runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// One-shot: the hooks see every file of their update already on disk, told by the
/// environment; the run ends after them, exit 0.
#[test]
fn a_hook_sees_its_update_durable_and_named_in_its_environment() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let marker = dir.path().join("marker");
    let script = format!(
        "sleep 0.3\n\
         echo \"$SPIFFE_HELPER_EVENT serial=$SPIFFE_HELPER_SERIAL $SPIFFE_HELPER_SPIFFE_ID\" >> {m}\n\
         cat \"$SPIFFE_HELPER_SVID_FILE\" \"$SPIFFE_HELPER_KEY_FILE\" \"$SPIFFE_HELPER_BUNDLE_FILE\" \
         | grep -c BEGIN >> {m}\n\
         echo \"$SPIFFE_HELPER_JWT_BUNDLE_FILE\" >> {m}",
        m = marker.display()
    );
    let extra = hook(&script, "\"x509\"", "10s");
    let mut helper = Helper::start_in(
        dir,
        &x509_config(&agent.address(), &certs, &extra),
        ONE_SHOT,
    );
    let status = helper.wait_exit(PATIENCE).expect("one-shot mode exits");
    assert_eq!(status.code(), Some(0), "{}", helper.logs());
    let serial = openssl_serial(&certs.join("svid.pem"));
    assert_eq!(
        read(&marker),
        format!("x509 {serial} spiffe://example.org/workload\n3\n\n"),
        "{}",
        helper.logs()
    );
    assert!(helper.wait_for_log("msg=\"Hook finished\"", PATIENCE));
}

/// Daemon mode: a hook on `jwt_bundle` runs for the JWT bundle file, not for X.509 updates.
#[test]
fn a_hook_runs_only_on_its_events() {
    let agent = DevAgent::start(&["--rotate-every", "500ms"]);
    let (dir, certs) = helper_dir();
    let marker = dir.path().join("marker");
    let script = format!(
        "echo \"$SPIFFE_HELPER_EVENT $SPIFFE_HELPER_JWT_BUNDLE_FILE\" >> {}",
        marker.display()
    );
    let extra = format!(
        "jwt_bundle_file_name = \"jwt_bundle.json\"\n{}",
        hook(&script, "\"jwt_bundle\"", "10s")
    );
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    assert!(wait_for_file(&marker, PATIENCE), "{}", helper.logs());
    assert!(
        helper.wait_for_logs("X.509 certificates updated", 3, PATIENCE),
        "{}",
        helper.logs()
    );
    let bundle = certs.join("jwt_bundle.json");
    assert!(
        read(&marker)
            .lines()
            .all(|l| l == format!("jwt_bundle {}", bundle.display())),
        "{}",
        read(&marker)
    );
}

fn alive(pid: i32) -> bool {
    test_kill_process(Pid::from_raw(pid).unwrap()).is_ok()
        && !read(Path::new(&format!("/proc/{pid}/stat"))).contains(") Z ")
}

/// Daemon mode: a hook that hangs is killed with everything it started at its timeout, the
/// helper keeps running and logs it.
#[test]
fn a_hook_past_its_timeout_is_killed_with_its_process_group() {
    let agent = DevAgent::start(&[]);
    let (dir, certs) = helper_dir();
    let pid_file = dir.path().join("sleeper.pid");
    let script = format!(
        "sleep 1000 &\necho $! > {p}.tmp && mv {p}.tmp {p}\necho stuck >&2\nwait",
        p = pid_file.display()
    );
    let extra = hook(&script, "\"x509\"", "1s");
    let mut helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    assert!(wait_for_file(&pid_file, PATIENCE), "{}", helper.logs());
    let sleeper: i32 = read(&pid_file).trim().parse().unwrap();
    assert!(
        helper.wait_for_log("Hook timed out; its process group was killed", PATIENCE),
        "{}",
        helper.logs()
    );
    assert!(
        wait_until(PATIENCE, || !alive(sleeper)),
        "the hook's child outlived its timeout\n{}",
        helper.logs()
    );
    let logs = helper.logs();
    assert!(
        logs.contains("status=\"signal: killed\" stderr=stuck timeout=1s"),
        "{logs}"
    );
    assert!(
        helper
            .wait_exit(std::time::Duration::from_millis(300))
            .is_none()
    );
}

/// Daemon mode: a failing hook is logged with its status and last stderr line, and every
/// later update runs it again; one-shot mode exits 5 with the files written.
#[test]
fn a_failing_hook_is_logged_and_never_blocks_later_updates() {
    let agent = DevAgent::start(&["--rotate-every", "400ms"]);
    let (dir, certs) = helper_dir();
    let script = "echo first >&2; echo \"no luck with $SPIFFE_HELPER_SERIAL\" >&2; exit 3";
    let extra = hook(script, "\"x509\"", "10s");
    let helper = Helper::start_in(dir, &x509_config(&agent.address(), &certs, &extra), &[]);
    assert!(
        helper.wait_for_logs("msg=\"Hook failed\"", 3, PATIENCE),
        "{}",
        helper.logs()
    );
    let logs = helper.logs();
    let failed = logs
        .lines()
        .find(|l| l.contains("msg=\"Hook failed\""))
        .unwrap();
    assert!(failed.contains("status=\"exit status 3\""), "{failed}");
    assert!(failed.contains("stderr=\"no luck with "), "{failed}");
    assert!(helper.count_logs("X.509 certificates updated") >= 3);

    let (dir, certs) = helper_dir();
    let config = x509_config(&agent.address(), &certs, &hook(script, "\"x509\"", "10s"));
    let mut helper = Helper::start_in(dir, &config, ONE_SHOT);
    let status = helper.wait_exit(PATIENCE).expect("one-shot mode exits");
    assert_eq!(status.code(), Some(5), "{}", helper.logs());
    assert!(certs.join("svid.pem").exists());
    assert!(
        helper.wait_for_log("a reload.exec hook failed or timed out", PATIENCE),
        "{}",
        helper.logs()
    );
}
