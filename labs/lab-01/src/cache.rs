//! The one API every implementation offers, and the small types it speaks.
//!
//! The operations are the ones a Redis keyspace needs (lab-02 stores its
//! data through this trait): GET, SET with its options, DEL, EXISTS, EXPIRE,
//! PERSIST, TTL, INCR-style read-modify-write, DBSIZE, FLUSHDB and SCAN.

use std::borrow::Borrow;
use std::hash::Hash;
use std::time::Duration;

use crate::config::{CacheConfig, CacheError};

/// What `SET` does with the key's time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ttl {
    /// Plain `SET`: the new value has no TTL, whatever the old one had.
    #[default]
    Clear,
    /// `SET … PX ms`: the new value expires after this long.
    /// A zero duration writes a key that is already expired.
    Expire(Duration),
    /// `SET … KEEPTTL`: keep the TTL of the value being replaced.
    Keep,
}

/// When `SET` is allowed to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Condition {
    /// Always write.
    #[default]
    Always,
    /// `NX`: only if the key does not exist.
    IfAbsent,
    /// `XX`: only if the key already exists.
    IfPresent,
}

/// The options of Redis' `SET`, as one value. (`GET` needs no option: the
/// previous value is always returned.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetOptions {
    pub ttl: Ttl,
    pub condition: Condition,
}

impl SetOptions {
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Ttl::Expire(ttl);
        self
    }

    pub fn keep_ttl(mut self) -> Self {
        self.ttl = Ttl::Keep;
        self
    }

    pub fn if_absent(mut self) -> Self {
        self.condition = Condition::IfAbsent;
        self
    }

    pub fn if_present(mut self) -> Self {
        self.condition = Condition::IfPresent;
        self
    }
}

/// What `SET` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOutcome<V> {
    /// `false` when the NX/XX condition stopped the write.
    pub written: bool,
    /// The live value before the call (what `SET … GET` replies). When the
    /// write happened this is the replaced value, moved out; when the
    /// condition stopped it, a clone of the value that stays.
    pub previous: Option<V>,
}

/// The answer to `TTL key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlState {
    /// No such key (or it has expired): Redis replies -2.
    Missing,
    /// The key exists and never expires: Redis replies -1.
    Persistent,
    /// The key expires after this long (always more than zero).
    Remaining(Duration),
}

/// Counters, summed over shards. Each is a relaxed atomic in its shard, so
/// a snapshot taken under load is approximate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Reads (`get`, `read`) that found a live key.
    pub hits: u64,
    /// Reads that found no key, or an expired one.
    pub misses: u64,
    /// Keys removed to make room under the capacity bound.
    pub evictions: u64,
    /// Expired keys physically removed (lazily or by `expire_step`).
    pub expirations: u64,
}

/// What one call of [`Cache::expire_step`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpireReport {
    /// Keys with a TTL that were looked at.
    pub sampled: usize,
    /// Of those, how many had expired and were removed.
    pub expired: usize,
}

impl std::ops::AddAssign for ExpireReport {
    fn add_assign(&mut self, other: Self) {
        self.sampled += other.sampled;
        self.expired += other.expired;
    }
}

/// A concurrent key-value cache with TTLs and a capacity bound.
///
/// Every method takes `&self`: the implementations lock internally, so one
/// cache is shared between threads behind an `Arc` (or a scoped borrow).
///
/// Closures passed to [`read`](Cache::read) and [`update`](Cache::update)
/// run while a lock is held. Keep them short, and never call back into the
/// same cache from inside one: the locks are not reentrant, so that
/// deadlocks.
pub trait Cache<K, V>: Send + Sync + Sized {
    /// A short, stable name (`mutex`, `sharded-rwlock`, …) for tables.
    const NAME: &'static str;

    /// Builds an empty cache.
    fn with_config(config: CacheConfig) -> Result<Self, CacheError>;

    /// A clone of the live value for `key`.
    fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone;

    /// Runs `f` on the live value for `key` without cloning it.
    fn read<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized;

    /// Redis `SET` with its NX/XX, PX and KEEPTTL options.
    fn set(&self, key: K, value: V, options: SetOptions) -> SetOutcome<V>
    where
        V: Clone;

    /// Plain `SET`: writes `value` with no TTL and returns the live value it
    /// replaced.
    fn insert(&self, key: K, value: V) -> Option<V>;

    /// `DEL`: removes the key and returns its live value.
    fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized;

    /// `EXISTS`: whether a live value is stored under `key`.
    fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized;

    /// `PEXPIRE` (`Some`) or `PERSIST` (`None`). Returns whether the key
    /// exists. A zero TTL removes the key at once, as Redis does.
    fn expire<Q>(&self, key: &Q, ttl: Option<Duration>) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized;

    /// `PERSIST`: removes the key's TTL. Returns whether there was one.
    fn persist<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized;

    /// `PTTL`.
    fn ttl<Q>(&self, key: &Q) -> TtlState
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized;

    /// Atomic read-modify-write of one key (INCR, LPUSH, APPEND…).
    ///
    /// `f` sees `Some(value)` for a live key and `None` otherwise, and may
    /// change the slot in place. Leaving `Some` stores the value (keeping an
    /// existing key's TTL; a new key has none); leaving `None` deletes the
    /// key. No other operation on this key can interleave with `f`.
    fn update<R>(&self, key: K, f: impl FnOnce(&mut Option<V>) -> R) -> R;

    /// `DBSIZE`: keys physically held. Like Redis, this can include expired
    /// keys that nothing has reclaimed yet.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `FLUSHDB`.
    fn clear(&self);

    /// `SCAN cursor COUNT count`: returns the next cursor (0 when the scan
    /// is over) and about `count` live keys. Start with cursor 0.
    ///
    /// Guarantee: every key that is present for the whole scan is returned
    /// at least once. A key added or removed during the scan may or may not
    /// be returned, and a key may be returned more than once.
    fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<K>)
    where
        K: Clone;

    /// `KEYS *`: every live key. Holds one shard lock at a time, so under
    /// concurrent writes the result is not a snapshot of one instant.
    fn keys(&self) -> Vec<K>
    where
        K: Clone,
    {
        let mut keys = Vec::with_capacity(self.len());
        let mut cursor = 0;
        loop {
            let (next, batch) = self.scan(cursor, 1024);
            keys.extend(batch);
            if next == 0 {
                return keys;
            }
            cursor = next;
        }
    }

    /// Calls `f` on every live entry, one shard lock at a time.
    fn for_each(&self, f: impl FnMut(&K, &V));

    /// One round of Redis-style active expiry: in each shard, sample keys
    /// that have a TTL and remove the expired ones, repeating while more than
    /// a quarter of a sample had expired. Looks at `budget` keys at most in
    /// total, so the caller controls how long it holds locks.
    fn expire_step(&self, budget: usize) -> ExpireReport;

    /// The counters, summed over shards.
    fn stats(&self) -> Stats;
}
