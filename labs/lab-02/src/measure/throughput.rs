//! Experiment 1: throughput, latency and CPU cost under redis-benchmark.
//!
//! Four servers, SET and GET, pipeline depth 1 and 16, in two setups:
//! *split* pins the server to CPU 1 and redis-benchmark to CPU 0 (the
//! multi-threaded models get `--threads 1`: one thread per core they may
//! use); *shared* pins nothing and gives them `--threads 2`, so server and
//! load generator compete for both cores, as they would on a small box that
//! also runs its clients. Requests per server CPU-second say what a model
//! costs independently of who was the bottleneck.

use anyhow::Result;
use kit::machine::{Conditions, Watch, conditions_note, watched};
use kit::procfs;
use kit::redis_benchmark::{self as bench, Load, Sample};
use report::{Plot, PlotKind, Series, Table};
use serde::Serialize;

use super::{Plan, THROUGHPUT};
use crate::launch::{Launch, Server, Target};
use kit::fmt::{fmt_int, fmt_ms, fmt_pct, fmt_ratio};
use kit::stats::{med, paired_ratio, spread};

/// Pipeline depths (`-P`).
pub(crate) const DEPTHS: [u32; 2] = [1, 16];
/// redis-benchmark tests, one run each.
pub(crate) const TESTS: [&str; 2] = ["set", "get"];
/// Below this share of its CPUs the server was waiting for the client.
const BUSY: f64 = 0.9;

/// Where the server and the load generator run.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Setup {
    pub name: &'static str,
    pub server_cpus: Option<&'static str>,
    pub client_cpus: Option<&'static str>,
    /// `--threads` for task-per-connection and thread-per-core.
    pub threads: usize,
}

impl Setup {
    pub(crate) const SPLIT: Setup = Setup {
        name: "split",
        server_cpus: Some("1"),
        client_cpus: Some("0"),
        threads: 1,
    };
    pub(crate) const SHARED: Setup = Setup {
        name: "shared",
        server_cpus: None,
        client_cpus: None,
        threads: 2,
    };

    /// One sentence for the notes.
    pub(crate) fn describe(&self) -> String {
        match (self.server_cpus, self.client_cpus) {
            (Some(s), Some(c)) => format!(
                "Setup `{}`: each server pinned to CPU {s} (`taskset -c {s}`), redis-benchmark \
                 to CPU {c} (`taskset -c {c}`); task-per-connection and thread-per-core started \
                 with `--threads {}`.",
                self.name, self.threads
            ),
            _ => format!(
                "Setup `{}`: nothing pinned; server and redis-benchmark share the machine's {} \
                 CPUs; task-per-connection and thread-per-core started with `--threads {}`.",
                self.name,
                procfs::cores(),
                self.threads
            ),
        }
    }

    /// How many CPUs the server may use (for its CPU share).
    fn server_cores(&self) -> f64 {
        if self.server_cpus.is_some() {
            1.0
        } else {
            procfs::cores() as f64
        }
    }
}

/// All rounds of one (server, depth, test).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Cell {
    pub server: Target,
    pub depth: u32,
    pub test: &'static str,
    pub rounds: Vec<Sample>,
    /// Cross-core hops the server counted during each round's run (only
    /// thread-per-core counts them).
    pub hops: Vec<u64>,
}

impl Cell {
    pub(crate) fn rps(&self) -> Vec<f64> {
        self.rounds.iter().map(|s| s.rps).collect()
    }
}

/// One setup's results.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    pub setup: Setup,
    pub cells: Vec<Cell>,
    pub conditions: Conditions,
}

impl Outcome {
    pub(crate) fn cell(&self, server: Target, depth: u32, test: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.server == server && c.depth == depth && c.test == test)
    }

    /// Median over rounds of `server`'s throughput over redis-server's.
    pub(crate) fn ratio_to_redis(&self, server: Target, depth: u32, test: &str) -> f64 {
        match (
            self.cell(server, depth, test),
            self.cell(Target::Redis, depth, test),
        ) {
            (Some(a), Some(b)) => paired_ratio(&a.rps(), &b.rps()),
            _ => f64::NAN,
        }
    }

    /// The lower of the SET and GET ratios to redis-server.
    pub(crate) fn worst_ratio(&self, server: Target, depth: u32) -> f64 {
        TESTS
            .iter()
            .map(|t| self.ratio_to_redis(server, depth, t))
            .fold(f64::INFINITY, f64::min)
    }
}

fn requests(plan: &Plan, depth: u32) -> u64 {
    if depth == 1 {
        plan.requests_p1
    } else {
        plan.requests_p16
    }
}

/// Runs the experiment in one setup: all four servers up at once, prefilled,
/// then rounds that visit them in rotating order.
pub(crate) fn run(plan: &Plan, setup: Setup) -> Result<Outcome> {
    let (cells, conditions) = watched(Watch::children(plan.warm_up), || {
        let mut servers = Vec::new();
        for target in THROUGHPUT {
            let launch = Launch {
                cpus: setup.server_cpus,
                ..Launch::new(target, setup.threads)
            };
            let server = Server::start(&launch)?;
            server.fill(plan.keyspace)?;
            servers.push(server);
        }
        let mut cells = empty_cells();
        for round in 0..plan.rounds {
            for target in kit::stats::rotated(&THROUGHPUT, round) {
                let Some(server) = servers.iter_mut().find(|s| s.target == target) else {
                    continue;
                };
                run_server_round(plan, setup, server, &mut cells)?;
            }
            eprintln!(
                "  throughput ({}) round {}/{} done",
                setup.name,
                round + 1,
                plan.rounds
            );
        }
        anyhow::Ok(cells)
    })?;
    Ok(Outcome {
        setup,
        cells,
        conditions,
    })
}

fn empty_cells() -> Vec<Cell> {
    let mut cells = Vec::new();
    for server in THROUGHPUT {
        for depth in DEPTHS {
            for test in TESTS {
                cells.push(Cell {
                    server,
                    depth,
                    test,
                    rounds: Vec::new(),
                    hops: Vec::new(),
                });
            }
        }
    }
    cells
}

/// One round for one server: every depth and test.
fn run_server_round(
    plan: &Plan,
    setup: Setup,
    server: &mut Server,
    cells: &mut [Cell],
) -> Result<()> {
    for depth in DEPTHS {
        for test in TESTS {
            let load = Load {
                test,
                clients: plan.clients,
                pipeline: depth,
                requests: requests(plan, depth),
                keyspace: plan.keyspace,
                cpus: setup.client_cpus,
            };
            let hops_before = hops(server)?;
            let sample = bench::measure(server.port, &mut server.process, &load)?;
            let hops = hops(server)?.saturating_sub(hops_before);
            if let Some(cell) = cells
                .iter_mut()
                .find(|c| c.server == server.target && c.depth == depth && c.test == test)
            {
                cell.rounds.push(sample);
                cell.hops.push(hops);
            }
        }
    }
    Ok(())
}

/// The server's cross-core hop counter (0 where it has none).
fn hops(server: &Server) -> Result<u64> {
    if server.target != Target::ThreadPerCore {
        return Ok(0);
    }
    Ok(server.info_u64("lab02_cross_core_hops")?.unwrap_or(0))
}

/// The table for one setup.
pub(crate) fn table(plan: &Plan, o: &Outcome, benchmark_version: &str) -> Table {
    let s = &o.setup;
    let mut t = Table::new(
        &format!("throughput-{}", s.name),
        &format!(
            "Throughput, latency and CPU cost under redis-benchmark ({} setup)",
            s.name
        ),
        &[
            "server",
            "pipeline",
            "test",
            "req/s",
            "spread",
            "p50 ms",
            "p99 ms",
            "server CPU",
            "client CPU",
            "req per CPU-s",
            "vs redis-server",
        ],
    )
    .numeric(&[1, 3, 4, 5, 6, 7, 8, 9, 10]);
    for c in &o.cells {
        let r = &c.rounds;
        t.row(vec![
            c.server.name().to_owned(),
            c.depth.to_string(),
            c.test.to_uppercase(),
            fmt_int(med(r, |x| x.rps)),
            spread(&c.rps()),
            fmt_ms(med(r, |x| x.p50_ms)),
            fmt_ms(med(r, |x| x.p99_ms)),
            fmt_pct(med(r, Sample::cpu_share)),
            fmt_pct(med(r, Sample::client_share)),
            fmt_int(med(r, Sample::ops_per_cpu_s)),
            fmt_ratio(o.ratio_to_redis(c.server, c.depth, c.test)),
        ]);
    }
    t.note(s.describe());
    t.note(format!(
        "{benchmark_version}, {} clients (`-c`), keys drawn from `-r {}` (all written \
         beforehand), 3-byte values; {} requests per run at pipeline 1, {} at pipeline 16; SET \
         and GET as separate runs. Median of {} round(s), the servers visited in rotating \
         order; spread is half the range of req/s over rounds relative to the median.",
        plan.clients,
        plan.keyspace,
        fmt_int(plan.requests_p1 as f64),
        fmt_int(plan.requests_p16 as f64),
        plan.rounds
    ));
    t.note(format!(
        "Server CPU is the server's utime + stime (`/proc/PID/stat`, {} ticks/s) over the run's \
         wall time, as a share of one core (200% = two cores busy); client CPU is \
         redis-benchmark's, likewise. req per CPU-s = requests / server CPU seconds. vs \
         redis-server is the median over rounds of the per-round ratio of req/s.",
        procfs::clk_tck()
    ));
    for depth in DEPTHS {
        t.note(best_note(o, depth));
    }
    t.note(hops_note(o));
    if let Some(n) = bottleneck_note(o) {
        t.note(n);
    }
    facts(&mut t, plan, o);
    t.note(conditions_note(&o.conditions));
    t
}

/// "Measured: at pipeline 1 the best model, X, reached Y× redis-server…".
fn best_note(o: &Outcome, depth: u32) -> String {
    let models = [
        Target::EventLoop,
        Target::TaskPerConnection,
        Target::ThreadPerCore,
    ];
    let ratios: Vec<(Target, f64)> = models
        .iter()
        .map(|&m| (m, o.worst_ratio(m, depth)))
        .collect();
    let Some(&(best, best_r)) = ratios
        .iter()
        .filter(|(_, r)| !r.is_nan())
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return format!("No ratio at pipeline {depth}: a measurement is missing.");
    };
    let all: Vec<String> = ratios
        .iter()
        .map(|(m, r)| format!("{} {}", m.name(), fmt_ratio(*r)))
        .collect();
    format!(
        "Measured: at pipeline {depth}, the best model was {} at {} redis-server's throughput \
         (the lower of its SET and GET ratios); all models: {}.",
        best.name(),
        fmt_ratio(best_r),
        all.join(", ")
    )
}

/// Facts the chapter quotes: the plan's parameters, CPU shares at
/// pipeline 1, and each model's range of ratios to redis-server.
fn facts(t: &mut Table, plan: &Plan, o: &Outcome) {
    t.fact("clients", plan.clients.to_string());
    t.fact("keyspace", fmt_int(plan.keyspace as f64));
    t.fact("requests_p1", fmt_int(plan.requests_p1 as f64));
    t.fact("requests_p16", fmt_int(plan.requests_p16 as f64));
    let p1: Vec<&Cell> = o.cells.iter().filter(|c| c.depth == 1).collect();
    let share = |f: fn(&Sample) -> f64| {
        let per_cell: Vec<f64> = p1.iter().map(|c| med(&c.rounds, f)).collect();
        kit::stats::median(&per_cell)
    };
    let server = share(Sample::cpu_share) / o.setup.server_cores();
    let client = share(Sample::client_share);
    t.fact("p1_client_cpu", fmt_pct(client));
    t.fact("p1_server_cpu", fmt_pct(server));
    t.fact("p1_bound", p1_bound(server, client));
    for m in [
        Target::EventLoop,
        Target::TaskPerConnection,
        Target::ThreadPerCore,
    ] {
        let key = m.name().replace('-', "_");
        for depth in DEPTHS {
            t.fact(
                &format!("{key}_p{depth}_ratios"),
                ratio_range(TESTS.map(|test| o.ratio_to_redis(m, depth, test))),
            );
        }
        t.fact(
            &format!("{key}_p16_set"),
            fmt_ratio(o.ratio_to_redis(m, 16, "set")),
        );
    }
}

/// Who set the pace at pipeline 1, from the median CPU shares of its rows
/// (each of one core).
fn p1_bound(server: f64, client: f64) -> &'static str {
    match (server >= BUSY, client >= BUSY) {
        (false, true) => {
            "redis-benchmark kept its core busy while the servers did not: the load generator set the rate"
        }
        (true, false) => {
            "the servers kept their core busy while redis-benchmark did not: the servers set the rate"
        }
        (true, true) => "both kept their cores busy: neither side had time to spare",
        (false, false) => "neither kept its core busy: the two waited on each other",
    }
}

/// `0.84–0.92×`, or one ratio when both round to the same text.
pub(crate) fn ratio_range(rs: [f64; 2]) -> String {
    let lo = fmt_ratio(rs[0].min(rs[1]));
    let hi = fmt_ratio(rs[0].max(rs[1]));
    if lo == hi {
        lo
    } else {
        format!("{}–{hi}", lo.trim_end_matches('×'))
    }
}

/// Cross-core hops thread-per-core reported, over all its runs.
fn hops_note(o: &Outcome) -> String {
    let cells: Vec<&Cell> = o
        .cells
        .iter()
        .filter(|c| c.server == Target::ThreadPerCore)
        .collect();
    let hops: u64 = cells.iter().flat_map(|c| c.hops.iter()).sum();
    let requests: u64 = cells
        .iter()
        .flat_map(|c| c.rounds.iter().map(|s| s.requests))
        .sum();
    format!(
        "Measured: thread-per-core (`--threads {}`) reported {} cross-core hops \
         (`lab02_cross_core_hops` in INFO) over {} requests in this setup: {} of requests \
         travelled to another core and back.",
        o.setup.threads,
        fmt_int(hops as f64),
        fmt_int(requests as f64),
        fmt_pct(hops as f64 / requests.max(1) as f64)
    )
}

/// In the split setup, where each side has one core: which side, if any,
/// kept its core busy, and so set the rate.
fn bottleneck_note(o: &Outcome) -> Option<String> {
    o.setup.server_cpus?;
    let server = |c: &Cell| med(&c.rounds, Sample::cpu_share) / o.setup.server_cores();
    let client = |c: &Cell| med(&c.rounds, Sample::client_share);
    let count = |f: &dyn Fn(&Cell) -> bool| o.cells.iter().filter(|c| f(c)).count();
    let server_bound = count(&|c| server(c) >= BUSY);
    let client_bound = count(&|c| server(c) < BUSY && client(c) >= BUSY);
    let neither = count(&|c| server(c) < BUSY && client(c) < BUSY);
    let all = |f: &dyn Fn(&Cell) -> f64| {
        fmt_pct(kit::stats::median(
            &o.cells.iter().map(f).collect::<Vec<_>>(),
        ))
    };
    let mut note = format!(
        "Measured: over the {} rows, the server kept its core a median {} busy and \
         redis-benchmark its own {}. Rows where the server's core was at least {} busy (the \
         server set the rate): {server_bound}; where only redis-benchmark's was (the load \
         generator set it): {client_bound}; where neither was: {neither}.",
        o.cells.len(),
        all(&server),
        all(&client),
        fmt_pct(BUSY),
    );
    if client_bound + neither > 0 {
        note.push_str(
            " Where the server was not the bottleneck, compare the servers by req per CPU-s \
             rather than req/s.",
        );
    }
    if neither > 0 {
        note.push_str(
            " Where neither core was busy, the two waited on each other across cores or on \
             other processes (see the machine check).",
        );
    }
    Some(note)
}

/// `throughput.svg`: req/s per server, split setup.
pub(crate) fn plot(o: &Outcome) -> Plot {
    let series = DEPTHS
        .iter()
        .flat_map(|&d| TESTS.iter().map(move |&t| (d, t)))
        .map(|(depth, test)| Series {
            name: format!("{} P{depth}", test.to_uppercase()),
            values: THROUGHPUT
                .iter()
                .map(|&s| {
                    o.cell(s, depth, test)
                        .map_or(f64::NAN, |c| med(&c.rounds, |x| x.rps))
                })
                .collect(),
        })
        .collect();
    Plot {
        name: "throughput".into(),
        title: format!("Requests/s under redis-benchmark, {} setup", o.setup.name),
        kind: PlotKind::Bars {
            categories: THROUGHPUT.iter().map(|s| s.name().to_owned()).collect(),
        },
        x_label: format!(
            "server (on CPU {}; redis-benchmark on CPU {})",
            o.setup.server_cpus.unwrap_or("any"),
            o.setup.client_cpus.unwrap_or("any")
        ),
        y_label: "requests/s (median, log scale)".into(),
        log_y: true,
        series,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_ranges_read_low_to_high() {
        assert_eq!(ratio_range([0.92, 0.84]), "0.84–0.92×");
        assert_eq!(ratio_range([1.0, 1.001]), "1.00×");
    }

    #[test]
    fn p1_bound_follows_the_shares() {
        assert!(p1_bound(0.8, 0.99).contains("load generator set the rate"));
        assert!(p1_bound(0.99, 0.7).contains("servers set the rate"));
        assert!(p1_bound(0.5, 0.5).starts_with("neither"));
    }
}
