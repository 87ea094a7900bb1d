//! Experiment 7: Part II's head-of-line question, asked with the open
//! model.
//!
//! lab-02 measures head-of-line blocking with redis-benchmark, a closed
//! loop: its clients send nothing while they wait, so the GETs that a KEYS
//! would have delayed are never sent, and the percentiles describe the
//! GETs that got through (Part III's coordinated omission). Here the same
//! servers (lab-02's three models and redis-server, each holding the same
//! keys) get GETs at a fixed rate, well below what they serve even under
//! the KEYS loop, and latency runs from each GET's intended start. In the
//! same run, under the same KEYS loop, redis-benchmark gives its view, so
//! the two can be set side by side.

use std::thread;
use std::time::Duration;

use anyhow::Result;
use kit::fmt::{fmt_int, fmt_ms};
use kit::procfs;
use kit::redis_benchmark::{self as bench, Load, Sample};
use kit::stats::{Stall, med, median};
use lab_02::launch::{Looper, Server, Target};
use lab_02::resp::Frame;
use report::Table;

use super::lab02::{self, slug};
use super::tools::{self, GEN_CPU, GenRun};
use super::{Plan, ms};

/// The slow command: walks every key, matches none.
const KEYS_ARGS: [&[u8]; 2] = [b"KEYS", b"nomatch*"];

/// How one open-model run went, from the intended start (µs).
#[derive(Debug, Clone)]
struct Open {
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    /// The generator's own lag behind its schedule: part of every
    /// latency from the intended start, but the generator's, not the
    /// server's.
    lag_p99_us: f64,
    sent_rate: f64,
    errors: f64,
    check: String,
}

impl Open {
    fn of(run: &GenRun) -> Self {
        Self {
            p50_us: run.f("latency.p50_us"),
            p99_us: run.f("latency.p99_us"),
            max_us: run.f("latency.max_us"),
            lag_p99_us: run.f("lag.p99_us"),
            sent_rate: run.f("sent_rate"),
            errors: run.f("sent") - run.f("ok"),
            check: run.verdict(),
        }
    }
}

/// One round on one server.
#[derive(Debug, Clone)]
struct Round {
    quiet: Open,
    busy: Open,
    /// redis-benchmark under the same KEYS loop.
    closed: Sample,
    /// Each KEYS call's duration while the GETs ran, in ms.
    keys_ms: Vec<f64>,
}

struct Cell {
    server: Target,
    rounds: Vec<Round>,
}

impl Cell {
    fn keys_ms(&self) -> f64 {
        let all: Vec<f64> = self.rounds.iter().flat_map(|r| r.keys_ms.clone()).collect();
        median(&all)
    }

    fn quiet(&self, f: fn(&Open) -> f64) -> f64 {
        med(&self.rounds, |r| f(&r.quiet))
    }

    fn busy(&self, f: fn(&Open) -> f64) -> f64 {
        med(&self.rounds, |r| f(&r.busy))
    }

    fn closed(&self, f: fn(&Sample) -> f64) -> f64 {
        med(&self.rounds, |r| f(&r.closed))
    }

    /// The open model's verdict under the KEYS loop.
    fn open_stall(&self) -> Stall {
        let ms = |us: f64| us / 1e3;
        Stall::of(
            ms(self.busy(|o| o.p50_us)),
            ms(self.busy(|o| o.p99_us)),
            ms(self.busy(|o| o.max_us)),
            self.keys_ms(),
        )
    }

    /// redis-benchmark's verdict under the same loop.
    fn closed_stall(&self) -> Stall {
        Stall::of(
            self.closed(|s| s.p50_ms),
            self.closed(|s| s.p99_ms),
            self.closed(|s| s.max_ms),
            self.keys_ms(),
        )
    }
}

/// How the kit's [`Stall`] reads for GETs beside a KEYS loop.
trait Says {
    fn says(self) -> &'static str;
}

impl Says for Stall {
    fn says(self) -> &'static str {
        match self {
            Stall::Typical => "the typical GET waited for a KEYS",
            Stall::Some => "the typical GET did not wait, but more than 1% did",
            Stall::Rarely => "fewer than 1% of GETs waited for a KEYS",
            Stall::Nobody => "no GET waited for a KEYS",
        }
    }
}

/// `lab-03 resp ADDR --mix get --rate R -c C -d D`: the open model.
fn open_run(plan: &Plan, server: &Server) -> Result<Open> {
    let run = tools::lab03(&[
        "resp".into(),
        format!("127.0.0.1:{}", server.port),
        "--mix".into(),
        "get".into(),
        "--keyspace".into(),
        plan.hol_keys.to_string(),
        "--rate".into(),
        plan.hol_rate.to_string(),
        "-c".into(),
        plan.hol_connections.to_string(),
        "-d".into(),
        format!("{}ms", plan.hol_run.as_millis()),
        "--timeout".into(),
        "30s".into(),
    ])?;
    Ok(Open::of(&run))
}

fn bench_load(plan: &Plan, requests: u64) -> Load {
    Load {
        test: "get",
        clients: plan.hol_bench_clients,
        pipeline: 1,
        requests,
        keyspace: plan.hol_keys,
        cpus: Some(GEN_CPU),
    }
}

/// redis-benchmark under the KEYS loop: a probe for the rate, then a run
/// sized to last about `plan.hol_bench_secs`.
fn closed_run(plan: &Plan, server: &mut Server) -> Result<Sample> {
    let [least, most] = plan.hol_bench_requests;
    let probe = bench::measure(server.port, &mut server.process, &bench_load(plan, least))?;
    let n = ((probe.rps * plan.hol_bench_secs) as u64).clamp(least, most);
    bench::measure(server.port, &mut server.process, &bench_load(plan, n))
}

fn round(plan: &Plan, server: &mut Server) -> Result<Round> {
    let quiet = open_run(plan, server)?;
    let keys = Looper::start(server, &KEYS_ARGS, |r| matches!(r, Frame::Array(Some(_))))?;
    // Let the first KEYS start, so the runs begin under the loop.
    thread::sleep(Duration::from_millis(20));
    let busy = open_run(plan, server)?;
    let closed = closed_run(plan, server)?;
    let keys_ms = keys.finish()?;
    server.check_alive()?;
    Ok(Round {
        quiet,
        busy,
        closed,
        keys_ms,
    })
}

/// Starts and fills every server, runs the rounds, and builds the table.
pub fn run(plan: &Plan) -> Result<Table> {
    let threads = procfs::cores();
    let mut servers = Vec::new();
    let mut cells = Vec::new();
    for target in Target::ALL {
        let server = lab02::start(target, None, threads)?;
        server.fill(plan.hol_keys)?;
        servers.push(server);
        cells.push(Cell {
            server: target,
            rounds: Vec::new(),
        });
    }
    for r in 0..plan.rounds {
        for target in kit::stats::rotated(&Target::ALL, r) {
            let (Some(server), Some(cell)) = (
                servers.iter_mut().find(|s| s.target == target),
                cells.iter_mut().find(|c| c.server == target),
            ) else {
                continue;
            };
            cell.rounds.push(round(plan, server)?);
        }
        eprintln!("  head-of-line (open) round {}/{} done", r + 1, plan.rounds);
    }
    Ok(table(plan, threads, &cells))
}

fn table(plan: &Plan, threads: usize, cells: &[Cell]) -> Table {
    let mut t = Table::new(
        "head-of-line-open",
        "Head-of-line blocking from the intended start: GETs at a fixed rate while another client loops KEYS",
        &[
            "server",
            "KEYS loop",
            "one KEYS, ms",
            "open p50 ms",
            "open p99 ms",
            "open max ms",
            "redis-benchmark p50 ms",
            "redis-benchmark p99 ms",
            "generator lag p99 ms",
            "generator",
        ],
    )
    .numeric(&[2, 3, 4, 5, 6, 7, 8]);
    for c in cells {
        let check = |f: fn(&Round) -> &Open| {
            c.rounds
                .last()
                .map_or(String::new(), |r| f(r).check.clone())
        };
        t.row(vec![
            c.server.name().into(),
            "off".into(),
            String::new(),
            ms(c.quiet(|o| o.p50_us)),
            ms(c.quiet(|o| o.p99_us)),
            ms(c.quiet(|o| o.max_us)),
            String::new(),
            String::new(),
            ms(c.quiet(|o| o.lag_p99_us)),
            check(|r| &r.quiet),
        ]);
        t.row(vec![
            c.server.name().into(),
            "on".into(),
            fmt_ms(c.keys_ms()),
            ms(c.busy(|o| o.p50_us)),
            ms(c.busy(|o| o.p99_us)),
            ms(c.busy(|o| o.max_us)),
            fmt_ms(c.closed(|s| s.p50_ms)),
            fmt_ms(c.closed(|s| s.p99_ms)),
            ms(c.busy(|o| o.lag_p99_us)),
            check(|r| &r.busy),
        ]);
        facts(&mut t, c);
    }
    let run_s = plan.hol_run.as_secs_f64();
    t.note(format!(
        "Each server holds {} keys (written beforehand with MSET; the servers not pinned, \
         `--threads {threads}` for the multi-threaded models; generators on CPU {GEN_CPU}). \
         Open model: `lab-03 resp ADDR --mix get --keyspace {} --rate {} -c {} -d {run_s}s`, \
         once on the quiet server (off rows) and once while another client loops \
         `KEYS nomatch*` back to back (on rows); p50, p99 and max run from each GET's intended \
         start. Then, under the same loop, redis-benchmark `-c {} -P 1 -t get -r {}`, sized by \
         a probe to last about {} s: its own percentiles, from each GET's send. Median of {} \
         round(s), servers visited in rotating order.",
        fmt_int(plan.hol_keys as f64),
        plan.hol_keys,
        plan.hol_rate,
        plan.hol_connections,
        plan.hol_bench_clients,
        plan.hol_keys,
        plan.hol_bench_secs,
        plan.rounds
    ));
    t.note(
        "One KEYS, ms: the median time one `KEYS nomatch*` took while the GETs ran. Generator \
         lag: how late lab-03 itself sent (p99, median of rounds), which every latency from the \
         intended start includes. Generator: lab-03's self-check for the run in the last round \
         (`ok`, or the signals that blame the generator).",
    );
    let lag = lag_note(cells);
    t.note(format!("Measured: {lag}."));
    t.fact("lag_note", lag);
    for c in cells {
        t.note(verdict_note(plan, c));
    }
    t.fact("rate", fmt_int(plan.hol_rate));
    t.fact("connections", plan.hol_connections.to_string());
    t.fact("keys", fmt_int(plan.hol_keys as f64));
    t.fact("bench_clients", plan.hol_bench_clients.to_string());
    t.fact("hidden", hidden(cells));
    t
}

/// Facts for one server: `event_loop_open_p50`, `redis_server_open_verdict`, …
fn facts(t: &mut Table, c: &Cell) {
    let s = slug(c.server);
    t.fact(&format!("{s}_keys_ms"), fmt_ms(c.keys_ms()));
    t.fact(&format!("{s}_quiet_p99"), ms(c.quiet(|o| o.p99_us)));
    t.fact(&format!("{s}_open_p50"), ms(c.busy(|o| o.p50_us)));
    t.fact(&format!("{s}_open_p99"), ms(c.busy(|o| o.p99_us)));
    t.fact(&format!("{s}_open_max"), ms(c.busy(|o| o.max_us)));
    t.fact(&format!("{s}_closed_p50"), fmt_ms(c.closed(|s| s.p50_ms)));
    t.fact(&format!("{s}_closed_p99"), fmt_ms(c.closed(|s| s.p99_ms)));
    t.fact(&format!("{s}_lag_p99"), ms(c.busy(|o| o.lag_p99_us)));
    t.fact(&format!("{s}_open_verdict"), c.open_stall().says());
    t.fact(&format!("{s}_closed_verdict"), c.closed_stall().says());
}

fn verdict_note(plan: &Plan, c: &Cell) -> String {
    let errors = c.busy(|o| o.errors);
    format!(
        "Measured: {}: with KEYS looping (each {} ms), from the intended start GET p50 {} ms, \
         p99 {} ms ({}); redis-benchmark saw p50 {} ms, p99 {} ms ({}). The open model sent {} \
         of the {} GETs per second asked for{}.",
        c.server.name(),
        fmt_ms(c.keys_ms()),
        ms(c.busy(|o| o.p50_us)),
        ms(c.busy(|o| o.p99_us)),
        c.open_stall().says(),
        fmt_ms(c.closed(|s| s.p50_ms)),
        fmt_ms(c.closed(|s| s.p99_ms)),
        c.closed_stall().says(),
        fmt_int(c.busy(|o| o.sent_rate)),
        fmt_int(plan.hol_rate),
        if errors > 0.0 {
            format!(", and {} failed or went unanswered", fmt_int(errors))
        } else {
            String::new()
        }
    )
}

/// How much of the waiting under the KEYS loop was the generator's own:
/// with the servers unpinned on two cores, a busy server can take the
/// generator's core, and a late send counts in the latency from the
/// intended start.
fn lag_note(cells: &[Cell]) -> String {
    let rows: Vec<(String, f64, f64)> = cells
        .iter()
        .map(|c| {
            (
                c.server.name().to_owned(),
                c.busy(|o| o.lag_p99_us) / 1e3,
                c.busy(|o| o.p50_us) / 1e3,
            )
        })
        .collect();
    lag_sentence(&rows)
}

/// `rows`: (server, generator lag p99 ms, open p50 ms) under the KEYS loop.
fn lag_sentence(rows: &[(String, f64, f64)]) -> String {
    // Where the generator's p99 lag is under a quarter of the typical
    // latency, the typical wait is the server's.
    let (small, large): (Vec<_>, Vec<_>) = rows
        .iter()
        .filter(|(_, lag, _)| lag.is_finite())
        .partition(|(_, lag, p50)| *lag < 0.25 * p50);
    let list = |v: &[&(String, f64, f64)]| {
        v.iter()
            .map(|(s, lag, p50)| {
                format!(
                    "{s} {} ms against a p50 of {} ms",
                    fmt_ms(*lag),
                    fmt_ms(*p50)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (small.is_empty(), large.is_empty()) {
        (_, true) => format!(
            "under the KEYS loop the generator's own lag p99 stayed under a quarter of the \
             typical latency for every server ({}), so the waiting is the servers'",
            list(&small)
        ),
        (true, false) => format!(
            "under the KEYS loop the generator's own lag p99 was a large part of the typical \
             latency for every server ({}): these rows measure the generator as much as the \
             servers",
            list(&large)
        ),
        (false, false) => format!(
            "under the KEYS loop the generator's own lag p99 stayed under a quarter of the \
             typical latency for {} ({}), but not for {} ({}), where part of the wait is the \
             generator's, not the server's",
            small
                .iter()
                .map(|r| r.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            list(&small),
            large
                .iter()
                .map(|r| r.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            list(&large)
        ),
    }
}

/// What the closed loop hid: the servers whose GETs waited more, measured
/// from the intended start, than redis-benchmark's percentiles say.
fn hidden(cells: &[Cell]) -> String {
    let worse: Vec<String> = cells
        .iter()
        .filter(|c| c.open_stall() > c.closed_stall())
        .map(|c| {
            format!(
                "{} (redis-benchmark: {}; open model: {})",
                c.server.name(),
                c.closed_stall().says(),
                c.open_stall().says()
            )
        })
        .collect();
    hidden_sentence(&worse, cells.len())
}

fn hidden_sentence(worse: &[String], of: usize) -> String {
    match worse.len() {
        0 => "in this run the open model and redis-benchmark reached the same verdict for \
              every server"
            .into(),
        n if n == of => format!(
            "for every server, the open model found more GETs waiting for a KEYS than \
             redis-benchmark's percentiles show: {}",
            worse.join("; ")
        ),
        n => format!(
            "for {n} of the {of} servers, the open model found more GETs waiting for a KEYS \
             than redis-benchmark's percentiles show: {}",
            worse.join("; ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_note_says_whose_wait_it_is() {
        let row = |s: &str, lag: f64, p50: f64| (s.to_owned(), lag, p50);
        let all_small = lag_sentence(&[row("a", 0.1, 5.0), row("b", 1.0, 30.0)]);
        assert!(
            all_small.contains("so the waiting is the servers'"),
            "{all_small}"
        );
        let mixed = lag_sentence(&[row("a", 0.1, 5.0), row("b", 2.0, 3.0)]);
        assert!(mixed.contains("but not for b"), "{mixed}");
        let all_large = lag_sentence(&[row("a", 4.0, 5.0)]);
        assert!(all_large.contains("measure the generator"), "{all_large}");
    }

    #[test]
    fn stall_follows_the_numbers() {
        assert!(Stall::Typical > Stall::Some && Stall::Rarely > Stall::Nobody);
    }

    #[test]
    fn hidden_counts_servers() {
        assert!(hidden_sentence(&[], 4).contains("same verdict"));
        let one = hidden_sentence(&["event-loop (x)".into()], 4);
        assert!(one.starts_with("for 1 of the 4 servers") && one.contains("event-loop (x)"));
        assert!(hidden_sentence(&["a".into(), "b".into()], 2).starts_with("for every server"));
    }

    #[test]
    fn open_reads_the_summary() {
        let run = GenRun {
            json: serde_json::json!({
                "latency": {"p50_us": 1500.0, "p99_us": 9000.0, "max_us": 12000.0},
                "sent_rate": 499.0, "sent": 2500, "ok": 2498,
                "self_check": {"findings": []}
            }),
            wall_s: 5.0,
            cpu_s: 0.1,
        };
        let o = Open::of(&run);
        assert_eq!((o.p50_us, o.p99_us, o.max_us), (1500.0, 9000.0, 12000.0));
        assert_eq!(o.errors, 2.0);
        assert_eq!(o.check, "ok");
    }
}
