//! Checks exercise `pacing` on a simulated clock, exactly, whatever else
//! the machine is doing.
//!
//! The clock here wakes the pacer late on purpose, as a real machine does:
//! by a few tens of microseconds always (timer slack), and, on the busy
//! profile, now and then by up to 20 ms (another process had the core).
//! Each look at the clock and each sleep costs a little simulated CPU, so
//! the tests can tell a pacer that sleeps from one that spins. Because the
//! time is simulated, a busy machine cannot fail these tests and a quiet
//! one cannot pass a wrong pacer; one short test on the real clock checks
//! only what load cannot break (the pacer really blocks).

use std::time::{Duration, Instant};

use lab_03_exercises::pacing::{Clock, Pacer};

/// What each look at the clock or sleep call costs the thread, simulated.
const CALL_COST: Duration = Duration::from_nanos(200);
/// More clock calls than any pacer needs for a simulated second (the
/// reference makes about one per request and a sleep): it spins.
const MAX_CALLS: u64 = 2_000_000;
/// The most a quiet machine's wake-up is late (see [`Machine::Quiet`]).
const QUIET_LATE: Duration = Duration::from_micros(80);

/// How late the simulated OS wakes a sleeper.
#[derive(Debug, Clone, Copy)]
enum Machine {
    /// 20 to 80 µs late on every sleep (Linux's timer slack and a little
    /// scheduling), and 1 µs early one time in ten (rounding).
    Quiet,
    /// As quiet, and one sleep in fifty 1 to 20 ms late.
    Busy,
}

/// A clock that only moves when the pacer looks at it or sleeps.
struct SimClock {
    t: Duration,
    machine: Machine,
    rng: u64,
    /// Simulated CPU: `CALL_COST` per call.
    cpu: Duration,
    calls: u64,
    sleeps: u64,
}

impl SimClock {
    fn new(machine: Machine, seed: u64) -> Self {
        Self {
            // Not zero: a pacer must measure from its first call, not from
            // the clock's origin.
            t: Duration::from_millis(7),
            machine,
            rng: seed | 1,
            cpu: Duration::ZERO,
            calls: 0,
            sleeps: 0,
        }
    }

    /// xorshift64: fixed seeds, the same run every time.
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn charge(&mut self) {
        self.calls += 1;
        assert!(
            self.calls < MAX_CALLS,
            "the pacer looked at the clock {MAX_CALLS} times in under a simulated second: \
             it spins. Sleep until the next request is due"
        );
        self.cpu += CALL_COST;
        self.t += CALL_COST;
    }
}

impl Clock for SimClock {
    fn now(&mut self) -> Duration {
        self.charge();
        self.t
    }

    fn sleep(&mut self, d: Duration) {
        self.charge();
        // Like `thread::sleep`, a zero sleep returns at once.
        if d.is_zero() {
            return;
        }
        self.sleeps += 1;
        let early = d > Duration::from_micros(1) && self.next().is_multiple_of(10);
        let stalled = matches!(self.machine, Machine::Busy) && self.next().is_multiple_of(50);
        let late_ns = if stalled {
            self.between(1_000_000, 20_000_000)
        } else {
            self.between(20_000, QUIET_LATE.as_nanos() as u64)
        };
        self.t += if early {
            d - Duration::from_micros(1)
        } else {
            d + Duration::from_nanos(late_ns)
        };
    }
}

/// How many requests the schedule has made due `elapsed` after the start.
fn due(rate: f64, elapsed: Duration) -> u64 {
    (elapsed.as_secs_f64() * rate) as u64 + 1
}

/// Runs a pacer for a simulated second and checks every call against the
/// schedule: never ahead of it, never behind the moment it was called.
fn run_at(rate: f64, machine: Machine, seed: u64) {
    let mut pacer = Pacer::with_clock(rate, SimClock::new(machine, seed));
    let clock_at = |p: &Pacer<SimClock>| p.clock().t;
    let start = clock_at(&pacer);
    let (mut total, mut calls, mut largest) = (0u64, 0u64, 0u64);
    let run = Duration::from_secs(1);
    while clock_at(&pacer) - start < run {
        let called = clock_at(&pacer);
        let n = pacer.wait();
        let returned = clock_at(&pacer);
        assert!(n >= 1, "wait() returned 0: it must block until one is due");
        total += n;
        calls += 1;
        largest = largest.max(n);
        // The pacer took its start at its first look, a call's cost after
        // `start`; allow that and a float rounding of one request.
        assert!(
            total <= due(rate, returned - start) + 1,
            "at {rate}/s ({machine:?}), after {:?} wait() had handed out {total} requests, \
             more than the {} due: requests went out before their time",
            returned - start,
            due(rate, returned - start)
        );
        // The first request of this batch was due at `first_due`; on a
        // quiet machine it must go out within one late wake-up (and a few
        // looks at the clock) of that, or of the call if that came later.
        if matches!(machine, Machine::Quiet) {
            let first_due = start + Duration::from_secs_f64((total - n) as f64 / rate);
            let limit = called.max(first_due) + QUIET_LATE + CALL_COST * 8;
            assert!(
                returned <= limit,
                "at {rate}/s ({machine:?}), request {} was due {:?} after the start, and wait() \
                 handed it out {:?} after the start, {:?} late on a machine that wakes sleepers \
                 at most {QUIET_LATE:?} late: sleep until the next request is due, not longer",
                total - n,
                first_due - start,
                returned - start,
                returned - called.max(first_due)
            );
        }
        let owed = due(rate, (called - start).saturating_sub(CALL_COST * 2));
        assert!(
            total + 1 >= owed,
            "at {rate}/s ({machine:?}), wait() called {:?} after the start returned with {total} \
             requests handed out in all, fewer than the {owed} already due when it was called: \
             the schedule drifted. Count what is due since the start, do not sleep 1/rate per request",
            called - start
        );
    }
    let clock = pacer.clock();
    let wall = clock.t - start;
    let share = clock.cpu.as_secs_f64() / wall.as_secs_f64();
    println!(
        "rate {rate}/s ({machine:?}): {total} requests in {wall:?}, {calls} calls, \
         largest burst {largest}, {} sleeps, {} clock calls ({:.1}% simulated CPU)",
        clock.sleeps,
        clock.calls,
        share * 100.0
    );
    let want = due(rate, wall);
    assert!(
        total.abs_diff(want) <= 2,
        "at {rate}/s ({machine:?}) for {wall:?}, wait() handed out {total} requests; the schedule says {want}"
    );
    assert!(
        share < 0.05,
        "at {rate}/s the pacer spent {:.0}% of the time looking at the clock: \
         sleep until the next request is due, do not spin",
        share * 100.0
    );
    assert!(
        clock.sleeps <= 2 * total + 10,
        "at {rate}/s the pacer slept {} times to hand out {total} requests: \
         sleep once until the next request is due, not in small steps",
        clock.sleeps
    );
}

#[test]
fn holds_the_rate_on_a_quiet_machine() {
    for (rate, seed) in [(1_000.0, 1), (10_000.0, 2), (50_000.0, 3)] {
        run_at(rate, Machine::Quiet, seed);
    }
}

#[test]
fn holds_the_rate_on_a_busy_machine() {
    for (rate, seed) in [(1_000.0, 4), (10_000.0, 5), (50_000.0, 6)] {
        run_at(rate, Machine::Busy, seed);
    }
}

#[test]
fn first_call_returns_at_once() {
    // Request 0 is due at the first call: a pacer that sleeps before its
    // first request would wait a whole second here.
    let mut pacer = Pacer::with_clock(1.0, SimClock::new(Machine::Quiet, 7));
    let t0 = pacer.clock().t;
    assert_eq!(pacer.wait(), 1, "the first call hands out request 0");
    let took = pacer.clock().t - t0;
    assert!(
        took < Duration::from_micros(10),
        "the first call took {took:?} of simulated time; request 0 is due at once"
    );
}

#[test]
fn the_schedule_starts_at_the_first_call_not_at_construction() {
    // "Nothing starts yet": a pacer built long before it is first used
    // must not find a second's worth of requests due at its first call.
    let mut pacer = Pacer::with_clock(1_000.0, SimClock::new(Machine::Quiet, 9));
    pacer.clock_mut().t += Duration::from_millis(50);
    assert_eq!(
        pacer.wait(),
        1,
        "50 ms after Pacer::new, the first call must hand out request 0 only: \
         the schedule starts at the first call"
    );
    let n = pacer.wait();
    assert!(n <= 2, "then request 1, 1 ms later; got {n}");
}

#[test]
fn catches_up_after_a_late_wake_up() {
    let mut pacer = Pacer::with_clock(1_000.0, SimClock::new(Machine::Quiet, 8));
    assert_eq!(pacer.wait(), 1, "the first call hands out request 0");
    let n = pacer.wait();
    assert!(
        n <= 2,
        "the second call waits for request 1 (at 1 ms), got {n}"
    );
    // The caller is busy for 20 ms, as a real generator is when a send
    // blocks: 20 requests come due meanwhile, and the schedule must not
    // move to make up for it.
    pacer.clock_mut().t += Duration::from_millis(20);
    let n = pacer.wait();
    assert!(
        (19..=21).contains(&n),
        "after 20 ms away at 1000/s, wait() must return the ~20 requests now due, got {n}"
    );
    let n = pacer.wait();
    assert!(
        n <= 2,
        "after catching up, the next call waits for the next request, got {n}"
    );
}

#[test]
fn blocks_on_the_real_clock() {
    // Only a lower bound, which a busy machine cannot break: 50 requests
    // at 1000/s are due over 49 ms, so handing them out takes at least that.
    let mut pacer = Pacer::new(1_000.0);
    let t0 = Instant::now();
    let mut total = 0;
    while total < 50 {
        total += pacer.wait();
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(49),
        "50 requests at 1000/s came out in {:?}: the pacer does not block on the real clock",
        t0.elapsed()
    );
}

#[test]
#[should_panic(expected = "rate_per_sec")]
fn rejects_a_zero_rate() {
    let _ = Pacer::new(0.0);
}

#[test]
fn rejects_rates_that_are_not_numbers() {
    for bad in [f64::NAN, f64::INFINITY, -5.0] {
        let r = std::panic::catch_unwind(|| Pacer::new(bad));
        let message = match &r {
            Ok(_) => panic!("Pacer::new({bad}) must panic"),
            Err(e) => e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        };
        assert!(
            message.contains("rate_per_sec"),
            "Pacer::new({bad}) panicked with {message:?}, which does not name `rate_per_sec`"
        );
    }
}
