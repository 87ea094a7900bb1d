//! `lab-01-exercises bench`: lab-01's bench with your sharded cache added as
//! `yours`, measured by the same driver in the same alternating rounds.

use clap::{Parser, Subcommand};
use lab_01::cli::BenchArgs;
use lab_01_exercises::harness;

/// Measure your lab-01 exercise beside the reference caches.
#[derive(Debug, Parser)]
#[command(name = "lab-01-exercises", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// lab-01's bench with your sharded cache (exercise `sharded-cache`)
    /// added as `yours`. Same options as `lab-01 bench`.
    Bench(BenchArgs),
}

fn main() -> anyhow::Result<()> {
    lab_01::cli::init_tracing();
    match Cli::parse().command {
        Command::Bench(args) => {
            if let Err(e) = harness::preflight() {
                // A plain message, not an error with a backtrace: an
                // unfinished exercise is the expected state, not a bug.
                eprintln!("{e}");
                std::process::exit(1);
            }
            if let Err(e) = lab_01::cli::run_bench(&args, &[harness::contender()]) {
                eprintln!("error: {e:#}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
