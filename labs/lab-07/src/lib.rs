//! Lab 07: Seeing execution. Short, deterministic runs of the other labs,
//! recorded step by step for the book's player.
//!
//! # Module map
//!
//! The component, the recorder and its scenes (read these first):
//! - [`trace`]: the recorded trace, the contract with the page's player.
//! - [`recorder`]: turns steps into a trace, from a scene's own calls or
//!   from `tracing` events the relay hands it.
//! - [`tasks`]: records tokio tasks: spawn, polls, who woke whom, exit.
//! - [`lockrec`]: a lock for lab-01's caches that records its waits,
//!   acquires and releases.
//! - [`relay`]: the process-wide `tracing` path from lab-02's threads to
//!   whichever recording is on.
//! - [`export`]: the trace as Chrome trace-event JSON, and as text.
//! - [`scenes`]: the registry of scenes, and one module per scene.
//!
//! How it is measured (the harness; other labs never import it):
//! - [`measure`]: records every scene for the results pipeline
//!   (`cargo xtask results --only lab-07`).
//! - [`cost`]: what recording costs the recorded labs (ratios, same run).
//! - `main.rs`: the command line: `record` one scene, `measure` them all.
//!
//! What is about measuring in general (number formats, writing the
//! report) comes from the measurement kit, `ci/kit`.

pub mod cost;
pub mod export;
pub mod lockrec;
pub mod measure;
pub mod recorder;
pub mod relay;
pub mod scenes;
pub mod tasks;
pub mod trace;

// ANCHOR: component
pub use recorder::Recorder;
pub use tasks::{Recorded, Tasks, paused_runtime};
pub use trace::{Clock, Kind, Lane, LaneKind, Step, Trace};
// ANCHOR_END: component
