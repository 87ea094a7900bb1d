//! `parking_lot`'s locks under lab-01's unchanged cache.
//!
//! lab-01 writes its cache once, generic over [`ShardLock`], and implements
//! that trait for std's `Mutex` and `RwLock`. Here the same trait is
//! implemented for `parking_lot`'s, so the four lab-01 designs run a second
//! time with only the lock swapped: any difference between `sharded-mutex`
//! and `pl-sharded-mutex` in a table comes from the lock and nothing else.
//!
//! Why newtypes: the orphan rule forbids implementing lab-01's trait for
//! `parking_lot`'s types in a third crate, since neither is local here.

use std::hash::RandomState;

use lab_01::measure::workload::Value;
use lab_01::shard::Shard;
use lab_01::sharded::Locks;
use lab_01::sync::ShardLock;

// ANCHOR: pl-locks
/// `parking_lot::Mutex`: one byte of state, a short spin before parking,
/// and no poisoning, so `read` and `write` are one plain `lock()`.
pub struct PlMutex<T>(parking_lot::Mutex<T>);

impl<T: Send> ShardLock<T> for PlMutex<T> {
    const KIND: &'static str = "pl-mutex";
    const SHARDED_NAME: &'static str = "pl-sharded-mutex";

    type ReadGuard<'a>
        = parking_lot::MutexGuard<'a, T>
    where
        T: 'a;
    type WriteGuard<'a>
        = parking_lot::MutexGuard<'a, T>
    where
        T: 'a;

    fn new(value: T) -> Self {
        Self(parking_lot::Mutex::new(value))
    }

    fn read(&self) -> Self::ReadGuard<'_> {
        self.0.lock()
    }

    fn write(&self) -> Self::WriteGuard<'_> {
        self.0.lock()
    }
}

/// `parking_lot::RwLock`: one word of state, task-fair between readers
/// and writers.
pub struct PlRwLock<T>(parking_lot::RwLock<T>);

impl<T: Send + Sync> ShardLock<T> for PlRwLock<T> {
    const KIND: &'static str = "pl-rwlock";
    const SHARDED_NAME: &'static str = "pl-sharded-rwlock";

    type ReadGuard<'a>
        = parking_lot::RwLockReadGuard<'a, T>
    where
        T: 'a;
    type WriteGuard<'a>
        = parking_lot::RwLockWriteGuard<'a, T>
    where
        T: 'a;

    fn new(value: T) -> Self {
        Self(parking_lot::RwLock::new(value))
    }

    fn read(&self) -> Self::ReadGuard<'_> {
        self.0.read()
    }

    fn write(&self) -> Self::WriteGuard<'_> {
        self.0.write()
    }
}

/// lab-01's own generic cache (`Locks`) over the new locks: the four
/// designs again, with only the lock type changed.
type PlShard = Shard<u64, Value, RandomState>;
pub type PlMutexCache = Locks<PlMutex<PlShard>, RandomState, false>;
pub type PlRwLockCache = Locks<PlRwLock<PlShard>, RandomState, false>;
pub type PlShardedMutex = Locks<PlMutex<PlShard>, RandomState, true>;
pub type PlShardedRwLock = Locks<PlRwLock<PlShard>, RandomState, true>;
// ANCHOR_END: pl-locks

#[cfg(test)]
mod tests {
    use super::*;
    use lab_01::{Cache, CacheConfig};

    #[test]
    fn lab_01_cache_runs_on_parking_lot() {
        let c = PlShardedRwLock::with_config(CacheConfig::new().shards(8)).unwrap();
        assert_eq!(c.shard_count(), 8);
        assert_eq!(
            <PlShardedRwLock as Cache<u64, Value>>::NAME,
            "pl-sharded-rwlock"
        );
        c.insert(1, 10);
        assert_eq!(c.get(&1), Some(10));
        let m = PlMutexCache::with_config(CacheConfig::new()).unwrap();
        assert_eq!(m.shard_count(), 1);
        assert_eq!(<PlMutexCache as Cache<u64, Value>>::NAME, "pl-mutex");
        m.update(2, |v| *v = Some(5));
        assert_eq!(m.get(&2), Some(5));
        assert_eq!(
            <PlShardedMutex as Cache<u64, Value>>::NAME,
            "pl-sharded-mutex"
        );
        assert_eq!(<PlRwLockCache as Cache<u64, Value>>::NAME, "pl-rwlock");
    }
}
