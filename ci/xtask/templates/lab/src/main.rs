//! `cargo run -p lab-{{NN}} -- --help`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Lab {{NN}}: {{TITLE}}")]
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
    /// pipeline (`cargo xtask results`).
    Measure {
        /// Tiny durations: checks the pipeline, numbers are meaningless.
        #[arg(long)]
        quick: bool,
        /// Where to write the report (JSON).
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run { items } => {
            let v: Vec<u64> = (0..items).collect();
            println!("sum of 0..{items} = {}", lab_{{NN}}::component(&v));
        }
        Command::Measure { quick, out } => {
            let n = if quick { 1_000 } else { 1_000_000 };
            let v: Vec<u64> = (0..n).collect();
            let t = Instant::now();
            let sum = lab_{{NN}}::component(&v);
            let took = t.elapsed();
            let mut report = report::Report::new("lab-{{NN}}", quick);
            let mut table = report::Table::new("baseline", "Baseline", &["items", "time (µs)"])
                .numeric(&[0, 1]);
            table.row(vec![
                n.to_string(),
                format!("{:.1}", took.as_secs_f64() * 1e6),
            ]);
            table.note(format!("sum = {sum}"));
            report.table(table);
            let json = serde_json::to_string_pretty(&report)?;
            std::fs::write(&out, json)
                .with_context(|| format!("cannot write {}", out.display()))?;
        }
    }
    Ok(())
}
