//! A lock that records itself: lab-01's [`ShardLock`] over
//! `std::sync::Mutex`, writing every wait, acquire and release to a
//! recording, so lab-01's real cache code runs unchanged under the
//! recorder (its caches are generic over the lock: `Locks<L, S, SHARDED>`).
//!
//! - `lock-wait`: the lock was taken when this thread asked (`try_lock`
//!   failed); it parks on the mutex.
//! - `lock-acquire`: this thread holds it. After a wait, its cause is the
//!   release that let it in, drawn as an arrow from the other lane.
//! - `lock-release`: the guard dropped. It is recorded just *before* the
//!   mutex is unlocked, so the release is always earlier in the trace than
//!   the acquire it enables.
//!
//! Steps go on the calling thread's lane (its name). Locks are numbered in
//! the order they were made, which for lab-01's caches is the shard
//! number. The side panel has one section per lock: who holds it, who
//! waits.
//!
//! A lock joins the recording that is current on the thread that makes it
//! ([`Tracker::build`]); a lock made outside any is a plain mutex plus one
//! `Option` check per operation.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use lab_01::sync::ShardLock;

use crate::recorder::Recorder;
use crate::trace::{Kind, LaneKind};

/// Who holds each lock of one recording and who waits for it, and the
/// recording its steps go to.
pub struct Tracker {
    rec: Recorder,
    /// Held while a step is recorded: the side panel and the step change
    /// together, so every step carries the state right after it.
    panel: Mutex<Vec<LockState>>,
    /// Held for this long after taking a lock: stands in for the work a
    /// cache does under it, so a scene shows contention on a fast machine.
    hold: Duration,
}

#[derive(Default)]
struct LockState {
    holder: Option<String>,
    waiting: Vec<String>,
}

thread_local! {
    /// The tracker new locks on this thread join.
    static BUILDING: RefCell<Option<Arc<Tracker>>> = const { RefCell::new(None) };
    /// What the thread is doing, for the steps' labels (`SET user:1`).
    static DOING: RefCell<Option<String>> = const { RefCell::new(None) };
}

impl Tracker {
    /// A tracker writing to `rec`; locks hold for `hold` after each
    /// acquire (zero for none).
    pub fn new(rec: Recorder, hold: Duration) -> Arc<Self> {
        Arc::new(Self {
            rec,
            panel: Mutex::new(Vec::new()),
            hold,
        })
    }

    pub fn recorder(&self) -> &Recorder {
        &self.rec
    }

    /// Runs `make` (which builds a cache) with every lock it makes joining
    /// this tracker.
    pub fn build<C>(self: &Arc<Self>, make: impl FnOnce() -> C) -> C {
        let prev = BUILDING.with_borrow_mut(|b| b.replace(self.clone()));
        let made = make();
        BUILDING.with_borrow_mut(|b| *b = prev);
        made
    }

    /// A new lock's number.
    fn join(&self) -> usize {
        let mut panel = self.panel.lock().unwrap_or_else(PoisonError::into_inner);
        panel.push(LockState::default());
        panel.len() - 1
    }

    /// Records one step of lock `id` after `change` updates the panel.
    fn record(
        &self,
        id: usize,
        kind: Kind,
        cause: Option<usize>,
        change: impl FnOnce(&mut LockState, &str),
    ) -> usize {
        let me = thread_name();
        let mut panel = self.panel.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(state) = panel.get_mut(id) {
            change(state, &me);
            self.rec.set(&section(id), lines(state));
        }
        let doing = DOING.with_borrow(|d| d.clone());
        let what = doing.map(|d| format!(" to {d}")).unwrap_or_default();
        let label = match kind {
            Kind::LockWait => format!("{me} waits for shard {id}{what}"),
            Kind::LockAcquire => format!("{me} takes shard {id}{what}"),
            _ => format!("{me} lets go of shard {id}"),
        };
        let lane = self.rec.lane(&me, LaneKind::Thread);
        match cause {
            Some(c) => self.rec.caused(lane, kind, label, c),
            None => self.rec.step(lane, kind, label),
        }
    }
}

/// Runs `f` with `what` ("SET user:1") in the labels of the lock steps it
/// causes on this thread.
pub fn doing<R>(what: impl Into<String>, f: impl FnOnce() -> R) -> R {
    let prev = DOING.with_borrow_mut(|d| d.replace(what.into()));
    let r = f();
    DOING.with_borrow_mut(|d| *d = prev);
    r
}

fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed thread")
        .to_owned()
}

/// The side panel's section for lock `id`.
pub fn section(id: usize) -> String {
    format!("shard {id}")
}

fn lines(s: &LockState) -> Vec<String> {
    let mut out = vec![match &s.holder {
        Some(h) => format!("held by {h}"),
        None => "free".to_owned(),
    }];
    if !s.waiting.is_empty() {
        out.push(format!("waiting: {}", s.waiting.join(", ")));
    }
    out
}

/// No release recorded yet.
const NONE: usize = usize::MAX;

/// `std::sync::Mutex` that records waits, acquires and releases (see the
/// module docs).
pub struct RecordingMutex<T> {
    inner: Mutex<T>,
    /// The recording this lock belongs to, and its number there.
    tracker: Option<(Arc<Tracker>, usize)>,
    /// The step of the latest release: the cause of the next acquire that
    /// had to wait. Written under the lock, read by the next holder.
    last_release: AtomicUsize,
}

/// A held [`RecordingMutex`]; records the release when dropped.
pub struct RecordingGuard<'a, T> {
    guard: Option<MutexGuard<'a, T>>,
    lock: &'a RecordingMutex<T>,
}

// ANCHOR: recording-lock
impl<T> RecordingMutex<T> {
    pub fn new(value: T) -> Self {
        let tracker = BUILDING.with_borrow(|b| b.clone()).map(|t| {
            let id = t.join();
            (t, id)
        });
        Self {
            inner: Mutex::new(value),
            tracker,
            last_release: AtomicUsize::new(NONE),
        }
    }

    /// Takes the lock, recording a wait first if someone else holds it.
    pub fn lock(&self) -> RecordingGuard<'_, T> {
        let Some((tracker, id)) = &self.tracker else {
            let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            return RecordingGuard {
                guard: Some(guard),
                lock: self,
            };
        };
        let (guard, waited) = match self.inner.try_lock() {
            Ok(g) => (g, false),
            Err(TryLockError::Poisoned(p)) => (p.into_inner(), false),
            Err(TryLockError::WouldBlock) => {
                tracker.record(*id, Kind::LockWait, None, |s, me| {
                    s.waiting.push(me.to_owned())
                });
                let g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
                (g, true)
            }
        };
        // The release that let a waiter in; a thread that did not wait
        // was let in by nobody in particular.
        let last = self.last_release.load(Ordering::Relaxed);
        let cause = (waited && last != NONE).then_some(last);
        tracker.record(*id, Kind::LockAcquire, cause, |s, me| {
            s.waiting.retain(|w| w != me);
            s.holder = Some(me.to_owned());
        });
        if !tracker.hold.is_zero() {
            std::thread::sleep(tracker.hold);
        }
        RecordingGuard {
            guard: Some(guard),
            lock: self,
        }
    }
}

impl<T> Drop for RecordingGuard<'_, T> {
    fn drop(&mut self) {
        if let Some((tracker, id)) = &self.lock.tracker {
            // Recorded while still held: the next acquire comes after it.
            let step = tracker.record(*id, Kind::LockRelease, None, |s, _| s.holder = None);
            self.lock.last_release.store(step, Ordering::Relaxed);
        }
        drop(self.guard.take());
    }
}
// ANCHOR_END: recording-lock

impl<T> Deref for RecordingGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.guard {
            Some(g) => g,
            // The guard is taken only in `drop`.
            None => unreachable!("a recording guard used after its release"),
        }
    }
}

impl<T> DerefMut for RecordingGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.guard {
            Some(g) => g,
            None => unreachable!("a recording guard used after its release"),
        }
    }
}

/// lab-01's caches over this lock: `Locks<RecordingMutex<Shard<…>>, S, _>`.
impl<T: Send> ShardLock<T> for RecordingMutex<T> {
    const KIND: &'static str = "recording-mutex";
    const SHARDED_NAME: &'static str = "sharded-recording-mutex";

    type ReadGuard<'a>
        = RecordingGuard<'a, T>
    where
        T: 'a;
    type WriteGuard<'a>
        = RecordingGuard<'a, T>
    where
        T: 'a;

    fn new(value: T) -> Self {
        RecordingMutex::new(value)
    }

    fn read(&self) -> RecordingGuard<'_, T> {
        self.lock()
    }

    fn write(&self) -> RecordingGuard<'_, T> {
        self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Clock;

    #[test]
    fn a_lock_made_outside_a_recording_records_nothing() {
        let m = RecordingMutex::new(1);
        *m.lock() += 1;
        assert_eq!(*m.lock(), 2);
    }

    #[test]
    fn a_wait_is_caused_by_the_release_that_ends_it() -> anyhow::Result<()> {
        let rec = Recorder::new("t", "t", Clock::Real);
        let tracker = Tracker::new(rec.clone(), Duration::ZERO);
        let m = tracker.build(|| RecordingMutex::new(0u32));
        let held = std::sync::Barrier::new(2);
        std::thread::scope(|s| -> anyhow::Result<()> {
            let g = m.lock();
            let waiter = std::thread::Builder::new()
                .name("B".into())
                .spawn_scoped(s, || {
                    held.wait();
                    *m.lock() += 1;
                })?;
            held.wait();
            // Give B time to find the lock taken.
            while !rec.trace().steps.iter().any(|s| s.kind == Kind::LockWait) {
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(g);
            waiter.join().map_err(|_| anyhow::anyhow!("B panicked"))?;
            Ok(())
        })?;
        let t = rec.trace();
        t.validate()?;
        let kinds: Vec<Kind> = t.steps.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::LockAcquire,
                Kind::LockWait,
                Kind::LockRelease,
                Kind::LockAcquire,
                Kind::LockRelease
            ]
        );
        assert_eq!(t.steps[3].cause, Some(2));
        assert_eq!(
            t.steps[1].state["shard 0"].len(),
            2,
            "{:?}",
            t.steps[1].state
        );
        assert_eq!(t.steps[4].state["shard 0"], ["free"]);
        Ok(())
    }
}
