//! Exercise `retry-policy`: write the retry loop a client wraps around
//! each request. `call` sends `args` through `server.attempt` and, when an
//! attempt fails, decides whether to send it again and when:
//!
//! - only a *transient* failure (`NetError::class`, in
//!   `labs/lab-05/src/error.rs`) is worth another try (a timeout, a refused
//!   connect, a reset, a broken pipe, a connection closed early, running
//!   out of descriptors); an error reply or a protocol error will fail the
//!   same way again;
//! - a command that is not idempotent (`INCR` here; `is_idempotent` tells
//!   you) may be sent again only if the failed attempt never left
//!   (`NetError::sent` is false): otherwise the server may have run it
//!   already;
//! - before retry `n` (1 for the first retry), wait `base × 2^(n-1)`,
//!   never more than `cap`;
//! - at most `max_attempts` attempts in all, and no retry that would start
//!   after `deadline` (measured on tokio's clock from the call's start):
//!   return the last error instead.
//!
//! The tests in `tests/retry_policy.rs` run under tokio's paused clock
//! against `Scripted` (in `labs/lab-05/exercises/src/support.rs`), which fails on cue and records when each
//! attempt came. The lab's own loop is `ResilientClient::call` in
//! `labs/lab-05/src/client/mod.rs`, with `may_retry` in `policy.rs`; open
//! them after you are done.

use lab_02::resp::Frame;
use lab_05::error::NetError;
use tokio::time::Duration;

use crate::support::Scripted;

/// The loop's settings.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// No retry starts later than this after the call began.
    pub deadline: Duration,
}

/// Whether sending `args` twice leaves the same state as sending it once.
pub fn is_idempotent(args: &[&[u8]]) -> bool {
    lab_05::client::policy::is_idempotent(args)
}

/// Sends `args`, retrying as the policy allows.
pub async fn call(server: &Scripted, args: &[&[u8]], policy: &Policy) -> Result<Frame, NetError> {
    let _ = policy;
    // One attempt, whatever happens: every transient failure reaches the
    // caller.
    server.attempt(args).await
}
