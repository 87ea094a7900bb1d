//! The read-mostly hot value: one snapshot (a service's configuration, a
//! routing table) that every thread reads and one writer replaces now and
//! then.
//!
//! This is a different shape from a map, so it has its own small driver:
//! `readers` threads load the current snapshot in a tight loop while one
//! writer thread sleeps `write_every` between replacements. Reads are
//! counted; every replacement is timed. Contenders run in alternating
//! rounds, like lab-01's `run_rounds`, and tables compare them by medians
//! of same-round ratios.
//!
//! A read here is what a reader of a configuration does: take a snapshot it
//! could keep for the rest of a request, and look at a field. Behind a lock
//! that means cloning the `Arc` (a write to its reference count); with
//! arc-swap it is `load`, whose guard usually borrows without touching the
//! count.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Barrier, Mutex, PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use indicatif::ProgressBar;
use lab_01::measure::workload::{BenchError, catch};
use lab_01::{Cache, CacheConfig, ShardedMutex};
use serde::Serialize;

/// The value being read: one cache line of settings.
#[derive(Debug)]
pub struct Snapshot {
    pub version: u64,
    pub limits: [u64; 7],
}

impl Snapshot {
    pub fn new(version: u64) -> Self {
        Self {
            version,
            limits: [version; 7],
        }
    }

    /// What a reader computes from it: touches the data, so a load cannot
    /// be optimised into nothing.
    fn look(&self) -> u64 {
        self.version.wrapping_add(self.limits[3])
    }
}

// ANCHOR: hot-value
/// Somewhere to keep the current snapshot.
pub trait HotValue: Send + Sync + Sized {
    fn new(initial: Arc<Snapshot>) -> Self;
    /// Takes the current snapshot the way a reader keeps one, and looks at it.
    fn load(&self) -> u64;
    /// Replaces the snapshot; the old one is freed once no reader holds it.
    fn store(&self, next: Arc<Snapshot>);
}

/// `arc_swap::ArcSwap`: an atomic pointer to the `Arc`. `load` records
/// what it borrowed in a per-thread slot instead of incrementing the count;
/// a `store` swaps the pointer and settles with readers still borrowing the
/// old value.
pub struct ArcSwapHot(ArcSwap<Snapshot>);

impl HotValue for ArcSwapHot {
    fn new(initial: Arc<Snapshot>) -> Self {
        Self(ArcSwap::new(initial))
    }
    fn load(&self) -> u64 {
        self.0.load().look()
    }
    fn store(&self, next: Arc<Snapshot>) {
        self.0.store(next);
    }
}

/// `RwLock<Arc<T>>`: readers share the lock, then clone the `Arc` out.
pub struct RwLockHot(RwLock<Arc<Snapshot>>);

impl HotValue for RwLockHot {
    fn new(initial: Arc<Snapshot>) -> Self {
        Self(RwLock::new(initial))
    }
    fn load(&self) -> u64 {
        let snapshot = Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner));
        snapshot.look()
    }
    fn store(&self, next: Arc<Snapshot>) {
        let old = std::mem::replace(
            &mut *self.0.write().unwrap_or_else(PoisonError::into_inner),
            next,
        );
        drop(old); // after the lock is released
    }
}
// ANCHOR_END: hot-value

/// `Mutex<Arc<T>>`: the same with an exclusive lock.
pub struct MutexHot(Mutex<Arc<Snapshot>>);

impl HotValue for MutexHot {
    fn new(initial: Arc<Snapshot>) -> Self {
        Self(Mutex::new(initial))
    }
    fn load(&self) -> u64 {
        let snapshot = Arc::clone(&self.0.lock().unwrap_or_else(PoisonError::into_inner));
        snapshot.look()
    }
    fn store(&self, next: Arc<Snapshot>) {
        let old = std::mem::replace(
            &mut *self.0.lock().unwrap_or_else(PoisonError::into_inner),
            next,
        );
        drop(old);
    }
}

/// lab-01's way: the snapshot stored under one key of its sharded-mutex
/// cache, as lab-02 would keep any value. One key is one shard is one
/// mutex, so this is the hot-key case of lab-01's skew table.
pub struct CacheKeyHot(ShardedMutex<u64, Arc<Snapshot>>);

impl HotValue for CacheKeyHot {
    fn new(initial: Arc<Snapshot>) -> Self {
        // The default configuration is valid (64 shards, unbounded), so
        // this cannot fail; a failure would be a lab-01 bug worth a panic.
        #[allow(clippy::expect_used)]
        let cache = ShardedMutex::with_config(CacheConfig::new())
            .expect("lab-01's default configuration is valid");
        cache.insert(0, initial);
        Self(cache)
    }
    fn load(&self) -> u64 {
        self.0.get(&0).map_or(0, |s| s.look())
    }
    fn store(&self, next: Arc<Snapshot>) {
        // The previous value is returned, and dropped, after the shard's
        // lock is released.
        drop(self.0.insert(0, next));
    }
}

/// One hot-value measurement.
#[derive(Debug, Clone, Serialize)]
pub struct HotSpec {
    pub readers: usize,
    pub duration: Duration,
    /// The writer sleeps this long between two replacements.
    pub write_every: Duration,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct HotResult {
    pub reads: u64,
    /// Sum over readers of each reader's loads per second.
    pub reads_per_sec: f64,
    pub stores: u64,
    /// How long one `store` took, median and 99th percentile.
    pub store_p50_ns: f64,
    pub store_p99_ns: f64,
}

/// Loads between two looks at the stop flag.
const BATCH: u64 = 64;

/// A joined thread's result, its panic turned into an error.
fn joined<T>(r: thread::Result<Result<T, BenchError>>) -> Result<T, BenchError> {
    r.map_err(|p| BenchError::Panicked(kit::panic::panic_message(p.as_ref())))?
}

/// Measures `H` under `spec`.
pub fn run_hot<H: HotValue>(spec: &HotSpec) -> Result<HotResult, BenchError> {
    if spec.readers == 0 || spec.duration.is_zero() {
        return Err(BenchError::Spec(
            "a hot-value run needs at least one reader and a duration".to_owned(),
        ));
    }
    let value = catch(|| H::new(Arc::new(Snapshot::new(0))))?;
    let stop = AtomicBool::new(false);
    let start = Barrier::new(spec.readers + 2);
    let (readers, stores) = thread::scope(|s| {
        let (value, stop, start) = (&value, &stop, &start);
        let readers: Vec<_> = (0..spec.readers)
            .map(|_| {
                s.spawn(move || {
                    start.wait();
                    catch(|| {
                        let began = Instant::now();
                        let (mut n, mut acc) = (0u64, 0u64);
                        while !stop.load(Relaxed) {
                            for _ in 0..BATCH {
                                acc = acc.wrapping_add(value.load());
                            }
                            n += BATCH;
                        }
                        black_box(acc);
                        (n, began.elapsed())
                    })
                })
            })
            .collect();
        let writer = s.spawn(move || {
            start.wait();
            catch(|| {
                let mut took = Vec::new();
                let mut version = 1;
                while !stop.load(Relaxed) {
                    thread::sleep(spec.write_every);
                    let next = Arc::new(Snapshot::new(version));
                    version += 1;
                    let t0 = Instant::now();
                    value.store(next);
                    took.push(t0.elapsed().as_nanos() as f64);
                }
                took
            })
        });
        start.wait();
        thread::sleep(spec.duration);
        stop.store(true, Relaxed);
        let readers: Vec<_> = readers.into_iter().map(|h| joined(h.join())).collect();
        (readers, joined(writer.join()))
    });
    let readers = readers.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut stores = stores?;
    stores.sort_by(f64::total_cmp);
    let quantile = |q: f64| -> f64 {
        if stores.is_empty() {
            return f64::NAN;
        }
        stores[((stores.len() - 1) as f64 * q).round() as usize]
    };
    Ok(HotResult {
        reads: readers.iter().map(|r| r.0).sum(),
        reads_per_sec: readers
            .iter()
            .map(|(n, t)| *n as f64 / t.as_secs_f64())
            .sum(),
        stores: stores.len() as u64,
        store_p50_ns: quantile(0.5),
        store_p99_ns: quantile(0.99),
    })
}

/// A hot-value implementation that can be measured.
#[derive(Debug, Clone)]
pub struct HotContender {
    pub name: String,
    pub run: fn(&HotSpec) -> Result<HotResult, BenchError>,
}

impl HotContender {
    pub fn of<H: HotValue>(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            run: run_hot::<H>,
        }
    }

    /// The four, in table order.
    pub fn all() -> Vec<HotContender> {
        vec![
            Self::of::<ArcSwapHot>("arc-swap"),
            Self::of::<RwLockHot>("rwlock-arc"),
            Self::of::<MutexHot>("mutex-arc"),
            Self::of::<CacheKeyHot>("sharded-mutex-key"),
        ]
    }
}

/// Runs every (contender, spec) cell once per round, round after round, in
/// the given order: the same A B C D schedule as lab-01's `run_rounds`.
/// Returns `results[cell][round]`.
pub fn run_hot_rounds(
    contenders: &[HotContender],
    cells: &[(usize, HotSpec)],
    rounds: usize,
    progress: &ProgressBar,
) -> Result<Vec<Vec<HotResult>>, BenchError> {
    let mut results = vec![Vec::with_capacity(rounds); cells.len()];
    for round in 0..rounds {
        for (i, (c, spec)) in cells.iter().enumerate() {
            let c = contenders
                .get(*c)
                .ok_or_else(|| BenchError::Spec(format!("no hot-value contender #{c}")))?;
            progress.set_message(format!(
                "round {}/{rounds}: {} × {} readers",
                round + 1,
                c.name,
                spec.readers
            ));
            results[i].push((c.run)(spec)?);
            progress.inc(1);
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sees_new_values<H: HotValue>() {
        let h = H::new(Arc::new(Snapshot::new(0)));
        assert_eq!(h.load(), 0);
        h.store(Arc::new(Snapshot::new(5)));
        assert_eq!(h.load(), Snapshot::new(5).look());
    }

    #[test]
    fn every_contender_serves_the_latest_snapshot() {
        sees_new_values::<ArcSwapHot>();
        sees_new_values::<RwLockHot>();
        sees_new_values::<MutexHot>();
        sees_new_values::<CacheKeyHot>();
    }

    #[test]
    fn a_short_run_reads_and_writes() {
        let spec = HotSpec {
            readers: 2,
            duration: Duration::from_millis(30),
            write_every: Duration::from_millis(1),
        };
        for c in HotContender::all() {
            let r = (c.run)(&spec).unwrap();
            assert!(r.reads > 0 && r.reads_per_sec > 0.0, "{}", c.name);
            assert!(r.stores > 0, "{}", c.name);
            assert!(r.store_p99_ns >= r.store_p50_ns, "{}", c.name);
        }
    }

    #[test]
    fn no_readers_is_an_error() {
        let spec = HotSpec {
            readers: 0,
            duration: Duration::from_millis(1),
            write_every: Duration::from_millis(1),
        };
        assert!(run_hot::<MutexHot>(&spec).is_err());
    }
}
