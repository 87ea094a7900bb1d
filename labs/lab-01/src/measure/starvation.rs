//! The writer-starvation experiment: do readers keep a writer waiting?
//!
//! The folk claim comes from Go, where the worry is that a steady stream of
//! readers can hold a reader-writer lock so that a writer waits and waits.
//! Whether that can happen depends on the lock's *policy*. Rust's
//! `std::sync::RwLock` on Linux is a futex-based lock (since Rust 1.62)
//! that prefers writers: once a writer is waiting, new readers queue behind
//! it. This module measures both halves of the claim instead of assuming
//! either:
//!
//! - [`run_starvation`]: readers hammer the cache, holding the read lock
//!   for a while each time (as a command that walks a long value would),
//!   while writers write now and then. It records how long each writer
//!   waited for its lock, and the readers' throughput.
//! - [`probe_policy`]: a deterministic check of the policy itself. A reader
//!   holds the lock, a writer queues, then a second reader arrives: does
//!   it get in beside the first reader (reader preference) or wait behind
//!   the writer (writer preference)?

use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Barrier, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cache::Cache;
use crate::config::CacheConfig;
use crate::sharded::{MutexCache, RwLockCache, ShardedMutex, ShardedRwLock};
use kit::Rng;
use kit::machine::pin_to_core;

use crate::measure::workload::{BenchError, Latency, Value, catch, new_histogram};

/// One starvation run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StarvationSpec {
    pub readers: usize,
    pub writers: usize,
    /// Key space; ignored when `hot`.
    pub keys: u64,
    /// Every reader and writer uses key 0, so all of them meet on one lock
    /// even in the sharded designs.
    pub hot: bool,
    /// How long each read holds the lock (spinning inside `read`).
    pub read_hold: Duration,
    /// How long each writer sleeps between two writes.
    pub write_interval: Duration,
    pub shards: usize,
    pub duration: Duration,
    pub pin: bool,
    pub seed: u64,
}

impl Default for StarvationSpec {
    fn default() -> Self {
        Self {
            readers: 2,
            writers: 1,
            keys: 10_000,
            hot: true,
            read_hold: Duration::from_micros(1),
            write_interval: Duration::from_micros(200),
            shards: 64,
            duration: Duration::from_millis(500),
            pin: false,
            seed: 1,
        }
    }
}

/// What one starvation run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StarvationResult {
    /// From calling `update` to its closure starting: the wait for the
    /// write lock (plus one hash and one lookup, tens of nanoseconds).
    pub writer_wait: Latency,
    pub writes: u64,
    pub reader_ops_per_sec: f64,
    /// Latency of every fourth read, including any wait behind a writer.
    pub reader_latency: Latency,
}

/// How to run the experiment against one design.
pub type StarveFn = fn(&StarvationSpec) -> Result<StarvationResult, BenchError>;

/// The four lock designs, in table order.
pub fn designs() -> Vec<(&'static str, StarveFn)> {
    vec![
        ("mutex", run_starvation::<MutexCache<u64, Value>>),
        ("rwlock", run_starvation::<RwLockCache<u64, Value>>),
        ("sharded-mutex", run_starvation::<ShardedMutex<u64, Value>>),
        (
            "sharded-rwlock",
            run_starvation::<ShardedRwLock<u64, Value>>,
        ),
    ]
}

fn hold_for(d: Duration) {
    if d.is_zero() {
        return;
    }
    let t = Instant::now();
    while t.elapsed() < d {
        spin_loop();
    }
}

struct Side {
    ops: u64,
    elapsed: Duration,
    hist: hdrhistogram::Histogram<u64>,
}

/// Runs readers and writers against `C` for `spec.duration`.
pub fn run_starvation<C: Cache<u64, Value>>(
    spec: &StarvationSpec,
) -> Result<StarvationResult, BenchError> {
    if spec.readers == 0 || spec.writers == 0 || spec.keys == 0 {
        return Err(BenchError::Spec(
            "starvation needs at least one reader, one writer and one key".into(),
        ));
    }
    let cache = C::with_config(CacheConfig::new().shards(spec.shards))?;
    for k in 0..spec.keys {
        cache.insert(k, k);
    }
    let stop = AtomicBool::new(false);
    let start = Barrier::new(spec.readers + spec.writers + 1);
    let readers: Mutex<Vec<Result<Side, BenchError>>> = Mutex::new(Vec::new());
    let writers: Mutex<Vec<Result<Side, BenchError>>> = Mutex::new(Vec::new());
    let key_of = |rng: &mut Rng| if spec.hot { 0 } else { rng.below(spec.keys) };
    thread::scope(|s| {
        for t in 0..spec.readers {
            let (cache, stop, start, readers) = (&cache, &stop, &start, &readers);
            s.spawn(move || {
                if spec.pin {
                    pin_to_core(t);
                }
                let mut rng = Rng::new(spec.seed.wrapping_add(t as u64));
                start.wait();
                let r = catch(|| {
                    let mut hist = new_histogram();
                    let mut ops = 0u64;
                    let began = Instant::now();
                    while !stop.load(Relaxed) {
                        let key = key_of(&mut rng);
                        let t0 = ops.is_multiple_of(4).then(Instant::now);
                        cache.read(&key, |v| {
                            hold_for(spec.read_hold);
                            black_box(*v)
                        });
                        if let Some(t0) = t0 {
                            hist.saturating_record(t0.elapsed().as_nanos() as u64);
                        }
                        ops += 1;
                    }
                    Side {
                        ops,
                        elapsed: began.elapsed(),
                        hist,
                    }
                });
                readers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(r);
            });
        }
        for t in 0..spec.writers {
            let (cache, stop, start, writers) = (&cache, &stop, &start, &writers);
            s.spawn(move || {
                if spec.pin {
                    pin_to_core(spec.readers + t);
                }
                let mut rng = Rng::new(spec.seed.wrapping_add(1_000 + t as u64));
                start.wait();
                let r = catch(|| {
                    let mut hist = new_histogram();
                    let mut ops = 0u64;
                    let began = Instant::now();
                    while !stop.load(Relaxed) {
                        thread::sleep(spec.write_interval);
                        let key = key_of(&mut rng);
                        let t0 = Instant::now();
                        // The closure runs the moment the write lock is
                        // held, so its first line ends the wait.
                        let waited = cache.update(key, |slot| {
                            let waited = t0.elapsed();
                            *slot = Some(ops);
                            waited
                        });
                        hist.saturating_record(waited.as_nanos() as u64);
                        ops += 1;
                    }
                    Side {
                        ops,
                        elapsed: began.elapsed(),
                        hist,
                    }
                });
                writers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(r);
            });
        }
        start.wait();
        thread::sleep(spec.duration);
        stop.store(true, Relaxed);
    });
    let mut reader_hist = new_histogram();
    let mut reader_ops_per_sec = 0.0;
    for r in readers.into_inner().unwrap_or_else(PoisonError::into_inner) {
        let r = r?;
        reader_ops_per_sec += r.ops as f64 / r.elapsed.as_secs_f64().max(1e-9);
        reader_hist
            .add(&r.hist)
            .map_err(|e| BenchError::Histogram(e.to_string()))?;
    }
    let mut writer_hist = new_histogram();
    let mut writes = 0;
    for w in writers.into_inner().unwrap_or_else(PoisonError::into_inner) {
        let w = w?;
        writes += w.ops;
        writer_hist
            .add(&w.hist)
            .map_err(|e| BenchError::Histogram(e.to_string()))?;
    }
    Ok(StarvationResult {
        writer_wait: Latency::from_histogram(&writer_hist),
        writes,
        reader_ops_per_sec,
        reader_latency: Latency::from_histogram(&reader_hist),
    })
}

/// One design under one key mode, with a result per round.
#[derive(Debug, Clone, Serialize)]
pub struct StarvationRuns {
    pub design: String,
    pub hot: bool,
    pub rounds: Vec<StarvationResult>,
}

/// Runs every design for each key mode in `hot_modes`, `rounds` times,
/// designs alternating within a round.
pub fn run_starvation_rounds(
    spec: &StarvationSpec,
    hot_modes: &[bool],
    rounds: usize,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<StarvationRuns>, BenchError> {
    let mut runs: Vec<(StarveFn, StarvationRuns)> = Vec::new();
    for &hot in hot_modes {
        for (name, run) in designs() {
            runs.push((
                run,
                StarvationRuns {
                    design: name.to_owned(),
                    hot,
                    rounds: Vec::with_capacity(rounds),
                },
            ));
        }
    }
    for round in 0..rounds {
        for (run, r) in runs.iter_mut() {
            progress.set_message(format!(
                "round {}/{rounds}: starvation, {}, {}",
                round + 1,
                r.design,
                if r.hot { "hot key" } else { "uniform keys" }
            ));
            r.rounds.push(run(&StarvationSpec {
                hot: r.hot,
                ..spec.clone()
            })?);
            progress.inc(1);
        }
    }
    Ok(runs.into_iter().map(|(_, r)| r).collect())
}

/// What [`probe_policy`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PolicyProbe {
    /// How long the first reader held the lock.
    pub hold: Duration,
    /// How long the late reader waited, having arrived while the writer was
    /// queued.
    pub late_reader_wait: Duration,
    /// Whether the writer was still waiting when the late reader arrived
    /// (if not, the probe proves nothing and says so).
    pub writer_was_waiting: bool,
    /// The verdict: the late reader waited for the writer.
    pub writer_preferring: bool,
}

/// Checks the reader-writer policy of [`RwLockCache`] (`std::sync::RwLock`)
/// directly. Takes about `4 × step`.
///
/// Timeline: at 0 reader A takes the read lock and holds it for `3 × step`;
/// at `step` writer W asks for the write lock and must wait for A; at
/// `2 × step` reader B asks for the read lock. Under reader preference B
/// gets in at once beside A. Under writer preference B waits until A is
/// done *and* W has written, about `step` or more.
// ANCHOR: policy-probe
pub fn probe_policy(step: Duration) -> Result<PolicyProbe, BenchError> {
    let cache = RwLockCache::<u64, Value>::with_config(CacheConfig::new())?;
    cache.insert(0, 0);
    let hold = step * 3;
    let writer_done = Mutex::new(None::<Instant>);
    let late = Mutex::new(None::<(Instant, Duration)>);
    let origin = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            cache.read(&0, |_| thread::sleep(hold));
        });
        thread::sleep(step);
        s.spawn(|| {
            cache.insert(0, 1);
            *writer_done.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        });
        thread::sleep(step);
        s.spawn(|| {
            let t0 = Instant::now();
            cache.read(&0, |v| black_box(*v));
            *late.lock().unwrap_or_else(PoisonError::into_inner) = Some((t0, t0.elapsed()));
        });
    });
    let writer_done = writer_done
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .unwrap_or(origin);
    let (late_start, late_wait) = late
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .unwrap_or((origin, Duration::ZERO));
    let writer_was_waiting = writer_done > late_start;
    Ok(PolicyProbe {
        hold,
        late_reader_wait: late_wait,
        writer_was_waiting,
        // Half a step of waiting cannot be scheduling noise at these
        // timescales (steps are milliseconds).
        writer_preferring: writer_was_waiting && late_wait >= step / 2,
    })
}
// ANCHOR_END: policy-probe

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_measures_both_sides() -> Result<(), BenchError> {
        let spec = StarvationSpec {
            duration: Duration::from_millis(30),
            keys: 100,
            ..StarvationSpec::default()
        };
        for (name, run) in designs() {
            let r = run(&spec)?;
            assert!(r.writes > 0, "{name}: no writes");
            assert!(r.reader_ops_per_sec > 0.0, "{name}: no reads");
            assert_eq!(r.writer_wait.samples, r.writes);
        }
        Ok(())
    }

    #[test]
    fn std_rwlock_prefers_writers() -> Result<(), BenchError> {
        // Generous step: this must not flake on a loaded CI machine.
        let p = probe_policy(Duration::from_millis(20))?;
        assert!(p.writer_was_waiting, "{p:?}");
        assert!(p.writer_preferring, "{p:?}");
        Ok(())
    }
}
