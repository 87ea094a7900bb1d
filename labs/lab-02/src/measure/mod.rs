//! `lab-02 measure`: the chapter's experiments, written as one
//! `report::Report` for the results pipeline
//! (`cargo xtask results --only lab-02`).
//!
//! The chapter asks: a single-threaded event loop, a task per connection,
//! or a thread per core: which one, when, and why? Every experiment runs
//! the three models of this crate *and* a real `redis-server` in the same
//! run, in rounds that visit the servers in rotating order so that drift on
//! this shared machine hits all of them alike; tables show the median over
//! rounds and, where it matters, the spread.
//!
//! 1. Throughput (`throughput-split`, `throughput-shared`, plot
//!    `throughput`): requests per second, p50 and p99 under
//!    `redis-benchmark` (50 clients, SET and GET, pipeline depth 1 and 16),
//!    and the server CPU each request cost. *Split* pins the server to one
//!    core and the load generator to the other; *shared* pins nothing, so
//!    they compete. Answers: how close does each model get to Redis, and
//!    does more than one thread pay on two cores?
//! 2. Memory (`memory-per-connection`): resident memory per idle connection
//!    at 1k and 10k connections. Answers: what does a task (or a thread's
//!    share of connections) cost compared with an entry in an event loop?
//! 3. Head-of-line blocking (`head-of-line`): GET latency while another
//!    client loops `KEYS nomatch*` over 1M keys. Answers: who waits for one
//!    slow command?
//! 4. Durability (`aof-fsync`): SET throughput and p99 with no append-only
//!    file and with `appendfsync no`, `everysec`, `always`. Answers: what does
//!    each policy cost each model?
//!
//! 5. Go beside Rust (`go-beside-rust`): the seed's Go Redis clone (a
//!    goroutine per connection, `go/server`, built with Debian's Go) runs
//!    as a fifth server in experiment 1 and a sixth in experiment 2, where
//!    a thread per connection ([`threads`]) joins too; this table puts its
//!    rows beside task-per-connection's, the best model's and Redis's.
//!
//! `--quick` runs the same experiments with tiny request counts and one
//! round, in well under a minute, to check the pipeline; its numbers mean
//! nothing. Every number and verdict in the notes is computed from the run.
//!
//! Servers are started through [`crate::launch`], redis-benchmark is
//! driven by the measurement kit (`kit::redis_benchmark`), and medians,
//! formats and the machine check come from the kit too. What is here is
//! only about lab-02: the experiments and [`env`] (the tools' versions).

mod aof;
pub mod env;
mod go;
mod hol;
mod memory;
pub mod threads;
mod throughput;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use kit::fmt::fmt_duration;
use kit::output::timed;
use kit::procfs;
use report::Report;
use serde::Serialize;
use serde_json::json;

use crate::launch::Target;
use throughput::Setup;

/// How big and how often each experiment runs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Plan {
    pub quick: bool,
    pub rounds: usize,
    /// redis-benchmark clients (`-c`) for throughput and AOF runs.
    pub clients: u32,
    /// Requests per throughput run at pipeline depth 1 and 16.
    pub requests_p1: u64,
    pub requests_p16: u64,
    /// `-r`: the keys SET and GET draw from (written before the runs).
    pub keyspace: u64,
    /// Idle connection counts for the memory experiment.
    pub mem_conns: Vec<usize>,
    /// Keys the KEYS command walks in the head-of-line experiment.
    pub hol_keys: u64,
    pub hol_clients: u32,
    /// GET requests per quiet head-of-line run (and the most per busy one).
    pub hol_requests: u64,
    /// Target duration of a head-of-line run under the KEYS loop.
    pub hol_busy_secs: f64,
    /// Fewest GET requests in a run under the KEYS loop (so that p99 is
    /// not the second-slowest of a handful).
    pub hol_min_busy: u64,
    /// SET requests per AOF run.
    pub aof_requests: u64,
    /// Longest CPU warm-up before each experiment.
    #[serde(skip)]
    pub warm_up: Duration,
}

impl Plan {
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                rounds: 1,
                clients: 50,
                requests_p1: 2_000,
                requests_p16: 10_000,
                keyspace: 10_000,
                mem_conns: vec![200, 1_000],
                hol_keys: 50_000,
                hol_clients: 20,
                hol_requests: 4_000,
                hol_busy_secs: 0.3,
                hol_min_busy: 400,
                aof_requests: 2_000,
                warm_up: Duration::from_millis(200),
            }
        } else {
            Self {
                quick,
                rounds: 3,
                clients: 50,
                requests_p1: 100_000,
                requests_p16: 1_000_000,
                keyspace: 100_000,
                mem_conns: vec![1_000, 10_000],
                hol_keys: 1_000_000,
                hol_clients: 20,
                hol_requests: 100_000,
                hol_busy_secs: 3.0,
                hol_min_busy: 1_000,
                aof_requests: 100_000,
                warm_up: Duration::from_secs(3),
            }
        }
    }
}

/// Everything measured, before it becomes artifacts.
struct Measured {
    facts: env::Facts,
    split: throughput::Outcome,
    shared: throughput::Outcome,
    memory: memory::Outcome,
    hol: hol::Outcome,
    aof: aof::Outcome,
    load_before: String,
    load_after: String,
    elapsed: Duration,
}

/// Runs every experiment and writes the report to `out` (JSON).
pub fn run(quick: bool, out: &Path) -> Result<()> {
    let started = Instant::now();
    let plan = Plan::new(quick);
    let facts = env::Facts::collect()?;
    // Built once, before anything is measured: a missing Go fails here.
    let go_build = Instant::now();
    crate::launch::go_server()?;
    eprintln!(
        "  built the Go server ({}) in {}",
        facts.go,
        fmt_duration(go_build.elapsed())
    );
    let load_before = procfs::loadavg();
    eprintln!(
        "lab-02 measure{}: 5 experiments, {} round(s) each",
        if quick { " --quick" } else { "" },
        plan.rounds
    );
    let split = timed("throughput, split setup", || {
        throughput::run(&plan, Setup::SPLIT)
    })?;
    let shared = timed("throughput, shared setup", || {
        throughput::run(&plan, Setup::SHARED)
    })?;
    let memory = timed("memory per connection", || memory::run(&plan))?;
    let hol = timed("head-of-line blocking", || hol::run(&plan))?;
    let aof = timed("AOF fsync cost", || aof::run(&plan))?;
    let m = Measured {
        facts,
        split,
        shared,
        memory,
        hol,
        aof,
        load_before,
        load_after: procfs::loadavg(),
        elapsed: started.elapsed(),
    };
    let report = build_report(&plan, &m);
    kit::output::finish(&report, out, started)
}

/// The servers in the order round `round` visits them: rotated by one each
/// round, so no server is always first (or always right after another).
pub(crate) fn rotation(round: usize) -> Vec<Target> {
    kit::stats::rotated(&Target::ALL, round)
}

/// The throughput experiment's servers: lab-02's models, the seed's Go
/// clone (a goroutine per connection), and redis-server, in table order.
pub(crate) const THROUGHPUT: [Target; 5] = [
    Target::EventLoop,
    Target::TaskPerConnection,
    Target::ThreadPerCore,
    Target::Go,
    Target::Redis,
];

/// The memory experiment's servers: the throughput experiment's, and a
/// thread per connection (a PING-only baseline, [`threads`]).
pub(crate) const MEMORY: [Target; 6] = [
    Target::EventLoop,
    Target::TaskPerConnection,
    Target::ThreadPerCore,
    Target::ThreadPerConnection,
    Target::Go,
    Target::Redis,
];

/// lab-02's own three models.
pub(crate) const MODELS: [Target; 3] = [
    Target::EventLoop,
    Target::TaskPerConnection,
    Target::ThreadPerCore,
];

fn build_report(plan: &Plan, m: &Measured) -> Report {
    let f = &m.facts;
    let mut report = Report::new("lab-02", plan.quick);
    report.notes.push(format!(
        "{} hardware threads; servers and load generator on the same machine, over loopback; \
         {}, {}, {}; {} round(s) per experiment; the whole measurement took {}.",
        f.cores,
        f.redis_server,
        f.redis_benchmark,
        f.go,
        plan.rounds,
        fmt_duration(Duration::from_secs(m.elapsed.as_secs()))
    ));
    report.notes.push(format!(
        "Pinning: {} {} Memory, head-of-line and AOF experiments: nothing pinned, \
         `--threads {}`.",
        Setup::SPLIT.describe(),
        Setup::SHARED.describe(),
        f.cores
    ));
    report.notes.push(format!(
        "Load average (1, 5, 15 min) before: {}; after: {}.",
        m.load_before, m.load_after
    ));
    let bench = &f.redis_benchmark;
    report.table(throughput::table(plan, &m.split, bench));
    report.plot(throughput::plot(&m.split));
    report.table(throughput::table(plan, &m.shared, bench));
    report.table(memory::table(plan, &m.memory));
    report.table(go::table(plan, &m.split, &m.shared, &m.memory));
    report.table(hol::table(plan, &m.hol));
    report.table(aof::table(plan, &m.aof));
    report.data = json!({
        "plan": plan,
        "facts": f,
        "load_before": m.load_before,
        "load_after": m.load_after,
        "elapsed_s": m.elapsed.as_secs_f64(),
        "throughput_split": m.split,
        "throughput_shared": m.shared,
        "memory": m.memory,
        "head_of_line": m.hol,
        "aof": m.aof,
    });
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_visits_everyone() {
        let r1 = rotation(1);
        assert_eq!(r1[0], Target::TaskPerConnection);
        assert_eq!(r1[3], Target::EventLoop);
        assert_eq!(rotation(4)[0], Target::EventLoop);
    }
}
