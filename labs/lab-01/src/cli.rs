//! The command line: `lab-01 bench`, `lab-01 starvation`, `lab-01 measure`.
//!
//! It lives in the library, not in `main.rs`, so that other binaries can
//! run the same commands with their own implementations added: the
//! exercises crate measures a learner's cache this way, and `benches/` can
//! measure other crates' maps. This is the one module that returns
//! `anyhow` errors: it is the binaries' front end.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::measure::bench::{Contender, Summary, median_ratio, run_rounds, thread_grid};
use crate::measure::starvation::{StarvationSpec, probe_policy, run_starvation_rounds};
use crate::measure::workload::{KeyDist, WorkloadResult, WorkloadSpec};
use crate::measure::{MeasurePlan, measure, starvation_artifacts};
use kit::fmt::{fmt_duration, fmt_mops, fmt_ns, fmt_ratio, render_text};
use kit::machine::{Watch, conditions_note, watched};
use kit::parse_duration;

/// Under Load, lab 01: a concurrent key-value cache, and the experiments
/// that measure its locks.
#[derive(Debug, Parser)]
#[command(name = "lab-01", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Throughput and latency of each implementation at each thread count,
    /// side by side.
    Bench(BenchArgs),
    /// The writer-starvation experiment: how long do writers wait for the
    /// lock while readers hammer it?
    Starvation(StarvationArgs),
    /// Probe std's locks from the inside: the uncontended fast path, and
    /// handing a lock to a waiter that is still spinning or already asleep.
    Locks(LocksArgs),
    /// Run every experiment the chapter needs and write one results report
    /// (JSON) for the results pipeline.
    Measure(MeasureArgs),
}

/// A named read/write mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
pub enum Mix {
    /// 90% reads, 10% writes.
    ReadHeavy,
    /// 50% reads, 50% writes.
    Balanced,
    /// 10% reads, 90% writes.
    WriteHeavy,
}

impl Mix {
    pub fn read_ratio(self) -> f64 {
        match self {
            Mix::ReadHeavy => 0.9,
            Mix::Balanced => 0.5,
            Mix::WriteHeavy => 0.1,
        }
    }
}

/// How keys are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dist {
    /// Every key equally likely.
    Uniform,
    /// Zipf-distributed: a few keys get most operations (see --zipf-s).
    Zipf,
    /// Every operation on one key: the worst case for sharding.
    Hot,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Implementations to run, comma-separated: mutex, rwlock, sharded-mutex,
    /// sharded-rwlock, plus any this binary adds (the exercises add `yours`).
    /// Default: all of them.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub impls: Vec<String>,
    /// Thread counts to run, comma-separated. Include 1 to get the speed-up
    /// column.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2",
        value_name = "LIST"
    )]
    pub threads: Vec<usize>,
    /// Fraction of operations that are reads (`read`, no clone); the rest are
    /// writes (`insert`).
    #[arg(long, default_value_t = 0.9, value_name = "0..1")]
    pub read_ratio: f64,
    /// A named mix instead of --read-ratio.
    #[arg(long, conflicts_with = "read_ratio")]
    pub mix: Option<Mix>,
    /// Size of the key space; every key is inserted before the clock starts.
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// How operations choose their key.
    #[arg(long, value_enum, default_value_t = Dist::Uniform)]
    pub dist: Dist,
    /// Exponent of the Zipf distribution (with --dist zipf); larger is more
    /// skewed.
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    pub zipf_s: f64,
    /// Shards in the sharded implementations (a power of two).
    #[arg(long, default_value_t = 64)]
    pub shards: usize,
    /// How long each measurement (one implementation, one thread count, one
    /// round) runs: 400ms, 1s, 1.5s…
    #[arg(long, value_parser = parse_duration, default_value = "400ms", value_name = "TIME")]
    pub duration: Duration,
    /// Rounds: every implementation runs once per round, in turn (A B C D A
    /// B C D); the tables show the median over rounds.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Time one operation in this many (a power of two). Timing costs two
    /// `Instant::now()` calls per timed operation (the output says how much).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub latency_every: u64,
    /// Print machine-readable JSON to stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Pin worker thread i to core i mod cores.
    #[arg(long)]
    pub pin: bool,
    /// Seed for the key and operation draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl BenchArgs {
    fn read_ratio(&self) -> f64 {
        self.mix.map_or(self.read_ratio, Mix::read_ratio)
    }

    fn dist(&self) -> KeyDist {
        match self.dist {
            Dist::Uniform => KeyDist::Uniform,
            Dist::Zipf => KeyDist::Zipf { s: self.zipf_s },
            Dist::Hot => KeyDist::HotKey,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct LocksArgs {
    /// Rounds; each visits every operation and lock in a rotated order.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Fewer pairs and handoffs: seconds instead of tens of seconds.
    #[arg(long)]
    pub quick: bool,
}

#[derive(Debug, Clone, Args)]
pub struct StarvationArgs {
    /// Reader threads; each reads continuously.
    #[arg(long, default_value_t = 2)]
    pub readers: usize,
    /// Writer threads; each writes once per --write-interval.
    #[arg(long, default_value_t = 1)]
    pub writers: usize,
    /// How long each read holds the lock (it spins inside `read`, as a
    /// command walking a long value would).
    #[arg(long, value_parser = parse_duration, default_value = "1us", value_name = "TIME")]
    pub read_hold: Duration,
    /// How long a writer sleeps between writes.
    #[arg(long, value_parser = parse_duration, default_value = "200us", value_name = "TIME")]
    pub write_interval: Duration,
    /// Which keys: `hot` (everything on key 0, so even sharded designs share
    /// one lock), `uniform`, or `both`.
    #[arg(long, value_enum, default_value_t = KeysMode::Both)]
    pub keys_mode: KeysMode,
    /// Key space for the uniform mode.
    #[arg(long, default_value_t = 10_000)]
    pub keys: u64,
    /// Shards in the sharded designs.
    #[arg(long, default_value_t = 64)]
    pub shards: usize,
    /// How long each run (one design, one key mode, one round) lasts.
    #[arg(long, value_parser = parse_duration, default_value = "500ms", value_name = "TIME")]
    pub duration: Duration,
    /// Rounds, designs alternating within each; medians are shown.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Print machine-readable JSON to stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Pin reader and writer threads to cores.
    #[arg(long)]
    pub pin: bool,
}

/// Key modes for the starvation experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeysMode {
    /// Every reader and writer on key 0: one lock for all, even sharded.
    Hot,
    /// Keys uniform over --keys: sharded designs rarely meet on a lock.
    Uniform,
    /// Both, one after the other.
    Both,
}

#[derive(Debug, Clone, Args)]
pub struct MeasureArgs {
    #[command(flatten)]
    pub common: kit::cli::MeasureArgs,
    /// Pin worker threads to cores.
    #[arg(long)]
    pub pin: bool,
}

/// Logs go to stderr, filtered by `RUST_LOG` (default: warnings).
pub fn init_tracing() {
    kit::cli::init_tracing("warn");
}

/// The whole `lab-01` command line, with `extra` implementations added to
/// `bench` beside the four references.
pub fn main_with(extra: Vec<Contender>) -> anyhow::Result<()> {
    init_tracing();
    match Cli::parse().command {
        Command::Bench(args) => run_bench(&args, &extra),
        Command::Starvation(args) => run_starvation_cmd(&args),
        Command::Locks(args) => run_locks(&args),
        Command::Measure(args) => run_measure(&args),
    }
}

fn progress_bar(len: u64, hidden: bool) -> ProgressBar {
    if hidden || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:30} {pos}/{len} cells, {elapsed} elapsed, ~{eta} left  {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// One row of `bench --json`.
#[derive(Debug, Serialize)]
struct BenchCell<'a> {
    implementation: &'a str,
    threads: usize,
    summary: Summary,
    speedup_vs_1_thread: Option<f64>,
    rounds: &'a [WorkloadResult],
}

#[derive(Debug, Serialize)]
struct BenchJson<'a> {
    spec: &'a WorkloadSpec,
    rounds: usize,
    latency_sampling: String,
    cells: Vec<BenchCell<'a>>,
}

/// `bench`: the references and `extra`, side by side.
pub fn run_bench(args: &BenchArgs, extra: &[Contender]) -> anyhow::Result<()> {
    let mut all = Contender::references();
    all.extend(extra.iter().cloned());
    let contenders: Vec<Contender> = if args.impls.is_empty() {
        all
    } else {
        let mut picked = Vec::new();
        for name in &args.impls {
            match all.iter().find(|c| &c.name == name) {
                Some(c) => picked.push(c.clone()),
                None => bail!(
                    "unknown implementation `{name}`; choose from: {}",
                    all.iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        picked
    };
    if args.threads.is_empty() || args.threads.contains(&0) {
        bail!("--threads needs thread counts of at least 1, e.g. --threads 1,2");
    }
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let base = WorkloadSpec {
        threads: 1,
        read_ratio: args.read_ratio(),
        keys: args.keys,
        dist: args.dist(),
        shards: args.shards,
        duration: args.duration,
        latency_every: args.latency_every,
        pin: args.pin,
        seed: args.seed,
    };
    base.validate().context("checking the bench options")?;
    let cells = thread_grid(contenders.len(), &args.threads, &base);
    let bar = progress_bar((cells.len() * args.rounds) as u64, args.json);
    let (results, conditions) = watched(Watch::IN_PROCESS, || {
        run_rounds(&contenders, &cells, args.rounds, &bar)
    })
    .context("running the benchmark")?;
    bar.finish_and_clear();

    let find = |ci: usize, threads: usize| {
        cells
            .iter()
            .position(|c| c.contender == ci && c.spec.threads == threads)
            .map(|i| results[i].as_slice())
    };
    let speedup = |ci: usize, threads: usize| match (find(ci, threads), find(ci, 1)) {
        (Some(a), Some(b)) => Some(median_ratio(a, b)),
        _ => None,
    };
    let sampling = format!(
        "latency: every {}th operation timed with Instant::now(), which costs {} here \
         (twice per timed operation)",
        args.latency_every,
        fmt_duration(crate::measure::workload::instant_cost())
    );

    if args.json {
        let mut out = Vec::new();
        for (ci, c) in contenders.iter().enumerate() {
            for &t in &args.threads {
                if let Some(r) = find(ci, t) {
                    out.push(BenchCell {
                        implementation: &c.name,
                        threads: t,
                        summary: Summary::of(r),
                        speedup_vs_1_thread: speedup(ci, t),
                        rounds: r,
                    });
                }
            }
        }
        let json = BenchJson {
            spec: &base,
            rounds: args.rounds,
            latency_sampling: sampling,
            cells: out,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&json).context("encoding JSON")?
        );
        return Ok(());
    }

    let mut t = report::Table::new(
        "bench",
        "lab-01 bench",
        &[
            "impl",
            "threads",
            "Mops/s",
            "vs 1 thread",
            "p50",
            "p99",
            "p99.9",
            "spread",
        ],
    )
    .numeric(&[1, 2, 3, 4, 5, 6, 7]);
    for (ci, c) in contenders.iter().enumerate() {
        for &threads in &args.threads {
            let Some(r) = find(ci, threads) else { continue };
            let s = Summary::of(r);
            t.row(vec![
                c.name.clone(),
                threads.to_string(),
                fmt_mops(s.ops_per_sec),
                speedup(ci, threads).map_or("-".into(), fmt_ratio),
                fmt_ns(s.p50_ns),
                fmt_ns(s.p99_ns),
                fmt_ns(s.p999_ns),
                format!("±{:.0}%", s.spread_pct() / 2.0),
            ]);
        }
    }
    let pinned = results.iter().flatten().all(|r| r.pinned);
    t.note(format!(
        "{:.0}% reads, {} keys over {} pre-filled keys, {} shards (sharded impls)",
        base.read_ratio * 100.0,
        base.dist.label(),
        base.keys,
        base.shards
    ));
    t.note(format!(
        "{} per cell, median of {} rounds run in A B C D order; spread = half the range over rounds",
        fmt_duration(base.duration),
        args.rounds
    ));
    t.note(sampling);
    t.note(format!(
        "{}; this machine has {} hardware threads",
        if args.pin {
            if pinned {
                "threads pinned to cores"
            } else {
                "pinning requested but failed"
            }
        } else {
            "threads not pinned (use --pin)"
        },
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    t.note(conditions_note(&conditions));
    print!("{}", render_text(&t));
    Ok(())
}

/// `starvation`: the experiment on its own, with its table.
pub fn run_locks(args: &LocksArgs) -> anyhow::Result<()> {
    use crate::measure::internals::{ProbePlan, probe_tables, run_probes};
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    if kit::procfs::cores() < 2 {
        bail!(
            "the handoff probe needs two cores (a holder and a waiter spinning side by side); \
             this machine has one"
        );
    }
    let plan = ProbePlan::new(args.quick, args.rounds);
    let bar = progress_bar(plan.steps(), false);
    let probes = run_probes(&plan, || bar.inc(1));
    bar.finish_and_clear();
    let (fast, handoff) = probe_tables(&plan, &probes);
    print!("{}\n{}", render_text(&fast), render_text(&handoff));
    Ok(())
}

pub fn run_starvation_cmd(args: &StarvationArgs) -> anyhow::Result<()> {
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    if !args.shards.is_power_of_two() {
        bail!("--shards must be a power of two, got {}", args.shards);
    }
    let spec = StarvationSpec {
        readers: args.readers,
        writers: args.writers,
        keys: args.keys,
        hot: true,
        read_hold: args.read_hold,
        write_interval: args.write_interval,
        shards: args.shards,
        duration: args.duration,
        pin: args.pin,
        seed: 1,
    };
    let modes: &[bool] = match args.keys_mode {
        KeysMode::Hot => &[true],
        KeysMode::Uniform => &[false],
        KeysMode::Both => &[true, false],
    };
    let cells = crate::measure::starvation::designs().len() * modes.len() * args.rounds;
    let bar = progress_bar(cells as u64, args.json);
    let runs = run_starvation_rounds(&spec, modes, args.rounds, &bar)
        .context("running the starvation experiment")?;
    bar.set_message("policy probe");
    let probe = probe_policy(Duration::from_millis(20)).context("probing the RwLock policy")?;
    bar.finish_and_clear();
    if args.json {
        let json = serde_json::json!({ "spec": spec, "runs": runs, "policy_probe": probe });
        println!(
            "{}",
            serde_json::to_string_pretty(&json).context("encoding JSON")?
        );
        return Ok(());
    }
    let (table, _) = starvation_artifacts(&spec, &runs, &probe, args.rounds);
    print!("{}", render_text(&table));
    Ok(())
}

/// `measure`: every experiment, one report.
pub fn run_measure(args: &MeasureArgs) -> anyhow::Result<()> {
    let plan = MeasurePlan::new(args.common.quick, args.pin);
    let bar = progress_bar(0, false);
    let started = std::time::Instant::now();
    let report = measure(&plan, &bar).context("running the experiments")?;
    bar.finish_and_clear();
    kit::output::finish(&report, &args.common.out, started)
}
