//! `cargo run -p lab-05 -- --help`

use std::time::Instant;

use anyhow::Result;
use clap::{Parser, Subcommand};
use kit::cli::MeasureArgs;

#[derive(Parser)]
#[command(about = "Lab 05: Errors at the network edge")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the chapter's measurements and write a report for the results
    /// pipeline (`cargo xtask results --only lab-05`).
    Measure {
        /// `--quick` and `--out`, shared by every lab's `measure`; add this
        /// lab's own options beside them.
        #[command(flatten)]
        args: MeasureArgs,
    },
    /// Run lab-02's server (the experiments and tests start it as a child
    /// process of this binary).
    #[command(hide = true)]
    Lab02(lab_02::config::Config),
}

fn main() -> Result<()> {
    kit::cli::init_tracing("warn");
    match Cli::parse().command {
        Command::Measure { args } => {
            let started = Instant::now();
            let report = lab_05::measure::run(args.quick)?;
            kit::output::finish(&report, &args.out, started)?;
        }
        Command::Lab02(config) => lab_02::server::serve(config)?,
    }
    Ok(())
}
