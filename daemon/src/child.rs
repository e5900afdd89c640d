//! The workload process (`cmd` with `cmd_args`), managed like upstream: started after the
//! first successful write, sent `renew_signal` on every later update while it runs, started
//! again at the next update once it has exited.
//!
//! Beyond upstream: its exit is reaped and logged with its status, and SIGTERM/SIGINT sent
//! to the helper are forwarded to it before the helper exits.

use std::fmt;
use std::process::{self, ExitStatus};
use std::time::{Duration, Instant};

use log::{error, info, warn};
use rustix::process::{Pid, Signal, kill_process};
use svid_core::config::{CmdArgsError, signal_number, split_cmd_args};

/// Why the child could not be started or signalled; worded as upstream's errors.
#[derive(Debug)]
pub enum ChildError {
    /// `cmd_args` is not valid CSV.
    Args(CmdArgsError),
    /// The command could not be executed.
    Spawn(String, std::io::Error),
    /// `renew_signal` names no signal.
    UnknownSignal(String),
    /// kill(2) failed.
    Signal(String, std::io::Error),
}

impl fmt::Display for ChildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Args(e) => write!(f, "error parsing cmd arguments: {e}"),
            Self::Spawn(cmd, e) => write!(f, "error executing process \"{cmd}\": {e}"),
            Self::UnknownSignal(s) => write!(f, "error getting signal: {s}"),
            Self::Signal(s, e) => write!(f, "error signaling process with signal num {s}: {e}"),
        }
    }
}

/// The configured command and the running child, if any.
pub struct Process {
    cmd: String,
    cmd_args: String,
    renew_signal: String,
    child: Option<process::Child>,
}

impl Process {
    /// A workload for `cmd` (empty: none).
    pub fn new(cmd: &str, cmd_args: &str, renew_signal: &str) -> Self {
        Process {
            cmd: cmd.to_owned(),
            cmd_args: cmd_args.to_owned(),
            renew_signal: renew_signal.to_owned(),
            child: None,
        }
    }

    /// Called after each successful write of the X.509 files: start or signal the child.
    pub fn on_update(&mut self) {
        if self.cmd.is_empty() {
            return;
        }
        self.reap();
        let result = match &self.child {
            None => self.start(),
            Some(child) => self.signal(child.id()),
        };
        if let Err(e) = result {
            error!(error = e.to_string(); "Unable to signal process");
        }
    }

    fn start(&mut self) -> Result<(), ChildError> {
        let args = split_cmd_args(&self.cmd_args).map_err(ChildError::Args)?;
        let child = process::Command::new(&self.cmd)
            .args(&args)
            .spawn()
            .map_err(|e| ChildError::Spawn(self.cmd.clone(), e))?;
        info!(pid = child.id(); "Started process");
        self.child = Some(child);
        Ok(())
    }

    fn signal(&self, pid: u32) -> Result<(), ChildError> {
        if self.renew_signal.is_empty() {
            return Ok(());
        }
        signal_process(pid, &self.renew_signal)
    }

    /// Collects an exited child and logs how it ended. Call on SIGCHLD.
    pub fn reap(&mut self) {
        let Some(child) = &mut self.child else { return };
        match child.try_wait() {
            Ok(None) => {}
            Ok(Some(status)) => {
                log_exit(child.id(), status);
                self.child = None;
            }
            Err(e) => {
                error!("error waiting for process exit: {e}");
                self.child = None;
            }
        }
    }

    /// Forwards `signal` to the child and waits up to `grace` for it to exit, then kills it.
    pub fn shutdown(&mut self, signal: Signal, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        if let Err(e) = send(pid, signal) {
            warn!(error = e.to_string(); "Unable to forward signal to process");
        }
        let deadline = Instant::now() + grace;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return log_exit(pid, status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    warn!(pid = pid; "Process did not exit in time; killing it");
                    let _ = child.kill();
                    if let Ok(status) = child.wait() {
                        log_exit(pid, status);
                    }
                    return;
                }
                Err(e) => return error!("error waiting for process exit: {e}"),
            }
        }
    }
}

/// Sends the signal named `renew_signal` (upstream's names, e.g. `SIGHUP`) to `pid`.
pub fn signal_process(pid: u32, renew_signal: &str) -> Result<(), ChildError> {
    let signal = signal_number(renew_signal)
        .and_then(Signal::from_named_raw)
        .ok_or_else(|| ChildError::UnknownSignal(renew_signal.to_owned()))?;
    send(pid, signal).map_err(|e| ChildError::Signal(renew_signal.to_owned(), e))?;
    info!(pid = pid, signal = renew_signal; "Signalled process");
    Ok(())
}

fn send(pid: u32, signal: Signal) -> std::io::Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    kill_process(pid, signal).map_err(std::io::Error::from)
}

/// A clean exit is news; any other is a warning.
fn log_exit(pid: u32, status: ExitStatus) {
    if status.success() {
        info!(pid = pid, status = status.to_string(); "Process exited");
    } else {
        warn!(pid = pid, status = status.to_string(); "Process exited");
    }
}
