//! The session's service-manager notifications (systemd's `sd_notify(3)` protocol, opt-in
//! through `NOTIFY_SOCKET`): `STATUS=` after each SVID written, `READY=1` once every output
//! is written, `WATCHDOG=1` every half `WATCHDOG_USEC` while healthy, `STOPPING=1` before
//! the run ends. The session decides when; the driver only sends the datagrams.

use alloc::string::String;
use core::time::Duration;

use super::{Action, Notify, NotifyConfig, Session, Subscription, Timer};
use crate::time::{Instant, UnixTime};

/// The shortest heartbeat interval: the clock counts milliseconds.
const MIN_HEARTBEAT: Duration = Duration::from_millis(1);

/// Half the watchdog interval, as `sd_watchdog_enabled(3)` advises.
pub(super) fn heartbeat(config: &NotifyConfig) -> Option<Duration> {
    config.watchdog.map(|w| (w / 2).max(MIN_HEARTBEAT))
}

impl Session {
    /// An output was written: its `STATUS=` (SVIDs only: a bundle has no SPIFFE ID), then
    /// `READY=1` the first time every output is on disk.
    pub(super) fn notify_written(
        &mut self,
        sub: Subscription,
        spiffe_id: String,
        expires: Option<i64>,
    ) {
        if self.config.notify.is_none() {
            return;
        }
        if let Some(expires) = expires.filter(|_| !spiffe_id.is_empty()) {
            self.push(Action::Notify(Notify::Status {
                sub,
                spiffe_id,
                expires,
            }));
        }
        if !self.ready_sent && self.health.all_written() {
            self.ready_sent = true;
            self.push(Action::Notify(Notify::Ready));
        }
    }

    /// At the heartbeat instant: `WATCHDOG=1` unless the files on disk have expired while
    /// the agent is gone (then the service manager's watchdog is let to act), and the next
    /// heartbeat.
    pub(super) fn heartbeat_due(&mut self, now: Instant, unix_now: UnixTime) {
        let Some(every) = self.config.notify.as_ref().and_then(heartbeat) else {
            return;
        };
        if !self.timers.is_expired(Timer::Heartbeat, now) {
            return;
        }
        self.timers.set(Timer::Heartbeat, now + every);
        if !(self.files_expired(unix_now) && self.agent_lost(now)) {
            self.push(Action::Notify(Notify::Watchdog));
        }
    }
}
