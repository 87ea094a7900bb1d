//! Benchmarks of the labs, and comparisons with established crates.
//!
//! Comparator crates (dashmap, …) are dependencies of this package only,
//! never of a lab, so a lab stays about the design it teaches.
//!
//! Module map:
//! - [`targets`]: comparator crates wrapped in lab-01's `BenchTarget`, so the
//!   lab's own workload driver measures them exactly like its references.
//! - `benches/cache.rs`: criterion micro-benchmarks (read-heavy and
//!   write-heavy mixes at 1 and 2 threads): `cargo bench -p benches`.
//! - `src/bin/compare.rs`: the `measure` command of the results pipeline:
//!   lab-01's four designs and dashmap in the same run, alternating
//!   (`cargo xtask results --only benches`).

pub mod targets;
