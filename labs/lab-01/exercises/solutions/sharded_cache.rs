//! # Exercise 2: a sharded cache (reference solution)
//!
//! See the starter, `src/sharded_cache.rs`, for the task.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

use lab_01::sync::CachePadded;

/// One shard: a map behind its own lock, alone on its cache line(s).
type Shard<K, V> = CachePadded<Mutex<HashMap<K, V>>>;

/// A map split into shards, each behind its own lock.
pub struct ShardedCache<K, V> {
    shards: Box<[Shard<K, V>]>,
    hasher: RandomState,
}

// ANCHOR: solution
impl<K: Hash + Eq, V: Clone> ShardedCache<K, V> {
    /// An empty cache with `shards` shards (rounded up to a power of two).
    pub fn new(shards: usize) -> Self {
        let n = shards.max(1).next_power_of_two();
        Self {
            shards: (0..n)
                .map(|_| CachePadded(Mutex::new(HashMap::new())))
                .collect(),
            hasher: RandomState::new(),
        }
    }

    /// Locks the shard that owns `key`.
    fn shard(&self, key: &K) -> MutexGuard<'_, HashMap<K, V>> {
        // One hasher for the whole cache: a key must hash the same way every
        // time, or it would land in a different shard on every call.
        let hash = self.hasher.hash_one(key);
        let i = lab_01::shard_index(hash, self.shards.len());
        // A panic while the lock was held cannot leave a HashMap half
        // updated, so a poisoned shard is still a valid shard.
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A clone of the value for `key`.
    pub fn get(&self, key: &K) -> Option<V> {
        self.shard(key).get(key).cloned()
    }

    /// Stores `value` under `key`, returning the value it replaced.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.shard(&key).insert(key, value)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &K) -> Option<V> {
        self.shard(key).remove(key)
    }

    /// Keys in all shards.
    pub fn len(&self) -> usize {
        self.shard_lens().iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many keys each shard holds, in shard order.
    pub fn shard_lens(&self) -> Vec<usize> {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .collect()
    }
}
// ANCHOR_END: solution
