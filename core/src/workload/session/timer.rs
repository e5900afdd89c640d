//! The session's deadlines in one table, as quinn-proto keeps a connection's
//! (`quinn-proto/src/connection/timer.rs`): each [`Timer`] names one deadline; a decision
//! sets it, the end of the state it belongs to stops it, [`Session::poll_timeout`] is the
//! earliest armed entry and [`Session::handle_timeout`] acts on the entries that expired.
//!
//! [`Session::poll_timeout`]: super::Session::poll_timeout
//! [`Session::handle_timeout`]: super::Session::handle_timeout

use alloc::vec;
use alloc::vec::Vec;

use crate::time::Instant;

/// One deadline of the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// The agent connection is down: dial again, after the connection backoff.
    Redial,
    /// Signal the pid file's process again (upstream's 10 attempts, 100 ms × 2^k apart,
    /// `pkg/sidecar/sidecar.go@v0.11.0`).
    PidRetry,
    /// One-shot `one_shot_timeout`: the run gives up.
    GiveUp,
    /// The service manager's watchdog heartbeat.
    Heartbeat,
    /// Start `cmd` again under its restart policy.
    Restart,
    /// The shutdown's next step: the kill at the end of the grace, then the end of the run.
    Stop,
    /// Row `i` leaves its backoff, or its JWT-SVID is refreshed.
    Retry(usize),
    /// Row `i`'s stall watch: the agent has been silent for most of the SVID's remaining
    /// life. Armed only while the row's call is open.
    Stall(usize),
    /// Hook `i`'s run reaches its timeout and is killed.
    HookKill(usize),
}

/// The fixed timers, in [`TimerTable::fixed`]'s order.
const FIXED: [Timer; 6] = [
    Timer::Redial,
    Timer::PidRetry,
    Timer::GiveUp,
    Timer::Heartbeat,
    Timer::Restart,
    Timer::Stop,
];

/// Every deadline of a session: one slot per [`Timer`], `None` when stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct TimerTable {
    fixed: [Option<Instant>; FIXED.len()],
    retry: Vec<Option<Instant>>,
    stall: Vec<Option<Instant>>,
    hook_kill: Vec<Option<Instant>>,
}

impl TimerTable {
    /// A table with every timer stopped, for `rows` rows and `hooks` hooks.
    pub(super) fn new(rows: usize, hooks: usize) -> Self {
        TimerTable {
            fixed: [None; FIXED.len()],
            retry: vec![None; rows],
            stall: vec![None; rows],
            hook_kill: vec![None; hooks],
        }
    }

    fn slot(&mut self, timer: Timer) -> Option<&mut Option<Instant>> {
        match timer {
            Timer::Retry(i) => self.retry.get_mut(i),
            Timer::Stall(i) => self.stall.get_mut(i),
            Timer::HookKill(i) => self.hook_kill.get_mut(i),
            fixed => FIXED
                .iter()
                .position(|&t| t == fixed)
                .map(|i| &mut self.fixed[i]),
        }
    }

    /// Sets `timer` to fire at `at`, replacing its deadline if it had one.
    pub(super) fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(slot) = self.slot(timer) {
            *slot = Some(at);
        }
    }

    /// Stops `timer`.
    pub(super) fn stop(&mut self, timer: Timer) {
        if let Some(slot) = self.slot(timer) {
            *slot = None;
        }
    }

    /// `timer`'s deadline, if it is set.
    pub(super) fn get(&self, timer: Timer) -> Option<Instant> {
        match timer {
            Timer::Retry(i) => self.retry.get(i).copied().flatten(),
            Timer::Stall(i) => self.stall.get(i).copied().flatten(),
            Timer::HookKill(i) => self.hook_kill.get(i).copied().flatten(),
            fixed => FIXED
                .iter()
                .position(|&t| t == fixed)
                .and_then(|i| self.fixed[i]),
        }
    }

    /// Whether `timer` is set and due at `now`.
    pub(super) fn is_expired(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|at| now >= at)
    }

    /// Stops `timer` and says whether it was due at `now`: the check-and-consume of a
    /// one-shot deadline.
    pub(super) fn take_expired(&mut self, timer: Timer, now: Instant) -> bool {
        let due = self.is_expired(timer, now);
        if due {
            self.stop(timer);
        }
        due
    }

    /// The earliest deadline among the timers `armed` accepts.
    pub(super) fn next(&self, armed: impl Fn(Timer) -> bool) -> Option<Instant> {
        let fixed = FIXED.iter().zip(self.fixed).map(|(&t, at)| (t, at));
        let rows = self
            .retry
            .iter()
            .zip(&self.stall)
            .enumerate()
            .flat_map(|(i, (r, s))| [(Timer::Retry(i), *r), (Timer::Stall(i), *s)]);
        let hooks = self
            .hook_kill
            .iter()
            .enumerate()
            .map(|(i, &at)| (Timer::HookKill(i), at));
        fixed
            .chain(rows)
            .chain(hooks)
            .filter_map(|(t, at)| at.filter(|_| armed(t)))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn the_next_deadline_is_the_earliest_armed_one() {
        let mut table = TimerTable::new(2, 1);
        assert_eq!(table.next(|_| true), None);
        table.set(Timer::Heartbeat, at(500));
        table.set(Timer::Stall(1), at(100));
        table.set(Timer::HookKill(0), at(300));
        assert_eq!(table.next(|_| true), Some(at(100)));
        assert_eq!(table.next(|t| t != Timer::Stall(1)), Some(at(300)));
        table.stop(Timer::HookKill(0));
        assert_eq!(table.next(|t| t != Timer::Stall(1)), Some(at(500)));
    }

    #[test]
    fn a_timer_fires_once_and_only_when_due() {
        let mut table = TimerTable::new(1, 0);
        table.set(Timer::Retry(0), at(1_000));
        assert!(!table.take_expired(Timer::Retry(0), at(999)));
        assert!(table.take_expired(Timer::Retry(0), at(1_000)));
        assert!(!table.take_expired(Timer::Retry(0), at(1_000) + Duration::from_secs(1)));
        assert_eq!(table.get(Timer::Retry(0)), None);
    }

    #[test]
    fn setting_again_replaces_the_deadline_and_unknown_indices_are_ignored() {
        let mut table = TimerTable::new(1, 0);
        table.set(Timer::Redial, at(10));
        table.set(Timer::Redial, at(20));
        assert_eq!(table.get(Timer::Redial), Some(at(20)));
        table.set(Timer::HookKill(3), at(5));
        assert_eq!(table.get(Timer::HookKill(3)), None);
        assert_eq!(table.next(|_| true), Some(at(20)));
    }
}
