//! Running implementations against each other: the contenders, the
//! round-robin schedule that makes their numbers comparable, and the
//! summaries (medians, speed-ups) the tables print.
//!
//! The measuring rule of the book: a comparison is a ratio measured in the
//! same run, alternating A B C D A B C D, reporting the median of the
//! rounds. [`run_rounds`] is that rule; every experiment goes through it.

use indicatif::ProgressBar;
use serde::Serialize;

use crate::measure::workload::{
    BenchError, BenchTarget, Value, WorkloadResult, WorkloadSpec, run_workload,
};
use crate::sharded::{MutexCache, RwLockCache, ShardedMutex, ShardedRwLock};
use kit::stats::median;

/// How to measure one implementation.
pub type RunFn = fn(&WorkloadSpec) -> Result<WorkloadResult, BenchError>;

/// An implementation that can be measured: a name for the tables and the
/// function that runs a workload against it.
///
/// Another crate adds its own cache to `lab-01 bench` by passing
/// `Contender::of::<MyCache>("mine")` to [`crate::cli::main_with`]; `MyCache`
/// only has to implement [`BenchTarget`] (or [`crate::Cache`]).
#[derive(Debug, Clone)]
pub struct Contender {
    pub name: String,
    pub run: RunFn,
}

impl Contender {
    pub fn new(name: impl Into<String>, run: RunFn) -> Self {
        Self {
            name: name.into(),
            run,
        }
    }

    /// The contender for any [`BenchTarget`].
    pub fn of<T: BenchTarget>(name: impl Into<String>) -> Self {
        Self::new(name, run_workload::<T>)
    }

    /// The four reference implementations, in table order.
    pub fn references() -> Vec<Contender> {
        vec![
            Self::of::<MutexCache<u64, Value>>("mutex"),
            Self::of::<RwLockCache<u64, Value>>("rwlock"),
            Self::of::<ShardedMutex<u64, Value>>("sharded-mutex"),
            Self::of::<ShardedRwLock<u64, Value>>("sharded-rwlock"),
        ]
    }
}

/// One thing to measure: a contender (by index) under a spec.
#[derive(Debug, Clone)]
pub struct Cell {
    pub contender: usize,
    pub spec: WorkloadSpec,
}

/// Runs every cell once per round, in the given order, round after round:
/// A B C D A B C D. Order cells so that the things being compared are
/// neighbours. Returns `results[cell][round]`.
pub fn run_rounds(
    contenders: &[Contender],
    cells: &[Cell],
    rounds: usize,
    progress: &ProgressBar,
) -> Result<Vec<Vec<WorkloadResult>>, BenchError> {
    let mut results: Vec<Vec<WorkloadResult>> = vec![Vec::with_capacity(rounds); cells.len()];
    for round in 0..rounds {
        for (i, cell) in cells.iter().enumerate() {
            let c = contenders
                .get(cell.contender)
                .ok_or_else(|| BenchError::Spec(format!("no contender #{}", cell.contender)))?;
            progress.set_message(format!(
                "round {}/{rounds}: {} × {} threads",
                round + 1,
                c.name,
                cell.spec.threads
            ));
            let r = (c.run)(&cell.spec)?;
            tracing::debug!(
                contender = %c.name,
                threads = cell.spec.threads,
                round,
                mops = r.ops_per_sec / 1e6,
                "cell done"
            );
            results[i].push(r);
            progress.inc(1);
        }
    }
    Ok(results)
}

/// The medians over rounds of one cell.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub ops_per_sec: f64,
    pub min_ops_per_sec: f64,
    pub max_ops_per_sec: f64,
    pub p50_ns: f64,
    pub p99_ns: f64,
    pub p999_ns: f64,
    pub max_ns: f64,
}

impl Summary {
    pub fn of(rounds: &[WorkloadResult]) -> Self {
        let pick = |f: fn(&WorkloadResult) -> f64| -> Vec<f64> { rounds.iter().map(f).collect() };
        let ops = pick(|r| r.ops_per_sec);
        Self {
            ops_per_sec: median(&ops),
            min_ops_per_sec: ops.iter().copied().fold(f64::INFINITY, f64::min),
            max_ops_per_sec: ops.iter().copied().fold(0.0, f64::max),
            p50_ns: median(&pick(|r| r.latency.p50_ns as f64)),
            p99_ns: median(&pick(|r| r.latency.p99_ns as f64)),
            p999_ns: median(&pick(|r| r.latency.p999_ns as f64)),
            max_ns: median(&pick(|r| r.latency.max_ns as f64)),
        }
    }

    /// (max - min) / median throughput over rounds, in percent: how much
    /// to trust the median.
    pub fn spread_pct(&self) -> f64 {
        100.0 * (self.max_ops_per_sec - self.min_ops_per_sec) / self.ops_per_sec
    }
}

/// The median over rounds of `a[round] / b[round]`: a ratio measured in
/// the same round, so slow drifts of the machine cancel out.
pub fn median_ratio(a: &[WorkloadResult], b: &[WorkloadResult]) -> f64 {
    let ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.ops_per_sec / y.ops_per_sec)
        .collect();
    median(&ratios)
}

/// Cells for every contender at every thread count, contenders alternating
/// within each thread count.
pub fn thread_grid(n_contenders: usize, threads: &[usize], base: &WorkloadSpec) -> Vec<Cell> {
    threads
        .iter()
        .flat_map(|&t| {
            (0..n_contenders).map(move |c| Cell {
                contender: c,
                spec: WorkloadSpec {
                    threads: t,
                    ..base.clone()
                },
            })
        })
        .collect()
}
