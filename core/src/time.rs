//! Time as the core sees it: only as arguments. [`Instant`] is a monotonic point in
//! milliseconds on the caller's clock (the daemon's `std::time::Instant`, a test's simulated
//! clock, a microcontroller's tick counter), for every timer; [`UnixTime`] is the wall clock,
//! for certificate and token validity: the session takes it with each input and hands it to
//! the X.509 and JWT checks as Unix seconds ([`UnixTime::as_secs`]). Nothing in the core reads
//! a clock.

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on the caller's monotonic clock, in milliseconds from an arbitrary origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The instant `ms` milliseconds after the clock's origin.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// Milliseconds since the clock's origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Saturating: a deadline past the end of the clock is "never" in practice.
impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, d: Duration) -> Instant {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(ms))
    }
}

/// Saturating at the clock's origin.
impl Sub<Duration> for Instant {
    type Output = Instant;

    fn sub(self, d: Duration) -> Instant {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_sub(ms))
    }
}

/// A point in wall-clock time: milliseconds since the Unix epoch, 1970-01-01T00:00:00Z
/// (negative before it), as the caller's clock reads it (the daemon's `SystemTime`). It may
/// jump either way between two calls; only validity (`NotBefore`/`NotAfter`, `exp`) is
/// judged on it, never a timer. Our own type rather than `rustls_pki_types::UnixTime`, which
/// has whole seconds and no time before 1970; the X.509 and JWT checks take
/// [`as_secs`](Self::as_secs), which `x509::verify` turns into webpki's type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(i64);

impl UnixTime {
    /// The time `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        UnixTime(ms)
    }

    /// The time `secs` seconds after the epoch (X.509 `NotAfter`, JWT `exp`), saturating.
    pub const fn from_secs(secs: i64) -> Self {
        UnixTime(secs.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded down (so `-1` for 1969-12-31T23:59:59.5Z): the
    /// unit of the X.509 and JWT checks.
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Milliseconds from `self` to `later`, negative when `later` is earlier; saturating.
    pub const fn millis_until(self, later: UnixTime) -> i64 {
        later.0.saturating_sub(self.0)
    }
}

/// Saturating: the simulated clocks of tests and fuzz targets move the wall clock forward.
impl Add<Duration> for UnixTime {
    type Output = UnixTime;

    fn add(self, d: Duration) -> UnixTime {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        UnixTime(self.0.saturating_add(ms))
    }
}

/// The earliest of two optional deadlines.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(1_000);
        assert_eq!((t + Duration::from_millis(500)).as_millis(), 1_500);
        assert_eq!((t - Duration::from_secs(5)).as_millis(), 0);
        assert_eq!((t + Duration::MAX).as_millis(), u64::MAX);
        assert_eq!(
            t.saturating_duration_since(Instant::from_millis(250)),
            Duration::from_millis(750)
        );
        assert_eq!(
            t.saturating_duration_since(t + Duration::from_secs(1)),
            Duration::ZERO
        );
    }

    #[test]
    fn unix_time_converts_and_saturates() {
        let t = UnixTime::from_millis(1_700_000_000_999);
        assert_eq!(t.as_secs(), 1_700_000_000);
        assert_eq!(UnixTime::from_millis(-500).as_secs(), -1);
        assert_eq!(UnixTime::from_secs(5).as_millis(), 5_000);
        assert_eq!(UnixTime::from_secs(i64::MAX).as_millis(), i64::MAX);
        assert_eq!(t.millis_until(UnixTime::from_secs(1_700_000_001)), 1);
        assert_eq!(
            UnixTime::from_secs(2).millis_until(UnixTime::from_secs(1)),
            -1_000
        );
        assert_eq!(
            UnixTime::from_millis(i64::MIN).millis_until(UnixTime::from_millis(1)),
            i64::MAX
        );
        assert_eq!((t + Duration::from_millis(1)).as_secs(), 1_700_000_001);
        assert_eq!((t + Duration::MAX).as_millis(), i64::MAX);
    }

    #[test]
    fn earliest_ignores_none() {
        let (a, b) = (Instant::from_millis(1), Instant::from_millis(2));
        assert_eq!(earliest(Some(b), Some(a)), Some(a));
        assert_eq!(earliest(None, Some(b)), Some(b));
        assert_eq!(earliest(Some(a), None), Some(a));
        assert_eq!(earliest(None, None), None);
    }
}
