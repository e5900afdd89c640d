//! Test harness: run the development agent and the real `spiffe-helper` binary as processes,
//! wait for what they print or write (polling, generous timeouts, no timing assertions), and
//! check their output with real consumers (OpenSSL, Python `ssl`).

pub mod dev_agent;
pub mod fault_peer;
pub mod helper;
pub mod lines;
pub mod platform;
pub mod verify;

use rustix::process::{Pid, Signal, kill_process};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A helper working directory with an empty `certs/` (the helper never creates `cert_dir`).
pub fn helper_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("creating the helper directory");
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).expect("creating certs/");
    (dir, certs)
}

/// A helper.conf writing `svid.pem`, `svid_key.pem` and `svid_bundle.pem` into `certs`,
/// plus `extra` lines.
pub fn x509_config(agent_address: &str, certs: &Path, extra: &str) -> String {
    format!(
        "agent_address = \"{agent_address}\"\n\
         cert_dir = \"{}\"\n\
         svid_file_name = \"svid.pem\"\n\
         svid_key_file_name = \"svid_key.pem\"\n\
         svid_bundle_file_name = \"svid_bundle.pem\"\n\
         {extra}\n",
        certs.display()
    )
}

/// A TCP port nobody listens on right now (the OS picks it; the listener is closed again).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port()
}

/// `GET http://127.0.0.1:<port><path>` with Python's `http.client` (the answer must be JSON
/// or Go's plain-text 404): the status and body, or `None` if unreachable.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let script = format!(
        "import http.client\n\
         c = http.client.HTTPConnection('127.0.0.1', {port}, timeout=5)\n\
         c.request('GET', '{path}')\n\
         r = c.getresponse()\n\
         assert r.getheader('Content-Type') in ('application/json', 'text/plain; charset=utf-8')\n\
         print(r.status)\n\
         print(r.read().decode(), end='')\n"
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let (status, body) = text.split_once('\n')?;
    Some((status.parse().ok()?, body.to_owned()))
}

/// Default patience for anything a test waits on: long enough for a loaded 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `condition` every 50 ms until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits up to `timeout` for `child` to exit by itself.
fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let mut status = None;
    wait_until(timeout, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    status
}

/// The child's PID for rustix.
fn pid_of(child: &Child) -> Pid {
    i32::try_from(child.id())
        .ok()
        .and_then(Pid::from_raw)
        .expect("a child PID is a positive i32")
}

/// Sends SIGTERM to `child` alone.
fn terminate(child: &Child) {
    let _ = kill_process(pid_of(child), Signal::TERM);
}

/// Writes `body` as a shell script in `dir` and returns helper.conf lines running it as `cmd`
/// with `renew_signal`.
pub fn child_script(dir: &Path, body: &str, renew_signal: &str) -> String {
    let script = dir.join("child.sh");
    std::fs::write(&script, body).expect("writing child.sh");
    format!(
        "cmd = \"/bin/sh\"\ncmd_args = \"{}\"\nrenew_signal = \"{renew_signal}\"",
        script.display()
    )
}

/// Waits until `path` exists and is not empty.
pub fn wait_for_file(path: &Path, timeout: Duration) -> bool {
    wait_until(timeout, || {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0)
    })
}

/// The directory holding the test executable's target binaries (`target/<profile>`), derived
/// from the running test binary (`target/<profile>/deps/<test>`).
fn target_profile_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    Some(deps.parent()?.to_owned())
}

/// The `spiffe-helper` binary under test: `$SPIFFE_HELPER_BIN`, else `spiffe-helper` next to
/// this package's binaries, else `<workspace>/target/debug/spiffe-helper`.
///
/// Panics, saying to run `cargo build -p spiffe-helper` first, when none exists.
pub fn helper_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("SPIFFE_HELPER_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "SPIFFE_HELPER_BIN={} does not exist",
            path.display()
        );
        return path;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidates: Vec<PathBuf> = target_profile_dir()
        .map(|dir| dir.join("spiffe-helper"))
        .into_iter()
        .chain([workspace.join("target/debug/spiffe-helper")])
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "spiffe-helper binary not found (looked at {candidates:?}); \
                 run `cargo build -p spiffe-helper` first or set SPIFFE_HELPER_BIN"
            )
        })
}

/// Runs `spiffe-helper <args>` to its end in `dir` with `env` added and stdin closed: the
/// exit code, stdout and stderr (for the modes that exit: `-validate`, `-healthcheck`).
pub fn run_helper(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    let out = Command::new(helper_bin())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running spiffe-helper");
    (
        out.status.code(),
        String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    )
}

/// The `svid-dev-agent` binary: `$CARGO_BIN_EXE_svid-dev-agent` (set by cargo for this
/// package's integration tests), else the one next to this package's binaries.
pub fn dev_agent_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("CARGO_BIN_EXE_svid-dev-agent") {
        return PathBuf::from(path);
    }
    let path = target_profile_dir()
        .map(|dir| dir.join("svid-dev-agent"))
        .filter(|p| p.is_file());
    path.unwrap_or_else(|| panic!("svid-dev-agent not found; run `cargo build -p svid-tests`"))
}
