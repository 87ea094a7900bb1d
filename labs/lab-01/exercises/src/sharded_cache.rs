//! # Exercise 2: a sharded cache
//!
//! One `Mutex` around a whole map makes every thread queue for the same
//! lock. Splitting the map into shards, each behind its own lock, lets
//! threads that touch different keys run side by side.
//!
//! Your task: implement the methods of [`ShardedCache`]. The struct is
//! given: a boxed slice of shards, each a `HashMap` behind a `Mutex`, padded
//! to its own cache line so that two shards' locks never share one, and one
//! `RandomState` to hash keys with.
//!
//! - `new(shards)` builds `shards` empty shards (`shards` is a power of
//!   two; round any other number up to the next power of two).
//! - Every operation hashes the key **once** with `self.hasher`
//!   (`self.hasher.hash_one(key)`), picks the shard with
//!   `lab_01::shard_index(hash, n)` (or your own from exercise 1, once it
//!   passes), locks only that shard, and works on its map.
//! - A poisoned lock (a thread panicked while holding it) still holds a
//!   valid map here: recover it with `PoisonError::into_inner` rather than
//!   unwrapping, so one panic does not break the cache for everyone.
//! - `len` adds up the shards' lengths; `shard_lens` returns each shard's
//!   length, in shard order (the tests use it to check that keys spread).
//!
//! Where to look: `labs/lab-01/src/sharded.rs` (`shard_index`, the
//! reference for exercise 1) and `labs/lab-01/src/sync.rs` (`CachePadded`,
//! and why a shard gets a cache line of its own).
//!
//! Check it with `cargo xtask exercise check lab-01 sharded-cache`, then
//! measure it beside the reference implementations:
//! `cargo run -p lab-01-exercises --release -- bench`.

use std::collections::HashMap;
use std::hash::{Hash, RandomState};
use std::sync::Mutex;

use lab_01::sync::CachePadded;

/// One shard: a map behind its own lock, alone on its cache line(s).
type Shard<K, V> = CachePadded<Mutex<HashMap<K, V>>>;

/// A map split into shards, each behind its own lock.
#[allow(dead_code)] // The fields are yours to use.
pub struct ShardedCache<K, V> {
    shards: Box<[Shard<K, V>]>,
    hasher: RandomState,
}

impl<K: Hash + Eq, V: Clone> ShardedCache<K, V> {
    /// An empty cache with `shards` shards (rounded up to a power of two).
    pub fn new(shards: usize) -> Self {
        let _ = shards;
        todo!("exercise sharded-cache: build the shards")
    }

    /// A clone of the value for `key`.
    pub fn get(&self, key: &K) -> Option<V> {
        let _ = key;
        todo!("exercise sharded-cache: lock the key's shard and look the key up")
    }

    /// Stores `value` under `key`, returning the value it replaced.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        let _ = (key, value);
        todo!("exercise sharded-cache: lock the key's shard and insert")
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &K) -> Option<V> {
        let _ = key;
        todo!("exercise sharded-cache: lock the key's shard and remove")
    }

    /// Keys in all shards.
    pub fn len(&self) -> usize {
        todo!("exercise sharded-cache: add up the shards")
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many keys each shard holds, in shard order.
    pub fn shard_lens(&self) -> Vec<usize> {
        todo!("exercise sharded-cache: one length per shard")
    }
}
