//! A circuit breaker: when the server keeps failing, stop sending to it for
//! a while, so that failing requests fail at once instead of each waiting
//! out a deadline, and the server gets room to recover.
//!
//! Closed (normal) → Open after `failure_threshold` *consecutive* transient
//! failures. Consecutive rather than a failure ratio over a window: it
//! needs no window bookkeeping, is exact under a paused clock, and a server
//! that is down (the case a breaker is for) fails every request; its blind
//! spot is a steady partial failure rate, which retries and the budget
//! handle. Open fails fast, touching no socket, for `open_for`; then
//! Half-open lets `probes` requests through: that many successes close it,
//! one failure opens it again.
//!
//! What counts as one failure is the client's choice: `ResilientClient`
//! reports a failed connect, or a connection dying, once, however many
//! requests were in flight on it. Counting each of them would open the
//! breaker on a single reset of a busy multiplexed connection (lab-05's
//! first storm run did exactly that).
//!
//! Time is [`tokio::time::Instant`], so tokio's paused clock drives it in
//! the tests.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BreakerConfig {
    /// Consecutive transient failures that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open.
    pub open_for: Duration,
    /// Requests let through half-open; all must succeed to close it.
    pub probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_for: Duration::from_millis(500),
            probes: 1,
        }
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// `admitted` probes are out, `succeeded` came back fine.
    HalfOpen {
        admitted: u32,
        succeeded: u32,
    },
}

/// The breaker's answer to a request that wants to go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: go.
    Pass,
    /// Half-open: go, as one of the probes.
    Probe,
    /// Open, or half-open with all probes out: fail fast.
    Reject,
}

/// How an admitted request ended, as far as the breaker cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered (an error reply counts: the server is up).
    Success,
    /// A transient failure (timeout, refused, reset, …).
    Failure,
    /// Nothing learned (the request was abandoned: a hedge won).
    Abandoned,
}

#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    pub fn state(&self) -> State {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks to send a request: a [`Permit`] to report its outcome with, or
    /// `None` to fail fast.
    pub fn admit(&self) -> Option<Permit<'_>> {
        let mut state = self.lock();
        match admit(&mut state, Instant::now(), &self.config) {
            Admission::Reject => None,
            a => Some(Permit {
                breaker: self,
                probe: a == Admission::Probe,
                done: false,
            }),
        }
    }

    fn record(&self, probe: bool, outcome: Outcome) {
        let mut state = self.lock();
        record(&mut state, probe, outcome, Instant::now(), &self.config);
    }
}

/// Leave to send one request; report how it went with [`Permit::record`].
/// Dropped unreported, it counts as [`Outcome::Abandoned`] (so a probe
/// that was abandoned frees its place).
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    done: bool,
}

impl Permit<'_> {
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    pub fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.breaker.record(self.probe, outcome);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.record(self.probe, Outcome::Abandoned);
        }
    }
}

// ANCHOR: half-open
/// Open → Half-open once `open_for` has passed. Returns whether the
/// breaker is half-open now.
fn half_open_if_due(state: &mut State, now: Instant) -> bool {
    if let State::Open { until } = *state
        && now >= until
    {
        *state = State::HalfOpen {
            admitted: 0,
            succeeded: 0,
        };
    }
    matches!(state, State::HalfOpen { .. })
}
// ANCHOR_END: half-open

// ANCHOR: breaker
fn admit(state: &mut State, now: Instant, config: &BreakerConfig) -> Admission {
    if half_open_if_due(state, now) {
        if let State::HalfOpen { admitted, .. } = state
            && *admitted < config.probes
        {
            *admitted += 1;
            return Admission::Probe;
        }
        return Admission::Reject;
    }
    match state {
        State::Closed { .. } => Admission::Pass,
        _ => Admission::Reject,
    }
}

fn record(state: &mut State, probe: bool, outcome: Outcome, now: Instant, config: &BreakerConfig) {
    let open = State::Open {
        until: now + config.open_for,
    };
    match (*state, probe, outcome) {
        (State::Closed { .. }, false, Outcome::Success) => *state = State::Closed { failures: 0 },
        (State::Closed { failures }, false, Outcome::Failure) => {
            *state = if failures + 1 >= config.failure_threshold {
                open
            } else {
                State::Closed {
                    failures: failures + 1,
                }
            };
        }
        (
            State::HalfOpen {
                admitted,
                succeeded,
            },
            true,
            Outcome::Success,
        ) => {
            *state = if succeeded + 1 >= config.probes {
                State::Closed { failures: 0 }
            } else {
                State::HalfOpen {
                    admitted,
                    succeeded: succeeded + 1,
                }
            };
        }
        (State::HalfOpen { .. }, true, Outcome::Failure) => *state = open,
        (
            State::HalfOpen {
                admitted,
                succeeded,
            },
            true,
            Outcome::Abandoned,
        ) => {
            *state = State::HalfOpen {
                admitted: admitted.saturating_sub(1),
                succeeded,
            };
        }
        // A request let through in an earlier state reporting late: it says
        // nothing about the server as it is now.
        _ => {}
    }
}
// ANCHOR_END: breaker

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(1),
            probes: 1,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_fails_fast_half_opens_and_closes_or_reopens() {
        let b = Breaker::new(config());
        for _ in 0..2 {
            b.admit().unwrap().record(Outcome::Failure);
        }
        // A success resets the count.
        b.admit().unwrap().record(Outcome::Success);
        for _ in 0..2 {
            b.admit().unwrap().record(Outcome::Failure);
        }
        assert!(matches!(b.state(), State::Closed { failures: 2 }));
        b.admit().unwrap().record(Outcome::Failure);
        assert!(matches!(b.state(), State::Open { .. }));
        assert!(b.admit().is_none());
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(b.admit().is_none(), "still open just before open_for");
        tokio::time::advance(Duration::from_millis(1)).await;
        let probe = b.admit().unwrap();
        assert!(probe.is_probe());
        assert!(b.admit().is_none(), "one probe at a time");
        probe.record(Outcome::Failure);
        assert!(
            matches!(b.state(), State::Open { .. }),
            "a failed probe reopens"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        // An abandoned probe frees its place.
        drop(b.admit().unwrap());
        let probe = b.admit().unwrap();
        probe.record(Outcome::Success);
        assert_eq!(b.state(), State::Closed { failures: 0 });
        assert!(!b.admit().unwrap().is_probe());
    }

    #[tokio::test(start_paused = true)]
    async fn late_reports_from_before_the_opening_are_ignored() {
        let b = Breaker::new(config());
        let late = b.admit().unwrap();
        for _ in 0..3 {
            b.admit().unwrap().record(Outcome::Failure);
        }
        late.record(Outcome::Success);
        assert!(matches!(b.state(), State::Open { .. }));
    }
}
