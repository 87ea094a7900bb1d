//! The workload driver: N threads hammering one cache with a mix of reads
//! and writes for a fixed time, counting operations and sampling latency.
//!
//! It is generic over [`BenchTarget`], which every [`Cache`] implements, so
//! the same loop measures the reference caches, a learner's exercise and
//! (from `benches/`) other crates' maps.
//!
//! Two choices keep the harness out of the numbers:
//! - Each thread draws its operations (key, read or write) *before* the
//!   clock starts, into a ring of [`PLAN_LEN`] entries it then cycles
//!   through. A Zipf draw costs tens of nanoseconds, as much as the cache
//!   operation itself; drawing up front makes every distribution cost the
//!   same to replay.
//! - Latency is timed on every `latency_every`-th operation only. A pair of
//!   `Instant::now()` calls costs tens of nanoseconds, which would double the
//!   cost of a cheap operation if paid every time.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Barrier, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use kit::machine::pin_to_core;
use kit::{Rng, Zipf};
use serde::Serialize;

use crate::cache::Cache;
use crate::config::{CacheConfig, CacheError};

/// The value type every benchmark stores. Eight bytes: the experiments are
/// about locks, and a bigger value would mostly measure `memcpy`.
pub type Value = u64;

/// How many operations each thread pre-draws (a power of two).
pub const PLAN_LEN: usize = 1 << 16;
/// Marks a write in a pre-drawn operation; the key sits in the low bits.
const WRITE_BIT: u64 = 1 << 63;
/// Operations between two looks at the stop flag.
const BATCH: u64 = 64;

/// Which keys the operations touch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum KeyDist {
    /// Every key equally likely.
    Uniform,
    /// Key of rank k drawn with probability proportional to 1/k^s.
    Zipf { s: f64 },
    /// Every operation on the same key: the worst case for sharding.
    HotKey,
}

impl KeyDist {
    /// A short label for tables: `uniform`, `zipf s=1.1`, `hot key`.
    pub fn label(&self) -> String {
        match self {
            KeyDist::Uniform => "uniform".to_owned(),
            KeyDist::Zipf { s } => format!("zipf s={s}"),
            KeyDist::HotKey => "hot key".to_owned(),
        }
    }
}

/// One measurement: what to run, on how many threads, for how long.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadSpec {
    pub threads: usize,
    /// Fraction of operations that are reads, in `[0, 1]`.
    pub read_ratio: f64,
    /// Size of the key space; keys `0..keys` are inserted before the run.
    pub keys: u64,
    pub dist: KeyDist,
    /// Shard count for sharded implementations.
    pub shards: usize,
    pub duration: Duration,
    /// Time one operation in this many (a power of two; 1 = every one).
    pub latency_every: u64,
    /// Pin worker `i` to core `i mod cores`.
    pub pin: bool,
    pub seed: u64,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        Self {
            threads: 1,
            read_ratio: 0.9,
            keys: 100_000,
            dist: KeyDist::Uniform,
            shards: 64,
            duration: Duration::from_millis(400),
            latency_every: 16,
            pin: false,
            seed: 1,
        }
    }
}

impl WorkloadSpec {
    pub fn validate(&self) -> Result<(), BenchError> {
        let bad = |why: &str| Err(BenchError::Spec(why.to_owned()));
        if self.threads == 0 {
            return bad("threads must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.read_ratio) {
            return bad("read ratio must be between 0 and 1");
        }
        if self.keys == 0 || self.keys >= WRITE_BIT {
            return bad("key count must be between 1 and 2^63");
        }
        if let KeyDist::Zipf { s } = self.dist
            && !(s.is_finite() && s > 0.0)
        {
            return bad("the Zipf exponent must be a positive number");
        }
        if !self.shards.is_power_of_two() || self.shards > crate::config::MAX_SHARDS {
            return bad("the shard count must be a power of two, at most 65536");
        }
        if !self.latency_every.is_power_of_two() {
            return bad("latency sampling interval must be a power of two");
        }
        if self.duration.is_zero() {
            return bad("duration must be more than zero");
        }
        Ok(())
    }
}

/// Latency percentiles, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    pub samples: u64,
}

impl Latency {
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        Self {
            p50_ns: h.value_at_quantile(0.5),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
            samples: h.len(),
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadResult {
    /// Operations completed by all threads.
    pub ops: u64,
    /// Sum over threads of each thread's operations per second.
    pub ops_per_sec: f64,
    pub per_thread_ops: Vec<u64>,
    /// Reads that found their key (a sanity check: the key space is
    /// pre-filled, so this should be every read).
    pub read_hits: u64,
    pub latency: Latency,
    /// Whether every worker was pinned to a core.
    pub pinned: bool,
}

/// Why a run could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid workload: {0}")]
    Spec(String),
    #[error("could not build the cache")]
    Config(#[from] CacheError),
    #[error("the implementation under test panicked: {0}")]
    Panicked(String),
    #[error("could not record a latency: {0}")]
    Histogram(String),
    #[error("the Go comparison failed: {0}")]
    Go(String),
}

/// What the driver needs from a cache: build one, read a key, write a key.
///
/// Every [`Cache<u64, Value>`] is a `BenchTarget`. Anything else (an
/// exercise, another crate's map) implements these three methods to be
/// measured by the same loop.
// ANCHOR: bench-target
pub trait BenchTarget: Send + Sync + Sized {
    fn build(spec: &WorkloadSpec) -> Result<Self, BenchError>;
    /// Looks `key` up; returns whether it was found.
    fn bench_read(&self, key: u64) -> bool;
    fn bench_write(&self, key: u64, value: Value);
}

impl<C: Cache<u64, Value>> BenchTarget for C {
    fn build(spec: &WorkloadSpec) -> Result<Self, BenchError> {
        Ok(C::with_config(CacheConfig::new().shards(spec.shards))?)
    }

    fn bench_read(&self, key: u64) -> bool {
        // `read`, not `get`: no clone, so the measurement is the lock and
        // the lookup.
        self.read(&key, |v| black_box(*v)).is_some()
    }

    fn bench_write(&self, key: u64, value: Value) {
        self.insert(key, value);
    }
}
// ANCHOR_END: bench-target

/// Draws one thread's ring of operations.
pub fn draw_plan(spec: &WorkloadSpec, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    let zipf = match spec.dist {
        KeyDist::Zipf { s } => Some(Zipf::new(spec.keys, s)),
        _ => None,
    };
    (0..PLAN_LEN)
        .map(|_| {
            let key = match (&spec.dist, &zipf) {
                (KeyDist::Zipf { .. }, Some(z)) => z.sample(&mut rng) - 1,
                (KeyDist::HotKey, _) => 0,
                _ => rng.below(spec.keys),
            };
            let write = rng.next_f64() >= spec.read_ratio;
            if write { key | WRITE_BIT } else { key }
        })
        .collect()
}

/// Runs `f`, turning a panic into [`BenchError::Panicked`].
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, BenchError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|p| BenchError::Panicked(kit::panic::panic_message(p.as_ref())))
}

/// Builds a latency histogram: 1 ns to 100 s at 3 significant digits;
/// values outside saturate.
pub fn new_histogram() -> Histogram<u64> {
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("constant bounds are valid")
}

struct ThreadResult {
    ops: u64,
    hits: u64,
    elapsed: Duration,
    hist: Histogram<u64>,
    pinned: bool,
}

/// What one `Instant::now()` costs on this machine, measured: the price a
/// timed operation pays twice.
pub fn instant_cost() -> Duration {
    const N: u32 = 20_000;
    let t = Instant::now();
    for _ in 0..N {
        black_box(Instant::now());
    }
    t.elapsed() / N
}

fn worker<T: BenchTarget>(
    cache: &T,
    plan: &[u64],
    stop: &AtomicBool,
    every: u64,
    start: &Barrier,
) -> ThreadResult {
    let mut hist = new_histogram();
    let mask = plan.len() - 1;
    let sample_mask = every - 1;
    let (mut ops, mut hits, mut i) = (0u64, 0u64, 0usize);
    start.wait();
    // ANCHOR: worker-loop
    let began = Instant::now();
    while !stop.load(Relaxed) {
        for _ in 0..BATCH {
            let op = plan[i & mask];
            i = i.wrapping_add(1);
            let key = op & !WRITE_BIT;
            let timed = (i as u64) & sample_mask == 0;
            let t0 = timed.then(Instant::now);
            if op & WRITE_BIT == 0 {
                hits += u64::from(cache.bench_read(key));
            } else {
                cache.bench_write(key, i as u64);
            }
            if let Some(t0) = t0 {
                hist.saturating_record(t0.elapsed().as_nanos() as u64);
            }
        }
        ops += BATCH;
    }
    // ANCHOR_END: worker-loop
    ThreadResult {
        ops,
        hits,
        elapsed: began.elapsed(),
        hist,
        pinned: false,
    }
}

/// Measures `T` under `spec`: builds it, pre-fills keys `0..spec.keys`,
/// then runs `spec.threads` workers for `spec.duration`.
pub fn run_workload<T: BenchTarget>(spec: &WorkloadSpec) -> Result<WorkloadResult, BenchError> {
    spec.validate()?;
    let cache = catch(|| T::build(spec))??;
    catch(|| {
        for k in 0..spec.keys {
            cache.bench_write(k, k);
        }
    })?;
    let plans: Vec<Vec<u64>> = (0..spec.threads)
        .map(|t| draw_plan(spec, spec.seed.wrapping_mul(1000).wrapping_add(t as u64)))
        .collect();
    let stop = AtomicBool::new(false);
    // Workers and this thread meet here, so the clock starts once every
    // worker exists and has drawn its plan.
    let start = Barrier::new(spec.threads + 1);
    let results: Mutex<Vec<Result<ThreadResult, BenchError>>> = Mutex::new(Vec::new());
    thread::scope(|s| {
        for (t, plan) in plans.iter().enumerate() {
            let (cache, stop, start, results) = (&cache, &stop, &start, &results);
            s.spawn(move || {
                let pinned = spec.pin && pin_to_core(t);
                // The barrier is reached even if the cache panics, because
                // the worker only touches the cache after it.
                let r =
                    catch(|| worker(cache, plan, stop, spec.latency_every, start)).map(|mut r| {
                        r.pinned = pinned;
                        r
                    });
                results
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(r);
            });
        }
        start.wait();
        // This thread sleeps while the workers run, so on a 2-core machine
        // it does not compete with them.
        thread::sleep(spec.duration);
        stop.store(true, Relaxed);
    });
    let results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    let mut total = new_histogram();
    let mut out = WorkloadResult {
        ops: 0,
        ops_per_sec: 0.0,
        per_thread_ops: Vec::with_capacity(spec.threads),
        read_hits: 0,
        latency: Latency::default(),
        pinned: spec.pin,
    };
    for r in results {
        let r = r?;
        out.ops += r.ops;
        out.read_hits += r.hits;
        out.ops_per_sec += r.ops as f64 / r.elapsed.as_secs_f64().max(1e-9);
        out.per_thread_ops.push(r.ops);
        out.pinned &= r.pinned;
        total
            .add(&r.hist)
            .map_err(|e| BenchError::Histogram(e.to_string()))?;
    }
    out.latency = Latency::from_histogram(&total);
    Ok(out)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sharded::{MutexCache, ShardedMutex};

    #[test]
    fn plans_respect_the_mix() {
        let spec = WorkloadSpec {
            read_ratio: 0.9,
            keys: 50,
            ..WorkloadSpec::default()
        };
        let plan = draw_plan(&spec, 3);
        let writes = plan.iter().filter(|op| *op & WRITE_BIT != 0).count();
        let ratio = writes as f64 / plan.len() as f64;
        assert!((ratio - 0.1).abs() < 0.01, "{ratio}");
        assert!(plan.iter().all(|op| op & !WRITE_BIT < 50));
        let hot = draw_plan(
            &WorkloadSpec {
                dist: KeyDist::HotKey,
                ..spec
            },
            3,
        );
        assert!(hot.iter().all(|op| op & !WRITE_BIT == 0));
    }

    #[test]
    fn a_short_run_counts_operations() -> Result<(), BenchError> {
        let spec = WorkloadSpec {
            threads: 2,
            keys: 1000,
            duration: Duration::from_millis(30),
            ..WorkloadSpec::default()
        };
        for r in [
            run_workload::<MutexCache<u64, Value>>(&spec)?,
            run_workload::<ShardedMutex<u64, Value>>(&spec)?,
        ] {
            assert!(r.ops > 0);
            assert_eq!(r.per_thread_ops.len(), 2);
            assert!(r.latency.samples > 0);
            assert!(r.read_hits > 0);
        }
        Ok(())
    }

    struct Panics;
    impl BenchTarget for Panics {
        fn build(_: &WorkloadSpec) -> Result<Self, BenchError> {
            Ok(Panics)
        }
        fn bench_read(&self, _: u64) -> bool {
            panic!("not yet implemented")
        }
        fn bench_write(&self, _: u64, _: Value) {}
    }

    #[test]
    fn a_panicking_target_is_an_error_not_a_hang() {
        let spec = WorkloadSpec {
            threads: 2,
            keys: 10,
            duration: Duration::from_millis(10),
            ..WorkloadSpec::default()
        };
        match run_workload::<Panics>(&spec) {
            Err(BenchError::Panicked(m)) => assert!(m.contains("not yet implemented")),
            other => panic!("expected a panic error, got {other:?}"),
        }
    }
}
