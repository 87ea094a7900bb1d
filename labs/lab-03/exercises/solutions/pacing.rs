//! # Exercise 3: pace an open model without drifting (reference solution)
//!
//! See the starter, `src/pacing.rs`, for the task and why the naive loop
//! loses rate.

use std::time::Duration;

pub use crate::clock::{Clock, SystemClock};

/// Hands out requests on the schedule `start + i / rate`.
#[derive(Debug)]
pub struct Pacer<C: Clock = SystemClock> {
    /// Requests per second.
    rate: f64,
    /// Where the time comes from.
    clock: C,
    /// The clock's time at the first call to `wait`.
    start: Option<Duration>,
    /// How many requests `wait` has returned so far.
    sent: u64,
}

impl Pacer<SystemClock> {
    /// A pacer for `rate_per_sec` requests per second on the real clock.
    pub fn new(rate_per_sec: f64) -> Self {
        Self::with_clock(rate_per_sec, SystemClock::new())
    }
}

impl<C: Clock> Pacer<C> {
    /// The clock (for tests that simulate it).
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The clock, to move (for tests that simulate it).
    pub fn clock_mut(&mut self) -> &mut C {
        &mut self.clock
    }
}

// ANCHOR: solution
impl<C: Clock> Pacer<C> {
    /// A pacer for `rate_per_sec` requests per second on `clock`.
    pub fn with_clock(rate_per_sec: f64, clock: C) -> Self {
        assert!(
            rate_per_sec.is_finite() && rate_per_sec > 0.0,
            "rate_per_sec must be finite and positive, got {rate_per_sec}"
        );
        Self {
            rate: rate_per_sec,
            clock,
            start: None,
            sent: 0,
        }
    }

    /// Sleeps until at least one request is due, then returns how many are
    /// due now (at least 1).
    pub fn wait(&mut self) -> u64 {
        let now = self.clock.now();
        let start = *self.start.get_or_insert(now);
        let mut elapsed = now - start;
        loop {
            // Requests 0..=floor(elapsed * rate) are due. Counting from the
            // fixed start, never from the last wake-up, is what keeps the
            // schedule still: however late we are, the count says how far
            // behind, and the caller catches up at once.
            let due = (elapsed.as_secs_f64() * self.rate) as u64 + 1;
            if due > self.sent {
                let n = due - self.sent;
                self.sent = due;
                return n;
            }
            // Nothing due: sleep until request `sent` is. Sleeping, not
            // spinning, leaves the CPU to the system under test. The OS may
            // wake us a little early (rounding) or late (timer slack,
            // scheduling); the next turn of the loop recounts either way.
            let next = Duration::from_secs_f64(self.sent as f64 / self.rate);
            self.clock.sleep(next.saturating_sub(elapsed));
            elapsed = self.clock.now().saturating_sub(start);
        }
    }
}
// ANCHOR_END: solution
