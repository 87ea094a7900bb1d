//! The chapter's experiment: how long the component takes over a fixed
//! input, as the median of several rounds, written as one results report.
//!
//! A quick run (`--quick`) uses a tiny input and one round but produces the
//! same artifacts, so the test suite can check the pipeline in seconds.

use std::time::Instant;

use anyhow::Result;
use kit::fmt::{fmt_int, fmt_ns};
use kit::stats::{median, spread};
use report::{Report, Table};

/// Runs every experiment the chapter shows and returns the report.
// ANCHOR: experiment
pub fn run(quick: bool) -> Result<Report> {
    let (items, rounds) = if quick { (1_000, 1) } else { (1_000_000, 5) };
    let input: Vec<u64> = (0..items).collect();
    let times_ns: Vec<f64> = kit::timed("timing the component", || {
        Ok((0..rounds)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(crate::component(std::hint::black_box(&input)));
                started.elapsed().as_nanos() as f64
            })
            .collect())
    })?;

    let mut report = Report::new("lab-07", quick);
    let mut table = Table::new(
        "baseline",
        "The component over a fixed input",
        &["items", "rounds", "median time", "spread"],
    )
    .numeric(&[0, 1, 2]);
    table.row(vec![
        fmt_int(items as f64),
        rounds.to_string(),
        fmt_ns(median(&times_ns)),
        spread(&times_ns),
    ]);
    table.note(format!(
        "Measured: the median of {rounds} round(s) over {} items.",
        fmt_int(items as f64)
    ));
    report.table(table);
    Ok(report)
}
// ANCHOR_END: experiment
