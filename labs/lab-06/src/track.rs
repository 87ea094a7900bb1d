//! Tracked spawns: every task started through this module is in a
//! registry from the moment it is spawned until its future is dropped,
//! with the source line that spawned it.
//!
//! The registry is written by a token moved into the task's future: the
//! token is created at the spawn and removed from the registry when it is
//! dropped, which happens when the future completes, when the task is
//! aborted, and when its runtime shuts down. Nothing needs tokio's
//! unstable features, so it works with any stable tokio.

use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// Where a task was spawned: a file, line and column of the program.
pub type Site = &'static Location<'static>;

/// How a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A future on a runtime's workers (`spawn`, `spawn_local`, a
    /// `JoinSet` or `TaskTracker` through [`track`]).
    Async,
    /// A closure on the blocking pool (`spawn_blocking`). tokio's
    /// `num_alive_tasks` does not count these.
    Blocking,
}

/// One live tracked task.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    /// The tracker's own id (tokio's task ids need its unstable features
    /// to be read back from a dump).
    pub id: u64,
    pub site: Site,
    pub kind: Kind,
    /// The runtime it was spawned from, if any.
    pub runtime: Option<tokio::runtime::Id>,
    pub spawned: Instant,
    /// tokio's id of the task, recorded by [`spawn`] and [`spawn_on`] in a
    /// `tokio_unstable` build only, where a task dump names tasks by it.
    pub task_id: Option<tokio::task::Id>,
}

/// Shards of the registry. Each thread registers its spawns in its own
/// shard, so spawning threads do not wait for each other.
const SHARDS: usize = 16;

/// Where a task's liveness lives: the task's id while its token exists,
/// 0 once it is dropped. Ending a task is then one atomic store, with no
/// lock and no allocation. One slot per cache line, so tasks ending on
/// different threads do not fight over a line.
#[repr(align(64))]
#[derive(Default)]
struct Slot {
    alive: AtomicU64,
}

/// Slots are allocated this many at a time, and kept for the process's
/// life (reused, never freed): memory bounded by the most tasks ever
/// alive at once, and a token can hold a plain `&'static` reference.
const CHUNK: usize = 1024;

/// One tracked task in a shard, live or not yet swept.
struct Entry {
    id: u64,
    site: Site,
    kind: Kind,
    runtime: Option<tokio::runtime::Id>,
    /// The coarse monotonic clock at the spawn, in nanoseconds.
    spawned_ns: u64,
    slot: &'static Slot,
    task_id: Option<tokio::task::Id>,
}

impl Entry {
    fn is_alive(&self) -> bool {
        self.slot.alive.load(Ordering::Acquire) == self.id
    }

    /// What the outside sees, with the age measured on `now_ns`.
    fn info(&self, now: Instant, now_ns: u64) -> TaskInfo {
        let age = std::time::Duration::from_nanos(now_ns.saturating_sub(self.spawned_ns));
        TaskInfo {
            id: self.id,
            site: self.site,
            kind: self.kind,
            runtime: self.runtime,
            spawned: now.checked_sub(age).unwrap_or(now),
            task_id: self.task_id,
        }
    }
}

/// A shard: its entries, its free slots, the count after the last sweep,
/// and a counter for the ids it hands out.
#[derive(Default)]
struct Shard {
    entries: Vec<Entry>,
    free: Vec<&'static Slot>,
    kept: usize,
    next: u64,
}

impl Shard {
    /// Drops the entries of ended tasks once they outnumber the live ones
    /// at the last sweep: amortised, each entry is swept once.
    fn sweep_if_due(&mut self) {
        if self.entries.len() >= 2 * self.kept.max(32) {
            self.sweep();
        }
    }

    /// Drops the entries of ended tasks and frees their slots (a look
    /// does this too, so a shard whose thread stopped spawning does not
    /// keep them).
    fn sweep(&mut self) {
        let Shard { entries, free, .. } = self;
        entries.retain(|e| {
            let alive = e.is_alive();
            if !alive {
                free.push(e.slot);
            }
            alive
        });
        self.kept = self.entries.len();
    }

    fn take_slot(&mut self) -> &'static Slot {
        if let Some(slot) = self.free.pop() {
            return slot;
        }
        let chunk: &'static [Slot] = Box::leak((0..CHUNK).map(|_| Slot::default()).collect());
        self.free.extend(chunk.iter().rev());
        self.free.pop().unwrap_or(&chunk[0])
    }
}

/// Every live tracked task of the process.
pub struct Registry {
    shards: [Mutex<Shard>; SHARDS],
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a shard leaves a consistent list (each
    // operation is a push or a retain), so keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The coarse monotonic clock (the kernel's last tick: a few ms of
/// resolution, a fraction of the cost of a precise read), in ns.
fn coarse_now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    (t.tv_sec as u64).saturating_mul(1_000_000_000) + t.tv_nsec as u64
}

/// This thread's shard, picked round-robin the first time it spawns.
fn home_shard() -> usize {
    use std::cell::Cell;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static HOME: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    HOME.with(|h| {
        if h.get() == usize::MAX {
            h.set(NEXT.fetch_add(1, Ordering::Relaxed) as usize % SHARDS);
        }
        h.get()
    })
}

impl Registry {
    fn new() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
        }
    }

    /// Adds a task; it stays until the returned token is dropped.
    pub fn register(&self, site: Site, kind: Kind, runtime: Option<&Handle>) -> Token {
        let shard = home_shard();
        let runtime = runtime.map(Handle::id);
        let spawned_ns = coarse_now_ns();
        let mut s = lock(&self.shards[shard]);
        s.sweep_if_due();
        s.next += 1;
        // Ids are unique across shards (the shard in the low bits) and
        // never 0, the value of a free slot.
        let id = (s.next << 4) | shard as u64;
        let slot = s.take_slot();
        slot.alive.store(id, Ordering::Release);
        s.entries.push(Entry {
            id,
            site,
            kind,
            runtime,
            spawned_ns,
            slot,
            task_id: None,
        });
        Token { slot, id }
    }

    /// Notes tokio's id of task `id`, registered by this thread.
    fn note_task_id(&self, id: u64, task_id: tokio::task::Id) {
        let mut s = lock(&self.shards[(id & 0xf) as usize]);
        if let Some(e) = s.entries.iter_mut().rev().find(|e| e.id == id) {
            e.task_id = Some(task_id);
        }
    }

    /// Every live tracked task, oldest first.
    pub fn live(&self) -> Vec<TaskInfo> {
        let now_ns = coarse_now_ns();
        let now = Instant::now();
        let mut all = Vec::new();
        for shard in &self.shards {
            let mut s = lock(shard);
            s.sweep();
            all.extend(
                s.entries
                    .iter()
                    .filter(|e| e.is_alive())
                    .map(|e| e.info(now, now_ns)),
            );
        }
        all.sort_by_key(|t| t.spawned);
        all
    }

    /// Where each shard's ids stand now: a task registered later has a
    /// higher id in its shard.
    pub fn marks(&self) -> Marks {
        Marks(std::array::from_fn(|i| lock(&self.shards[i]).next))
    }

    /// The live tasks of runtime `rt` registered after `marks`, and the
    /// number of live async tasks of `rt` in all. Only the new ones are
    /// copied out, so a check stays cheap with many tasks alive.
    pub fn since(&self, rt: tokio::runtime::Id, marks: &Marks) -> (Vec<TaskInfo>, usize) {
        let now_ns = coarse_now_ns();
        let now = Instant::now();
        let (mut new, mut async_live) = (Vec::new(), 0);
        for (i, shard) in self.shards.iter().enumerate() {
            let mut s = lock(shard);
            s.sweep();
            for e in s
                .entries
                .iter()
                .filter(|e| e.runtime == Some(rt) && e.is_alive())
            {
                if e.kind == Kind::Async {
                    async_live += 1;
                }
                if e.id >> 4 > marks.0[i] {
                    new.push(e.info(now, now_ns));
                }
            }
        }
        (new, async_live)
    }

    /// The number of live async tasks of runtime `rt`.
    pub fn count_async(&self, rt: tokio::runtime::Id) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let mut s = lock(shard);
                s.sweep();
                s.entries
                    .iter()
                    .filter(|e| e.runtime == Some(rt) && e.kind == Kind::Async && e.is_alive())
                    .count()
            })
            .sum()
    }

    /// The live tracked tasks spawned from runtime `rt`.
    pub fn live_on(&self, rt: tokio::runtime::Id) -> Vec<TaskInfo> {
        let mut v = self.live();
        v.retain(|t| t.runtime == Some(rt));
        v
    }
}

/// Each shard's last id at one moment (see [`Registry::marks`]).
#[derive(Debug, Clone)]
pub struct Marks([u64; SHARDS]);

/// The process's registry.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new)
}

/// Keeps a task in the registry; dropped with the task's future.
pub struct Token {
    slot: &'static Slot,
    id: u64,
}

impl Token {
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        // The slot is this token's until the owner's sweep sees the 0.
        self.slot.alive.store(0, Ordering::Release);
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({})", self.id)
    }
}

// ANCHOR: track
pin_project_lite::pin_project! {
    /// A future that keeps its task in the registry until it is dropped:
    /// the future and the token side by side, so the future is stored
    /// once (an `async` block that awaits a captured future stores it
    /// twice, and the task's allocation grows with it).
    pub struct Tracked<F> {
        #[pin]
        fut: F,
        token: Token,
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.project().fut.poll(cx)
    }
}

/// Wraps `fut` so it is tracked as spawned at the caller's line, for
/// spawners this module does not wrap (a `JoinSet`, a `TaskTracker`,
/// `spawn_local`): `set.spawn(lab_06::track(work()))`. It records the
/// runtime current where `track` is called, so call it where the task is
/// spawned. tokio's alive count leaves out `LocalSet` tasks, so a tracked
/// `spawn_local` task can hide one untracked task from the check's count.
#[track_caller]
pub fn track<F: Future>(fut: F) -> Tracked<F> {
    let rt = Handle::try_current().ok();
    let token = registry().register(Location::caller(), Kind::Async, rt.as_ref());
    // The token goes with the future: dropped when it completes (the
    // task ends) or is dropped (aborted, or its runtime shut down).
    Tracked { fut, token }
}

/// `tokio::spawn`, tracked: the task is registered before it can run and
/// leaves the registry when its future is dropped.
#[track_caller]
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = Handle::current();
    spawn_on(fut, &handle)
}
// ANCHOR_END: track

/// `Handle::spawn`, tracked.
#[track_caller]
pub fn spawn_on<F>(fut: F, handle: &Handle) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let token = registry().register(Location::caller(), Kind::Async, Some(handle));
    let id = token.id();
    let join = handle.spawn(Tracked { fut, token });
    // tokio's id, for task dumps (only read under `tokio_unstable`).
    if cfg!(tokio_unstable) {
        registry().note_task_id(id, join.id());
    }
    join
}

/// `spawn_blocking`, tracked. A closure on the blocking pool cannot be
/// aborted once it runs, so a leaked one holds a thread until it returns.
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let handle = Handle::current();
    let token = registry().register(Location::caller(), Kind::Blocking, Some(&handle));
    handle.spawn_blocking(move || {
        let _token = token;
        f()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_is_registered_at_its_spawn_line_until_it_ends() {
        let rt = Handle::current().id();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let line = line!() + 1;
        let join = spawn(async move {
            let _ = rx.await;
        });
        let live = registry().live_on(rt);
        assert_eq!(live.len(), 1, "one live task on this runtime: {live:?}");
        assert_eq!(live[0].site.line(), line);
        assert!(live[0].site.file().ends_with("track.rs"));
        tx.send(()).expect("the task is waiting");
        join.await.expect("the task ran");
        assert!(registry().live_on(rt).is_empty(), "gone once finished");
    }

    #[tokio::test]
    async fn an_aborted_task_leaves_the_registry() {
        let rt = Handle::current().id();
        let join = spawn(std::future::pending::<()>());
        assert_eq!(registry().live_on(rt).len(), 1);
        join.abort();
        assert!(join.await.expect_err("aborted").is_cancelled());
        assert!(registry().live_on(rt).is_empty());
    }

    #[test]
    fn a_runtime_shutting_down_drops_its_tasks_tokens() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let id = rt.handle().id();
        rt.block_on(async {
            spawn(std::future::pending::<()>());
        });
        assert_eq!(registry().live_on(id).len(), 1);
        drop(rt);
        assert!(registry().live_on(id).is_empty());
    }
}
