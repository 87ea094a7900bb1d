//! Under Load, lab 01: a concurrent key-value cache, built four ways, and
//! the experiments that measure its locks.
//!
//! The cache is the keyspace lab-02's Redis-compatible server stores its
//! data in: GET/SET with NX, XX, PX, KEEPTTL and GET, DEL, EXISTS, EXPIRE,
//! PERSIST, TTL, atomic read-modify-write for INCR and friends, SCAN, a
//! capacity bound with approximate-LRU eviction, and lazy plus active expiry.
//!
//! # Module map
//!
//! The component, the cache (read these first):
//! - [`cache`]: the [`Cache`] trait every implementation offers, and the
//!   small types it speaks ([`SetOptions`], [`TtlState`], [`Stats`]).
//! - [`config`]: [`CacheConfig`] (capacity, shard count, clock) and the
//!   errors a bad one produces.
//! - [`shard`]: one shard's map, TTLs and eviction state; the only place
//!   the keyspace logic is written.
//! - [`sharded`]: the four implementations ([`MutexCache`], [`RwLockCache`],
//!   [`ShardedMutex`], [`ShardedRwLock`]) as one generic type over the lock
//!   and the shard count, plus [`shard_index`].
//! - [`sync`]: `std::sync` or, under `--cfg loom`, `loom::sync`; the
//!   [`sync::ShardLock`] abstraction; cache-line padding.
//! - [`clock`]: where TTLs read the time: [`SystemClock`] or, in tests,
//!   [`ManualClock`].
//!
//! How it is measured (the harness; other labs never import it):
//! - [`measure`]: the `measure` command's experiments as one results report,
//!   and under it [`measure::workload`] (the workload driver
//!   [`run_workload`] and the [`BenchTarget`] trait it drives),
//!   [`measure::bench`] (contenders, the alternating-rounds schedule) and
//!   [`measure::starvation`] (the writer-starvation experiment and the
//!   RwLock policy probe) and [`measure::internals`] (std's locks from the
//!   inside: fast path, spin, sleep, wake-up) and [`measure::go`] (Go's
//!   maps, the Go program in `go/maps`, beside two of the designs).
//! - [`cli`]: the `lab-01` command line (`bench`, `starvation`, `measure`),
//!   reusable by other binaries.
//!
//! What is about measuring in general (medians, number formats, the
//! machine check, seeded keys) comes from the measurement kit, `ci/kit`.
//!
//! # Measuring your own implementation
//!
//! Implement [`BenchTarget`] (three methods: build, read a key, write a
//! key) or the full [`Cache`] trait, then run the `lab-01` command line
//! with it added as a contender:
//!
//! ```no_run
//! # use lab_01::{BenchTarget, Contender, MutexCache};
//! # type MyCache = MutexCache<u64, u64>;
//! fn main() -> anyhow::Result<()> {
//!     lab_01::cli::main_with(vec![Contender::of::<MyCache>("mine")])
//! }
//! ```
//!
//! `my-binary bench --impls mutex,sharded-mutex,mine` then prints the
//! references and `mine` in one table, measured by the same driver in the
//! same alternating rounds. Or call [`run_workload`] directly with a
//! [`WorkloadSpec`] and read the [`WorkloadResult`].
//!
//! # Commands
//!
//! ```text
//! cargo run -p lab-01 --release -- bench            # < 15 s with defaults
//! cargo run -p lab-01 --release -- starvation
//! cargo run -p lab-01 --release -- locks [--quick]
//! cargo run -p lab-01 --release -- measure --out target/lab-01.json [--quick]
//! cargo test -p lab-01
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p lab-01 --release --test loom
//! ```

pub mod cache;
pub mod clock;
pub mod config;
pub mod shard;
pub mod sharded;
pub mod sync;

pub mod cli;
pub mod measure;

pub use cache::{Cache, Condition, ExpireReport, SetOptions, SetOutcome, Stats, Ttl, TtlState};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{CacheConfig, CacheError};
pub use measure::bench::Contender;
pub use measure::workload::{
    BenchError, BenchTarget, Value, WorkloadResult, WorkloadSpec, run_workload,
};
pub use sharded::{
    DefaultState, MutexCache, RwLockCache, ShardedMutex, ShardedRwLock, shard_index,
};
