//! # Exercise 2: correct for coordinated omission (reference solution)
//!
//! See the starter, `src/co_correction.rs`, for the task and the rules.

/// Why [`from_intended`] refused its input.
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

// ANCHOR: solution
// ANCHOR: backfill
/// Appends `latency_ns` and the samples a closed-model client skipped
/// while waiting for it, given that it meant to send one request every
/// `expected_interval_ns` (0: no correction).
pub fn backfill(latency_ns: u64, expected_interval_ns: u64, out: &mut Vec<u64>) {
    out.push(latency_ns);
    if expected_interval_ns == 0 {
        return;
    }
    // Had the client kept its schedule, it would have sent another request
    // every interval while this one was stuck, and each would have waited
    // for the same stall to end: one interval less than the one before.
    // Stop below one interval: such a request would not have been late.
    let mut missing = latency_ns.saturating_sub(expected_interval_ns);
    while missing >= expected_interval_ns {
        out.push(missing);
        missing -= expected_interval_ns;
    }
}
// ANCHOR_END: backfill

// ANCHOR: from_intended
/// `(latency, service)` per request: `done - intended` and `done - sent`.
pub fn from_intended(
    intended_ns: &[u64],
    sent_ns: &[u64],
    done_ns: &[u64],
) -> Result<(Vec<u64>, Vec<u64>), CoError> {
    if intended_ns.len() != sent_ns.len() || sent_ns.len() != done_ns.len() {
        return Err(CoError::LengthMismatch {
            intended: intended_ns.len(),
            sent: sent_ns.len(),
            done: done_ns.len(),
        });
    }
    let mut latency = Vec::with_capacity(done_ns.len());
    let mut service = Vec::with_capacity(done_ns.len());
    let times = intended_ns.iter().zip(sent_ns).zip(done_ns);
    for (index, ((&intended, &sent), &done)) in times.enumerate() {
        // A negative wait or service time means the clocks or the
        // bookkeeping are wrong; an unsigned subtraction would turn it into
        // a latency of 584 years and poison every quantile after it.
        let queued = sent
            .checked_sub(intended)
            .ok_or(CoError::SentBeforeIntended {
                index,
                intended,
                sent,
            })?;
        let served = done
            .checked_sub(sent)
            .ok_or(CoError::DoneBeforeSent { index, sent, done })?;
        // What the user saw: the time the request spent waiting behind a
        // stuck client counts, because the user was already waiting.
        latency.push(queued + served);
        service.push(served);
    }
    Ok((latency, service))
}
// ANCHOR_END: from_intended
// ANCHOR_END: solution
