//! Reference solution of `wake-edge`.

use lab_07::trace::{Kind, Trace};
use tokio::sync::mpsc;

use crate::support::record;

/// What the producer sends, in order.
pub const VALUES: [u64; 3] = [3, 5, 8];

/// Runs the pipeline under the recorder; returns its trace and the sum.
// ANCHOR: solution
pub fn record_pipeline() -> std::io::Result<(Trace, u64)> {
    record("pipeline", |tasks| async move {
        // Each value travels with the index of the step that sent it, so
        // the receive can name its cause.
        let (tx, mut rx) = mpsc::channel::<(u64, Option<usize>)>(1);
        let t = tasks.clone();
        let producer = tasks.spawn("producer", async move {
            for v in VALUES {
                let sent = t.step(Kind::Send, format!("sends {v}"));
                if tx.send((v, sent)).await.is_err() {
                    break;
                }
            }
        });
        let t = tasks.clone();
        let consumer = tasks.spawn("consumer", async move {
            let mut sum = 0;
            while let Some((v, sent)) = rx.recv().await {
                t.step_caused(Kind::Recv, format!("receives {v}"), sent);
                sum += v;
            }
            sum
        });
        let _ = producer.await;
        consumer.await.unwrap_or(0)
    })
}
// ANCHOR_END: solution
