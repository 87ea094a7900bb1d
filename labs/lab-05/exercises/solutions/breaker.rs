//! The reference solution of `breaker-half-open`.

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

    // ANCHOR: solution
    /// May a request go out now?
    pub fn admit(&mut self) -> bool {
        if let State::Open { until } = self.state
            && Instant::now() >= until
        {
            self.state = State::HalfOpen { probing: false };
        }
        match self.state {
            State::Closed { .. } => true,
            State::Open { .. } => false,
            State::HalfOpen { probing } => {
                self.state = State::HalfOpen { probing: true };
                !probing
            }
        }
    }

    /// How an admitted request ended.
    pub fn record(&mut self, success: bool) {
        let open = State::Open {
            until: Instant::now() + self.open_for,
        };
        self.state = match self.state {
            State::Closed { .. } if success => State::Closed { failures: 0 },
            State::Closed { failures } if failures + 1 >= self.threshold => open,
            State::Closed { failures } => State::Closed {
                failures: failures + 1,
            },
            State::HalfOpen { .. } if success => State::Closed { failures: 0 },
            State::HalfOpen { .. } => open,
            // A request admitted before the breaker opened, ending late:
            // it says nothing about the server now.
            State::Open { until } => State::Open { until },
        };
    }
    // ANCHOR_END: solution
}
