//! Was the machine fit to measure? How busy the rest of it was, and how
//! many cores' worth of work it could really do, while we measured.
//!
//! On a small, shared machine another process (a compiler, a neighbour's
//! benchmark) can take a core away mid-run, and a two-thread measurement on
//! a two-core machine silently becomes a measurement of time-slicing. We
//! cannot prevent that, but we can notice it: Linux accounts CPU time for
//! the whole machine (`/proc/stat`) and for this process
//! (`/proc/self/stat`), and the difference is everyone else.
//!
//! A virtual machine can also lose speed in ways its own accounting never
//! shows (a neighbour busy on the sibling hyperthread of the host core that
//! runs our vCPU). [`parallel_capacity`] catches that: it times pure
//! arithmetic on one thread and on N at once. On N free cores N threads do
//! N times the work; anything less is capacity the machine did not have.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::procfs::{CpuSample, cores};

fn spin(iters: u64) -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    for i in 0..iters {
        x = (x ^ i).wrapping_mul(0xBF58_476D_1CE4_E5B9).rotate_left(17);
    }
    black_box(x)
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// How many cores' worth of work `threads` threads of pure arithmetic got
/// done, relative to one thread (ideal: `threads`). Median of three tries;
/// takes about 50 ms.
pub fn parallel_capacity(threads: usize) -> f64 {
    const ITERS: u64 = 2_000_000;
    let mut ratios: Vec<f64> = (0..3)
        .map(|_| {
            let one = timed(|| {
                spin(ITERS);
            });
            let many = timed(|| {
                thread::scope(|s| {
                    for _ in 0..threads {
                        s.spawn(|| spin(ITERS));
                    }
                });
            });
            threads as f64 * one.as_secs_f64() / many.as_secs_f64().max(1e-9)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[1]
}

/// How long one cache line takes to travel from one core to another: two
/// threads pass a counter back and forth through one atomic, and each
/// handoff moves the line across. Every contended lock pays this, so it
/// bounds how well lock-heavy code can scale. On a VM it depends on where
/// the host placed the vCPUs (same core complex or not), and can change
/// from one hour to the next. Takes about 10–50 ms; `None` with one core.
pub fn handoff_latency() -> Option<Duration> {
    use std::sync::atomic::{AtomicU64, Ordering};
    const ROUND_TRIPS: u64 = 20_000;
    if cores() < 2 {
        return None;
    }
    let line = AtomicU64::new(0);
    let elapsed = thread::scope(|s| {
        s.spawn(|| {
            for i in 0..ROUND_TRIPS {
                while line.load(Ordering::Acquire) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                line.store(2 * i + 2, Ordering::Release);
            }
        });
        let t = Instant::now();
        for i in 0..ROUND_TRIPS {
            line.store(2 * i + 1, Ordering::Release);
            while line.load(Ordering::Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
        }
        t.elapsed()
    });
    Some(elapsed / (2 * ROUND_TRIPS as u32))
}

/// The conditions one experiment ran under.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Conditions {
    /// Share of CPU time other processes used meanwhile (`/proc/stat`).
    pub others: Option<f64>,
    /// Threads the capacity check used (the core count).
    pub threads: usize,
    /// [`parallel_capacity`] just before and just after.
    pub capacity_before: f64,
    pub capacity_after: f64,
    /// [`handoff_latency`] just before, in nanoseconds.
    pub handoff_ns: Option<f64>,
}

/// Keeps every core busy until `threads` threads of arithmetic scale (at
/// least 85% of ideal) or `limit` passes, and returns the last capacity.
///
/// Why: on a virtual machine an idle vCPU is descheduled by the host, and
/// the first hundreds of milliseconds of a two-thread experiment then run on
/// what is effectively one core. Measured runs showed exactly that: the
/// check before the first experiment reported about 1.0× and the check
/// after it 1.9×. Warming up first keeps that artefact out of the tables.
pub fn warm_up(threads: usize, limit: Duration) -> f64 {
    let start = Instant::now();
    loop {
        let capacity = parallel_capacity(threads);
        if capacity >= 0.85 * threads as f64 || start.elapsed() >= limit {
            return capacity;
        }
        thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_millis(200) {
                        black_box(spin(100_000));
                    }
                });
            }
        });
    }
}

/// Pins the calling thread to core `i mod cores`; returns whether it worked.
pub fn pin_to_core(i: usize) -> bool {
    match core_affinity::get_core_ids() {
        Some(ids) if !ids.is_empty() => core_affinity::set_for_current(ids[i % ids.len()]),
        _ => false,
    }
}

/// How [`watched`] prepares and checks an experiment.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    /// The longest CPU warm-up before the experiment (see [`warm_up`]).
    pub warm: Duration,
    /// Probe the cache-line handoff latency before the experiment.
    ///
    /// Leave it off for experiments that run other processes: the probe
    /// spins 40,000 handoffs, and when another process holds a core each
    /// one waits for a time slice (measured in lab-02: 0.4 ms each, 17 s
    /// per probe).
    pub handoff: bool,
}

impl Watch {
    /// A three-second warm-up and the handoff probe: for in-process,
    /// lock-heavy experiments.
    pub const IN_PROCESS: Watch = Watch {
        warm: Duration::from_secs(3),
        handoff: true,
    };

    /// A warm-up of at most `warm` and no handoff probe: for experiments
    /// whose work happens in child processes (which must be reaped before
    /// the closure returns, so their CPU time counts as ours).
    pub fn children(warm: Duration) -> Watch {
        Watch {
            warm,
            handoff: false,
        }
    }
}

/// Runs `f` after warming the CPUs up, and records the conditions it ran
/// under: the capacity check before and after, the handoff latency if
/// asked, and the CPU share of processes that are neither this one nor its
/// reaped children.
pub fn watched<T, E>(watch: Watch, f: impl FnOnce() -> Result<T, E>) -> Result<(T, Conditions), E> {
    let threads = cores();
    let capacity_before = warm_up(threads, watch.warm);
    let handoff_ns = if watch.handoff {
        handoff_latency().map(|d| d.as_nanos() as f64)
    } else {
        None
    };
    let before = CpuSample::now();
    let out = f()?;
    let others = before
        .zip(CpuSample::now())
        .and_then(|(a, b)| a.others_since(&b));
    let capacity_after = parallel_capacity(threads);
    Ok((
        out,
        Conditions {
            others,
            threads,
            capacity_before,
            capacity_after,
            handoff_ns,
        },
    ))
}

/// A note for a table: how free the machine was while it was measured.
pub fn conditions_note(c: &Conditions) -> String {
    let worst = c.capacity_before.min(c.capacity_after);
    let mut capacity = format!(
        "{} threads of pure arithmetic ran at {:.2}× one thread before this experiment and \
         {:.2}× after (ideal {}×)",
        c.threads, c.capacity_before, c.capacity_after, c.threads
    );
    if let Some(ns) = c.handoff_ns {
        capacity.push_str(&format!(
            "; a cache line took {ns:.0} ns to move between two cores"
        ));
    }
    let far = c.handoff_ns.is_some_and(|ns| ns > 300.0);
    if far {
        format!(
            "WARNING: the cores are far apart right now: {capacity}. Every contended lock pays \
             that, so multi-thread figures of lock-heavy code understate (typical desktop \
             handoffs are 40–150 ns). {}",
            load_note(c.others)
        )
    } else if worst < 0.85 * c.threads as f64 {
        format!(
            "WARNING: the machine did not have {} free cores: {capacity}. Multi-thread figures \
             understate; rerun on a quieter machine. {}",
            c.threads,
            load_note(c.others)
        )
    } else {
        format!("Machine check: {capacity}. {}", load_note(c.others))
    }
}

/// A note for a table: how much CPU others took while it was measured.
pub fn load_note(others: Option<f64>) -> String {
    match others {
        Some(f) if f > 0.10 => format!(
            "WARNING: other processes used {:.0}% of the machine's CPU time while this was \
             measured; the numbers are suspect, rerun on a quiet machine.",
            f * 100.0
        ),
        Some(f) => format!(
            "Other processes used {:.1}% of the machine's CPU time while this was measured \
             (from /proc/stat, hypervisor steal included; contention from outside the VM for \
             shared caches or memory does not show here, but the spread over rounds does).",
            f * 100.0
        ),
        None => "Background CPU load was not measured (no /proc/stat).".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handoffs_take_some_time() {
        if let Some(d) = handoff_latency() {
            assert!(d > Duration::ZERO && d < Duration::from_millis(1), "{d:?}");
        }
    }

    #[test]
    fn capacity_is_at_most_about_the_thread_count() {
        let c = parallel_capacity(1);
        assert!(c > 0.5 && c < 1.5, "{c}");
    }

    #[test]
    fn conditions_warn_when_cores_are_missing() {
        let c = Conditions {
            others: Some(0.0),
            threads: 2,
            capacity_before: 1.1,
            capacity_after: 1.9,
            handoff_ns: Some(60.0),
        };
        assert!(conditions_note(&c).starts_with("WARNING"));
        let c = Conditions {
            capacity_before: 1.95,
            ..c
        };
        assert!(conditions_note(&c).starts_with("Machine check"));
        assert!(conditions_note(&c).contains("60 ns"));
    }

    #[test]
    fn notes_warn_when_busy() {
        assert!(load_note(Some(0.3)).starts_with("WARNING"));
        assert!(load_note(Some(0.01)).contains("1.0%"));
    }
}
