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
use kit::fmt::{fmt_mops, fmt_ns, fmt_ratio};
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
        title: "lab-01 and dashmap, read-heavy (90% reads), uniform keys",
        read_ratio: 0.9,
    },
    Mix {
        name: "dashmap-write-heavy",
        title: "lab-01 and dashmap, write-heavy (10% reads), uniform keys",
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

        let mut table = Table::new(
            mix.name,
            mix.title,
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
        for (i, c) in contenders.iter().enumerate() {
            let one = Summary::of(at(i, 1));
            let two = Summary::of(at(i, 2));
            let vs = median_ratio(at(i, 2), at(dashmap, 2));
            if i != dashmap && best.as_ref().is_none_or(|(_, b)| vs > *b) {
                best = Some((c.name.clone(), vs));
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
            "{} rounds of {} ms per cell, contenders alternating within each round; medians over rounds; ratios are medians of same-round ratios.",
            rounds,
            duration.as_millis()
        ));
        table.note(format!(
            "{} keys pre-filled, uniform keys, {}% reads, 64 shards for every sharded design including dashmap; threads not pinned.",
            base.keys,
            (mix.read_ratio * 100.0).round()
        ));
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
