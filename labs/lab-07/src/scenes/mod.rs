//! The scenes: short runs of the labs, recorded for the book's player.
//!
//! Each scene module has one `record` function that runs its lab code
//! under a [`Recorder`](crate::recorder::Recorder) and returns the trace.
//! `lab-07 record NAME` runs one; `lab-07 measure` runs them all for the
//! results pipeline.

use crate::trace::Trace;

pub mod coordinated_omission;
pub mod leak;
pub mod locks;
pub mod server;
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
    /// For a scene on the real clock, whose interleaving differs between
    /// recordings: what one recording must show to be kept.
    pub case: Option<Case>,
}

/// What a real-clock scene is about, as a test on one recording. `record`
/// records until a recording passes it ([`until_shown`]); the results
/// pipeline also counts how often a single recording does, so the page
/// says how typical the kept one is.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// One recording, kept or not.
    pub once: fn() -> anyhow::Result<Trace>,
    pub shows: fn(&Trace) -> bool,
    /// What `shows` looks for, for the table.
    pub what: &'static str,
}

/// Records with `once` until a recording `shows` the case, at most
/// `attempts` times; then keeps the last one.
pub fn until_shown(
    once: fn() -> anyhow::Result<Trace>,
    shows: fn(&Trace) -> bool,
    attempts: usize,
) -> anyhow::Result<Trace> {
    let mut last = None;
    for _ in 0..attempts.max(1) {
        let t = once()?;
        if shows(&t) {
            return Ok(t);
        }
        last = Some(t);
    }
    last.ok_or_else(|| anyhow::anyhow!("no recording was made"))
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
            case: None,
        },
        Scene {
            name: locks::ONE_LOCK,
            title: locks::ONE_LOCK_TITLE,
            lab: "lab-01",
            about: "both threads go through lab-01's single lock and take turns: a thread that waits is let in by the other thread's release (the arrow)",
            record: locks::one_lock,
            case: Some(locks::ONE_LOCK_CASE),
        },
        Scene {
            name: locks::TWO_SHARDS,
            title: locks::TWO_SHARDS_TITLE,
            lab: "lab-01",
            about: "the same operations on two shards: the threads wait only where B reads one of A's keys, then run side by side, each on its own shard",
            record: locks::two_shards,
            case: Some(locks::TWO_SHARDS_CASE),
        },
        Scene {
            name: server::EVENT_LOOP_TURN,
            title: server::EVENT_LOOP_TURN_TITLE,
            lab: "lab-02",
            about: "client 1's KEYS holds the only thread; clients 2 and 3's requests wait in their sockets, and the next turn finds both ready and serves them together",
            record: server::event_loop_turn,
            case: Some(server::EVENT_LOOP_TURN_CASE),
        },
        Scene {
            name: server::TASK_PER_CONNECTION,
            title: server::TASK_PER_CONNECTION_TITLE,
            lab: "lab-02",
            about: "a task per connection and a second worker free, yet clients 2 and 3 get their replies only after client 1's KEYS, as on the event loop",
            record: server::task_per_connection,
            case: Some(server::TASK_PER_CONNECTION_CASE),
        },
        Scene {
            name: server::PER_CORE_HOP,
            title: server::PER_CORE_HOP_TITLE,
            lab: "lab-02",
            about: "a command for a key the other core owns goes there as a message, runs there, and its reply comes back before the connection's core writes to the client",
            record: server::per_core_hop,
            case: None,
        },
        Scene {
            name: coordinated_omission::NAME,
            title: coordinated_omission::TITLE,
            lab: "lab-03",
            about: "during the stall the closed-loop client sends nothing and records one slow reply; the open model keeps sending on schedule, and latency from the intended times shows the stall in every request it held",
            record: coordinated_omission::record,
            case: None,
        },
        Scene {
            name: leak::LEAK,
            title: leak::LEAK_TITLE,
            lab: "lab-06",
            about: "lab-06's catalog case sender-kept: the worker and the reader wait forever, their lanes never reach exit, and lab-06's check names both",
            record: leak::record_leak,
            case: None,
        },
        Scene {
            name: leak::FIXED,
            title: leak::FIXED_TITLE,
            lab: "lab-06",
            about: "the fix for sender-kept: the caller's cancel wakes the worker; the worker's last poll, the one that ends it, wakes the reader, and the reader's last poll wakes the caller's tracker.wait()",
            record: leak::record_fixed,
            case: None,
        },
    ]
}

/// The scene called `name`.
pub fn find(name: &str) -> Option<Scene> {
    all().into_iter().find(|s| s.name == name)
}
