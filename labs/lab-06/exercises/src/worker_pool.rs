//! Exercise `worker-pool`: a pool of workers that take jobs from a queue.
//! `shutdown` should stop every worker and return once they have all
//! ended, letting a job a worker has already taken finish. As written it
//! only drops the pool's own Sender, so while anyone still holds a
//! `Submitter` the workers wait for jobs forever: a leak.
//!
//! Make `shutdown` stop the workers whoever holds a Submitter, with a
//! `tokio_util::sync::CancellationToken` (tell them to stop) and a
//! `tokio_util::task::TaskTracker` (wait until they have). Spawn through
//! the tracker with `lab_06::track(…)` around each worker so the leak check
//! still names them (`labs/lab-06/src/track.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc};

/// Jobs: how many milliseconds of work.
pub type Job = u64;

pub struct Pool {
    tx: mpsc::Sender<Job>,
    done: Arc<AtomicU64>,
    taken: Arc<AtomicU64>,
}

/// Submits jobs to a pool; cheap to clone and hand out.
#[derive(Clone)]
pub struct Submitter {
    tx: mpsc::Sender<Job>,
}

impl Submitter {
    pub async fn submit(&self, job: Job) -> bool {
        self.tx.send(job).await.is_ok()
    }
}

impl Pool {
    pub fn start(workers: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(64);
        let rx = Arc::new(Mutex::new(rx));
        let done = Arc::new(AtomicU64::new(0));
        let taken = Arc::new(AtomicU64::new(0));
        for _ in 0..workers {
            let (rx, done, taken) = (rx.clone(), done.clone(), taken.clone());
            lab_06::spawn(async move {
                loop {
                    let job = rx.lock().await.recv().await;
                    let Some(ms) = job else { return };
                    taken.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        Self { tx, done, taken }
    }

    pub fn submitter(&self) -> Submitter {
        Submitter {
            tx: self.tx.clone(),
        }
    }

    /// Jobs a worker has taken so far.
    pub fn taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    /// Jobs finished so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Stops the workers, waits until every one has ended, and returns
    /// how many jobs were finished.
    pub async fn shutdown(self) -> u64 {
        let Pool { tx, done, .. } = self;
        drop(tx);
        done.load(Ordering::Relaxed)
    }
}
