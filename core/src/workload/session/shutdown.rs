//! The session's decisions at SIGTERM or SIGINT in daemon and one-shot mode: the running
//! `cmd` gets the signal on its process group and [`SHUTDOWN_GRACE`] to exit, then the
//! group is killed and the run ends once its end is reported, or after [`KILL_WAIT`] at the
//! latest; every running hook is killed at once. Upstream exits without stopping `cmd`
//! (`cmd/spiffe-helper/main.go@v0.11.0`); the grace is the one `docker stop` and
//! Kubernetes' `terminationGracePeriodSeconds` give before SIGKILL (10 s and 30 s).

use core::time::Duration;

use super::{Action, Exit, Fatal, Session, Timer, Workload};
use crate::time::Instant;

/// How long the workload has to exit after the forwarded signal before its group is killed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long the run waits for the killed workload's and hooks' ends to be reported before
/// it ends anyway.
pub const KILL_WAIT: Duration = Duration::from_secs(1);

/// A shutdown in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stopping {
    /// The signal that stopped the run.
    signal: i32,
    /// [`Action::KillWorkload`] is out: [`Timer::Stop`] is the end of the run, not the kill.
    killed: bool,
}

impl Session {
    /// Starts the shutdown at `now` for `signal`: the signal to `cmd`'s group, a kill to
    /// every running hook; the run ends at once when nothing runs.
    pub(super) fn begin_stop(&mut self, now: Instant, signal: i32) {
        if matches!(self.workload, Workload::Running(..)) {
            self.push(Action::ForwardSignal(signal));
        } else if self.workload == Workload::Restarting {
            self.workload = Workload::Finished;
            self.timers.stop(Timer::Restart);
        }
        self.kill_hooks();
        self.stopping = Some(Stopping {
            signal,
            killed: false,
        });
        self.timers.set(Timer::Stop, now + SHUTDOWN_GRACE);
        self.end_stop();
    }

    /// A `cmd` started while the shutdown was in progress gets the signal too.
    pub(super) fn stop_started(&mut self) {
        if let Some(stopping) = self.stopping
            && matches!(self.workload, Workload::Running(..))
        {
            self.push(Action::ForwardSignal(stopping.signal));
        }
        self.end_stop();
    }

    /// The shutdown's timer: kill the group at the end of the grace, end the run
    /// [`KILL_WAIT`] later.
    pub(super) fn stop_due(&mut self, now: Instant) {
        let Some(stopping) = &mut self.stopping else {
            return;
        };
        if !self.timers.is_expired(Timer::Stop, now) {
            return;
        }
        if stopping.killed {
            let signal = stopping.signal;
            return self.exit(self.stopped_exit(signal));
        }
        stopping.killed = true;
        self.timers.set(Timer::Stop, now + KILL_WAIT);
        if matches!(self.workload, Workload::Running(..)) {
            self.push(Action::KillWorkload);
        }
    }

    /// Ends the run once the workload and every hook have ended.
    pub(super) fn end_stop(&mut self) {
        let Some(stopping) = self.stopping else {
            return;
        };
        let workload = matches!(self.workload, Workload::Running(..) | Workload::Starting);
        if !workload && !self.hooks_running() {
            self.exit(self.stopped_exit(stopping.signal));
        }
    }

    /// [`Exit::Stopped`] in daemon mode; in one-shot mode [`Fatal::Interrupted`], since not
    /// every output is written.
    fn stopped_exit(&self, signal: i32) -> Exit {
        if self.config.one_shot {
            Exit::Fatal(Fatal::Interrupted { signal })
        } else {
            Exit::Stopped { signal }
        }
    }
}
