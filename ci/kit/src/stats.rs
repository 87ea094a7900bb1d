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
    fn ratios_and_spreads() {
        assert_eq!(spread(&[90.0, 100.0, 110.0]), "±10%");
        assert_eq!(spread(&[1.0]), "-");
        assert_eq!(paired_ratio(&[2.0, 4.0, 9.0], &[1.0, 1.0, 3.0]), 3.0);
    }
}
