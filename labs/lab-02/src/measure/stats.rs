//! Medians, spreads and the number formats the tables use.

pub use lab_01::numbers::{fmt_duration, fmt_ratio, median};

/// The median of `f` over `items` (NaN when empty).
pub fn med<T>(items: &[T], f: impl Fn(&T) -> f64) -> f64 {
    median(&items.iter().map(f).collect::<Vec<_>>())
}

/// The median of the per-round ratios `a[i] / b[i]`: rounds are paired, so
/// drift that hit both servers in one round cancels out.
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

/// A whole number with thousands separators: `61,234`.
pub fn fmt_int(x: f64) -> String {
    if !x.is_finite() {
        return "-".to_owned();
    }
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if x < -0.5 {
        out.insert(0, '-');
    }
    out
}

/// Milliseconds with the precision redis-benchmark's CSV carries where it
/// matters: `0.503`, `2.41`, `51.3`, `250`.
pub fn fmt_ms(ms: f64) -> String {
    if ms.is_nan() {
        "-".to_owned()
    } else if ms < 1.0 {
        format!("{ms:.3}")
    } else if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// A share as a percentage: `97%`.
pub fn fmt_pct(x: f64) -> String {
    if x.is_nan() {
        "-".to_owned()
    } else {
        format!("{:.0}%", 100.0 * x)
    }
}

/// Bytes as MiB with one decimal.
pub fn fmt_mib(bytes: f64) -> String {
    if bytes.is_nan() {
        "-".to_owned()
    } else {
        format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_int(61_234.4), "61,234");
        assert_eq!(fmt_int(999.0), "999");
        assert_eq!(fmt_int(1_000_000.0), "1,000,000");
        assert_eq!(fmt_int(-1234.0), "-1,234");
        assert_eq!(fmt_ms(0.5034), "0.503");
        assert_eq!(fmt_ms(51.27), "51.3");
        assert_eq!(fmt_pct(0.974), "97%");
        assert_eq!(spread(&[90.0, 100.0, 110.0]), "±10%");
        assert_eq!(spread(&[1.0]), "-");
        assert_eq!(paired_ratio(&[2.0, 4.0, 9.0], &[1.0, 1.0, 3.0]), 3.0);
    }
}
