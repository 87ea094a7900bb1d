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
//! Your task: [`Pacer`].
//!
//! - [`Pacer::new`]`(rate_per_sec)`: panics, with a message that contains
//!   `rate_per_sec`, unless the rate is finite and positive. Nothing
//!   starts yet.
//! - [`Pacer::wait`]: `start` is the instant of the first call, so the
//!   first call returns 1 at once (request 0 is due at `start`). Every call
//!   blocks the calling thread until at least one request not yet returned
//!   is due, then returns how many are due now (`>= 1`) and counts them as
//!   handed out, so the next call waits for the one after.
//! - Block with `std::thread::sleep`, never by spinning on the clock: a
//!   pacer that burns a core competes with the server it measures (on a
//!   2-core machine, for half of it). The tests check the thread's CPU time.
//! - Never drift: when a wake-up comes late, return more than one, never
//!   move the schedule. After `wait` returned 2 at 1000/s, a caller that is
//!   busy for 20 ms gets about 20 from the next call.
//!
//! Check it with `cargo xtask exercise check lab-03 pacing`.

use std::time::Instant;

/// Hands out requests on the schedule `start + i / rate`.
#[derive(Debug)]
#[allow(dead_code)] // The fields are yours to use.
pub struct Pacer {
    /// Requests per second.
    rate: f64,
    /// The first call to `wait`.
    start: Option<Instant>,
    /// How many requests `wait` has returned so far.
    sent: u64,
}

impl Pacer {
    /// A pacer for `rate_per_sec` requests per second.
    pub fn new(rate_per_sec: f64) -> Self {
        let _ = rate_per_sec;
        todo!("exercise pacing: check the rate, start nothing yet")
    }

    /// Sleeps until at least one request is due, then returns how many are
    /// due now (at least 1).
    pub fn wait(&mut self) -> u64 {
        todo!("exercise pacing: count what is due by start + i / rate, sleep if nothing is")
    }
}
