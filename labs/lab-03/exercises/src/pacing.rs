//! # Exercise 3: pace an open model without drifting
//!
//! An open-model load generator sends at a fixed rate whatever the server
//! does, like independent users who do not wait for each other. The
//! obvious way to send 10,000 requests a second is wrong:
//!
//! ```ignore
//! loop {
//!     send();
//!     std::thread::sleep(Duration::from_secs_f64(1.0 / rate)); // 100 µs
//! }
//! ```
//!
//! Each turn takes the 100 µs asked for, *plus* the time `send` took,
//! *plus* however late the OS wakes the thread: Linux's default timer
//! slack alone is 50 µs, scheduling adds more, milliseconds on a busy
//! machine. The errors only ever add, so the loop falls short of its rate
//! (here by a third from the timer slack alone), and after any hiccup every
//! later request goes out later: the schedule drifts. Worse, a slow `send`
//! slows the generator, so it quietly turns back into the closed model it
//! meant to replace.
//!
//! The fix is to keep a fixed schedule, request `i` due at `start + i /
//! rate`, and to ask "how many are due by now?" instead of "how long since
//! the last one?". A late wake-up then finds several requests due and
//! sends them all at once: the rate holds, and no lateness carries over.
//!
//! The pacer reads the time and sleeps through a [`Clock`]
//! (`src/clock.rs`): [`SystemClock`] in a program, a simulated clock in
//! the tests, which wakes you late on purpose, by up to tens of
//! milliseconds as a busy machine would, and counts every time you look
//! at it. So the tests are exact, and a busy machine cannot fail them.
//!
//! Your task: [`Pacer::with_clock`] and [`Pacer::wait`] (`new` is done).
//!
//! - [`Pacer::with_clock`]`(rate_per_sec, clock)`: panics, with a message
//!   that contains `rate_per_sec`, unless the rate is finite and positive.
//!   Nothing starts yet.
//! - [`Pacer::wait`]: `start` is the clock's time at the first call, so
//!   the first call returns 1 at once (request 0 is due at `start`). Every
//!   call blocks until at least one request not yet returned is due, then
//!   returns how many are due now (`>= 1`) and counts them as handed out,
//!   so the next call waits for the one after.
//! - Block with [`Clock::sleep`], never by looking at the clock in a loop:
//!   a pacer that spins competes with the server it measures (on a 2-core
//!   machine, for half of it). The simulated clock charges each look and
//!   each sleep a little CPU, and the tests add it up.
//! - Never drift: when a wake-up comes late, return more than one, never
//!   move the schedule. After `wait` returned 2 at 1000/s, a caller that is
//!   busy for 20 ms gets about 20 from the next call.
//!
//! What you need: [`Clock::now`] (a `Duration` since the clock's origin),
//! [`Clock::sleep`], and `Duration`'s `as_secs_f64`, `from_secs_f64` and
//! `saturating_sub`.
//!
//! Check it with `cargo xtask exercise check lab-03 pacing`.

use std::time::Duration;

pub use crate::clock::{Clock, SystemClock};

/// Hands out requests on the schedule `start + i / rate`.
#[derive(Debug)]
#[allow(dead_code)] // The fields are yours to use.
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

impl<C: Clock> Pacer<C> {
    /// A pacer for `rate_per_sec` requests per second on `clock`.
    pub fn with_clock(rate_per_sec: f64, clock: C) -> Self {
        let _ = (rate_per_sec, clock);
        todo!("exercise pacing: check the rate, start nothing yet")
    }

    /// Sleeps until at least one request is due, then returns how many are
    /// due now (at least 1).
    pub fn wait(&mut self) -> u64 {
        todo!("exercise pacing: count what is due by start + i / rate, sleep if nothing is")
    }
}
