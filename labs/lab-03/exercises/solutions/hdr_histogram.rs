//! # Exercise 1: an HDR-style histogram (reference solution)
//!
//! See the starter, `src/hdr_histogram.rs`, for the task and the rules.
//! The layout is HdrHistogram's with a lowest discernible value of 1, so
//! the answers agree with the `hdrhistogram` crate's, value for value, up
//! to the cap at `max()`.

/// A histogram of `u64` values with bounded relative error, in fixed memory.
#[derive(Debug, Clone)]
pub struct LogLinear {
    /// `log2(S)`: sub-buckets per power of two.
    sub_bits: u32,
    /// The largest value recorded as itself.
    highest: u64,
    /// One counter per bucket, `index_of(highest) + 1` of them.
    counts: Vec<u64>,
    total: u64,
    /// `u64::MAX` while empty, so that the first `record` sets it.
    min: u64,
    max: u64,
    clamped: u64,
}

// ANCHOR: solution
// ANCHOR: index
/// The bucket of `v`. Values below `2^(sub_bits + 1)` are their own bucket.
/// Above, `v` keeps only its top `sub_bits + 1` bits: `shift` drops the
/// rest, and each shift (each power of two) adds `2^sub_bits` buckets.
fn index_of(v: u64, sub_bits: u32) -> usize {
    let bits = u64::BITS - v.leading_zeros();
    let shift = bits.saturating_sub(sub_bits + 1);
    ((u64::from(shift) << sub_bits) + (v >> shift)) as usize
}

/// The highest value that falls into bucket `index`: `index_of` inverted,
/// plus the bucket's width minus one.
fn highest_in(index: usize, sub_bits: u32) -> u64 {
    let i = index as u64;
    let shift = (i >> sub_bits).saturating_sub(1);
    let sub = i - (shift << sub_bits);
    (sub << shift) + ((1 << shift) - 1)
}
// ANCHOR_END: index

impl LogLinear {
    /// An empty histogram for values `0..=highest`, accurate to
    /// `significant_digits` (1 to 5) decimal digits.
    pub fn new(significant_digits: u8, highest: u64) -> Self {
        assert!(
            (1..=5).contains(&significant_digits),
            "significant_digits must be 1..=5, got {significant_digits}"
        );
        // S >= 10^digits sub-buckets per power of two: a bucket is then at
        // most 1/S of the values in it, so reporting any value of the bucket
        // instead of the sample is off by less than 10^-digits. A power of
        // two, so that finding a bucket is shifts, not division.
        let sub_bits = 10u64
            .pow(u32::from(significant_digits))
            .next_power_of_two()
            .trailing_zeros();
        Self {
            sub_bits,
            highest,
            // All the memory the histogram will ever use: about
            // S * log2(highest / S) counters, whatever the number of samples.
            counts: vec![0; index_of(highest, sub_bits) + 1],
            total: 0,
            min: u64::MAX,
            max: 0,
            clamped: 0,
        }
    }

    /// Counts one value, clamping it to `highest`.
    pub fn record(&mut self, v: u64) {
        // Clamp rather than drop: the worst samples are the ones a load test
        // exists to see, and dropping them would flatter the tail.
        let v = if v > self.highest {
            self.clamped += 1;
            self.highest
        } else {
            v
        };
        self.counts[index_of(v, self.sub_bits)] += 1;
        self.total += 1;
        // The extremes are kept exactly, beside the buckets: they are cheap,
        // and the maximum is the one number people quote without a quantile.
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// The value at or below which a fraction `q` of the samples lie,
    /// reported as the highest value of its bucket, capped at `max()`.
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        assert!((0.0..=1.0).contains(&q), "quantile {q} is not in [0, 1]");
        if self.total == 0 {
            return 0;
        }
        // The rank, from 1, of the sample that q names. At least 1 so that
        // q = 0 means the smallest sample, at most count against rounding.
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                // The bucket's highest value: never below the true sample,
                // so a reported p99 is never better than the real one.
                return highest_in(i, self.sub_bits).min(self.max);
            }
        }
        // Not reached: the counters add up to `total >= rank`.
        self.max
    }
}
// ANCHOR_END: solution

/// The accessors: nothing to decide here.
impl LogLinear {
    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// How many recorded values were above `highest` (and recorded as it).
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    /// The smallest value recorded, exactly; 0 if none.
    pub fn min(&self) -> u64 {
        if self.total == 0 { 0 } else { self.min }
    }

    /// The largest value recorded (after clamping), exactly; 0 if none.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// How many buckets (counters) the histogram holds.
    pub fn bucket_count(&self) -> usize {
        self.counts.len()
    }
}
