//! One behavioural suite, run against all four implementations: whatever
//! the locks, a cache must behave the same.
//!
//! TTL tests use `ManualClock`: time moves only when a test says so, so
//! nothing here sleeps and nothing is timing-dependent.
#![cfg(not(loom))]
// Test helpers, not only #[test] functions, unwrap: a failure here is a
// test failure, and the panic message points at it.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use lab_01::{Cache, CacheConfig, ManualClock, SetOptions, TtlState};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn build<C: Cache<u64, u64>>(config: CacheConfig) -> C {
    C::with_config(config).unwrap()
}

fn with_clock<C: Cache<u64, u64>>() -> (C, ManualClock) {
    let clock = ManualClock::new();
    (
        build(CacheConfig::new().shards(4).clock(clock.clone())),
        clock,
    )
}

pub fn basics<C: Cache<u64, u64>>() {
    let c: C = build(CacheConfig::new().shards(4));
    assert!(c.is_empty());
    assert_eq!(c.insert(1, 10), None);
    assert_eq!(
        c.insert(1, 11),
        Some(10),
        "insert returns the replaced value"
    );
    assert_eq!(c.get(&1), Some(11));
    assert_eq!(c.read(&1, |v| v * 2), Some(22));
    assert!(c.contains(&1));
    assert!(!c.contains(&2));
    assert_eq!(c.len(), 1);
    assert_eq!(c.remove(&1), Some(11));
    assert_eq!(c.remove(&1), None);
    for k in 0..100 {
        c.insert(k, k);
    }
    assert_eq!(c.len(), 100);
    c.clear();
    assert!(c.is_empty());
    assert_eq!(c.get(&5), None);
}

pub fn set_conditions<C: Cache<u64, u64>>() {
    let c: C = build(CacheConfig::new().shards(4));
    // SET k v XX on a missing key: not written.
    let o = c.set(1, 10, SetOptions::default().if_present());
    assert!(!o.written);
    assert_eq!(o.previous, None);
    assert!(!c.contains(&1));
    // SET k v NX on a missing key: written.
    let o = c.set(1, 10, SetOptions::default().if_absent());
    assert!(o.written);
    assert_eq!(o.previous, None);
    // SET k v NX GET on an existing key: not written, old value returned.
    let o = c.set(1, 20, SetOptions::default().if_absent());
    assert!(!o.written);
    assert_eq!(o.previous, Some(10));
    assert_eq!(c.get(&1), Some(10));
    // SET k v XX GET on an existing key: written, old value returned.
    let o = c.set(1, 30, SetOptions::default().if_present());
    assert!(o.written);
    assert_eq!(o.previous, Some(10));
    assert_eq!(c.get(&1), Some(30));
}

pub fn ttl_semantics<C: Cache<u64, u64>>() {
    let (c, clock) = with_clock::<C>();
    assert_eq!(c.ttl(&1), TtlState::Missing);
    c.set(1, 10, SetOptions::default().ttl(ms(100)));
    c.insert(2, 20);
    assert_eq!(c.ttl(&1), TtlState::Remaining(ms(100)));
    assert_eq!(c.ttl(&2), TtlState::Persistent);
    clock.advance(ms(99));
    assert_eq!(c.get(&1), Some(10), "visible 1 ms before the deadline");
    assert_eq!(c.ttl(&1), TtlState::Remaining(ms(1)));
    clock.advance(ms(1));
    assert_eq!(c.get(&1), None, "gone at the deadline");
    assert!(!c.contains(&1));
    assert_eq!(c.ttl(&1), TtlState::Missing);
    assert_eq!(c.remove(&1), None, "an expired key has no value to return");
    let stats = c.stats();
    assert_eq!(stats.misses, 1);
    assert_eq!(stats.expirations, 1);

    // EXPIRE / PERSIST.
    assert!(c.expire(&2, Some(ms(50))));
    assert!(!c.expire(&99, Some(ms(50))), "EXPIRE on a missing key");
    assert_eq!(c.ttl(&2), TtlState::Remaining(ms(50)));
    assert!(c.persist(&2));
    assert!(!c.persist(&2), "nothing left to persist");
    assert_eq!(c.ttl(&2), TtlState::Persistent);
    clock.advance(ms(1000));
    assert_eq!(c.get(&2), Some(20));
    assert!(c.expire(&2, Some(Duration::ZERO)), "EXPIRE 0 deletes");
    assert!(!c.contains(&2));
    assert_eq!(c.len(), 0);

    // Plain SET clears a TTL; update keeps it.
    c.set(3, 1, SetOptions::default().ttl(ms(10)));
    c.insert(3, 2);
    assert_eq!(c.ttl(&3), TtlState::Persistent);
    c.set(4, 1, SetOptions::default().ttl(ms(10)));
    c.update(4, |slot| *slot = slot.map(|v| v + 1));
    assert_eq!(
        c.ttl(&4),
        TtlState::Remaining(ms(10)),
        "update keeps the TTL"
    );
    clock.advance(ms(10));
    assert_eq!(c.get(&4), None);
    let seen = c.update(4, |slot| *slot);
    assert_eq!(seen, None, "update sees an expired key as missing");
}

pub fn keep_ttl<C: Cache<u64, u64>>() {
    let (c, clock) = with_clock::<C>();
    c.set(1, 10, SetOptions::default().ttl(ms(100)));
    clock.advance(ms(40));
    let o = c.set(1, 11, SetOptions::default().keep_ttl());
    assert_eq!(o.previous, Some(10));
    assert_eq!(
        c.ttl(&1),
        TtlState::Remaining(ms(60)),
        "KEEPTTL keeps the deadline"
    );
    let o = c.set(1, 12, SetOptions::default().ttl(ms(5)).if_present());
    assert!(o.written);
    assert_eq!(c.ttl(&1), TtlState::Remaining(ms(5)));
    clock.advance(ms(5));
    // NX succeeds on an expired key: it counts as absent.
    let o = c.set(1, 13, SetOptions::default().if_absent().keep_ttl());
    assert!(o.written);
    assert_eq!(o.previous, None);
    assert_eq!(
        c.ttl(&1),
        TtlState::Persistent,
        "nothing live to keep a TTL from"
    );
    // A zero TTL writes a key that is already gone.
    let o = c.set(1, 14, SetOptions::default().ttl(Duration::ZERO));
    assert!(o.written);
    assert_eq!(o.previous, Some(13));
    assert!(!c.contains(&1));
}

pub fn update_semantics<C: Cache<u64, u64>>() {
    let c: C = build(CacheConfig::new().shards(4));
    let r = c.update(1, |slot| {
        assert_eq!(*slot, None);
        *slot = Some(5);
        "created"
    });
    assert_eq!(r, "created");
    assert_eq!(c.get(&1), Some(5));
    c.update(1, |slot| *slot = None);
    assert!(!c.contains(&1), "leaving None deletes");
    assert_eq!(c.len(), 0);
    c.update(2, |_| ());
    assert!(
        !c.contains(&2),
        "leaving None on a missing key creates nothing"
    );
}

pub fn update_is_atomic<C: Cache<u64, u64> + 'static>() {
    let c: Arc<C> = Arc::new(build(CacheConfig::new().shards(4)));
    let threads = 4;
    let per_thread = 10_000;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let c = c.clone();
            thread::spawn(move || {
                for i in 0..per_thread {
                    c.update(0, |slot| *slot = Some(slot.unwrap_or(0) + 1));
                    c.update(1 + i % 8, |slot| *slot = Some(slot.unwrap_or(0) + 1));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        c.get(&0),
        Some(threads * per_thread),
        "lost increments on one key"
    );
    let spread: u64 = (1..9).map(|k| c.get(&k).unwrap_or(0)).sum();
    assert_eq!(spread, threads * per_thread, "lost increments across keys");
}

pub fn capacity_bound_holds<C: Cache<u64, u64> + 'static>() {
    let capacity = 64;
    let c: Arc<C> = Arc::new(build(CacheConfig::new().shards(4).capacity(capacity)));
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let c = c.clone();
            thread::spawn(move || {
                for i in 0..2_000 {
                    c.insert(t * 1_000_000 + i, i);
                    if i % 64 == 0 {
                        assert!(c.len() <= capacity, "len {} > capacity", c.len());
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(c.len() <= capacity);
    assert!(c.len() >= capacity / 2, "evicted far too much: {}", c.len());
    let stats = c.stats();
    assert_eq!(stats.evictions as usize, 8_000 - c.len());
}

pub fn eviction_keeps_recently_used<C: Cache<u64, u64>>() {
    let clock = ManualClock::new();
    let c: C = build(
        CacheConfig::new()
            .shards(1)
            .capacity(100)
            .clock(clock.clone()),
    );
    for k in 0..100 {
        c.insert(k, k);
    }
    clock.advance(ms(1));
    for k in 0..50 {
        assert!(c.contains(&k));
        c.read(&k, |_| ());
    }
    clock.advance(ms(1));
    for k in 1000..1010 {
        c.insert(k, k);
    }
    let survivors = (0..50).filter(|k| c.contains(k)).count();
    // Sampled LRU evicts a recently used key only when all five samples are
    // recent: about 0.4 of the 10 evictions here. Random eviction would take
    // about 5.
    assert!(
        survivors >= 47,
        "only {survivors}/50 recently used keys survived"
    );
    assert_eq!(c.len(), 100);
}

pub fn scan_is_complete<C: Cache<u64, u64> + 'static>() {
    let c: Arc<C> = Arc::new(build(CacheConfig::new().shards(4)));
    let stable: HashSet<u64> = (0..2_000).collect();
    for &k in &stable {
        c.insert(k, k);
    }
    let stop = Arc::new(AtomicBool::new(false));
    // Churn: keys come and go during the scan, moving entries around inside
    // the shards (swap_remove) and growing them.
    let churn = {
        let (c, stop) = (c.clone(), stop.clone());
        thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                c.insert(1_000_000 + i % 5_000, i);
                c.remove(&(1_000_000 + (i * 7) % 5_000));
                i += 1;
            }
        })
    };
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut calls = 0;
    loop {
        let (next, keys) = c.scan(cursor, 10);
        seen.extend(keys);
        calls += 1;
        if next == 0 {
            break;
        }
        cursor = next;
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    let missed: Vec<_> = stable.difference(&seen).take(5).collect();
    assert!(
        missed.is_empty(),
        "SCAN missed stable keys, e.g. {missed:?}"
    );
    assert!(calls > 100, "count was not respected: {calls} calls");
    let mut keys = c.keys();
    keys.retain(|k| *k < 1_000_000);
    assert_eq!(keys.len(), stable.len());
    let mut n = 0;
    c.for_each(|k, v| {
        if *k < 1_000_000 {
            assert_eq!(k, v);
            n += 1;
        }
    });
    assert_eq!(n, stable.len());
}

pub fn expire_step_is_bounded<C: Cache<u64, u64>>() {
    let (c, clock) = with_clock::<C>();
    for k in 0..1_000 {
        c.set(k, k, SetOptions::default().ttl(ms(10)));
        c.insert(10_000 + k, k);
    }
    let r = c.expire_step(50);
    assert_eq!(r.expired, 0, "nothing has expired yet");
    assert!(r.sampled <= 50);
    clock.advance(ms(10));
    let r = c.expire_step(50);
    assert!(r.sampled <= 50, "budget exceeded: sampled {}", r.sampled);
    assert!(r.expired > 0);
    let mut rounds = 0;
    while c.len() > 1_000 {
        let r = c.expire_step(100);
        assert!(r.sampled <= 100);
        rounds += 1;
        assert!(rounds < 10_000, "active expiry does not converge");
    }
    assert_eq!(c.len(), 1_000, "only the persistent keys remain");
    assert_eq!(c.stats().expirations, 1_000);
}

pub fn stats_count<C: Cache<u64, u64>>() {
    let c: C = build(CacheConfig::new().shards(4));
    c.insert(1, 1);
    c.get(&1);
    c.read(&1, |_| ());
    c.get(&2);
    let s = c.stats();
    assert_eq!((s.hits, s.misses), (2, 1));
}

pub fn borrowed_lookups() {
    // Keys can be looked up by a borrowed form (`&str` for `String`), as
    // lab-02 does with byte slices.
    let c = lab_01::ShardedMutex::<String, u64>::with_config(CacheConfig::new()).unwrap();
    c.insert("apple".to_owned(), 1);
    assert_eq!(c.get("apple"), Some(1));
    assert!(c.contains("apple"));
    assert_eq!(c.remove("apple"), Some(1));
}

#[test]
fn borrowed_lookups_work() {
    borrowed_lookups();
}

macro_rules! suite {
    ($($module:ident => $ty:ty),* $(,)?) => {$(
        mod $module {
            type C = $ty;
            #[test] fn basics() { super::basics::<C>() }
            #[test] fn set_conditions() { super::set_conditions::<C>() }
            #[test] fn ttl_semantics() { super::ttl_semantics::<C>() }
            #[test] fn keep_ttl() { super::keep_ttl::<C>() }
            #[test] fn update_semantics() { super::update_semantics::<C>() }
            #[test] fn update_is_atomic() { super::update_is_atomic::<C>() }
            #[test] fn capacity_bound_holds() { super::capacity_bound_holds::<C>() }
            #[test] fn eviction_keeps_recently_used() { super::eviction_keeps_recently_used::<C>() }
            #[test] fn scan_is_complete() { super::scan_is_complete::<C>() }
            #[test] fn expire_step_is_bounded() { super::expire_step_is_bounded::<C>() }
            #[test] fn stats_count() { super::stats_count::<C>() }
        }
    )*};
}

suite! {
    mutex => lab_01::MutexCache<u64, u64>,
    rwlock => lab_01::RwLockCache<u64, u64>,
    sharded_mutex => lab_01::ShardedMutex<u64, u64>,
    sharded_rwlock => lab_01::ShardedRwLock<u64, u64>,
}
