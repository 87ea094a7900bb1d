//! `cargo run -p lab-07 -- --help`

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use kit::cli::MeasureArgs;
use lab_07::scenes;

#[derive(Parser)]
#[command(about = "Lab 07: Seeing execution: record the labs' runs step by step")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Record one scene to a trace file the book's player loads.
    Record {
        /// The scene (`--list` shows them).
        #[arg(required_unless_present = "list")]
        scene: Option<String>,
        /// Where to write the trace [default: target/lab-07/SCENE.json].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also write the run as Chrome trace-event JSON (Perfetto,
        /// chrome://tracing).
        #[arg(long, value_name = "FILE")]
        chrome: Option<PathBuf>,
        /// List the scenes and what to look for in each.
        #[arg(long, conflicts_with_all = ["scene", "out", "chrome"])]
        list: bool,
    },
    /// Record every scene and write a report for the results pipeline
    /// (`cargo xtask results --only lab-07`).
    Measure {
        #[command(flatten)]
        args: MeasureArgs,
    },
}

fn main() -> Result<ExitCode> {
    // kit's set-up plus the relay, through which lab-02's scenes record
    // the server's own threads (see `relay`).
    lab_07::relay::init_tracing("warn");
    match Cli::parse().command {
        Command::Record { list: true, .. } => {
            for s in scenes::all() {
                println!("{:<22} {}  {}", s.name, s.lab, s.about);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Record {
            scene, out, chrome, ..
        } => {
            let name = scene.unwrap_or_default();
            let Some(scene) = scenes::find(&name) else {
                let names: Vec<&str> = scenes::all().iter().map(|s| s.name).collect();
                eprintln!(
                    "error: no scene called {name:?}; the scenes are: {}",
                    names.join(", ")
                );
                return Ok(ExitCode::from(2));
            };
            let trace = lab_07::measure::record_checked(&scene)?;
            let out =
                out.unwrap_or_else(|| Path::new("target/lab-07").join(format!("{name}.json")));
            write_json(&out, &serde_json::to_value(&trace)?)?;
            let clock = match trace.clock {
                lab_07::Clock::Paused => "paused clock",
                lab_07::Clock::Real => "real clock",
            };
            println!(
                "recorded {name}: {} steps on {} lanes ({clock}) to {}",
                trace.steps.len(),
                trace.lanes.len(),
                out.display()
            );
            if let Some(path) = chrome {
                write_json(&path, &trace.to_chrome())?;
                println!("wrote the Chrome trace to {}", path.display());
                println!(
                    "open it at https://ui.perfetto.dev (Open trace file) or in chrome://tracing"
                );
            } else {
                println!(
                    "load {} in the player on the book's \"Seeing execution\" page; \
                     add --chrome FILE for Perfetto",
                    out.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Measure { args } => {
            let started = Instant::now();
            let report = lab_07::measure::run(args.quick)?;
            kit::output::finish(&report, &args.out, started)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string(value)?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
