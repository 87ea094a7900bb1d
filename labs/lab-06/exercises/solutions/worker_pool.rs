//! Exercise `worker-pool`, solved. (The statement is in
//! `src/worker_pool.rs`; tracked spawns are in `labs/lab-06/src/track.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub type Job = u64;

// ANCHOR: solution
pub struct Pool {
    tx: mpsc::Sender<Job>,
    done: Arc<AtomicU64>,
    taken: Arc<AtomicU64>,
    stop: CancellationToken,
    workers: TaskTracker,
}

impl Pool {
    pub fn start(workers: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(64);
        let rx = Arc::new(Mutex::new(rx));
        let done = Arc::new(AtomicU64::new(0));
        let taken = Arc::new(AtomicU64::new(0));
        let stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        for _ in 0..workers {
            let (rx, done, taken) = (rx.clone(), done.clone(), taken.clone());
            let stop = stop.clone();
            tracker.spawn(lab_06::track(async move {
                loop {
                    // Wait for a job or the stop, whichever comes first...
                    let job = tokio::select! {
                        job = async { rx.lock().await.recv().await } => job,
                        _ = stop.cancelled() => return,
                    };
                    let Some(ms) = job else { return };
                    taken.fetch_add(1, Ordering::Relaxed);
                    // ...but a job once taken runs to the end.
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        Self {
            tx,
            done,
            taken,
            stop,
            workers: tracker,
        }
    }

    pub async fn shutdown(self) -> u64 {
        self.stop.cancel();
        self.workers.close();
        self.workers.wait().await;
        self.done()
    }
    // ANCHOR_END: solution

    pub fn submitter(&self) -> Submitter {
        Submitter {
            tx: self.tx.clone(),
        }
    }

    pub fn taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
pub struct Submitter {
    tx: mpsc::Sender<Job>,
}

impl Submitter {
    pub async fn submit(&self, job: Job) -> bool {
        self.tx.send(job).await.is_ok()
    }
}
