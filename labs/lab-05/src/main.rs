//! `cargo run -p lab-05 -- --help`

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use kit::cli::MeasureArgs;
use lab_05::client::Strategy;
use lab_05::proxy::{Faults, ProxyConfig, ResetAt};
use lab_05::scenario::{self, Load};

#[derive(Parser)]
#[command(
    about = "Lab 05: errors at the network edge: a fault-injecting proxy, typed network errors, a resilient client"
)]
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
    /// Provoke network errors for real on loopback and show how each is
    /// classified (all rows of the chapter's table, or the ones named).
    Provoke {
        /// Row ids (refused, reset, too-many-files, …); none for all.
        ids: Vec<String>,
        /// Run the row here and print it as JSON (how the parent runs
        /// `too-many-files` in a child with a low descriptor limit).
        #[arg(long, hide = true)]
        in_child: bool,
    },
    /// Run a fault scenario: open-model load through the proxy to lab-02,
    /// for each client strategy (or one), with a summary table.
    Scenario {
        /// clean, resets-0.1, resets-1, resets-5, blackhole, latency-spike,
        /// stalls, jitter.
        name: String,
        /// One strategy only: naive, retry, budget or full.
        #[arg(long, value_parser = parse_strategy)]
        client: Option<Strategy>,
        /// Requests per second (Poisson arrivals).
        #[arg(long, default_value_t = 1500.0, value_parser = rate)]
        rate: f64,
        /// How long each client runs.
        #[arg(long, default_value = "5s", value_parser = kit::duration::parse_duration)]
        duration: Duration,
        /// A lab-02 (or Redis) on loopback to use instead of starting one.
        #[arg(long)]
        server: Option<SocketAddr>,
    },
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
    /// Probability per reply of holding it back (and what follows it on
    /// its connection) for --stall-for more.
    #[arg(long, value_name = "P", value_parser = probability, default_value = "0")]
    stall: f64,
    /// How long a stalled reply is held.
    #[arg(long, value_parser = duration, default_value = "100ms")]
    stall_for: Duration,
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

fn rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 1e6 => Ok(r),
        _ => Err(format!(
            "`{s}` is not a rate in (0, 1000000] requests per second"
        )),
    }
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
                stall: self.stall,
                stall_for: self.stall_for,
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
        Command::Provoke { ids, in_child } => provoke(ids, in_child)?,
        Command::Scenario {
            name,
            client,
            rate,
            duration,
            server,
        } => run_scenario(&name, client, Load::new(rate, duration), server)?,
        Command::Measure { args } => {
            let started = Instant::now();
            let report = lab_05::measure::run(args.quick)?;
            kit::output::finish(&report, &args.out, started)?;
        }
        Command::Lab02(config) => lab_02::server::serve(config)?,
    }
    Ok(())
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    Strategy::ALL
        .into_iter()
        .find(|st| st.name() == s)
        .ok_or_else(|| format!("no client {s:?}: naive, retry, budget or full"))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn provoke(ids: Vec<String>, in_child: bool) -> Result<()> {
    if in_child {
        let seen = lab_05::provoke::too_many_files_here()?;
        println!("{}", serde_json::to_string(&seen)?);
        return Ok(());
    }
    let ids: Vec<String> = if ids.is_empty() {
        lab_05::provoke::ids()
            .into_iter()
            .map(String::from)
            .collect()
    } else {
        ids
    };
    let server = lab_02::server::start(lab_02::config::Config::ephemeral(
        lab_02::config::Model::TaskPerConnection,
    ))?;
    let exe = kit::process::own_exe();
    let setup = lab_05::provoke::Setup {
        server: server.addr(),
        exe: &exe,
    };
    let seen = runtime()?.block_on(async {
        let mut seen = Vec::new();
        for id in &ids {
            seen.push(lab_05::provoke::provoke(id, &setup).await?);
        }
        anyhow::Ok(seen)
    })?;
    server.shutdown();
    for o in &seen {
        println!("{:<16} {:<18} {:<8} {}", o.id, o.class, o.op, o.message);
    }
    Ok(())
}

fn run_scenario(
    name: &str,
    client: Option<Strategy>,
    load: Load,
    server: Option<SocketAddr>,
) -> Result<()> {
    let sc = scenario::named(name)?;
    let strategies: Vec<Strategy> = client.map_or(Strategy::ALL.to_vec(), |c| vec![c]);
    // Our own lab-02 unless given one; kept alive until the end.
    let (_server, addr) = match server {
        Some(a) => (None, scenario::loopback_only(a)?),
        None => {
            let launch = lab_02::launch::Launch {
                subcommand: Some("lab02"),
                ..lab_02::launch::Launch::new(lab_02::launch::Target::TaskPerConnection, 2)
            };
            let s = lab_02::launch::Server::start(&launch)?;
            let a = SocketAddr::from(([127, 0, 0, 1], s.port));
            (Some(s), a)
        }
    };
    let mut count = scenario::Lab02Count::new(addr);
    eprintln!("{}: {}", sc.name, sc.about);
    let outcomes = runtime()?.block_on(async {
        let proxy = lab_05::proxy::start(lab_05::proxy::ProxyConfig::new(addr)).await?;
        let mut out = Vec::new();
        for st in strategies {
            let o = scenario::run(&proxy, &mut count, &sc, st, &load, &mut |made| {
                eprint!(
                    "\r{} client: {} requests made",
                    st.name(),
                    kit::fmt::fmt_int(made as f64)
                );
            })
            .await?;
            eprintln!(
                "\r{} client: {} requests made, done",
                st.name(),
                kit::fmt::fmt_int(o.requests as f64)
            );
            out.push(o);
        }
        proxy.shutdown().await;
        anyhow::Ok(out)
    })?;
    println!(
        "{}",
        kit::fmt::render_text(&lab_05::measure::storm_table(&outcomes, &load))
    );
    Ok(())
}
