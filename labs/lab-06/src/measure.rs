//! The chapter's experiments, for the results pipeline:
//!
//! - `cost`: a tracked spawn beside `tokio::spawn` (spawn, run, join), on
//!   both runtime flavours; the goal is at most 10% more per task.
//! - `check-cost`: a clean check (nothing leaked) with many tasks alive
//!   that are not the test's; the goal is under 5 ms.
//! - `catalog`: every leak of [`crate::catalog`] and its fix, as the check
//!   sees them, and one report as printed.
//! - `hunt`: lab-02 under lab-03 load with clients that vanish
//!   mid-request, are refused, or go idle: what is left afterwards.
//! - `throughput`: lab-02 with its tasks tracked and not, depth 1.
//! - `leak-over-time`: lab-02 with a planted leak, then its fix, under
//!   connection churn: live tasks and memory every second.
//!
//! - `goleak`: the catalog's `sender-kept` leak in Go (`go/leak`), caught
//!   by goleak, beside lab-06's report of it ([`goleak`]).
//!
//! A quick run (`--quick`) does every step with tiny sizes.

mod goleak;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kit::fmt::{fmt_duration, fmt_int, fmt_mib, fmt_ns, fmt_pct, fmt_ratio};
use kit::stats::{median, paired_ratio, spread};
use lab_02::config::{Config, Model, TaskHooks};
use lab_02::launch::Target;
use lab_04::drive::Drive;
use report::{Plot, PlotKind, Report, Series, Table, Transcript};

use crate::catalog::{self, Side};
use crate::check::{LeakCheck, Schedule};
use crate::resources::ResourceCheck;
use crate::serve::{Hook, Plant};
use crate::track;

/// Runs every experiment the chapter shows and returns the report.
pub fn run(quick: bool) -> Result<Report> {
    let mut report = Report::new("lab-06", quick);
    report.table(kit::timed("spawn cost", || cost(quick))?);
    report.table(kit::timed("clean check cost", || check_cost(quick))?);
    let (table, transcript) = kit::timed("the leak catalog", || catalog_table(quick))?;
    report.table(table).transcript(transcript);
    let (table, go_report, rust_report) = kit::timed("goleak beside lab-06", || {
        goleak::goleak_beside_lab06(quick)
    })?;
    report
        .table(table)
        .transcript(go_report)
        .transcript(rust_report);
    report.table(kit::timed("the hunt through lab-02", || hunt(quick))?);
    let (plots, table) = kit::timed("a planted leak over time", || leak_over_time(quick))?;
    for p in plots {
        report.plot(p);
    }
    report.table(table);
    // Last: it pins this thread (and the generator's) to core 1.
    report.table(kit::timed("lab-02 throughput, tracked or not", || {
        throughput(quick)
    })?);
    Ok(report)
}

/// Runs `f(false)` and `f(true)` once per round, alternating which goes
/// first so drift on the machine hits both alike; their results in order.
fn alternating(
    rounds: usize,
    mut f: impl FnMut(bool) -> Result<f64>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for tracked in [round % 2 == 1, round % 2 == 0] {
            let v = f(tracked)?;
            if tracked { on.push(v) } else { off.push(v) }
        }
    }
    Ok((off, on))
}

/// The per-task overhead the chapter aims for.
const SPAWN_GOAL: f64 = 0.10;
/// The clean-check time the chapter aims for.
const CHECK_GOAL: Duration = Duration::from_millis(5);

// ANCHOR: cost
/// What a task holds, in the "with state" rows: a connection's worth of
/// small fields (an address, a few counters, a buffer handle).
type State = [u64; 32];

/// Spawns `n` tasks, tracked or not, and joins them all: time per task.
/// Each task returns at once; with `state`, its future holds a [`State`].
fn spawn_join(rt: &tokio::runtime::Runtime, n: usize, tracked: bool, state: bool) -> f64 {
    if state {
        spawn_join_with(rt, n, tracked, |i| {
            let held: State = [i as u64; 32];
            async move { std::hint::black_box(&held)[0] as usize }
        })
    } else {
        spawn_join_with(rt, n, tracked, |i| async move { std::hint::black_box(i) })
    }
}

fn spawn_join_with<F>(
    rt: &tokio::runtime::Runtime,
    n: usize,
    tracked: bool,
    task: impl Fn(usize) -> F,
) -> f64
where
    F: std::future::Future<Output = usize> + Send + 'static,
{
    rt.block_on(async {
        let started = Instant::now();
        let mut joins = Vec::with_capacity(n);
        for i in 0..n {
            let work = task(i);
            joins.push(if tracked {
                crate::spawn(work)
            } else {
                tokio::spawn(work)
            });
        }
        for j in joins {
            let _ = j.await;
        }
        started.elapsed().as_nanos() as f64 / n as f64
    })
}
// ANCHOR_END: cost

fn cost(quick: bool) -> Result<Table> {
    let (n, rounds) = if quick { (2_000, 3) } else { (100_000, 15) };
    let mut t = Table::new(
        "cost",
        "A tracked spawn beside tokio::spawn (spawn, one poll, join)",
        &[
            "runtime",
            "task",
            "tokio::spawn",
            "tracked",
            "added per task",
            "overhead",
            "spread (tracked)",
        ],
    )
    .numeric(&[2, 3, 4, 5]);
    let mut met_with_state = true;
    for (label, key) in [
        ("current-thread", "current"),
        ("multi-thread, 2 workers", "multi"),
    ] {
        let rt = if key == "current" {
            tokio::runtime::Builder::new_current_thread().build()?
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()?
        };
        for (task, state) in [("empty", false), ("holding 256 bytes", true)] {
            // Warm the allocator and the registry.
            spawn_join(&rt, n, true, state);
            spawn_join(&rt, n, false, state);
            let (plain, tracked) =
                alternating(rounds, |tracked| Ok(spawn_join(&rt, n, tracked, state)))?;
            let overhead = paired_ratio(&tracked, &plain) - 1.0;
            let added: Vec<f64> = tracked.iter().zip(&plain).map(|(a, b)| a - b).collect();
            let fkey = format!("{key}_{}", if state { "state" } else { "empty" });
            if state {
                met_with_state &= overhead <= SPAWN_GOAL;
            }
            t.row(vec![
                label.into(),
                task.into(),
                fmt_ns(median(&plain)),
                fmt_ns(median(&tracked)),
                fmt_ns(median(&added)),
                fmt_pct(overhead),
                spread(&tracked),
            ]);
            t.fact(&format!("overhead_{fkey}"), fmt_pct(overhead));
            t.fact(&format!("added_{fkey}"), fmt_ns(median(&added)));
        }
    }
    t.fact("goal", fmt_pct(SPAWN_GOAL));
    t.fact("tasks", fmt_int(n as f64));
    t.fact(
        "goal_verdict",
        if met_with_state {
            "within the goal"
        } else {
            "over the goal"
        },
    );
    t.note(format!(
        "{rounds} rounds of {} tasks each way per row, alternating which goes first; each task returns at once, so the time is the spawn, one poll and the join, the worst case for a relative overhead. Added per task: the median of same-round differences; overhead: the median of same-round ratios, minus one. The goal applies to the rows with state: an empty task is smaller than any real one.",
        fmt_int(n as f64)
    ));
    Ok(t)
}

/// How long a clean check takes with `alive` pending tasks already on the
/// runtime (the baseline), over `rounds`.
fn clean_check(alive: usize, rounds: usize) -> Result<Vec<f64>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let times = rt.block_on(async {
        let parked: Vec<_> = (0..alive)
            .map(|_| crate::spawn(std::future::pending::<()>()))
            .collect();
        let mut times = Vec::new();
        for _ in 0..rounds {
            let started = Instant::now();
            let check = LeakCheck::start();
            let (leaked, untracked) = check.look();
            let took = started.elapsed().as_secs_f64() * 1e3;
            // Not timed: the check must indeed pass.
            let ok = leaked.is_empty() && untracked == 0 && check.verify().await.is_ok();
            times.push((took, ok));
        }
        for p in parked {
            p.abort();
        }
        times
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    if times.iter().any(|(_, ok)| !ok) {
        bail!("a clean check failed with {alive} tasks in the baseline");
    }
    Ok(times.into_iter().map(|(ms, _)| ms).collect())
}

fn check_cost(quick: bool) -> Result<Table> {
    let (sizes, rounds): (&[usize], usize) = if quick {
        (&[0, 100], 3)
    } else {
        (&[0, 1_000, 10_000, 100_000], 11)
    };
    let mut t = Table::new(
        "check-cost",
        "A clean check: its start and one look",
        &["tasks alive before the check", "median time", "spread"],
    )
    .numeric(&[0, 1]);
    let mut worst: f64 = 0.0;
    for &alive in sizes {
        let ms = clean_check(alive, rounds)?;
        let m = median(&ms);
        worst = worst.max(m);
        let shown = fmt_duration(Duration::from_secs_f64(m / 1e3));
        t.row(vec![fmt_int(alive as f64), shown.clone(), spread(&ms)]);
        t.fact(&format!("check_{alive}"), shown);
    }
    t.fact("goal", fmt_duration(CHECK_GOAL));
    t.fact("worst", fmt_duration(Duration::from_secs_f64(worst / 1e3)));
    t.fact(
        "goal_verdict",
        if worst < CHECK_GOAL.as_secs_f64() * 1e3 {
            "under the goal at every size"
        } else {
            "over the goal at one size or more"
        },
    );
    t.note(format!(
        "{rounds} rounds per size on a 2-worker runtime, each a LeakCheck::start and one look (a check that finds nothing stops after its first look; each round then verifies, untimed, that the check passes). Both read every shard of the registry and tokio's alive-task count, so the time grows with the tasks alive in the process."
    ));
    Ok(t)
}

fn catalog_table(quick: bool) -> Result<(Table, Transcript)> {
    let budget = if quick {
        Duration::from_millis(300)
    } else {
        Schedule::default().budget
    };
    let schedule = Schedule {
        budget,
        ..Schedule::default()
    };
    let mut t = Table::new(
        "catalog",
        "Every leak in the catalog, and its fix, through the check",
        &[
            "case",
            "the Go pattern",
            "leaked tasks found",
            "named at",
            "CLOSE_WAIT",
            "the fix",
            "fix passes",
        ],
    )
    .numeric(&[2, 4]);
    let mut transcript = None;
    let mut all = true;
    for case in catalog::cases() {
        let leak = catalog::run(&case, Side::Leak, schedule)?;
        let fixed = catalog::run(&case, Side::Fixed, schedule)?;
        let (found, sites) = match &leak.tasks {
            Ok(()) => (0, "-".to_owned()),
            Err(r) => (
                r.tracked() + r.untracked,
                r.leaks
                    .iter()
                    .map(|l| format!("`{}:{}`", short_path(l.site.file()), l.site.line()))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        let passes = fixed.tasks.is_ok() && fixed.resources.close_wait.is_empty();
        all &= found == case.tasks && leak.resources.close_wait.len() == case.close_wait && passes;
        t.row(vec![
            format!("`{}`", case.name),
            case.go.into(),
            found.to_string(),
            sites,
            leak.resources.close_wait.len().to_string(),
            case.fix.into(),
            if passes { "yes" } else { "no" }.into(),
        ]);
        if case.name == "abandoned-connection" {
            transcript = Some(Transcript {
                name: "report".into(),
                title: "The check's report for one leak, from a real run".into(),
                command: format!("cargo run -p lab-06 -- catalog {}", case.name),
                output: catalog::describe(&case, &leak, &fixed),
                status: 0,
            });
        }
    }
    t.fact("cases", catalog::cases().len().to_string());
    t.fact(
        "verdict",
        if all {
            "every leak found as expected and every fix passes"
        } else {
            "at least one case did not behave as the catalog expects"
        },
    );
    t.note(format!(
        "Each side ran in a fresh 2-worker runtime between LeakCheck::start and verify; a leak is what is still alive after the check's retries ({} in all). CLOSE_WAIT: this process's sockets whose peer closed, looked at once after the check.",
        fmt_duration(budget)
    ));
    let transcript = transcript.context("the catalog has no abandoned-connection case")?;
    Ok((t, transcript))
}

/// `labs/lab-06/src/catalog.rs`, whatever the build's path prefix.
fn short_path(file: &str) -> &str {
    file.find("labs/").map_or(file, |i| &file[i..])
}

/// Opens `n` connections that vanish: even ones mid-command (half a SET),
/// odd ones after a burst of PINGs whose replies they never read.
fn vanish_mid_request(addr: SocketAddr, n: usize) -> usize {
    let mut ok = 0;
    for i in 0..n {
        if let Ok(mut s) = TcpStream::connect(addr) {
            let _ = if i % 2 == 0 {
                s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nhalf")
            } else {
                s.write_all(&b"PING\r\n".repeat(64))
            };
            ok += 1;
        }
    }
    ok
}

/// Opens `n` connections at once and closes them: over `maxclients`, the
/// server refuses some.
fn burst(addr: SocketAddr, n: usize) -> usize {
    let held: Vec<TcpStream> = (0..n)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    held.len()
}

/// Opens `n` idle connections and waits until the server's idle timeout
/// has closed them all.
fn idle(addr: SocketAddr, n: usize, timeout: Duration) -> usize {
    let mut held: Vec<TcpStream> = (0..n)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    let deadline = Instant::now() + timeout * 4;
    for s in &mut held {
        let _ = s.set_read_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ));
        let mut b = [0u8; 1];
        let _ = s.read(&mut b);
    }
    held.len()
}

/// One model through the hunt's scenarios; returns the table row.
fn hunt_model(model: Model, quick: bool) -> Result<(Vec<String>, bool)> {
    let n = if quick { 20 } else { 400 };
    let mut config = Config::ephemeral(model);
    config.threads = Some(2);
    config.maxclients = 64;
    config.timeout = 1;
    config.task_hook = TaskHooks(Some(Arc::new(Hook { plant: Plant::None })));
    let server = lab_02::server::start(config)?;
    let addr = server.addr();
    // Let the server's own long-lived tasks start; they are the baseline.
    std::thread::sleep(Duration::from_millis(100));
    let baseline: std::collections::HashSet<u64> =
        track::registry().live().iter().map(|t| t.id).collect();
    let resources = ResourceCheck::start()?.without_threads();
    let mut opened = 0;
    // lab-03's generator, closed model, while clients vanish beside it.
    let drive = Drive {
        connections: 8,
        duration: if quick {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(3)
        },
        ..Drive::default()
    };
    let stop = AtomicBool::new(false);
    let churned = AtomicU64::new(0);
    std::thread::scope(|s| -> Result<()> {
        let load = s.spawn(|| drive.run(addr));
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                churned.fetch_add(vanish_mid_request(addr, 10) as u64, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let summary = load
            .join()
            .map_err(|_| anyhow::anyhow!("the generator panicked"))??;
        stop.store(true, Ordering::Relaxed);
        opened += summary.connections + churned.load(Ordering::Relaxed) as usize;
        Ok(())
    })?;
    opened += vanish_mid_request(addr, n);
    opened += burst(addr, 100);
    opened += idle(addr, 16, Duration::from_secs(1));
    // What is left: lab-02's tasks beyond the baseline, and resources.
    let left = Schedule::default()
        .retry_blocking(|| {
            let left: Vec<_> = track::registry()
                .live()
                .into_iter()
                .filter(|t| !baseline.contains(&t.id) && t.site.file().contains("lab-02"))
                .collect();
            anyhow::Ok((!left.is_empty()).then_some(left))
        })?
        .unwrap_or_default();
    let res = match resources.verify()? {
        Ok(()) => Default::default(),
        Err(r) => r,
    };
    let sockets_left = res
        .fds
        .iter()
        .filter(|(_, t)| t.starts_with("socket:"))
        .count();
    server.shutdown();
    server.wait()?;
    let clean = left.is_empty() && res.close_wait.is_empty() && sockets_left == 0;
    Ok((
        vec![
            model.name().into(),
            fmt_int(opened as f64),
            if model == Model::EventLoop {
                "- (no tasks)".into()
            } else {
                left.len().to_string()
            },
            res.close_wait.len().to_string(),
            sockets_left.to_string(),
            if clean { "clean" } else { "LEAK" }.into(),
        ],
        clean,
    ))
}

fn hunt(quick: bool) -> Result<Table> {
    let mut t = Table::new(
        "hunt",
        "lab-02 after vanishing, refused and idle clients under load",
        &[
            "model",
            "connections opened",
            "tasks left",
            "CLOSE_WAIT left",
            "sockets left",
            "verdict",
        ],
    )
    .numeric(&[1, 2, 3, 4]);
    let mut clean = true;
    for model in [
        Model::EventLoop,
        Model::TaskPerConnection,
        Model::ThreadPerCore,
    ] {
        let (row, ok) = hunt_model(model, quick)?;
        clean &= ok;
        t.row(row);
    }
    t.fact(
        "verdict",
        if clean {
            "nothing left behind under any model"
        } else {
            "something was left behind"
        },
    );
    t.note("Each model runs in this process with its tasks tracked (2 threads, maxclients 64, idle timeout 1 s). Scenarios in order: lab-03's closed model (8 connections) while clients connect, send half a SET, or a burst of PINGs whose replies they never read, and vanish; the same vanishing clients alone; 100 connections at once (over maxclients: refused); 16 idle connections held until the server's timeout closes them. Then tasks spawned by lab-02 since the start, and this process's sockets and CLOSE_WAIT sockets, are looked at with the check's retries.");
    Ok(t)
}

/// Requests per second served over `drive`, with lab-02's tasks tracked or not.
fn served(target: Target, tracked: bool, drive: &Drive) -> Result<f64> {
    let extra: Vec<String> = if tracked {
        vec![]
    } else {
        vec!["--untracked".into()]
    };
    let (server, _debug) = lab_04::session::start_server(target, 1, &extra, Some("0"))?;
    let addr: SocketAddr = ([127, 0, 0, 1], server.port).into();
    let s = drive.run(addr)?;
    Ok(s.ok_rate)
}

fn throughput(quick: bool) -> Result<Table> {
    let rounds = if quick { 1 } else { 5 };
    let drive = Drive {
        connections: 16,
        pipeline: 1,
        duration: if quick {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(4)
        },
        ..Drive::default()
    };
    kit::machine::pin_to_core(1);
    let mut t = Table::new(
        "throughput",
        "lab-02 at depth 1, tasks tracked or not",
        &[
            "model",
            "untracked",
            "tracked",
            "tracked / untracked",
            "spread (tracked)",
        ],
    )
    .numeric(&[1, 2, 3]);
    for target in [Target::TaskPerConnection, Target::ThreadPerCore] {
        let (off, on) = alternating(rounds, |tracked| served(target, tracked, &drive))?;
        let ratio = paired_ratio(&on, &off);
        t.row(vec![
            target.name().into(),
            format!("{} req/s", fmt_int(median(&off))),
            format!("{} req/s", fmt_int(median(&on))),
            fmt_ratio(ratio),
            spread(&on),
        ]);
        t.fact(
            &format!("ratio_{}", target.name().replace('-', "_")),
            fmt_ratio(ratio),
        );
    }
    t.note(format!(
        "{rounds} round(s) of {} per setting, alternating which goes first; a fresh server each time (1 thread, pinned to core 0), lab-03's closed model with 16 connections at depth 1 from core 1. Tracking costs at spawn and at exit, so with long-lived connections it is paid once per connection.",
        fmt_duration(drive.duration)
    ));
    Ok(t)
}

/// Connects, PINGs, closes, `rate` times a second until `stop`.
fn churn(addr: SocketAddr, rate: u32, stop: &AtomicBool, count: &AtomicU64) {
    let gap = Duration::from_secs_f64(1.0 / f64::from(rate));
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(mut s) = TcpStream::connect(addr) {
            let mut buf = [0u8; 7];
            if s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        next += gap;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// Live tracked tasks, from the debug port's JSON profile.
fn live_tasks(debug: SocketAddr) -> Result<f64> {
    let r = lab_04::debug::get(debug, "/debug/tasks?format=json", Duration::from_secs(5))?;
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    v["live"].as_f64().context("no `live` in the task profile")
}

struct Trace {
    tasks: Vec<f64>,
    rss_mib: Vec<f64>,
    connections: u64,
}

fn one_plant(plant: &str, seconds: u64, rate: u32) -> Result<Trace> {
    let extra = vec!["--plant".to_owned(), plant.to_owned()];
    let (server, debug) =
        lab_04::session::start_server(Target::TaskPerConnection, 1, &extra, None)?;
    let addr: SocketAddr = ([127, 0, 0, 1], server.port).into();
    let drive = Drive {
        rate: Some(1000.0),
        connections: 4,
        duration: Duration::from_secs(seconds),
        ..Drive::default()
    };
    let stop = AtomicBool::new(false);
    let count = AtomicU64::new(0);
    let mut trace = Trace {
        tasks: Vec::new(),
        rss_mib: Vec::new(),
        connections: 0,
    };
    std::thread::scope(|s| -> Result<()> {
        let load = s.spawn(|| drive.run(addr));
        s.spawn(|| churn(addr, rate, &stop, &count));
        let started = Instant::now();
        for second in 0..=seconds {
            std::thread::sleep(
                (started + Duration::from_secs(second)).saturating_duration_since(Instant::now()),
            );
            trace.tasks.push(live_tasks(debug)?);
            trace
                .rss_mib
                .push(server.rss_bytes()? as f64 / f64::from(1u32 << 20));
        }
        stop.store(true, Ordering::Relaxed);
        load.join()
            .map_err(|_| anyhow::anyhow!("the generator panicked"))??;
        Ok(())
    })?;
    trace.connections = count.load(Ordering::Relaxed);
    Ok(trace)
}

fn leak_over_time(quick: bool) -> Result<(Vec<Plot>, Table)> {
    let (seconds, rate) = if quick { (2, 50) } else { (20, 200) };
    let leak = one_plant("leak", seconds, rate)?;
    let fixed = one_plant("fixed", seconds, rate)?;
    let x: Vec<f64> = (0..=seconds).map(|s| s as f64).collect();
    let plot = |name: &str, title: &str, y: &str, a: &[f64], b: &[f64]| Plot {
        name: name.into(),
        title: title.into(),
        kind: PlotKind::Line {
            x: x.clone(),
            log_x: false,
        },
        x_label: "seconds".into(),
        y_label: y.into(),
        log_y: false,
        series: vec![
            Series {
                name: "planted leak".into(),
                values: a.to_vec(),
            },
            Series {
                name: "fixed".into(),
                values: b.to_vec(),
            },
        ],
    };
    let plots = vec![
        plot(
            "leak-tasks",
            "Live tasks in lab-02 under connection churn",
            "live tracked tasks",
            &leak.tasks,
            &fixed.tasks,
        ),
        plot(
            "leak-rss",
            "Resident memory of lab-02 under connection churn",
            "RSS (MiB)",
            &leak.rss_mib,
            &fixed.rss_mib,
        ),
    ];
    let mut t = Table::new(
        "leak-over-time",
        "A planted leak and its fix, at the end of the run",
        &[
            "lab-02",
            "connections served",
            "live tasks at the end",
            "RSS growth",
            "per connection",
        ],
    )
    .numeric(&[1, 2, 3, 4]);
    for (label, tr) in [("planted leak", &leak), ("fixed", &fixed)] {
        let growth =
            tr.rss_mib.last().copied().unwrap_or(0.0) - tr.rss_mib.first().copied().unwrap_or(0.0);
        let per = growth * f64::from(1u32 << 20) / tr.connections.max(1) as f64;
        t.row(vec![
            label.into(),
            fmt_int(tr.connections as f64),
            fmt_int(tr.tasks.last().copied().unwrap_or(0.0)),
            fmt_mib(growth * f64::from(1u32 << 20)),
            format!("{} B", fmt_int(per)),
        ]);
        let key = if label == "fixed" { "fixed" } else { "leak" };
        t.fact(
            &format!("tasks_{key}"),
            fmt_int(tr.tasks.last().copied().unwrap_or(0.0)),
        );
        t.fact(
            &format!("connections_{key}"),
            fmt_int(tr.connections as f64),
        );
        t.fact(
            &format!("rss_growth_{key}"),
            fmt_mib(growth * f64::from(1u32 << 20)),
        );
    }
    t.fact(
        "watchdog_state",
        format!("{} KiB", crate::serve::WATCHDOG_STATE >> 10),
    );
    t.note(format!(
        "lab-02 (task-per-connection, 1 worker) served lab-03's open model at 1,000 req/s on 4 connections while a client connected, sent PING and closed {rate} times a second, for {seconds} s; live tasks read from /debug/tasks and RSS from /proc every second. The planted leak: a watchdog task per lab-02 task with its JoinHandle dropped; the fix cancels it from a guard the connection's task holds."
    ));
    Ok((plots, t))
}
