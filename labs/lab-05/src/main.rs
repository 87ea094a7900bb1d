//! `cargo run -p lab-05 -- --help`

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use kit::cli::MeasureArgs;
use lab_05::proxy::{Faults, ProxyConfig, ResetAt};

#[derive(Parser)]
#[command(about = "Lab 05: Errors at the network edge")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A fault-injecting proxy in front of a RESP server, on loopback:
    /// prints its address and faults, then a stats line every second on
    /// stderr, until Ctrl-C.
    Proxy(ProxyArgs),
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

#[derive(Args)]
struct ProxyArgs {
    /// Where clients connect (loopback).
    #[arg(long, value_parser = loopback)]
    listen: SocketAddr,
    /// The server behind the proxy (loopback).
    #[arg(long, value_parser = loopback)]
    upstream: SocketAddr,
    /// Added to every chunk, both ways (e.g. 5ms).
    #[arg(long, value_parser = duration, default_value = "0s")]
    latency: Duration,
    /// Plus a uniform 0..JITTER per chunk.
    #[arg(long, value_parser = duration, default_value = "0s")]
    jitter: Duration,
    /// Bytes per second, per connection and direction.
    #[arg(long, value_name = "BYTES_PER_S", value_parser = clap::value_parser!(u64).range(1..))]
    bandwidth: Option<u64>,
    /// Probability per request of resetting the client connection.
    #[arg(long, value_name = "P", value_parser = probability, default_value = "0")]
    reset: f64,
    /// Reset before forwarding the request, or instead of its reply.
    #[arg(long, value_parser = ["request", "reply"], default_value = "reply")]
    reset_at: String,
    /// Probability per reply of forwarding half of it, then closing.
    #[arg(long, value_name = "P", value_parser = probability, default_value = "0")]
    truncate: f64,
    /// Read everything, forward and answer nothing.
    #[arg(long)]
    blackhole: bool,
    /// Close the listening socket: connects are refused.
    #[arg(long)]
    refuse: bool,
    /// Stop accepting (backlog of one): connects time out.
    #[arg(long)]
    stall_accept: bool,
    /// Seeds every connection's fault decisions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the line-protocol control interface listens (loopback).
    #[arg(long, value_parser = loopback)]
    control: Option<SocketAddr>,
    /// Client connections at once; more are closed at once.
    #[arg(long, default_value_t = lab_05::proxy::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(usize))]
    max_connections: usize,
}

fn loopback(s: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = s
        .parse()
        .map_err(|_| format!("`{s}` is not an address like 127.0.0.1:7000"))?;
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(format!(
            "{addr} is not a loopback address (the proxy works on loopback only)"
        ))
    }
}

fn duration(s: &str) -> Result<Duration, String> {
    kit::duration::parse_duration(s).map_err(|e| e.to_string())
}

fn probability(s: &str) -> Result<f64, String> {
    lab_05::proxy::parse_probability(s)
}

impl ProxyArgs {
    fn config(&self) -> ProxyConfig {
        ProxyConfig {
            listen: self.listen,
            upstream: self.upstream,
            faults: Faults {
                latency: self.latency,
                jitter: self.jitter,
                bandwidth: self.bandwidth,
                reset: self.reset,
                reset_at: if self.reset_at == "request" {
                    ResetAt::Request
                } else {
                    ResetAt::Reply
                },
                truncate: self.truncate,
                blackhole: self.blackhole,
                refuse: self.refuse,
                stall_accept: self.stall_accept,
            },
            seed: self.seed,
            max_connections: self.max_connections,
            control: self.control,
        }
    }
}

fn run_proxy(args: &ProxyArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let proxy = lab_05::proxy::start(args.config()).await?;
        let control = proxy
            .control_addr()
            .map_or(String::new(), |a| format!(" control {a}"));
        println!(
            "proxy {} -> {}{control} faults {}",
            proxy.addr(),
            args.upstream,
            proxy.faults().to_json()
        );
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = tick.tick() => eprintln!("stats {}", proxy.stats().to_json()),
            }
        }
        proxy.shutdown().await;
        Ok(())
    })
}

fn main() -> ExitCode {
    kit::cli::init_tracing("warn");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line: what was wrong, without the usage that follows.
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: bad arguments"));
            return ExitCode::from(2);
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Proxy(args) => run_proxy(&args)?,
        Command::Measure { args } => {
            let started = Instant::now();
            let report = lab_05::measure::run(args.quick)?;
            kit::output::finish(&report, &args.out, started)?;
        }
        Command::Lab02(config) => lab_02::server::serve(config)?,
    }
    Ok(())
}
