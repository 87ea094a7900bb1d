//! The command line: `lab-03 resp …` and `lab-03 http …`, their shared
//! load options, the safety rules, and one function that runs a test and
//! writes every output asked for.

use std::io::{IsTerminal, Write as _};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::engine::{self, Load, Outcome, Plan};
use crate::record::Interval;
use crate::schedule::{self, Arrival};
use crate::selfcheck::fmt_us;
use crate::summary::{self, Summary};
use crate::workload::{Http, HttpSpec, KeyDist, Mix, Resp, RespSpec, Workload};
use kit::fmt::fmt_int;

fn duration(s: &str) -> Result<Duration, kit::duration::DurationError> {
    kit::parse_duration(s)
}

/// Far beyond what one machine can send: a typo, not a test.
const MAX_RATE: f64 = 10_000_000.0;
/// More connections than one machine's loopback ports and descriptors
/// allow: refused at parse time, not after eating the memory.
const MAX_CONNECTIONS: usize = 50_000;
/// Generator threads: far more than any machine has cores.
const MAX_THREADS: usize = 256;
/// Requests in flight per connection.
const MAX_PIPELINE: usize = 10_000;
/// The longest a run, a think time, a timeout may be.
const MAX_SPAN: Duration = Duration::from_secs(24 * 3600);
/// The most CPU a simulated script may burn per request.
const MAX_SCRIPT_COST: Duration = Duration::from_secs(1);
/// Redis's own limit on a bulk string.
const MAX_VALUE: usize = 512 * 1024 * 1024;

/// How much load, for how long, and where the results go.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Open model: start this many requests per second, whatever the server
    /// does. Without it, the closed model: each connection sends its next
    /// request when the last reply arrives.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open model: how arrivals are spaced.
    #[arg(long, value_enum, default_value_t = Arrival::Constant)]
    pub arrival: Arrival,
    /// Connections (k6's virtual users).
    #[arg(short, long, default_value_t = 10)]
    pub connections: usize,
    /// Worker threads, each with its own event loop.
    #[arg(short, long, default_value_t = 1)]
    pub threads: usize,
    /// How long to start requests for. Give this or --requests (or both:
    /// the run ends at whichever comes first).
    #[arg(short, long, value_parser = duration)]
    pub duration: Option<Duration>,
    /// How many requests to start, in all. Give this or --duration.
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Closed model: pause between a reply and the next request.
    #[arg(long, value_parser = duration, default_value = "0s")]
    pub think: Duration,
    /// A request unanswered this long fails.
    #[arg(long, value_parser = duration, default_value = "10s")]
    pub timeout: Duration,
    /// CPU time burnt per request before sending it, standing in for a k6
    /// virtual user's script (to study a generator short of CPU).
    #[arg(long, value_parser = duration, default_value = "0s")]
    pub script_cost: Duration,
    /// Allow targets that are not loopback addresses. Load tests are
    /// attacks when pointed at someone else's machine.
    #[arg(long)]
    pub allow_remote: bool,
    /// Seed for keys, values and Poisson gaps.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the summary as JSON here (`-` for stdout).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write per-second latency histograms as an HdrHistogram log here.
    #[arg(long)]
    pub hdr_log: Option<PathBuf>,
    /// Write a latency-by-percentile plot (SVG) here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// No progress line and no table (with `--json -`, only JSON).
    #[arg(short, long)]
    pub quiet: bool,
}

/// `lab-03 resp`: drive a Redis-compatible server.
#[derive(Debug, Clone, Args)]
pub struct RespArgs {
    /// The server, host:port (lab-02's default port; a real Redis listens
    /// on 6379).
    #[arg(default_value = "127.0.0.1:6380")]
    pub target: String,
    /// Commands and weights: `set:get=1:9`, `get`, `incr:get=1:1`.
    #[arg(long, default_value = "set:get=1:9")]
    pub mix: Mix,
    /// How many distinct keys.
    #[arg(long, default_value_t = 100_000)]
    pub keyspace: u64,
    /// `uniform`, `zipf` (exponent 0.99) or `zipf:EXPONENT`.
    #[arg(long, default_value = "uniform")]
    pub keys: KeyDist,
    /// Value size in bytes for SET, LPUSH, HSET, SADD.
    #[arg(long, default_value_t = 3)]
    pub value_size: usize,
    /// Requests in flight per connection.
    #[arg(short = 'P', long, default_value_t = 1)]
    pub pipeline: usize,
    #[command(flatten)]
    pub load: LoadArgs,
}

/// `lab-03 http`: drive an HTTP/1.1 server.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// `http://host:port/path` (https is not supported).
    pub url: String,
    #[arg(short = 'X', long, default_value = "GET")]
    pub method: String,
    /// Extra header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(long, default_value = "")]
    pub body: String,
    /// A new connection for every request.
    #[arg(long)]
    pub no_keep_alive: bool,
    #[command(flatten)]
    pub load: LoadArgs,
}

/// The checked target address.
pub fn resolve(target: &str, allow_remote: bool) -> Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {target:?} (write host:port)"))?
        .collect();
    let Some(addr) = addrs.first().copied() else {
        bail!("{target:?} resolves to no address");
    };
    if !allow_remote && let Some(remote) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        bail!(
            "refusing to send load to {remote}, which is not a loopback address; pass --allow-remote if this machine is yours to load"
        );
    }
    Ok(addr)
}

/// Splits `http://host:port/path` into (authority, path).
pub fn split_url(url: &str) -> Result<(String, String)> {
    if url.starts_with("https://") {
        bail!("https is not supported: lab-03 measures plain HTTP/1.1");
    }
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url:?} is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        bail!("{url:?} has no host");
    }
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_string()))
}

impl LoadArgs {
    pub fn plan(&self) -> Result<Plan> {
        if self.duration.is_none() && self.requests.is_none() {
            bail!(
                "refusing an unbounded run: give --duration (e.g. -d 10s) or --requests (e.g. -n 100000)"
            );
        }
        if self.duration.is_some_and(|d| d.is_zero()) || self.requests == Some(0) {
            bail!("--duration and --requests must be more than zero");
        }
        if let Some(r) = self.rate
            && !(r.is_finite() && r > 0.0 && r <= MAX_RATE)
        {
            bail!("--rate must be a positive number of requests per second, at most {MAX_RATE}");
        }
        if self.timeout.is_zero() {
            bail!("--timeout must be more than zero");
        }
        if self.connections == 0 || self.threads == 0 {
            bail!("--connections and --threads must be at least 1");
        }
        if self.connections > MAX_CONNECTIONS {
            bail!(
                "--connections {} is more than one machine can hold open to one target (at most {MAX_CONNECTIONS})",
                self.connections
            );
        }
        if self.threads > MAX_THREADS {
            bail!(
                "--threads {} is over the limit of {MAX_THREADS}",
                self.threads
            );
        }
        for (name, d, max) in [
            ("--duration", self.duration.unwrap_or_default(), MAX_SPAN),
            ("--think", self.think, MAX_SPAN),
            ("--timeout", self.timeout, MAX_SPAN),
            ("--script-cost", self.script_cost, MAX_SCRIPT_COST),
        ] {
            if d > max {
                bail!("{name} {d:?} is over the limit of {max:?}");
            }
        }
        for path in [&self.json, &self.hdr_log, &self.svg].into_iter().flatten() {
            check_writable(path)?;
        }
        if self.connections < self.threads {
            bail!(
                "--connections ({}) must be at least --threads ({})",
                self.connections,
                self.threads
            );
        }
        Ok(Plan {
            load: match self.rate {
                Some(_) => Load::Open,
                None => Load::Closed { think: self.think },
            },
            connections: self.connections,
            threads: self.threads,
            duration: self.duration,
            requests: self.requests,
            timeout: self.timeout,
            drain: self.timeout.min(Duration::from_secs(10)),
            script_cost: self.script_cost,
            max_response: crate::engine::MAX_RESPONSE,
        })
    }
}

/// An output path that cannot be written fails before the run, not after
/// it: the directory must exist and the file be creatable (`-` is stdout).
fn check_writable(path: &std::path::Path) -> Result<()> {
    if path.as_os_str() == "-" {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Checks what `resp_workload` cannot: sizes a server would refuse.
pub fn check_resp(a: &RespArgs) -> Result<()> {
    if a.pipeline == 0 || a.pipeline > MAX_PIPELINE {
        bail!("-P/--pipeline must be between 1 and {MAX_PIPELINE}");
    }
    if a.value_size > MAX_VALUE {
        bail!(
            "--value-size {} is over Redis's 512 MiB bulk limit",
            a.value_size
        );
    }
    if a.keyspace == 0 {
        bail!("--keyspace must be at least 1");
    }
    Ok(())
}

pub fn resp_workload(a: &RespArgs, seed: u64) -> Resp {
    Resp::new(RespSpec {
        mix: a.mix.clone(),
        keyspace: a.keyspace,
        keys: a.keys,
        value_size: a.value_size,
        pipeline: a.pipeline,
        seed,
    })
}

pub fn http_spec(a: &HttpArgs) -> Result<HttpSpec> {
    let (authority, path) = split_url(&a.url)?;
    let headers = a
        .headers
        .iter()
        .map(|h| {
            h.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .with_context(|| format!("header {h:?} is not `Name: value`"))
        })
        .collect::<Result<_>>()?;
    let spec = HttpSpec {
        method: a.method.clone(),
        authority,
        path,
        headers,
        body: a.body.clone().into_bytes(),
        keep_alive: !a.no_keep_alive,
    };
    Http::new(&spec).map_err(anyhow::Error::msg)?;
    Ok(spec)
}

/// Runs a load test and writes what `load` asks for. Returns the summary.
pub fn execute(
    load: &LoadArgs,
    addr: SocketAddr,
    target: String,
    workload: &(dyn Fn(usize) -> Box<dyn Workload> + Sync),
) -> Result<Summary> {
    let mut plan = load.plan()?;
    plan.max_response = workload(0).max_response();
    let description = workload(0).describe();
    let schedules = match load.rate {
        Some(rate) => schedule::split(load.arrival, rate, plan.threads, load.seed),
        None => Vec::new(),
    };
    let started = SystemTime::now();
    let bar = progress_bar(load);
    let mut so_far = crate::record::Interval::new(0, 0);
    let mut shown = |iv: &Interval| {
        so_far.merge(iv);
        if let Some(bar) = &bar {
            bar.set_position(iv.second + 1);
            bar.set_message(format!(
                "{} req/s  errors {}  p99 so far {} (from the send {})",
                fmt_int(iv.ok as f64),
                so_far.errors,
                fmt_us(so_far.latency.value_at_quantile(0.99) as f64 / 1e3),
                fmt_us(so_far.service.value_at_quantile(0.99) as f64 / 1e3),
            ));
        }
    };
    let outcome = engine::run(&plan, addr, workload, schedules, &mut shown)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = Summary::new(&plan, target, description, load.rate, &outcome);
    write_outputs(load, &outcome, &summary, started)?;
    Ok(summary)
}

fn progress_bar(load: &LoadArgs) -> Option<indicatif::ProgressBar> {
    if load.quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let secs = load.duration.map_or(0, |d| d.as_secs());
    let bar = indicatif::ProgressBar::new(secs.max(1));
    let style = indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:20}] {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

fn write_outputs(load: &LoadArgs, out: &Outcome, s: &Summary, started: SystemTime) -> Result<()> {
    // A table of zeros after a run where nothing succeeded reads like a
    // result; the caller says what happened in one error line instead.
    if !load.quiet && s.nothing_succeeded().is_none() {
        print!("{}", s.render());
    }
    if let Some(path) = &load.json {
        let text = serde_json::to_string_pretty(s)?;
        if path.as_os_str() == "-" {
            println!("{text}");
        } else {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    if let Some(path) = &load.hdr_log {
        let mut f = std::fs::File::create(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        summary::write_hdr_log(out, started, &mut f)?;
        f.flush()?;
    }
    if let Some(path) = &load.svg {
        let plot = summary::latency_plot(out, &format!("Latency by percentile: {}", s.workload));
        let prov = report::Provenance::collect(&std::env::args().collect::<Vec<_>>().join(" "));
        let svg = report::svg::render_plot(&plot, &prov, false);
        std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
