//! What the exercises share and do not ask you to change: the runtime they
//! record under, and the program whose order `who-runs-next` predicts.

use std::future::Future;
use std::time::Duration;

use lab_07::recorder::Recorder;
use lab_07::tasks::{Tasks, paused_runtime};
use lab_07::trace::{Clock, Trace};

/// Runs `body` as the recorded task `main` on a `current_thread` runtime
/// with tokio's clock paused, and returns the trace: the same on every run.
pub fn record<Fut, T>(scene: &str, body: impl FnOnce(Tasks) -> Fut) -> std::io::Result<(Trace, T)>
where
    Fut: Future<Output = T>,
{
    let rt = paused_runtime()?;
    Ok(rt.block_on(async {
        let rec = Recorder::new(scene, scene, Clock::Paused);
        let tasks = Tasks::with_panel(&rec, "tasks");
        let out = tasks.wrap("main", body(tasks.clone())).await;
        tasks.close();
        (rec.trace(), out)
    }))
}

/// The program of `who-runs-next`. Read it; do not change it.
///
/// `main` spawns three tasks, then waits for each in turn:
/// - `a` waits for a message from `c`;
/// - `b` sleeps for one millisecond;
/// - `c` yields once, then sends `a` its message.
// ANCHOR: program
pub async fn three_tasks(tasks: Tasks) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let a = tasks.spawn("a", async move {
        let _ = rx.await;
    });
    let b = tasks.spawn("b", async {
        tokio::time::sleep(Duration::from_millis(1)).await;
    });
    let c = tasks.spawn("c", async move {
        tokio::task::yield_now().await;
        let _ = tx.send(());
    });
    let _ = a.await;
    let _ = b.await;
    let _ = c.await;
}
// ANCHOR_END: program
