//! What the packaging tests need beyond the debug build: the static release binaries of the
//! helper and outside tools (Docker, qemu, chroot). A tool that cannot run on this machine is
//! reported as the reason to skip; CI (`.ci/run`) installs and starts them all.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `target/<triple>/release/spiffe-helper`; panics with the command that builds it when absent
/// (`scripts/test.sh` builds both static binaries before the tests).
pub fn static_helper(triple: &str) -> PathBuf {
    let path = workspace().join(format!("target/{triple}/release/spiffe-helper"));
    assert!(
        path.is_file(),
        "{} not found: build it with `cargo build --release --target {triple} -p spiffe-helper` \
         (scripts/test.sh does)",
        path.display()
    );
    path
}

/// `None` when `program args` runs and exits 0, else why it cannot be used here.
pub fn unavailable(program: &str, args: &[&str]) -> Option<String> {
    match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run {program}: {e}")),
    }
}

/// Prints a line on stderr directly, not through `eprintln!`, which the test runner captures
/// and shows only for failed tests.
pub fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Prints the line that says a test was skipped and why.
pub fn skip(test: &str, reason: &str) {
    note(&format!("SKIPPED {test}: {reason}"));
}

/// Runs a command to completion; `Ok(stdout)` when it exits 0, else `Err` with its output.
pub fn run(command: &mut Command) -> Result<String, String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {command:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Sets the permission bits of `path` (tests hand directories and the agent socket to an
/// unprivileged user inside a container or chroot).
pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
