//! `cargo run -p lab-06 -- --help`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use kit::cli::MeasureArgs;
use lab_02::config::Config;
use lab_06::catalog::{self, Side};
use lab_06::serve::Plant;

#[derive(Parser)]
#[command(about = "Lab 06: a task-leak detector for tokio, and structured concurrency")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How `tasks` prints the profile.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the leak catalog: each leak through the check (its report), and
    /// its fix.
    Catalog {
        /// One case (default: all). `lab-06 catalog --list` names them.
        name: Option<String>,
        /// List the cases and exit.
        #[arg(long)]
        list: bool,
    },
    /// Run lab-02 with its tasks tracked, and the live task profile on the
    /// debug port (`/debug/tasks`). Takes every lab-02 option.
    Serve {
        /// Loopback address for the debug port (lab-04's, plus /debug/tasks).
        #[arg(long)]
        debug_addr: Option<SocketAddr>,
        /// Do not track lab-02's tasks (to measure what tracking costs).
        #[arg(long)]
        untracked: bool,
        /// Plant a leak for the chapter's experiment.
        #[arg(long, value_enum, default_value = "none")]
        plant: Plant,
        #[command(flatten)]
        config: Config,
    },
    /// Print a running server's live task profile (what `go tool pprof
    /// http://HOST/debug/pprof/goroutine` shows for Go).
    Tasks {
        /// The debug port, e.g. 127.0.0.1:6060.
        debug_addr: SocketAddr,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Run the chapter's measurements and write a report for the results
    /// pipeline (`cargo xtask results --only lab-06`).
    Measure {
        #[command(flatten)]
        args: MeasureArgs,
    },
}

fn main() -> Result<()> {
    kit::cli::init_tracing("warn");
    match Cli::parse().command {
        Command::Catalog { name, list } => {
            let cases = catalog::cases();
            if list {
                for c in &cases {
                    println!("{:<22} {}", c.name, c.what);
                }
                return Ok(());
            }
            let chosen: Vec<_> = match &name {
                Some(n) => cases.iter().filter(|c| c.name == n).collect(),
                None => cases.iter().collect(),
            };
            if chosen.is_empty() {
                let names: Vec<_> = cases.iter().map(|c| c.name).collect();
                bail!(
                    "no case named `{}`; the cases: {}",
                    name.unwrap_or_default(),
                    names.join(", ")
                );
            }
            for case in chosen {
                let schedule = lab_06::Schedule::default();
                let leak = catalog::run(case, Side::Leak, schedule)?;
                let fixed = catalog::run(case, Side::Fixed, schedule)?;
                println!("{}", catalog::describe(case, &leak, &fixed));
            }
        }
        Command::Serve {
            debug_addr,
            untracked,
            plant,
            config,
        } => lab_06::serve::serve(config, debug_addr, untracked, plant)?,
        Command::Tasks { debug_addr, format } => {
            let format = match format {
                Format::Text => "text",
                Format::Json => "json",
            };
            let path = format!("/debug/tasks?format={format}");
            let r = lab_04::debug::get(debug_addr, &path, Duration::from_secs(5))?;
            if r.status != 200 {
                bail!(
                    "{debug_addr}{path} answered {}: {}",
                    r.status,
                    r.text().trim_end()
                );
            }
            print!("{}", r.text());
        }
        Command::Measure { args } => {
            let started = Instant::now();
            let report = lab_06::measure::run(args.quick)?;
            kit::output::finish(&report, &args.out, started)?;
        }
    }
    Ok(())
}
