//! What every model does when `accept` fails: out of descriptors
//! (`EMFILE`), typically, while established clients still need serving.
//!
//! The connection stays in the kernel's listen backlog, so the loop must
//! try again by itself (no new readiness event may ever come for it), but
//! not at once: the failure repeats until a descriptor is freed, and an
//! immediate retry would spin. It pauses [`AcceptErrors::PAUSE`] between
//! tries, and logs the first failure of a streak and the recovery, not
//! every try (a hundred lines a second would bury the log). lab-05's
//! proxy accepts the same way.

use std::io;
use std::time::Duration;

/// A streak of failed `accept` calls.
#[derive(Debug, Default)]
pub struct AcceptErrors {
    streak: u64,
}

// ANCHOR: accept-errors
impl AcceptErrors {
    /// How long to wait before accepting again after a failure.
    pub const PAUSE: Duration = Duration::from_millis(10);

    /// Records a failed `accept`; returns how long to pause.
    pub fn failed(&mut self, e: &io::Error) -> Duration {
        if self.streak == 0 {
            tracing::warn!(
                "accept failed: {e}; retrying every {:?}, quietly, until it works",
                Self::PAUSE
            );
        }
        self.streak += 1;
        Self::PAUSE
    }

    /// Records a successful `accept`, ending a streak.
    pub fn succeeded(&mut self) {
        if self.streak > 0 {
            tracing::warn!("accepting again, after {} failed tries", self.streak);
            self.streak = 0;
        }
    }
}
// ANCHOR_END: accept-errors
