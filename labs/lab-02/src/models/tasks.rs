//! Model 2: a task per connection on tokio's multi-threaded runtime, the
//! data in lab-01's sharded cache.
//!
//! Each connection is a task that reads, runs its commands (each one
//! locks the shard that holds its key, for that command only), makes its
//! log records durable, and writes its replies. The runtime spreads tasks
//! over its worker threads, so a slow command blocks one worker, not the
//! server; the cost is a lock per command and data shared between cores.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::keyspace::{Keyspace, LockedParts};
use super::tokio_conn::{self, Batch};
use crate::conn::{self, Conn, Next};
use crate::db::SharedStore;
use crate::shared::Shared;

/// Keys active expiry may look at per round (every 100 ms).
const EXPIRE_BUDGET: usize = 200;

pub fn run(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    keyspace: Keyspace,
    ready: Sender<Result<()>>,
) -> Result<()> {
    let Keyspace::Locked(cache) = keyspace else {
        bail!("task-per-connection needs lab-01's sharded cache");
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(shared.config.thread_count())
        // Numbered, so a profile tells the workers apart.
        .thread_name_fn(|| {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("lab-02-worker-{n}")
        })
        .enable_all()
        .build()?;
    let result = rt.block_on(serve(shared, listener, cache, ready));
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn serve(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    cache: Arc<SharedStore>,
    ready: Sender<Result<()>>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    shared.publish_runtime("task-per-connection".into());
    let mut stop = tokio_conn::stop_signal(&shared);
    {
        let (cache, shared, mut stop) = (cache.clone(), shared.clone(), stop.clone());
        let token = shared.config.task_hook.token();
        tokio::spawn(async move {
            let _token = token;
            use lab_01::Cache;
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                cache.expire_step(EXPIRE_BUDGET);
                shared
                    .keys
                    .store(cache.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    let _ = ready.send(Ok(()));
    while let Some((mut stream, addr)) =
        tokio_conn::accept_admitted(&listener, &shared, &mut stop).await
    {
        let monitor = shared.task_monitor.clone();
        let (shared, cache, stop) = (shared.clone(), cache.clone(), stop.clone());
        let token = shared.config.task_hook.token();
        let task = async move {
            let _token = token;
            let session = conn::new_session(&shared, addr);
            let mut conn = Conn::new(session);
            serve_conn(&mut stream, &mut conn, &shared, &cache, stop).await;
            shared.release(conn.commands);
        };
        match monitor {
            Some(m) => drop(tokio::spawn(m.instrument(task))),
            None => drop(tokio::spawn(task)),
        }
    }
    drop(listener);
    tokio_conn::drain(&shared).await;
    Ok(())
}

// ANCHOR: task-per-connection
/// One batch on lab-01's shards: each command locks the shard that holds
/// its key, for that command only.
struct TaskBatch<'a> {
    parts: LockedParts<'a>,
    shared: &'a Shared,
    limits: crate::resp::Limits,
}

impl Batch for TaskBatch<'_> {
    async fn run(&mut self, conn: &mut Conn) -> (Next, u64) {
        let parts = &mut self.parts;
        let next = conn::process(conn, &self.limits, self.shared, |work, out| {
            parts.work(work, out)
        });
        (next, self.parts.logged_upto)
    }
}
// ANCHOR_END: task-per-connection

impl tokio_conn::Lane for TaskBatch<'_> {
    fn lane(&self, conn: &Conn) -> (String, &'static str) {
        (format!("task {}", conn.session.id), "task")
    }
}

async fn serve_conn(
    stream: &mut TcpStream,
    conn: &mut Conn,
    shared: &Shared,
    cache: &SharedStore,
    stop: watch::Receiver<bool>,
) {
    let mut batch = TaskBatch {
        parts: LockedParts::new(
            cache,
            shared.aof.as_deref(),
            shared.log(),
            Some(&shared.watches),
        ),
        shared,
        limits: shared.config.limits(),
    };
    // Named, so that a recording (lab-07) shows its commands on the
    // task's lane.
    batch.parts.task = Some(conn.session.id);
    tokio_conn::serve_async(stream, conn, shared, &mut batch, stop).await;
}
