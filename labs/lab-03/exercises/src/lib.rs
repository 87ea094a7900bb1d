//! Lab 03 exercises: the three pieces of a load generator that does not
//! lie. Record latencies in fixed, small memory; count the requests a
//! stalled client never sent; send on a schedule that a slow wake-up cannot
//! push back.
//!
//! | exercise | file you edit | checked by |
//! |---|---|---|
//! | `hdr-histogram`: an HDR-style histogram | `src/hdr_histogram.rs` | `cargo xtask exercise check lab-03 hdr-histogram` |
//! | `co-correction`: correct for coordinated omission | `src/co_correction.rs` | `cargo xtask exercise check lab-03 co-correction` |
//! | `pacing`: pace an open model without drifting | `src/pacing.rs` | `cargo xtask exercise check lab-03 pacing` |
//!
//! Each starter compiles and panics with `todo!()` until you fill it in.
//! The reference solutions live in `solutions/` and are built instead of
//! the starters with `--features solution`. `exercises.toml` lists the
//! exercises, their tests and hints for the automation.
//!
//! The exercises stand alone: they do not use lab-03's code, so you can do
//! them in any order and before reading lab-03's generator, which does the
//! same three things at scale.

#[cfg_attr(feature = "solution", path = "../solutions/hdr_histogram.rs")]
pub mod hdr_histogram;

#[cfg_attr(feature = "solution", path = "../solutions/co_correction.rs")]
pub mod co_correction;

/// The pacer's clock: real, or simulated by the tests (not an exercise).
pub mod clock;

#[cfg_attr(feature = "solution", path = "../solutions/pacing.rs")]
pub mod pacing;
