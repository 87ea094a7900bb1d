//! Medians, paired ratios and spreads: how this book summarises rounds.
//!
//! Our machines are small and noisy, so a figure that compares two things
//! is a ratio measured in the same run over rounds, and we report the
//! median. These are the only implementations; every lab uses them.

/// The median of `xs` (the mean of the two middle values for an even
/// count), ignoring NaNs; NaN when nothing is left.
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// The median of `f` over `items` (NaN when empty).
pub fn med<T>(items: &[T], f: impl Fn(&T) -> f64) -> f64 {
    median(&items.iter().map(f).collect::<Vec<_>>())
}

/// The median of the per-round ratios `a[i] / b[i]`: rounds are paired, so
/// drift that hit both contenders in one round cancels out.
pub fn paired_ratio(a: &[f64], b: &[f64]) -> f64 {
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    median(&ratios)
}

/// Half the range over rounds relative to the median, as `±4%`; `-` for a
/// single round.
pub fn spread(xs: &[f64]) -> String {
    if xs.len() < 2 {
        return "-".to_owned();
    }
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let m = median(xs);
    if m.is_nan() || m == 0.0 {
        return "-".to_owned();
    }
    format!("±{:.0}%", 50.0 * (hi - lo) / m)
}

/// `items` in the order round `round` visits them: rotated by one each
/// round, so that no contender is always first (or always right after the
/// same other one) and drift on the machine hits all of them alike.
pub fn rotated<T: Copy>(items: &[T], round: usize) -> Vec<T> {
    (0..items.len())
        .map(|i| items[(round + i) % items.len()])
        .collect()
}

/// Who waited for a slow operation running beside the requests (a `KEYS`
/// over a large keyspace, a stop-the-world pause): a request that arrives
/// during it waits for the rest of it, half of it on average, so a latency
/// of a quarter of it or more counts as having waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stall {
    /// Not even the slowest request waited.
    Nobody,
    /// Fewer than 1% waited (only the max did).
    Rarely,
    /// The typical request did not wait, but more than 1% did (the p99).
    Some,
    /// The typical request (the p50) waited.
    Typical,
}

impl Stall {
    /// From the requests' percentiles and the slow operation's duration,
    /// all in the same unit.
    pub fn of(p50: f64, p99: f64, max: f64, slow: f64) -> Self {
        let waited = |x: f64| x >= 0.25 * slow;
        if waited(p50) {
            Stall::Typical
        } else if waited(p99) {
            Stall::Some
        } else if waited(max) {
            Stall::Rarely
        } else {
            Stall::Nobody
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[f64::NAN, 1.0]), 1.0);
        assert!(median(&[]).is_nan());
        assert_eq!(med(&[(1, 5.0), (2, 7.0)], |p| p.1), 6.0);
    }

    #[test]
    fn rotation_and_stalls() {
        assert_eq!(rotated(&[1, 2, 3, 4], 1), [2, 3, 4, 1]);
        assert_eq!(rotated(&[1, 2, 3, 4], 4), [1, 2, 3, 4]);
        assert_eq!(Stall::of(10.0, 20.0, 30.0, 15.0), Stall::Typical);
        assert_eq!(Stall::of(0.3, 12.0, 30.0, 15.0), Stall::Some);
        assert_eq!(Stall::of(0.3, 0.9, 30.0, 15.0), Stall::Rarely);
        assert_eq!(Stall::of(0.3, 0.9, 1.0, 15.0), Stall::Nobody);
    }

    #[test]
    fn ratios_and_spreads() {
        assert_eq!(spread(&[90.0, 100.0, 110.0]), "±10%");
        assert_eq!(spread(&[1.0]), "-");
        assert_eq!(paired_ratio(&[2.0, 4.0, 9.0], &[1.0, 1.0, 3.0]), 3.0);
    }
}
