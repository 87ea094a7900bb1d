//! # Exercise 2: correct for coordinated omission
//!
//! A *closed-model* client sends a request, waits for the answer, then
//! sends the next. When the server stalls for a second, such a client
//! records one slow request and then politely sends nothing for that
//! second: the requests it *would* have sent, the ones real users keep
//! sending during a stall, are never measured. The client has coordinated
//! with the server to omit the bad samples, and its p99 looks fine.
//!
//! There are two ways out, and you write both.
//!
//! **Backfill** (what HdrHistogram's `recordValueWithExpectedInterval`,
//! `record_correct` in Rust, does). If the client meant to send one request
//! every `expected_interval_ns`, then while one request took `latency_ns`,
//! the requests it skipped would have waited `latency - interval`,
//! `latency - 2·interval`, … for the same stall. [`backfill`] appends
//! `latency_ns` to `out` and then, if `expected_interval_ns > 0`, the
//! values `latency - k·interval` for `k = 1, 2, …` while they are at least
//! `interval`. `expected_interval_ns == 0` means "no correction": only the
//! sample is pushed. It appends to `out`, never clears it.
//!
//! ```text
//! backfill(3_500, 1_000, out)  pushes  3500, 2500, 1500
//! backfill(3_000, 1_000, out)  pushes  3000, 2000, 1000
//! backfill(  900, 1_000, out)  pushes   900
//! ```
//!
//! **Measure from the intended start** (what an open-model generator
//! does). Each request has a time it was *meant* to go out (`intended`,
//! from the schedule), the time it actually went out (`sent`, later if the
//! client was stuck) and the time its answer came back (`done`). The
//! latency a user sees is `done - intended`; `done - sent` is only the
//! service time, which a stall behind the client hides.
//! [`from_intended`] returns `(latency, service)`, one entry per request,
//! in order. Nonsense input is an error, not a wrapped-around `u64`:
//!
//! - slices of different lengths: [`CoError::LengthMismatch`] (checked
//!   first, before any index);
//! - otherwise, the first index `i`, in order, where `sent[i] <
//!   intended[i]` ([`CoError::SentBeforeIntended`]) or `done[i] < sent[i]`
//!   ([`CoError::DoneBeforeSent`]); if both hold at `i`, it is
//!   `SentBeforeIntended`.
//!
//! Check it with `cargo xtask exercise check lab-03 co-correction`.

/// Why [`from_intended`] refused its input. Given: you do not need to
/// change it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoError {
    /// The three slices do not describe the same requests.
    #[error("{intended} intended starts, {sent} send times and {done} completion times")]
    LengthMismatch {
        intended: usize,
        sent: usize,
        done: usize,
    },
    /// Request `index` went out before the schedule said it should.
    #[error("request {index} was sent at {sent} ns, before its intended start at {intended} ns")]
    SentBeforeIntended {
        index: usize,
        intended: u64,
        sent: u64,
    },
    /// Request `index` completed before it was sent.
    #[error("request {index} completed at {done} ns, before it was sent at {sent} ns")]
    DoneBeforeSent { index: usize, sent: u64, done: u64 },
}

/// Appends `latency_ns` and the samples a closed-model client skipped
/// while waiting for it, given that it meant to send one request every
/// `expected_interval_ns` (0: no correction).
pub fn backfill(latency_ns: u64, expected_interval_ns: u64, out: &mut Vec<u64>) {
    let _ = (latency_ns, expected_interval_ns, out);
    todo!("exercise co-correction: push the sample, then latency - k * interval while >= interval")
}

/// `(latency, service)` per request: `done - intended` and `done - sent`.
pub fn from_intended(
    intended_ns: &[u64],
    sent_ns: &[u64],
    done_ns: &[u64],
) -> Result<(Vec<u64>, Vec<u64>), CoError> {
    let _ = (intended_ns, sent_ns, done_ns);
    todo!("exercise co-correction: validate, then measure from the intended start")
}
