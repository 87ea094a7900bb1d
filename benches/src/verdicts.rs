//! The sentences under the comparison tables, chosen from the numbers.
//!
//! Nothing here assumes who wins: every function takes measured ratios and
//! picks its wording from them, and the tests feed it both directions. A
//! ratio within [`LEVEL`] of 1 is called level, because rounds on these
//! shared two-core machines move by about that much.

use kit::fmt::fmt_ratio;

/// How far from 1 a ratio must be before one side is called ahead.
pub const LEVEL: f64 = 0.05;

/// "ahead of", "behind" or "level with", for `ratio` = this / that.
pub fn relation(ratio: f64) -> &'static str {
    if ratio > 1.0 + LEVEL {
        "ahead of"
    } else if ratio < 1.0 - LEVEL {
        "behind"
    } else {
        "level with"
    }
}

/// Who led: `rows` are (contender, its throughput over the baseline's in
/// the same rounds), the baseline's own row included (ratio 1). `what` is
/// the counted thing ("operations", "reads"), `at` the condition ("at 2
/// threads"). Returns the leader's name and ratio, and the sentence.
pub fn lead(rows: &[(String, f64)], baseline: &str, what: &str, at: &str) -> (String, f64, String) {
    if rows.is_empty() || rows.iter().any(|r| r.1.is_nan()) {
        return (
            "-".to_owned(),
            f64::NAN,
            "no verdict: a measurement is missing".to_owned(),
        );
    }
    let mut sorted: Vec<&(String, f64)> = rows.iter().collect();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (leader, r) = (sorted[0].0.clone(), sorted[0].1);
    let text = if leader == baseline {
        match sorted.get(1) {
            Some((next, r2)) => format!(
                "{baseline} did the most {what} per second {at}; the next was {next}, at {} \
                 of its throughput",
                fmt_ratio(*r2)
            ),
            None => format!("{baseline} was the only contender {at}"),
        }
    } else if r > 1.0 + LEVEL {
        format!(
            "{leader} did the most {what} per second {at}, {} the throughput of {baseline}",
            fmt_ratio(r)
        )
    } else {
        format!(
            "{leader} did the most {what} per second {at}, but only {} the throughput of \
             {baseline}: within {} of it, level on this machine",
            fmt_ratio(r),
            kit::fmt::fmt_pct(LEVEL)
        )
    };
    (leader, r, text)
}

/// What swapping std's locks for parking_lot's did: `pairs` are (lab-01
/// design, the parking_lot twin's throughput over the std design's in the
/// same rounds).
pub fn lock_swap(pairs: &[(&str, f64)], at: &str) -> String {
    if pairs.is_empty() || pairs.iter().any(|p| p.1.is_nan()) {
        return "no verdict: a measurement is missing".to_owned();
    }
    let each: Vec<String> = pairs
        .iter()
        .map(|(d, r)| format!("{d} {}", fmt_ratio(*r)))
        .collect();
    let count = |f: fn(f64) -> bool| pairs.iter().filter(|p| f(p.1)).count();
    let (ahead, behind) = (count(|r| r > 1.0 + LEVEL), count(|r| r < 1.0 - LEVEL));
    let level = pairs.len() - ahead - behind;
    let summary = match (ahead, behind) {
        (0, 0) => "parking_lot's locks were level with std's in every design".to_owned(),
        (a, 0) if a == pairs.len() => "parking_lot's locks were ahead in every design".to_owned(),
        (0, b) if b == pairs.len() => "parking_lot's locks were behind in every design".to_owned(),
        (a, b) => format!(
            "parking_lot's locks were ahead in {a}, behind in {b} and level in {level} of the \
             {} designs",
            pairs.len()
        ),
    };
    format!(
        "{at}, each design with parking_lot's locks ran at this share of its std twin's \
         throughput: {}; {summary}",
        each.join(", ")
    )
}

/// One pairwise comparison under two conditions, each a (label, `a`'s
/// throughput over `b`'s) pair: "papaya was ahead of dashmap at 2 threads
/// (1.30×) and behind it at 1 thread (0.90×)".
pub fn pair(a: &str, b: &str, first: (&str, f64), second: (&str, f64)) -> String {
    let ((at1, r1), (at2, r2)) = (first, second);
    if r1.is_nan() || r2.is_nan() {
        return "no verdict: a measurement is missing".to_owned();
    }
    let (w1, w2) = (relation(r1), relation(r2));
    let second = if w1 == w2 {
        format!("{at2} ({})", fmt_ratio(r2))
    } else {
        format!("{w2} it {at2} ({})", fmt_ratio(r2))
    };
    format!("{a} was {w1} {b} {at1} ({}) and {second}", fmt_ratio(r1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(r: &[(&str, f64)]) -> Vec<(String, f64)> {
        r.iter().map(|(n, x)| ((*n).to_owned(), *x)).collect()
    }

    #[test]
    fn lead_names_whoever_led() {
        let (who, r, text) = lead(
            &rows(&[("base", 1.0), ("papaya", 1.4), ("moka", 0.3)]),
            "base",
            "operations",
            "at 2 threads",
        );
        assert_eq!((who.as_str(), r), ("papaya", 1.4));
        assert!(text.starts_with("papaya did the most operations"), "{text}");
        assert!(text.contains("1.40× the throughput of base"), "{text}");

        let (who, _, text) = lead(
            &rows(&[("base", 1.0), ("papaya", 0.8)]),
            "base",
            "reads",
            "at 2 readers",
        );
        assert_eq!(who, "base");
        assert!(text.contains("the next was papaya, at 0.80×"), "{text}");

        let (_, _, text) = lead(
            &rows(&[("base", 1.0), ("x", 1.02)]),
            "base",
            "operations",
            "at 2 threads",
        );
        assert!(text.contains("level on this machine"), "{text}");
        assert!(
            lead(&rows(&[("a", f64::NAN)]), "a", "x", "y")
                .2
                .starts_with("no verdict")
        );
    }

    #[test]
    fn lock_swap_counts_each_direction() {
        let all_ahead = lock_swap(&[("mutex", 1.5), ("sharded-mutex", 1.2)], "At 2 threads");
        assert!(all_ahead.contains("ahead in every design"), "{all_ahead}");
        assert!(all_ahead.contains("mutex 1.50×"), "{all_ahead}");
        let mixed = lock_swap(&[("a", 1.5), ("b", 0.5), ("c", 1.0)], "At 2 threads");
        assert!(
            mixed.contains("ahead in 1, behind in 1 and level in 1 of the 3"),
            "{mixed}"
        );
        let behind = lock_swap(&[("a", 0.5)], "At 2 threads");
        assert!(behind.contains("behind in every design"), "{behind}");
        let level = lock_swap(&[("a", 1.01)], "At 2 threads");
        assert!(level.contains("level with std's"), "{level}");
    }

    #[test]
    fn pair_words_follow_the_ratios() {
        let p = pair(
            "papaya",
            "dashmap",
            ("at 2 threads", 1.3),
            ("at 1 thread", 0.9),
        );
        assert_eq!(
            p,
            "papaya was ahead of dashmap at 2 threads (1.30×) and behind it at 1 thread (0.90×)"
        );
        let q = pair("moka", "lab", ("at 2 threads", 0.5), ("at 1 thread", 0.6));
        assert!(
            q.contains("behind lab at 2 threads (0.50×) and at 1 thread"),
            "{q}"
        );
        assert!(pair("a", "b", ("x", f64::NAN), ("y", 1.0)).starts_with("no verdict"));
    }
}
