//! `cargo run -p lab-02 --release -- --help`
//!
//! With no subcommand, runs the server; `measure` runs the chapter's
//! experiments for the results pipeline.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lab_02::config::Config;

// ANCHOR: allocator
// The global allocator: the system's (glibc's malloc) unless a feature
// picks another, for lab-04's build-settings experiment. Only this binary
// gets it: the labs that embed lab-02's library keep their own.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
// ANCHOR_END: allocator

/// A Redis-compatible server (RESP2 and RESP3) under one of three concurrency
/// models. Real Redis tools work with it: redis-cli -p 6380.
#[derive(Parser)]
#[command(name = "lab-02", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Run the chapter's measurements (every model and a real
    /// redis-server, under redis-benchmark) and write a report for the
    /// results pipeline (`cargo xtask results`).
    Measure(kit::cli::MeasureArgs),
    /// A thread per connection that answers PING only: the baseline of
    /// `measure`'s memory experiment (see `measure::threads`).
    #[command(hide = true)]
    ThreadPerConnection {
        #[arg(long, default_value_t = 0)]
        port: u16,
        #[arg(long, default_value_t = lab_02::launch::MODEL_MAXCLIENTS)]
        maxclients: usize,
    },
}

fn main() -> ExitCode {
    lab_02::init_tracing();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Measure(args)) => lab_02::measure::run(args.quick, &args.out),
        Some(Command::ThreadPerConnection { port, maxclients }) => {
            lab_02::measure::threads::serve(port, maxclients)
        }
        None => lab_02::server::serve(cli.config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
