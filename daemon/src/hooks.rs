//! The `reload.exec` hooks as processes: each run is spawned when the session asks
//! ([`Action::RunHook`](svid_core::workload::Action::RunHook)) in a new process group, with
//! the update in its environment; its stderr is a non-blocking pipe the event loop polls,
//! keeping the last line; its exit comes back through the SIGCHLD self-pipe; at its timeout
//! the session asks for its group to be killed. What runs when is the session's decision.
//!
//! The environment of a run (besides the helper's own, without the service manager's):
//!
//! | Variable | Value |
//! |---|---|
//! | `SPIFFE_HELPER_EVENT` | `x509`, `jwt_svid` or `jwt_bundle` |
//! | `SPIFFE_HELPER_SPIFFE_ID` | the SVID's SPIFFE ID (`x509`, `jwt_svid`) |
//! | `SPIFFE_HELPER_SVID_FILE`, `SPIFFE_HELPER_KEY_FILE`, `SPIFFE_HELPER_BUNDLE_FILE` | the X.509 files (`x509`) |
//! | `SPIFFE_HELPER_SERIAL` | the X.509-SVID's serial number, hex as `openssl x509 -serial` prints it (`x509`) |
//! | `SPIFFE_HELPER_JWT_SVID_FILE` | the token file written (`jwt_svid`) |
//! | `SPIFFE_HELPER_JWT_BUNDLE_FILE` | the JWT bundle file (`jwt_bundle`) |

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{ChildStderr, Command, Stdio};

use log::{error, info, warn};
use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, Signal, kill_process_group};
use svid_core::config::{Hook, HookEvent};
use svid_core::workload::{ProcessStatus, Subscription};

use crate::child::status_text;

/// The longest stderr line kept for the log, in bytes.
const LINE_MAX: usize = 512;

/// One running hook.
struct Run {
    pid: Pid,
    /// Its stderr, until it reaches end of file.
    stderr: Option<ChildStderr>,
    /// The line being read.
    partial: Vec<u8>,
    /// The last complete non-empty line.
    last: Vec<u8>,
}

impl Run {
    /// Reads what the pipe holds now; closes it at end of file.
    fn drain(&mut self) {
        let Some(pipe) = &mut self.stderr else {
            return;
        };
        let mut buf = [0u8; 4096];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => {
                    self.stderr = None;
                    return;
                }
                Ok(n) => {
                    for &b in &buf[..n] {
                        if b == b'\n' {
                            if !self.partial.is_empty() {
                                self.last = std::mem::take(&mut self.partial);
                            }
                        } else if self.partial.len() < LINE_MAX {
                            self.partial.push(b);
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// The last line written, complete or not.
    fn last_line(&self) -> String {
        let line = if self.partial.is_empty() {
            &self.last
        } else {
            &self.partial
        };
        String::from_utf8_lossy(line).into_owned()
    }
}

/// What the hooks are told about an output, recorded when it is written.
#[derive(Default)]
pub(crate) struct Files {
    /// The X.509 SVID, key and bundle files.
    pub x509: Option<[String; 3]>,
    /// The serial number of the X.509-SVID last written (hex).
    pub serial: String,
    /// The file of each `jwt_svids` entry.
    pub jwt_svids: Vec<String>,
    /// The JWT bundle file.
    pub jwt_bundle: Option<String>,
}

/// Every configured hook and its run, if one is under way.
pub(crate) struct Hooks {
    specs: Vec<Hook>,
    runs: Vec<Option<Run>>,
    /// The last stderr line of each hook's last run, for its report.
    last_lines: Vec<String>,
}

impl Hooks {
    /// The configured hooks, none running.
    pub(crate) fn new(specs: Vec<Hook>) -> Hooks {
        let n = specs.len();
        Hooks {
            specs,
            runs: (0..n).map(|_| None).collect(),
            last_lines: vec![String::new(); n],
        }
    }

    /// Starts hook `id` for `event` in its own process group; `false` (logged) when it could
    /// not be started.
    pub(crate) fn run(
        &mut self,
        id: usize,
        event: HookEvent,
        sub: Subscription,
        spiffe_id: &str,
        files: &Files,
    ) -> bool {
        let Some(spec) = self.specs.get(id) else {
            return false;
        };
        let mut command = Command::new(&spec.cmd);
        command
            .args(&spec.args)
            .process_group(0)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env("SPIFFE_HELPER_EVENT", event.name());
        if !spiffe_id.is_empty() {
            command.env("SPIFFE_HELPER_SPIFFE_ID", spiffe_id);
        }
        match sub {
            Subscription::X509 => {
                if let Some([svid, key, bundle]) = &files.x509 {
                    command
                        .env("SPIFFE_HELPER_SVID_FILE", svid)
                        .env("SPIFFE_HELPER_KEY_FILE", key)
                        .env("SPIFFE_HELPER_BUNDLE_FILE", bundle)
                        .env("SPIFFE_HELPER_SERIAL", &files.serial);
                }
            }
            Subscription::JwtSvid(n) => {
                if let Some(path) = files.jwt_svids.get(n) {
                    command.env("SPIFFE_HELPER_JWT_SVID_FILE", path);
                }
            }
            Subscription::JwtBundles => {
                if let Some(path) = &files.jwt_bundle {
                    command.env("SPIFFE_HELPER_JWT_BUNDLE_FILE", path);
                }
            }
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                error!(hook = id, cmd = spec.cmd.as_str(), error = e.to_string(); "Unable to run hook");
                return false;
            }
        };
        let stderr = child
            .stderr
            .take()
            .filter(|pipe| rustix::io::ioctl_fionbio(pipe, true).is_ok());
        let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) else {
            return false;
        };
        info!(hook = id, pid = child.id(), event = event.name(); "Running hook");
        self.runs[id] = Some(Run {
            pid,
            stderr,
            partial: Vec::new(),
            last: Vec::new(),
        });
        true
    }

    /// Kills the process group of hook `id`'s run.
    pub(crate) fn kill(&self, id: usize) {
        if let Some(Some(run)) = self.runs.get(id) {
            let _ = kill_process_group(run.pid, Signal::KILL);
        }
    }

    /// Kills every run (the helper is exiting).
    pub(crate) fn kill_all(&self) {
        for id in 0..self.runs.len() {
            self.kill(id);
        }
    }

    /// Adds the stderr pipe of every run to `fds`, in hook order.
    pub(crate) fn poll_fds<'a>(&'a self, fds: &mut Vec<PollFd<'a>>) {
        for run in self.runs.iter().flatten() {
            if let Some(pipe) = &run.stderr {
                fds.push(PollFd::new(pipe, PollFlags::IN));
            }
        }
    }

    /// The hooks whose pipe `fds` (as [`Hooks::poll_fds`] added them) says is readable.
    pub(crate) fn ready(&self, fds: &[PollFd<'_>]) -> Vec<usize> {
        let open = self
            .runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.as_ref().is_some_and(|r| r.stderr.is_some()));
        open.zip(fds)
            .filter(|(_, fd)| !fd.revents().is_empty())
            .map(|((id, _), _)| id)
            .collect()
    }

    /// Reads the stderr of hook `id`.
    pub(crate) fn read(&mut self, id: usize) {
        if let Some(Some(run)) = self.runs.get_mut(id) {
            run.drain();
        }
    }

    /// The process `pid` ended: if it ran a hook, that hook's index (its last stderr line
    /// is kept for [`Hooks::log_finished`]).
    pub(crate) fn ended(&mut self, pid: u32) -> Option<usize> {
        let id = self.runs.iter().position(|r| {
            r.as_ref()
                .is_some_and(|r| r.pid.as_raw_nonzero().get().unsigned_abs() == pid)
        })?;
        let mut run = self.runs[id].take()?;
        run.drain();
        self.last_lines[id] = run.last_line();
        Some(id)
    }

    /// Logs the end of a run of hook `id`.
    pub(crate) fn log_finished(
        &self,
        id: usize,
        event: HookEvent,
        status: Option<ProcessStatus>,
        timed_out: bool,
    ) {
        let cmd = self.specs.get(id).map_or("", |s| s.cmd.as_str());
        let stderr = self.last_lines.get(id).map_or("", String::as_str);
        let ok = status == Some(ProcessStatus::Code(0));
        let status = status.map_or_else(|| "not started".to_owned(), status_text);
        let event = event.name();
        if timed_out {
            let timeout = self.specs.get(id).map(|s| format!("{:?}", s.timeout));
            warn!(hook = id, cmd = cmd, event = event, status = status, stderr = stderr, timeout = timeout.unwrap_or_default(); "Hook timed out; its process group was killed");
        } else if ok {
            info!(hook = id, cmd = cmd, event = event, status = status; "Hook finished");
        } else {
            warn!(hook = id, cmd = cmd, event = event, status = status, stderr = stderr; "Hook failed");
        }
    }
}
