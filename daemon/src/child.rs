//! The workload process (`cmd` with `cmd_args`, or `start { cmd, args }`): started and signalled when the session asks
//! ([`Action::StartWorkload`](svid_core::workload::Action::StartWorkload),
//! [`Action::SignalWorkload`](svid_core::workload::Action::SignalWorkload)); its exit is
//! reaped and handed back to the session, which decides when it starts again
//! (`start.restart`).
//!
//! Beyond upstream: the helper is a child subreaper and reaps whatever the child orphans;
//! SIGHUP is forwarded to the child; SIGTERM and SIGINT are forwarded to its process group,
//! which is killed after a grace period before the helper exits.

use std::fmt;
use std::os::unix::process::CommandExt;
use std::process;

use log::{error, info, warn};
use rustix::io::Errno;
use rustix::process::{
    Pid, Signal, WaitOptions, WaitStatus, getpid, kill_process, kill_process_group,
    set_child_subreaper, wait,
};
use svid_core::config::{Args, CmdArgsError, Workload, signal_number};
use svid_core::workload::ProcessStatus;

use crate::oserror::{GoErrno, path_error};

/// Why the child could not be started or signalled; worded as upstream's errors
/// (`signalProcess` in `pkg/sidecar/sidecar.go@v0.11.0`, `SignalProcess` in
/// `pkg/sidecar/util_posix.go@v0.11.0`).
#[derive(Debug)]
pub(crate) enum ChildError {
    /// `cmd_args` is not valid CSV.
    Args(CmdArgsError),
    /// The command could not be executed: the command and Go's `exec.Cmd.Start` error.
    Spawn(String, StartError),
    /// `renew_signal` names no signal.
    UnknownSignal(String),
    /// The signal (its number) could not be sent.
    Signal(i32, SignalError),
}

impl fmt::Display for ChildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Args(e) => write!(f, "error parsing cmd arguments: {e}"),
            Self::Spawn(cmd, e) => write!(f, "error executing process \"{cmd}\": {e}"),
            Self::UnknownSignal(s) => write!(f, "error getting signal: {s}"),
            // Go formats the `syscall.Signal` with `%v`, so its description: `hangup`.
            Self::Signal(sig, e) => write!(
                f,
                "error signaling process with signal num {}: {e}",
                signal_description(*sig)
            ),
        }
    }
}

/// Why `cmd` did not start, as Go's `exec.Cmd.Start` says it (`os/exec/lp_unix.go`
/// `LookPath`, `os/exec_posix.go` `StartProcess`).
#[derive(Debug)]
pub(crate) enum StartError {
    /// A bare name found in no `$PATH` directory (`exec.ErrNotFound`).
    NotFound(String),
    /// A bare name found only through a relative `$PATH` entry (`exec.ErrDot`).
    Dot(String),
    /// fork/exec of the path failed.
    Exec(String, std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(name) => {
                write!(f, "exec: {name:?}: executable file not found in $PATH")
            }
            Self::Dot(name) => write!(
                f,
                "exec: {name:?}: cannot run executable found relative to current directory"
            ),
            Self::Exec(path, e) => write!(f, "{}", path_error("fork/exec", path, e)),
        }
    }
}

/// Why a signal was not delivered, as Go's `os.Process.Signal` says it
/// (`os/exec_unix.go`, `os/pidfd_linux.go`).
#[derive(Debug)]
pub(crate) enum SignalError {
    /// pid 0 (`os: process not initialized`).
    NotInitialized,
    /// pid -1 (`os: process already released`).
    Released,
    /// A pid below -1: upstream's kill(2) would signal that process group; refused.
    ProcessGroup(i64),
    /// ESRCH (`os.ErrProcessDone`).
    Finished,
    /// Any other errno of kill(2).
    Os(std::io::Error),
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInitialized => f.write_str("os: process not initialized"),
            Self::Released => f.write_str("os: process already released"),
            Self::ProcessGroup(pid) => {
                write!(f, "pid {pid} names a process group, which is not signalled")
            }
            Self::Finished => f.write_str("os: process already finished"),
            Self::Os(e) => write!(f, "{}", GoErrno(e)),
        }
    }
}

/// The configured command and the running child, if any.
pub(crate) struct Process {
    cmd: String,
    args: Args,
    renew_signal: String,
    /// The running child; it leads its own process group.
    child: Option<Pid>,
}

impl Process {
    /// The configured workload, if any, signalled with `renew_signal`.
    pub(crate) fn new(workload: Option<&Workload>, renew_signal: &str) -> Self {
        Process {
            cmd: workload.map(|w| w.cmd.clone()).unwrap_or_default(),
            args: workload.map_or(Args::List(Vec::new()), |w| w.args.clone()),
            renew_signal: renew_signal.to_owned(),
            child: None,
        }
    }

    /// Starts the child in its own process group, so that the whole group can be stopped
    /// at shutdown; the helper forwards the signals a terminal would send. Returns its
    /// process ID; a failure is logged with upstream's words (`pkg/sidecar/sidecar.go@v0.11.0`).
    pub(crate) fn start(&mut self) -> Option<u32> {
        self.spawn()
            .inspect_err(|e| error!(error = e.to_string(); "Unable to signal process"))
            .ok()
    }

    /// Sends `renew_signal` to the running child; a failure is logged with upstream's words
    /// (`pkg/sidecar/sidecar.go@v0.11.0`).
    pub(crate) fn signal(&self) {
        let Some(pid) = self.child else {
            return;
        };
        if let Err(e) = self.send_renew_signal(pid) {
            error!(error = e.to_string(); "Unable to signal process");
        }
    }

    fn spawn(&mut self) -> Result<u32, ChildError> {
        let args = self.args.split().map_err(ChildError::Args)?;
        let spawn_error = |e| ChildError::Spawn(self.cmd.clone(), e);
        let path_var = std::env::var("PATH").unwrap_or_default();
        let path = look_path(&self.cmd, &path_var).map_err(spawn_error)?;
        let child = process::Command::new(&path)
            .arg0(&self.cmd)
            .args(&args)
            .process_group(0)
            // The service manager's socket is the helper's to use, not the workload's
            // (`sd_notify(3)`'s unset_environment).
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .spawn()
            .map_err(|e| spawn_error(StartError::Exec(path.clone(), e)))?;
        info!(pid = child.id(); "Started process");
        self.child = i32::try_from(child.id()).ok().and_then(Pid::from_raw);
        Ok(child.id())
    }

    fn send_renew_signal(&self, pid: Pid) -> Result<(), ChildError> {
        if self.renew_signal.is_empty() {
            return Ok(());
        }
        signal_process(pid.as_raw_nonzero().get().into(), &self.renew_signal)
    }

    /// Collects every exited process: the child, whose process ID and status are returned,
    /// any other child of the helper (a hook), handed to `others`, and any orphan that was
    /// reparented to the helper, which is PID 1 in a container and a child subreaper
    /// elsewhere. Call on SIGCHLD.
    pub(crate) fn reap(
        &mut self,
        others: &mut dyn FnMut(u32, ProcessStatus),
    ) -> Option<(u32, ProcessStatus)> {
        let mut exited = None;
        loop {
            match wait(WaitOptions::NOHANG) {
                Ok(Some((pid, status))) => {
                    let Some(status) = process_status(status) else {
                        continue;
                    };
                    let raw = pid.as_raw_nonzero().get().unsigned_abs();
                    if Some(pid) == self.child {
                        self.child = None;
                        exited = Some((raw, status));
                    } else {
                        others(raw, status);
                    }
                }
                Ok(None) => return exited,
                Err(Errno::INTR) => {}
                Err(Errno::CHILD) => {
                    self.child = None;
                    return exited;
                }
                Err(e) => {
                    error!("error waiting for process exit: {e}");
                    return exited;
                }
            }
        }
    }

    /// Forwards a signal to the child's group: SIGHUP, and in wrapper mode every signal the
    /// helper catches.
    pub(crate) fn forward(&self, signal: Signal) {
        if let Some(pid) = self.child
            && let Err(e) = kill_process_group(pid, signal)
        {
            warn!(error = e.to_string(); "Unable to forward signal to process");
        }
    }

    /// Kills the child's process group (SIGKILL): the shutdown's grace has passed, so no
    /// `cmd` descendant outlives the helper.
    pub(crate) fn kill(&self) {
        let Some(pid) = self.child else {
            return;
        };
        warn!(pid = pid.as_raw_nonzero().get(); "Process did not exit in time; killing it");
        if let Err(e) = kill_process_group(pid, Signal::KILL) {
            warn!(error = e.to_string(); "Unable to kill process");
        }
    }
}

/// Makes the helper the reaper of orphaned descendants (a no-op as PID 1, which is one
/// already), so that what the child leaves behind does not pile up as zombies.
pub(crate) fn become_subreaper() {
    if let Err(e) = set_child_subreaper(Some(getpid())) {
        warn!(error = e.to_string(); "Unable to become a child subreaper");
    }
}

/// Sends the signal named `renew_signal` (upstream's names, e.g. `SIGHUP`,
/// `pkg/sidecar/util_posix.go@v0.11.0`) to `pid`, as
/// Go's `os.FindProcess(pid).Signal` does, except that a pid below -1 (a process group for
/// kill(2)) is refused.
pub(crate) fn signal_process(pid: i64, renew_signal: &str) -> Result<(), ChildError> {
    let (number, signal) = signal_number(renew_signal)
        .and_then(|n| Some((n, Signal::from_named_raw(n)?)))
        .ok_or_else(|| ChildError::UnknownSignal(renew_signal.to_owned()))?;
    send(pid, signal).map_err(|e| ChildError::Signal(number, e))?;
    info!(pid = pid, signal = renew_signal; "Signalled process");
    Ok(())
}

fn send(pid: i64, signal: Signal) -> Result<(), SignalError> {
    match pid {
        0 => return Err(SignalError::NotInitialized),
        -1 => return Err(SignalError::Released),
        ..-1 => return Err(SignalError::ProcessGroup(pid)),
        _ => {}
    }
    // A pid beyond pid_t names no process.
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or(SignalError::Finished)?;
    kill_process(pid, signal).map_err(|e| match e {
        Errno::SRCH => SignalError::Finished,
        e => SignalError::Os(e.into()),
    })
}

/// Go's `exec.LookPath` (`os/exec/lp_unix.go`): a name with a `/` is used as it is; a bare
/// name is searched in each `$PATH` directory (an empty entry is `.`; an unset or empty
/// `$PATH` has none) for an executable regular file, and one found through a relative entry
/// is refused (`exec.ErrDot`).
fn look_path(name: &str, path_var: &str) -> Result<String, StartError> {
    if name.contains('/') {
        return Ok(name.to_owned());
    }
    // Go's `filepath.SplitList("")` is empty: no `$PATH`, no search.
    for dir in path_var.split(':').filter(|_| !path_var.is_empty()) {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = format!("{}/{name}", dir.trim_end_matches('/'));
        if is_executable(&candidate) {
            if !candidate.starts_with('/') {
                return Err(StartError::Dot(name.to_owned()));
            }
            return Ok(candidate);
        }
    }
    Err(StartError::NotFound(name.to_owned()))
}

/// Go's `findExecutable`: not a directory, and executable for the effective user.
fn is_executable(path: &str) -> bool {
    use rustix::fs::{Access, AtFlags, CWD, accessat};
    std::fs::metadata(path).is_ok_and(|m| !m.is_dir())
        && accessat(CWD, path, Access::EXEC_OK, AtFlags::EACCESS).is_ok()
}

/// A signal as Go's `syscall.Signal.String` describes it on Linux (its `signals` table).
fn signal_description(sig: i32) -> String {
    let text = match sig {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        4 => "illegal instruction",
        5 => "trace/breakpoint trap",
        6 => "aborted",
        7 => "bus error",
        8 => "floating point exception",
        9 => "killed",
        10 => "user defined signal 1",
        11 => "segmentation fault",
        12 => "user defined signal 2",
        13 => "broken pipe",
        14 => "alarm clock",
        15 => "terminated",
        _ => return format!("signal {sig}"),
    };
    text.to_owned()
}

/// An exit or a termination; `None` for the other states `waitpid(2)` reports.
fn process_status(status: WaitStatus) -> Option<ProcessStatus> {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => Some(ProcessStatus::Code(code)),
        (None, Some(sig)) => Some(ProcessStatus::Signal(sig)),
        _ => None,
    }
}

/// How a process ended, as Go's `os.ProcessState.String` says it (`exit status 3`,
/// `signal: killed`).
pub(crate) fn status_text(status: ProcessStatus) -> String {
    match status {
        ProcessStatus::Code(code) => format!("exit status {code}"),
        ProcessStatus::Signal(sig) => format!("signal: {}", signal_description(sig)),
    }
}

/// A clean exit is news; any other is a warning.
pub(crate) fn log_exit(pid: u32, status: ProcessStatus) {
    let text = status_text(status);
    if status == ProcessStatus::Code(0) {
        info!(pid = pid, status = text; "Process exited");
    } else {
        warn!(pid = pid, status = text; "Process exited");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn look_path_searches_path_as_go_does() {
        let dir = std::env::temp_dir().join(format!("child-lookpath-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for (name, mode) in [("prog", 0o755), ("plain", 0o644)] {
            let file = dir.join(name);
            std::fs::write(&file, b"#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let d = dir.to_str().unwrap();
        let found = look_path("prog", &format!("/nonexistent:{d}/sub:{d}/"));
        assert_eq!(found.unwrap(), format!("{d}/prog"));
        for (name, path) in [("plain", d), ("sub", d), ("prog", "")] {
            let e = look_path(name, path).unwrap_err().to_string();
            let want = format!("exec: \"{name}\": executable file not found in $PATH");
            assert_eq!(e, want, "{name} in {path:?}");
        }
        assert_eq!(look_path("./prog", "").unwrap(), "./prog");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
