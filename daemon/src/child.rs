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
use std::time::{Duration, Instant};

use log::{error, info, warn};
use rustix::io::Errno;
use rustix::process::{
    Pid, Signal, WaitOptions, WaitStatus, getpid, kill_process, kill_process_group,
    set_child_subreaper, wait,
};
use svid_core::config::{Args, CmdArgsError, Workload, signal_number};
use svid_core::workload::ProcessStatus;

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
    args: Args,
    renew_signal: String,
    /// The running child; it leads its own process group.
    child: Option<Pid>,
}

impl Process {
    /// The configured workload, if any, signalled with `renew_signal`.
    pub fn new(workload: Option<&Workload>, renew_signal: &str) -> Self {
        Process {
            cmd: workload.map(|w| w.cmd.clone()).unwrap_or_default(),
            args: workload.map_or(Args::List(Vec::new()), |w| w.args.clone()),
            renew_signal: renew_signal.to_owned(),
            child: None,
        }
    }

    /// Starts the child in its own process group, so that the whole group can be stopped
    /// at shutdown; the helper forwards the signals a terminal would send. Returns its
    /// process ID; a failure is logged with upstream's words.
    pub fn start(&mut self) -> Option<u32> {
        self.spawn()
            .inspect_err(|e| error!(error = e.to_string(); "Unable to signal process"))
            .ok()
    }

    /// Sends `renew_signal` to the running child; a failure is logged with upstream's words.
    pub fn signal(&self) {
        let Some(pid) = self.child else {
            return;
        };
        if let Err(e) = self.send_renew_signal(pid) {
            error!(error = e.to_string(); "Unable to signal process");
        }
    }

    fn spawn(&mut self) -> Result<u32, ChildError> {
        let args = self.args.split().map_err(ChildError::Args)?;
        let child = process::Command::new(&self.cmd)
            .args(&args)
            .process_group(0)
            // The service manager's socket is the helper's to use, not the workload's
            // (`sd_notify(3)`'s unset_environment).
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .spawn()
            .map_err(|e| ChildError::Spawn(self.cmd.clone(), e))?;
        info!(pid = child.id(); "Started process");
        self.child = i32::try_from(child.id()).ok().and_then(Pid::from_raw);
        Ok(child.id())
    }

    fn send_renew_signal(&self, pid: Pid) -> Result<(), ChildError> {
        if self.renew_signal.is_empty() {
            return Ok(());
        }
        signal_process(
            pid.as_raw_nonzero().get().unsigned_abs(),
            &self.renew_signal,
        )
    }

    /// Collects every exited process: the child, whose process ID and status are returned,
    /// any other child of the helper (a hook), handed to `others`, and any orphan that was
    /// reparented to the helper, which is PID 1 in a container and a child subreaper
    /// elsewhere. Call on SIGCHLD.
    pub fn reap(
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
    pub fn forward(&self, signal: Signal) {
        if let Some(pid) = self.child
            && let Err(e) = kill_process_group(pid, signal)
        {
            warn!(error = e.to_string(); "Unable to forward signal to process");
        }
    }

    /// Forwards `signal` to the child's process group and waits up to `grace` for the child
    /// to exit, then kills the whole group, so no `cmd` descendant outlives the helper.
    pub fn shutdown(&mut self, signal: Signal, grace: Duration) {
        let Some(pid) = self.child else {
            return;
        };
        self.forward(signal);
        let deadline = Instant::now() + grace;
        while self.child.is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            self.reap_and_log();
        }
        if self.child.is_some() {
            warn!(pid = pid.as_raw_nonzero().get(); "Process did not exit in time; killing it");
        }
        // Whatever is left of the group (the child, or what it started) goes now.
        let _ = kill_process_group(pid, Signal::KILL);
        while self.child.is_some() {
            std::thread::sleep(Duration::from_millis(5));
            self.reap_and_log();
        }
    }

    /// [`reap`](Self::reap) at shutdown, when no session takes the report any more.
    fn reap_and_log(&mut self) {
        if let Some((pid, status)) = self.reap(&mut |_, _| {}) {
            log_exit(pid, status);
        }
    }
}

/// Makes the helper the reaper of orphaned descendants (a no-op as PID 1, which is one
/// already), so that what the child leaves behind does not pile up as zombies.
pub fn become_subreaper() {
    if let Err(e) = set_child_subreaper(Some(getpid())) {
        warn!(error = e.to_string(); "Unable to become a child subreaper");
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
pub fn status_text(status: ProcessStatus) -> String {
    match status {
        ProcessStatus::Code(code) => format!("exit status {code}"),
        ProcessStatus::Signal(sig) => format!("signal: {}", signal_description(sig)),
    }
}

/// A clean exit is news; any other is a warning.
pub fn log_exit(pid: u32, status: ProcessStatus) {
    let text = status_text(status);
    if status == ProcessStatus::Code(0) {
        info!(pid = pid, status = text; "Process exited");
    } else {
        warn!(pid = pid, status = text; "Process exited");
    }
}
