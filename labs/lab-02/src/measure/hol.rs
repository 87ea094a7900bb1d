//! Experiment 3: head-of-line blocking. Who waits for a slow command?
//!
//! Each server holds K keys. redis-benchmark's GETs (20 clients, no
//! pipelining) run once on a quiet server and once while another client
//! loops `KEYS nomatch*`, a walk of the whole keyspace that returns nothing.
//! The claim under test: on an event loop (and in redis-server) every client
//! waits for each KEYS; with a task per connection only the clients sharing
//! the busy worker thread wait; with a thread per core, those whose commands
//! touch the busy core. The GET latencies say what actually happens.
//!
//! Under the KEYS loop a server may serve a few hundred GETs a second, so
//! the request count is sized from a short probe run to last about
//! `hol_busy_secs`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kit::machine::{Conditions, Watch, conditions_note, watched};
use kit::procfs;
use kit::redis_benchmark::{self as bench, Load, Sample};
use report::Table;
use serde::Serialize;

use super::Plan;
use super::rotation;
use crate::launch::{Launch, Looper, Server, Target};
use crate::resp::Frame;
use kit::fmt::{fmt_int, fmt_ms, fmt_pct, fmt_ratio};
use kit::stats::{Stall, med, median};

/// The slow command: walks every key, matches none.
const KEYS_ARGS: [&[u8]; 2] = [b"KEYS", b"nomatch*"];
/// KEYS calls timed on a quiet server, per server.
const KEYS_ALONE: usize = 3;

/// One round on one server.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HolRound {
    /// GETs, nothing else running.
    pub quiet: Sample,
    /// GETs while KEYS loops.
    pub busy: Sample,
    /// Each KEYS call's duration during the busy runs, in ms.
    pub keys_ms: Vec<f64>,
}

/// All rounds on one server.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HolCell {
    pub server: Target,
    /// How long writing the K keys took, in seconds.
    pub fill_s: f64,
    /// KEYS on the quiet server, in ms.
    pub keys_alone_ms: Vec<f64>,
    pub rounds: Vec<HolRound>,
}

impl HolCell {
    fn quiet(&self, f: fn(&Sample) -> f64) -> f64 {
        med(&self.rounds, |r| f(&r.quiet))
    }

    fn busy(&self, f: fn(&Sample) -> f64) -> f64 {
        med(&self.rounds, |r| f(&r.busy))
    }

    /// Median KEYS duration while GETs ran.
    fn keys_busy_ms(&self) -> f64 {
        let all: Vec<f64> = self.rounds.iter().flat_map(|r| r.keys_ms.clone()).collect();
        median(&all)
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    pub keys: u64,
    pub threads: usize,
    pub cells: Vec<HolCell>,
    pub conditions: Conditions,
}

/// Times KEYS on a quiet server.
fn keys_alone(server: &Server) -> Result<Vec<f64>> {
    let mut c = server.client()?;
    c.set_timeout(Some(Duration::from_secs(120)))?;
    (0..KEYS_ALONE)
        .map(|_| {
            let t = Instant::now();
            let reply = c.cmd(&KEYS_ARGS)?;
            if !matches!(reply, Frame::Array(Some(_))) {
                bail!("KEYS answered {reply:?}");
            }
            Ok(t.elapsed().as_secs_f64() * 1e3)
        })
        .collect()
}

fn get_load(plan: &Plan, requests: u64) -> Load {
    Load {
        test: "get",
        clients: plan.hol_clients,
        pipeline: 1,
        requests,
        keyspace: plan.hol_keys,
        cpus: None,
    }
}

/// GETs under the KEYS loop: a probe to learn the rate, then a run sized to
/// last about `plan.hol_busy_secs` (at least `plan.hol_min_busy` requests,
/// at most the quiet run's count).
fn busy_run(plan: &Plan, server: &mut Server) -> Result<(Sample, Vec<f64>)> {
    let probe_n = u64::from(plan.hol_clients) * 10;
    let keys = Looper::start(server, &KEYS_ARGS, |r| matches!(r, Frame::Array(Some(_))))?;
    let probe = bench::measure(server.port, &mut server.process, &get_load(plan, probe_n))?;
    let sized = (probe.rps * plan.hol_busy_secs) as u64;
    let least = plan.hol_min_busy.min(plan.hol_requests);
    let n = sized.clamp(least, plan.hol_requests);
    let busy = bench::measure(server.port, &mut server.process, &get_load(plan, n))?;
    let keys_ms = keys.finish()?;
    Ok((busy, keys_ms))
}

/// Starts and fills every server, then runs the rounds.
pub(crate) fn run(plan: &Plan) -> Result<Outcome> {
    let threads = procfs::cores();
    let (cells, conditions) = watched(Watch::children(plan.warm_up), || {
        let mut servers = Vec::new();
        let mut cells = Vec::new();
        for target in Target::ALL {
            let server = Server::start(&Launch::new(target, threads))?;
            let fill = server
                .fill(plan.hol_keys)
                .with_context(|| format!("filling {}", target.name()))?;
            cells.push(HolCell {
                server: target,
                fill_s: fill.as_secs_f64(),
                keys_alone_ms: keys_alone(&server)?,
                rounds: Vec::new(),
            });
            servers.push(server);
        }
        for round in 0..plan.rounds {
            for target in rotation(round) {
                let (Some(server), Some(cell)) = (
                    servers.iter_mut().find(|s| s.target == target),
                    cells.iter_mut().find(|c| c.server == target),
                ) else {
                    continue;
                };
                let quiet = bench::measure(
                    server.port,
                    &mut server.process,
                    &get_load(plan, plan.hol_requests),
                )?;
                let (busy, keys_ms) = busy_run(plan, server)?;
                cell.rounds.push(HolRound {
                    quiet,
                    busy,
                    keys_ms,
                });
            }
            eprintln!("  head-of-line round {}/{} done", round + 1, plan.rounds);
        }
        anyhow::Ok(cells)
    })?;
    Ok(Outcome {
        keys: plan.hol_keys,
        threads,
        cells,
        conditions,
    })
}

/// The `head-of-line` table.
pub(crate) fn table(plan: &Plan, o: &Outcome) -> Table {
    let mut t = Table::new(
        "head-of-line",
        "Head-of-line blocking: GET latency while another client loops KEYS",
        &[
            "server",
            "KEYS loop",
            "GET req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "one KEYS, ms",
            "p99 vs quiet",
        ],
    )
    .numeric(&[2, 3, 4, 5, 6, 7]);
    for c in &o.cells {
        t.row(vec![
            c.server.name().to_owned(),
            "off".to_owned(),
            fmt_int(c.quiet(|s| s.rps)),
            fmt_ms(c.quiet(|s| s.p50_ms)),
            fmt_ms(c.quiet(|s| s.p99_ms)),
            fmt_ms(c.quiet(|s| s.max_ms)),
            fmt_ms(median(&c.keys_alone_ms)),
            String::new(),
        ]);
        t.row(vec![
            c.server.name().to_owned(),
            "on".to_owned(),
            fmt_int(c.busy(|s| s.rps)),
            fmt_ms(c.busy(|s| s.p50_ms)),
            fmt_ms(c.busy(|s| s.p99_ms)),
            fmt_ms(c.busy(|s| s.max_ms)),
            fmt_ms(c.keys_busy_ms()),
            fmt_ratio(c.busy(|s| s.p99_ms) / c.quiet(|s| s.p99_ms)),
        ]);
    }
    t.note(format!(
        "Each server holds {} keys (written beforehand in pipelined batches; \
         nothing pinned, `--threads {}` for the multi-threaded models). GETs: redis-benchmark \
         `-c {} -P 1 -t get -r {}`, {} requests when quiet; under the KEYS loop a short probe \
         measures the rate and the run is sized to last about {} s (at least {} requests). The KEYS loop is one more \
         client sending `KEYS nomatch*` back to back. Median of {} round(s).",
        fmt_int(o.keys as f64),
        o.threads,
        plan.hol_clients,
        o.keys,
        fmt_int(plan.hol_requests as f64),
        plan.hol_busy_secs,
        fmt_int(plan.hol_min_busy as f64),
        plan.rounds
    ));
    t.note(
        "One KEYS, ms: the median time one `KEYS nomatch*` took, as its client saw it: on the \
         quiet server (off rows) and while the GETs ran (on rows).",
    );
    for c in &o.cells {
        t.note(verdict(c));
        let key = c.server.name().replace('-', "_");
        let (p50, p99, max) = (
            c.busy(|s| s.p50_ms),
            c.busy(|s| s.p99_ms),
            c.busy(|s| s.max_ms),
        );
        t.fact(&format!("{key}_p50"), fmt_ms(p50));
        t.fact(&format!("{key}_p99"), fmt_ms(p99));
        t.fact(
            &format!("{key}_throughput"),
            fmt_pct(c.busy(|s| s.rps) / c.quiet(|s| s.rps)),
        );
        t.fact(
            &format!("{key}_verdict"),
            stall_verdict(p50, p99, max, c.keys_busy_ms()),
        );
    }
    t.fact("keys", fmt_int(o.keys as f64));
    t.fact("clients", plan.hol_clients.to_string());
    t.note(conditions_note(&o.conditions));
    t
}

/// Who waited, from the numbers (the kit's [`Stall`] rule: a quarter of a
/// KEYS or more counts as having waited for one).
fn stall_verdict(p50_ms: f64, p99_ms: f64, max_ms: f64, keys_ms: f64) -> &'static str {
    match Stall::of(p50_ms, p99_ms, max_ms, keys_ms) {
        Stall::Typical => "the typical GET waited for a KEYS: every client stalled behind it",
        Stall::Some => "the typical GET did not wait, but more than 1% did: some clients stalled",
        Stall::Rarely => {
            "fewer than 1% of GETs waited for a KEYS: the slow command rarely blocked anyone"
        }
        Stall::Nobody => "no GET waited for a KEYS",
    }
}

/// One server's verdict note.
fn verdict(c: &HolCell) -> String {
    let keys = c.keys_busy_ms();
    let (p50, p99, max) = (
        c.busy(|s| s.p50_ms),
        c.busy(|s| s.p99_ms),
        c.busy(|s| s.max_ms),
    );
    let who = stall_verdict(p50, p99, max, keys);
    format!(
        "Measured: {}: with KEYS looping (each {} ms), GET p50 {} ms, p99 {} ms, max {} ms \
         (quiet: p50 {} ms, p99 {} ms), GET throughput {} of quiet: {who}.",
        c.server.name(),
        fmt_ms(keys),
        fmt_ms(p50),
        fmt_ms(p99),
        fmt_ms(max),
        fmt_ms(c.quiet(|s| s.p50_ms)),
        fmt_ms(c.quiet(|s| s.p99_ms)),
        fmt_pct(c.busy(|s| s.rps) / c.quiet(|s| s.rps)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_numbers() {
        assert!(stall_verdict(10.0, 20.0, 30.0, 15.0).contains("every client"));
        assert!(stall_verdict(0.3, 12.0, 30.0, 15.0).contains("more than 1%"));
        assert!(stall_verdict(0.3, 0.9, 30.0, 15.0).contains("rarely"));
        assert!(stall_verdict(0.3, 0.9, 1.0, 15.0).contains("no GET"));
    }
}
