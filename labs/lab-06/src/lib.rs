//! Under Load, lab 06: a task-leak detector for tokio (goleak, for Rust),
//! the leaks it catches, and the structured concurrency that prevents them.
//!
//! A Go test adds `defer goleak.VerifyNone(t)`; a tokio test adds
//! `lab_06::no_leaks(async { … }).await`, or starts a [`LeakCheck`] and
//! verifies it at the end. Tasks spawned through [`spawn`] (or wrapped in
//! [`track`] for a `JoinSet` or `TaskTracker`) are named by the line that
//! spawned them; tokio's own count of alive tasks catches the rest.
//!
//! # Module map
//!
//! The component, the detector (read these first):
//! - [`track`]: tracked spawns and the registry of live tasks, with each
//!   task's spawn site and age.
//! - [`check`]: the leak check: baseline, retries on a growing schedule,
//!   ignore lists, and the report.
//! - [`resources`]: descriptors, CLOSE_WAIT sockets and threads, checked
//!   the same way.
//! - [`profile`]: the live task profile (Go's `/debug/pprof/goroutine`).
//! - [`unstable`]: task dumps and spawn hooks, under `cfg(tokio_unstable)`
//!   only (a no-op otherwise).
//! - [`catalog`]: every leak pattern the chapter shows, each beside its fix.
//! - [`serve`]: lab-02 with its tasks tracked (the hook lab-02 calls), the
//!   profile on lab-04's debug port, and a leak to plant for the experiment.
//!
//! How it is measured (the harness; other labs never import it):
//! - [`measure`]: the chapter's experiments (cost of tracking, the catalog
//!   table, the hunt through lab-02, a planted leak over time, goleak on the
//!   same leak written in Go in `go/leak`), for the results pipeline.
//!
//! # Commands
//!
//! ```text
//! cargo run -p lab-06 -- catalog
//! cargo run -p lab-06 --release -- serve --model task-per-connection --debug-addr 127.0.0.1:6060
//! cargo run -p lab-06 -- tasks 127.0.0.1:6060
//! cargo run -p lab-06 --release -- measure --out target/lab-06.json [--quick]
//! ```

pub mod catalog;
pub mod check;
pub mod measure;
pub mod profile;
pub mod resources;
pub mod serve;
pub mod track;
pub mod unstable;

pub use check::{LeakCheck, LeakReport, Schedule, no_leaks};
pub use track::{spawn, spawn_blocking, spawn_on, track};
