//! The keyspace as the command code sees it: one lab-01 [`Shard`] (or the
//! part of the keyspace one lock or one core owns) plus the hasher.
//!
//! Every concurrency model ends up here. The event loop owns one shard
//! outright; task-per-connection locks one of lab-01's shards for the
//! length of a command; thread-per-core gives each core its own shard. The
//! command code runs against a [`Db`] and never knows which.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lab_01::shard::Shard;
use lab_01::{CacheConfig, CacheError, SetOptions, SetOutcome, ShardedMutex, TtlState};

use crate::value::Value;

/// Keys are binary-safe byte strings, as in Redis.
pub type Key = Vec<u8>;

// Defined next to the values (whose hash maps and sets use it too), so
// that `value` needs nothing from this module: `db` sits on top of it.
pub use crate::value::Hasher;

/// One shard's data: lab-01's map with TTLs, holding Redis values.
pub type Store = Shard<Key, Value, Hasher>;

/// lab-01's sharded cache holding Redis values: the task-per-connection
/// model's keyspace.
pub type SharedStore = ShardedMutex<Key, Value, Hasher>;

/// A fresh, unbounded store for a model that owns its data outright.
pub fn new_store(hasher: &Hasher, seed: u64) -> Store {
    let config = CacheConfig::new();
    Shard::new(
        hasher.clone(),
        None,
        config.eviction_samples,
        config.clock.clone(),
        seed,
    )
}

/// lab-01's sharded cache, unbounded, with `shards` shards.
pub fn new_shared_store(shards: usize) -> Result<Arc<SharedStore>, CacheError> {
    use lab_01::Cache;
    Ok(Arc::new(SharedStore::with_config(
        CacheConfig::new().shards(shards),
    )?))
}

/// Milliseconds since the Unix epoch, for the absolute expiry times written
/// to the append-only file (`PXAT`, `PEXPIREAT`).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The keyspace one command runs against.
pub struct Db<'a> {
    store: &'a mut Store,
    hasher: &'a Hasher,
    whole: bool,
}

impl<'a> Db<'a> {
    /// The whole keyspace in one store (the event loop).
    pub fn new(store: &'a mut Store, hasher: &'a Hasher) -> Self {
        Self {
            store,
            hasher,
            whole: true,
        }
    }

    /// One part of a keyspace split over several stores (lab-01's shards,
    /// or cores).
    pub fn part(store: &'a mut Store, hasher: &'a Hasher) -> Self {
        Self {
            store,
            hasher,
            whole: false,
        }
    }

    /// Whether this store holds the whole keyspace. A keyspace-wide write
    /// (FLUSHDB) may then be logged as itself; on one part of a split
    /// keyspace it must be logged as what it did to that part, because the
    /// parts log independently and a single FLUSHDB record could land
    /// after another client's newer write to an already-flushed part.
    pub fn is_whole(&self) -> bool {
        self.whole
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Runs `f` on the live value for `key`.
    pub fn read<R>(&self, key: &[u8], f: impl FnOnce(&Value) -> R) -> Option<R> {
        self.store.read(self.hash(key), key, f)
    }

    /// Whether `key` holds a live value.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.store.contains(self.hash(key), key)
    }

    /// `PTTL`.
    pub fn ttl(&self, key: &[u8]) -> TtlState {
        self.store.ttl(self.hash(key), key)
    }

    /// `SET` with NX/XX, a relative TTL or KEEPTTL. When the condition stops
    /// the write, `previous` is a clone of the value that stays, but only
    /// if `want_previous` (cloning a big list to throw it away is waste).
    pub fn set(
        &mut self,
        key: &[u8],
        value: Value,
        options: SetOptions,
        want_previous: bool,
    ) -> SetOutcome<Value> {
        let hash = self.hash(key);
        self.store.set_ref(
            hash,
            key,
            || key.to_vec(),
            value,
            options,
            |v| want_previous.then(|| v.clone()),
        )
    }

    /// `DEL` of one key: its live value, if there was one.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        self.store.remove(self.hash(key), key)
    }

    /// `PEXPIRE` (`Some`; zero removes the key) or `PERSIST` (`None`).
    /// Returns whether the key exists.
    pub fn expire(&mut self, key: &[u8], ttl: Option<Duration>) -> bool {
        self.store.expire(self.hash(key), key, ttl)
    }

    /// `PERSIST`: whether a TTL was removed.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        self.store.persist(self.hash(key), key)
    }

    /// Atomic read-modify-write of one key: `f` sees `Some` for a live key,
    /// `None` otherwise; leaving `None` deletes the key, leaving `Some`
    /// stores it (an existing key keeps its TTL).
    pub fn update<R>(&mut self, key: &[u8], f: impl FnOnce(&mut Option<Value>) -> R) -> R {
        let hash = self.hash(key);
        self.store.update_ref(hash, key, || key.to_vec(), f)
    }

    /// Keys physically held (may include expired keys not yet reclaimed).
    pub fn len(&self) -> usize {
        self.store.len()
    }

    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// `FLUSHDB` of this shard.
    pub fn clear(&mut self) {
        self.store.clear()
    }

    /// One step of a scan: walks down from `upper` (exclusive; `None` = the
    /// end) until `out` holds `want` keys; returns the new upper bound, 0
    /// when done. See lab-01's `Shard::scan` for the guarantee.
    pub fn scan(&self, upper: Option<usize>, want: usize, out: &mut Vec<Key>) -> usize {
        self.store.scan(upper, want, out)
    }

    /// Calls `f` on every live entry.
    pub fn for_each(&self, f: impl FnMut(&Key, &Value)) {
        self.store.for_each(f)
    }
}
