//! Checks exercise `sharded-cache`.

use std::sync::Arc;
use std::thread;

use lab_01_exercises::sharded_cache::ShardedCache;

#[test]
fn behaves_like_a_map() {
    let c = ShardedCache::new(8);
    assert!(c.is_empty(), "a new cache should be empty");
    assert_eq!(
        c.insert(1u64, 10u64),
        None,
        "insert of a new key should return None"
    );
    assert_eq!(
        c.insert(1, 11),
        Some(10),
        "insert over key 1 should return the old value 10"
    );
    assert_eq!(c.get(&1), Some(11), "get(1) after inserting 11");
    assert_eq!(c.get(&2), None, "get of a key never inserted");
    assert_eq!(c.len(), 1, "one key inserted (twice)");
    assert_eq!(c.remove(&1), Some(11), "remove(1) should return its value");
    assert_eq!(c.remove(&1), None, "remove(1) a second time");
    assert_eq!(c.len(), 0);
}

#[test]
fn has_the_requested_number_of_shards() {
    for (asked, expect) in [(1, 1), (8, 8), (64, 64), (5, 8)] {
        let c: ShardedCache<u64, u64> = ShardedCache::new(asked);
        let got = c.shard_lens().len();
        assert_eq!(
            got, expect,
            "ShardedCache::new({asked}) should have {expect} shards (a power of two), shard_lens() has {got} entries"
        );
    }
}

#[test]
fn a_key_always_lands_in_the_same_shard() {
    let c = ShardedCache::new(16);
    for round in 0..3 {
        for k in 0..100u64 {
            c.insert(k, round);
        }
    }
    assert_eq!(
        c.len(),
        100,
        "100 keys inserted three times should be 100 entries; more means a key went to a different \
         shard on a later insert (is the hasher created once, in new?)"
    );
    for k in 0..100u64 {
        assert_eq!(
            c.get(&k),
            Some(2),
            "key {k} should hold the last value written"
        );
    }
}

#[test]
fn keys_spread_over_every_shard() {
    let c = ShardedCache::new(8);
    for k in 0..4000u64 {
        c.insert(k, k);
    }
    let lens = c.shard_lens();
    assert_eq!(
        lens.iter().sum::<usize>(),
        4000,
        "shard_lens() should add up to len(): {lens:?}"
    );
    for (i, &n) in lens.iter().enumerate() {
        assert!(
            (300..=700).contains(&n),
            "shard {i} holds {n} of 4000 keys (all shards: {lens:?}); expected about 500 each"
        );
    }
}

#[test]
fn concurrent_inserts_are_not_lost() {
    let c = Arc::new(ShardedCache::new(16));
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let c = c.clone();
            thread::spawn(move || {
                for i in 0..2000u64 {
                    c.insert(t * 1_000_000 + i, i);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("an inserting thread panicked");
    }
    assert_eq!(c.len(), 8000, "4 threads inserted 2000 distinct keys each");
    assert_eq!(c.get(&3_001_999), Some(1999));
}

/// A key whose comparison panics on demand, so a test can panic while the
/// shard lock is held (HashMap compares keys under the lock).
#[derive(Debug, Clone)]
struct Key {
    id: u64,
    explode: bool,
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.id.hash(h);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        if self.explode || other.explode {
            panic!("Key::eq panics on purpose to poison the shard lock (expected in this test)");
        }
        self.id == other.id
    }
}

impl Eq for Key {}

#[test]
fn a_panic_under_the_lock_does_not_break_the_cache() {
    let c = Arc::new(ShardedCache::new(1));
    c.insert(
        Key {
            id: 1,
            explode: false,
        },
        10u64,
    );
    let c2 = c.clone();
    let poisoner = thread::spawn(move || {
        c2.get(&Key {
            id: 1,
            explode: true,
        })
    });
    assert!(
        poisoner.join().is_err(),
        "the lookup with an exploding key should have panicked"
    );
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        c.get(&Key {
            id: 1,
            explode: false,
        })
    }));
    match got {
        Ok(v) => assert_eq!(
            v,
            Some(10),
            "the value stored before the panic should still be there"
        ),
        Err(_) => panic!(
            "after another thread panicked while holding a shard lock, get() panicked too: the \
             lock is poisoned. Recover the guard with `.unwrap_or_else(PoisonError::into_inner)` \
             instead of `.unwrap()`"
        ),
    }
}
