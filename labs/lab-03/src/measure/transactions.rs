//! Experiment 9: what does a MULTI/EXEC transaction cost under each of
//! lab-02's models, when its two keys share a part and when they do not?
//!
//! Each server gets the same four requests from lab-03's closed model:
//! two INCRs sent together, and the same two inside MULTI … EXEC, once
//! over two keys with one hash tag (`{key:N}:a`, `{key:N}:b`: one shard,
//! one core) and once over two independent keys (usually two shards, and
//! on two cores half the time). The event loop runs everything on one
//! thread; task-per-connection locks the shards a transaction touches in
//! ascending order; thread-per-core runs a one-core transaction on its
//! core and takes a *step across cores* (the other core stops and lends
//! its store) for a two-core one. INFO's `lab02_spanning_execs` counts
//! the transactions that spanned parts, so the table shows how many did.
//! redis-server runs the same requests in the same rounds.

use anyhow::Result;
use kit::fmt::{fmt_int, fmt_pct, fmt_ratio};
use kit::stats::{med, rotated, spread};
use lab_02::launch::{Server, Target};
use report::Table;

use super::lab02::{self, slug};
use super::tools::{self, GEN_CPU, SERVER_CPU};
use super::{Plan, ms};

/// The servers, in the order of the table.
const TARGETS: [Target; 4] = [
    Target::EventLoop,
    Target::TaskPerConnection,
    Target::ThreadPerCore,
    Target::Redis,
];

/// The requests: (lab-03 mix name, is a transaction, keys share a tag).
const REQUESTS: [(&str, bool, bool); 4] = [
    ("incr2-same", false, true),
    ("tx-same", true, true),
    ("incr2-spread", false, false),
    ("tx-spread", true, false),
];

/// A throughput that differs by less than this share is the same: about
/// the rounds' spread on this machine.
const PAYS: f64 = 0.05;

/// Worker threads (task-per-connection) and cores (thread-per-core).
const THREADS: usize = 2;

/// One run.
#[derive(Debug, Clone, Copy)]
struct Run {
    rps: f64,
    p99_us: f64,
    /// Transactions that spanned parts, as a share of requests (NaN where
    /// not counted: redis-server, and requests without MULTI).
    spanning: f64,
}

fn one_run(plan: &Plan, server: &Server, mix: &str, tx: bool) -> Result<Run> {
    let before = spanning_execs(server)?;
    let run = tools::lab03(&[
        "resp".into(),
        format!("127.0.0.1:{}", server.port),
        "--mix".into(),
        mix.into(),
        "--keyspace".into(),
        plan.tx_keyspace.to_string(),
        "-c".into(),
        plan.peak_connections.to_string(),
        "-d".into(),
        format!("{}s", plan.tx_run.as_secs_f64()),
    ])?;
    let ok = run.f("ok");
    let spanning = match (before, spanning_execs(server)?) {
        (Some(a), Some(b)) if tx && ok > 0.0 => (b - a) as f64 / ok,
        _ => f64::NAN,
    };
    Ok(Run {
        rps: ok / run.f("elapsed_s"),
        p99_us: run.f("service.p99_us"),
        spanning,
    })
}

fn spanning_execs(server: &Server) -> Result<Option<u64>> {
    server.info_u64("lab02_spanning_execs")
}

/// Every run of one (server, request) pair.
struct Cell {
    target: Target,
    request: usize,
    runs: Vec<Run>,
}

pub fn run(plan: &Plan) -> Result<Table> {
    let mut cells: Vec<Cell> = TARGETS
        .iter()
        .flat_map(|&target| {
            (0..REQUESTS.len()).map(move |request| Cell {
                target,
                request,
                runs: Vec::new(),
            })
        })
        .collect();
    for round in 0..plan.rounds {
        for target in rotated(&TARGETS, round) {
            let threads = if target.multi_threaded() { THREADS } else { 1 };
            let mut server = lab02::start(target, Some(SERVER_CPU), threads)?;
            for (request, &(mix, tx, _)) in REQUESTS.iter().enumerate() {
                let r = one_run(plan, &server, mix, tx)?;
                if let Some(c) = cells
                    .iter_mut()
                    .find(|c| c.target == target && c.request == request)
                {
                    c.runs.push(r);
                }
            }
            server.check_alive()?;
        }
        eprintln!("  transactions round {}/{} done", round + 1, plan.rounds);
    }
    Ok(table(plan, &cells))
}

fn cell(cells: &[Cell], target: Target, request: usize) -> Option<&Cell> {
    cells
        .iter()
        .find(|c| c.target == target && c.request == request)
}

/// Median requests per second of a cell.
fn rps(c: &Cell) -> f64 {
    med(&c.runs, |r| r.rps)
}

/// A transaction's throughput as a share of the same two INCRs without
/// one, for a server and a key placement.
fn tx_share(cells: &[Cell], target: Target, same: bool) -> f64 {
    let (plain, tx) = if same { (0, 1) } else { (2, 3) };
    match (cell(cells, target, plain), cell(cells, target, tx)) {
        (Some(p), Some(t)) => rps(t) / rps(p),
        _ => f64::NAN,
    }
}

fn table(plan: &Plan, cells: &[Cell]) -> Table {
    let mut t = Table::new(
        "transactions",
        "Two INCRs with and without MULTI/EXEC, keys in one part or spread, closed model",
        &[
            "server",
            "request",
            "req/s",
            "p99 (ms)",
            "EXECs that spanned parts",
            "transaction / plain",
        ],
    )
    .numeric(&[2, 3, 4, 5]);
    for c in cells {
        let (mix, tx, same) = REQUESTS[c.request];
        let rates: Vec<f64> = c.runs.iter().map(|r| r.rps).collect();
        let spanning = med(&c.runs, |r| r.spanning);
        t.row(vec![
            c.target.name().into(),
            mix.into(),
            format!("{} {}", fmt_int(rps(c)), spread(&rates)),
            ms(med(&c.runs, |r| r.p99_us)),
            if spanning.is_nan() {
                "-".into()
            } else {
                fmt_pct(spanning)
            },
            if tx {
                fmt_ratio(tx_share(cells, c.target, same))
            } else {
                "-".into()
            },
        ]);
    }
    t.note(format!(
        "Each round starts every server once on CPU {SERVER_CPU} (`taskset`), the multi-threaded \
         models with {THREADS} threads (so here two cores of thread-per-core share one CPU), \
         redis-server without persistence, and runs the four requests on it for {} each: \
         `lab-03 resp ADDR --mix REQUEST --keyspace {} -c {} -d {}s` on CPU {GEN_CPU}. \
         incr2-same sends `INCR {{key:N}}:a` and `INCR {{key:N}}:b` together (one hash tag, so \
         one shard and one core); tx-same wraps them in MULTI … EXEC; incr2-spread and tx-spread \
         do the same with two independent keys. A request is all its replies, so req/s counts \
         pairs and transactions. p99 is from each request's send (in a closed model, its \
         intended start). EXECs that spanned parts: INFO `lab02_spanning_execs` over the run, \
         per transaction. Median of {} round(s), servers in rotating order.",
        kit::fmt::fmt_duration(plan.tx_run),
        plan.tx_keyspace,
        plan.peak_connections,
        plan.tx_run.as_secs_f64(),
        plan.rounds
    ));
    for target in TARGETS {
        let s = slug(target);
        t.fact(
            &format!("tx_same_{s}"),
            fmt_ratio(tx_share(cells, target, true)),
        );
        t.fact(
            &format!("tx_spread_{s}"),
            fmt_ratio(tx_share(cells, target, false)),
        );
        if let Some(c) = cell(cells, target, 3) {
            let spanning = med(&c.runs, |r| r.spanning);
            if !spanning.is_nan() {
                t.fact(&format!("spanning_{s}"), fmt_pct(spanning));
            }
        }
    }
    t.fact("threads", THREADS.to_string());
    t.fact("clients", plan.peak_connections.to_string());
    // Which of the models that split the keyspace pays most for spreading
    // a transaction's keys: its transactions' throughput, spread over same.
    let spread_cost = |target| match (cell(cells, target, 1), cell(cells, target, 3)) {
        (Some(same), Some(spread)) => rps(spread) / rps(same),
        _ => f64::NAN,
    };
    let split = [Target::TaskPerConnection, Target::ThreadPerCore];
    let worst = split
        .iter()
        .copied()
        .filter(|&m| spread_cost(m) < 1.0 - PAYS)
        .min_by(|&a, &b| spread_cost(a).total_cmp(&spread_cost(b)));
    let verdict = match worst {
        Some(m) => format!(
            "spreading a transaction's two keys costs {} most: its spread transactions run at {} \
             the rate of its same-part ones",
            m.name(),
            fmt_ratio(spread_cost(m))
        ),
        None => "spreading a transaction's two keys cost neither model that splits the keyspace \
                 more than the rounds' spread"
            .to_owned(),
    };
    t.note(format!("Measured: {verdict}."));
    t.fact("verdict", verdict);
    // Whether keeping a transaction's keys together (a hash tag) paid
    // under the models that split the keyspace.
    let paid: Vec<&str> = split
        .iter()
        .filter(|&&m| spread_cost(m) < 1.0 - PAYS)
        .map(|m| m.name())
        .collect();
    t.fact(
        "tag_pays",
        match paid.as_slice() {
            [] => "did not pay under either model that splits the keyspace in this run".to_owned(),
            [one] => format!("paid only under {one} in this run"),
            _ => "paid under both models that split the keyspace".to_owned(),
        },
    );
    t
}
