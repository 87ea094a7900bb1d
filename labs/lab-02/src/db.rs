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

/// How a key's hash picks its part among `n`: each split keyspace has
/// its own rule (lab-01's shard bits, or thread-per-core's high bits).
pub type Pick = fn(u64, usize) -> usize;

// ANCHOR: hash-tag
/// The part of `key` that decides where it lives: the *hash tag* between
/// the first `{` and the next `}` when that is not empty, else the whole
/// key (Redis Cluster's rule). `{user:7}:name` and `{user:7}:mail` always
/// share a part, so a transaction or RENAME over them never spans parts.
pub fn routing_bytes(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{')
        && let Some(len) = key[open + 1..].iter().position(|&b| b == b'}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}
// ANCHOR_END: hash-tag

/// Which of `n` parts holds `key`, by `pick`: the hash of its
/// [`routing_bytes`].
pub fn part_for(hasher: &Hasher, pick: Pick, key: &[u8], n: usize) -> usize {
    pick(hasher.hash_one(routing_bytes(key)), n)
}

/// The keyspace one command runs against.
pub struct Db<'a> {
    stores: Stores<'a>,
    hasher: &'a Hasher,
    whole: bool,
}

enum Stores<'a> {
    /// One store: the whole keyspace, or the one part that holds every key
    /// of the command.
    One(&'a mut Store),
    /// Several parts held at once, for a command whose keys live in more
    /// than one (RENAME, SMOVE, SUNIONSTORE …): each key goes to its part.
    Span {
        parts: Vec<(usize, &'a mut Store)>,
        count: usize,
        pick: Pick,
        /// A key whose part is not held: a routing bug, reported by
        /// [`Db::misrouted`] (the key is then served from the first part).
        misrouted: bool,
    },
}

impl<'a> Db<'a> {
    /// The whole keyspace in one store (the event loop).
    pub fn new(store: &'a mut Store, hasher: &'a Hasher) -> Self {
        Self {
            stores: Stores::One(store),
            hasher,
            whole: true,
        }
    }

    /// One part of a keyspace split over several stores (lab-01's shards,
    /// or cores).
    pub fn part(store: &'a mut Store, hasher: &'a Hasher) -> Self {
        Self {
            stores: Stores::One(store),
            hasher,
            whole: false,
        }
    }

    /// Several parts of a keyspace split over `count` stores, held at once:
    /// `(part number, store)` pairs, and the rule that picks a key's part.
    /// The caller holds the part of every key the command names.
    pub fn span(
        parts: Vec<(usize, &'a mut Store)>,
        count: usize,
        pick: Pick,
        hasher: &'a Hasher,
    ) -> Self {
        Self {
            stores: Stores::Span {
                parts,
                count,
                pick,
                misrouted: false,
            },
            hasher,
            whole: false,
        }
    }

    /// Whether a key was looked for in a part the caller did not hold (a
    /// bug in the router, which tests assert never happens).
    pub fn misrouted(&self) -> bool {
        matches!(
            self.stores,
            Stores::Span {
                misrouted: true,
                ..
            }
        )
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

    fn index(
        parts: &[(usize, &'a mut Store)],
        count: usize,
        pick: Pick,
        hasher: &Hasher,
        key: &[u8],
    ) -> Option<usize> {
        let want = part_for(hasher, pick, key, count);
        parts.iter().position(|(p, _)| *p == want)
    }

    /// The store that holds `key`; `None` for a key whose part this span
    /// does not hold (a routing bug: the key reads as missing).
    fn at(&self, key: &[u8]) -> Option<&Store> {
        match &self.stores {
            Stores::One(s) => Some(s),
            Stores::Span {
                parts, count, pick, ..
            } => Self::index(parts, *count, *pick, self.hasher, key).map(|i| &*parts[i].1),
        }
    }

    /// The store that holds `key`, to write; `None` (and [`Db::misrouted`]
    /// set) for a key whose part this span does not hold: the write is
    /// dropped and the command's reply replaced by an error.
    fn at_mut(&mut self, key: &[u8]) -> Option<&mut Store> {
        let hasher = self.hasher;
        match &mut self.stores {
            Stores::One(s) => Some(s),
            Stores::Span {
                parts,
                count,
                pick,
                misrouted,
            } => match Self::index(parts, *count, *pick, hasher, key) {
                Some(i) => Some(&mut *parts[i].1),
                None => {
                    *misrouted = true;
                    None
                }
            },
        }
    }

    /// Every store this command holds.
    fn all(&self) -> impl Iterator<Item = &Store> {
        let (one, many) = match &self.stores {
            Stores::One(s) => (Some(&**s), None),
            Stores::Span { parts, .. } => (None, Some(parts.iter().map(|(_, s)| &**s))),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    /// Runs `f` on the live value for `key`.
    pub fn read<R>(&self, key: &[u8], f: impl FnOnce(&Value) -> R) -> Option<R> {
        let hash = self.hash(key);
        self.at(key)?.read(hash, key, f)
    }

    /// Whether `key` holds a live value.
    pub fn contains(&self, key: &[u8]) -> bool {
        let hash = self.hash(key);
        self.at(key).is_some_and(|s| s.contains(hash, key))
    }

    /// `PTTL`.
    pub fn ttl(&self, key: &[u8]) -> TtlState {
        let hash = self.hash(key);
        self.at(key).map_or(TtlState::Missing, |s| s.ttl(hash, key))
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
        match self.at_mut(key) {
            Some(s) => s.set_ref(
                hash,
                key,
                || key.to_vec(),
                value,
                options,
                |v| want_previous.then(|| v.clone()),
            ),
            None => SetOutcome {
                written: false,
                previous: None,
            },
        }
    }

    /// `DEL` of one key: its live value, if there was one.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let hash = self.hash(key);
        self.at_mut(key)?.remove(hash, key)
    }

    /// `PEXPIRE` (`Some`; zero removes the key) or `PERSIST` (`None`).
    /// Returns whether the key exists.
    pub fn expire(&mut self, key: &[u8], ttl: Option<Duration>) -> bool {
        let hash = self.hash(key);
        self.at_mut(key).is_some_and(|s| s.expire(hash, key, ttl))
    }

    /// `PERSIST`: whether a TTL was removed.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        let hash = self.hash(key);
        self.at_mut(key).is_some_and(|s| s.persist(hash, key))
    }

    /// Atomic read-modify-write of one key: `f` sees `Some` for a live key,
    /// `None` otherwise; leaving `None` deletes the key, leaving `Some`
    /// stores it (an existing key keeps its TTL).
    pub fn update<R>(&mut self, key: &[u8], f: impl FnOnce(&mut Option<Value>) -> R) -> R {
        let hash = self.hash(key);
        match self.at_mut(key) {
            Some(s) => s.update_ref(hash, key, || key.to_vec(), f),
            None => f(&mut None),
        }
    }

    /// Keys physically held (may include expired keys not yet reclaimed).
    pub fn len(&self) -> usize {
        self.all().map(Store::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.all().all(Store::is_empty)
    }

    /// `FLUSHDB` of this shard.
    pub fn clear(&mut self) {
        match &mut self.stores {
            Stores::One(s) => s.clear(),
            Stores::Span { parts, .. } => parts.iter_mut().for_each(|(_, s)| s.clear()),
        }
    }

    /// One step of a scan: walks down from `upper` (exclusive; `None` = the
    /// end) until `out` holds `want` keys; returns the new upper bound, 0
    /// when done. See lab-01's `Shard::scan` for the guarantee.
    pub fn scan(&self, upper: Option<usize>, want: usize, out: &mut Vec<Key>) -> usize {
        // SCAN is routed one part at a time: it never runs on a span.
        self.all().next().map_or(0, |s| s.scan(upper, want, out))
    }

    /// Calls `f` on every live entry.
    pub fn for_each(&self, mut f: impl FnMut(&Key, &Value)) {
        self.all().for_each(|s| s.for_each(&mut f))
    }
}

#[cfg(test)]
mod tests {
    use super::routing_bytes;

    #[test]
    fn hash_tags_as_redis_cluster_reads_them() {
        assert_eq!(routing_bytes(b"{user:7}:name"), b"user:7");
        assert_eq!(routing_bytes(b"x{a}{b}"), b"a");
        assert_eq!(routing_bytes(b"plain"), b"plain");
        // An empty tag, or no closing brace: the whole key.
        assert_eq!(routing_bytes(b"{}x"), b"{}x");
        assert_eq!(routing_bytes(b"{open"), b"{open");
        assert_eq!(routing_bytes(b"a}{b"), b"a}{b");
        assert_eq!(routing_bytes(b"{{x}}"), b"{x");
    }
}
