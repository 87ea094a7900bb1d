//! `cargo run -p lab-03 --release -- --help`
//!
//! `resp` and `http` run a load test; `target` serves an HTTP target to
//! test against; `measure` runs the chapter's experiments for the results
//! pipeline.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lab_03::cli::{self, HttpArgs, RespArgs};
use lab_03::workload::{Http, Workload};

/// An honest load generator for RESP (Redis, lab-02) and HTTP/1.1: open
/// or closed model, latency from the intended start as well as from the
/// send, every k6 phase, and a self-check that says when the generator,
/// not the server, was the bottleneck. Loopback only unless --allow-remote.
#[derive(Parser)]
#[command(name = "lab-03")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load a Redis-compatible server: `lab-03 resp 127.0.0.1:6380 -d 10s --rate 20000`.
    #[command(after_help = lab_03::selfcheck::HELP)]
    Resp(RespArgs),
    /// Load an HTTP/1.1 server: `lab-03 http http://127.0.0.1:8080/ -d 10s -c 50`.
    #[command(after_help = lab_03::selfcheck::HELP)]
    Http(HttpArgs),
    /// Serve an HTTP target with a fixed delay, jitter, periodic stalls or
    /// a fixed capacity, to experiment on.
    Target(lab_03::target::TargetConfig),
    /// Run the chapter's measurements and write a report for the results
    /// pipeline (`cargo xtask results --only lab-03`).
    Measure(kit::cli::MeasureArgs),
    /// Run lab-02's server (for the measurements, which start it as a
    /// child process of this binary).
    #[command(hide = true)]
    Lab02(lab_02::config::Config),
}

fn main() -> ExitCode {
    kit::cli::init_tracing("info");
    let result = match Cli::parse().command {
        Command::Resp(a) => resp(&a),
        Command::Http(a) => http(&a),
        Command::Target(cfg) => lab_03::target::serve_forever(cfg).map(|()| ExitCode::SUCCESS),
        Command::Measure(args) => {
            lab_03::measure::run(args.quick, &args.out).map(|()| ExitCode::SUCCESS)
        }
        Command::Lab02(cfg) => lab_03::measure::serve_lab02(cfg).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Exit codes: 0 fine, 1 usage or setup error, 2 some requests failed
/// (all of them: with one error line, and no table).
fn verdict(s: &lab_03::summary::Summary) -> ExitCode {
    if let Some(line) = s.nothing_succeeded() {
        eprintln!("error: {line}");
        ExitCode::from(2)
    } else if s.error_count() > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn resp(a: &RespArgs) -> anyhow::Result<ExitCode> {
    cli::check_resp(a)?;
    let addr = cli::resolve(&a.target, a.load.allow_remote)?;
    let make = |i: usize| -> Box<dyn Workload> {
        Box::new(cli::resp_workload(
            a,
            a.load.seed.wrapping_add(i as u64 * 7919),
        ))
    };
    let s = cli::execute(&a.load, addr, format!("redis://{addr}"), &make)?;
    Ok(verdict(&s))
}

fn http(a: &HttpArgs) -> anyhow::Result<ExitCode> {
    let spec = cli::http_spec(a)?;
    let addr = cli::resolve(&spec.authority, a.load.allow_remote)?;
    let make = |_: usize| -> Box<dyn Workload> {
        match Http::new(&spec) {
            Ok(h) => Box::new(h),
            // Checked by http_spec above.
            Err(e) => unreachable!("{e}"),
        }
    };
    let s = cli::execute(&a.load, addr, a.url.clone(), &make)?;
    Ok(verdict(&s))
}
