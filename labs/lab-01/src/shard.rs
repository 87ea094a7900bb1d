//! One shard: the map, its TTLs and its eviction state. Every
//! implementation is a set of these behind locks; this is the only place the
//! keyspace logic is written.
//!
//! A shard never locks anything. Methods that take `&self` are safe to run
//! under a shared (read) lock; methods that take `&mut self` need the
//! exclusive one. Callers hash the key once and pass the hash in, because
//! the same hash picks the shard and finds the slot (hashing a key with
//! SipHash costs about as much as the lookup itself).

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
// Relaxed counters and LRU stamps: std atomics even under loom (see sync.rs).
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use indexmap::IndexMap;
use indexmap::map::RawEntryApiV1;

use crate::cache::{Condition, ExpireReport, SetOptions, SetOutcome, Stats, Ttl, TtlState};
use crate::clock::{Clock, nanos};

/// How many keys with a TTL active expiry looks at per round (Redis:
/// `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`, 20).
pub const EXPIRE_SAMPLE: usize = 20;

/// A stored value and its metadata.
#[derive(Debug)]
struct Entry<V> {
    /// `None` only while an `update` closure has emptied the slot; the
    /// closure runs under the exclusive lock and a drop guard removes the
    /// entry afterwards, so no other operation ever sees `None`.
    value: Option<V>,
    /// When the key expires, in nanoseconds on the shard's clock.
    deadline: Option<u64>,
    /// When the key was last used (clock nanoseconds / 1024, about a
    /// microsecond). Atomic so that a read under a shared lock can refresh
    /// it. Kept only when the shard has a capacity bound.
    last_access: AtomicU64,
}

/// Per-shard counters. They live in the shard, not in one global struct, so
/// counting a hit does not write a cache line that every other core writes
/// too (that line would become the hotspot sharding was meant to remove).
#[derive(Debug, Default)]
struct ShardStats {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
}

/// The map, TTL and eviction state of one shard.
#[derive(Debug)]
pub struct Shard<K, V, S> {
    map: IndexMap<K, Entry<V>, S>,
    /// The keys that have a TTL, so active expiry samples only those (Redis
    /// keeps the same second dictionary, `expires`). An `IndexMap` so a
    /// random key is one index away.
    volatile: IndexMap<K, (), S>,
    /// The most keys this shard holds, if bounded.
    capacity: Option<usize>,
    eviction_samples: usize,
    clock: Arc<dyn Clock>,
    /// State of the sampling RNG; only touched under the exclusive lock.
    rng: u64,
    stats: ShardStats,
}

impl<K, V, S> Shard<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    pub fn new(
        hasher: S,
        capacity: Option<usize>,
        eviction_samples: usize,
        clock: Arc<dyn Clock>,
        seed: u64,
    ) -> Self
    where
        S: Clone,
    {
        Self {
            map: IndexMap::with_hasher(hasher.clone()),
            volatile: IndexMap::with_hasher(hasher),
            capacity,
            eviction_samples,
            clock,
            rng: seed | 1,
            stats: ShardStats::default(),
        }
    }

    fn now(&self) -> u64 {
        nanos(self.clock.now())
    }

    fn is_live(&self, e: &Entry<V>) -> bool {
        // Reading the clock costs tens of nanoseconds, so only keys with a
        // TTL pay for it.
        e.value.is_some() && e.deadline.is_none_or(|d| self.now() < d)
    }

    fn touch(&self, e: &Entry<V>) {
        if self.capacity.is_some() {
            let stamp = self.now() >> 10;
            // Skip the store when the stamp has not moved: two readers of a
            // hot key would otherwise bounce its cache line between cores.
            if e.last_access.load(Relaxed) != stamp {
                e.last_access.store(stamp, Relaxed);
            }
        }
    }

    fn find<Q>(&self, hash: u64, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map
            .raw_entry_v1()
            .index_from_hash(hash, |k| k.borrow() == key)
    }

    /// The live entry for `key`, if any. An expired entry is reported as
    /// absent but left in place: removing it needs the exclusive lock, and
    /// the next write to the key (or active expiry) reclaims it.
    fn live<Q>(&self, hash: u64, key: &Q) -> Option<&Entry<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(hash, key)?;
        let (_, e) = self.map.get_index(i)?;
        self.is_live(e).then_some(e)
    }

    // ---- read path (`&self`) -------------------------------------------

    pub fn read<Q, R>(&self, hash: u64, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.live(hash, key) {
            Some(e) => {
                self.touch(e);
                self.stats.hits.fetch_add(1, Relaxed);
                e.value.as_ref().map(f)
            }
            None => {
                self.stats.misses.fetch_add(1, Relaxed);
                None
            }
        }
    }

    pub fn contains<Q>(&self, hash: u64, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.live(hash, key).is_some()
    }

    pub fn ttl<Q>(&self, hash: u64, key: &Q) -> TtlState
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.live(hash, key) {
            None => TtlState::Missing,
            Some(Entry { deadline: None, .. }) => TtlState::Persistent,
            Some(Entry {
                deadline: Some(d), ..
            }) => TtlState::Remaining(std::time::Duration::from_nanos(
                d.saturating_sub(self.now()),
            )),
        }
    }

    /// Keys physically held, expired or not.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    // ANCHOR: scan
    /// Appends live keys to `out`, walking indices *downwards* from `upper`
    /// (exclusive; `None` = from the end) until `out` holds `want` keys.
    /// Returns the new upper bound; 0 means the shard is done.
    ///
    /// Why downwards: removal is `swap_remove`, which moves the *last* entry
    /// into the hole. Walking down, the last entry has already been visited
    /// unless everything left is below the cursor, so an entry that has not
    /// been visited can only move to another index that has not been visited
    /// either. Walking up, the last entry could jump behind the cursor and
    /// be missed: exactly the SCAN guarantee this must keep.
    pub fn scan(&self, upper: Option<usize>, want: usize, out: &mut Vec<K>) -> usize
    where
        K: Clone,
    {
        let mut i = upper.unwrap_or(self.map.len()).min(self.map.len());
        while i > 0 && out.len() < want {
            i -= 1;
            if let Some((k, e)) = self.map.get_index(i)
                && self.is_live(e)
            {
                out.push(k.clone());
            }
        }
        i
    }
    // ANCHOR_END: scan

    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for (k, e) in &self.map {
            if self.is_live(e)
                && let Some(v) = &e.value
            {
                f(k, v);
            }
        }
    }

    pub fn add_stats(&self, into: &mut Stats) {
        into.hits += self.stats.hits.load(Relaxed);
        into.misses += self.stats.misses.load(Relaxed);
        into.evictions += self.stats.evictions.load(Relaxed);
        into.expirations += self.stats.expirations.load(Relaxed);
    }
}

impl<K, V, S> Shard<K, V, S>
where
    K: Hash + Eq + Clone,
    S: BuildHasher,
{
    // ---- write path (`&mut self`) ---------------------------------------

    fn next_random(&mut self, below: usize) -> usize {
        // xorshift64: sampling needs speed and spread, not secrecy.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        // Multiply-shift maps x onto 0..below without a division.
        ((u128::from(x) * below as u128) >> 64) as usize
    }

    /// Removes the entry at `i` (whose key hashes to `hash`) and returns it.
    fn remove_index(&mut self, i: usize, hash: u64) -> Option<Entry<V>> {
        let (k, e) = self.map.swap_remove_index(i)?;
        if e.deadline.is_some() {
            self.forget_volatile(hash, &k);
        }
        Some(e)
    }

    fn forget_volatile<Q>(&mut self, hash: u64, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let indexmap::map::raw_entry_v1::RawEntryMut::Occupied(o) = self
            .volatile
            .raw_entry_mut_v1()
            .from_hash(hash, |k| k.borrow() == key)
        {
            o.swap_remove();
        }
    }

    fn remember_volatile(&mut self, hash: u64, key: &K) {
        if let indexmap::map::raw_entry_v1::RawEntryMut::Vacant(v) = self
            .volatile
            .raw_entry_mut_v1()
            .from_hash(hash, |k| k == key)
        {
            v.insert_hashed_nocheck(hash, key.clone(), ());
        }
    }

    /// Removes an expired entry found at `i`, counting it.
    fn reap(&mut self, i: usize, hash: u64) {
        if self.remove_index(i, hash).is_some() {
            *self.stats.expirations.get_mut() += 1;
        }
    }

    // ANCHOR: eviction
    /// Evicts until there is room for one more key.
    fn make_room(&mut self) {
        let Some(capacity) = self.capacity else {
            return;
        };
        while self.map.len() >= capacity && !self.map.is_empty() {
            // Approximate LRU, as Redis does it: look at a few random keys
            // and evict the one used least recently. An expired key is the
            // best victim of all (score 0). True LRU would need a linked
            // list touched on every read, which a read lock cannot do.
            let now = self.now();
            let mut victim = 0;
            let mut best = u64::MAX;
            for _ in 0..self.eviction_samples.min(self.map.len()) {
                let i = self.next_random(self.map.len());
                let Some((_, e)) = self.map.get_index(i) else {
                    continue;
                };
                let expired = e.deadline.is_some_and(|d| now >= d);
                let score = if expired {
                    0
                } else {
                    e.last_access.load(Relaxed)
                };
                if score < best {
                    best = score;
                    victim = i;
                }
            }
            let hash = match self.map.get_index(victim) {
                Some((k, _)) => self.map.hasher().hash_one(k),
                None => return,
            };
            if let Some(e) = self.remove_index(victim, hash) {
                let expired = e.deadline.is_some_and(|d| now >= d);
                let counter = if expired {
                    self.stats.expirations.get_mut()
                } else {
                    self.stats.evictions.get_mut()
                };
                *counter += 1;
            }
        }
    }
    // ANCHOR_END: eviction

    /// Inserts a key known to be absent, evicting first if the shard is full.
    fn insert_new(&mut self, hash: u64, key: K, value: V, deadline: Option<u64>) {
        self.make_room();
        let stamp = if self.capacity.is_some() {
            self.now() >> 10
        } else {
            0
        };
        if deadline.is_some() {
            self.remember_volatile(hash, &key);
        }
        let entry = Entry {
            value: Some(value),
            deadline,
            last_access: AtomicU64::new(stamp),
        };
        match self.map.raw_entry_mut_v1().from_hash(hash, |k| *k == key) {
            indexmap::map::raw_entry_v1::RawEntryMut::Vacant(v) => {
                v.insert_hashed_nocheck(hash, key, entry);
            }
            indexmap::map::raw_entry_v1::RawEntryMut::Occupied(mut o) => {
                // Unreachable by construction; overwriting keeps the shard
                // consistent anyway.
                *o.get_mut() = entry;
            }
        }
    }

    fn deadline_after(&self, ttl: std::time::Duration) -> u64 {
        self.now().saturating_add(nanos(ttl))
    }

    /// `SET`. `keep` makes the value returned when NX stops the write (a
    /// clone for `set`; `insert` never needs one).
    pub fn set(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        options: SetOptions,
        keep: impl FnOnce(&V) -> Option<V>,
    ) -> SetOutcome<V>
    where
        K: Clone,
    {
        self.set_ref(hash, &key, || key.clone(), value, options, keep)
    }

    // ANCHOR: set-ref
    /// [`set`](Self::set) with a borrowed key: `make_key` runs only when
    /// the key is new. Overwriting an existing key (the common `SET`)
    /// then allocates nothing for the key, which a server that receives
    /// keys as byte slices would otherwise copy on every write only to
    /// drop the copy.
    pub fn set_ref<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        make_key: impl FnOnce() -> K,
        value: V,
        options: SetOptions,
        keep: impl FnOnce(&V) -> Option<V>,
    ) -> SetOutcome<V>
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
    {
        let found = self.find(hash, key);
        // An expired key counts as absent for NX/XX; reclaim it right away
        // since the exclusive lock is held anyway.
        let (found, old_deadline) = match found {
            Some(i) => match self.map.get_index(i) {
                Some((_, e)) if self.is_live(e) => (Some(i), e.deadline),
                _ => {
                    self.reap(i, hash);
                    (None, None)
                }
            },
            None => (None, None),
        };
        let blocked = match options.condition {
            Condition::Always => false,
            Condition::IfAbsent => found.is_some(),
            Condition::IfPresent => found.is_none(),
        };
        if blocked {
            let previous = found
                .and_then(|i| self.map.get_index(i))
                .and_then(|(_, e)| e.value.as_ref())
                .and_then(keep);
            return SetOutcome {
                written: false,
                previous,
            };
        }
        let deadline = match options.ttl {
            Ttl::Clear => None,
            Ttl::Expire(ttl) => Some(self.deadline_after(ttl)),
            Ttl::Keep => old_deadline,
        };
        if deadline.is_some_and(|d| d <= self.now()) {
            // A zero TTL: the write happens and expires at once.
            let previous = found
                .and_then(|i| self.remove_index(i, hash))
                .and_then(|e| e.value);
            return SetOutcome {
                written: true,
                previous,
            };
        }
        let Some(i) = found else {
            self.insert_new(hash, make_key(), value, deadline);
            return SetOutcome {
                written: true,
                previous: None,
            };
        };
        match (old_deadline.is_some(), deadline.is_some()) {
            (true, false) => self.forget_volatile(hash, key),
            (false, true) => {
                if let Some(stored) = self.map.get_index(i).map(|(k, _)| k.clone()) {
                    self.remember_volatile(hash, &stored);
                }
            }
            _ => {}
        }
        let previous = match self.map.get_index_mut(i) {
            Some((_, e)) => {
                e.deadline = deadline;
                e.value.replace(value)
            }
            None => None,
        };
        if let Some((_, e)) = self.map.get_index(i) {
            self.touch(e);
        }
        SetOutcome {
            written: true,
            previous,
        }
    }
    // ANCHOR_END: set-ref

    pub fn remove<Q>(&mut self, hash: u64, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.find(hash, key)?;
        let live = self.map.get_index(i).is_some_and(|(_, e)| self.is_live(e));
        if live {
            self.remove_index(i, hash).and_then(|e| e.value)
        } else {
            self.reap(i, hash);
            None
        }
    }

    /// `PEXPIRE`/`PERSIST`. Returns whether the key exists.
    pub fn expire<Q>(&mut self, hash: u64, key: &Q, ttl: Option<std::time::Duration>) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(i) = self.find(hash, key) else {
            return false;
        };
        let (had, key) = match self.map.get_index(i) {
            Some((k, e)) if self.is_live(e) => (e.deadline.is_some(), k.clone()),
            _ => {
                self.reap(i, hash);
                return false;
            }
        };
        let deadline = ttl.map(|t| self.deadline_after(t));
        if deadline.is_some_and(|d| d <= self.now()) {
            self.remove_index(i, hash);
            return true;
        }
        match (had, deadline.is_some()) {
            (true, false) => self.forget_volatile::<K>(hash, &key),
            (false, true) => self.remember_volatile(hash, &key),
            _ => {}
        }
        if let Some((_, e)) = self.map.get_index_mut(i) {
            e.deadline = deadline;
        }
        true
    }

    /// `PERSIST`. Returns whether a TTL was removed.
    pub fn persist<Q>(&mut self, hash: u64, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let had_ttl = matches!(self.ttl(hash, key), TtlState::Remaining(_));
        had_ttl && self.expire(hash, key, None)
    }

    /// Atomic read-modify-write; see [`crate::Cache::update`].
    pub fn update<R>(&mut self, hash: u64, key: K, f: impl FnOnce(&mut Option<V>) -> R) -> R
    where
        K: Clone,
    {
        self.update_ref(hash, &key, || key.clone(), f)
    }

    // ANCHOR: update
    /// [`update`](Self::update) with a borrowed key: `make_key` runs only
    /// when the key is new, so updating an existing key (INCR, LPUSH on a
    /// list that exists) allocates nothing for the key.
    pub fn update_ref<Q, R>(
        &mut self,
        hash: u64,
        key: &Q,
        make_key: impl FnOnce() -> K,
        f: impl FnOnce(&mut Option<V>) -> R,
    ) -> R
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(i) = self.find(hash, key) {
            let live = self.map.get_index(i).is_some_and(|(_, e)| self.is_live(e));
            if live {
                // The closure edits the stored slot in place (no clone, no
                // re-insert, so the key keeps its TTL and its SCAN position).
                // The guard removes the entry if the slot is left empty, and
                // it does so even if `f` panics, which is what keeps the
                // shard consistent for the poison recovery in sync.rs.
                let guard = RemoveIfEmptied {
                    shard: self,
                    index: i,
                    hash,
                };
                let r = f(&mut guard.shard.map[i].value);
                if let Some((_, e)) = guard.shard.map.get_index(i) {
                    guard.shard.touch(e);
                }
                drop(guard);
                return r;
            }
            self.reap(i, hash);
        }
        let mut slot = None;
        let r = f(&mut slot);
        if let Some(value) = slot {
            self.insert_new(hash, make_key(), value, None);
        }
        r
    }
    // ANCHOR_END: update

    pub fn clear(&mut self) {
        self.map.clear();
        self.volatile.clear();
    }

    // ANCHOR: expire-step
    /// One bounded round of active expiry; see [`crate::Cache::expire_step`].
    pub fn expire_step(&mut self, budget: usize) -> ExpireReport {
        let mut report = ExpireReport::default();
        while !self.volatile.is_empty() && report.sampled < budget {
            let n = EXPIRE_SAMPLE
                .min(self.volatile.len())
                .min(budget - report.sampled);
            let now = self.now();
            let mut expired = 0;
            for _ in 0..n {
                let pick = self.next_random(self.volatile.len());
                let Some((key, ())) = self.volatile.get_index(pick) else {
                    continue;
                };
                let hash = self.volatile.hasher().hash_one(key);
                let Some(i) = self.find(hash, key) else {
                    continue;
                };
                let is_expired = self
                    .map
                    .get_index(i)
                    .is_some_and(|(_, e)| e.deadline.is_some_and(|d| now >= d));
                if is_expired {
                    self.reap(i, hash);
                    expired += 1;
                }
            }
            report.sampled += n;
            report.expired += expired;
            // Redis' rule: keep going only while the sample suggests more
            // than a quarter of the volatile keys are dead.
            if expired * 4 <= n {
                break;
            }
        }
        report
    }
    // ANCHOR_END: expire-step
}

/// Removes the entry at `index` on drop if its slot was left empty.
struct RemoveIfEmptied<'a, K, V, S>
where
    K: Hash + Eq + Clone,
    S: BuildHasher,
{
    shard: &'a mut Shard<K, V, S>,
    index: usize,
    hash: u64,
}

impl<K, V, S> Drop for RemoveIfEmptied<'_, K, V, S>
where
    K: Hash + Eq + Clone,
    S: BuildHasher,
{
    fn drop(&mut self) {
        let emptied = self
            .shard
            .map
            .get_index(self.index)
            .is_some_and(|(_, e)| e.value.is_none());
        if emptied {
            self.shard.remove_index(self.index, self.hash);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::hash::RandomState;
    use std::time::Duration;

    fn shard(capacity: Option<usize>) -> (Shard<String, u64, RandomState>, ManualClock) {
        let clock = ManualClock::new();
        (
            Shard::new(RandomState::new(), capacity, 5, Arc::new(clock.clone()), 7),
            clock,
        )
    }

    fn h(s: &Shard<String, u64, RandomState>, k: &str) -> u64 {
        s.map.hasher().hash_one(k)
    }

    fn put(s: &mut Shard<String, u64, RandomState>, k: &str, v: u64, o: SetOptions) {
        let hash = h(s, k);
        s.set(hash, k.to_owned(), v, o, |v| Some(*v));
    }

    fn get(s: &Shard<String, u64, RandomState>, k: &str) -> Option<u64> {
        s.read(h(s, k), k, |v| *v)
    }

    #[test]
    fn volatile_set_tracks_ttls() {
        let (mut s, _) = shard(None);
        put(
            &mut s,
            "a",
            1,
            SetOptions::default().ttl(Duration::from_secs(1)),
        );
        put(&mut s, "b", 2, SetOptions::default());
        assert_eq!(s.volatile.len(), 1);
        put(&mut s, "a", 3, SetOptions::default());
        assert_eq!(s.volatile.len(), 0, "plain SET clears the TTL");
        let hb = h(&s, "b");
        assert!(s.expire(hb, "b", Some(Duration::from_secs(1))));
        assert_eq!(s.volatile.len(), 1);
        assert_eq!(s.remove(hb, "b"), Some(2));
        assert_eq!(s.volatile.len(), 0, "DEL forgets the TTL too");
    }

    #[test]
    fn expired_entries_are_invisible_but_stay_until_a_write() {
        let (mut s, clock) = shard(None);
        put(
            &mut s,
            "a",
            1,
            SetOptions::default().ttl(Duration::from_millis(10)),
        );
        clock.advance(Duration::from_millis(10));
        assert_eq!(get(&s, "a"), None);
        assert_eq!(s.len(), 1, "a read lock cannot remove it");
        put(&mut s, "a", 2, SetOptions::default().if_absent());
        assert_eq!(get(&s, "a"), Some(2), "NX treats an expired key as absent");
        let mut stats = Stats::default();
        s.add_stats(&mut stats);
        assert_eq!(stats.expirations, 1);
    }

    #[test]
    fn eviction_prefers_the_least_recently_used() {
        // With 5 samples from 5 keys (with replacement) the choice is not
        // exact LRU, so fill, touch all but one, and check that the victim
        // is almost always the untouched key over many trials.
        let mut untouched_evicted = 0;
        for seed in 0..50 {
            let clock = ManualClock::new();
            let mut s: Shard<String, u64, RandomState> = Shard::new(
                RandomState::new(),
                Some(5),
                5,
                Arc::new(clock.clone()),
                seed,
            );
            for i in 0..5 {
                put(&mut s, &format!("k{i}"), i, SetOptions::default());
            }
            clock.advance(Duration::from_millis(1));
            for i in 1..5 {
                assert!(get(&s, &format!("k{i}")).is_some());
            }
            put(&mut s, "new", 9, SetOptions::default());
            assert_eq!(s.len(), 5);
            if get(&s, "k0").is_none() {
                untouched_evicted += 1;
            }
        }
        // P(k0 never sampled in 5 draws) = (4/5)^5 ≈ 0.33.
        assert!(untouched_evicted >= 25, "{untouched_evicted}/50");
    }

    #[test]
    fn update_guard_removes_emptied_slots_even_on_panic() {
        let (mut s, _) = shard(None);
        put(
            &mut s,
            "a",
            1,
            SetOptions::default().ttl(Duration::from_secs(5)),
        );
        let hash = h(&s, "a");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s.update(hash, "a".to_owned(), |slot| {
                slot.take();
                panic!("closure panics after emptying the slot");
            })
        }));
        assert!(r.is_err());
        assert_eq!(s.len(), 0);
        assert_eq!(s.volatile.len(), 0);
    }

    #[test]
    fn scan_survives_swap_remove() {
        let (mut s, _) = shard(None);
        for i in 0..100 {
            put(&mut s, &format!("k{i}"), i, SetOptions::default());
        }
        let mut seen = Vec::new();
        let mut upper = None;
        let mut removed = 0;
        loop {
            let mut out = Vec::new();
            let next = s.scan(upper, 7, &mut out);
            seen.extend(out);
            // Remove a key the scan has already passed; swap_remove moves
            // the last entry into its slot.
            if let Some(k) = seen.get(removed).cloned() {
                let hash = h(&s, &k);
                s.remove(hash, k.as_str());
                removed += 1;
            }
            if next == 0 {
                break;
            }
            upper = Some(next);
        }
        for i in 0..100 {
            assert!(seen.contains(&format!("k{i}")), "k{i} missed");
        }
    }
}
