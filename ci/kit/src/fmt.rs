//! The number formats the results tables use, and a table for a terminal.
//!
//! One format per quantity, everywhere: a reader who compares two tables
//! compares like with like.

use std::time::Duration;

/// Nanoseconds as `850 ns`, `12.3 µs`, `4.56 ms` or `1.20 s`.
pub fn fmt_ns(ns: f64) -> String {
    if ns.is_nan() {
        "-".to_owned()
    } else if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// Operations per second as millions, two decimals.
pub fn fmt_mops(ops_per_sec: f64) -> String {
    if ops_per_sec.is_nan() {
        "-".to_owned()
    } else {
        format!("{:.2}", ops_per_sec / 1e6)
    }
}

/// A ratio as `1.83×`.
pub fn fmt_ratio(r: f64) -> String {
    if r.is_nan() {
        "-".to_owned()
    } else {
        format!("{r:.2}×")
    }
}

/// A duration for notes and messages: `400 ms`, `1.5 s`, `200 µs`.
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let (value, unit) = if ns >= 1_000_000_000 {
        (ns as f64 / 1e9, "s")
    } else if ns >= 1_000_000 {
        (ns as f64 / 1e6, "ms")
    } else if ns >= 1_000 {
        (ns as f64 / 1e3, "µs")
    } else {
        (ns as f64, "ns")
    };
    // Up to three decimals, without trailing zeros: 400 ms, 1.5 s.
    let s = format!("{value:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} {unit}")
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

/// Milliseconds with the precision that matters at each scale: `0.503`,
/// `2.41`, `51.3`, `250` (redis-benchmark's CSV carries three decimals).
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

/// Renders a report table for a terminal: aligned columns, numeric columns
/// right-aligned, notes underneath.
pub fn render_text(t: &report::Table) -> String {
    let cols = t.columns.len();
    let mut widths: Vec<usize> = t.columns.iter().map(|c| c.chars().count()).collect();
    for row in &t.rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, w) in widths.iter().enumerate() {
            let cell = cells.get(i).map(String::as_str).unwrap_or("");
            let pad = w - cell.chars().count().min(*w);
            if i > 0 {
                out.push_str("  ");
            }
            if t.numeric.contains(&i) {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = format!("{}\n\n", t.title);
    out.push_str(&line(&t.columns));
    out.push('\n');
    let total: usize = widths.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for row in &t.rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    if !t.notes.is_empty() {
        out.push('\n');
        for n in &t.notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(fmt_ns(850.0), "850 ns");
        assert_eq!(fmt_ns(12_300.0), "12.3 µs");
        assert_eq!(fmt_mops(1_830_000.0), "1.83");
        assert_eq!(fmt_ratio(f64::NAN), "-");
        assert_eq!(fmt_duration(Duration::from_millis(400)), "400 ms");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(fmt_duration(Duration::from_micros(1)), "1 µs");
    }

    #[test]
    fn counts_and_shares() {
        assert_eq!(fmt_int(61_234.4), "61,234");
        assert_eq!(fmt_int(999.0), "999");
        assert_eq!(fmt_int(1_000_000.0), "1,000,000");
        assert_eq!(fmt_int(-1234.0), "-1,234");
        assert_eq!(fmt_ms(0.5034), "0.503");
        assert_eq!(fmt_ms(51.27), "51.3");
        assert_eq!(fmt_pct(0.974), "97%");
        assert_eq!(fmt_mib(3.0 * 1024.0 * 1024.0), "3.0 MiB");
    }

    #[test]
    fn text_tables_align() {
        let mut t = report::Table::new("x", "T", &["impl", "ops"]).numeric(&[1]);
        t.row(vec!["mutex".into(), "1.00".into()]);
        t.row(vec!["sharded-mutex".into(), "12.00".into()]);
        let s = render_text(&t);
        assert!(s.contains("mutex           1.00"), "{s}");
        assert!(s.contains("sharded-mutex  12.00"), "{s}");
    }
}
