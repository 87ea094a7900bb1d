//! Exercise `who-runs-next`: predict the order in which a `current_thread`
//! runtime polls the tasks of `three_tasks` (in `src/support.rs`), before
//! you record it.
//!
//! Write the lane names (`main`, `a`, `b`, `c`) in the order of their
//! `poll-start` steps, one entry per poll. The tests in
//! `tests/who_runs_next.rs` record the program with lab-07's `Tasks` and
//! compare.

/// The tasks' polls, in order: one name per poll.
pub fn predicted_polls() -> Vec<&'static str> {
    vec![]
}
