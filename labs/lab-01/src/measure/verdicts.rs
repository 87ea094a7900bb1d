//! The sentences the chapter quotes, chosen by the numbers.
//!
//! Every function here takes measured ratios and returns the wording a
//! table's fact carries (`{{#value lab-01/TABLE:KEY}}` in the chapter), so
//! a sentence on the page can never contradict the table beside it. They
//! are pure, and the tests feed them made-up numbers.

use kit::fmt::fmt_ratio;

/// Ratios within this band of 1 count as "about the same".
const EVEN: f64 = 0.1;

/// "a", "a and b", "a, b and c".
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// "sharded-mutex 1.86×, sharded-rwlock 1.68×".
fn listed(rows: &[(&str, f64)]) -> String {
    join_and(
        &rows
            .iter()
            .map(|(n, r)| format!("{n} {}", fmt_ratio(*r)))
            .collect::<Vec<_>>(),
    )
}

/// "1 shard", "64 shards".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The best speed-up `threads` threads can give by running in parallel.
pub fn ideal(threads: usize, cores: usize) -> f64 {
    threads.min(cores) as f64
}

/// What a second thread did to the two single-lock designs: `mutex` and
/// `rwlock` are their 2-thread throughputs over their own 1-thread ones.
pub fn single_locks(mutex: f64, rwlock: f64) -> String {
    let (m, r) = (fmt_ratio(mutex), fmt_ratio(rwlock));
    if mutex.is_nan() || rwlock.is_nan() {
        return "a single-lock measurement is missing from this run".to_owned();
    }
    if mutex < 1.0 - EVEN && rwlock < 1.0 - EVEN {
        format!(
            "with a second thread, both single locks ran *slower* than with one: the mutex \
             at {m} and the rwlock at {r} of their own 1-thread throughput"
        )
    } else if mutex < 1.0 + EVEN && rwlock < 1.0 + EVEN {
        format!(
            "a second thread gained the single locks nothing: the mutex ran at {m} and the \
             rwlock at {r} of their own 1-thread throughput"
        )
    } else {
        format!(
            "a single lock gained from a second thread in this run (the mutex {m}, the \
             rwlock {r} of their own 1-thread throughput), which is unusual: check the \
             spread column before trusting it"
        )
    }
}

/// How the single `RwLock` fared against the single `Mutex` (both as
/// 2-thread over own 1-thread throughput), with the mechanism that fits.
pub fn rwlock_vs_mutex(mutex: f64, rwlock: f64) -> String {
    let (m, r) = (fmt_ratio(mutex), fmt_ratio(rwlock));
    if mutex.is_nan() || rwlock.is_nan() {
        "A single-lock measurement is missing from this run.".to_owned()
    } else if rwlock > mutex * (1.0 + EVEN) {
        format!(
            "The single `RwLock` kept more of its 1-thread throughput than the `Mutex` \
             ({r} against {m}), because most of its operations share the lock; but every \
             reader still writes the lock's reader count, so that line still bounces."
        )
    } else if rwlock < mutex * (1.0 - EVEN) {
        format!(
            "The single `RwLock` kept less of its 1-thread throughput than the `Mutex` \
             ({r} against {m}): sharing the lock bought its readers nothing here, and every \
             reader still writes the lock's reader count."
        )
    } else {
        format!(
            "The single `RwLock` fared about like the `Mutex` ({r} against {m}): every \
             reader still writes the lock's reader count, so its line bounces as the \
             mutex's does."
        )
    }
}

/// How the sharded designs scaled: `rows` are (design, throughput at
/// `threads` over its own 1-thread throughput).
pub fn sharded_scaling(threads: usize, cores: usize, rows: &[(&str, f64)]) -> String {
    let ideal = ideal(threads, cores);
    let head = format!(
        "At {threads} threads the sharded designs reached {} of their own 1-thread throughput",
        listed(rows)
    );
    let above: Vec<String> = rows
        .iter()
        .filter(|(_, r)| *r > ideal * 1.02)
        .map(|(n, _)| (*n).to_owned())
        .collect();
    let fell: Vec<String> = rows
        .iter()
        .filter(|(_, r)| *r < 1.0)
        .map(|(n, _)| (*n).to_owned())
        .collect();
    if rows.iter().any(|(_, r)| r.is_nan()) {
        format!("{head}; a measurement is missing, so no verdict.")
    } else if !fell.is_empty() {
        format!(
            "{head}: {} ran slower with {threads} threads than with one, which uniform keys \
             over many shards do not explain (two threads rarely meet on a shard). Look at the \
             spread column first: when the rounds of a row vary by tens of percent or more, \
             the host took cores away during some of them, and this row is that noise, not a \
             property of the design; rerun it before reading anything into it.",
            join_and(&fell)
        )
    } else if above.is_empty() {
        format!(
            "{head}, below the ideal {}: both threads share one memory system and, on a \
             virtual machine, the cores are not always both ours.",
            fmt_ratio(ideal)
        )
    } else {
        format!(
            "{head}. {} went above {}, which {} cannot give by running in parallel: each of its {threads} threads did more operations per second than \
             the lone thread of the 1-thread run did. So the 1-thread run was slower per \
             operation, for a reason this experiment does not isolate (the spread column \
             shows how much its rounds varied); it is not sharding beating the hardware.",
            join_and(&above),
            fmt_ratio(ideal),
            count(cores, "core")
        )
    }
}

/// The sharded mutex against the single locks at the same thread count,
/// and why that ratio may exceed the core count. `vs_mutex`, `vs_rwlock`:
/// sharded-mutex's throughput over each single lock's at `threads`;
/// `mutex_own`, `rwlock_own`: each single lock at `threads` over its own
/// 1-thread throughput.
pub fn vs_single_locks(
    threads: usize,
    cores: usize,
    vs_mutex: f64,
    vs_rwlock: f64,
    mutex_own: f64,
    rwlock_own: f64,
) -> String {
    let ideal = ideal(threads, cores);
    let head = format!(
        "At {threads} threads sharded-mutex ran at {} the mutex's throughput and {} the \
         rwlock's",
        fmt_ratio(vs_mutex),
        fmt_ratio(vs_rwlock)
    );
    if [vs_mutex, vs_rwlock, mutex_own, rwlock_own]
        .iter()
        .any(|r| r.is_nan())
    {
        format!("{head}; a measurement is missing, so no verdict.")
    } else if vs_mutex.max(vs_rwlock) > ideal {
        format!(
            "{head}. Those ratios compare two designs at the same thread count, not a design \
             with itself, so they can exceed the {} that {} allow: most of the gap is the \
             single locks falling (the mutex to {}, the rwlock to {} of their own 1-thread \
             throughput), not the sharded cache outrunning the hardware.",
            fmt_ratio(ideal),
            count(cores, "core"),
            fmt_ratio(mutex_own),
            fmt_ratio(rwlock_own)
        )
    } else {
        format!("{head}.")
    }
}

/// The verdict on "sharded maps with plain mutexes win", from sharded-mutex's
/// throughput over the mutex's, the rwlock's and sharded-rwlock's.
pub fn sharded_claim(threads: usize, vs_mutex: f64, vs_rwlock: f64, vs_srw: f64) -> String {
    let beats_single = vs_mutex > 1.0 + EVEN && vs_rwlock > 1.0 + EVEN;
    let per_shard = if vs_srw > 1.0 + EVEN {
        "ahead of"
    } else if vs_srw >= 1.0 - EVEN {
        "level with"
    } else {
        "behind"
    };
    let lead = if [vs_mutex, vs_rwlock, vs_srw].iter().any(|r| r.is_nan()) {
        "No verdict (a measurement is missing)"
    } else if beats_single && per_shard != "behind" {
        "Yes, in this run"
    } else if beats_single || per_shard != "behind" {
        "Partly, in this run"
    } else {
        "No, not in this run"
    };
    format!(
        "{lead}: at {threads} threads sharded-mutex ran at {} the single mutex's throughput \
         and {} the single rwlock's, and {per_shard} the per-shard reader-writer locks ({} \
         sharded-rwlock's throughput)",
        fmt_ratio(vs_mutex),
        fmt_ratio(vs_rwlock),
        fmt_ratio(vs_srw)
    )
}

/// "about even with", "below", "above" the single mutex, with the ratio.
pub fn against_mutex(r: f64) -> String {
    let word = if r.is_nan() {
        "not measured against"
    } else if (r - 1.0).abs() <= EVEN {
        "about even with"
    } else if r < 1.0 {
        "below"
    } else {
        "above"
    };
    format!("{word} the mutex ({})", fmt_ratio(r))
}

/// What skew did to each design: `rows` are (design, Zipf over uniform,
/// hot key over uniform), each its own throughput ratio.
pub fn skew(rows: &[(&str, f64, f64)]) -> String {
    let class = |r: f64| {
        if r > 1.0 + EVEN / 2.0 {
            "faster"
        } else if r < 1.0 - EVEN / 2.0 {
            "slower"
        } else {
            "about as fast"
        }
    };
    if rows
        .iter()
        .any(|(_, z, h)| z.is_nan() || h.is_nan() || rows.is_empty())
    {
        return "a skew measurement is missing from this run".to_owned();
    }
    let all_faster = rows.iter().all(|(_, z, h)| *z > 1.0 && *h > 1.0);
    let all_zipf_faster = rows.iter().all(|(_, z, _)| *z > 1.0);
    let per_dist = |label: &str, pick: fn(&(&str, f64, f64)) -> f64| {
        let parts: Vec<String> = rows
            .iter()
            .map(|row| {
                format!(
                    "{} ran {} ({})",
                    row.0,
                    class(pick(row)),
                    fmt_ratio(pick(row))
                )
            })
            .collect();
        format!("with {label}, {}", join_and(&parts))
    };
    let zipf = per_dist("Zipf keys", |r| r.1);
    let hot = per_dist("one hot key", |r| r.2);
    let lead = if all_faster {
        "every design ran faster with skewed keys than with uniform ones"
    } else if all_zipf_faster {
        "Zipf keys made every design faster than uniform keys did, but one hot key did not"
    } else {
        "skew did not make every design faster"
    };
    format!("{lead}: {zipf}; {hot}, each against its own uniform run")
}

/// What oversubscription cost: `sharded` and `single` are (design,
/// throughput at `many` threads over throughput at `base` threads).
pub fn oversubscription(
    base: usize,
    many: usize,
    sharded: &[(&str, f64)],
    single: &[(&str, f64)],
) -> String {
    let mean = |rows: &[(&str, f64)]| rows.iter().map(|r| r.1).sum::<f64>() / rows.len() as f64;
    let all: Vec<f64> = sharded.iter().chain(single).map(|r| r.1).collect();
    if sharded.is_empty() || single.is_empty() || all.iter().any(|r| r.is_nan()) {
        return "an oversubscription measurement is missing from this run".to_owned();
    }
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (s, l) = (mean(sharded), mean(single));
    let plain = |rows: &[(&str, f64)]| {
        rows.iter()
            .map(|(n, r)| format!("{n} {}", fmt_ratio(*r)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let detail = format!(
        "with {many} threads, as a multiple of their {base}-thread throughput, the sharded \
         designs ran at {}; the single locks at {}",
        plain(sharded),
        plain(single)
    );
    if (s - l).abs() <= EVEN {
        format!(
            "oversubscription treated the sharded and the single-lock designs about the same: \
             every design ran at between {} and {} of its {base}-thread throughput with {many} \
             threads",
            fmt_ratio(lo),
            fmt_ratio(hi)
        )
    } else if s > l {
        format!("oversubscription hurt the single locks more than the sharded designs: {detail}")
    } else {
        format!("oversubscription hurt the sharded designs more than the single locks: {detail}")
    }
}

/// Where the shard sweep's gain comes from: `points` are (shard count,
/// throughput), in increasing shard count, the first usually 1 shard.
pub fn shard_sweep(points: &[(usize, f64)]) -> String {
    let Some(&(first_n, first)) = points.first() else {
        return "the shard sweep is missing from this run".to_owned();
    };
    let Some(&(peak_n, peak)) = points.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
        return "the shard sweep is missing from this run".to_owned();
    };
    if peak_n == first_n || peak <= first {
        return format!(
            "more shards gained nothing in this run: {} was already the fastest",
            count(first_n, "shard")
        );
    }
    let gain = peak - first;
    let Some(&(most_n, most)) = points.iter().find(|(_, t)| t - first >= 0.8 * gain) else {
        return "the shard sweep is missing from this run".to_owned();
    };
    let share = (most - first) / gain;
    if most_n == peak_n {
        format!(
            "throughput peaked at {}, {} the {first_n}-shard figure",
            count(peak_n, "shard"),
            fmt_ratio(peak / first)
        )
    } else {
        format!(
            "{} already bought {:.0}% of the gain from {} to the peak ({}, {} the \
             {first_n}-shard throughput)",
            count(most_n, "shard"),
            100.0 * share.min(1.0),
            count(first_n, "shard"),
            count(peak_n, "shard"),
            fmt_ratio(peak / first)
        )
    }
}

/// The verdict on "a reader-writer lock hurts writers more than it helps
/// readers", over every (rwlock design vs its mutex twin) pairing of the
/// starvation experiment: `pairs` are (writer wait p99 ratio, reader
/// throughput ratio), RwLock over Mutex. The thresholds are those of
/// [`crate::measure::verdict`].
pub fn rwlock_claim(pairs: &[(f64, f64)]) -> String {
    if pairs.is_empty() || pairs.iter().any(|(w, r)| w.is_nan() || r.is_nan()) {
        return "No verdict: a starvation measurement is missing from this run".to_owned();
    }
    let held = pairs.iter().filter(|(w, r)| *w > 2.0 && *r <= 1.1).count();
    let hurt = pairs.iter().filter(|(w, _)| *w > 2.0).count();
    let fold = |f: fn(&(f64, f64)) -> f64| {
        let v: Vec<f64> = pairs.iter().map(f).collect();
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    let (wlo, whi) = fold(|p| p.0);
    let (rlo, rhi) = fold(|p| p.1);
    let n = pairs.len();
    let lead = if held == 0 && hurt == 0 {
        format!("Not in this run: in none of the {n} pairings did writers wait much longer")
    } else if held == 0 {
        format!(
            "Not as stated: writers waited much longer in {hurt} of the {n} pairings, but \
             readers gained there too"
        )
    } else if held == n {
        format!("Yes, in this run: it held in all {n} pairings")
    } else {
        format!("Partly: it held in {held} of the {n} pairings")
    };
    format!(
        "{lead}; writer wait p99 behind an `RwLock` ranged from {} to {} of the `Mutex`'s, \
         reader throughput from {} to {}",
        fmt_ratio(wlo),
        fmt_ratio(whi),
        fmt_ratio(rlo),
        fmt_ratio(rhi)
    )
}

/// Whether reader-writer locks per shard paid off for short lookups:
/// `r` is sharded-rwlock's throughput over sharded-mutex's.
pub fn per_shard_rwlock(r: f64) -> String {
    if r.is_nan() {
        "a sharded measurement is missing from this run".to_owned()
    } else if (r - 1.0).abs() <= EVEN {
        format!(
            "for short lookups in a sharded map it bought nothing here (sharded-rwlock ran at \
             {} sharded-mutex's throughput)",
            fmt_ratio(r)
        )
    } else if r > 1.0 {
        format!(
            "for short lookups in a sharded map it helped here (sharded-rwlock ran at {} \
             sharded-mutex's throughput)",
            fmt_ratio(r)
        )
    } else {
        format!(
            "for short lookups in a sharded map it cost throughput here (sharded-rwlock ran \
             at {} sharded-mutex's throughput)",
            fmt_ratio(r)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharded_designs_that_fell_are_called_noise_to_check() {
        let v = sharded_scaling(2, 2, &[("sharded-mutex", 0.49), ("sharded-rwlock", 1.6)]);
        assert!(
            v.contains("sharded-mutex ran slower with 2 threads than with one"),
            "{v}"
        );
        assert!(v.contains("spread column"), "{v}");
        let v = sharded_scaling(2, 2, &[("sharded-mutex", 1.7), ("sharded-rwlock", 1.6)]);
        assert!(v.contains("below the ideal"), "{v}");
    }

    #[test]
    fn single_locks_that_fall_are_called_slower() {
        assert!(single_locks(0.35, 0.74).contains("both single locks ran *slower*"));
        assert!(single_locks(0.98, 1.02).contains("gained the single locks nothing"));
        assert!(single_locks(1.5, 0.9).contains("unusual"));
        assert!(single_locks(f64::NAN, 0.9).contains("missing"));
    }

    #[test]
    fn rwlock_against_mutex_picks_its_mechanism() {
        assert!(rwlock_vs_mutex(0.35, 0.74).contains("kept more"));
        assert!(rwlock_vs_mutex(0.44, 0.45).contains("about like"));
        assert!(rwlock_vs_mutex(0.8, 0.4).contains("kept less"));
    }

    #[test]
    fn a_speed_up_above_the_core_count_is_explained() {
        let below = sharded_scaling(2, 2, &[("sharded-mutex", 1.86), ("sharded-rwlock", 1.68)]);
        assert!(below.contains("below the ideal 2.00×"), "{below}");
        let above = sharded_scaling(2, 2, &[("sharded-mutex", 2.33), ("sharded-rwlock", 1.9)]);
        assert!(above.contains("sharded-mutex went above 2.00×"), "{above}");
        assert!(!above.contains("sharded-rwlock went above"), "{above}");
        assert!(
            above.contains("not sharding beating the hardware"),
            "{above}"
        );
        // On a bigger machine 2 threads have an ideal of 2, not the cores.
        assert!(sharded_scaling(2, 8, &[("a", 1.9)]).contains("below the ideal 2.00×"));
    }

    #[test]
    fn a_ratio_between_designs_says_what_it_is_relative_to() {
        let big = vs_single_locks(2, 2, 4.19, 2.34, 0.35, 0.74);
        assert!(
            big.contains("two designs at the same thread count"),
            "{big}"
        );
        assert!(big.contains("the mutex to 0.35×"), "{big}");
        let small = vs_single_locks(2, 2, 1.5, 1.2, 0.9, 0.95);
        assert!(!small.contains("same thread count"), "{small}");
    }

    #[test]
    fn the_sharded_claim_follows_the_ratios() {
        assert!(sharded_claim(2, 4.19, 2.34, 0.99).starts_with("Yes"));
        assert!(sharded_claim(2, 4.19, 2.34, 0.99).contains("level with"));
        assert!(sharded_claim(2, 4.19, 2.34, 0.7).starts_with("Partly"));
        assert!(sharded_claim(2, 0.9, 1.0, 0.7).starts_with("No,"));
        assert!(sharded_claim(2, f64::NAN, 1.0, 0.7).starts_with("No verdict"));
    }

    #[test]
    fn skew_is_called_faster_only_when_every_design_was() {
        let mixed = skew(&[("mutex", 1.32, 1.93), ("sharded-mutex", 1.24, 0.45)]);
        assert!(
            mixed.starts_with("Zipf keys made every design faster"),
            "{mixed}"
        );
        assert!(
            mixed.contains("sharded-mutex ran slower (0.45×)"),
            "{mixed}"
        );
        assert!(!mixed.contains("every design ran faster"), "{mixed}");
        let all = skew(&[("mutex", 1.3, 1.9), ("sharded-mutex", 1.2, 1.1)]);
        assert!(all.starts_with("every design ran faster"), "{all}");
        let none = skew(&[("mutex", 0.8, 1.9), ("sharded-mutex", 1.2, 0.5)]);
        assert!(none.starts_with("skew did not make"), "{none}");
    }

    #[test]
    fn against_the_mutex_words() {
        assert_eq!(against_mutex(0.97), "about even with the mutex (0.97×)");
        assert!(against_mutex(0.5).starts_with("below"));
        assert!(against_mutex(3.75).starts_with("above"));
    }

    #[test]
    fn oversubscription_contrast_is_claimed_only_when_measured() {
        let same = oversubscription(
            2,
            16,
            &[("sharded-mutex", 0.85), ("sharded-rwlock", 0.89)],
            &[("mutex", 0.88), ("rwlock", 0.92)],
        );
        assert!(same.contains("about the same"), "{same}");
        assert!(same.starts_with("oversubscription treated"), "{same}");
        assert!(same.contains("between 0.85× and 0.92×"), "{same}");
        let single_worse = oversubscription(
            2,
            16,
            &[("sharded-mutex", 0.95)],
            &[("mutex", 0.5), ("rwlock", 0.6)],
        );
        assert!(
            single_worse.contains("hurt the single locks more"),
            "{single_worse}"
        );
        let sharded_worse = oversubscription(2, 16, &[("s", 0.5)], &[("m", 0.95)]);
        assert!(sharded_worse.contains("hurt the sharded designs more"));
    }

    #[test]
    fn shard_sweep_names_where_most_of_the_gain_is() {
        let pts = [
            (1, 5.0),
            (2, 9.0),
            (4, 13.0),
            (8, 14.0),
            (64, 15.0),
            (256, 14.5),
        ];
        let s = shard_sweep(&pts);
        assert!(
            s.starts_with("4 shards already bought 80% of the gain"),
            "{s}"
        );
        assert!(
            s.contains("from 1 shard to the peak (64 shards, 3.00×"),
            "{s}"
        );
        assert!(shard_sweep(&[(1, 5.0), (2, 4.0)]).contains("gained nothing"));
        assert!(shard_sweep(&[(1, 5.0), (2, 6.0), (4, 9.0)]).starts_with("throughput peaked"));
        assert!(shard_sweep(&[]).contains("missing"));
    }

    #[test]
    fn the_rwlock_claim_counts_pairings() {
        let measured = [(0.04, 2.39), (0.03, 2.38), (0.62, 2.57), (1.07, 1.01)];
        let v = rwlock_claim(&measured);
        assert!(v.starts_with("Not in this run: in none of the 4"), "{v}");
        assert!(v.contains("from 0.03× to 1.07×"), "{v}");
        assert!(v.contains("from 1.01× to 2.57×"), "{v}");
        assert!(rwlock_claim(&[(5.0, 1.0), (5.0, 1.0)]).starts_with("Yes"));
        assert!(rwlock_claim(&[(5.0, 1.0), (1.0, 1.5)]).starts_with("Partly"));
        assert!(rwlock_claim(&[(5.0, 2.0)]).starts_with("Not as stated"));
        assert!(rwlock_claim(&[]).starts_with("No verdict"));
    }

    #[test]
    fn per_shard_rwlock_words() {
        assert!(per_shard_rwlock(1.01).contains("bought nothing"));
        assert!(per_shard_rwlock(1.3).contains("helped"));
        assert!(per_shard_rwlock(0.7).contains("cost"));
    }

    #[test]
    fn joins() {
        assert_eq!(join_and(&[]), "");
        assert_eq!(join_and(&["a".into()]), "a");
        assert_eq!(
            join_and(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
    }
}
