//! The reference solution of `retry-policy`.

use lab_02::resp::Frame;
use lab_05::Class;
use lab_05::error::NetError;
use tokio::time::{Duration, Instant};

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

// ANCHOR: solution
fn transient(class: Class) -> bool {
    matches!(
        class,
        Class::Timeout
            | Class::Refused
            | Class::ConnectFailed
            | Class::Reset
            | Class::BrokenPipe
            | Class::UnexpectedEof
            | Class::Closed
            | Class::ResourceExhausted
    )
}

/// Sends `args`, retrying as the policy allows.
pub async fn call(server: &Scripted, args: &[&[u8]], policy: &Policy) -> Result<Frame, NetError> {
    let started = Instant::now();
    let idempotent = is_idempotent(args);
    let mut attempt = 1;
    loop {
        let err = match server.attempt(args).await {
            Ok(frame) => return Ok(frame),
            Err(e) => e,
        };
        let safe = transient(err.class()) && (idempotent || !err.sent);
        if !safe || attempt >= policy.max_attempts {
            return Err(err);
        }
        let wait = policy
            .base
            .saturating_mul(1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX))
            .min(policy.cap);
        if started.elapsed() + wait > policy.deadline {
            return Err(err);
        }
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}
// ANCHOR_END: solution
