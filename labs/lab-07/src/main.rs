//! `cargo run -p lab-07 -- --help`

use std::time::Instant;

use anyhow::Result;
use clap::{Parser, Subcommand};
use kit::cli::MeasureArgs;

#[derive(Parser)]
#[command(about = "Lab 07: Seeing execution")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the component once and print what it did.
    Run {
        /// How many items to process.
        #[arg(long, default_value_t = 1000)]
        items: u64,
    },
    /// Run the chapter's measurements and write a report for the results
    /// pipeline (`cargo xtask results --only lab-07`).
    Measure {
        /// `--quick` and `--out`, shared by every lab's `measure`; add this
        /// lab's own options beside them.
        #[command(flatten)]
        args: MeasureArgs,
    },
}

fn main() -> Result<()> {
    kit::cli::init_tracing("warn");
    match Cli::parse().command {
        Command::Run { items } => {
            let v: Vec<u64> = (0..items).collect();
            let sum = lab_07::component(&v);
            println!(
                "sum of 0..{} = {}",
                kit::fmt::fmt_int(items as f64),
                kit::fmt::fmt_int(sum as f64)
            );
        }
        Command::Measure { args } => {
            let started = Instant::now();
            let report = lab_07::measure::run(args.quick)?;
            kit::output::finish(&report, &args.out, started)?;
        }
    }
    Ok(())
}
