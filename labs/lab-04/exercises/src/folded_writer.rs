//! Exercise `folded-writer`: turn a profiler's raw samples into folded
//! stacks, the text every flame graph tool reads.
//!
//! A sampler records, for each sample, the thread and its frames *leaf
//! first* (the function that was running, then its caller, and so on), and
//! each frame as the list of functions at that address, *innermost first*
//! (a function inlined into another shares its caller's address). Folded
//! stacks go the other way: one line per distinct stack, the thread first,
//! then the frames from the root to the leaf, separated by `;`, then a
//! space and the number of samples:
//!
//! ```text
//! worker-0;main;serve;get 12
//! ```
//!
//! Rules the tests check: identical stacks are merged into one line (their
//! counts added); samples with a count of 0 are left out; a `;` inside a
//! name would split a frame, so it becomes `:`; lines are sorted, so the
//! same samples always give the same text. Open `lab-04/src/stacks.rs` only
//! after you are done: it has the lab's own version.
//!
//! Where to look: `labs/lab-04/exercises/src/support.rs` (`RawSample`, what
//! the sampler hands you).

pub use crate::support::RawSample;

/// The folded text of `samples`, each line ending in `\n`.
pub fn to_folded(samples: &[RawSample]) -> String {
    let _ = samples;
    todo!("one line per distinct stack: thread;root;…;leaf count")
}
