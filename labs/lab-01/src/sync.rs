//! The synchronisation primitives the cache is built from, and the one
//! abstraction over "a lock around a shard".
//!
//! Under `--cfg loom` every type here comes from `loom::sync`, so the loom
//! tests (`tests/loom.rs`) explore the interleavings of the real cache code
//! rather than of a copy. Everywhere else they are `std::sync`.
//!
//! Two kinds of atomics live in this crate. The ones re-exported here are the
//! ones whose interleavings matter. The hit/miss counters and the LRU access
//! stamps use `std::sync::atomic` directly, even under loom: they are
//! relaxed, advisory numbers that order nothing, and handing them to loom
//! would multiply the interleavings it explores without checking anything.

// ANCHOR: sync
#[cfg(loom)]
pub use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub use loom::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
// ANCHOR_END: sync

use std::ops::{Deref, DerefMut};
use std::sync::PoisonError;

/// A lock that guards one shard: the only thing that differs between
/// `MutexCache` and `RwLockCache`, or between `ShardedMutex` and
/// `ShardedRwLock`.
///
/// `read` is for operations that only look (GET, TTL, SCAN); `write` for
/// operations that change the shard. A mutex hands out the same exclusive
/// guard for both; a reader-writer lock lets readers share.
// ANCHOR: shard-lock
pub trait ShardLock<T>: Send + Sync {
    /// A short name for tables and logs: the single-lock cache's name.
    const KIND: &'static str;
    /// The name of the sharded cache built from this lock.
    const SHARDED_NAME: &'static str;

    type ReadGuard<'a>: Deref<Target = T>
    where
        Self: 'a;
    type WriteGuard<'a>: DerefMut<Target = T>
    where
        Self: 'a;

    fn new(value: T) -> Self;
    fn read(&self) -> Self::ReadGuard<'_>;
    fn write(&self) -> Self::WriteGuard<'_>;
}
// ANCHOR_END: shard-lock

// ANCHOR: poison
// Why poisoning is ignored: a lock is poisoned when a thread panicked while
// holding it. The shard is written so that it is consistent at every point a
// user closure can panic (see `Shard::update`, whose guard removes a slot
// the closure emptied), so a poisoned shard holds valid data. Refusing to
// serve it would turn one panicking request into a dead keyspace for every
// later client, which is worse than the panic itself.

impl<T: Send> ShardLock<T> for Mutex<T> {
    const KIND: &'static str = "mutex";
    const SHARDED_NAME: &'static str = "sharded-mutex";

    type ReadGuard<'a>
        = MutexGuard<'a, T>
    where
        T: 'a;
    type WriteGuard<'a>
        = MutexGuard<'a, T>
    where
        T: 'a;

    fn new(value: T) -> Self {
        Mutex::new(value)
    }

    fn read(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
    // ANCHOR_END: poison
}

impl<T: Send + Sync> ShardLock<T> for RwLock<T> {
    const KIND: &'static str = "rwlock";
    const SHARDED_NAME: &'static str = "sharded-rwlock";

    type ReadGuard<'a>
        = RwLockReadGuard<'a, T>
    where
        T: 'a;
    type WriteGuard<'a>
        = RwLockWriteGuard<'a, T>
    where
        T: 'a;

    fn new(value: T) -> Self {
        RwLock::new(value)
    }

    fn read(&self) -> RwLockReadGuard<'_, T> {
        RwLock::read(self).unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, T> {
        RwLock::write(self).unwrap_or_else(PoisonError::into_inner)
    }
}

/// Aligns its content to 128 bytes so that two shards never share a cache
/// line.
///
/// Why 128 and not 64: x86 cache lines are 64 bytes, but Intel's spatial
/// prefetcher fetches lines in adjacent pairs, so two locks on neighbouring
/// 64-byte lines still steal each other's line; on Apple silicon and some
/// other ARM cores the line itself is 128 bytes. crossbeam's `CachePadded`
/// makes the same choice for the same reasons. The cost is at most 127
/// bytes per shard.
// ANCHOR: cache-padded
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct CachePadded<T>(pub T);
// ANCHOR_END: cache-padded

impl<T> Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn padded_shards_do_not_share_lines() {
        let shards: Vec<CachePadded<Mutex<u64>>> =
            (0..4).map(|i| CachePadded(Mutex::new(i))).collect();
        assert_eq!(std::mem::align_of::<CachePadded<Mutex<u64>>>(), 128);
        let a = &shards[0] as *const _ as usize;
        let b = &shards[1] as *const _ as usize;
        assert_eq!(b - a, 128);
    }

    #[test]
    fn a_poisoned_mutex_still_serves() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = ShardLock::write(&*m2);
            panic!("poison the lock on purpose");
        })
        .join();
        assert!(m.is_poisoned());
        *ShardLock::write(&*m) += 1;
        assert_eq!(*ShardLock::read(&*m), 2);
    }

    #[test]
    fn a_poisoned_rwlock_still_serves() {
        let m = std::sync::Arc::new(RwLock::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = ShardLock::write(&*m2);
            panic!("poison the lock on purpose");
        })
        .join();
        assert!(m.is_poisoned());
        *ShardLock::write(&*m) += 1;
        assert_eq!(*ShardLock::read(&*m), 2);
    }
}
