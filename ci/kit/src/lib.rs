//! Under Load's measurement kit: the common routines every lab's harness
//! uses and that belong to no lab's component. A lab's own crate holds its
//! component (a cache, a server, a load generator) and the experiments
//! about it; everything generic about *measuring* lives here, once.
//!
//! Nothing in this crate knows any lab. It may be used by every lab, by
//! `benches` and by `xtask`; it depends only on the results format
//! (`ul-report`).
//!
//! # Module map
//!
//! - [`stats`]: medians, paired ratios and spreads over rounds.
//! - [`fmt`]: the number formats tables use, and tables for a terminal.
//! - [`duration`]: the one duration parser every command line uses.
//! - [`rng`]: a seeded PRNG and a Zipf sampler, for reproducible keys.
//! - [`procfs`]: CPU time, memory and other facts read from `/proc`.
//! - [`machine`]: was the machine fit to measure? Capacity, core-to-core
//!   handoff, other processes' CPU share.
//! - [`process`]: starting, pinning, watching and stopping child processes
//!   (servers under test, load tools), and running a tool to completion.
//! - [`redis_benchmark`]: driving Debian's `redis-benchmark` and reading its
//!   CSV, charging the server's CPU time to each run.
//! - [`golang`]: building the Go programs measured beside the labs with
//!   Debian's `go`, in GOPATH mode, into `target/go`.
//! - [`output`]: writing a report, printing its summary, timing a step.
//! - [`cli`]: the options every `measure` command shares, and tracing set-up.
//! - [`panic`]: a panic payload as text.
//! - `testutil` (feature `testutil`): temporary directories and polling
//!   helpers for tests.

pub mod cli;
pub mod duration;
pub mod fmt;
pub mod golang;
pub mod machine;
pub mod output;
pub mod panic;
pub mod process;
pub mod procfs;
pub mod redis_benchmark;
pub mod rng;
pub mod stats;
#[cfg(feature = "testutil")]
pub mod testutil;

pub use duration::parse_duration;
pub use output::timed;
pub use rng::{Rng, Zipf};
