//! Checks exercise `hdr-histogram`: quantiles within the promised relative
//! error of the exact ones on three shapes of latency data, fixed small
//! memory, exact extremes, clamping, and agreement with the real
//! `hdrhistogram` crate.

use hdrhistogram::Histogram;
use lab_03_exercises::hdr_histogram::LogLinear;

/// One hour in nanoseconds: the range a latency histogram is usually
/// built for.
const HOUR_NS: u64 = 3_600_000_000_000;
const MS: u64 = 1_000_000;
const SAMPLES: usize = 100_000;
const QUANTILES: [f64; 6] = [0.5, 0.9, 0.99, 0.999, 0.9999, 1.0];

/// SplitMix64: a small seeded generator, so every run sees the same data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Uniform over 0 to 1 s: the easy case, zero included.
fn uniform(rng: &mut Rng) -> Vec<u64> {
    (0..SAMPLES).map(|_| rng.below(1_000 * MS)).collect()
}

/// `exp` of a uniform: as many samples between 1 and 10 µs as between 1 and
/// 10 s, seven decades in all, like real latencies' long right tail.
fn log_spread(rng: &mut Rng) -> Vec<u64> {
    let (lo, hi) = (1e3_f64.ln(), 1e10_f64.ln());
    (0..SAMPLES)
        .map(|_| (lo + rng.unit() * (hi - lo)).exp() as u64)
        .collect()
}

/// 95% around 1 ms, 5% around 1 s (±10% each): a cache in front of a slow
/// store, where the mean describes no request at all.
fn bimodal(rng: &mut Rng) -> Vec<u64> {
    (0..SAMPLES)
        .map(|_| {
            let centre = if rng.below(100) < 5 { 1_000 * MS } else { MS };
            centre - centre / 10 + rng.below(centre / 5)
        })
        .collect()
}

/// The exact quantile by the exercise's rule: the sample of rank
/// `ceil(q * n)` (from 1, at least 1) in sorted order.
fn exact(sorted: &[u64], q: f64) -> u64 {
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted[rank - 1]
}

fn histogram_of(digits: u8, data: &[u64]) -> LogLinear {
    let mut h = LogLinear::new(digits, HOUR_NS);
    for &v in data {
        h.record(v);
    }
    h
}

fn check_quantiles(name: &str, digits: u8, data: &[u64]) {
    let h = histogram_of(digits, data);
    let mut sorted = data.to_vec();
    sorted.sort_unstable();
    let bound = 10f64.powi(-i32::from(digits));
    assert_eq!(h.count(), data.len() as u64, "{name}: count()");
    assert_eq!(h.min(), sorted[0], "{name}: min() must be exact");
    assert_eq!(
        h.max(),
        sorted[sorted.len() - 1],
        "{name}: max() must be exact"
    );
    for q in QUANTILES {
        let want = exact(&sorted, q);
        let got = h.value_at_quantile(q);
        assert!(
            got >= want,
            "{name}, {digits} digits, q = {q}: got {got}, below the true sample {want}; \
             report the highest value of the bucket, not the lowest"
        );
        let err = (got - want) as f64;
        assert!(
            err <= want as f64 * bound,
            "{name}, {digits} digits, q = {q}: got {got}, true sample {want}: relative error {:.2e} > {bound:e}",
            err / want.max(1) as f64
        );
    }
    assert_eq!(
        h.value_at_quantile(1.0),
        h.max(),
        "{name}: value_at_quantile(1.0) is capped at max(), so it is max() exactly"
    );
}

#[test]
fn quantiles_of_uniform_data_are_within_the_error_bound() {
    let data = uniform(&mut Rng(1));
    check_quantiles("uniform", 2, &data);
    check_quantiles("uniform", 3, &data);
}

#[test]
fn quantiles_of_log_spread_data_are_within_the_error_bound() {
    let data = log_spread(&mut Rng(2));
    check_quantiles("log-spread", 2, &data);
    check_quantiles("log-spread", 3, &data);
}

#[test]
fn quantiles_of_bimodal_data_are_within_the_error_bound() {
    let data = bimodal(&mut Rng(3));
    check_quantiles("bimodal", 2, &data);
    check_quantiles("bimodal", 3, &data);
}

#[test]
fn memory_is_small_and_fixed() {
    // The whole point: an hour of nanoseconds at 3 digits in a few tens of
    // thousands of counters, however many samples go in.
    let mut h = LogLinear::new(3, HOUR_NS);
    let before = h.bucket_count();
    assert!(
        before < 40_000,
        "3 digits up to one hour in ns uses {before} buckets; it should need under 40,000"
    );
    assert!(
        LogLinear::new(2, HOUR_NS).bucket_count() < before,
        "fewer digits must need fewer buckets"
    );
    let mut rng = Rng(4);
    for _ in 0..SAMPLES {
        h.record(rng.below(HOUR_NS + 1));
    }
    assert_eq!(
        h.bucket_count(),
        before,
        "recording must not add buckets: allocate them all in new()"
    );
}

#[test]
fn records_zero() {
    let mut h = LogLinear::new(3, HOUR_NS);
    h.record(0);
    assert_eq!(h.count(), 1);
    assert_eq!((h.min(), h.max()), (0, 0), "min and max of {{0}}");
    assert_eq!(h.value_at_quantile(0.5), 0, "the median of {{0}} is 0");
    assert_eq!(h.value_at_quantile(1.0), 0);
}

#[test]
fn empty_histogram_answers_zero() {
    let h = LogLinear::new(3, HOUR_NS);
    assert_eq!(h.count(), 0);
    assert_eq!(h.clamped(), 0);
    assert_eq!(
        (h.min(), h.max()),
        (0, 0),
        "an empty histogram's min and max are 0"
    );
    assert_eq!(
        h.value_at_quantile(0.99),
        0,
        "an empty histogram's p99 is 0"
    );
}

#[test]
fn clamps_values_above_highest() {
    let mut h = LogLinear::new(3, 1_000);
    h.record(1_000);
    assert_eq!(h.clamped(), 0, "highest itself is in range, not clamped");
    h.record(5_000);
    h.record(u64::MAX);
    assert_eq!(h.count(), 3, "clamped values are still counted");
    assert_eq!(h.clamped(), 2, "5000 and u64::MAX are above highest = 1000");
    assert_eq!(h.max(), 1_000, "a clamped value is recorded as highest");
    assert_eq!(h.value_at_quantile(1.0), 1_000);
}

#[test]
fn min_and_max_are_exact() {
    // Both values sit in wide buckets (about 1/1024 of their size); the
    // extremes must still be the values themselves.
    let mut h = LogLinear::new(3, HOUR_NS);
    for v in [123_456_789, 9_876_543_210, 555_555_555] {
        h.record(v);
    }
    assert_eq!(h.min(), 123_456_789, "min() is exact, not its bucket");
    assert_eq!(h.max(), 9_876_543_210, "max() is exact, not its bucket");
}

#[test]
#[should_panic(expected = "significant_digits")]
fn rejects_zero_digits() {
    let _ = LogLinear::new(0, HOUR_NS);
}

#[test]
#[should_panic(expected = "significant_digits")]
fn rejects_six_digits() {
    let _ = LogLinear::new(6, HOUR_NS);
}

#[test]
fn agrees_with_the_hdrhistogram_crate() {
    let mut rng = Rng(5);
    let mut data = log_spread(&mut rng);
    data.extend(bimodal(&mut rng));
    for digits in [2u8, 3] {
        let mine = histogram_of(digits, &data);
        let mut real = Histogram::<u64>::new_with_bounds(1, HOUR_NS, digits)
            .expect("valid hdrhistogram bounds");
        for &v in &data {
            real.record(v).expect("every value is below HOUR_NS");
        }
        assert_eq!(mine.count(), real.len());
        let bound = 10f64.powi(-i32::from(digits));
        for q in QUANTILES {
            let (m, r) = (mine.value_at_quantile(q), real.value_at_quantile(q));
            // Both are within `bound` above the same true sample, and
            // hdrhistogram's is never below it.
            assert!(
                m.abs_diff(r) as f64 <= r as f64 * bound,
                "{digits} digits, q = {q}: yours {m}, hdrhistogram's {r}"
            );
        }
    }
}
