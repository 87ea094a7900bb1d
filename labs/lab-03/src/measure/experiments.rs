//! Experiments 1–4: the generator against lab-03's own HTTP target.

use std::time::Duration;

use anyhow::Result;
use kit::fmt::{fmt_int, fmt_pct};
use report::{Plot, PlotKind, Series, Table};

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

pub fn rate_accuracy(plan: &Plan) -> Result<Table> {
    let target = HttpTarget::start(&[], Some(SERVER_CPU))?;
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
    let mut rows: Vec<(f64, &str)> = plan.rates.iter().map(|&r| (r, "constant")).collect();
    rows.push((10_000.0, "poisson"));
    for (rate, arrival) in rows {
        let run = http(
            &target.url(),
            &args(&[
                "--rate",
                &rate.to_string(),
                "--arrival",
                arrival,
                "-c",
                "50",
                "-d",
                &secs(plan.rate_run),
            ]),
        )?;
        let sent = run.f("sent_rate");
        // Poisson arrivals are random: their count is not exact by design.
        let err = sent / rate - 1.0;
        if arrival == "constant" {
            worst = worst.max(err.abs());
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
        "Command per row: `lab-03 http URL --rate R --arrival A -c 50 -d {}s`, pinned to CPU {GEN_CPU}; the target (`lab-03 target`, one thread) on CPU {SERVER_CPU}. `sent` counts requests written within the window; `error` is sent / target − 1.",
        plan.rate_run.as_secs()
    ));
    t.note(format!(
        "Largest error at a constant rate: {:.2}% — {} the 1% bound.",
        worst * 100.0,
        if worst <= 0.01 { "within" } else { "outside" }
    ));
    t.note("A Poisson schedule's count is itself random (±1% is about one standard deviation at 10k req/s for 10 s), so its row shows the process, not the pacing error.".to_string());
    Ok(t)
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
    Ok(t)
}

// ---------------------------------------------------------------- 4

pub fn k6_question(plan: &Plan) -> Result<Table> {
    let run_for = secs(plan.k6_run);
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
        let target = HttpTarget::start(&["--delay", "5ms"], Some(SERVER_CPU))?;
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
        t.row(vec![
            fmt_int(conns as f64),
            format!("{} µs", cost.as_micros()),
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
        "Target: `lab-03 target --delay 5ms` on CPU {SERVER_CPU}, a fresh one per row; its own p99 is read from `/__stats` (request read to response written). Generator on CPU {GEN_CPU}: `lab-03 http URL --rate {} -c N -d {run_for} --script-cost C`. The script cost burns C of CPU before each send, as a k6 virtual user runs its JavaScript; the last row instead runs a busy loop on the generator's core.",
        plan.k6_rate
    ));
    Ok(t)
}
