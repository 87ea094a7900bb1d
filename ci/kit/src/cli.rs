//! What every lab's command line shares: the options of its `measure`
//! command (the contract with `cargo xtask results`) and tracing set-up.

use std::path::PathBuf;

use clap::Args;

/// `measure [--quick] --out PATH.json`: what the results pipeline passes to
/// every lab. Flatten it into a lab's own `measure` options
/// (`#[command(flatten)]`) and add the lab's extras beside it.
#[derive(Debug, Clone, Args)]
pub struct MeasureArgs {
    /// Tiny durations and one round: checks the pipeline in seconds; the
    /// numbers mean nothing.
    #[arg(long)]
    pub quick: bool,
    /// Where to write the report (JSON).
    #[arg(long, value_name = "PATH.json")]
    pub out: PathBuf,
}

/// Logs go to stderr, filtered by `RUST_LOG` (default: `default_level`,
/// e.g. `warn` for a measuring tool, `info` for a server), with colours
/// only on a terminal. A second initialisation (a test, an embedding
/// binary) is harmless.
pub fn init_tracing(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
