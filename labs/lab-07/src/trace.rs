//! The recorded trace: what the recorder writes and the book's player reads.
//!
//! This is the contract between the lab and the book's player,
//! `theme/player.js`. The compact form is one JSON object (`Trace`), small
//! enough to sit inline in a page (a scene has tens to a few hundred steps):
//!
//! ```json
//! {
//!   "format": "under-load-trace/1",
//!   "scene": "lock-vs-shards",
//!   "title": "Two threads, one lock",
//!   "clock": "real" | "paused",
//!   "lanes": [ { "name": "thread A", "kind": "thread" } ],
//!   "steps": [
//!     { "t_ns": 1200, "lane": 0, "kind": "lock-wait", "label": "A waits for shard 0",
//!       "cause": null, "state": { "lock": ["held by B"] } }
//!   ]
//! }
//! ```
//!
//! - `lanes` are indexed from 0; a step's `lane` is an index into it.
//! - `steps` are in the order they happened; `t_ns` never decreases.
//! - `cause` is the index of an earlier step that made this one happen:
//!   the wake of a parked waiter, the send a receive got, the request a
//!   reply answers. The player draws it as an arrow.
//! - `state` is the whole side panel *after* the step: sections in a fixed
//!   order, each a list of lines. Every step carries the full state, so a
//!   player (or a test) can jump to any step without replaying the ones
//!   before it.
//!
//! [`Trace::to_chrome`] writes the same run as Chrome trace-event JSON,
//! which Perfetto (ui.perfetto.dev) and `chrome://tracing` open.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `format` field of every trace this lab writes.
pub const FORMAT: &str = "under-load-trace/1";

/// A recorded run, as the player reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub format: String,
    /// The scene's name (`[a-z0-9-]+`), as `lab-07 record NAME` takes it.
    pub scene: String,
    pub title: String,
    /// `paused` when the run used tokio's paused clock (the times are
    /// virtual and the order is the same on every recording); `real` when
    /// threads ran on a real clock (times and interleaving vary).
    pub clock: Clock,
    pub lanes: Vec<Lane>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Clock {
    Real,
    Paused,
}

/// One row of the player: a thread, a task, a client, or the I/O driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lane {
    pub name: String,
    pub kind: LaneKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LaneKind {
    Thread,
    Task,
    Client,
    /// The runtime's I/O driver or timer: wakes that come from outside
    /// any task (a socket became readable, a sleep ended).
    Driver,
    /// A data structure's own lane (a shard, a queue).
    Data,
}

/// What happened at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Spawn,
    PollStart,
    PollEnd,
    /// A task or thread was woken; `cause` is the step that woke it.
    Wake,
    LockWait,
    LockAcquire,
    LockRelease,
    Send,
    Recv,
    /// A socket became readable or writable.
    Ready,
    /// A change to a data structure (insert, evict, expire).
    Data,
    /// The end of a task or thread.
    Exit,
    /// Anything else worth a line (a stall starts, a deadline).
    Note,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Spawn,
        Kind::PollStart,
        Kind::PollEnd,
        Kind::Wake,
        Kind::LockWait,
        Kind::LockAcquire,
        Kind::LockRelease,
        Kind::Send,
        Kind::Recv,
        Kind::Ready,
        Kind::Data,
        Kind::Exit,
        Kind::Note,
    ];

    /// The name in the JSON (`lock-wait`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Spawn => "spawn",
            Kind::PollStart => "poll-start",
            Kind::PollEnd => "poll-end",
            Kind::Wake => "wake",
            Kind::LockWait => "lock-wait",
            Kind::LockAcquire => "lock-acquire",
            Kind::LockRelease => "lock-release",
            Kind::Send => "send",
            Kind::Recv => "recv",
            Kind::Ready => "ready",
            Kind::Data => "data",
            Kind::Exit => "exit",
            Kind::Note => "note",
        }
    }
}

/// The side panel: section name to lines, in a fixed order.
pub type State = BTreeMap<String, Vec<String>>;

// ANCHOR: step
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Nanoseconds since the recording started.
    pub t_ns: u64,
    pub lane: usize,
    pub kind: Kind,
    /// One line a reader understands without the code ("A takes shard 1").
    pub label: String,
    /// An earlier step that caused this one (see the module docs).
    pub cause: Option<usize>,
    /// The side panel after this step.
    pub state: State,
}
// ANCHOR_END: step

/// Why a trace is not one the player can show.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Invalid {
    #[error("format is {0:?}, expected {FORMAT:?}")]
    Format(String),
    #[error("scene name {0:?} is not [a-z0-9-]+")]
    Name(String),
    #[error("the trace has no lanes or no steps")]
    Empty,
    #[error("step {step} is on lane {lane}, but there are {lanes} lanes")]
    Lane {
        step: usize,
        lane: usize,
        lanes: usize,
    },
    #[error("step {step} names step {cause} as its cause, which is not earlier")]
    Cause { step: usize, cause: usize },
    #[error("step {step} is at {t} ns, before the step ahead of it ({prev} ns)")]
    Time { step: usize, t: u64, prev: u64 },
    #[error(
        "{what} {text:?} holds a line break or `{{{{#`, which would break the page it is shown on"
    )]
    Text { what: &'static str, text: String },
}

impl Trace {
    /// Checks the invariants the player relies on.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.format != FORMAT {
            return Err(Invalid::Format(self.format.clone()));
        }
        let name_ok = !self.scene.is_empty()
            && self
                .scene
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(Invalid::Name(self.scene.clone()));
        }
        if self.lanes.is_empty() || self.steps.is_empty() {
            return Err(Invalid::Empty);
        }
        // Text goes into the page's HTML block and past mdBook's
        // preprocessors: a blank line would end the block, `{{#` would be
        // read as a directive.
        let bad = |t: &str| t.contains('\n') || t.contains("{{#");
        let texts = std::iter::once(("the title", &self.title))
            .chain(self.lanes.iter().map(|l| ("a lane name", &l.name)))
            .chain(self.steps.iter().map(|s| ("a step label", &s.label)))
            .chain(
                self.steps
                    .iter()
                    .flat_map(|s| s.state.iter())
                    .flat_map(|(k, v)| std::iter::once(k).chain(v))
                    .map(|t| ("a side-panel line", t)),
            );
        for (what, text) in texts {
            if bad(text) {
                return Err(Invalid::Text {
                    what,
                    text: text.clone(),
                });
            }
        }
        let mut prev = 0;
        for (i, s) in self.steps.iter().enumerate() {
            if s.lane >= self.lanes.len() {
                return Err(Invalid::Lane {
                    step: i,
                    lane: s.lane,
                    lanes: self.lanes.len(),
                });
            }
            if let Some(c) = s.cause
                && c >= i
            {
                return Err(Invalid::Cause { step: i, cause: c });
            }
            if s.t_ns < prev {
                return Err(Invalid::Time {
                    step: i,
                    t: s.t_ns,
                    prev,
                });
            }
            prev = s.t_ns;
        }
        Ok(())
    }
}
