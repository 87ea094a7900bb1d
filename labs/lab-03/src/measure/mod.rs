//! `lab-03 measure`: the chapter's experiments, written as one
//! `report::Report` for the results pipeline
//! (`cargo xtask results --only lab-03`).
//!
//! Every generator runs as a child process pinned to CPU 0 and every
//! server to CPU 1 (`taskset`), so the two never compete for a core unless
//! an experiment makes them. Comparisons between tools run in the same
//! invocation, alternating tool by tool over rounds, and report medians.
//!
//! 1. `rate-accuracy`: the open model at 1k to 50k requests per second.
//!    Does the generator send what it promised?
//! 2. `coordinated-omission` (plots `stall-timeline`, `stall-percentiles`):
//!    a target that stalls for 1 s every 10 s, measured by lab-03's open
//!    model (from the intended start, and from the send), its closed
//!    model, and `wrk`. Who sees the stall?
//! 3. `open-vs-closed`: a server with a fixed capacity, driven by arrival
//!    rates near it and by a growing number of closed connections. How
//!    does the closed model hide queueing?
//! 4. `k6-question`: a healthy target with a 5 ms delay, and a generator
//!    that is given less and less CPU per request. When does `waiting`
//!    describe the generator, and does the self-check say so?
//! 5. `peak-http`: lab-03 and `wrk`, closed model, one thread each, on
//!    the same target. 6. `peak-resp`: lab-03 and `redis-benchmark` on
//!    lab-02 and on `redis-server`. Is lab-03 fast enough to be trusted
//!    at the peak?
//! 7. `head-of-line-open`: Part II's head-of-line experiment (lab-02's
//!    three models and redis-server, one client looping `KEYS nomatch*`)
//!    measured with the open model, beside redis-benchmark's closed-loop
//!    view in the same run. Who waits for a slow command, from the
//!    intended start? ([`hol_open`])
//! 8. `set-depth16`: the event loop and redis-server, SET at pipeline 16,
//!    on a filled or an empty keyspace, driven by redis-benchmark or
//!    lab-03, with two request counts. Which setup difference moves their
//!    ratio? ([`depth16`])
//! 9. `transactions`: two INCRs with and without MULTI/EXEC, their keys
//!    in one part of the keyspace or spread, on lab-02's three models and
//!    redis-server. What does atomicity cost each model? ([`transactions`])
//! 10. `offload`: the head-of-line runs again, on task-per-connection
//!     with KEYS run inline, on tokio's blocking pool, or inside
//!     `block_in_place` (lab-02's `--slow-commands`), beside the other two
//!     models inline. Does moving a slow command off the worker spare the
//!     other clients? ([`offload`]; what it shares with experiment 7 is in
//!     [`keys_loop`])
//!
//! `--quick` runs each experiment for about a second to check the
//! pipeline; its numbers mean nothing.

mod depth16;
mod experiments;
mod hol_open;
mod keys_loop;
mod lab02;
mod offload;
mod peak;
pub mod tools;
mod transactions;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use kit::output::timed;
use kit::process::tool_version;

/// How long and how big each experiment is.
#[derive(Debug, Clone)]
pub struct Plan {
    pub quick: bool,
    pub rounds: usize,
    pub rates: Vec<f64>,
    pub rate_run: Duration,
    pub stall_every: Duration,
    pub stall_for: Duration,
    pub stall_run: Duration,
    pub stall_rate: f64,
    pub stall_connections: usize,
    /// Service time of the fixed-capacity server.
    pub service: Duration,
    /// Open-model rates as shares of that server's capacity.
    pub loads: Vec<f64>,
    pub closed_connections: Vec<usize>,
    pub queue_run: Duration,
    pub k6_rate: f64,
    pub k6_run: Duration,
    /// (connections, script cost, CPU hog on the generator's core)
    pub k6_rows: Vec<(usize, Duration, bool)>,
    pub peak_run: Duration,
    pub peak_connections: usize,
    pub resp_requests: [u64; 2],
    /// Head-of-line, open model (and `offload`, which repeats its runs):
    /// keys the KEYS command walks.
    pub hol_keys: u64,
    /// GETs per second the open model starts, quiet and busy alike.
    pub hol_rate: f64,
    /// The open model's connections: enough that a KEYS's backlog of
    /// arrivals finds connections free when it ends.
    pub hol_connections: usize,
    /// How long each open-model run starts requests for.
    pub hol_run: Duration,
    /// redis-benchmark's clients for the closed-loop view (lab-02's).
    pub hol_bench_clients: u32,
    /// Target length, in seconds, of the closed-loop run under KEYS, and
    /// its bounds in requests.
    pub hol_bench_secs: f64,
    pub hol_bench_requests: [u64; 2],
    /// SET at pipeline 16: the keys, and the request counts of lab-02's
    /// throughput experiment and of lab-03's peak-resp.
    pub d16_keyspace: u64,
    pub d16_requests: [u64; 2],
    /// Transactions: the keys, and how long each request runs.
    pub tx_keyspace: u64,
    pub tx_run: Duration,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        let s = Duration::from_secs;
        let us = Duration::from_micros;
        let k6_rows = vec![
            (100, us(0), false),
            (1000, us(0), false),
            (1000, us(200), false),
            (1000, us(400), false),
            (1000, us(470), false),
            (1000, us(600), false),
            (100, us(0), true),
        ];
        if quick {
            return Self {
                quick,
                rounds: 1,
                rates: vec![1_000.0, 10_000.0],
                rate_run: s(1),
                stall_every: Duration::from_millis(1_000),
                stall_for: Duration::from_millis(100),
                stall_run: s(2),
                stall_rate: 1_000.0,
                stall_connections: 10,
                service: Duration::from_millis(5),
                loads: vec![0.5, 0.9],
                closed_connections: vec![1, 10],
                queue_run: s(1),
                k6_rate: 2_000.0,
                k6_run: s(1),
                k6_rows: vec![(100, us(0), false), (1000, us(400), false)],
                peak_run: s(1),
                peak_connections: 50,
                resp_requests: [5_000, 20_000],
                hol_keys: 50_000,
                hol_rate: 500.0,
                hol_connections: 50,
                hol_run: Duration::from_millis(500),
                hol_bench_clients: 20,
                hol_bench_secs: 0.3,
                hol_bench_requests: [200, 4_000],
                d16_keyspace: 10_000,
                d16_requests: [20_000, 30_000],
                tx_keyspace: 10_000,
                tx_run: s(1),
            };
        }
        Self {
            quick,
            rounds: 3,
            rates: vec![1_000.0, 2_000.0, 5_000.0, 10_000.0, 20_000.0, 50_000.0],
            rate_run: s(10),
            stall_every: s(10),
            stall_for: s(1),
            stall_run: s(20),
            stall_rate: 1_000.0,
            stall_connections: 10,
            service: Duration::from_millis(5),
            loads: vec![0.5, 0.8, 0.9, 0.95],
            closed_connections: vec![1, 10, 100],
            queue_run: s(10),
            k6_rate: 2_000.0,
            k6_run: s(5),
            k6_rows,
            peak_run: s(5),
            peak_connections: 50,
            resp_requests: [300_000, 1_500_000],
            hol_keys: 1_000_000,
            hol_rate: 500.0,
            hol_connections: 200,
            hol_run: s(5),
            hol_bench_clients: 20,
            hol_bench_secs: 3.0,
            hol_bench_requests: [1_000, 100_000],
            d16_keyspace: 100_000,
            d16_requests: [1_000_000, 1_500_000],
            tx_keyspace: 100_000,
            tx_run: s(3),
        }
    }
}

/// Runs every experiment and writes the report to `out` (JSON).
pub fn run(quick: bool, out: &Path) -> Result<()> {
    let started = Instant::now();
    let plan = Plan::new(quick);
    let wrk_version = tool_version("wrk", &["-v"], HINT)?;
    let rb_version = tool_version("redis-benchmark", &["--version"], HINT)?;
    let mut report = report::Report::new("lab-03", quick);
    eprintln!(
        "lab-03 measure{}: 10 experiments ({wrk_version}; {rb_version})",
        if quick { " --quick" } else { "" }
    );
    let t = timed("rate accuracy", || experiments::rate_accuracy(&plan))?;
    report.table(t);
    let (t, timeline, spectrum) = timed("coordinated omission", || experiments::stall(&plan))?;
    report.table(t).plot(timeline).plot(spectrum);
    let t = timed("open vs closed", || experiments::open_vs_closed(&plan))?;
    report.table(t);
    let t = timed("the k6 question", || experiments::k6_question(&plan))?;
    report.table(t);
    let t = timed("peak, HTTP", || peak::http(&plan))?;
    report.table(t);
    let t = timed("peak, RESP", || peak::resp(&plan))?;
    report.table(t);
    let t = timed("head-of-line, open model", || hol_open::run(&plan))?;
    report.table(t);
    let t = timed("SET at depth 16, setups", || depth16::run(&plan))?;
    report.table(t);
    let t = timed("transactions", || transactions::run(&plan))?;
    report.table(t);
    let t = timed("offload", || offload::run(&plan))?;
    report.table(t);
    kit::output::finish(&report, out, started)
}

const HINT: &str = "lab-03's measurements need wrk and redis-benchmark (Debian: wrk, \
                    redis-tools) and taskset (util-linux)";

/// Runs lab-02's server in this process (the hidden `lab02` subcommand),
/// so the measurements can start it from this binary.
pub fn serve_lab02(config: lab_02::config::Config) -> Result<()> {
    lab_02::server::serve(config)
}

/// Microseconds as milliseconds, in the tables' format.
pub(crate) fn ms(us: f64) -> String {
    kit::fmt::fmt_ms(us / 1_000.0)
}
