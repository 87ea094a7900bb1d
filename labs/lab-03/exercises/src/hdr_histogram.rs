//! # Exercise 1: an HDR-style histogram
//!
//! A load test records millions of latencies and then asks for a few
//! quantiles: p50, p99, p99.9, the maximum. Keeping every sample costs
//! memory in proportion to the run; averaging loses the tail, which is the
//! part that matters. HdrHistogram's answer is to keep *counts* in buckets
//! whose width grows with the value, so the **relative** error is bounded:
//! 1 ms ± 1 µs and 1 s ± 1 ms are equally good answers, and an hour of
//! nanosecond latencies fits in a few tens of thousands of counters,
//! however many samples are recorded.
//!
//! The layout is log-linear. Let `S` be the number of sub-buckets per
//! power of two: the smallest power of two that is at least
//! `10^significant_digits` (1024 for 3 digits). Then:
//!
//! - values below `2·S` get one bucket each (width 1: exact);
//! - every larger range `[2^e, 2^(e+1))` is cut into `S` buckets of equal
//!   width `2^e / S`, so a bucket is never wider than `1/S` of the values
//!   it holds.
//!
//! Your task: [`LogLinear`], with
//!
//! - [`LogLinear::new`]`(significant_digits, highest)`: an empty histogram
//!   for values `0..=highest`. It panics, with a message that contains
//!   `significant_digits`, unless `1 <= significant_digits <= 5`. It
//!   allocates all its buckets here, and never again.
//! - [`LogLinear::record`]`(v)`: counts `v`. A value above `highest` is
//!   recorded as `highest` and also counted by [`LogLinear::clamped`] (a
//!   load generator must not drop its worst samples, nor crash on them).
//! - [`LogLinear::count`], and [`LogLinear::min`] / [`LogLinear::max`]:
//!   the exact smallest and largest value recorded (after clamping), not
//!   their buckets; all three are 0 while the histogram is empty.
//! - [`LogLinear::value_at_quantile`]`(q)`, `q` in `[0, 1]` (panic
//!   otherwise): let `rank = ceil(q · count)`, clamped to `1..=count`; find
//!   the bucket holding the `rank`-th smallest sample, and return the
//!   highest value that bucket can hold, but never more than `max()`. That
//!   is HdrHistogram's rule: the answer is never below the true sample and
//!   at most `10^-significant_digits` above it (relatively), and
//!   `value_at_quantile(1.0)` is exactly `max()`. Empty: 0.
//! - [`LogLinear::bucket_count`]: how many counters `new` allocated. For
//!   3 digits and one hour in nanoseconds it must stay under 40,000.
//!
//! The fields below are a suggestion; change them as you like.
//!
//! Check it with `cargo xtask exercise check lab-03 hdr-histogram`.

/// A histogram of `u64` values with bounded relative error, in fixed memory.
#[derive(Debug, Clone)]
#[allow(dead_code)] // The fields are yours to use.
pub struct LogLinear {
    /// `log2(S)`: sub-buckets per power of two.
    sub_bits: u32,
    /// The largest value recorded as itself.
    highest: u64,
    /// One counter per bucket.
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
    clamped: u64,
}

impl LogLinear {
    /// An empty histogram for values `0..=highest`, accurate to
    /// `significant_digits` (1 to 5) decimal digits.
    pub fn new(significant_digits: u8, highest: u64) -> Self {
        let _ = (significant_digits, highest);
        todo!("exercise hdr-histogram: choose S, allocate the buckets up to `highest`")
    }

    /// Counts one value, clamping it to `highest`.
    pub fn record(&mut self, v: u64) {
        let _ = v;
        todo!("exercise hdr-histogram: find v's bucket and count it")
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        todo!("exercise hdr-histogram: the number of values recorded")
    }

    /// How many recorded values were above `highest` (and recorded as it).
    pub fn clamped(&self) -> u64 {
        todo!("exercise hdr-histogram: the number of values clamped")
    }

    /// The smallest value recorded, exactly; 0 if none.
    pub fn min(&self) -> u64 {
        todo!("exercise hdr-histogram: the exact minimum")
    }

    /// The largest value recorded (after clamping), exactly; 0 if none.
    pub fn max(&self) -> u64 {
        todo!("exercise hdr-histogram: the exact maximum")
    }

    /// The value at or below which a fraction `q` of the samples lie,
    /// reported as the highest value of its bucket, capped at `max()`.
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        let _ = q;
        todo!("exercise hdr-histogram: walk the buckets to rank ceil(q * count)")
    }

    /// How many buckets (counters) the histogram holds.
    pub fn bucket_count(&self) -> usize {
        todo!("exercise hdr-histogram: the number of counters")
    }
}
