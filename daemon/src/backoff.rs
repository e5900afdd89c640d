//! Retry schedules.

use std::time::Duration;

/// go-spiffe's watch backoff: the n-th consecutive retry waits min(n, 30) seconds; reset
/// after any message is received.
#[derive(Default)]
pub struct Linear {
    attempt: u64,
}

impl Linear {
    /// The delay before the next retry.
    pub fn next_delay(&mut self) -> Duration {
        self.attempt = (self.attempt + 1).min(30);
        Duration::from_secs(self.attempt)
    }

    /// Starts over at one second.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Upstream's one-shot schedule: 10 attempts, waiting 10 ms × 5^k between them.
pub fn one_shot_delays() -> impl Iterator<Item = Duration> {
    (0..9u32).map(|k| Duration::from_millis(10 * 5u64.pow(k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_grows_caps_and_resets() {
        let mut b = Linear::default();
        let secs: Vec<u64> = (0..32).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(&secs[..3], &[1, 2, 3]);
        assert_eq!(&secs[29..], &[30, 30, 30]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn one_shot_schedule_is_upstreams() {
        let d: Vec<u128> = one_shot_delays().map(|d| d.as_millis()).collect();
        assert_eq!(
            d,
            [10, 50, 250, 1250, 6250, 31250, 156_250, 781_250, 3_906_250]
        );
    }
}
