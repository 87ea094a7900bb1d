//! A profiling session, end to end: start a lab server with its debug
//! port, drive it with lab-03, take a profile in the middle of the load
//! (in-process through the debug port, or from outside with `perf`), and
//! write the flame graph, the folded stacks, a top-N table and, given a
//! baseline, a differential flame graph. What `lab-04 profile` runs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use lab_02::launch::{Launch, Server, Target};

use crate::debug;
use crate::drive::Drive;
use crate::perf::CallGraph;
use crate::request::{Blocklist, Format, ProfileRequest};
use crate::stacks::{self, Stack};

/// Where the samples come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// pprof-rs inside the server, fetched from its debug port.
    DebugPort,
    /// Linux perf, from outside.
    Perf(CallGraph),
}

/// What to profile and how.
#[derive(Debug, Clone)]
pub struct Plan {
    pub target: Target,
    pub threads: usize,
    /// More lab-02 options (`--task-metrics`, `--log-without-aof`).
    pub server_args: Vec<String>,
    pub drive: Drive,
    /// Load before the profile starts (warm-up).
    pub warm: Duration,
    pub seconds: u64,
    pub frequency: u32,
    pub via: Via,
    /// Where the outputs go.
    pub out: PathBuf,
    /// Folded stacks of an earlier run to diff against.
    pub baseline: Option<PathBuf>,
    pub top: usize,
    pub progress: bool,
}

/// What a session produced.
#[derive(Debug)]
pub struct Outcome {
    pub stacks: Vec<Stack>,
    pub summary: lab_03::summary::Summary,
    /// The server's CPU seconds over the whole load.
    pub server_cpu_s: f64,
    pub files: Vec<PathBuf>,
}

/// Starts lab-02 from this binary's `serve` subcommand with a debug port,
/// pinned to `cpus` (a `taskset -c` list) if given. The debug port comes
/// from `kit::process::free_port`, below the ephemeral range, so no
/// outgoing connection of an earlier experiment can take it before the
/// child binds it.
pub fn start_server(
    target: Target,
    threads: usize,
    extra: &[String],
    cpus: Option<&'static str>,
) -> Result<(Server, std::net::SocketAddr)> {
    let port = kit::process::free_port()?;
    let debug_addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let mut args = vec!["--debug-addr".to_owned(), debug_addr.to_string()];
    args.extend(extra.iter().cloned());
    let launch = Launch {
        subcommand: Some("serve"),
        extra: args,
        cpus,
        ..Launch::new(target, threads)
    };
    Ok((Server::start(&launch)?, debug_addr))
}

// ANCHOR: session
pub fn run(plan: &Plan) -> Result<Outcome> {
    std::fs::create_dir_all(&plan.out)
        .with_context(|| format!("cannot create {}", plan.out.display()))?;
    let (server, debug_addr) = start_server(plan.target, plan.threads, &plan.server_args, None)?;
    server.fill(plan.drive.keyspace)?;
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], server.port).into();
    let mut drive = plan.drive.clone();
    drive.duration = plan.warm + Duration::from_secs(plan.seconds) + Duration::from_secs(1);
    let cpu_before = server.cpu_seconds()?;
    let bar = plan.progress.then(|| progress(drive.duration));
    let (summary, profile) = std::thread::scope(|s| -> Result<_> {
        let load = s.spawn(|| drive.run(addr));
        std::thread::sleep(plan.warm);
        let profile = take(plan, debug_addr, server.process.pid);
        let summary = load
            .join()
            .map_err(|_| anyhow::anyhow!("the load generator panicked"))??;
        Ok((summary, profile?))
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let server_cpu_s = server.cpu_seconds()? - cpu_before;
    let (stacks, raw) = profile;
    let files = write_outputs(plan, &stacks, raw.as_deref())?;
    Ok(Outcome {
        stacks,
        summary,
        server_cpu_s,
        files,
    })
}

/// Takes the profile the plan asks for from a running server.
fn take(
    plan: &Plan,
    debug_addr: std::net::SocketAddr,
    pid: u32,
) -> Result<(Vec<Stack>, Option<Vec<u8>>)> {
    let duration = Duration::from_secs(plan.seconds);
    match plan.via {
        Via::DebugPort => {
            let req = ProfileRequest {
                seconds: plan.seconds,
                frequency: plan.frequency,
                format: Format::Pprof,
                blocklist: Blocklist::Unwinder,
            };
            let body = debug::profile(debug_addr, &req)?;
            Ok((stacks::from_pprof(&body)?, Some(body)))
        }
        Via::Perf(graph) => {
            let p = crate::perf::record(pid, duration, plan.frequency, graph, &plan.out)?;
            Ok((p.stacks, None))
        }
    }
}
// ANCHOR_END: session

fn progress(total: Duration) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total.as_secs());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:20}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("load running; profiling after the warm-up");
    bar.enable_steady_tick(Duration::from_millis(250));
    let b = bar.clone();
    std::thread::spawn(move || {
        while !b.is_finished() {
            std::thread::sleep(Duration::from_secs(1));
            b.inc(1);
        }
    });
    bar
}

fn write_outputs(plan: &Plan, stacks: &[Stack], raw: Option<&[u8]>) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut write = |name: &str, bytes: &[u8]| -> Result<()> {
        let p = plan.out.join(name);
        std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
        files.push(p);
        Ok(())
    };
    if let Some(raw) = raw {
        write("profile.pb", raw)?;
    }
    let folded = stacks::to_folded(stacks);
    write("stacks.folded", folded.as_bytes())?;
    let title = format!("{} under load", plan.target.name());
    let sub = format!(
        "{} samples at {} Hz over {} s ({})",
        stacks::total(stacks),
        plan.frequency,
        plan.seconds,
        match plan.via {
            Via::DebugPort => "pprof-rs, in process",
            Via::Perf(_) => "perf, out of process",
        }
    );
    write(
        "flamegraph.svg",
        crate::flame::svg(&folded, &title, Some(&sub))?.as_bytes(),
    )?;
    write("top.txt", top_text(stacks, plan.top).as_bytes())?;
    if let Some(base) = &plan.baseline {
        let before = read_baseline(base)?;
        let diff = crate::flame::diff_svg(&before, &folded, &format!("{title}: change"), None)?;
        write("diff.svg", diff.as_bytes())?;
    }
    Ok(files)
}

fn read_baseline(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the baseline {}", path.display()))?;
    stacks::parse_folded(&text)
        .with_context(|| format!("{} is not folded stacks", path.display()))?;
    Ok(text)
}

/// A top-N table as `go tool pprof -top` prints one: flat and cumulative
/// samples and shares.
pub fn top_text(stacks: &[Stack], n: usize) -> String {
    let total = stacks::total(stacks).max(1) as f64;
    let mut out = format!(
        "{} samples\n{:>8} {:>6} {:>8} {:>6}  function\n",
        stacks::total(stacks),
        "flat",
        "flat%",
        "cum",
        "cum%"
    );
    for r in stacks::top(stacks, n) {
        let _ = writeln!(
            out,
            "{:>8} {:>5.1}% {:>8} {:>5.1}%  {}",
            r.flat,
            r.flat as f64 * 100.0 / total,
            r.cum,
            r.cum as f64 * 100.0 / total,
            r.function
        );
    }
    out
}
