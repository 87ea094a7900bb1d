//! `leak` and `leak-fixed`: lab-06's catalog case `sender-kept`, a task
//! that never finishes, and its fix.
//!
//! A worker drains a job queue with `while let Some(job) = rx.recv()`,
//! passing results to a reader task. The caller is done with the queue,
//! but the struct that owns the queue's `Sender` lives on, so `recv`
//! never returns `None`: the worker waits forever, and so does the reader
//! behind it. The fix (the catalog's) shuts down explicitly: the worker
//! also watches a `CancellationToken`, both tasks run under a
//! `TaskTracker`, and the caller cancels, closes the tracker and waits.
//!
//! The catalog's own scenario functions spawn their tasks inside
//! themselves (on a multi-threaded runtime), where no recorder can wrap
//! them, so the scene re-expresses the case with the same building
//! blocks: lab-06's [`lab_06::track`] (the leak detector's registry) and
//! [`lab_06::LeakCheck`], whose verdict ends the scene. Two changes make
//! it deterministic: a `current_thread` runtime on the paused clock, and
//! `biased;` in the fix's `select!` (an unbiased one picks a branch at
//! random).

use std::time::Duration;

use anyhow::Result;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::recorder::Recorder;
use crate::tasks::Tasks;
use crate::trace::{Clock, Kind, Trace};

pub const LEAK: &str = "leak";
pub const FIXED: &str = "leak-fixed";
pub const LEAK_TITLE: &str = "A task that never finishes (lab-06's sender-kept)";
pub const FIXED_TITLE: &str = "The same tasks, shut down on purpose";

/// The catalog case both scenes re-express.
pub const CASE: &str = "sender-kept";

/// A service whose worker drains a queue (the catalog's `Queue`).
struct Queue {
    tx: mpsc::Sender<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Leak,
    Fixed,
}

pub fn record_leak() -> Result<Trace> {
    record(Side::Leak)
}

pub fn record_fixed() -> Result<Trace> {
    record(Side::Fixed)
}

fn record(side: Side) -> Result<Trace> {
    let (name, title) = match side {
        Side::Leak => (LEAK, LEAK_TITLE),
        Side::Fixed => (FIXED, FIXED_TITLE),
    };
    let rt = crate::tasks::paused_runtime()?;
    let (trace, queue) = rt.block_on(async {
        let rec = Recorder::new(name, title, Clock::Paused);
        let tasks = Tasks::with_panel(&rec, "live tasks");
        let queue = tasks.wrap("caller", caller(tasks.clone(), side)).await;
        // The trace ends here: when the runtime shuts down it drops the
        // leaked tasks, which is not their ending.
        tasks.close();
        (rec.trace(), queue)
    });
    drop(queue);
    Ok(trace)
}

/// What the caller (a test, a service's owner) does. Returns the queue,
/// which lives on after the scene, as the catalog's scenario hands it
/// back.
// ANCHOR: leak-scene
async fn caller(tasks: Tasks, side: Side) -> Queue {
    let check = lab_06::LeakCheck::start();
    let (tx, mut rx) = mpsc::channel::<u64>(16);
    let (done_tx, mut done_rx) = mpsc::channel::<u64>(16);
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();

    let t = tasks.clone();
    let s = stop.clone();
    let worker = lab_06::track(async move {
        loop {
            let job = match side {
                Side::Leak => rx.recv().await,
                Side::Fixed => tokio::select! {
                    biased;
                    job = rx.recv() => job,
                    _ = s.cancelled() => {
                        t.step(Kind::Note, "sees the cancellation; returns");
                        return;
                    }
                },
            };
            let Some(job) = job else {
                t.step(Kind::Note, "the queue is closed; returns");
                return;
            };
            t.step(Kind::Recv, format!("gets job {job}"));
            t.step(Kind::Send, format!("passes on result {}", job * 2));
            let _ = done_tx.send(job * 2).await;
        }
    });
    let t = tasks.clone();
    let reader = lab_06::track(async move {
        while let Some(r) = done_rx.recv().await {
            t.step(Kind::Recv, format!("gets result {r}"));
        }
        t.step(Kind::Note, "no more results; returns");
    });
    match side {
        Side::Leak => {
            // Detached: nothing will ever stop them.
            drop(tasks.spawn("worker", worker));
            drop(tasks.spawn("results reader", reader));
        }
        Side::Fixed => {
            // `tracker.spawn(f)` is `tokio::spawn(tracker.track_future(f))`;
            // written out so the recorder can wrap the tracked future.
            drop(tokio::spawn(
                tasks.wrap("worker", tracker.track_future(worker)),
            ));
            drop(tokio::spawn(
                tasks.wrap("results reader", tracker.track_future(reader)),
            ));
        }
    }
    // Let both tasks start and wait for work.
    tokio::time::sleep(Duration::from_millis(1)).await;

    let queue = Queue { tx };
    tasks.step(Kind::Send, "sends job 1 into the queue");
    let _ = queue.tx.send(1).await;
    tokio::time::sleep(Duration::from_millis(1)).await;

    match side {
        Side::Leak => {
            tasks.step(
                Kind::Note,
                "is done with the queue, but the Queue struct (and its Sender) lives on",
            );
        }
        Side::Fixed => {
            tasks.step(
                Kind::Note,
                "is done: stop.cancel(), tracker.close(), tracker.wait()",
            );
            stop.cancel();
            tracker.close();
            tracker.wait().await;
            tasks.step(Kind::Note, "tracker.wait() returns: every task has ended");
        }
    }

    // lab-06's verdict, as a test ending in `LeakCheck::verify` would see
    // it (one look; verify's retries would only sleep on the paused clock).
    let (leaked, untracked) = check.look();
    let mut lines: Vec<String> = leaked
        .iter()
        .map(|t| {
            let file = t.site.file().rsplit('/').next().unwrap_or(t.site.file());
            format!("leaked: a task spawned at {file}:{}", t.site.line())
        })
        .collect();
    if untracked > 0 {
        lines.push(format!("leaked: {untracked} untracked task(s)"));
    }
    let verdict = if lines.is_empty() {
        "lab-06's LeakCheck: no task left behind".to_owned()
    } else {
        format!(
            "lab-06's LeakCheck: {} task(s) still alive",
            leaked.len() + untracked
        )
    };
    if lines.is_empty() {
        lines.push("no task left behind".to_owned());
    }
    tasks.recorder().set("lab-06 check", lines);
    tasks.step(Kind::Note, verdict);
    queue
}
// ANCHOR_END: leak-scene

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Step;

    fn lane(t: &Trace, name: &str) -> usize {
        t.lanes.iter().position(|l| l.name == name).unwrap()
    }

    fn exits(t: &Trace, name: &str) -> Vec<Step> {
        let l = lane(t, name);
        t.steps
            .iter()
            .filter(|s| s.lane == l && s.kind == Kind::Exit)
            .cloned()
            .collect()
    }

    /// The step with lab-06's verdict.
    fn verdict(t: &Trace) -> &Step {
        t.steps
            .iter()
            .find(|s| s.label.starts_with("lab-06's LeakCheck"))
            .unwrap()
    }

    #[test]
    fn the_leaked_tasks_never_exit_and_the_check_names_them() {
        let t = record_leak().unwrap();
        t.validate().unwrap();
        assert!((20..=150).contains(&t.steps.len()), "{}", t.steps.len());
        assert!(exits(&t, "worker").is_empty(), "{:#?}", t.outline());
        assert!(exits(&t, "results reader").is_empty());
        let last = verdict(&t);
        assert_eq!(last.label, "lab-06's LeakCheck: 2 task(s) still alive");
        assert_eq!(
            last.state["live tasks"],
            [
                "caller: running (being polled)",
                "worker: waiting to be woken",
                "results reader: waiting to be woken"
            ]
        );
        assert!(last.state["lab-06 check"][0].contains("leak.rs"));
    }

    #[test]
    fn the_fix_ends_both_tasks_and_the_cancel_is_what_wakes_the_worker() {
        let t = record_fixed().unwrap();
        t.validate().unwrap();
        assert!((20..=150).contains(&t.steps.len()), "{}", t.steps.len());
        assert_eq!(exits(&t, "worker").len(), 1, "{:#?}", t.outline());
        assert_eq!(exits(&t, "results reader").len(), 1);
        let last = verdict(&t);
        assert_eq!(last.label, "lab-06's LeakCheck: no task left behind");
        assert_eq!(last.state["live tasks"], ["caller: running (being polled)"]);
        // The worker's last wake comes from the caller's cancel step.
        let w = lane(&t, "worker");
        let wake = t
            .steps
            .iter()
            .rev()
            .find(|s| s.lane == w && s.kind == Kind::Wake)
            .unwrap();
        let cause = &t.steps[wake.cause.unwrap()];
        assert_eq!(t.lanes[cause.lane].name, "caller");
        assert!(cause.label.contains("stop.cancel()"), "{}", cause.label);
    }

    #[test]
    fn both_record_the_same_trace_twice() {
        assert_eq!(record_leak().unwrap(), record_leak().unwrap());
        assert_eq!(record_fixed().unwrap(), record_fixed().unwrap());
    }
}
