//! Checks exercise `pacing` in real time, briefly: the rate achieved over
//! one second at three rates, the largest burst, the CPU the pacer burns,
//! and catching up after a late wake-up. The whole file runs in about two
//! seconds (the harness runs the tests two at a time).
//!
//! Why a CPU bound: a load generator shares the machine with what it
//! measures. A pacer that spins on the clock instead of sleeping hits its
//! rate perfectly while taking a whole core from the server, on a 2-core
//! machine half of it, so the numbers it produces describe a server
//! starved by its own client. Sleeping between requests costs a few
//! percent of a core even at 50,000/s; the bound, 60% of the wall time,
//! only rules out spinning (which uses ~100%), with room for a slow,
//! unoptimised test build.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use lab_03_exercises::pacing::Pacer;

/// How long each rate runs.
const RUN: Duration = Duration::from_secs(1);

/// Nanoseconds this thread has spent on a CPU, or `None` where Linux's
/// `/proc` does not tell.
fn thread_cpu_ns() -> Option<u64> {
    // schedstat's first field is the time on CPU in ns, exact.
    if let Some(ns) = fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
    {
        return Some(ns);
    }
    // Otherwise stat's utime and stime (fields 14 and 15) in clock ticks,
    // 10 ms each on Linux. Field 2, the name, may hold spaces: count from
    // the ')' that closes it, after which field 3 comes first.
    let stat = fs::read_to_string("/proc/thread-self/stat").ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some((utime + stime) * 10_000_000)
}

fn run_at(rate: f64) {
    let mut pacer = Pacer::new(rate);
    let cpu_before = thread_cpu_ns();
    let t0 = Instant::now();
    let (mut total, mut calls, mut largest) = (0u64, 0u64, 0u64);
    while t0.elapsed() < RUN {
        let n = pacer.wait();
        assert!(n >= 1, "wait() returned 0: it must block until one is due");
        total += n;
        calls += 1;
        largest = largest.max(n);
    }
    let wall = t0.elapsed();
    let cpu = cpu_before.zip(thread_cpu_ns()).map(|(a, b)| b - a);

    // The schedule has made floor(rate * t) + 1 requests due by time t.
    let want = rate * wall.as_secs_f64();
    let off = (total as f64 - want) / want;
    println!(
        "rate {rate}/s: {total} requests in {wall:?} ({:+.3}%), {calls} calls, largest burst {largest}, cpu {:?}",
        off * 100.0,
        cpu.map(Duration::from_nanos)
    );
    assert!(
        off.abs() <= 0.01,
        "at {rate}/s for {wall:?}, wait() handed out {total} requests; the schedule says {want:.0} \
         ({:+.1}%). Count what is due since the start, do not sleep 1/rate per request",
        off * 100.0
    );
    // A wake-up that is a little late catches up with a small burst; a
    // burst worth more than 5 ms means the pacer slept far too long, or
    // let requests pile up instead of handing them out as they came due.
    let max_burst = (rate * 0.005) as u64 + 1;
    assert!(
        largest <= max_burst,
        "at {rate}/s one wait() returned {largest} requests, more than 5 ms worth ({max_burst})"
    );
    match cpu {
        Some(cpu) => {
            let share = cpu as f64 / wall.as_nanos() as f64;
            assert!(
                share < 0.6,
                "at {rate}/s the pacing thread was on a CPU {:.0}% of the time: \
                 sleep with std::thread::sleep, do not spin",
                share * 100.0
            );
        }
        None => eprintln!("no /proc/thread-self: the CPU bound is not checked here"),
    }
}

#[test]
fn holds_1_000_per_second() {
    run_at(1_000.0);
}

#[test]
fn holds_10_000_per_second() {
    run_at(10_000.0);
}

#[test]
fn holds_50_000_per_second() {
    run_at(50_000.0);
}

#[test]
fn first_call_returns_at_once() {
    // Request 0 is due at the first call: a pacer that sleeps before its
    // first request would wait a whole second here.
    let mut pacer = Pacer::new(1.0);
    let t0 = Instant::now();
    assert_eq!(pacer.wait(), 1, "the first call hands out request 0");
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "the first call took {:?}; request 0 is due at once",
        t0.elapsed()
    );
}

#[test]
fn catches_up_after_a_late_wake_up() {
    let mut pacer = Pacer::new(1_000.0);
    assert_eq!(pacer.wait(), 1, "the first call hands out request 0");
    let n = pacer.wait();
    assert!(
        n <= 2,
        "the second call waits for request 1 (at 1 ms), got {n}"
    );
    // The caller is busy for 20 ms, as a real generator is when a send
    // blocks: about 20 requests come due meanwhile, and the schedule must
    // not move to make up for it.
    thread::sleep(Duration::from_millis(20));
    let n = pacer.wait();
    assert!(
        (18..=22).contains(&n),
        "after 20 ms away at 1000/s, wait() must return the ~20 requests now due, got {n}"
    );
    let n = pacer.wait();
    assert!(
        n <= 2,
        "after catching up, the next call waits for the next request, got {n}"
    );
}

#[test]
#[should_panic(expected = "rate_per_sec")]
fn rejects_a_zero_rate() {
    let _ = Pacer::new(0.0);
}
