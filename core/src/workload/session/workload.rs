//! The session's decisions about the workload and the health endpoints: when `cmd` is
//! started or signalled (upstream's `signalProcess`, `pkg/sidecar/sidecar.go@v0.11.0`: start
//! it after an X.509 write if it is not running, else send `renew_signal`), and the write
//! status of every output with the readiness conditions the endpoints report.
//!
//! With `start { restart = "on-failure" | "always" }` (ours, upstream issue #269) an exited
//! `cmd` is started again after a backoff of 1 s doubling to 60 s, back to 1 s once a run
//! lasted 60 s, as systemd's `Restart=` with `RestartSteps=` and Kubernetes' CrashLoopBackOff
//! (10 s doubling to 5 min, reset after 10 min) do.

use alloc::string::String;
use core::time::Duration;

use super::{Action, Exit, ProcessStatus, Report, Session, Subscription, Timer};
use crate::config::Restart;
use crate::health::{HealthState, WriteStatus};
use crate::time::{Instant, UnixTime};

/// The first restart delay.
pub(super) const RESTART_MIN: Duration = Duration::from_secs(1);
/// The longest restart delay.
pub(super) const RESTART_MAX: Duration = Duration::from_secs(60);
/// A run at least this long resets the restart delay to [`RESTART_MIN`].
pub(super) const RESTART_RESET: Duration = Duration::from_secs(60);

/// The `cmd` process as the session knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Workload {
    /// Never started, exited, or failed to start: the next X.509 write starts it.
    Stopped,
    /// [`Action::StartWorkload`] is out, its outcome not reported yet.
    Starting,
    /// Running with this process ID since this instant.
    Running(u32, Instant),
    /// Exited under a restart policy: started again at [`Timer::Restart`].
    Restarting,
    /// Exited cleanly under [`Restart::OnFailure`] (or after the run ended): never started
    /// again.
    Finished,
}

impl Session {
    /// The health state at start-up: every configured output `unwritten`.
    pub(super) fn initial_health(config: &super::SessionConfig) -> HealthState {
        let paths = config
            .jwt_bundle
            .iter()
            .chain(config.jwt_svids.iter().map(|j| &j.path))
            .map(String::as_str);
        let mut health = HealthState::new(config.x509.is_some(), paths);
        for entry in config.x509.iter().flat_map(|o| &o.entries) {
            health
                .x509_svids
                .insert(entry.hint.clone(), WriteStatus::Unwritten);
        }
        health
    }

    /// Records a write attempt of `sub`'s output (a refused message counts as a failed
    /// write, as upstream counts a failed dump in `pkg/sidecar/sidecar.go@v0.11.0`): not live,
    /// not ready, until a good one is
    /// written. For X.509, each `x509_svids` entry counts as written only if the set held
    /// it (its hint was in the message).
    pub(super) fn record_health(&mut self, sub: Subscription, ok: bool) {
        let path = match sub {
            Subscription::X509 => {
                self.health.record_x509(ok);
                let held = core::mem::take(&mut self.x509_entries_pending);
                let entries = self.config.x509.iter().flat_map(|o| &o.entries);
                for (i, entry) in entries.enumerate() {
                    let written = ok && held.get(i).copied().unwrap_or(false);
                    self.health.record_x509_svid(&entry.hint, written);
                }
                return;
            }
            Subscription::JwtBundles => self.config.jwt_bundle.as_deref(),
            Subscription::JwtSvid(n) => self.config.jwt_svids.get(n).map(|j| j.path.as_str()),
        };
        if let Some(path) = path {
            self.health.record_jwt(path, ok);
        }
    }

    /// What the health endpoints report now: the write statuses, whether the agent has been
    /// unreachable past [`READY_GRACE`](super::READY_GRACE) and whether a file on disk has
    /// expired.
    pub fn health(&self, now: Instant, unix_now: UnixTime) -> HealthState {
        let mut state = self.health.clone();
        state.agent_connected_recently = !self.agent_lost(now);
        state.files_expired = self.files_expired(unix_now);
        state
    }

    /// A complete X.509 write in daemon mode: start `cmd`, or signal the one running.
    pub(super) fn notify_workload(&mut self) {
        if !self.config.workload || self.config.one_shot || self.stopping.is_some() {
            return;
        }
        match self.workload {
            Workload::Stopped if self.config.wrap => self.start_wrapped(),
            Workload::Stopped => self.start_workload(),
            Workload::Running(..) => {
                self.metrics.workload_signals = self.metrics.workload_signals.saturating_add(1);
                self.push(Action::SignalWorkload);
            }
            // Its start is still being reported, or its restart is due: either reads the
            // files just written.
            Workload::Starting | Workload::Restarting | Workload::Finished => {}
        }
    }

    /// Wrapper mode: the program starts once, when every output is on disk.
    pub(super) fn start_wrapped(&mut self) {
        if self.config.wrap && self.workload == Workload::Stopped && self.health.all_written() {
            self.start_workload();
        }
    }

    /// Wrapper mode: SIGTERM or SIGINT goes to the running program, whose end ends the run;
    /// `false` when there is none yet (the run ends now).
    pub(super) fn forward_stop(&mut self, signal: i32) -> bool {
        if !self.config.wrap || !matches!(self.workload, Workload::Running(..)) {
            return false;
        }
        self.push(Action::ForwardSignal(signal));
        true
    }

    /// The outcome of an [`Action::StartWorkload`]: the process ID, or `None` when it could
    /// not be started (the driver logs why); the next X.509 write tries again then, or,
    /// under a restart policy, the backoff; a wrapper ends.
    pub fn workload_started(&mut self, now: Instant, pid: Option<u32>) {
        if self.workload != Workload::Starting {
            return;
        }
        self.workload = match pid {
            Some(pid) => Workload::Running(pid, now),
            None if self.config.wrap => {
                self.exit(Exit::Wrapped(None));
                Workload::Finished
            }
            None if self.config.restart == Restart::Never => Workload::Stopped,
            None if self.stopping.is_some() => Workload::Finished,
            None => self.restart_later(now, None, None),
        };
        self.stop_started();
    }

    /// The `cmd` process has exited (the driver reaped it): it is reported, and started
    /// again as its restart policy says. Nothing is restarted once the run is over.
    pub fn workload_exited(&mut self, now: Instant, status: ProcessStatus) {
        let Workload::Running(pid, since) = self.workload else {
            return;
        };
        if self.config.wrap {
            self.workload = Workload::Finished;
            self.report(Report::WorkloadExited { pid, status });
            return self.exit(Exit::Wrapped(Some(status)));
        }
        if now.saturating_duration_since(since) >= RESTART_RESET {
            self.restart_delay = RESTART_MIN;
        }
        let restart = match self.config.restart {
            Restart::Never => false,
            Restart::OnFailure => status != ProcessStatus::Code(0),
            Restart::Always => true,
        };
        if restart && !self.exited && self.stopping.is_none() {
            self.workload = self.restart_later(now, Some(pid), Some(status));
            return;
        }
        self.workload = if self.config.restart == Restart::Never {
            Workload::Stopped
        } else {
            Workload::Finished
        };
        self.report(Report::WorkloadExited { pid, status });
        self.end_stop();
    }

    /// Reports a restart after the current delay, doubles the next one, and returns the
    /// state waiting for it.
    fn restart_later(
        &mut self,
        now: Instant,
        pid: Option<u32>,
        status: Option<ProcessStatus>,
    ) -> Workload {
        let delay = self.restart_delay;
        self.restart_delay = (delay * 2).min(RESTART_MAX);
        self.report(Report::WorkloadRestarting { pid, status, delay });
        self.timers.set(Timer::Restart, now + delay);
        Workload::Restarting
    }

    /// A restart whose backoff has passed: start `cmd` again.
    pub(super) fn restart_due(&mut self, now: Instant) {
        if self.workload == Workload::Restarting && self.timers.take_expired(Timer::Restart, now) {
            self.start_workload();
        }
    }

    /// Asks for a start of `cmd`, counted for the metrics.
    fn start_workload(&mut self) {
        self.workload = Workload::Starting;
        self.metrics.workload_starts = self.metrics.workload_starts.saturating_add(1);
        self.push(Action::StartWorkload);
    }
}
