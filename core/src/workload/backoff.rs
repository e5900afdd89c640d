//! Retry schedules of the Workload API session, as upstream's helper and go-spiffe use them.

use core::time::Duration;

/// A retry schedule: the delay before each consecutive retry, reset after a success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    schedule: Schedule,
    attempt: u32,
}

/// Which delays a [`Backoff`] hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Schedule {
    /// go-spiffe's watcher: the n-th consecutive retry waits min(n, 30) seconds, forever.
    Linear,
    /// Upstream's one-shot mode (`pkg/sidecar/workloadapi.go@v0.11.0`): 10 attempts,
    /// waiting 10 ms × 5^k between them.
    OneShot,
    /// Upstream's JWT-SVID refresh after a failure (`pkg/sidecar/sidecar.go@v0.11.0`): 1, 2, 4,
    /// 8, 16, 32 s, then 60 s.
    JwtRefresh,
    /// Upstream's pid-file signalling (`pkg/sidecar/sidecar.go@v0.11.0`): 10 attempts, waiting
    /// 100 ms × 2^k between them.
    PidFile,
}

/// Retries of the one-shot and pid-file schedules (10 attempts in all).
const RETRIES: u32 = 9;

impl Backoff {
    /// A schedule at its first retry.
    pub(crate) const fn new(schedule: Schedule) -> Self {
        Backoff {
            schedule,
            attempt: 0,
        }
    }

    /// The delay before the next retry, or `None` once the schedule is exhausted.
    pub(crate) fn next_delay(&mut self) -> Option<Duration> {
        let delay = match self.schedule {
            Schedule::Linear => {
                Duration::from_secs(u64::from(self.attempt.saturating_add(1).min(30)))
            }
            Schedule::JwtRefresh => {
                Duration::from_secs(1u64.checked_shl(self.attempt).map_or(60, |d| d.min(60)))
            }
            Schedule::OneShot if self.attempt < RETRIES => {
                Duration::from_millis(10 * 5u64.pow(self.attempt))
            }
            Schedule::PidFile if self.attempt < RETRIES => {
                Duration::from_millis(100 << self.attempt)
            }
            Schedule::OneShot | Schedule::PidFile => return None,
        };
        self.attempt = self.attempt.saturating_add(1);
        Some(delay)
    }

    /// Retries handed out since the last reset.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over (after a success).
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn linear_grows_caps_and_resets() {
        let mut b = Backoff::new(Schedule::Linear);
        let secs: Vec<u64> = (0..32).map(|_| b.next_delay().unwrap().as_secs()).collect();
        assert_eq!(&secs[..3], &[1, 2, 3]);
        assert_eq!(&secs[29..], &[30, 30, 30]);
        assert_eq!(b.attempts(), 32);
        b.reset();
        assert_eq!(b.next_delay(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn one_shot_schedule_is_upstreams() {
        let mut b = Backoff::new(Schedule::OneShot);
        let d: Vec<u128> = core::iter::from_fn(|| b.next_delay())
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(
            d,
            [10, 50, 250, 1250, 6250, 31250, 156_250, 781_250, 3_906_250]
        );
        assert_eq!(b.next_delay(), None);
    }

    #[test]
    fn jwt_refresh_schedule_is_upstreams() {
        let mut b = Backoff::new(Schedule::JwtRefresh);
        let secs: Vec<u64> = (0..70).map(|_| b.next_delay().unwrap().as_secs()).collect();
        assert_eq!(&secs[..8], &[1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(secs[69], 60);
    }

    #[test]
    fn pid_file_schedule_is_upstreams() {
        let mut b = Backoff::new(Schedule::PidFile);
        let d: Vec<u128> = core::iter::from_fn(|| b.next_delay())
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(d, [100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_600]);
    }
}
