//! lab-01's four cache designs against dashmap, in the same run.
//!
//! `cargo run -p benches --release --bin compare -- measure --out FILE.json`
//! is the results pipeline's entry point (`cargo xtask results --only
//! benches`). The driver is lab-01's own (`run_rounds`): same workload, same
//! pre-drawn keys, contenders alternating round by round, medians of
//! same-round ratios.

use std::time::Duration;

use anyhow::{Context, Result};
use benches::targets::DashMapTarget;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kit::fmt::{fmt_duration, fmt_int, fmt_mops, fmt_ns, fmt_pct, fmt_ratio};
use lab_01::measure::bench::{Cell, Contender, Summary, median_ratio, run_rounds};
use lab_01::measure::workload::{KeyDist, WorkloadResult, WorkloadSpec};
use report::{Report, Table};

#[derive(Parser)]
#[command(about = "Compare lab-01's caches with established crates")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure and write a report for the results pipeline.
    Measure(kit::cli::MeasureArgs),
}

const THREADS: [usize; 2] = [1, 2];

struct Mix {
    name: &'static str,
    title: &'static str,
    read_ratio: f64,
}

const MIXES: [Mix; 2] = [
    Mix {
        name: "dashmap-read-heavy",
        title: "lab-01 and dashmap, read-heavy, uniform keys",
        read_ratio: 0.9,
    },
    Mix {
        name: "dashmap-write-heavy",
        title: "lab-01 and dashmap, write-heavy, uniform keys",
        read_ratio: 0.1,
    },
];

fn main() -> Result<()> {
    let Command::Measure(kit::cli::MeasureArgs { quick, out }) = Cli::parse().command;
    let started = std::time::Instant::now();
    let mut contenders = Contender::references();
    contenders.push(Contender::of::<DashMapTarget>("dashmap"));
    let dashmap = contenders.len() - 1;
    let rounds = if quick { 1 } else { 5 };
    let duration = if quick {
        Duration::from_millis(20)
    } else {
        Duration::from_millis(1000)
    };
    let base = WorkloadSpec {
        keys: 100_000,
        dist: KeyDist::Uniform,
        shards: 64,
        duration,
        ..WorkloadSpec::default()
    };

    let total = (MIXES.len() * THREADS.len() * contenders.len() * rounds) as u64;
    let progress = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    let mut report = Report::new("benches", quick);
    let mut raw = serde_json::Map::new();
    for mix in &MIXES {
        let spec = WorkloadSpec {
            read_ratio: mix.read_ratio,
            ..base.clone()
        };
        // Cells ordered threads-major so the contenders being compared at
        // one thread count run next to each other in every round.
        let cells: Vec<Cell> = THREADS
            .iter()
            .flat_map(|&threads| {
                (0..contenders.len()).map({
                    let spec = spec.clone();
                    move |contender| Cell {
                        contender,
                        spec: WorkloadSpec {
                            threads,
                            ..spec.clone()
                        },
                    }
                })
            })
            .collect();
        let results = run_rounds(&contenders, &cells, rounds, &progress)
            .with_context(|| format!("measuring {}", mix.name))?;
        let at = |contender: usize, threads: usize| -> &Vec<WorkloadResult> {
            let t = THREADS.iter().position(|&x| x == threads).unwrap_or(0);
            &results[t * contenders.len() + contender]
        };

        let title = format!("{} ({} reads)", mix.title, fmt_pct(mix.read_ratio));
        let mut table = Table::new(
            mix.name,
            &title,
            &[
                "implementation",
                "1 thread (Mops/s)",
                "2 threads (Mops/s)",
                "speed-up 2/1",
                "vs dashmap at 2 threads",
                "p99 at 2 threads",
            ],
        )
        .numeric(&[1, 2, 3, 4, 5]);
        let mut best: Option<(String, f64)> = None;
        // Each lab-01 design's throughput over dashmap's, at 1 and 2 threads.
        let mut vs_dashmap: Vec<(String, f64, f64)> = Vec::new();
        for (i, c) in contenders.iter().enumerate() {
            let one = Summary::of(at(i, 1));
            let two = Summary::of(at(i, 2));
            let vs = median_ratio(at(i, 2), at(dashmap, 2));
            if i != dashmap && best.as_ref().is_none_or(|(_, b)| vs > *b) {
                best = Some((c.name.clone(), vs));
            }
            if i != dashmap {
                vs_dashmap.push((c.name.clone(), median_ratio(at(i, 1), at(dashmap, 1)), vs));
            }
            table.row(vec![
                c.name.clone(),
                fmt_mops(one.ops_per_sec),
                fmt_mops(two.ops_per_sec),
                fmt_ratio(median_ratio(at(i, 2), at(i, 1))),
                fmt_ratio(vs),
                fmt_ns(two.p99_ns),
            ]);
            raw.insert(
                format!("{}/{}", mix.name, c.name),
                serde_json::json!({ "one_thread": at(i, 1), "two_threads": at(i, 2) }),
            );
        }
        table.note(format!(
            "{} rounds of {} per cell, contenders alternating within each round; medians over rounds; ratios are medians of same-round ratios.",
            rounds,
            fmt_duration(duration)
        ));
        table.note(format!(
            "{} keys pre-filled, uniform keys, {} reads, {} shards for every sharded design including dashmap; threads not pinned.",
            base.keys,
            fmt_pct(mix.read_ratio),
            base.shards
        ));
        let lead = dashmap_lead(&vs_dashmap);
        table.note(format!("Measured: {lead}."));
        table
            .fact("shards", base.shards.to_string())
            .fact("keys", fmt_int(base.keys as f64))
            .fact("read_share", fmt_pct(mix.read_ratio))
            .fact("duration", fmt_duration(duration))
            .fact("rounds", rounds.to_string())
            .fact("dashmap_lead", lead);
        let ours = contenders
            .iter()
            .position(|c| c.name == "sharded-mutex")
            .unwrap_or(2);
        table.note(format!(
            "At 2 threads, sharded-mutex reached {} of dashmap's throughput; the fastest lab-01 design here was {} at {}.",
            fmt_ratio(median_ratio(at(ours, 2), at(dashmap, 2))),
            best.as_ref().map(|b| b.0.as_str()).unwrap_or("none"),
            fmt_ratio(best.as_ref().map(|b| b.1).unwrap_or(f64::NAN)),
        ));
        report.table(table);
    }
    progress.finish_and_clear();
    report.data = serde_json::Value::Object(raw);
    kit::output::finish(&report, &out, started)
}

/// How dashmap compared with lab-01's designs: `rows` are (design, its
/// throughput over dashmap's at 1 thread, the same at 2 threads).
fn dashmap_lead(rows: &[(String, f64, f64)]) -> String {
    let range = |f: fn(&(String, f64, f64)) -> f64| {
        let v: Vec<f64> = rows.iter().map(f).collect();
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    if rows.is_empty() || rows.iter().any(|r| r.1.is_nan() || r.2.is_nan()) {
        return "no verdict: a measurement is missing".to_owned();
    }
    let (lo1, hi1) = range(|r| r.1);
    let (lo2, hi2) = range(|r| r.2);
    let one = if hi1 < 1.0 {
        format!(
            "at 1 thread dashmap did more operations per second than every lab-01 design \
             (they reached {} to {} of its throughput)",
            fmt_ratio(lo1),
            fmt_ratio(hi1)
        )
    } else {
        let ahead: Vec<&str> = rows
            .iter()
            .filter(|r| r.1 >= 1.0)
            .map(|r| r.0.as_str())
            .collect();
        format!(
            "at 1 thread dashmap was not ahead of every lab-01 design: {} matched or beat it \
             (lab-01's designs reached {} to {} of its throughput)",
            ahead.join(", "),
            fmt_ratio(lo1),
            fmt_ratio(hi1)
        )
    };
    let two = if hi2 < 1.0 {
        format!(
            "at 2 threads the gap remained (lab-01's designs reached {} to {} of dashmap's \
             throughput)",
            fmt_ratio(lo2),
            fmt_ratio(hi2)
        )
    } else {
        format!(
            "at 2 threads at least one lab-01 design matched or beat dashmap (up to {} of its \
             throughput)",
            fmt_ratio(hi2)
        )
    };
    format!("{one}; {two}")
}

#[cfg(test)]
mod tests {
    use super::dashmap_lead;

    fn rows(r: &[(f64, f64)]) -> Vec<(String, f64, f64)> {
        r.iter()
            .enumerate()
            .map(|(i, &(a, b))| (format!("d{i}"), a, b))
            .collect()
    }

    #[test]
    fn dashmap_lead_follows_the_ratios() {
        let behind = dashmap_lead(&rows(&[(0.49, 0.12), (0.48, 0.60)]));
        assert!(
            behind.starts_with("at 1 thread dashmap did more"),
            "{behind}"
        );
        assert!(behind.contains("0.48× to 0.49×"), "{behind}");
        assert!(behind.contains("the gap remained"), "{behind}");
        let mixed = dashmap_lead(&rows(&[(1.2, 1.1), (0.5, 0.6)]));
        assert!(
            mixed.contains("not ahead of every lab-01 design: d0"),
            "{mixed}"
        );
        assert!(mixed.contains("matched or beat dashmap"), "{mixed}");
        assert!(dashmap_lead(&[]).starts_with("no verdict"));
    }
}
