//! Exercise `wake-edge`: record a pipeline so that its trace shows who
//! woke whom.
//!
//! A producer sends [`VALUES`] into a channel with room for one value; a
//! consumer adds them up. The program works, but it spawns its tasks with
//! plain `tokio::spawn`, so the recording has nothing but `main`. Record
//! it properly: the tests in `tests/wake_edge.rs` read the trace.
//!
//! Uses `record` from `src/support.rs` and lab-07's `Tasks`
//! (`labs/lab-07/src/tasks.rs`).

use lab_07::trace::Trace;
use tokio::sync::mpsc;

use crate::support::record;

/// What the producer sends, in order.
pub const VALUES: [u64; 3] = [3, 5, 8];

/// Runs the pipeline under the recorder; returns its trace and the sum.
pub fn record_pipeline() -> std::io::Result<(Trace, u64)> {
    record("pipeline", |_tasks| async move {
        let (tx, mut rx) = mpsc::channel::<u64>(1);
        let producer = tokio::spawn(async move {
            for v in VALUES {
                if tx.send(v).await.is_err() {
                    break;
                }
            }
        });
        let consumer = tokio::spawn(async move {
            let mut sum = 0;
            while let Some(v) = rx.recv().await {
                sum += v;
            }
            sum
        });
        let _ = producer.await;
        consumer.await.unwrap_or(0)
    })
}
