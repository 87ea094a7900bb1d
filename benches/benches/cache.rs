//! criterion benchmarks: lab-01's cache designs and dashmap, for a
//! read-heavy and a write-heavy mix, at 1 and 2 threads.
//!
//! `cargo bench -p benches` (full), `cargo bench -p benches -- --test` (each
//! benchmark once: what the test suite runs). Reported time is per
//! operation: for N iterations, T threads each do N/T operations and the
//! wall time from a common start to the last thread's end is divided by N.
//! The side-by-side comparison the chapter uses comes from `compare`, which
//! alternates contenders within one run; criterion is the tool for "did
//! this get slower than last time".
//!
//! Profile mode writes a flame graph per benchmark with lab-04's criterion
//! profiler: `cargo bench -p benches --bench cache -- --profile-time 5
//! read-heavy` puts `flamegraph.svg`, `stacks.folded` and `top.txt` in
//! `target/criterion/<benchmark>/profile/`.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use benches::targets::DashMapTarget;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kit::Rng;
use lab_01::measure::workload::{BenchTarget, WorkloadSpec};
use lab_01::{MutexCache, RwLockCache, ShardedMutex, ShardedRwLock};

const KEYS: u64 = 100_000;

fn spec() -> WorkloadSpec {
    WorkloadSpec {
        keys: KEYS,
        shards: 64,
        ..WorkloadSpec::default()
    }
}

/// Runs `iters` operations over `threads` threads and returns the wall time.
fn run<T: BenchTarget>(target: &T, threads: usize, iters: u64, read_pct: u64) -> Duration {
    let per_thread = iters.div_ceil(threads as u64).max(1);
    let start = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = &start;
                s.spawn(move || {
                    let mut rng = Rng::new(0x5eed + t as u64);
                    start.wait();
                    for _ in 0..per_thread {
                        let r = rng.next_u64();
                        let key = (r >> 8) % KEYS;
                        if r % 100 < read_pct {
                            black_box(target.bench_read(key));
                        } else {
                            target.bench_write(key, r);
                        }
                    }
                })
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        for h in handles {
            // A panicking worker is a broken benchmark: surface it.
            if let Err(p) = h.join() {
                std::panic::resume_unwind(p);
            }
        }
        t0.elapsed()
    })
}

fn prefilled<T: BenchTarget>() -> T {
    let t = match T::build(&spec()) {
        Ok(t) => t,
        Err(e) => panic!("cannot build the benchmark target: {e}"),
    };
    for k in 0..KEYS {
        t.bench_write(k, k);
    }
    t
}

fn group<T: BenchTarget>(c: &mut Criterion, name: &str) {
    let target = prefilled::<T>();
    for (mix, read_pct) in [("read-heavy", 90), ("write-heavy", 10)] {
        let mut g = c.benchmark_group(format!("cache/{mix}"));
        g.throughput(Throughput::Elements(1));
        for threads in [1usize, 2] {
            g.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &threads| {
                b.iter_custom(|iters| run(&target, threads, iters, read_pct));
            });
        }
        g.finish();
    }
}

fn benches(c: &mut Criterion) {
    group::<MutexCache<u64, u64>>(c, "mutex");
    group::<RwLockCache<u64, u64>>(c, "rwlock");
    group::<ShardedMutex<u64, u64>>(c, "sharded-mutex");
    group::<ShardedRwLock<u64, u64>>(c, "sharded-rwlock");
    group::<DashMapTarget>(c, "dashmap");
}

criterion_group! {
    name = cache;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .with_profiler(lab_04::bench::FlameProfiler::new(997));
    targets = benches
}
criterion_main!(cache);
