//! `cargo run -p lab-04 --release -- --help`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use kit::cli::MeasureArgs;
use lab_02::launch::Target;
use lab_04::perf::CallGraph;
use lab_04::session::{self, Via};
use lab_04::{drive::Drive, flame, stacks};

/// Profile the labs' servers: a debug port with Go's /debug/pprof paths,
/// flame graphs, perf from outside, and the chapter's measurements.
#[derive(Parser)]
#[command(name = "lab-04")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run lab-02's server (every lab-02 option) with a debug port:
    /// /debug/pprof/profile and /debug/runtime on loopback.
    Serve {
        /// Where the debug port listens (loopback only), e.g. 127.0.0.1:6060.
        /// Without it, no debug port.
        #[arg(long)]
        debug_addr: Option<SocketAddr>,
        #[command(flatten)]
        config: lab_02::config::Config,
    },
    /// Start a lab-02 model, drive it with lab-03, profile it in the middle
    /// of the load, and write flamegraph.svg, stacks.folded, top.txt,
    /// profile.pb (and diff.svg with --baseline) into --out.
    Profile(ProfileArgs),
    /// Print the folded stacks of a profile.proto file (ours, or Go's once
    /// gunzipped).
    Fold {
        /// The profile.
        profile: PathBuf,
    },
    /// Draw a flame graph from folded stacks; with --before, a
    /// differential one (red: grew since BEFORE; blue: shrank).
    Flame {
        /// Folded stacks (after, for a diff).
        folded: PathBuf,
        #[arg(long)]
        before: Option<PathBuf>,
        #[arg(long, default_value = "flame graph")]
        title: String,
        /// The SVG to write.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// The top functions of folded stacks or a profile.proto, by samples of
    /// their own (flat), as `go tool pprof -top` lists them.
    Top {
        file: PathBuf,
        #[arg(short, default_value_t = 20)]
        n: usize,
    },
    /// Profile any running process from outside with Linux perf.
    Perf {
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value = "10s", value_parser = kit::duration::parse_duration)]
        duration: Duration,
        #[arg(long, default_value_t = 99)]
        frequency: u32,
        #[arg(long, value_enum, default_value = "dwarf")]
        call_graph: CallGraph,
        /// Where stacks.folded, flamegraph.svg and top.txt go.
        #[arg(long, default_value = "perf-profile")]
        out: PathBuf,
    },
    /// Run the chapter's measurements and write a report for the results
    /// pipeline (`cargo xtask results --only lab-04`).
    Measure(MeasureOpts),
}

#[derive(clap::Args)]
struct MeasureOpts {
    #[command(flatten)]
    common: MeasureArgs,
    /// Run only these experiments (comma-separated): overhead, aof-log,
    /// two-ways, heap, lab01-read, build-settings. The report then holds
    /// only their tables and figures, so the pipeline must not commit it.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    only: Vec<String>,
}

#[derive(clap::Args)]
struct ProfileArgs {
    /// The lab-02 model to profile.
    #[arg(long, default_value = "task-per-connection", value_parser = parse_target)]
    model: Target,
    /// Worker threads for the multi-threaded models.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Offered load in requests per second (open model). Without it, a
    /// closed model: --connections connections as fast as replies come.
    #[arg(long)]
    rate: Option<f64>,
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Commands per write.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// lab-03's command mix.
    #[arg(long, default_value = "set:get=1:9")]
    mix: String,
    /// Keys written before the load, and drawn from by it.
    #[arg(long, default_value_t = 10_000)]
    keyspace: u64,
    /// How long to profile (the load runs a warm-up second before and one
    /// after).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Samples per second per busy CPU.
    #[arg(long, default_value_t = 99)]
    frequency: u32,
    /// Take the profile with Linux perf from outside instead of the debug
    /// port.
    #[arg(long)]
    perf: bool,
    /// With --perf: how perf unwinds stacks.
    #[arg(long, value_enum, default_value = "dwarf")]
    call_graph: CallGraph,
    /// Folded stacks of an earlier run (its stacks.folded): also write
    /// diff.svg.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Functions in top.txt.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// More options for the lab-02 server, e.g. --server-arg=--task-metrics.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    #[arg(long, default_value = "profile")]
    out: PathBuf,
}

fn parse_target(s: &str) -> Result<Target, String> {
    Target::ALL
        .into_iter()
        .filter(|t| *t != Target::Redis)
        .find(|t| t.name() == s)
        .ok_or_else(|| {
            format!("unknown model `{s}`: event-loop, task-per-connection or thread-per-core")
        })
}

fn read_stacks(path: &PathBuf) -> Result<Vec<stacks::Stack>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    match std::str::from_utf8(&bytes) {
        Ok(text) if stacks::parse_folded(text).is_ok() => stacks::parse_folded(text),
        _ => stacks::from_pprof(&bytes),
    }
}

fn profile(a: ProfileArgs) -> Result<()> {
    anyhow::ensure!(
        (1..=lab_04::request::MAX_SECONDS).contains(&a.seconds),
        "--seconds must be from 1 to {}",
        lab_04::request::MAX_SECONDS
    );
    anyhow::ensure!(
        (1..=lab_04::request::MAX_FREQUENCY).contains(&a.frequency),
        "--frequency must be from 1 to {}",
        lab_04::request::MAX_FREQUENCY
    );
    if let Some(rate) = a.rate {
        anyhow::ensure!(
            rate.is_finite() && rate > 0.0,
            "--rate must be a positive number of requests per second, got {rate}"
        );
    }
    anyhow::ensure!(a.connections >= 1, "--connections must be at least 1");
    anyhow::ensure!(
        (1..=1024).contains(&a.pipeline),
        "--pipeline must be from 1 to 1024 commands per write"
    );
    anyhow::ensure!(a.keyspace >= 1, "--keyspace must be at least 1 key");
    let plan = session::Plan {
        target: a.model,
        threads: a.threads,
        server_args: a.server_args,
        drive: Drive {
            rate: a.rate,
            connections: a.connections,
            pipeline: a.pipeline,
            mix: a.mix,
            keyspace: a.keyspace,
            ..Drive::default()
        },
        warm: Duration::from_secs(1),
        seconds: a.seconds,
        frequency: a.frequency,
        via: if a.perf {
            Via::Perf(a.call_graph)
        } else {
            Via::DebugPort
        },
        out: a.out,
        baseline: a.baseline,
        top: a.top,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let o = session::run(&plan)?;
    let s = &o.summary;
    println!(
        "{}: {} req/s served, p99 {} from the intended start, server CPU {:.2} s",
        plan.target.name(),
        kit::fmt::fmt_int(s.ok_rate),
        kit::fmt::fmt_ns(s.latency.p99_us * 1e3),
        o.server_cpu_s
    );
    print!("{}", session::top_text(&o.stacks, 10));
    for f in &o.files {
        println!("wrote {}", f.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    kit::cli::init_tracing("warn");
    let result = match Cli::parse().command {
        Command::Serve { debug_addr, config } => lab_04::serve::serve(config, debug_addr),
        Command::Profile(a) => profile(a),
        Command::Fold { profile } => {
            read_stacks(&profile).map(|s| print!("{}", stacks::to_folded(&s)))
        }
        Command::Flame {
            folded,
            before,
            title,
            out,
        } => (|| {
            let after = stacks::to_folded(&read_stacks(&folded)?);
            let svg = match before {
                Some(b) => {
                    flame::diff_svg(&stacks::to_folded(&read_stacks(&b)?), &after, &title, None)?
                }
                None => flame::svg(&after, &title, None)?,
            };
            std::fs::write(&out, svg).with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {}", out.display());
            Ok(())
        })(),
        Command::Top { file, n } => {
            read_stacks(&file).map(|s| print!("{}", session::top_text(&s, n)))
        }
        Command::Perf {
            pid,
            duration,
            frequency,
            call_graph,
            out,
        } => (|| {
            std::fs::create_dir_all(&out)?;
            let p = lab_04::perf::record(pid, duration, frequency, call_graph, &out)?;
            std::fs::write(out.join("stacks.folded"), &p.folded)?;
            let title = format!("pid {pid} (perf)");
            std::fs::write(
                out.join("flamegraph.svg"),
                flame::svg(&p.folded, &title, None)?,
            )?;
            std::fs::write(out.join("top.txt"), session::top_text(&p.stacks, 25))?;
            print!("{}", session::top_text(&p.stacks, 10));
            println!("wrote {}", out.display());
            Ok(())
        })(),
        Command::Measure(args) => (|| {
            let started = Instant::now();
            let report = lab_04::measure::run(args.common.quick, &args.only)?;
            kit::output::finish(&report, &args.common.out, started)
        })(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
