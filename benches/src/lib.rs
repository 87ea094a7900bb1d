//! Benchmarks of the labs, and comparisons with established crates.
//!
//! Comparator crates (dashmap, parking_lot, papaya, moka, arc-swap) are
//! dependencies of this package only, never of a lab, so a lab stays about
//! the design it teaches.
//!
//! Module map:
//! - [`targets`]: other crates' maps (dashmap, papaya, moka) and lab-01's
//!   cache with TTLs and a capacity bound, wrapped in lab-01's
//!   `BenchTarget`, so the lab's own workload driver measures them exactly
//!   like its references.
//! - [`locks`]: `parking_lot`'s `Mutex` and `RwLock` behind lab-01's
//!   `ShardLock`, so lab-01's unchanged cache runs on them.
//! - [`hot`]: the read-mostly hot value (arc-swap against `RwLock<Arc>`,
//!   `Mutex<Arc>` and a lab-01 key): its driver and contenders.
//! - [`verdicts`]: the sentences under the tables, worded from the ratios.
//! - `benches/cache.rs`: criterion micro-benchmarks (read-heavy and
//!   write-heavy mixes at 1 and 2 threads): `cargo bench -p benches`.
//! - `src/bin/compare.rs`: the `measure` command of the results pipeline:
//!   every contender of a table in the same run, alternating
//!   (`cargo xtask results --only benches`).

pub mod hot;
pub mod locks;
pub mod targets;
pub mod verdicts;
