//! Exercise `retry-schedule`, solved. (The statement is in
//! `src/retry_schedule.rs`, which uses `labs/lab-06/exercises/src/support.rs`.)

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub cap: Duration,
    pub budget: Duration,
}

impl Backoff {
    // ANCHOR: solution
    pub fn next(&self, attempt: u32, waited: Duration) -> Option<Duration> {
        if waited >= self.budget {
            return None;
        }
        // 2^attempt, saturating: attempt 200 must not overflow.
        let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
        let grown = self.first.saturating_mul(factor).min(self.cap);
        Some(grown.min(self.budget - waited))
    }
    // ANCHOR_END: solution
}
