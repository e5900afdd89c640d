//! Stall detection: the agent may stay silent for half an SVID's life, never for all of it.
//! A row's watch fires after most of the remaining life of the SVID on disk; the session then
//! probes the connection and asks again, and re-dials if that stalls too.

use core::time::Duration;

use super::{Action, AgentConnection, Remedy, Report, Session, State, Timer};
use crate::time::{Instant, UnixTime};

/// The fraction of an SVID's remaining life after which silence counts as a stall: past
/// SPIRE's half-life rotation, with room left to fetch a fresh SVID before expiry.
const STALL_FRACTION: (i64, i64) = (3, 4);
/// Shortest wait for a stall PING's ACK.
const MIN_PROBE_TIMEOUT: Duration = Duration::from_millis(250);

/// The stall watch of a row: the SVID on disk (its deadline is the row's [`Timer::Stall`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Watch {
    /// NotAfter of the SVID on disk, Unix seconds.
    pub(super) not_after: i64,
    /// When it arrived.
    pub(super) since: Instant,
    /// Stalls since a newer SVID arrived.
    pub(super) stalls: u32,
    /// Whether this connection has already been probed for this stall.
    pub(super) probed: bool,
}

impl Session {
    /// Fires the row's stall watch if due: first PING and reopen the call, then re-dial.
    pub(super) fn check_stall(&mut self, i: usize, now: Instant, unix_now: UnixTime) {
        let row = &mut self.rows[i];
        let (State::Open(stream), Some(w)) = (row.state, &mut row.watch) else {
            return;
        };
        if !self.timers.is_expired(Timer::Stall(i), now) {
            return;
        }
        let AgentConnection::Up(client) = &mut self.conn else {
            return;
        };
        w.stalls = w.stalls.saturating_add(1);
        let deadline = stall_deadline(now, unix_now, w.not_after, w.stalls);
        self.timers.set(Timer::Stall(i), deadline);
        let expires_in_ms = unix_now.millis_until(UnixTime::from_secs(w.not_after));
        let remedy = if w.probed {
            Remedy::Redial
        } else {
            w.probed = true;
            let probe = Duration::from_millis(u64::try_from(expires_in_ms / 8).unwrap_or(0))
                .clamp(MIN_PROBE_TIMEOUT, self.config.client.h2.ping_timeout);
            client.ping(now, probe);
            client.cancel(stream);
            row.state = State::Idle;
            Remedy::Reopen
        };
        let report = Report::Stalled {
            sub: row.sub,
            silent_for: now.saturating_duration_since(w.since),
            expires_in_ms,
            remedy,
        };
        self.metrics.agent_stalls = self.metrics.agent_stalls.saturating_add(1);
        self.report(report);
        if remedy == Remedy::Redial {
            self.push(Action::Disconnect);
            self.go_down(now, true);
        }
    }
}

/// When silence about an SVID expiring at `not_after` becomes a stall: after
/// [`STALL_FRACTION`] of its remaining life, and no sooner than `stalls` seconds (1 to 30)
/// so that an agent with nothing newer to give is not asked in a tight loop.
pub(super) fn stall_deadline(
    now: Instant,
    unix_now: UnixTime,
    not_after: i64,
    stalls: u32,
) -> Instant {
    let remaining = unix_now.millis_until(UnixTime::from_secs(not_after));
    let wait = remaining.max(0) / STALL_FRACTION.1 * STALL_FRACTION.0;
    let floor = Duration::from_secs(u64::from(stalls.clamp(1, 30)));
    now + Duration::from_millis(u64::try_from(wait).unwrap_or(0)).max(floor)
}
