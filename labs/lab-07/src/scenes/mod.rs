//! The scenes: short runs of the labs, recorded for the book's player.
//!
//! Each scene module has one `record` function that runs its lab code
//! under a [`Recorder`](crate::recorder::Recorder) and returns the trace.
//! `lab-07 record NAME` runs one; `lab-07 measure` runs them all for the
//! results pipeline.

use crate::trace::Trace;

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
    vec![]
}

/// The scene called `name`.
pub fn find(name: &str) -> Option<Scene> {
    all().into_iter().find(|s| s.name == name)
}
