//! Comparator crates as lab-01 bench targets.
//!
//! Each wraps another crate's map (or lab-01's cache configured differently)
//! in lab-01's three-method `BenchTarget`, so lab-01's own driver measures
//! it with the same pre-drawn keys as its references. Every map here hashes
//! with std's `RandomState` (SipHash), as lab-01's cache does, so no row
//! wins by its hasher.

use std::hint::black_box;
use std::time::Duration;

use dashmap::DashMap;
use lab_01::measure::workload::{BenchError, BenchTarget, Value, WorkloadSpec};
use lab_01::{Cache, CacheConfig, SetOptions, ShardedMutex};

/// `dashmap::DashMap`: a sharded map with one `RwLock` per shard, the most
/// used concurrent map on crates.io. Built with the same shard count as
/// lab-01's sharded caches so the comparison is of implementations, not of
/// configurations (dashmap's default is 4 × cores, rounded up to a power of
/// two: 8 shards on a 2-core machine).
pub struct DashMapTarget(DashMap<u64, Value>);

impl BenchTarget for DashMapTarget {
    fn build(spec: &WorkloadSpec) -> Result<Self, BenchError> {
        // dashmap panics on a shard count that is not a power of two above 1.
        if spec.shards < 2 || !spec.shards.is_power_of_two() {
            return Err(BenchError::Spec(format!(
                "dashmap needs a power-of-two shard count of at least 2, got {}",
                spec.shards
            )));
        }
        Ok(Self(DashMap::with_capacity_and_shard_amount(
            spec.keys as usize,
            spec.shards,
        )))
    }

    fn bench_read(&self, key: u64) -> bool {
        self.0.get(&key).map(|v| std::hint::black_box(*v)).is_some()
    }

    fn bench_write(&self, key: u64, value: Value) {
        self.0.insert(key, value);
    }
}

// ANCHOR: papaya
/// `papaya::HashMap`: one lock-free table built for reads. A read never
/// writes shared memory; a write allocates a new entry and swaps it in, and
/// the old one is freed later, once no reader can still hold it (papaya's
/// `seize` collector). Every operation here pins the map first, because the
/// driver calls one operation at a time; the pin is what keeps a reader's
/// reference valid.
pub struct PapayaTarget(papaya::HashMap<u64, Value>);

impl BenchTarget for PapayaTarget {
    fn build(spec: &WorkloadSpec) -> Result<Self, BenchError> {
        Ok(Self(papaya::HashMap::with_capacity(spec.keys as usize)))
    }

    fn bench_read(&self, key: u64) -> bool {
        self.0.pin().get(&key).map(|v| black_box(*v)).is_some()
    }

    fn bench_write(&self, key: u64, value: Value) {
        self.0.pin().insert(key, value);
    }
}
// ANCHOR_END: papaya

/// The TTL both caches give every write in the cache rows: far longer than
/// a run, so nothing expires, but every read still checks a deadline.
pub const CACHE_TTL: Duration = Duration::from_secs(3600);

/// The capacity bound of both caches: twice the key space, so neither
/// evicts during a run (lab-01 bounds each shard to its share, and twice
/// the mean share leaves room for uneven shards), yet both keep the
/// bookkeeping a bounded cache needs.
pub fn cache_capacity(keys: u64) -> u64 {
    2 * keys
}

// ANCHOR: moka
/// `moka::sync::Cache` bounded and with a time to live, configured like
/// [`ShardedMutexTtl`]. Its policy (TinyLFU admission, LRU eviction,
/// expiry) is not updated on every operation: reads and writes are
/// logged to bounded queues and applied in batches by whichever caller
/// thread finds a queue full or the last batch old.
pub struct MokaTarget(moka::sync::Cache<u64, Value>);

impl BenchTarget for MokaTarget {
    fn build(spec: &WorkloadSpec) -> Result<Self, BenchError> {
        Ok(Self(
            moka::sync::Cache::builder()
                .max_capacity(cache_capacity(spec.keys))
                .initial_capacity(spec.keys as usize)
                .time_to_live(CACHE_TTL)
                .build(),
        ))
    }

    fn bench_read(&self, key: u64) -> bool {
        self.0.get(&key).map(black_box).is_some()
    }

    fn bench_write(&self, key: u64, value: Value) {
        self.0.insert(key, value);
    }
}

/// lab-01's `sharded-mutex` with the features moka is configured with: a
/// capacity bound (so every read refreshes an LRU stamp) and a TTL on every
/// write (so every read compares a deadline with the clock). The plain
/// `sharded-mutex` row runs unbounded and without TTLs, which costs less.
pub struct ShardedMutexTtl(ShardedMutex<u64, Value>);

impl BenchTarget for ShardedMutexTtl {
    fn build(spec: &WorkloadSpec) -> Result<Self, BenchError> {
        let config = CacheConfig::new()
            .shards(spec.shards)
            .capacity(cache_capacity(spec.keys) as usize);
        Ok(Self(ShardedMutex::with_config(config)?))
    }

    fn bench_read(&self, key: u64) -> bool {
        self.0.read(&key, |v| black_box(*v)).is_some()
    }

    fn bench_write(&self, key: u64, value: Value) {
        self.0.set(key, value, SetOptions::default().ttl(CACHE_TTL));
    }
}
// ANCHOR_END: moka

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashmap_target_reads_what_it_wrote() {
        let t = DashMapTarget::build(&WorkloadSpec::default()).unwrap();
        assert!(!t.bench_read(7));
        t.bench_write(7, 1);
        assert!(t.bench_read(7));
    }

    fn reads_what_it_wrote<T: BenchTarget>() {
        let spec = WorkloadSpec {
            keys: 1000,
            ..WorkloadSpec::default()
        };
        let t = T::build(&spec).unwrap();
        assert!(!t.bench_read(7));
        for k in 0..spec.keys {
            t.bench_write(k, k);
        }
        assert!((0..spec.keys).all(|k| t.bench_read(k)));
    }

    #[test]
    fn every_target_reads_what_it_wrote() {
        reads_what_it_wrote::<PapayaTarget>();
        reads_what_it_wrote::<MokaTarget>();
        reads_what_it_wrote::<ShardedMutexTtl>();
    }

    #[test]
    fn the_ttl_cache_neither_evicts_nor_expires_in_a_run() {
        let spec = WorkloadSpec {
            keys: 10_000,
            ..WorkloadSpec::default()
        };
        let t = ShardedMutexTtl::build(&spec).unwrap();
        for k in 0..spec.keys {
            t.bench_write(k, k);
        }
        let stats = t.0.stats();
        assert_eq!((stats.evictions, stats.expirations), (0, 0));
        assert_eq!(t.0.len(), spec.keys as usize);
        assert!(matches!(t.0.ttl(&1), lab_01::TtlState::Remaining(_)));
    }

    #[test]
    fn bad_shard_counts_are_errors_not_panics() {
        let spec = WorkloadSpec {
            shards: 3,
            ..WorkloadSpec::default()
        };
        assert!(DashMapTarget::build(&spec).is_err());
    }
}
