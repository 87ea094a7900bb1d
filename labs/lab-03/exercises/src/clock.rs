//! The clock the pacer reads and sleeps on (shared by the starter and the
//! solution; not part of any exercise).
//!
//! A pacer's correctness is about time, and a test that checks it against
//! the wall clock fails whenever the machine is busy: a late wake-up looks
//! exactly like a pacer that sleeps too long. So the pacer takes its clock
//! as a parameter, as tokio's paused time does for async code: the program
//! uses [`SystemClock`], and the tests a simulated clock whose wake-ups
//! come late on purpose, by amounts they choose, with a seed.

use std::thread;
use std::time::{Duration, Instant};

/// Where a pacer gets the time and how it waits.
pub trait Clock {
    /// Time since this clock's origin (any fixed instant).
    fn now(&mut self) -> Duration;
    /// Blocks the calling thread for about `d`: never much less, and as
    /// much more as the operating system pleases.
    fn sleep(&mut self, d: Duration);
}

/// The real clock: `Instant` and `thread::sleep`.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&mut self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&mut self, d: Duration) {
        thread::sleep(d);
    }
}
