//! The session's decisions about the workload and the health endpoints: when `cmd` is
//! started or signalled (upstream's `signalProcess`, `pkg/sidecar/sidecar.go@v0.11.0`: start
//! it after an X.509 write if it is not running, else send `renew_signal`), and the write
//! status of every output with the readiness conditions the endpoints report.

use alloc::string::String;

use super::{Action, Report, Session, Sub};
use crate::health::HealthState;
use crate::time::Instant;

/// The `cmd` process as the session knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Workload {
    /// Never started, exited, or failed to start: the next X.509 write starts it.
    Stopped,
    /// [`Action::StartWorkload`] is out, its outcome not reported yet.
    Starting,
    /// Running with this process ID.
    Running(u32),
}

impl Session {
    /// The health state at start-up: every configured output `unwritten`.
    pub(super) fn initial_health(config: &super::SessionConfig) -> HealthState {
        let paths = config
            .jwt_bundle
            .iter()
            .chain(config.jwt_svids.iter().map(|j| &j.path))
            .map(String::as_str);
        HealthState::new(config.x509.is_some(), paths)
    }

    /// Records a write attempt of `sub`'s output (a refused message counts as a failed
    /// write, as upstream counts a failed dump): not live, not ready, until a good one is
    /// written.
    pub(super) fn record_health(&mut self, sub: Sub, ok: bool) {
        let path = match sub {
            Sub::X509 => return self.health.record_x509(ok),
            Sub::JwtBundles => self.config.jwt_bundle.as_deref(),
            Sub::JwtSvid(n) => self.config.jwt_svids.get(n).map(|j| j.path.as_str()),
        };
        if let Some(path) = path {
            self.health.record_jwt(path, ok);
        }
    }

    /// What the health endpoints report now: the write statuses, whether the agent has been
    /// unreachable past [`READY_GRACE`](super::READY_GRACE) and whether a file on disk has
    /// expired.
    pub fn health(&self, now: Instant, unix_ms: i64) -> HealthState {
        let mut state = self.health.clone();
        state.agent_connected_recently = !self.agent_lost(now);
        state.files_expired = self.files_expired(unix_ms);
        state
    }

    /// A complete X.509 write in daemon mode: start `cmd`, or signal the one running.
    pub(super) fn notify_workload(&mut self) {
        if !self.config.workload || self.config.one_shot {
            return;
        }
        match self.workload {
            Workload::Stopped => {
                self.workload = Workload::Starting;
                self.push(Action::StartWorkload);
            }
            Workload::Running(_) => self.push(Action::SignalWorkload),
            // Its start is still being reported: it reads the files just written.
            Workload::Starting => {}
        }
    }

    /// The outcome of an [`Action::StartWorkload`]: the process ID, or `None` when it could
    /// not be started (the driver logs why); the next X.509 write tries again then.
    pub fn workload_started(&mut self, pid: Option<u32>) {
        if self.workload == Workload::Starting {
            self.workload = pid.map_or(Workload::Stopped, Workload::Running);
        }
    }

    /// The `cmd` process has exited (the driver reaped it): it is reported, and started
    /// again at the next X.509 write.
    pub fn workload_exited(&mut self, status: super::ProcessStatus) {
        if let Workload::Running(pid) = self.workload {
            self.workload = Workload::Stopped;
            self.report(Report::WorkloadExited { pid, status });
        }
    }
}
