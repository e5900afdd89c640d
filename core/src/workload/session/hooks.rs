//! The session's decisions about the `reload.exec` hooks (ours; upstream issues #40, #246,
//! #250): which hooks an update runs, once its output set is durable; at most one run per
//! hook at a time, an update during a run queueing exactly one more (the latest update's);
//! the kill at each run's timeout; and, in one-shot mode, that the run ends only once every
//! hook has finished, with [`Fatal::HookFailed`] if one failed.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Action, Exit, Fatal, ProcessStatus, Report, Session, Subscription, Timer};
use crate::config::HookEvent;
use crate::time::Instant;

/// One run of a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    event: HookEvent,
    /// [`Action::KillHook`] is out (its [`Timer::HookKill`] fired, or the shutdown).
    killed: bool,
}

/// A hook as the session knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Hook {
    running: Option<Run>,
    /// The one run waiting for the current one: the latest update's event, output and
    /// SPIFFE ID.
    queued: Option<(HookEvent, Subscription, String)>,
}

/// The event a write of `sub`'s output is.
fn event_of(sub: Subscription) -> HookEvent {
    match sub {
        Subscription::X509 => HookEvent::X509,
        Subscription::JwtBundles => HookEvent::JwtBundle,
        Subscription::JwtSvid(_) => HookEvent::JwtSvid,
    }
}

impl Session {
    /// `sub`'s output was written: every hook on its event runs, or queues behind its run.
    pub(super) fn run_hooks(&mut self, now: Instant, sub: Subscription, spiffe_id: &str) {
        if self.stopping.is_some() {
            return;
        }
        let event = event_of(sub);
        for id in 0..self.hooks.len() {
            if !self.config.hooks[id].on.contains(&event) {
                continue;
            }
            let spiffe_id = String::from(spiffe_id);
            if self.hooks[id].running.is_some() {
                self.hooks[id].queued = Some((event, sub, spiffe_id));
            } else {
                self.start_hook(now, id, event, sub, spiffe_id);
            }
        }
    }

    fn start_hook(
        &mut self,
        now: Instant,
        id: usize,
        event: HookEvent,
        sub: Subscription,
        spiffe_id: String,
    ) {
        self.timers
            .set(Timer::HookKill(id), now + self.config.hooks[id].timeout);
        self.hooks[id].running = Some(Run {
            event,
            killed: false,
        });
        self.push(Action::RunHook {
            id,
            event,
            sub,
            spiffe_id,
        });
    }

    /// The run of hook `id` has ended: its exit `status`, or `None` when it could not be
    /// started (the driver logs why). A queued run starts now.
    pub fn hook_finished(&mut self, now: Instant, id: usize, status: Option<ProcessStatus>) {
        let Some(run) = self.hooks.get_mut(id).and_then(|h| h.running.take()) else {
            return;
        };
        self.timers.stop(Timer::HookKill(id));
        let timed_out = run.killed;
        let failed = timed_out || status != Some(ProcessStatus::Code(0));
        self.hook_failed |= failed;
        self.count_hook(id, status, timed_out);
        self.report(Report::HookFinished {
            id,
            event: run.event,
            status,
            timed_out,
        });
        if let Some((event, sub, spiffe_id)) = self.hooks[id].queued.take() {
            self.start_hook(now, id, event, sub, spiffe_id);
        }
        self.end_stop();
        self.end_one_shot();
    }

    /// The shutdown: kills every run not killed yet and drops the queued ones.
    pub(super) fn kill_hooks(&mut self) {
        for id in 0..self.hooks.len() {
            self.hooks[id].queued = None;
            if let Some(run) = &mut self.hooks[id].running
                && !run.killed
            {
                run.killed = true;
                self.timers.stop(Timer::HookKill(id));
                self.push(Action::KillHook { id });
            }
        }
    }

    /// Whether a hook runs.
    pub(super) fn hooks_running(&self) -> bool {
        self.hooks.iter().any(|h| h.running.is_some())
    }

    /// Kills every run past its timeout.
    pub(super) fn hook_timeouts(&mut self, now: Instant) {
        for id in 0..self.hooks.len() {
            if let Some(run) = &mut self.hooks[id].running
                && self.timers.take_expired(Timer::HookKill(id), now)
            {
                run.killed = true;
                self.push(Action::KillHook { id });
            }
        }
    }

    /// One-shot mode: once every output is written and no hook runs or waits, the run ends,
    /// [`Exit::Done`] unless a hook failed.
    pub(super) fn end_one_shot(&mut self) {
        let idle = !self.hooks_running() && self.hooks.iter().all(|h| h.queued.is_none());
        if !self.all_written || !idle || self.stopping.is_some() {
            return;
        }
        if self.hook_failed {
            self.exit(Exit::Fatal(Fatal::HookFailed));
        } else {
            self.exit(Exit::Done);
        }
    }

    /// The hooks' state at start-up: none running.
    pub(super) fn initial_hooks(count: usize) -> Vec<Hook> {
        alloc::vec![Hook::default(); count]
    }
}
