//! Model checks of the sharded caches with loom: every interleaving of a
//! few operations (up to a preemption bound) is explored, with the real
//! cache code running on loom's `Mutex` and `RwLock` (see `src/sync.rs`).
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p lab-01 --release --test loom
//! ```
//!
//! The models are deliberately tiny: two threads, a few operations, one
//! shard so that the threads really meet on the same lock. loom's search
//! grows combinatorially with every extra lock operation.
#![cfg(loom)]
// Test helpers, not only #[test] functions, unwrap: a failure here is a
// test failure, and the panic message points at it.
#![allow(clippy::unwrap_used)]

use lab_01::sync::Arc;
use lab_01::{Cache, CacheConfig, ManualClock, ShardedMutex, ShardedRwLock};
use loom::thread;

/// Explores every interleaving with at most three preemptions.
fn check(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

fn one_shard() -> CacheConfig {
    CacheConfig::new().shards(1).clock(ManualClock::new())
}

fn inserts_are_never_lost<C: Cache<u64, u64> + 'static>() {
    check(|| {
        let cache = Arc::new(C::with_config(one_shard()).unwrap());
        let c2 = cache.clone();
        let t = thread::spawn(move || {
            c2.insert(1, 10);
            c2.remove(&3);
        });
        cache.insert(2, 20);
        cache.insert(3, 30);
        t.join().unwrap();
        assert_eq!(cache.get(&1), Some(10), "thread 1's insert was lost");
        assert_eq!(cache.get(&2), Some(20), "thread 2's insert was lost");
        // Key 3 was removed before or after it was inserted: both are fine,
        // but the count must agree with what is there.
        let three = usize::from(cache.contains(&3));
        assert_eq!(cache.len(), 2 + three);
    });
}

#[test]
fn sharded_mutex_inserts_are_never_lost() {
    inserts_are_never_lost::<ShardedMutex<u64, u64>>();
}

#[test]
fn sharded_rwlock_inserts_are_never_lost() {
    inserts_are_never_lost::<ShardedRwLock<u64, u64>>();
}

fn updates_sum_exactly<C: Cache<u64, u64> + 'static>() {
    check(|| {
        let cache = Arc::new(C::with_config(one_shard()).unwrap());
        // Two increments per thread, so a lost update can hide between a
        // thread's own operations too.
        let incr = |c: &C| {
            for _ in 0..2 {
                c.update(7, |slot| *slot = Some(slot.unwrap_or(0) + 1));
            }
        };
        let c2 = cache.clone();
        let t = thread::spawn(move || incr(&c2));
        incr(&cache);
        t.join().unwrap();
        assert_eq!(cache.get(&7), Some(4), "an increment was lost");
    });
}

#[test]
fn sharded_mutex_updates_sum_exactly() {
    updates_sum_exactly::<ShardedMutex<u64, u64>>();
}

#[test]
fn sharded_rwlock_updates_sum_exactly() {
    updates_sum_exactly::<ShardedRwLock<u64, u64>>();
}

fn readers_never_see_half_an_update<C: Cache<u64, (u64, u64)> + 'static>() {
    check(|| {
        let cache = Arc::new(C::with_config(one_shard()).unwrap());
        cache.insert(1, (0, 0));
        let c2 = cache.clone();
        let writer = thread::spawn(move || {
            c2.update(1, |slot| {
                if let Some(pair) = slot {
                    pair.0 += 1;
                    // A scheduling point in the middle of the update: if the
                    // lock did not cover the whole closure, loom would run
                    // the reader right here.
                    thread::yield_now();
                    pair.1 += 1;
                }
            });
        });
        let seen = cache.read(&1, |&(a, b)| (a, b));
        writer.join().unwrap();
        let (a, b) = seen.unwrap();
        assert_eq!(a, b, "the reader saw a half-applied update: ({a}, {b})");
        assert_eq!(cache.get(&1), Some((1, 1)));
    });
}

#[test]
fn sharded_mutex_readers_never_see_half_an_update() {
    readers_never_see_half_an_update::<ShardedMutex<u64, (u64, u64)>>();
}

#[test]
fn sharded_rwlock_readers_never_see_half_an_update() {
    readers_never_see_half_an_update::<ShardedRwLock<u64, (u64, u64)>>();
}

fn eviction_keeps_the_bound<C: Cache<u64, u64> + 'static>() {
    check(|| {
        let cache = Arc::new(C::with_config(one_shard().capacity(2)).unwrap());
        cache.insert(1, 1);
        cache.insert(2, 2);
        let c2 = cache.clone();
        let t = thread::spawn(move || {
            c2.insert(3, 3);
            assert!(c2.len() <= 2, "capacity exceeded: {}", c2.len());
        });
        cache.insert(4, 4);
        assert!(cache.len() <= 2, "capacity exceeded: {}", cache.len());
        t.join().unwrap();
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.stats().evictions, 2);
    });
}

#[test]
fn sharded_mutex_eviction_keeps_the_bound() {
    eviction_keeps_the_bound::<ShardedMutex<u64, u64>>();
}

#[test]
fn sharded_rwlock_eviction_keeps_the_bound() {
    eviction_keeps_the_bound::<ShardedRwLock<u64, u64>>();
}
