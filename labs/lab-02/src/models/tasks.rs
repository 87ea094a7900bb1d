//! Model 2: a task per connection on tokio's multi-threaded runtime, the
//! data in lab-01's sharded cache.
//!
//! Each connection is a task that reads, runs its commands (each one
//! locks the shard that holds its key, for that command only), makes its
//! log records durable, and writes its replies. The runtime spreads tasks
//! over its worker threads, so a slow command blocks one worker, not the
//! server; the cost is a lock per command and data shared between cores.
//!
//! A slow command ([`cmd::is_slow`]: KEYS) runs where `--slow-commands`
//! says: inline on the worker (the default), on tokio's blocking pool, or
//! inside `block_in_place`. Only this model can move it: the cache is
//! shared, so any thread may lock a shard.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::Sender;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::keyspace::{Keyspace, LockedParts};
use super::tokio_conn::{self, Batch};
use crate::cmd::{self, Spec};
use crate::config::SlowCommands;
use crate::conn::{self, Conn, Deferral, Next, Work};
use crate::db::SharedStore;
use crate::resp3;
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
    /// Where a slow command runs, and what the blocking pool needs.
    offload: Offload,
}

impl Batch for TaskBatch<'_> {
    async fn run(&mut self, conn: &mut Conn) -> (Next, u64) {
        let parts = &mut self.parts;
        let next = match &self.offload {
            Offload::Inline => conn::process(conn, &self.limits, self.shared, |work, out| {
                parts.work(work, out)
            }),
            Offload::BlockInPlace => block_in_place(conn, &self.limits, self.shared, parts),
            Offload::SpawnBlocking { shared, cache } => {
                spawn_blocking(conn, &self.limits, shared, cache, parts).await
            }
        };
        (next, self.parts.logged_upto)
    }
}
// ANCHOR_END: task-per-connection

/// `--slow-commands`, with what each way needs.
enum Offload {
    Inline,
    BlockInPlace,
    /// A task on the blocking pool must own what it uses (`'static`).
    SpawnBlocking {
        shared: Arc<Shared>,
        cache: Arc<SharedStore>,
    },
}

// ANCHOR: block-in-place
/// `--slow-commands block-in-place`: a slow command runs right here, on
/// this thread, but inside `block_in_place`, which first hands this
/// worker's run queue (and its place in the runtime) to another thread,
/// so the tasks queued behind this one do not wait for the command.
fn block_in_place(
    conn: &mut Conn,
    limits: &crate::resp::Limits,
    shared: &Shared,
    parts: &mut LockedParts<'_>,
) -> Next {
    conn::process(conn, limits, shared, |work, out| match work {
        Work::Command(spec, _) if cmd::is_slow(spec) => {
            shared.offloaded.fetch_add(1, Relaxed);
            tokio::task::block_in_place(|| parts.work(work, out))
        }
        work => parts.work(work, out),
    })
}
// ANCHOR_END: block-in-place

// ANCHOR: spawn-blocking
/// `--slow-commands spawn-blocking`: the request loop stops at a slow
/// command (a barrier: no later request runs before it), which then runs
/// on tokio's blocking pool with owned copies of its arguments, while this
/// task waits without holding its worker. Its reply goes at the end of the
/// output, where the request loop would have put it, reshaped for RESP3
/// as its request decided; the requests after it run in the next batch.
async fn spawn_blocking(
    conn: &mut Conn,
    limits: &crate::resp::Limits,
    shared: &Arc<Shared>,
    cache: &Arc<SharedStore>,
    parts: &mut LockedParts<'_>,
) -> Next {
    let mut slow: Option<(&'static Spec, Vec<Vec<u8>>)> = None;
    // At most one deferred reply per batch: the slow command is a barrier.
    let next = conn::process_deferring(conn, limits, shared, 1, |work, out| match work {
        Work::Command(spec, args) if cmd::is_slow(spec) => {
            slow = Some((spec, args.iter().map(|a| a.to_vec()).collect()));
            Deferral::Barrier
        }
        work => {
            parts.work(work, out);
            Deferral::No
        }
    });
    let Some((spec, args)) = slow else {
        return next;
    };
    shared.offloaded.fetch_add(1, Relaxed);
    let (shared, cache, task) = (shared.clone(), cache.clone(), parts.task);
    let job = tokio::task::spawn_blocking(move || {
        let mut parts = LockedParts::new(
            &cache,
            shared.aof.as_deref(),
            shared.log(),
            Some(&shared.watches),
        );
        parts.task = task;
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut reply = Vec::new();
        parts.work(Work::Command(spec, &args), &mut reply);
        (reply, parts.logged_upto)
    });
    let reply = match job.await {
        Ok((reply, logged)) => {
            parts.logged_upto = parts.logged_upto.max(logged);
            reply
        }
        // The pool is shutting down, or the command panicked: an error
        // reply in its place, and the connection goes on.
        Err(e) => {
            tracing::error!("{} on the blocking pool failed: {e}", spec.name);
            let mut reply = Vec::new();
            crate::reply::error(&mut reply, "ERR internal: the command did not complete");
            reply
        }
    };
    let start = conn.output.len();
    conn.output.extend_from_slice(&reply);
    if let Some(shape) = conn.deferred_shapes.first().copied().flatten() {
        resp3::convert_tail(shape, &mut conn.output, start);
    }
    next
}
// ANCHOR_END: spawn-blocking

impl tokio_conn::Lane for TaskBatch<'_> {
    fn lane(&self, conn: &Conn) -> (String, &'static str) {
        (format!("task {}", conn.session.id), "task")
    }
}

async fn serve_conn(
    stream: &mut TcpStream,
    conn: &mut Conn,
    shared: &Arc<Shared>,
    cache: &Arc<SharedStore>,
    stop: watch::Receiver<bool>,
) {
    let offload = match shared.config.slow_commands {
        SlowCommands::Inline => Offload::Inline,
        SlowCommands::BlockInPlace => Offload::BlockInPlace,
        SlowCommands::SpawnBlocking => Offload::SpawnBlocking {
            shared: shared.clone(),
            cache: cache.clone(),
        },
    };
    let mut batch = TaskBatch {
        parts: LockedParts::new(
            cache,
            shared.aof.as_deref(),
            shared.log(),
            Some(&shared.watches),
        ),
        shared,
        limits: shared.config.limits(),
        offload,
    };
    // Named, so that a recording (lab-07) shows its commands on the
    // task's lane.
    batch.parts.task = Some(conn.session.id);
    tokio_conn::serve_async(stream, conn, shared, &mut batch, stop).await;
}
