//! `lab-02-exercises bench`: your one-lock keyspace (exercise
//! `global-lock`) beside lab-01's sharded cache, under the same workload.

use clap::{Parser, Subcommand};
use lab_02_exercises::bench::{self, BenchArgs};

/// Measure your lab-02 exercise beside the reference.
#[derive(Debug, Parser)]
#[command(name = "lab-02-exercises", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Your GlobalLock (exercise `global-lock`) against lab-01's sharded
    /// cache with 64 shards and with 1, under mixed GET/SET traffic from
    /// several threads.
    Bench(BenchArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Bench(args) => {
            if let Err(e) = bench::preflight() {
                // A plain message, not an error with a backtrace: an
                // unfinished exercise is the expected state, not a bug.
                eprintln!("{e}");
                std::process::exit(1);
            }
            if let Err(e) = bench::run(&args) {
                eprintln!("error: {e:#}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
