//! Where the cache gets the time from.
//!
//! TTLs and LRU stamps read a [`Clock`] instead of calling `Instant::now()`
//! so that tests can move time by hand ([`ManualClock`]) and check expiry
//! exactly, without sleeping. The production clock is [`SystemClock`],
//! which is monotonic: a TTL must not jump when an administrator or NTP
//! changes the wall-clock time.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic source of time, measured from an arbitrary epoch.
pub trait Clock: Send + Sync + Debug + 'static {
    /// Time elapsed since this clock's epoch. Never decreases.
    fn now(&self) -> Duration;
}

/// The real, monotonic clock (`Instant`), with its epoch at creation.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    epoch: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }
}

/// A clock that only moves when told to. Clones share the same time, so a
/// test keeps one handle and gives another to the cache.
///
/// It uses `std` atomics even under loom: time is an input to the model,
/// not something whose interleavings are being checked.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by` (saturating at about 584 years).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // fetch_update cannot fail with a closure that always returns Some.
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(by))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// A point in time on a [`Clock`], in nanoseconds since its epoch. The cache
/// stores deadlines in this form: eight bytes per key instead of sixteen.
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new();
        let other = c.clone();
        assert_eq!(c.now(), Duration::ZERO);
        other.advance(Duration::from_millis(5));
        assert_eq!(c.now(), Duration::from_millis(5));
        c.advance(Duration::MAX);
        assert_eq!(nanos(c.now()), u64::MAX);
    }

    #[test]
    fn system_clock_is_monotonic() {
        let c = SystemClock::new();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
    }
}
