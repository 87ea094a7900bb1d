//! lab-01's scenes: two threads on one lock, then on two shards.
//!
//! Both scenes run lab-01's own cache code (`Locks<L, S, SHARDED>`, the
//! type behind `MutexCache` and `ShardedMutex`) over the
//! [recording lock](crate::lockrec), with the same two scripts: thread A
//! and thread B each do five gets and sets, released together by a
//! barrier. The keys are picked so that, with two shards, A's keys are in
//! shard 0 and B's in shard 1, except B's first operation, which reads
//! one of A's keys: one deliberate collision.
//!
//! Each lock is held for [`HOLD`] after it is taken (the work a real cache
//! does under it, stretched so a wait is visible on any machine), and
//! each thread works for [`THINK`] between operations. Real threads on a
//! real clock: the interleaving differs between recordings, so a scene
//! records again (up to [`ATTEMPTS`] times) until it shows what it is
//! about: a waiter let in by the other thread's release.

use std::hash::{BuildHasherDefault, DefaultHasher};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use anyhow::{Context, Result};
use lab_01::shard::Shard;
use lab_01::sharded::Locks;
use lab_01::{Cache, CacheConfig};

use crate::lockrec::{RecordingMutex, Tracker, doing};
use crate::recorder::Recorder;
use crate::trace::{Clock, Kind, LaneKind, Trace};

/// The scenes' names and titles.
pub const ONE_LOCK: &str = "one-lock";
pub const ONE_LOCK_TITLE: &str = "Two threads, one lock";
pub const TWO_SHARDS: &str = "two-shards";
pub const TWO_SHARDS_TITLE: &str = "Two threads, two shards";

/// How long a lock is held after it is taken.
pub const HOLD: Duration = Duration::from_micros(300);
/// How long a thread works between two operations, holding nothing.
pub const THINK: Duration = Duration::from_micros(100);
/// Recordings a scene makes at most before it settles for the last one.
pub const ATTEMPTS: usize = 5;

/// A fixed hasher (SipHash with zero keys), so a key lands in the same
/// shard on every run.
type Fixed = BuildHasherDefault<DefaultHasher>;
/// lab-01's cache over the recording lock: one shard or several.
type Recorded<const SHARDED: bool> =
    Locks<RecordingMutex<Shard<String, u64, Fixed>>, Fixed, SHARDED>;

/// One operation of a script.
#[derive(Debug, Clone)]
enum Op {
    Get(String),
    Set(String, u64),
}

impl Op {
    fn label(&self) -> String {
        match self {
            Op::Get(k) => format!("GET {k}"),
            Op::Set(k, v) => format!("SET {k} {v}"),
        }
    }

    fn run(&self, cache: &impl Cache<String, u64>) {
        match self {
            Op::Get(k) => {
                std::hint::black_box(cache.get(k.as_str()));
            }
            Op::Set(k, v) => {
                cache.insert(k.clone(), *v);
            }
        }
    }
}

/// The first keys (`user:N`) that a two-shard cache puts in shard 0 and
/// in shard 1, two of each.
fn keys() -> Result<([String; 2], [String; 2])> {
    let probe = Locks::<lab_01::sync::Mutex<Shard<String, u64, Fixed>>, Fixed, true>::with_config(
        CacheConfig::new().shards(2),
    )?;
    let mut zero = Vec::new();
    let mut one = Vec::new();
    for n in 1..1000 {
        let key = format!("user:{n}");
        match probe.shard_of(key.as_str()) {
            0 if zero.len() < 2 => zero.push(key),
            1 if one.len() < 2 => one.push(key),
            _ => {}
        }
        if zero.len() == 2 && one.len() == 2 {
            break;
        }
    }
    let zero: [String; 2] = zero
        .try_into()
        .map_err(|_| anyhow::anyhow!("no two keys in shard 0 among user:1..999"))?;
    let one: [String; 2] = one
        .try_into()
        .map_err(|_| anyhow::anyhow!("no two keys in shard 1 among user:1..999"))?;
    Ok((zero, one))
}

/// Thread A's and thread B's scripts.
fn scripts() -> Result<[Vec<Op>; 2]> {
    let ([a0, a1], [b0, b1]) = keys()?;
    let a = vec![
        Op::Set(a0.clone(), 1),
        Op::Set(a1.clone(), 2),
        Op::Get(a0.clone()),
        Op::Get(a1),
        Op::Set(a0.clone(), 3),
    ];
    let b = vec![
        // The collision: one of A's keys, while A sets it.
        Op::Get(a0),
        Op::Set(b0.clone(), 10),
        Op::Set(b1.clone(), 20),
        Op::Get(b0),
        Op::Get(b1),
    ];
    Ok([a, b])
}

/// Records the two scripts on a cache of `shards` shards, once.
fn record_once<const SHARDED: bool>(scene: &str, title: &str) -> Result<Trace> {
    let scripts = scripts()?;
    let rec = Recorder::new(scene, title, Clock::Real);
    let names = ["thread A", "thread B"];
    for n in names {
        rec.lane(n, LaneKind::Thread);
    }
    let tracker = Tracker::new(rec.clone(), HOLD);
    let cache: Recorded<SHARDED> =
        tracker.build(|| Cache::with_config(CacheConfig::new().shards(2)))?;
    // Which key lives where: fixed for the run, so shown once.
    let mut by_shard = vec![Vec::new(); cache.shard_count()];
    let mut seen: Vec<&str> = Vec::new();
    for op in scripts.iter().flatten() {
        let (Op::Get(k) | Op::Set(k, _)) = op;
        if !seen.contains(&k.as_str()) {
            seen.push(k);
            by_shard[cache.shard_of(k.as_str())].push(k.clone());
        }
    }
    let lines = by_shard
        .iter()
        .enumerate()
        .map(|(i, ks)| format!("shard {i}: {}", ks.join(", ")))
        .collect();
    rec.set("keys", lines);
    for i in 0..cache.shard_count() {
        rec.set(&crate::lockrec::section(i), vec!["free".into()]);
    }

    let start = Arc::new(Barrier::new(2));
    std::thread::scope(|s| -> Result<()> {
        let mut threads = Vec::new();
        for (name, script) in names.iter().zip(&scripts) {
            let (cache, start) = (&cache, start.clone());
            threads.push(
                std::thread::Builder::new()
                    .name((*name).to_owned())
                    .spawn_scoped(s, move || {
                        start.wait();
                        for op in script {
                            doing(op.label(), || op.run(cache));
                            std::thread::sleep(THINK);
                        }
                    })
                    .context("starting a scene thread")?,
            );
        }
        for t in threads {
            t.join()
                .map_err(|_| anyhow::anyhow!("a scene thread panicked"))?;
        }
        Ok(())
    })?;
    let trace = rec.trace();
    trace.validate()?;
    Ok(trace)
}

/// Waits in `t` whose acquire was let in by another lane's release.
pub fn handoffs(t: &Trace) -> usize {
    t.steps
        .iter()
        .filter(|s| s.kind == Kind::LockAcquire)
        .filter_map(|s| Some((s, &t.steps[s.cause?])))
        .filter(|(s, c)| c.kind == Kind::LockRelease && c.lane != s.lane)
        .count()
}

/// How many `lock-wait` steps `t` has.
pub fn waits(t: &Trace) -> usize {
    t.steps.iter().filter(|s| s.kind == Kind::LockWait).count()
}

/// `one-lock`: both threads on lab-01's single-lock cache.
pub fn one_lock() -> Result<Trace> {
    super::until_shown(one_lock_once, shows_handoff, ATTEMPTS)
}

/// One recording of `one-lock`, kept or not.
pub fn one_lock_once() -> Result<Trace> {
    record_once::<false>(ONE_LOCK, ONE_LOCK_TITLE)
}

fn shows_handoff(t: &Trace) -> bool {
    handoffs(t) > 0
}

/// What `one-lock` is about.
pub const ONE_LOCK_CASE: super::Case = super::Case {
    once: one_lock_once,
    shows: shows_handoff,
    what: "a thread waits and is let in by the other thread's release",
};

/// `two-shards`: the same scripts on a sharded cache with two shards.
pub fn two_shards() -> Result<Trace> {
    super::until_shown(two_shards_once, shows_collision, ATTEMPTS)
}

/// One recording of `two-shards`, kept or not.
pub fn two_shards_once() -> Result<Trace> {
    record_once::<true>(TWO_SHARDS, TWO_SHARDS_TITLE)
}

// The collision is the one wait this scene is about.
fn shows_collision(t: &Trace) -> bool {
    waits(t) > 0
}

/// What `two-shards` is about.
pub const TWO_SHARDS_CASE: super::Case = super::Case {
    once: two_shards_once,
    shows: shows_collision,
    what: "the one deliberate collision makes a thread wait",
};
