//! The recorder: turns what a run does into a [`Trace`].
//!
//! Two ways in, one buffer:
//!
//! - **Directly**, from a scene's own code: [`Recorder::step`] and
//!   [`Recorder::set`] (the side panel).
//! - **Through `tracing`**, from the labs themselves: the
//!   [relay](crate::relay) hands [`Recorder::record`] every event with
//!   target [`TARGET`] (`ul::step`) and these fields:
//!   - `lane` (text): the lane's name; a new name makes a new lane;
//!   - `lane_kind` (text, optional): `thread`, `task`, `client`,
//!     `driver` or `data` (default `thread`);
//!   - `kind` (text): one of [`Kind`]'s JSON names (`lock-wait`, `send`…);
//!   - `label` (text): the line the reader sees;
//!   - `emits` (integer, optional): this step can cause later ones that
//!     answer the same number (a send, a release, a wake);
//!   - `answers` (integer, optional): this step's cause is the latest
//!     earlier step that emitted the same number.
//!
//! A lab emits such events with `tracing::trace!(target: "ul::step", …)`;
//! with no recorder installed they cost one relaxed atomic load per call
//! site, and the chapter measures what recording costs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::trace::{Clock, FORMAT, Kind, Lane, LaneKind, State, Step, Trace};

/// The `tracing` target of a recorded step.
pub const TARGET: &str = "ul::step";

/// Where time comes from: tokio's clock (virtual when paused) or the
/// real one.
#[derive(Debug, Clone, Copy)]
enum Start {
    Real(std::time::Instant),
    Tokio(tokio::time::Instant),
}

impl Start {
    fn elapsed_ns(&self) -> u64 {
        let d = match self {
            Start::Real(s) => s.elapsed(),
            Start::Tokio(s) => s.elapsed(),
        };
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }
}

struct Inner {
    scene: String,
    title: String,
    clock: Clock,
    start: Start,
    lanes: Vec<Lane>,
    by_name: HashMap<String, usize>,
    steps: Vec<Step>,
    state: State,
    /// `emits` number to the latest step that emitted it.
    emitted: HashMap<u64, usize>,
}

/// A recording in progress. Cheap to clone; every clone writes to the same
/// trace.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
}

/// What one step says, for [`Recorder::record`].
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    pub lane: &'a str,
    pub lane_kind: Option<LaneKind>,
    pub kind: Option<Kind>,
    pub label: &'a str,
    pub emits: Option<u64>,
    pub answers: Option<u64>,
    /// An explicit cause (a step index); wins over `answers`.
    pub cause: Option<usize>,
}

impl Recorder {
    /// Starts a recording. With [`Clock::Paused`], times come from tokio's
    /// clock, so call it inside a runtime whose clock is paused.
    pub fn new(scene: &str, title: &str, clock: Clock) -> Self {
        let start = match clock {
            Clock::Real => Start::Real(std::time::Instant::now()),
            Clock::Paused => Start::Tokio(tokio::time::Instant::now()),
        };
        Self {
            inner: Arc::new(Mutex::new(Inner {
                scene: scene.to_owned(),
                title: title.to_owned(),
                clock,
                start,
                lanes: Vec::new(),
                by_name: HashMap::new(),
                steps: Vec::new(),
                state: State::new(),
                emitted: HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while recording poisons nothing we rely on: the buffer
        // is append-only.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lane called `name`, made on first use (lanes show in the order
    /// they were first named).
    pub fn lane(&self, name: &str, kind: LaneKind) -> usize {
        lane_in(&mut self.lock(), name, kind)
    }

    /// Sets one section of the side panel; later steps carry it. An empty
    /// list removes the section.
    pub fn set(&self, section: &str, lines: Vec<String>) {
        let mut g = self.lock();
        if lines.is_empty() {
            g.state.remove(section);
        } else {
            g.state.insert(section.to_owned(), lines);
        }
    }

    /// Records one step on `lane` and returns its index.
    pub fn step(&self, lane: usize, kind: Kind, label: impl Into<String>) -> usize {
        push_in(&mut self.lock(), lane, kind, label.into(), None, None)
    }

    /// Records one step caused by step `cause` (drawn as an arrow).
    pub fn caused(&self, lane: usize, kind: Kind, label: impl Into<String>, cause: usize) -> usize {
        push_in(
            &mut self.lock(),
            lane,
            kind,
            label.into(),
            Some(cause),
            None,
        )
    }

    /// Records one step described by `e` (the path `tracing` events take).
    pub fn record(&self, e: &Event<'_>) -> usize {
        let mut g = self.lock();
        let lane = lane_in(&mut g, e.lane, e.lane_kind.unwrap_or(LaneKind::Thread));
        let cause = e
            .cause
            .or_else(|| e.answers.and_then(|n| g.emitted.get(&n).copied()));
        push_in(
            &mut g,
            lane,
            e.kind.unwrap_or(Kind::Note),
            e.label.to_owned(),
            cause,
            e.emits,
        )
    }

    /// How many steps so far.
    pub fn len(&self) -> usize {
        self.lock().steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The trace so far (the recording may go on).
    pub fn trace(&self) -> Trace {
        let g = self.lock();
        Trace {
            format: FORMAT.to_owned(),
            scene: g.scene.clone(),
            title: g.title.clone(),
            clock: g.clock,
            lanes: g.lanes.clone(),
            steps: g.steps.clone(),
        }
    }
}

fn lane_in(g: &mut Inner, name: &str, kind: LaneKind) -> usize {
    if let Some(&i) = g.by_name.get(name) {
        return i;
    }
    let i = g.lanes.len();
    g.lanes.push(Lane {
        name: name.to_owned(),
        kind,
    });
    g.by_name.insert(name.to_owned(), i);
    i
}

fn push_in(
    g: &mut Inner,
    lane: usize,
    kind: Kind,
    label: String,
    cause: Option<usize>,
    emits: Option<u64>,
) -> usize {
    let i = g.steps.len();
    // Steps from several threads may read the clock out of order by a few
    // nanoseconds before taking the lock; time never runs backwards here.
    let prev = g.steps.last().map_or(0, |s| s.t_ns);
    let t_ns = g.start.elapsed_ns().max(prev);
    let state = g.state.clone();
    g.steps.push(Step {
        t_ns,
        lane,
        kind,
        label,
        cause: cause.filter(|&c| c < i),
        state,
    });
    if let Some(n) = emits {
        g.emitted.insert(n, i);
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_carried_by_every_later_step() {
        let rec = Recorder::new("t", "t", Clock::Real);
        let a = rec.lane("A", LaneKind::Thread);
        rec.step(a, Kind::Note, "before");
        rec.set("lock", vec!["held by A".into()]);
        rec.step(a, Kind::LockAcquire, "A takes it");
        rec.set("lock", vec![]);
        rec.step(a, Kind::LockRelease, "A lets go");
        let t = rec.trace();
        assert!(t.steps[0].state.is_empty());
        assert_eq!(t.steps[1].state["lock"], vec!["held by A".to_owned()]);
        assert!(t.steps[2].state.is_empty());
    }
}
