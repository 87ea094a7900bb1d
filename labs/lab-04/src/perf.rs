//! Out-of-process profiling with Linux `perf`, for any binary: no code in
//! the target, no restart. `perf record` samples the process with the
//! software `cpu-clock` event (hardware counters are often unavailable in
//! a VM; this event always is), `perf script` prints the samples, and
//! inferno's perf collapser folds them into the same stacks as
//! [`crate::sampling`], so the two ways can be compared on the same run.
//!
//! Call graphs: Rust's release builds omit frame pointers, so `--call-graph
//! fp` (perf's default for `-g`) stops after a frame or two; `dwarf` copies
//! a slice of each sample's stack to the data file and unwinds it later
//! with the binary's unwind tables: complete stacks, bigger files, slower
//! `perf script`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use inferno::collapse::Collapse;

use crate::stacks::{self, Stack};

/// How `perf` unwinds each sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CallGraph {
    /// Frame pointers: cheap, but most frames are lost without
    /// `-C force-frame-pointers=yes`.
    Fp,
    /// DWARF unwinding of a copied stack slice: complete stacks.
    Dwarf,
}

impl CallGraph {
    fn arg(self) -> &'static str {
        match self {
            CallGraph::Fp => "fp",
            CallGraph::Dwarf => "dwarf,16384",
        }
    }
}

/// A profile taken by perf.
#[derive(Debug)]
pub struct PerfProfile {
    pub stacks: Vec<Stack>,
    /// The folded text, as inferno's collapser wrote it.
    pub folded: String,
}

/// The installed perf's version line, or why there is none.
pub fn version() -> Result<String> {
    kit::process::tool_version(
        "perf",
        &["--version"],
        "install Debian's linux-perf (cargo xtask setup does)",
    )
}

// ANCHOR: perf
/// Samples process `pid` for `duration` at `frequency` Hz.
pub fn record(
    pid: u32,
    duration: Duration,
    frequency: u32,
    graph: CallGraph,
    scratch: &Path,
) -> Result<PerfProfile> {
    let data = scratch.join(format!("perf-{pid}.data"));
    let secs = format!("{:.3}", duration.as_secs_f64());
    let out = kit::process::run_tool(
        Command::new("perf")
            .args([
                "record",
                "-q",
                "-e",
                "cpu-clock",
                "-F",
                &frequency.to_string(),
            ])
            .args(["--call-graph", graph.arg(), "-p", &pid.to_string(), "-o"])
            .arg(&data)
            .args(["--", "sleep", &secs]),
        duration + Duration::from_secs(60),
    )?;
    if !out.status.success() {
        bail!("perf record failed: {}", out.stderr.trim());
    }
    fold_data(&data)
}

/// Folds a `perf.data` file (and removes it).
fn fold_data(data: &Path) -> Result<PerfProfile> {
    let script = kit::process::run_tool(
        // No period column: inferno would weigh each sample by it (in
        // nanoseconds for cpu-clock); without it each sample counts one.
        Command::new("perf")
            .args(["script", "-F", "comm,tid,time,event,ip,sym,dso", "-i"])
            .arg(data),
        Duration::from_secs(300),
    )?;
    let _ = std::fs::remove_file(data);
    if !script.status.success() {
        bail!("perf script failed: {}", script.stderr.trim());
    }
    let folded = collapse(&script.stdout)?;
    Ok(PerfProfile {
        stacks: stacks::parse_folded(&folded)?,
        folded,
    })
}

/// Runs `program` with `args` under perf from its start, every thread it
/// ever starts included (`perf record -p` sees only the threads that exist
/// when it attaches), counting from `delay` after the start on: a program
/// that spends its first seconds warming up is sampled after that.
pub fn record_command(
    program: &Path,
    args: &[String],
    delay: Duration,
    frequency: u32,
    graph: CallGraph,
    scratch: &Path,
    timeout: Duration,
) -> Result<PerfProfile> {
    let data = scratch.join(format!("perf-command-{}.data", std::process::id()));
    let out = kit::process::run_tool(
        Command::new("perf")
            .args([
                "record",
                "-q",
                "-e",
                "cpu-clock",
                "-F",
                &frequency.to_string(),
            ])
            .args([
                "--call-graph",
                graph.arg(),
                "-D",
                &delay.as_millis().to_string(),
            ])
            .arg("-o")
            .arg(&data)
            .arg("--")
            .arg(program)
            .args(args),
        timeout,
    )?;
    if !out.status.success() {
        bail!(
            "perf record -- {} failed: {}",
            program.display(),
            out.stderr.trim()
        );
    }
    fold_data(&data)
}

/// Folds `perf script` output with inferno, one stack per thread name
/// (`comm`), addresses left out.
pub fn collapse(script: &str) -> Result<String> {
    let mut opts = inferno::collapse::perf::Options::default();
    opts.include_tid = false;
    opts.include_pid = false;
    let mut folder = inferno::collapse::perf::Folder::from(opts);
    let mut out = Vec::new();
    folder
        .collapse(script.as_bytes(), &mut out)
        .context("inferno could not fold perf's output")?;
    let text = String::from_utf8(out).context("folded output is not UTF-8")?;
    // Rust symbols as perf prints them keep rustc's hash: drop it, as the
    // in-process profiler does, so the two can be diffed.
    Ok(text
        .lines()
        .map(|l| {
            let (stack, count) = l.rsplit_once(' ').unwrap_or((l, "0"));
            let frames: Vec<String> = stack.split(';').map(crate::sampling::tidy).collect();
            format!("{} {count}\n", frames.join(";"))
        })
        .collect())
}
// ANCHOR_END: perf

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_perf_script_output() {
        let script = "\
lab-02-worker-0 1234 100.000001: cpu-clock: 
\t    55d0c0 lab_02::cmd::execute::h0123456789abcdef+0x10 (/bin/lab-04)
\t    55d0b0 lab_02::conn::process+0x20 (/bin/lab-04)
\t    55d0a0 main+0x30 (/bin/lab-04)

lab-02-worker-0 1234 100.010001: cpu-clock: 
\t    55d0c0 lab_02::cmd::execute::h0123456789abcdef+0x10 (/bin/lab-04)
\t    55d0b0 lab_02::conn::process+0x20 (/bin/lab-04)
\t    55d0a0 main+0x30 (/bin/lab-04)

";
        let folded = collapse(script).unwrap();
        assert_eq!(
            folded,
            "lab-02-worker-0;main;lab_02::conn::process;lab_02::cmd::execute 2\n"
        );
    }
}
