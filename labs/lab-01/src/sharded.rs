//! The four implementations: shards behind locks.
//!
//! They are one generic type, [`Locks`], with two knobs: the lock around a
//! shard (`Mutex` or `RwLock`) and whether the key space is split into
//! shards at all. The single-lock caches are simply one shard. Keeping them
//! one type means a measured difference between, say, `mutex` and
//! `sharded-mutex` can only come from the number of locks, never from two
//! copies of the code drifting apart.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
// A cursor for spreading active expiry over shards: advisory, so plain std.
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use crate::cache::{Cache, ExpireReport, SetOptions, SetOutcome, Stats, TtlState};
use crate::config::{CacheConfig, CacheError};
use crate::shard::Shard;
use crate::sync::{CachePadded, Mutex, RwLock, ShardLock};

// ANCHOR: default-state
/// The hasher a cache uses unless it is given one: std's `RandomState`
/// (SipHash-1-3 under a key drawn at random for the process), which keeps
/// an attacker who chooses the keys from piling them into one bucket. The
/// `foldhash` feature swaps in foldhash's faster, weaker hasher; lab-04's
/// build-settings experiment measures what that is worth.
#[cfg(not(feature = "foldhash"))]
pub type DefaultState = std::hash::RandomState;
/// The hasher a cache uses unless it is given one: with the `foldhash`
/// feature, foldhash's fast `RandomState` (see the build without it).
#[cfg(feature = "foldhash")]
pub type DefaultState = foldhash::fast::RandomState;
// ANCHOR_END: default-state

/// One `Mutex` around the whole map.
pub type MutexCache<K, V, S = DefaultState> = Locks<Mutex<Shard<K, V, S>>, S, false>;
/// One `RwLock` around the whole map.
pub type RwLockCache<K, V, S = DefaultState> = Locks<RwLock<Shard<K, V, S>>, S, false>;
/// `N` shards, each behind its own `Mutex`.
pub type ShardedMutex<K, V, S = DefaultState> = Locks<Mutex<Shard<K, V, S>>, S, true>;
/// `N` shards, each behind its own `RwLock`.
pub type ShardedRwLock<K, V, S = DefaultState> = Locks<RwLock<Shard<K, V, S>>, S, true>;

// ANCHOR: shard-index
/// Picks the shard for a hash: the `log2(shards)` bits just below the top
/// seven.
///
/// Why those bits: inside each shard, hashbrown (under `IndexMap`) uses the
/// top 7 bits of the same hash as a tag stored in every slot, and the low
/// bits to pick the bucket. Taking the shard from either would give every
/// key in a shard the same tag bits or the same bucket bits, and lookups
/// would compare more false candidates. The bits in between are free.
/// `shards` must be a power of two, at most 2^16.
pub fn shard_index(hash: u64, shards: usize) -> usize {
    debug_assert!(shards.is_power_of_two() && shards <= crate::config::MAX_SHARDS);
    let bits = shards.trailing_zeros();
    ((hash >> (57 - bits)) as usize) & (shards - 1)
}
// ANCHOR_END: shard-index

/// A set of shards, each behind a lock of type `L`, hashed with `S`.
/// Use it through the aliases above.
pub struct Locks<L, S, const SHARDED: bool> {
    shards: Box<[CachePadded<L>]>,
    hasher: S,
    expire_cursor: AtomicUsize,
    _shard: PhantomData<fn() -> S>,
}

impl<L, S: BuildHasher, const SHARDED: bool> Locks<L, S, SHARDED> {
    /// The lock for `key`, and the key's hash (which the shard reuses).
    fn lock_for<Q: Hash + ?Sized>(&self, key: &Q) -> (&L, u64) {
        let hash = self.hasher.hash_one(key);
        let i = shard_index(hash, self.shards.len());
        (&self.shards[i].0, hash)
    }

    /// How many shards this cache has.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The hasher every shard uses: hash a key with it to call a
    /// [`Shard`] method directly.
    pub fn hasher(&self) -> &S {
        &self.hasher
    }

    /// Which shard holds `key`.
    pub fn shard_of<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        shard_index(self.hasher.hash_one(key), self.shards.len())
    }

    // ANCHOR: with-shard
    /// Runs `f` with the exclusive lock on shard `index` held: the way to do
    /// several operations on one shard atomically (a server runs a whole
    /// command this way, and appends it to its log before the lock drops, so
    /// the log order matches the order writes happened in). Panics if
    /// `index` is out of range.
    pub fn with_shard<K, V, R>(&self, index: usize, f: impl FnOnce(&mut Shard<K, V, S>) -> R) -> R
    where
        L: ShardLock<Shard<K, V, S>>,
    {
        f(&mut self.shards[index].0.write())
    }
    // ANCHOR_END: with-shard
}

// SCAN cursors: the shard number above bit 40, and below it the shard's
// upper bound plus one (0 = shard not started yet). Cursor 0 is therefore
// "shard 0, not started", the start of a scan, and can never be returned in
// the middle of one.
const CURSOR_SHARD_SHIFT: u32 = 40;
const CURSOR_POS_MASK: u64 = (1 << CURSOR_SHARD_SHIFT) - 1;

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl<K, V, L, S, const SHARDED: bool> Cache<K, V> for Locks<L, S, SHARDED>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Send + Sync,
    S: BuildHasher + Clone + Default + Send + Sync,
    L: ShardLock<Shard<K, V, S>>,
{
    const NAME: &'static str = if SHARDED { L::SHARDED_NAME } else { L::KIND };

    fn with_config(config: CacheConfig) -> Result<Self, CacheError> {
        let count = if SHARDED { config.shards } else { 1 };
        let per_shard = config.validate(count)?;
        let hasher = S::default();
        let shards = (0..count)
            .map(|i| {
                CachePadded(L::new(Shard::new(
                    hasher.clone(),
                    per_shard,
                    config.eviction_samples,
                    config.clock.clone(),
                    splitmix(i as u64),
                )))
            })
            .collect();
        tracing::debug!(
            kind = Self::NAME,
            shards = count,
            capacity = ?config.capacity,
            "cache built"
        );
        Ok(Self {
            shards,
            hasher,
            expire_cursor: AtomicUsize::new(0),
            _shard: PhantomData,
        })
    }

    fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.read(key, V::clone)
    }

    fn read<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (lock, hash) = self.lock_for(key);
        lock.read().read(hash, key, f)
    }

    fn set(&self, key: K, value: V, options: SetOptions) -> SetOutcome<V>
    where
        V: Clone,
    {
        let (lock, hash) = self.lock_for(&key);
        lock.write()
            .set(hash, key, value, options, |v| Some(v.clone()))
    }

    fn insert(&self, key: K, value: V) -> Option<V> {
        let (lock, hash) = self.lock_for(&key);
        lock.write()
            .set(hash, key, value, SetOptions::default(), |_| None)
            .previous
    }

    fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (lock, hash) = self.lock_for(key);
        lock.write().remove(hash, key)
    }

    fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (lock, hash) = self.lock_for(key);
        lock.read().contains(hash, key)
    }

    fn expire<Q>(&self, key: &Q, ttl: Option<Duration>) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (lock, hash) = self.lock_for(key);
        lock.write().expire(hash, key, ttl)
    }

    fn persist<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (lock, hash) = self.lock_for(key);
        lock.write().persist(hash, key)
    }

    fn ttl<Q>(&self, key: &Q) -> TtlState
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (lock, hash) = self.lock_for(key);
        lock.read().ttl(hash, key)
    }

    fn update<R>(&self, key: K, f: impl FnOnce(&mut Option<V>) -> R) -> R {
        let (lock, hash) = self.lock_for(&key);
        lock.write().update(hash, key, f)
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.read().is_empty())
    }

    fn clear(&self) {
        for s in self.shards.iter() {
            s.write().clear();
        }
    }

    fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<K>)
    where
        K: Clone,
    {
        let want = count.max(1);
        let mut out = Vec::with_capacity(want);
        let mut shard = (cursor >> CURSOR_SHARD_SHIFT) as usize;
        let mut pos = cursor & CURSOR_POS_MASK;
        while let Some(lock) = self.shards.get(shard) {
            let upper = pos.checked_sub(1).map(|u| u as usize);
            let next = lock.read().scan(upper, want, &mut out);
            if next == 0 {
                shard += 1;
                pos = 0;
            } else {
                pos = next as u64 + 1;
            }
            if out.len() >= want {
                break;
            }
        }
        if shard >= self.shards.len() {
            return (0, out);
        }
        ((shard as u64) << CURSOR_SHARD_SHIFT | pos, out)
    }

    fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for s in self.shards.iter() {
            s.read().for_each(&mut f);
        }
    }

    fn expire_step(&self, budget: usize) -> ExpireReport {
        let n = self.shards.len();
        let per_shard = (budget / n).max(1);
        // Start where the last call stopped, so a small budget still
        // reaches every shard over successive calls.
        let start = self.expire_cursor.fetch_add(1, Relaxed);
        let mut report = ExpireReport::default();
        for k in 0..n {
            let left = budget - report.sampled;
            if left == 0 {
                break;
            }
            let shard = &self.shards[(start + k) % n];
            report += shard.write().expire_step(per_shard.min(left));
        }
        report
    }

    fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        for s in self.shards.iter() {
            s.read().add_stats(&mut stats);
        }
        stats
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn shard_index_uses_the_bits_below_the_tag() {
        assert_eq!(shard_index(u64::MAX, 1), 0);
        for bits in 1..=16u32 {
            let shards = 1usize << bits;
            for s in [0, 1, shards / 2, shards - 1] {
                let hash = (s as u64) << (57 - bits);
                assert_eq!(shard_index(hash, shards), s);
                // Top 7 bits and low bits do not move the shard.
                assert_eq!(shard_index(hash | (0x7F << 57) | 0xFFFF_FFFF, shards), s);
            }
        }
    }

    #[test]
    fn names_are_stable() {
        assert_eq!(<MutexCache<u64, u64> as Cache<u64, u64>>::NAME, "mutex");
        assert_eq!(<RwLockCache<u64, u64> as Cache<u64, u64>>::NAME, "rwlock");
        assert_eq!(
            <ShardedMutex<u64, u64> as Cache<u64, u64>>::NAME,
            "sharded-mutex"
        );
        assert_eq!(
            <ShardedRwLock<u64, u64> as Cache<u64, u64>>::NAME,
            "sharded-rwlock"
        );
    }

    #[test]
    fn single_lock_caches_ignore_the_shard_setting() -> Result<(), CacheError> {
        let c = MutexCache::<u64, u64>::with_config(CacheConfig::new().shards(64))?;
        assert_eq!(c.shard_count(), 1);
        let c = ShardedRwLock::<u64, u64>::with_config(CacheConfig::new().shards(8))?;
        assert_eq!(c.shard_count(), 8);
        Ok(())
    }

    #[test]
    fn hostile_cursors_end_the_scan() -> Result<(), CacheError> {
        let c = ShardedMutex::<u64, u64>::with_config(CacheConfig::new().shards(4))?;
        c.insert(1, 1);
        assert_eq!(c.scan(u64::MAX, 10), (0, vec![]));
        assert_eq!(c.scan(5 << CURSOR_SHARD_SHIFT, 10), (0, vec![]));
        Ok(())
    }

    #[test]
    fn scan_cursor_moves_across_shards() -> Result<(), CacheError> {
        let c = ShardedMutex::<u64, u64>::with_config(CacheConfig::new().shards(8))?;
        for i in 0..100 {
            c.insert(i, i);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut calls = 0;
        loop {
            let (next, keys) = c.scan(cursor, 10);
            assert!(keys.len() <= 10);
            seen.extend(keys);
            calls += 1;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen.len(), 100);
        assert!(calls >= 10);
        Ok(())
    }
}
