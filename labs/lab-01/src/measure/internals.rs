//! Locks from the inside: probes of the states std's futex-based locks move
//! through, each measured rather than described.
//!
//! On Linux, `std::sync::Mutex` is one 32-bit word: unlocked, locked, or
//! locked with waiters ("contended"). Locking is one compare-exchange when
//! the word says unlocked. A thread that finds it locked spins for a short,
//! bounded while, re-reading the word, in case the holder is about to let
//! go; if it is still locked, the thread marks the word contended and
//! sleeps in the kernel (`futex_wait`). Unlocking swaps the word back to
//! unlocked and, only if it said contended, asks the kernel to wake one
//! sleeper (`futex_wake`). `RwLock`'s writers follow the same pattern.
//!
//! Two probes:
//! - [`fast_path`]: one thread, nobody else: what a lock and unlock cost
//!   when nothing is contended, beside the two atomic operations the fast
//!   path is made of.
//! - [`handoff`]: two threads on two cores. The holder keeps the lock for a
//!   chosen time after the waiter has asked for it, then releases; the
//!   waiter records when it got the lock and whether it slept on the way
//!   (its voluntary context switches, from `/proc/thread-self/status`). A
//!   short hold ends while the waiter is still spinning; a long one finds it
//!   asleep, and the handoff then includes the kernel waking it.

use std::hint::black_box;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kit::fmt::{fmt_int, fmt_ns, fmt_pct, fmt_ratio};
use kit::machine::pin_to_core;
use kit::stats::{med, median, spread};
use report::Table;

// The cache's own lock types (`std::sync`'s, except under `--cfg loom`,
// where this module only has to compile).
use crate::sync::{Mutex, RwLock, ShardLock};

/// The locks and operations the fast-path probe times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastOp {
    Mutex,
    RwLockRead,
    RwLockWrite,
    /// A compare-exchange that takes a flag and a swap that clears it: the
    /// two atomic read-modify-writes of an uncontended std `Mutex` lock and
    /// unlock (the swap tells unlock whether anyone sleeps), without the
    /// lock's code around them.
    Atomics,
}

impl FastOp {
    pub const ALL: [FastOp; 4] = [
        FastOp::Mutex,
        FastOp::RwLockRead,
        FastOp::RwLockWrite,
        FastOp::Atomics,
    ];

    pub fn label(self) -> &'static str {
        match self {
            FastOp::Mutex => "std Mutex: lock + unlock",
            FastOp::RwLockRead => "std RwLock: read + unlock",
            FastOp::RwLockWrite => "std RwLock: write + unlock",
            FastOp::Atomics => "compare-exchange + swap (the atomics of std's Mutex)",
        }
    }
}

// ANCHOR: fast-path
/// Nanoseconds per lock-and-unlock pair, one thread, `pairs` times in a row.
pub fn fast_path(op: FastOp, pairs: u64) -> f64 {
    let mutex = Mutex::new(0u64);
    let rwlock = RwLock::new(0u64);
    let flag = AtomicBool::new(false);
    let start = Instant::now();
    for i in 0..pairs {
        match op {
            FastOp::Mutex => *ShardLock::write(&mutex) += i,
            FastOp::RwLockRead => {
                black_box(*ShardLock::read(&rwlock));
            }
            FastOp::RwLockWrite => *ShardLock::write(&rwlock) += i,
            FastOp::Atomics => {
                let taken =
                    flag.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed);
                black_box(taken.is_ok());
                black_box(flag.swap(false, Ordering::Release));
            }
        }
    }
    let ns = start.elapsed().as_nanos() as f64;
    black_box((&mutex, &rwlock));
    ns / pairs as f64
}
// ANCHOR_END: fast-path

/// Which lock the handoff probe passes between its two threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffLock {
    Mutex,
    RwLockWrite,
}

impl HandoffLock {
    pub const ALL: [HandoffLock; 2] = [HandoffLock::Mutex, HandoffLock::RwLockWrite];

    pub fn label(self) -> &'static str {
        match self {
            HandoffLock::Mutex => "std Mutex",
            HandoffLock::RwLockWrite => "std RwLock (write)",
        }
    }
}

/// Every handoff of one probe run.
#[derive(Debug, Clone, Default)]
pub struct HandoffRun {
    /// From the holder's timestamp just before unlocking to the waiter's
    /// just after its lock call returned, ns, one per handoff.
    pub handoff_ns: Vec<u64>,
    /// How long the holder's unlock call took, ns, one per handoff.
    pub unlock_ns: Vec<u64>,
    /// Handoffs in which the waiter's thread slept (a voluntary context
    /// switch during its lock call).
    pub slept: usize,
    /// Whether both threads were pinned to distinct cores.
    pub pinned: bool,
}

impl HandoffRun {
    pub fn slept_share(&self) -> f64 {
        if self.handoff_ns.is_empty() {
            return 0.0;
        }
        self.slept as f64 / self.handoff_ns.len() as f64
    }
}

/// The calling thread's voluntary context switches so far: how many times
/// it gave up its core because it had to wait (a futex sleep is one). `None`
/// where `/proc/thread-self` does not exist.
pub fn voluntary_switches() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
}

fn spin_until(mut done: impl FnMut() -> bool) {
    while !done() {
        std::hint::spin_loop();
    }
}

fn nanos_since(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

/// Runs `handoffs` handoffs of `lock`, the holder keeping it for `hold`
/// after the waiter has announced it is about to lock.
pub fn handoff(lock: HandoffLock, hold: Duration, handoffs: usize) -> HandoffRun {
    match lock {
        HandoffLock::Mutex => handoff_on(&Mutex::new(0u64), hold, handoffs),
        HandoffLock::RwLockWrite => handoff_on(&RwLock::new(0u64), hold, handoffs),
    }
}

// ANCHOR: handoff
fn handoff_on<L: ShardLock<u64>>(lock: &L, hold: Duration, handoffs: usize) -> HandoffRun {
    let base = Instant::now();
    // Round i: the holder has the lock (turn = i + 1); the waiter is about
    // to call lock (asked = i + 1); the waiter is done (done = i + 1).
    let (turn, asked, done) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let released_at = AtomicU64::new(0);
    let start = Barrier::new(2);
    let (holder, waiter) = std::thread::scope(|s| {
        let holder = s.spawn(|| {
            let pinned = pin_to_core(0);
            start.wait();
            let mut unlock_ns = Vec::with_capacity(handoffs);
            for i in 1..=handoffs as u64 {
                let mut guard = lock.write();
                *guard += 1;
                turn.store(i, Ordering::Release);
                spin_until(|| asked.load(Ordering::Acquire) == i);
                let asked_at = Instant::now();
                spin_until(|| asked_at.elapsed() >= hold);
                released_at.store(nanos_since(base), Ordering::Relaxed);
                let t = Instant::now();
                drop(guard);
                unlock_ns.push(t.elapsed().as_nanos() as u64);
                spin_until(|| done.load(Ordering::Acquire) == i);
            }
            (unlock_ns, pinned)
        });
        let waiter = s.spawn(|| {
            let pinned = pin_to_core(1);
            start.wait();
            let (mut handoff_ns, mut slept) = (Vec::with_capacity(handoffs), 0);
            for i in 1..=handoffs as u64 {
                spin_until(|| turn.load(Ordering::Acquire) == i);
                let before = voluntary_switches();
                asked.store(i, Ordering::Release);
                let guard = lock.write();
                let got_at = nanos_since(base);
                drop(guard);
                // The holder wrote released_at before it unlocked; the lock
                // we just took orders that write before this read.
                let released = released_at.load(Ordering::Relaxed);
                handoff_ns.push(got_at.saturating_sub(released));
                if let (Some(b), Some(a)) = (before, voluntary_switches())
                    && a > b
                {
                    slept += 1;
                }
                done.store(i, Ordering::Release);
            }
            (handoff_ns, slept, pinned)
        });
        (holder.join(), waiter.join())
    });
    let ((unlock_ns, p0), (handoff_ns, slept, p1)) = match (holder, waiter) {
        (Ok(h), Ok(w)) => (h, w),
        // Neither thread can panic short of a broken lock; if one did, the
        // run has no data rather than wrong data.
        _ => return HandoffRun::default(),
    };
    HandoffRun {
        handoff_ns,
        unlock_ns,
        slept,
        pinned: p0 && p1,
    }
}
// ANCHOR_END: handoff

/// How long and how often the two probes run.
#[derive(Debug, Clone)]
pub struct ProbePlan {
    pub rounds: usize,
    /// Lock-and-unlock pairs per fast-path measurement.
    pub pairs: u64,
    /// Handoffs per lock, hold and round.
    pub handoffs: usize,
    /// How long the holder keeps the lock after the waiter asked.
    pub holds: Vec<Duration>,
}

impl ProbePlan {
    pub fn new(quick: bool, rounds: usize) -> Self {
        let holds = [0, 250, 1_000, 2_000, 4_000, 16_000, 256_000]
            .map(Duration::from_nanos)
            .to_vec();
        if quick {
            Self {
                rounds,
                pairs: 100_000,
                handoffs: 30,
                holds,
            }
        } else {
            Self {
                rounds,
                pairs: 5_000_000,
                handoffs: 1_000,
                holds,
            }
        }
    }

    /// Progress steps: one per fast-path measurement and per handoff run.
    pub fn steps(&self) -> u64 {
        (self.rounds * (FastOp::ALL.len() + HandoffLock::ALL.len() * self.holds.len())) as u64
    }
}

/// Both probes' raw results: `fast[op][round]`, `handoffs[lock][hold][round]`.
#[derive(Debug, Clone)]
pub struct Probes {
    pub fast: Vec<Vec<f64>>,
    pub handoffs: Vec<Vec<Vec<HandoffRun>>>,
}

/// Runs both probes, every round visiting the operations and the locks in
/// a rotated order.
pub fn run_probes(plan: &ProbePlan, mut step: impl FnMut()) -> Probes {
    let mut fast = vec![Vec::new(); FastOp::ALL.len()];
    let mut handoffs = vec![vec![Vec::new(); plan.holds.len()]; HandoffLock::ALL.len()];
    for round in 0..plan.rounds {
        for i in kit::stats::rotated(&[0, 1, 2, 3], round) {
            fast[i].push(fast_path(FastOp::ALL[i], plan.pairs));
            step();
        }
        for (h, &hold) in plan.holds.iter().enumerate() {
            for l in kit::stats::rotated(&[0, 1], round) {
                handoffs[l][h].push(handoff(HandoffLock::ALL[l], hold, plan.handoffs));
                step();
            }
        }
    }
    Probes { fast, handoffs }
}

/// One row of the handoff table, medians over rounds.
#[derive(Debug, Clone, Copy)]
struct HandoffRow {
    hold: Duration,
    slept: f64,
    p50: f64,
    p99: f64,
    unlock: f64,
}

fn handoff_rows(runs: &[Vec<HandoffRun>], holds: &[Duration]) -> Vec<HandoffRow> {
    holds
        .iter()
        .zip(runs)
        .map(|(&hold, rounds)| HandoffRow {
            hold,
            slept: med(rounds, HandoffRun::slept_share),
            p50: med(rounds, |r| percentile(&r.handoff_ns, 50.0)),
            p99: med(rounds, |r| percentile(&r.handoff_ns, 99.0)),
            unlock: med(rounds, |r| percentile(&r.unlock_ns, 50.0)),
        })
        .collect()
}

/// Where most waiters went from spinning to sleeping: the longest hold
/// below which most handoffs did not sleep, and the first at which most did.
fn threshold(rows: &[HandoffRow]) -> (Option<HandoffRow>, Option<HandoffRow>) {
    let parked = rows.iter().position(|r| r.slept > 0.5);
    let spun = match parked {
        Some(0) => None,
        Some(i) => Some(rows[i - 1]),
        None => rows.last().copied(),
    };
    (spun, parked.map(|i| rows[i]))
}

/// Whether every hold from `from` on put most waiters to sleep.
fn slept_from(rows: &[HandoffRow], from: Duration) -> bool {
    rows.iter()
        .filter(|r| r.hold >= from)
        .all(|r| r.slept > 0.5)
}

fn fmt_hold(d: Duration) -> String {
    if d.is_zero() {
        "0 (release at once)".to_owned()
    } else {
        fmt_ns(d.as_nanos() as f64)
    }
}

/// The two tables: `lock-fast-path` and `lock-handoff`.
pub fn probe_tables(plan: &ProbePlan, probes: &Probes) -> (Table, Table) {
    let mut fast = Table::new(
        "lock-fast-path",
        "Uncontended: one thread locking and unlocking, nobody else",
        &[
            "operation",
            "per lock + unlock",
            "vs the bare atomics",
            "spread",
        ],
    )
    .numeric(&[1, 2]);
    let per = |op: FastOp| median(&probes.fast[op as usize]);
    let atomics = per(FastOp::Atomics);
    for op in FastOp::ALL {
        fast.row(vec![
            op.label().to_owned(),
            fmt_ns(per(op)),
            fmt_ratio(per(op) / atomics),
            spread(&probes.fast[op as usize]),
        ]);
    }
    fast.note(format!(
        "{} lock-and-unlock pairs in a row on one thread, per operation and round; the median of \
         {} round(s), operations visited in a rotated order. The last row is a compare-exchange \
         that sets a flag and a swap that clears it: the two atomic read-modify-writes an \
         uncontended std Mutex lock and unlock execute (RwLock's are a compare-exchange and a \
         fetch-sub), without the function calls and state checks around them.",
        fmt_int(plan.pairs as f64),
        plan.rounds
    ));
    fast.fact("pairs", fmt_int(plan.pairs as f64));
    fast.fact("mutex", fmt_ns(per(FastOp::Mutex)));
    fast.fact("rwlock_read", fmt_ns(per(FastOp::RwLockRead)));
    fast.fact("rwlock_write", fmt_ns(per(FastOp::RwLockWrite)));
    fast.fact("atomics", fmt_ns(atomics));
    fast.fact("mutex_vs_atomics", fmt_ratio(per(FastOp::Mutex) / atomics));

    let mut t = Table::new(
        "lock-handoff",
        "Handing a lock over: how long the waiter waited after the release, and whether it slept",
        &[
            "lock",
            "held after the waiter asked",
            "waiter slept",
            "handoff p50",
            "handoff p99",
            "holder's unlock p50",
        ],
    )
    .numeric(&[2, 3, 4, 5]);
    let rows: Vec<Vec<HandoffRow>> = probes
        .handoffs
        .iter()
        .map(|runs| handoff_rows(runs, &plan.holds))
        .collect();
    for (lock, rows) in HandoffLock::ALL.iter().zip(&rows) {
        for r in rows {
            t.row(vec![
                lock.label().to_owned(),
                fmt_hold(r.hold),
                fmt_pct(r.slept),
                fmt_ns(r.p50),
                fmt_ns(r.p99),
                fmt_ns(r.unlock),
            ]);
        }
    }
    let pinned = probes.handoffs.iter().flatten().flatten().all(|r| r.pinned);
    t.note(format!(
        "Two threads{}. The holder takes the lock; the waiter announces it is about to lock and \
         calls lock; the holder keeps the lock for the time in the second column after the \
         announcement, then unlocks. Handoff: from the holder's clock reading just before its \
         unlock to the waiter's just after its lock returned (one monotonic clock, both threads). \
         Waiter slept: the share of handoffs during which the waiter's thread made a voluntary \
         context switch (it went to sleep in the kernel), read from /proc/thread-self/status \
         before and after. {} handoffs per lock, hold and round; medians of {} round(s).",
        if pinned {
            ", pinned to two cores"
        } else {
            " (not pinned: this machine would not allow it)"
        },
        fmt_int(plan.handoffs as f64),
        plan.rounds
    ));
    let holds: Vec<String> = plan.holds.iter().map(|&d| fmt_hold(d)).collect();
    t.fact("holds", holds.join(", "));
    t.fact("handoffs", fmt_int(plan.handoffs as f64));
    let mutex = &rows[HandoffLock::Mutex as usize];
    let rwlock = &rows[HandoffLock::RwLockWrite as usize];
    let (spun, parked) = threshold(mutex);
    t.fact(
        "verdict",
        handoff_verdict(
            spun,
            parked,
            parked.is_some_and(|p| slept_from(mutex, p.hold)),
        ),
    );
    let none = "none of the holds measured".to_owned();
    t.fact(
        "spun_hold",
        spun.map_or(none.clone(), |s| fmt_ns(s.hold.as_nanos() as f64)),
    );
    t.fact(
        "parked_hold",
        parked.map_or(none, |p| fmt_ns(p.hold.as_nanos() as f64)),
    );
    if let Some(last) = mutex.last() {
        t.fact("long_hold", fmt_ns(last.hold.as_nanos() as f64));
        t.fact("long_slept", fmt_pct(last.slept));
        t.fact("long_handoff", fmt_ns(last.p50));
        t.fact("long_handoff_p99", fmt_ns(last.p99));
        // Compare unlocks only against a row whose waiters did sleep.
        let slept = (last.slept > 0.5).then_some(*last).or(parked);
        t.fact("unlock_verdict", unlock_verdict(spun, slept));
    }
    let (_, rw_parked) = threshold(rwlock);
    t.fact(
        "rwlock_same",
        match (parked, rw_parked) {
            (Some(m), Some(r)) if m.hold == r.hold && r.hold == plan.holds[0] => {
                "RwLock's writers, too, slept in most handoffs from the shortest hold on".to_owned()
            }
            (Some(m), Some(r)) if m.hold == r.hold => {
                "RwLock's writers went from spinning to sleeping at the same hold".to_owned()
            }
            (_, Some(r)) => format!(
                "RwLock's writers went from spinning to sleeping at a hold of {} instead",
                fmt_ns(r.hold.as_nanos() as f64)
            ),
            (_, None) => {
                "RwLock's writers did not sleep in most handoffs at any hold measured".to_owned()
            }
        },
    );
    (fast, t)
}

/// Whether unlocking cost more with a sleeping waiter than with a spinning
/// one: the sleeper's wake-up is a system call the unlocking thread makes.
fn unlock_verdict(spun: Option<HandoffRow>, slept: Option<HandoffRow>) -> String {
    let (s, slept) = match (spun, slept) {
        (Some(s), Some(slept)) => (s, slept),
        (Some(s), None) => {
            return format!(
                "no hold measured put most waiters to sleep, so there is no sleeping waiter to \
                 compare with; with a spinning one the holder's unlock took {} (median)",
                fmt_ns(s.unlock)
            );
        }
        (None, Some(slept)) => {
            return format!(
                "with a sleeping waiter, the holder's unlock took {} (median); no hold measured \
                 had a spinning waiter to compare it with",
                fmt_ns(slept.unlock)
            );
        }
        (None, None) => return "the probe recorded no handoffs".to_owned(),
    };
    let ratio = slept.unlock / s.unlock;
    if ratio >= 2.0 {
        format!(
            "the holder's unlock took {} when the waiter was asleep, against {} when it was \
             spinning ({} as long): waking a sleeper is a system call, and the thread that \
             unlocks makes it",
            fmt_ns(slept.unlock),
            fmt_ns(s.unlock),
            fmt_ratio(ratio)
        )
    } else {
        format!(
            "the holder's unlock took about as long with a sleeping waiter ({}) as with a \
             spinning one ({}): on this machine the wake-up call did not show in the unlock",
            fmt_ns(slept.unlock),
            fmt_ns(s.unlock)
        )
    }
}

fn handoff_verdict(spun: Option<HandoffRow>, parked: Option<HandoffRow>, stays: bool) -> String {
    match (spun, parked) {
        (Some(s), Some(p)) => format!(
            "held up to {} after the waiter asked, the mutex reached its waiter without it \
             sleeping in {} of handoffs, {} after the release (median); held {}{}, most \
             waiters slept, and waking one made the handoff take {} ({} as long)",
            fmt_ns(s.hold.as_nanos() as f64),
            fmt_pct(1.0 - s.slept),
            fmt_ns(s.p50),
            fmt_ns(p.hold.as_nanos() as f64),
            if stays {
                " or longer"
            } else {
                " (though not at every longer hold)"
            },
            fmt_ns(p.p50),
            fmt_ratio(p.p50 / s.p50),
        ),
        (Some(s), None) => format!(
            "no hold measured, up to {}, put most waiters to sleep: this machine's waiters \
             spun through every one",
            fmt_ns(s.hold.as_nanos() as f64)
        ),
        (None, Some(p)) => format!(
            "even the shortest hold put most waiters to sleep ({} of handoffs), with a median \
             handoff of {}",
            fmt_pct(p.slept),
            fmt_ns(p.p50)
        ),
        (None, None) => "the probe recorded no handoffs".to_owned(),
    }
}

/// The percentile `p` (0..=100) of `xs`, by nearest rank.
pub fn percentile(xs: &[u64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_unstable();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1] as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_costs_are_positive_and_finite() {
        for op in FastOp::ALL {
            let ns = fast_path(op, 10_000);
            assert!(ns.is_finite() && ns > 0.0, "{op:?}: {ns}");
        }
    }

    #[test]
    fn voluntary_switches_count_a_sleep() {
        let Some(before) = voluntary_switches() else {
            return; // not Linux: nothing to read
        };
        std::thread::sleep(Duration::from_millis(2));
        let after = voluntary_switches().unwrap_or(0);
        assert!(
            after > before,
            "a sleep is a voluntary switch: {before} -> {after}"
        );
    }

    #[test]
    fn every_handoff_is_recorded_and_a_long_hold_puts_the_waiter_to_sleep() {
        if kit::procfs::cores() < 2 || voluntary_switches().is_none() {
            return;
        }
        for lock in HandoffLock::ALL {
            let run = handoff(lock, Duration::from_millis(2), 20);
            assert_eq!(run.handoff_ns.len(), 20);
            assert_eq!(run.unlock_ns.len(), 20);
            // A waiter cannot spin for two milliseconds: std's spin is a
            // bounded loop. Most of these handoffs must have slept.
            assert!(
                run.slept_share() > 0.5,
                "{lock:?}: slept in {} of 20",
                run.slept
            );
        }
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let xs: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&xs, 50.0), 50.0);
        assert_eq!(percentile(&xs, 99.0), 99.0);
        assert_eq!(percentile(&xs, 100.0), 100.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}
