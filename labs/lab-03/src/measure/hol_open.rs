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

use anyhow::Result;
use kit::fmt::{fmt_int, fmt_ms};
use kit::procfs;
use kit::redis_benchmark::{self as bench, Load, Sample};
use kit::stats::{Stall, med};
use lab_02::launch::{Server, Target};
use report::Table;

use super::keys_loop::{self, HasKeysRound, KeysRound, Says, lag_sentence, open_command};
use super::lab02::{self, slug};
use super::tools::GEN_CPU;
use super::{Plan, ms};

/// One round on one server: the open-model runs, and redis-benchmark
/// under the same KEYS loop.
#[derive(Debug, Clone)]
struct Round {
    open: KeysRound,
    closed: Sample,
}

impl HasKeysRound for Round {
    fn keys_round(&self) -> &KeysRound {
        &self.open
    }
}

type Cell = keys_loop::Cell<Target, Round>;

impl Cell {
    fn closed(&self, f: fn(&Sample) -> f64) -> f64 {
        med(&self.rounds, |r| f(&r.closed))
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
    let (open, closed) = KeysRound::run(plan, server, |server| closed_run(plan, server))?;
    Ok(Round { open, closed })
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
        cells.push(Cell::new(target));
    }
    for r in 0..plan.rounds {
        for target in kit::stats::rotated(&Target::ALL, r) {
            let (Some(server), Some(cell)) = (
                servers.iter_mut().find(|s| s.target == target),
                cells.iter_mut().find(|c| c.of == target),
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
        t.row(vec![
            c.of.name().into(),
            "off".into(),
            String::new(),
            ms(c.quiet(|o| o.p50_us)),
            ms(c.quiet(|o| o.p99_us)),
            ms(c.quiet(|o| o.max_us)),
            String::new(),
            String::new(),
            ms(c.quiet(|o| o.lag_p99_us)),
            c.check(|r| &r.quiet),
        ]);
        t.row(vec![
            c.of.name().into(),
            "on".into(),
            fmt_ms(c.keys_ms()),
            ms(c.busy(|o| o.p50_us)),
            ms(c.busy(|o| o.p99_us)),
            ms(c.busy(|o| o.max_us)),
            fmt_ms(c.closed(|s| s.p50_ms)),
            fmt_ms(c.closed(|s| s.p99_ms)),
            ms(c.busy(|o| o.lag_p99_us)),
            c.check(|r| &r.busy),
        ]);
        facts(&mut t, c);
    }
    t.note(format!(
        "Each server holds {} keys (written beforehand with MSET; the servers not pinned, \
         `--threads {threads}` for the multi-threaded models; generators on CPU {GEN_CPU}). \
         Open model: `{}`, \
         once on the quiet server (off rows) and once while another client loops \
         `KEYS nomatch*` back to back (on rows); p50, p99 and max run from each GET's intended \
         start. Then, under the same loop, redis-benchmark `-c {} -P 1 -t get -r {}`, sized by \
         a probe to last about {} s: its own percentiles, from each GET's send. Median of {} \
         round(s), servers visited in rotating order.",
        fmt_int(plan.hol_keys as f64),
        open_command(plan),
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
    let s = slug(c.of);
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
        c.of.name(),
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
                c.of.name().to_owned(),
                c.busy(|o| o.lag_p99_us) / 1e3,
                c.busy(|o| o.p50_us) / 1e3,
            )
        })
        .collect();
    lag_sentence(&rows)
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
                c.of.name(),
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
    fn hidden_counts_servers() {
        assert!(hidden_sentence(&[], 4).contains("same verdict"));
        let one = hidden_sentence(&["event-loop (x)".into()], 4);
        assert!(one.starts_with("for 1 of the 4 servers") && one.contains("event-loop (x)"));
        assert!(hidden_sentence(&["a".into(), "b".into()], 2).starts_with("for every server"));
    }
}
