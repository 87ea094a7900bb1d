//! The scenes: short runs of the labs, recorded for the book's player.
//!
//! Each scene module has one `record` function that runs its lab code
//! under a [`Recorder`](crate::recorder::Recorder) and returns the trace.
//! `lab-07 record NAME` runs one; `lab-07 measure` runs them all for the
//! results pipeline.

use crate::trace::Trace;

pub mod coordinated_omission;
pub mod leak;
pub mod sharded_map;

/// One scene the book shows.
#[derive(Debug, Clone, Copy)]
pub struct Scene {
    /// `[a-z0-9-]+`: the command-line name and the results file stem.
    pub name: &'static str,
    pub title: &'static str,
    /// The lab whose code runs in it (`lab-01`).
    pub lab: &'static str,
    /// One sentence: what to look for.
    pub about: &'static str,
    pub record: fn() -> anyhow::Result<Trace>,
}

/// Every scene, in the order the chapter shows them.
pub fn all() -> Vec<Scene> {
    vec![
        Scene {
            name: sharded_map::NAME,
            title: sharded_map::TITLE,
            lab: "lab-01",
            about: "each key lands in the shard its hash picks; a full shard evicts its least recently used sampled key, and an expired key is invisible to reads but held until reclaimed",
            record: sharded_map::record,
        },
        Scene {
            name: coordinated_omission::NAME,
            title: coordinated_omission::TITLE,
            lab: "lab-03",
            about: "during the stall the closed-loop client sends nothing and records one slow reply; the open model keeps sending on schedule, and latency from the intended times shows the stall in every request it held",
            record: coordinated_omission::record,
        },
        Scene {
            name: leak::LEAK,
            title: leak::LEAK_TITLE,
            lab: "lab-06",
            about: "lab-06's catalog case sender-kept: the worker and the reader wait forever, their lanes never reach exit, and lab-06's check names both",
            record: leak::record_leak,
        },
        Scene {
            name: leak::FIXED,
            title: leak::FIXED_TITLE,
            lab: "lab-06",
            about: "the fix for sender-kept: the caller's cancel wakes the worker, whose exit wakes the reader, whose exit wakes the caller's tracker.wait()",
            record: leak::record_fixed,
        },
    ]
}

/// The scene called `name`.
pub fn find(name: &str) -> Option<Scene> {
    all().into_iter().find(|s| s.name == name)
}
