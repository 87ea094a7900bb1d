//! Glue between your [`ShardedCache`] and lab-01's benchmark driver. Not an
//! exercise: nothing to edit here.
//!
//! The driver (`lab_01::run_workload`) measures anything that implements
//! `lab_01::BenchTarget`: build a cache for a workload, read a key, write a
//! key. This file implements it for your cache, and [`preflight`] tries
//! your cache once before the benchmark so that an unfinished exercise gets
//! a clear message rather than a panic in every worker thread.

use std::panic::{self, AssertUnwindSafe};

use lab_01::{BenchError, BenchTarget, Contender, Value, WorkloadSpec};

use crate::sharded_cache::ShardedCache;

impl BenchTarget for ShardedCache<u64, Value> {
    fn build(spec: &WorkloadSpec) -> Result<Self, BenchError> {
        Ok(ShardedCache::new(spec.shards))
    }

    fn bench_read(&self, key: u64) -> bool {
        self.get(&key).is_some()
    }

    fn bench_write(&self, key: u64, value: Value) {
        self.insert(key, value);
    }
}

/// Your cache as a bench contender named `yours`.
pub fn contender() -> Contender {
    Contender::of::<ShardedCache<u64, Value>>("yours")
}

/// Why [`preflight`] refused to run the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(
        "your sharded cache is not finished: `{step}` still panics ({message}).\n\
         Implement it in labs/lab-01/exercises/src/sharded_cache.rs, check it with\n\
         `cargo test -p lab-01-exercises --test sharded_cache`, then run the bench again."
    )]
    Unfinished { step: &'static str, message: String },
    #[error(
        "your sharded cache answered wrongly: {0}.\n\
         `cargo test -p lab-01-exercises --test sharded_cache` shows what to fix."
    )]
    Wrong(String),
}

/// Runs `f`, naming `step` if it panics, with the panic message kept off
/// stderr (the error says it better).
fn step<R>(name: &'static str, f: impl FnOnce() -> R) -> Result<R, PreflightError> {
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(hook);
    r.map_err(|p| PreflightError::Unfinished {
        step: name,
        message: kit::panic::panic_message(p.as_ref()),
    })
}

/// Tries every operation the benchmark uses, once.
pub fn preflight() -> Result<(), PreflightError> {
    let c = step("ShardedCache::new", || ShardedCache::<u64, Value>::new(4))?;
    step("insert", || c.insert(1, 10))?;
    let got = step("get", || c.get(&1))?;
    if got != Some(10) {
        return Err(PreflightError::Wrong(format!(
            "after insert(1, 10), get(1) returned {got:?}"
        )));
    }
    Ok(())
}
