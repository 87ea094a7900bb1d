//! Under Load, lab 04: a profiler for the labs' servers, and the ways to
//! read what it finds.
//!
//! A Go engineer gets a flame graph of a live server with `go tool pprof
//! http://host/debug/pprof/profile`. This lab builds the same workflow for
//! Rust: a debug port any server in the process can mount, sampling with
//! pprof-rs, flame graphs and differential flame graphs with inferno, the
//! same stacks taken from outside with Linux `perf`, tokio's runtime
//! metrics for what a CPU profile cannot see, a heap profile (dhat), and a
//! profiler for criterion benchmarks.
//!
//! # Module map
//!
//! The component, the profiler (read these first):
//! - [`request`]: what a profile request may ask for (seconds, frequency,
//!   format), with a clear error for everything else.
//! - [`sampling`]: in-process CPU sampling with pprof-rs, one profile at a
//!   time, symbolised off the server's threads.
//! - [`stacks`]: the one shape every profile becomes: folded stacks, top-N,
//!   and profile.proto read back (Go's own profiles too).
//! - [`flame`]: flame graphs and differential flame graphs (inferno).
//! - [`debug`]: the loopback-only HTTP debug port (`/debug/pprof/profile`,
//!   `/debug/runtime`), and a small client for it.
//! - [`runtime`]: tokio-metrics over a window: busy ratio, parks, queue
//!   depth, task poll time and scheduling delay.
//! - [`perf`]: out-of-process profiling with Linux `perf`, folded by
//!   inferno's collapser.
//! - [`serve`]: lab-02's server with the debug port mounted.
//! - [`drive`]: lab-03's generator as a library call, for load while
//!   profiling.
//! - [`session`]: start, load, profile, write: what `lab-04 profile` does.
//! - [`bench`]: a criterion profiler that writes a flame graph per
//!   benchmark.
//! - [`heap`]: allocation counts per request from dhat (the `heap` binary
//!   installs dhat's allocator).
//!
//! How it is measured (the harness; other labs never import it):
//! - [`measure`]: the chapter's experiments (the profiler's overhead, the
//!   profile-to-fix case study on lab-02, the heap table, the flame graphs
//!   the chapter shows), for the results pipeline.
//!
//! # Commands
//!
//! ```text
//! cargo run -p lab-04 --release -- serve --model task-per-connection --debug-addr 127.0.0.1:6060
//! go tool pprof -top 'http://127.0.0.1:6060/debug/pprof/profile?seconds=10'
//! cargo run -p lab-04 --release -- profile --model event-loop --rate 20000 --seconds 10 --out prof/
//! cargo run -p lab-04 --release -- measure --out target/lab-04.json [--quick]
//! ```

pub mod bench;
pub mod debug;
pub mod drive;
pub mod flame;
pub mod heap;
pub mod measure;
pub mod perf;
pub mod request;
pub mod runtime;
pub mod sampling;
pub mod serve;
pub mod session;
pub mod stacks;
