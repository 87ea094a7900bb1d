//! Writing a `measure` command's report, printing its summary, and timing
//! the steps in between: the same lines on stderr for every lab.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use report::Report;

use crate::fmt::fmt_duration;

/// Runs one step of a measurement, saying on stderr what it is and how long
/// it took; an error names the step.
pub fn timed<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("{what}…");
    let started = Instant::now();
    let out = f().with_context(|| what.to_owned())?;
    // Whole milliseconds once past one: "done in 2.35 s", not nine digits.
    let took = started.elapsed();
    let took = if took >= Duration::from_millis(1) {
        Duration::from_millis(took.as_millis() as u64)
    } else {
        took
    };
    eprintln!("{what}: done in {}", fmt_duration(took));
    Ok(out)
}

/// Writes `report` to `out` as pretty JSON, creating the directory.
pub fn write_report(report: &Report, out: &Path) -> Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the directory {}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(report).context("encoding the report")?;
    std::fs::write(out, json).with_context(|| format!("writing the report to {}", out.display()))
}

/// Writes the report, prints one summary line per artifact and a closing
/// line with the time the whole measurement took.
pub fn finish(report: &Report, out: &Path, started: Instant) -> Result<()> {
    write_report(report, out)?;
    for line in summary_lines(report) {
        eprintln!("{line}");
    }
    eprintln!(
        "wrote {} ({} artifacts{}) in {}",
        out.display(),
        report.artifacts.len(),
        if report.quick {
            ", quick run: numbers are not meaningful"
        } else {
            ""
        },
        fmt_duration(Duration::from_secs(started.elapsed().as_secs()))
    );
    Ok(())
}

/// One line per artifact, for a terminal: a table's headline notes (those
/// starting `Measured`, `Policy`, `WARNING` or `Machine check`) or its row
/// count; a plot's series.
pub fn summary_lines(report: &Report) -> Vec<String> {
    report
        .artifacts
        .iter()
        .map(|a| match a {
            report::Artifact::Table(t) => {
                let measured: Vec<&str> = t
                    .notes
                    .iter()
                    .filter(|n| {
                        n.starts_with("Measured")
                            || n.starts_with("Policy")
                            || n.starts_with("WARNING")
                            || n.starts_with("Machine check")
                    })
                    .map(String::as_str)
                    .collect();
                let measured = if measured.is_empty() {
                    format!("{} rows", t.rows.len())
                } else {
                    measured.join(" | ")
                };
                format!("{}: {measured}", t.name)
            }
            report::Artifact::Plot(p) => {
                let series: Vec<String> = p
                    .series
                    .iter()
                    .map(|s| {
                        let vals: Vec<String> =
                            s.values.iter().map(|v| format!("{v:.2}")).collect();
                        format!("{} [{}]", s.name, vals.join(" "))
                    })
                    .collect();
                format!("{}: {} = {}", p.name, p.y_label, series.join("; "))
            }
            other => other.name().to_owned(),
        })
        .collect()
}
