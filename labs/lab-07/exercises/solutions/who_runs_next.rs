//! Reference solution of `who-runs-next`.

/// The tasks' polls, in order: one name per poll.
// ANCHOR: solution
pub fn predicted_polls() -> Vec<&'static str> {
    vec![
        // main spawns all three, then waits for `a`.
        "main", // The run queue is first in, first out: spawn order.
        "a", "b", "c",
        // `c` yielded: it went to the back, behind nobody, so it runs
        // again at once, sends, and wakes `a`.
        "c", "a",    // `a` finished, which wakes `main`; `main` now waits for `b`.
        "main", // Nothing is ready: the paused clock jumps to `b`'s deadline.
        "b",    // `b` finished; `c` had finished already, so `main` does too.
        "main",
    ]
}
// ANCHOR_END: solution
