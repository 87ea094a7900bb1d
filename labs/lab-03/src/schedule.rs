//! When an open-model run means to start each request.
//!
//! An open model fixes the *arrival* times in advance, whatever the server
//! does. A [`Schedule`] yields those intended start times, in nanoseconds
//! from the start of the run. The engine never asks "how long since the
//! last send?"; it asks "which requests are due by now?", so a late wake-up
//! is caught up at once instead of shifting every later request. That is
//! why the achieved rate stays on target even though a timer can fire tens
//! of microseconds late, and why latency is measured from these times.

use std::time::Duration;

/// Intended start times of requests, in nanoseconds after the run starts.
pub trait Schedule: Send {
    /// The next intended start. Never smaller than the previous one.
    fn next_ns(&mut self) -> u64;
}

/// How arrivals are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced: request `i` at `i / rate`.
    Constant,
    /// A Poisson process: independent exponential gaps with mean `1 / rate`,
    /// like many independent users.
    Poisson,
}

// ANCHOR: constant
/// Request `i` at exactly `offset + i / rate`, computed from `i` rather than
/// by adding intervals, so rounding never accumulates over a long run.
#[derive(Debug, Clone)]
pub struct Constant {
    interval_ns: f64,
    offset_ns: f64,
    i: u64,
}

impl Constant {
    /// `rate` requests per second; `offset` shifts the whole schedule (a
    /// worker thread `k` of `n` starts at `k / (n * rate)` when the total
    /// rate is split evenly).
    pub fn new(rate: f64, offset: Duration) -> Self {
        Self {
            interval_ns: 1e9 / rate,
            offset_ns: offset.as_nanos() as f64,
            i: 0,
        }
    }
}

impl Schedule for Constant {
    fn next_ns(&mut self) -> u64 {
        let t = self.offset_ns + self.i as f64 * self.interval_ns;
        self.i += 1;
        t as u64
    }
}
// ANCHOR_END: constant

/// Exponential gaps with mean `1 / rate`: a Poisson arrival process.
#[derive(Debug, Clone)]
pub struct Poisson {
    mean_gap_ns: f64,
    t_ns: f64,
    rng: Rng,
}

impl Poisson {
    pub fn new(rate: f64, seed: u64) -> Self {
        Self {
            mean_gap_ns: 1e9 / rate,
            t_ns: 0.0,
            rng: Rng::new(seed),
        }
    }
}

impl Schedule for Poisson {
    fn next_ns(&mut self) -> u64 {
        // Inverse transform: -ln(U) is exponential with mean 1, U in (0, 1].
        let u = 1.0 - self.rng.next_f64();
        self.t_ns += -u.ln() * self.mean_gap_ns;
        self.t_ns as u64
    }
}

/// One schedule per worker thread whose union has the requested total
/// rate: constant schedules interleave, Poisson processes superpose (the
/// sum of independent Poisson processes is a Poisson process).
pub fn split(arrival: Arrival, rate: f64, threads: usize, seed: u64) -> Vec<Box<dyn Schedule>> {
    let threads = threads.max(1);
    let per = rate / threads as f64;
    (0..threads)
        .map(|k| -> Box<dyn Schedule> {
            match arrival {
                Arrival::Constant => {
                    Box::new(Constant::new(per, Duration::from_secs_f64(k as f64 / rate)))
                }
                Arrival::Poisson => Box::new(Poisson::new(per, seed.wrapping_add(k as u64))),
            }
        })
        .collect()
}

/// The seedable generator the workloads and Poisson gaps draw from:
/// The kit's SplitMix64, fast on the hot path and reproducible by seed.
pub use kit::Rng;

#[cfg(test)]
mod tests {
    use super::*;

    fn count_until(s: &mut dyn Schedule, end_ns: u64) -> u64 {
        let mut n = 0;
        let mut last = 0;
        loop {
            let t = s.next_ns();
            assert!(t >= last, "schedule went backwards");
            last = t;
            if t >= end_ns {
                return n;
            }
            n += 1;
        }
    }

    #[test]
    fn constant_hits_the_rate_exactly() {
        let mut s = Constant::new(50_000.0, Duration::ZERO);
        assert_eq!(count_until(&mut s, 10_000_000_000), 500_000);
    }

    #[test]
    fn split_constant_schedules_interleave_to_the_total() {
        let mut total = 0;
        for mut s in split(Arrival::Constant, 3_000.0, 3, 1) {
            total += count_until(s.as_mut(), 1_000_000_000);
        }
        assert_eq!(total, 3_000);
    }

    #[test]
    fn poisson_has_the_right_mean_and_spread() {
        let mut s = Poisson::new(10_000.0, 7);
        let mut gaps = Vec::new();
        let mut last = 0;
        for _ in 0..200_000 {
            let t = s.next_ns();
            gaps.push((t - last) as f64);
            last = t;
        }
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        // Mean 100 µs; an exponential's standard deviation equals its mean.
        assert!((mean / 100_000.0 - 1.0).abs() < 0.01, "mean gap {mean}");
        assert!(
            (var.sqrt() / mean - 1.0).abs() < 0.02,
            "cv {}",
            var.sqrt() / mean
        );
    }
}
