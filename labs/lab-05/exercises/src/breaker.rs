//! Exercise `breaker-half-open`: a circuit breaker that opens after
//! `threshold` consecutive failures and fails fast while open is half a
//! breaker: it must also find out when the server is back. Finish it.
//!
//! After `open_for`, the breaker is *half-open*: `admit` lets one request
//! through as a probe and refuses the others until the probe ends. If the
//! probe succeeds, the breaker closes (and counts failures from zero); if
//! it fails, the breaker opens again for another `open_for`.
//!
//! To keep it small, this breaker trusts its caller: every request it
//! admits reports (`record`) before the next is admitted, so a report in
//! half-open is the probe's. (The lab's breaker hands out a permit per
//! request instead, and ignores late reports.)
//!
//! Closed and open already work. The tests in `tests/breaker.rs` run under
//! tokio's paused clock. The lab's own breaker (with several probes) is in
//! `labs/lab-05/src/client/breaker.rs`; open it after you are done.

use tokio::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// `probing`: the probe is out and has not reported yet.
    HalfOpen {
        probing: bool,
    },
}

#[derive(Debug)]
pub struct Breaker {
    pub threshold: u32,
    pub open_for: Duration,
    pub state: State,
}

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold,
            open_for,
            state: State::Closed { failures: 0 },
        }
    }

    /// May a request go out now?
    pub fn admit(&mut self) -> bool {
        match self.state {
            State::Closed { .. } => true,
            // Open stays open: the server is never tried again.
            State::Open { .. } | State::HalfOpen { .. } => false,
        }
    }

    /// How an admitted request ended.
    pub fn record(&mut self, success: bool) {
        if let State::Closed { failures } = self.state {
            self.state = if success {
                State::Closed { failures: 0 }
            } else if failures + 1 >= self.threshold {
                State::Open {
                    until: Instant::now() + self.open_for,
                }
            } else {
                State::Closed {
                    failures: failures + 1,
                }
            };
        }
    }
}
