//! Exercise `retry-schedule`: when a leak check finds tasks still alive,
//! it must not fail at once (the task may be finishing) nor wait forever
//! (a real leak must fail the test). Write the schedule of its sleeps.
//!
//! `next(attempt, waited)` gives the sleep before the next look: `first`
//! for attempt 0, doubling each attempt, never longer than `cap`, and never
//! taking the total past `budget`; `None` once `waited` has reached the
//! budget. The tests drive it through `verify_with` in
//! `labs/lab-06/exercises/src/support.rs`. The lab's own version is
//! `Schedule` in `labs/lab-06/src/check.rs`; open it after you are done.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub cap: Duration,
    pub budget: Duration,
}

impl Backoff {
    pub fn next(&self, attempt: u32, waited: Duration) -> Option<Duration> {
        let _ = (attempt, waited);
        // One look, then give up: a task that is just finishing fails.
        None
    }
}
