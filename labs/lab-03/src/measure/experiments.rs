//! Experiments 1–4: the generator against lab-03's own HTTP target.

use std::time::Duration;

use anyhow::Result;
use kit::fmt::{fmt_duration, fmt_int, fmt_pct};
use report::{Plot, PlotKind, Series, Table};

use crate::selfcheck::{LAG_P99_LIMIT_US, RATE_FLOOR, SIGNALS};

use kit::process::Hog;

use super::tools::{self, GEN_CPU, GenRun, HttpTarget, SERVER_CPU};
use super::{Plan, ms};

/// `10s`, `500ms`: as a reader would type it.
fn secs(d: Duration) -> String {
    kit::duration::to_arg(d)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// `lab-03 http URL` with the given options.
fn http(url: &str, extra: &[String]) -> Result<GenRun> {
    let mut a = args(&["http", url]);
    a.extend_from_slice(extra);
    tools::lab03(&a)
}

// ---------------------------------------------------------------- 1

/// Connections of every rate-accuracy run.
const RATE_CONNECTIONS: usize = 50;
/// The rate of the rate-accuracy row with Poisson arrivals.
const POISSON_RATE: f64 = 10_000.0;

/// `one in 1,000`: a share as its reciprocal.
fn one_in(share: f64) -> String {
    format!("one in {}", fmt_int(1.0 / share))
}

pub fn rate_accuracy(plan: &Plan) -> Result<Table> {
    let target = HttpTarget::start(&[], Some(SERVER_CPU))?;
    let conns = RATE_CONNECTIONS.to_string();
    let mut t = Table::new(
        "rate-accuracy",
        "Open model: requests sent against requests scheduled",
        &[
            "target req/s",
            "arrivals",
            "sent req/s",
            "error",
            "lag p99 (ms)",
            "latency p99 (ms)",
            "generator busy",
            "self-check",
        ],
    )
    .numeric(&[0, 2, 3, 4, 5, 6]);
    let mut worst: f64 = 0.0;
    let mut lag_p99_us: Vec<f64> = Vec::new();
    let mut warned = 0;
    // (rate, busy share) of the highest constant rate.
    let mut top = (0.0, 0.0);
    let mut rows: Vec<(f64, &str)> = plan.rates.iter().map(|&r| (r, "constant")).collect();
    rows.push((POISSON_RATE, "poisson"));
    for (rate, arrival) in rows {
        let run = http(
            &target.url(),
            &args(&[
                "--rate",
                &rate.to_string(),
                "--arrival",
                arrival,
                "-c",
                &conns,
                "-d",
                &secs(plan.rate_run),
            ]),
        )?;
        let sent = run.f("sent_rate");
        // Poisson arrivals are random: their count is not exact by design.
        let err = sent / rate - 1.0;
        if arrival == "constant" {
            worst = worst.max(err.abs());
            if rate >= top.0 {
                top = (rate, run.f("self_check.busy_share"));
            }
        }
        lag_p99_us.push(run.f("lag.p99_us"));
        if !run.generator_findings().is_empty() {
            warned += 1;
        }
        t.row(vec![
            fmt_int(rate),
            arrival.into(),
            fmt_int(sent),
            format!("{:+.2}%", err * 100.0),
            ms(run.f("lag.p99_us")),
            ms(run.f("latency.p99_us")),
            fmt_pct(run.f("self_check.busy_share")),
            run.verdict(),
        ]);
    }
    t.note(format!(
        "Command per row: `lab-03 http URL --rate R --arrival A -c {conns} -d {}`, pinned to CPU {GEN_CPU}; the target (`lab-03 target`, one thread) on CPU {SERVER_CPU}. `sent` counts requests written within the window; `error` is sent / target − 1.",
        secs(plan.rate_run)
    ));
    t.note(format!(
        "Largest error at a constant rate: {:.2}% — {} the 1% bound.",
        worst * 100.0,
        if worst <= 0.01 { "within" } else { "outside" }
    ));
    // A Poisson count of mean N has a standard deviation of √N.
    let expected = POISSON_RATE * plan.rate_run.as_secs_f64();
    t.note(format!(
        "A Poisson schedule's count is itself random (one standard deviation is ±{:.2}% at {} req/s for {}), so its row shows the process, not the pacing error.",
        100.0 / expected.sqrt(),
        fmt_int(POISSON_RATE),
        fmt_duration(plan.rate_run)
    ));
    t.fact("run", fmt_duration(plan.rate_run));
    t.fact("run_arg", secs(plan.rate_run));
    t.fact(
        "rate_arg",
        plan.rates.first().map_or(0.0, |&r| r).to_string(),
    );
    t.fact("connections", conns.clone());
    t.fact(
        "lag_verdict",
        lag_verdict(
            lag_p99_us.iter().copied().fold(0.0, f64::max),
            warned,
            lag_p99_us.len(),
        ),
    );
    t.fact("busy_verdict", busy_verdict(top.0, top.1));
    Ok(t)
}

/// What the `lag` column says, against the self-check's limit.
fn lag_verdict(max_lag_p99_us: f64, warned: usize, rows: usize) -> String {
    let lag = format!(
        "its p99 is at most {} ms, {} the self-check's limit of {} ms",
        ms(max_lag_p99_us),
        if max_lag_p99_us <= LAG_P99_LIMIT_US {
            "within"
        } else {
            "beyond"
        },
        ms(LAG_P99_LIMIT_US)
    );
    let check = match warned {
        0 => "the self-check stays quiet".to_owned(),
        n if n == rows => "the self-check warns in every row".to_owned(),
        n => format!("the self-check warns in {n} of {rows} rows"),
    };
    format!("At every rate here {lag}, and {check}")
}

/// Where one thread's budget ends, from the busy share at the top rate.
fn busy_verdict(top_rate: f64, busy: f64) -> String {
    let rate = format!("{} req/s", fmt_int(top_rate));
    if busy >= 0.5 {
        format!(
            "at {rate}, the loop works {} of the time, and a higher rate needs `--threads`",
            fmt_pct(busy)
        )
    } else {
        format!(
            "even at {rate} the loop works only {} of the time: one thread has room to spare",
            fmt_pct(busy)
        )
    }
}

// ---------------------------------------------------------------- 2

pub fn stall(plan: &Plan) -> Result<(Table, Plot, Plot)> {
    let stall_args = [
        "--stall-every".to_owned(),
        secs(plan.stall_every),
        "--stall-for".to_owned(),
        secs(plan.stall_for),
    ];
    let stall_refs: Vec<&str> = stall_args.iter().map(String::as_str).collect();
    let run_for = secs(plan.stall_run);
    let conns = plan.stall_connections.to_string();
    // A fresh target per run, so every run meets the stalls at the same
    // moments of its own clock.
    let open = {
        let target = HttpTarget::start(&stall_refs, Some(SERVER_CPU))?;
        http(
            &target.url(),
            &args(&[
                "--rate",
                &plan.stall_rate.to_string(),
                "-c",
                &conns,
                "-d",
                &run_for,
            ]),
        )?
    };
    let closed = {
        let target = HttpTarget::start(&stall_refs, Some(SERVER_CPU))?;
        http(&target.url(), &args(&["-c", &conns, "-d", &run_for]))?
    };
    let wrk = {
        let target = HttpTarget::start(&stall_refs, Some(SERVER_CPU))?;
        tools::wrk(&target.url(), plan.stall_connections, plan.stall_run)?
    };

    let mut t = Table::new(
        "coordinated-omission",
        "A target that stalls: who sees it?",
        &[
            "generator",
            "latency measured from",
            "req/s",
            "p50 (ms)",
            "p90 (ms)",
            "p99 (ms)",
            "p99.9 (ms)",
            "max (ms)",
        ],
    )
    .numeric(&[2, 3, 4, 5, 6, 7]);
    let rate = format!("{} req/s", fmt_int(plan.stall_rate));
    let lab03_rows = [
        (
            format!("lab-03, open, {rate}"),
            "intended start",
            &open,
            "latency",
        ),
        (
            format!("lab-03, open, {rate}"),
            "send (service time)",
            &open,
            "service",
        ),
        (
            format!("lab-03, closed, {conns} connections"),
            "send",
            &closed,
            "service",
        ),
    ];
    for (generator, clock, run, key) in lab03_rows {
        let mut r = vec![generator, clock.to_owned(), fmt_int(run.f("ok_rate"))];
        for q in ["p50_us", "p90_us", "p99_us", "p999_us", "max_us"] {
            r.push(ms(run.f(&format!("{key}.{q}"))));
        }
        t.row(r);
    }
    t.row(vec![
        format!("wrk, {conns} connections"),
        "send".into(),
        fmt_int(wrk.rps),
        ms(wrk.p50_us),
        ms(wrk.p90_us),
        ms(wrk.p99_us),
        "-".into(),
        ms(wrk.max_us),
    ]);
    let corrected = open.f("latency.p99_us") / 1e3;
    let service = open.f("service.p99_us") / 1e3;
    t.note(format!(
        "Target: `lab-03 target --stall-every {} --stall-for {}` (CPU {SERVER_CPU}): nothing is answered for the last {} of every {}. Each generator ran {} against a fresh target on CPU {GEN_CPU}: `lab-03 http URL --rate {} -c {conns} -d {run_for}`, `lab-03 http URL -c {conns} -d {run_for}`, `wrk -t1 -c{conns} -d{}s --latency URL`.",
        secs(plan.stall_every), secs(plan.stall_for), secs(plan.stall_for), secs(plan.stall_every), run_for, plan.stall_rate, plan.stall_run.as_secs()
    ));
    t.note(format!(
        "Same run, two clocks: p99 from the intended start {} ms, from the send {} ms ({}: the stall demo wants ≥ 600 ms and < 10 ms).",
        stats_ms(corrected),
        stats_ms(service),
        if corrected >= 600.0 && service < 10.0 { "met" } else { "missed" },
    ));
    t.note(format!(
        "lab-03's closed model sends nothing while the target stalls, so the pause appears once per connection, in its max, and its p99 stays at {} ms. wrk's p99 of {} ms is its own after-the-fact correction: it adds the samples each connection would have taken at its average pace ({} req/s per connection here) during every slow response.",
        stats_ms(closed.f("service.p99_us") / 1e3),
        stats_ms(wrk.p99_us / 1e3),
        fmt_int(wrk.rps / plan.stall_connections as f64),
    ));
    t.fact("stall_every", fmt_duration(plan.stall_every));
    t.fact("stall_for", fmt_duration(plan.stall_for));
    t.fact("stall_every_arg", secs(plan.stall_every));
    t.fact("stall_for_arg", secs(plan.stall_for));
    t.fact("run", fmt_duration(plan.stall_run));
    t.fact("rate", rate.clone());
    t.fact("per_second", fmt_int(plan.stall_rate));
    t.fact("connections", conns.clone());
    let every_s = plan.stall_every.as_secs_f64();
    t.fact(
        "stall_share",
        one_in(plan.stall_for.as_secs_f64() / every_s),
    );
    // One request per connection is caught inside each stall.
    let stuck = plan.stall_connections as f64;
    t.fact("stuck_share_second", fmt_pct(stuck / plan.stall_rate));
    t.fact(
        "stuck_verdict",
        stuck_verdict(stuck / (plan.stall_rate * every_s)),
    );
    t.fact(
        "wrk_pace",
        format!("{} req/s", fmt_int(wrk.rps / plan.stall_connections as f64)),
    );

    let timeline: Vec<(f64, f64, f64)> = open.json["timeline"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["second"].as_f64().unwrap_or(f64::NAN),
                        s["latency_p99_us"].as_f64().unwrap_or(f64::NAN) / 1e3,
                        s["service_p99_us"].as_f64().unwrap_or(f64::NAN) / 1e3,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let timeline_plot = Plot {
        name: "stall-timeline".into(),
        title: format!(
            "p99 per second, open model at {rate}, target stalling {} every {}",
            secs(plan.stall_for),
            secs(plan.stall_every)
        ),
        kind: PlotKind::Line {
            x: timeline.iter().map(|p| p.0).collect(),
            log_x: false,
        },
        x_label: "second of the run".into(),
        y_label: "p99 latency (ms)".into(),
        log_y: true,
        series: vec![
            Series {
                name: "from intended start".into(),
                values: timeline.iter().map(|p| p.1).collect(),
            },
            Series {
                name: "from send".into(),
                values: timeline.iter().map(|p| p.2).collect(),
            },
        ],
    };
    let qs = [0.5, 0.9, 0.99];
    let keys = ["p50_us", "p90_us", "p99_us"];
    let spectrum = Plot {
        name: "stall-percentiles".into(),
        title: "The same stalling target, four views (lab-03 open and closed, wrk)".into(),
        kind: PlotKind::Bars {
            categories: qs.iter().map(|q| format!("p{}", q * 100.0)).collect(),
        },
        x_label: "percentile".into(),
        y_label: "latency (ms)".into(),
        log_y: true,
        series: vec![
            Series {
                name: "open, intended".into(),
                values: keys
                    .iter()
                    .map(|k| open.f(&format!("latency.{k}")) / 1e3)
                    .collect(),
            },
            Series {
                name: "open, send".into(),
                values: keys
                    .iter()
                    .map(|k| open.f(&format!("service.{k}")) / 1e3)
                    .collect(),
            },
            Series {
                name: "closed, send".into(),
                values: keys
                    .iter()
                    .map(|k| closed.f(&format!("service.{k}")) / 1e3)
                    .collect(),
            },
            Series {
                name: "wrk (corrected)".into(),
                values: vec![wrk.p50_us / 1e3, wrk.p90_us / 1e3, wrk.p99_us / 1e3],
            },
        ],
    };
    Ok((t, timeline_plot, spectrum))
}

/// Whether the requests caught inside the stalls are enough to move the
/// whole run's p99 from the send.
fn stuck_verdict(share_of_run: f64) -> String {
    if share_of_run < 0.01 {
        format!(
            "{}, too few to reach the p99 the table shows for the send",
            one_in(share_of_run)
        )
    } else {
        format!(
            "{}, enough to reach the p99 the table shows for the send",
            one_in(share_of_run)
        )
    }
}

fn stats_ms(v: f64) -> String {
    kit::fmt::fmt_ms(v)
}

// ---------------------------------------------------------------- 3

pub fn open_vs_closed(plan: &Plan) -> Result<Table> {
    let capacity = 1.0 / plan.service.as_secs_f64();
    let svc = secs(plan.service);
    let run_for = secs(plan.queue_run);
    let mut t = Table::new(
        "open-vs-closed",
        "A server with a fixed capacity, under each model",
        &[
            "model",
            "offered req/s",
            "arrived req/s",
            "served req/s",
            "latency p50 (ms)",
            "latency p99 (ms)",
            "service p99 (ms)",
            "blocked p99 (ms)",
        ],
    )
    .numeric(&[1, 2, 3, 4, 5, 6, 7]);
    // Served: good replies over the whole run, drain included, so that
    // requests still queued when the window closes count at their pace.
    let served = |run: &GenRun| run.f("ok") / run.f("elapsed_s");
    // (load, latency p99 ms) of each open row.
    let mut open_rows: Vec<(f64, f64)> = Vec::new();
    let mut closed_rows: Vec<ClosedRow> = Vec::new();
    for &load in &plan.loads {
        let target = HttpTarget::start(&["--service-time", &svc], Some(SERVER_CPU))?;
        let rate = capacity * load;
        let run = http(
            &target.url(),
            &args(&[
                "--rate",
                &rate.to_string(),
                "--arrival",
                "poisson",
                "-c",
                "200",
                "-d",
                &run_for,
            ]),
        )?;
        open_rows.push((load, run.f("latency.p99_us") / 1e3));
        t.row(vec![
            format!("open, Poisson, {:.0}% of capacity", load * 100.0),
            fmt_int(rate),
            fmt_int(run.f("sent_rate")),
            fmt_int(served(&run)),
            ms(run.f("latency.p50_us")),
            ms(run.f("latency.p99_us")),
            ms(run.f("service.p99_us")),
            ms(run.f("blocked.p99_us")),
        ]);
    }
    for &c in &plan.closed_connections {
        let target = HttpTarget::start(&["--service-time", &svc], Some(SERVER_CPU))?;
        let run = http(
            &target.url(),
            &args(&["-c", &c.to_string(), "-d", &run_for]),
        )?;
        closed_rows.push(ClosedRow {
            connections: c,
            served: served(&run),
            p50_ms: run.f("latency.p50_us") / 1e3,
        });
        t.row(vec![
            format!("closed, {c} connection{}", if c == 1 { "" } else { "s" }),
            "-".into(),
            fmt_int(run.f("sent_rate")),
            fmt_int(served(&run)),
            ms(run.f("latency.p50_us")),
            ms(run.f("latency.p99_us")),
            ms(run.f("service.p99_us")),
            ms(run.f("blocked.p99_us")),
        ]);
    }
    t.note(format!(
        "Target: `lab-03 target --service-time {svc}`: one request at a time, so its capacity is {} req/s however many connections send. Open rows: `lab-03 http URL --rate R --arrival poisson -c 200 -d {run_for}`; closed rows: `lab-03 http URL -c N -d {run_for}`. Latency is from the intended start (in the closed model, the moment the connection was free: the same as the send). Arrived: requests sent in the window per second (a Poisson count is random: this run's draw); served: good replies over the whole run, the drain after the window included.",
        fmt_int(capacity)
    ));
    t.note("The closed model never offers more than the server serves: with N connections it measures the queue of N it creates itself, and its rate is the server's capacity. The open model keeps arriving; near capacity the queue, and the latency users would see, grow without a bound the closed model can show.".to_string());
    let service_ms = plan.service.as_secs_f64() * 1e3;
    t.fact("service", fmt_duration(plan.service));
    t.fact("service_arg", svc.clone());
    t.fact("capacity", format!("{} req/s", fmt_int(capacity)));
    if let Some(first) = closed_rows.first() {
        t.fact(
            "fewest_verdict",
            fewest_verdict(first, capacity, &fmt_duration(plan.service)),
        );
    }
    t.fact(
        "closed_verdict",
        closed_verdict(&closed_rows, capacity, service_ms),
    );
    t.fact("open_verdict", open_verdict(&open_rows));
    Ok(t)
}

/// One closed-model row of `open-vs-closed`.
#[derive(Debug, Clone, Copy)]
struct ClosedRow {
    connections: usize,
    served: f64,
    p50_ms: f64,
}

fn connections(c: usize) -> String {
    format!("{c} connection{}", if c == 1 { "" } else { "s" })
}

/// Within 5% of the capacity, either way.
fn at_capacity(served: f64, capacity: f64) -> bool {
    (served / capacity - 1.0).abs() <= 0.05
}

/// The closed row with the fewest connections: does it reach capacity?
fn fewest_verdict(row: &ClosedRow, capacity: f64, service: &str) -> String {
    let served = format!("{} req/s", fmt_int(row.served));
    let with = connections(row.connections);
    if served_short(row.served, capacity) {
        format!(
            "With {with}, the closed model serves {served}, short of the capacity: it leaves the server idle between a reply and the next request, and the target's timers tick in whole milliseconds, which adds to every reply's {service}"
        )
    } else {
        format!("With {with}, the closed model already serves {served}, the capacity")
    }
}

fn served_short(served: f64, capacity: f64) -> bool {
    served < capacity * 0.95
}

/// Closed rows beyond the first: does latency grow with the connections
/// (N × the service time, the queue they form) while throughput stays put?
fn closed_verdict(rows: &[ClosedRow], capacity: f64, service_ms: f64) -> String {
    let queued: Vec<&ClosedRow> = rows.iter().skip(1).collect();
    let (Some(lo), Some(hi)) = (queued.first(), queued.last()) else {
        return "Too few closed rows to compare".to_owned();
    };
    let proportional = queued.iter().all(|r| {
        let k = r.p50_ms / (r.connections as f64 * service_ms);
        (0.8..=1.25).contains(&k)
    });
    let flat = queued.iter().all(|r| at_capacity(r.served, capacity));
    let growth = if queued.len() == 1 {
        format!(
            "latency p50 is {} ms with {}",
            kit::fmt::fmt_ms(hi.p50_ms),
            connections(hi.connections)
        )
    } else {
        format!(
            "latency p50 goes from {} ms with {} to {} ms with {}",
            kit::fmt::fmt_ms(lo.p50_ms),
            connections(lo.connections),
            kit::fmt::fmt_ms(hi.p50_ms),
            hi.connections
        )
    };
    match (proportional, flat) {
        (true, true) => format!(
            "Add connections and latency grows in proportion while throughput stays at capacity: {growth}"
        ),
        (false, true) => format!(
            "Add connections and throughput stays at capacity while {growth}, not in proportion to them"
        ),
        _ => format!("Add connections and {growth}, but throughput does not stay at capacity"),
    }
}

/// Open rows: latency p99 from the lowest load to the highest.
fn open_verdict(rows: &[(f64, f64)]) -> String {
    let (Some(&(lo, lo_p99)), Some(&(hi, hi_p99))) = (rows.first(), rows.last()) else {
        return "no open rows".to_owned();
    };
    format!(
        "latency p99 is {} ms at {} of capacity and {} {} ms at {}",
        kit::fmt::fmt_ms(lo_p99),
        fmt_pct(lo),
        if hi_p99 >= 2.0 * lo_p99 {
            "climbs steeply to"
        } else {
            "only reaches"
        },
        kit::fmt::fmt_ms(hi_p99),
        fmt_pct(hi)
    )
}

// ---------------------------------------------------------------- 4

/// The k6 target's fixed delay: a healthy server.
const K6_DELAY: Duration = Duration::from_millis(5);

/// One row of `k6-question`, for its verdicts.
#[derive(Debug, Clone, Copy)]
struct K6Row {
    connections: usize,
    cost: Duration,
    hog: bool,
    sent: f64,
    waiting_p99_ms: f64,
    server_p99_ms: f64,
}

fn cost_label(cost: Duration) -> String {
    format!("{} µs", cost.as_micros())
}

pub fn k6_question(plan: &Plan) -> Result<Table> {
    let run_for = secs(plan.k6_run);
    let delay = secs(K6_DELAY);
    let mut rows: Vec<K6Row> = Vec::new();
    let mut t = Table::new(
        "k6-question",
        "A healthy server, a generator with less and less CPU per request",
        &[
            "connections",
            "script cost / request",
            "competing on the generator's core",
            "sent req/s",
            "waiting p50 (ms)",
            "waiting p99 (ms)",
            "server's own p99 (ms)",
            "generator busy",
            "waited for a CPU",
            "lag p99 (ms)",
            "self-check",
        ],
    )
    .numeric(&[0, 3, 4, 5, 6, 7, 8, 9]);
    for &(conns, cost, hog) in &plan.k6_rows {
        let target = HttpTarget::start(&["--delay", &delay], Some(SERVER_CPU))?;
        let _hog = if hog {
            Some(Hog::start(GEN_CPU)?)
        } else {
            None
        };
        let run = http(
            &target.url(),
            &args(&[
                "--rate",
                &plan.k6_rate.to_string(),
                "-c",
                &conns.to_string(),
                "-d",
                &run_for,
                "--script-cost",
                &format!("{}us", cost.as_micros()),
            ]),
        )?;
        let server = target.stats()?;
        rows.push(K6Row {
            connections: conns,
            cost,
            hog,
            sent: run.f("sent_rate"),
            waiting_p99_ms: run.f("waiting.p99_us") / 1e3,
            server_p99_ms: server.p99_us as f64 / 1e3,
        });
        t.row(vec![
            fmt_int(conns as f64),
            cost_label(cost),
            if hog {
                "a busy loop".into()
            } else {
                "nothing".into()
            },
            fmt_int(run.f("sent_rate")),
            ms(run.f("waiting.p50_us")),
            ms(run.f("waiting.p99_us")),
            ms(server.p99_us as f64),
            fmt_pct(run.f("self_check.busy_share")),
            fmt_pct(run.f("self_check.runqueue_share")),
            ms(run.f("lag.p99_us")),
            run.verdict(),
        ]);
    }
    t.note(format!(
        "Target: `lab-03 target --delay {delay}` on CPU {SERVER_CPU}, a fresh one per row; its own p99 is read from `/__stats` (request read to response written). Generator on CPU {GEN_CPU}: `lab-03 http URL --rate {} -c N -d {run_for} --script-cost C`. The script cost burns C of CPU before each send, as a k6 virtual user runs its JavaScript; the last row instead runs a busy loop on the generator's core.",
        plan.k6_rate
    ));
    let rate = format!("{} req/s", fmt_int(plan.k6_rate));
    t.fact("delay", fmt_duration(K6_DELAY));
    t.fact("rate", rate.clone());
    t.fact(
        "interval",
        fmt_duration(Duration::from_secs_f64(1.0 / plan.k6_rate)),
    );
    t.fact("signals", SIGNALS.len().to_string());
    t.fact("server_verdict", server_verdict(&rows));
    t.fact("connections_verdict", connections_verdict(&rows));
    t.fact("behind_verdict", behind_verdict(&rows, plan.k6_rate));
    t.fact("hog_verdict", hog_verdict(&rows));
    Ok(t)
}

/// Does the server's own p99 move while the client's `waiting` does?
fn server_verdict(rows: &[K6Row]) -> String {
    let lo = rows
        .iter()
        .map(|r| r.server_p99_ms)
        .fold(f64::INFINITY, f64::min);
    let hi = rows.iter().map(|r| r.server_p99_ms).fold(0.0, f64::max);
    let waiting = rows.iter().map(|r| r.waiting_p99_ms).fold(0.0, f64::max);
    let range = format!(
        "{} ms and {} ms",
        kit::fmt::fmt_ms(lo),
        kit::fmt::fmt_ms(hi)
    );
    if hi <= 1.5 * lo && waiting > 2.0 * hi {
        format!(
            "stays between {range} while the client's `waiting` p99 reaches {} ms: the server is as healthy as the article says",
            kit::fmt::fmt_ms(waiting)
        )
    } else if hi <= 1.5 * lo {
        format!("stays between {range}, and so does the client's `waiting`, within a factor of two")
    } else {
        format!("moves between {range}: the server itself slows down in some rows")
    }
}

/// The rows with no script cost and nothing competing, by connections.
fn baseline(rows: &[K6Row]) -> Vec<&K6Row> {
    rows.iter().filter(|r| r.cost.is_zero() && !r.hog).collect()
}

/// Do many idle connections cost anything by themselves?
fn connections_verdict(rows: &[K6Row]) -> String {
    let base = baseline(rows);
    let lo = base.iter().min_by_key(|r| r.connections);
    let hi = base.iter().max_by_key(|r| r.connections);
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return "No rows without a script cost".to_owned();
    };
    if lo.connections == hi.connections {
        return "Every row without a script cost has the same connections".to_owned();
    }
    let counts = format!(
        "{} connections instead of {}",
        fmt_int(hi.connections as f64),
        fmt_int(lo.connections as f64)
    );
    let values = format!(
        "`waiting` p99 {} ms against {} ms",
        kit::fmt::fmt_ms(hi.waiting_p99_ms),
        kit::fmt::fmt_ms(lo.waiting_p99_ms)
    );
    if (hi.waiting_p99_ms / lo.waiting_p99_ms - 1.0).abs() <= 0.1 {
        format!(
            "{counts} change nothing by themselves ({values}): an idle connection costs an event loop nothing per request"
        )
    } else {
        format!("{counts} change `waiting` by themselves ({values})")
    }
}

/// The first script cost at which the generator misses its schedule.
fn behind_verdict(rows: &[K6Row], rate: f64) -> String {
    let behind = rows.iter().find(|r| !r.hog && r.sent < RATE_FLOOR * rate);
    match behind {
        Some(r) => format!(
            "Past that point, in the `{}` row, the generator cannot keep up at all: it sends {} of the {} req/s scheduled, requests leave late, replies are read later still, and `waiting` describes almost nothing but the generator. That is the seed's symptom in full",
            cost_label(r.cost),
            fmt_int(r.sent),
            fmt_int(rate)
        ),
        None => {
            "No row here pushes the generator past its schedule: every one sends what it promised"
                .to_owned()
        }
    }
}

/// A busy loop on the generator's core, against the same row without it.
fn hog_verdict(rows: &[K6Row]) -> String {
    let Some(hog) = rows.iter().find(|r| r.hog) else {
        return "No row starves the generator with another process".to_owned();
    };
    let Some(plain) = baseline(rows)
        .into_iter()
        .find(|r| r.connections == hog.connections)
    else {
        return "No row to compare the starved generator with".to_owned();
    };
    let values = format!(
        "`waiting` p99 {} ms instead of {} ms",
        kit::fmt::fmt_ms(hog.waiting_p99_ms),
        kit::fmt::fmt_ms(plain.waiting_p99_ms)
    );
    let worst = rows
        .iter()
        .filter(|r| !r.hog)
        .map(|r| r.waiting_p99_ms)
        .fold(0.0, f64::max);
    if hog.waiting_p99_ms > 1.1 * plain.waiting_p99_ms {
        format!(
            "Starved by another process (the busy-loop row), the generator shows {} form of the same effect: {values}",
            if hog.waiting_p99_ms < worst {
                "a milder"
            } else {
                "a stronger"
            }
        )
    } else {
        format!(
            "Starved by another process (the busy-loop row), the generator shows no such effect here: {values}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k6(connections: usize, cost_us: u64, hog: bool, sent: f64, waiting: f64) -> K6Row {
        K6Row {
            connections,
            cost: Duration::from_micros(cost_us),
            hog,
            sent,
            waiting_p99_ms: waiting,
            server_p99_ms: 6.0,
        }
    }

    #[test]
    fn shares_read_as_one_in_n() {
        assert_eq!(one_in(0.1), "one in 10");
        assert_eq!(one_in(0.001), "one in 1,000");
        assert!(stuck_verdict(0.001).contains("too few"));
        assert!(stuck_verdict(0.02).contains("enough"));
    }

    #[test]
    fn the_lag_verdict_follows_the_limit_and_the_warnings() {
        let quiet = lag_verdict(64.0, 0, 7);
        assert!(
            quiet.contains("within") && quiet.contains("stays quiet"),
            "{quiet}"
        );
        let loud = lag_verdict(1_500.0, 2, 7);
        assert!(loud.contains("beyond") && loud.contains("2 of 7"), "{loud}");
        assert!(busy_verdict(50_000.0, 0.8).contains("`--threads`"));
        assert!(busy_verdict(50_000.0, 0.2).contains("room to spare"));
    }

    #[test]
    fn closed_rows_grow_in_proportion_or_say_not() {
        let row = |connections, served, p50_ms| ClosedRow {
            connections,
            served,
            p50_ms,
        };
        let good = [
            row(1, 162.0, 6.2),
            row(10, 200.0, 50.1),
            row(100, 200.0, 500.0),
        ];
        assert!(closed_verdict(&good, 200.0, 5.0).contains("in proportion while"));
        assert!(closed_verdict(&good[..2], 200.0, 5.0).ends_with("50.1 ms with 10 connections"));
        let flat = [
            row(1, 162.0, 6.2),
            row(10, 200.0, 6.0),
            row(100, 200.0, 7.0),
        ];
        assert!(closed_verdict(&flat, 200.0, 5.0).contains("not in proportion"));
        assert!(fewest_verdict(&good[0], 200.0, "5 ms").contains("short of"));
        assert!(fewest_verdict(&row(1, 199.0, 5.0), 200.0, "5 ms").contains("already"));
        assert!(open_verdict(&[(0.5, 26.6), (0.95, 214.0)]).contains("steeply"));
        assert!(open_verdict(&[(0.5, 26.6), (0.95, 30.0)]).contains("only reaches"));
    }

    #[test]
    fn k6_verdicts_find_the_row_that_falls_behind() {
        let rows = [
            k6(100, 0, false, 2_000.0, 6.09),
            k6(1_000, 0, false, 2_000.0, 6.09),
            k6(1_000, 400, false, 2_000.0, 6.54),
            k6(1_000, 600, false, 1_635.0, 612.0),
            k6(100, 0, true, 2_000.0, 7.95),
        ];
        let behind = behind_verdict(&rows, 2_000.0);
        assert!(
            behind.contains("`600 µs` row") && behind.contains("1,635"),
            "{behind}"
        );
        assert!(behind_verdict(&rows[..3], 2_000.0).starts_with("No row"));
        assert!(connections_verdict(&rows).contains("change nothing"));
        let costly = [
            k6(100, 0, false, 2_000.0, 6.0),
            k6(1_000, 0, false, 2_000.0, 9.0),
        ];
        assert!(connections_verdict(&costly).contains("change `waiting`"));
        assert!(hog_verdict(&rows).contains("milder"));
        assert!(server_verdict(&rows).contains("as healthy"));
    }
}
