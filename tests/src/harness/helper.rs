//! Runs the real `spiffe-helper` binary with a `helper.conf` in a temporary directory and
//! captures what it logs.

use super::lines::Lines;
use super::{PATIENCE, helper_bin};
use rustix::process::{Signal, kill_process_group};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// A running `spiffe-helper` in its own process group; the group is killed (SIGKILL) on drop,
/// so no `cmd` child outlives the test.
pub struct Helper {
    child: Child,
    dir: TempDir,
    output: Lines,
}

impl Helper {
    /// Writes `config_text` as `helper.conf` in a fresh temporary directory and starts
    /// `spiffe-helper -config <dir>/helper.conf <extra_args>` with that directory as its
    /// working directory.
    pub fn start(config_text: &str, extra_args: &[&str]) -> Helper {
        let dir = tempfile::tempdir().expect("creating the helper's directory");
        Self::start_in(dir, config_text, extra_args)
    }

    /// Like [`Helper::start`], in a directory the test prepared (for example with a `certs/`
    /// subdirectory or a script the helper will run).
    pub fn start_in(dir: TempDir, config_text: &str, extra_args: &[&str]) -> Helper {
        Self::start_in_with_env(dir, config_text, extra_args, &[])
    }

    /// Like [`Helper::start_in`], with extra environment variables for the helper (and so for
    /// the `cmd` it runs, which inherits them).
    pub fn start_in_with_env(
        dir: TempDir,
        config_text: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Helper {
        Self::start_command(
            Command::new(helper_bin()),
            dir,
            config_text,
            extra_args,
            env,
        )
    }

    /// Like [`Helper::start_in_with_env`], running `program` (which starts the helper, for
    /// example `qemu-aarch64-static <aarch64 binary>`) instead of the helper binary itself.
    pub fn start_command(
        mut program: Command,
        dir: TempDir,
        config_text: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Helper {
        let config = dir.path().join("helper.conf");
        std::fs::write(&config, config_text).expect("writing helper.conf");
        program.arg("-config").arg(&config);
        Self::spawn(program, dir, extra_args, env)
    }

    /// Starts `spiffe-helper <extra_args>` in `dir` with no `-config` flag and `env` added,
    /// so that it reads `helper.conf` in `dir` if the test wrote one, and the `SPIFFE_HLP_*`
    /// variables.
    pub fn start_without_config_flag(
        dir: TempDir,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Helper {
        Self::spawn(Command::new(helper_bin()), dir, extra_args, env)
    }

    fn spawn(
        mut program: Command,
        dir: TempDir,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Helper {
        let mut child = program
            .args(extra_args)
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning spiffe-helper");
        let output = Lines::default();
        output.follow(child.stdout.take().expect("helper stdout is piped"));
        output.follow(child.stderr.take().expect("helper stderr is piped"));
        Helper { child, dir, output }
    }

    /// The helper's working directory (holds `helper.conf`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the helper printed so far (stdout and stderr lines, as they arrived).
    pub fn logs(&self) -> String {
        self.output.text()
    }

    /// Everything the helper printed, once its output pipes closed (after it exited).
    pub fn final_logs(&self) -> String {
        self.output.text_at_eof(PATIENCE)
    }

    /// How many lines so far contain `needle`.
    pub fn count_logs(&self, needle: &str) -> usize {
        self.output.count(needle)
    }

    /// Waits until some line contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        self.output.wait_count(needle, 1, timeout)
    }

    /// Waits until at least `n` lines contain `needle`.
    pub fn wait_for_logs(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        self.output.wait_count(needle, n, timeout)
    }

    /// Waits for the helper to exit by itself, then (up to 2 s) for its output pipes to
    /// close, so that [`Helper::logs`] holds its last lines: the reader threads may still be
    /// reading them when the process is reaped.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = super::wait_exit(&mut self.child, timeout)?;
        self.output.text_at_eof(Duration::from_secs(2));
        Some(status)
    }

    /// The helper's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the helper alone.
    pub fn signal(&self, signal: Signal) {
        let _ = rustix::process::kill_process(super::pid_of(&self.child), signal);
    }

    /// Sends SIGTERM to the helper alone (a graceful stop request).
    pub fn terminate(&self) {
        super::terminate(&self.child);
    }

    /// Kills the helper and everything it started (it runs in its own process group) with
    /// SIGKILL, and reaps the helper.
    pub fn kill(&mut self) {
        let _ = kill_process_group(super::pid_of(&self.child), Signal::KILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.kill();
    }
}
