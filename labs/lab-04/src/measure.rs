//! The chapter's experiments, as one results report:
//!
//! - `overhead`: lab-02 under lab-03, unprofiled and profiled at 19, 99
//!   and 999 Hz, at a fixed open-model rate and at closed-model peak, same
//!   run, rotated rounds; with the samples taken against the samples the
//!   frequency and the server's CPU time predict.
//! - `aof-log`: the case study on lab-02: every write encoded a log record
//!   even with the append-only file off. Before (`--log-without-aof`) and
//!   after, same run, pipeline depth 16, with both flame graphs and their
//!   difference.
//! - `heap`: allocations per request, from the `heap` binary (dhat).
//! - `lab01-read`: where lab-01's read path spends its time (the case
//!   study against dashmap), profiled in this process.
//! - `build-settings`: lab-01 and lab-02 built with other profiles,
//!   allocators, hashers and PGO, measured side by side
//!   ([`build_settings`]).
//!
//! A quick run (`--quick`) makes every table and figure from short runs;
//! `--only` runs some experiments and leaves the others' tables out.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kit::fmt::{fmt_int, fmt_ns, fmt_pct, fmt_ratio};
use kit::machine::{Watch, conditions_note, watched};
use kit::stats::{med, median, paired_ratio, rotated, spread};
use lab_02::launch::Target;
use report::{Figure, Report, Table};

use crate::drive::Drive;
use crate::request::{Blocklist, Format, ProfileRequest};
use crate::session::start_server;
use crate::stacks::{self, Stack};

mod build_settings;

/// The experiments, by the names `--only` takes.
pub const EXPERIMENTS: [&str; 6] = [
    "overhead",
    "aof-log",
    "two-ways",
    "heap",
    "lab01-read",
    "build-settings",
];

struct Sizes {
    rounds: usize,
    cell: Duration,
    keyspace: u64,
    heap_requests: u64,
    lab01: Duration,
}

/// Runs the experiments named in `only` (all of them when it is empty).
pub fn run(quick: bool, only: &[String]) -> Result<Report> {
    if let Some(unknown) = only.iter().find(|o| !EXPERIMENTS.contains(&o.as_str())) {
        bail!(
            "unknown experiment `{unknown}`; choose from: {}",
            EXPERIMENTS.join(", ")
        );
    }
    let want = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let z = if quick {
        Sizes {
            rounds: 1,
            cell: Duration::from_secs(2),
            keyspace: 1_000,
            heap_requests: 500,
            lab01: Duration::from_millis(500),
        }
    } else {
        Sizes {
            rounds: 5,
            cell: Duration::from_secs(5),
            keyspace: 10_000,
            heap_requests: 20_000,
            lab01: Duration::from_secs(4),
        }
    };
    let mut report = Report::new("lab-04", quick);
    if want("overhead") {
        let ((mut table, figure), conditions) = kit::timed("profiler overhead", || {
            watched(Watch::children(Duration::from_millis(300)), || overhead(&z))
        })?;
        table.note(conditions_note(&conditions));
        report.table(table);
        report.figure(figure);
    }
    if want("aof-log") {
        let (table, figures) = kit::timed("case study: the AOF log", || aof_log(&z))?;
        report.table(table);
        for f in figures {
            report.figure(f);
        }
    }
    if want("two-ways") {
        let (table, figure) = kit::timed("perf beside pprof-rs", || two_ways(&z))?;
        report.table(table);
        report.figure(figure);
    }
    if want("heap") {
        report.table(kit::timed("heap profile", || heap(&z))?);
    }
    if want("lab01-read") {
        let (table, figure) = kit::timed("lab-01's read path", || lab01_read(&z))?;
        report.table(table);
        report.figure(figure);
    }
    if want("build-settings") {
        let z = build_settings::Sizes::new(quick);
        let (tables, conditions) = kit::timed("build settings, allocator, hasher", || {
            watched(Watch::children(Duration::from_millis(300)), || {
                build_settings::run(&z)
            })
        })?;
        for mut t in tables {
            t.note(conditions_note(&conditions));
            report.table(t);
        }
    }
    Ok(report)
}

/// One measured cell.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    throughput: f64,
    /// Server CPU-seconds per request, in microseconds.
    cpu_us_per_request: f64,
    /// lab-03's self-check blamed the generator.
    generator_bound: bool,
    p99_us: f64,
    cpu_s: f64,
    samples: u64,
    /// Samples the frequency predicts from the server's CPU time during
    /// the profile.
    expected: f64,
    /// How long the answer took after the sampling window closed:
    /// symbolising and encoding, on the server's CPUs.
    after_window_s: f64,
}

/// The server a cell starts: a lab-02 model, its threads, more options,
/// and the cores it is pinned to.
struct Setup<'a> {
    target: Target,
    threads: usize,
    extra: &'a [String],
    cpus: Option<&'static str>,
}

/// The server's core when a cell pins it; the generator takes the other.
const SERVER_CPUS: Option<&str> = Some("0");

impl<'a> Setup<'a> {
    /// Pinned to [`SERVER_CPUS`], beside the generator.
    fn pinned(target: Target, threads: usize, extra: &'a [String]) -> Self {
        Self {
            target,
            threads,
            extra,
            cpus: SERVER_CPUS,
        }
    }
}

/// Runs `drive` against a fresh lab-02 and, with `frequency`, profiles it
/// through the debug port for all but the first and last half second.
fn cell(
    setup: &Setup<'_>,
    drive: &Drive,
    frequency: Option<u32>,
    keyspace: u64,
) -> Result<(Cell, Vec<Stack>)> {
    let (server, debug_addr) = start_server(setup.target, setup.threads, setup.extra, setup.cpus)?;
    server.fill(keyspace)?;
    let addr = ([127, 0, 0, 1], server.port).into();
    let profile_secs = drive.duration.as_secs().saturating_sub(1).max(1);
    let cpu0 = server.cpu_seconds()?;
    let (summary, profile) = std::thread::scope(|s| -> Result<_> {
        let load = s.spawn(|| {
            kit::machine::pin_to_core(1);
            drive.run(addr)
        });
        let profile = match frequency {
            Some(f) => {
                std::thread::sleep(Duration::from_millis(500));
                let c0 = server.cpu_seconds()?;
                let req = ProfileRequest {
                    seconds: profile_secs,
                    frequency: f,
                    format: Format::Pprof,
                    blocklist: Blocklist::Unwinder,
                };
                let started = Instant::now();
                let body = crate::debug::profile(debug_addr, &req)?;
                let window = started.elapsed().as_secs_f64();
                let c1 = server.cpu_seconds()?;
                // CPU seconds during the request, scaled to the sampling
                // window (the request also includes symbolisation).
                let busy = (c1 - c0) * (profile_secs as f64 / window).min(1.0);
                let after = (window - profile_secs as f64).max(0.0);
                Some((stacks::from_pprof(&body)?, busy * f64::from(f), after))
            }
            None => None,
        };
        let summary = load
            .join()
            .map_err(|_| anyhow::anyhow!("the load generator panicked"))??;
        Ok((summary, profile))
    })?;
    let cpu_s = server.cpu_seconds()? - cpu0;
    let (stacks, expected, after_window_s) = profile.unwrap_or_default();
    Ok((
        Cell {
            throughput: summary.ok_rate,
            cpu_us_per_request: cpu_s * 1e6 / (summary.ok as f64).max(1.0),
            generator_bound: summary.self_check.generator_bound(),
            p99_us: summary.latency.p99_us,
            cpu_s: cpu_s / summary.elapsed_s.max(1e-9),
            samples: stacks::total(&stacks),
            expected,
            after_window_s,
        },
        stacks,
    ))
}

const FREQUENCIES: [Option<u32>; 4] = [None, Some(19), Some(99), Some(999)];

fn freq_label(f: Option<u32>) -> String {
    f.map_or("off".to_owned(), |f| format!("{f} Hz"))
}

// ANCHOR: overhead
fn overhead(z: &Sizes) -> Result<(Table, Figure)> {
    let target = Target::TaskPerConnection;
    // One worker on core 0, the generator on core 1: neither takes the
    // other's CPU, which would be noise larger than the cost measured.
    let threads = 1;
    let closed = Drive {
        connections: 16,
        keyspace: z.keyspace,
        duration: z.cell,
        ..Drive::default()
    };
    // The open model's rate: half of what the closed model served
    // unprofiled, so the server has room and latency is not queueing.
    let (peak, _) = cell(
        &Setup::pinned(target, threads, &[]),
        &closed,
        None,
        z.keyspace,
    )?;
    let rate = (peak.throughput * 0.5 / 1000.0).round().max(1.0) * 1000.0;
    let open = Drive {
        rate: Some(rate),
        ..closed.clone()
    };
    let loads = [("open", &open), ("closed", &closed)];
    let mut cells: Vec<Vec<Vec<Cell>>> = vec![vec![Vec::new(); FREQUENCIES.len()]; loads.len()];
    for round in 0..z.rounds {
        for (li, (_, drive)) in loads.iter().enumerate() {
            for fi in rotated(&[0, 1, 2, 3], round) {
                let (c, _) = cell(
                    &Setup::pinned(target, threads, &[]),
                    drive,
                    FREQUENCIES[fi],
                    z.keyspace,
                )?;
                cells[li][fi].push(c);
            }
        }
    }
    // The figure: two workers, unpinned, so the graph shows both.
    let (_, flame) = cell(
        &Setup {
            cpus: None,
            ..Setup::pinned(target, 2, &[])
        },
        &closed,
        Some(99),
        z.keyspace,
    )?;
    let mut t = Table::new(
        "overhead",
        "What profiling costs lab-02 (task-per-connection, one worker) under lab-03",
        &[
            "load",
            "profiler",
            "throughput (req/s)",
            "vs off",
            "p99 from intended start",
            "server CPU (cores)",
            "samples",
            "frequency × CPU-seconds",
            "samples / expected",
            "answer after the window",
        ],
    )
    .numeric(&[2, 3, 4, 5, 6, 7, 8, 9]);
    for (li, (name, _)) in loads.iter().enumerate() {
        let off: Vec<f64> = cells[li][0].iter().map(|c| c.throughput).collect();
        for (fi, f) in FREQUENCIES.iter().enumerate() {
            let cs = &cells[li][fi];
            let tp: Vec<f64> = cs.iter().map(|c| c.throughput).collect();
            let ratio = paired_ratio(&tp, &off);
            let samples = median(&cs.iter().map(|c| c.samples as f64).collect::<Vec<_>>());
            let expected = median(&cs.iter().map(|c| c.expected).collect::<Vec<_>>());
            let p99 = fmt_ns(med(cs, |c| c.p99_us * 1e3));
            let after = format!(
                "{} ms",
                kit::fmt::fmt_ms(1e3 * med(cs, |c| c.after_window_s))
            );
            let load = match *name {
                "open" => format!("open, {} req/s", fmt_int(rate)),
                _ => format!("closed, {} connections", closed.connections),
            };
            t.row(vec![
                load,
                freq_label(*f),
                format!("{} {}", fmt_int(median(&tp)), spread(&tp)),
                fmt_ratio(ratio),
                fmt_ns(median(
                    &cs.iter().map(|c| c.p99_us * 1e3).collect::<Vec<_>>(),
                )),
                format!(
                    "{:.2}",
                    median(&cs.iter().map(|c| c.cpu_s).collect::<Vec<_>>())
                ),
                if f.is_some() {
                    fmt_int(samples)
                } else {
                    "-".into()
                },
                if f.is_some() {
                    fmt_int(expected)
                } else {
                    "-".into()
                },
                if f.is_some() {
                    fmt_ratio(samples / expected.max(1e-9))
                } else {
                    "-".into()
                },
                if f.is_some() {
                    after.clone()
                } else {
                    "-".into()
                },
            ]);
            if let Some(f) = f {
                let key = format!("{name}_{f}hz");
                t.fact(&format!("{key}_cost"), fmt_pct(1.0 - ratio));
                t.fact(&format!("{key}_vs_off"), fmt_ratio(ratio));
                t.fact(
                    &format!("{key}_sampled"),
                    fmt_ratio(samples / expected.max(1e-9)),
                );
                t.fact(&format!("{key}_p99"), p99.clone());
                t.fact(&format!("{key}_after"), after.clone());
            }
        }
    }
    t.fact("open_rate", fmt_int(rate));
    t.fact(
        "open_off_p99",
        fmt_ns(median(
            &cells[0][0]
                .iter()
                .map(|c| c.p99_us * 1e3)
                .collect::<Vec<_>>(),
        )),
    );
    // The goals: at most 1% of peak throughput at 99 Hz, 5% at 999.
    let off: Vec<f64> = cells[1][0].iter().map(|c| c.throughput).collect();
    for (fi, goal, key) in [(2usize, 0.01, "goal_99hz"), (3, 0.05, "goal_999hz")] {
        let tp: Vec<f64> = cells[1][fi].iter().map(|c| c.throughput).collect();
        let cost = 1.0 - paired_ratio(&tp, &off);
        let verdict = if cost <= goal { "met" } else { "not met" };
        t.fact(
            key,
            format!("{verdict} (a cost of at most {})", fmt_pct(goal)),
        );
    }
    t.note(format!(
        "{} round(s); each cell is a fresh server, {} of load, the profile taken over all but the first and last half second; the four settings rotate within each round; ratios are medians of same-round ratios; throughput shows the spread over rounds.",
        z.rounds,
        kit::fmt::fmt_duration(z.cell)
    ));
    t.note(format!(
        "The open model offers {} req/s (half the unprofiled closed-model throughput of a first run), Poisson arrivals; latency is from the intended start. The server runs one worker pinned to core 0; the generator runs in this process pinned to core 1.",
        fmt_int(rate)
    ));
    t.note("Expected samples: the frequency times the server's CPU-seconds during the profile (`setitimer(ITIMER_PROF)` counts CPU time of the whole process, so an idle server is not sampled).");
    let folded = stacks::to_folded(&flame);
    let svg = crate::flame::svg(
        &folded,
        "lab-02 task-per-connection, closed-model peak, two workers",
        Some(&format!("{} samples at 99 Hz", stacks::total(&flame))),
    )?;
    Ok((
        t,
        Figure {
            name: "flame-tasks".into(),
            title: "lab-02 under load, profiled from its debug port".into(),
            svg,
        },
    ))
}
// ANCHOR_END: overhead

// ANCHOR: aof-log
fn aof_log(z: &Sizes) -> Result<(Table, Vec<Figure>)> {
    let target = Target::EventLoop;
    let drive = Drive {
        connections: 16,
        pipeline: 16,
        mix: "set".into(),
        keyspace: z.keyspace,
        duration: z.cell,
        ..Drive::default()
    };
    let variants: [(&str, Vec<String>); 2] = [
        (
            "before: log encoded, AOF off",
            vec!["--log-without-aof".into()],
        ),
        ("after: no log without an AOF", vec![]),
    ];
    let mut tp: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut cpu: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut bound = 0;
    let mut profiles: [Vec<Stack>; 2] = [Vec::new(), Vec::new()];
    for round in 0..z.rounds {
        for v in rotated(&[0usize, 1], round) {
            let (c, _) = cell(
                &Setup::pinned(target, 1, &variants[v].1),
                &drive,
                None,
                z.keyspace,
            )?;
            tp[v].push(c.throughput);
            cpu[v].push(c.cpu_us_per_request);
            bound += usize::from(c.generator_bound);
        }
    }
    for v in 0..2 {
        let (_, stacks) = cell(
            &Setup::pinned(target, 1, &variants[v].1),
            &drive,
            Some(999),
            z.keyspace,
        )?;
        profiles[v] = stacks;
    }
    let encode_share = |s: &[Stack]| {
        stacks::samples_in(s, |f| matches!(f, "log_args" | "log_set" | "log_pexpireat")) as f64
            / stacks::total(s).max(1) as f64
    };
    let ratio = paired_ratio(&tp[1], &tp[0]);
    let mut t = Table::new(
        "aof-log",
        "Case study: lab-02 encoded a log record for every write with the AOF off (event loop, SET, depth 16)",
        &[
            "server",
            "throughput (req/s)",
            "vs before",
            "server CPU per request",
            "vs before",
            "samples in the log writers",
        ],
    )
    .numeric(&[1, 2, 3, 4, 5]);
    for v in 0..2 {
        t.row(vec![
            variants[v].0.to_owned(),
            format!("{} {}", fmt_int(median(&tp[v])), spread(&tp[v])),
            fmt_ratio(paired_ratio(&tp[v], &tp[0])),
            format!("{} {}", fmt_ns(median(&cpu[v]) * 1e3), spread(&cpu[v])),
            fmt_ratio(paired_ratio(&cpu[v], &cpu[0])),
            fmt_pct(encode_share(&profiles[v])),
        ]);
    }
    t.fact("gain", fmt_ratio(ratio));
    t.fact("cpu_ratio", fmt_ratio(paired_ratio(&cpu[1], &cpu[0])));
    t.fact(
        "generator_note",
        if bound == 0 {
            "lab-03's self-check found the generator fit in every run".to_owned()
        } else {
            format!(
                "lab-03's self-check blamed the generator in {bound} of {} runs, so throughput there measures the generator as much as the server",
                2 * z.rounds
            )
        },
    );
    t.fact("before_share", fmt_pct(encode_share(&profiles[0])));
    t.fact("after_share", fmt_pct(encode_share(&profiles[1])));
    t.note(format!(
        "{} round(s) of {} per server, before and after alternating; ratios are medians of same-round ratios. 16 connections, 16 SETs per write, {} keys; the server pinned to core 0, the generator to core 1. CPU per request: the server's CPU-seconds over the requests it answered. Profiles: one more run of each at 999 Hz.",
        z.rounds,
        kit::fmt::fmt_duration(z.cell),
        fmt_int(z.keyspace as f64)
    ));
    let before = stacks::to_folded(&profiles[0]);
    let after = stacks::to_folded(&profiles[1]);
    let figures = vec![
        Figure {
            name: "aof-log-before".into(),
            title: "Before: every SET also encodes its log record".into(),
            svg: crate::flame::svg(&before, "lab-02 event loop, SET depth 16: before", None)?,
        },
        Figure {
            name: "aof-log-after".into(),
            title: "After: no log without an append-only file".into(),
            svg: crate::flame::svg(&after, "lab-02 event loop, SET depth 16: after", None)?,
        },
        Figure {
            name: "aof-log-diff".into(),
            title: "The difference: blue shrank, red grew".into(),
            svg: crate::flame::diff_svg(&before, &after, "after vs before", None)?,
        },
    ];
    Ok((t, figures))
}
// ANCHOR_END: aof-log

// ANCHOR: two-ways
/// The same load profiled both ways at once, over the same window: pprof-rs
/// inside the server (through its debug port) and `perf` from outside
/// (DWARF unwinding); then, in the next window of the same run, pprof-rs
/// with libc on its blocklist.
fn two_ways(z: &Sizes) -> Result<(Table, Figure)> {
    let (server, debug_addr) = start_server(Target::EventLoop, 1, &[], SERVER_CPUS)?;
    server.fill(z.keyspace)?;
    let addr = ([127, 0, 0, 1], server.port).into();
    let seconds = z.cell.as_secs().saturating_sub(1).max(1);
    let drive = Drive {
        connections: 16,
        keyspace: z.keyspace,
        duration: z.cell + Duration::from_secs(seconds + 1),
        ..Drive::default()
    };
    let scratch = kit::process::target_dir()?.join("lab-04-perf");
    std::fs::create_dir_all(&scratch)?;
    let pid = server.process.pid;
    let (inside, outside, libc, after) = std::thread::scope(|s| -> Result<_> {
        let load = s.spawn(|| {
            kit::machine::pin_to_core(1);
            drive.run(addr)
        });
        std::thread::sleep(Duration::from_millis(500));
        let perf = s.spawn(|| {
            crate::perf::record(
                pid,
                Duration::from_secs(seconds),
                99,
                crate::perf::CallGraph::Dwarf,
                &scratch,
            )
        });
        let mut req = ProfileRequest {
            seconds,
            frequency: 99,
            format: Format::Pprof,
            blocklist: Blocklist::Unwinder,
        };
        let t0 = Instant::now();
        let first = crate::debug::profile(debug_addr, &req)?;
        let first_after = t0.elapsed().as_secs_f64() - seconds as f64;
        let outside = perf
            .join()
            .map_err(|_| anyhow::anyhow!("perf's thread panicked"))??;
        req.blocklist = Blocklist::Libc;
        let t1 = Instant::now();
        let second = crate::debug::profile(debug_addr, &req)?;
        let second_after = t1.elapsed().as_secs_f64() - seconds as f64;
        load.join()
            .map_err(|_| anyhow::anyhow!("the load generator panicked"))??;
        Ok((
            stacks::from_pprof(&first)?,
            outside.stacks,
            stacks::from_pprof(&second)?,
            (first_after, second_after),
        ))
    })?;
    let mut t = Table::new(
        "two-ways",
        "One run, two profilers: pprof-rs inside lab-02 (event loop) and perf outside, all at 99 Hz",
        &["profiler", "samples", "top functions (flat share)"],
    )
    .numeric(&[1]);
    for (name, st) in [
        ("pprof-rs (debug port)", &inside),
        ("perf record -e cpu-clock --call-graph dwarf", &outside),
    ] {
        let total = stacks::total(st).max(1) as f64;
        let tops: Vec<String> = stacks::top(st, 4)
            .iter()
            .map(|r| {
                format!(
                    "`{}` {}",
                    short(&r.function),
                    fmt_pct(r.flat as f64 / total)
                )
            })
            .collect();
        t.row(vec![name.to_owned(), fmt_int(total), tops.join(", ")]);
    }
    t.fact("pprof_samples", fmt_int(stacks::total(&inside) as f64));
    t.fact("perf_samples", fmt_int(stacks::total(&outside) as f64));
    t.fact(
        "first_after",
        format!("{} ms", kit::fmt::fmt_ms(after.0 * 1e3)),
    );
    t.fact(
        "second_after",
        format!("{} ms", kit::fmt::fmt_ms(after.1 * 1e3)),
    );
    t.fact("libc_samples", fmt_int(stacks::total(&libc) as f64));
    t.fact(
        "libc_kept",
        fmt_pct(stacks::total(&libc) as f64 / stacks::total(&inside).max(1) as f64),
    );
    t.note(format!(
        "The first two over the same {seconds} s window of one closed-model run (16 connections, set:get=1:9), the third over the next {seconds} s of the same run; perf's stacks include the kernel's part, which a signal handler in user space never sees."
    ));
    t.note(format!(
        "The server's first profile answered {} after its window closed (symbolising and encoding), its second {}.",
        kit::fmt::fmt_ms(after.0 * 1e3) + " ms",
        kit::fmt::fmt_ms(after.1 * 1e3) + " ms"
    ));
    let svg = crate::flame::svg(
        &stacks::to_folded(&outside),
        "lab-02 event loop, from outside: perf (cpu-clock, DWARF unwinding)",
        None,
    )?;
    Ok((
        t,
        Figure {
            name: "flame-perf".into(),
            title: "The same server from outside, with perf".into(),
            svg,
        },
    ))
}
// ANCHOR_END: two-ways

/// A function name cut to its last path segments, for a table cell.
fn short(name: &str) -> String {
    let name = name.replace('`', "'");
    if name.chars().count() <= 60 {
        return name;
    }
    let tail: String = name
        .chars()
        .rev()
        .take(57)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

fn heap(z: &Sizes) -> Result<Table> {
    let exe = std::env::current_exe()?.with_file_name("heap");
    if !exe.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p lab-04 --bins`",
            exe.display()
        );
    }
    let dir = kit::process::target_dir()?.join("lab-04-heap");
    let out = kit::process::run_tool(
        std::process::Command::new(&exe)
            .args(["--requests", &z.heap_requests.to_string(), "--out"])
            .arg(&dir),
        Duration::from_secs(600),
    )?;
    if !out.status.success() {
        bail!("the heap binary failed: {}", out.stderr.trim());
    }
    let rows: Vec<crate::heap::Row> = out
        .stdout
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("the heap binary printed something other than rows")?;
    let mut t = Table::new(
        "heap",
        "Heap allocations per request in lab-02 (dhat)",
        &[
            "model",
            "request",
            "log",
            "allocations per request",
            "bytes per request",
        ],
    )
    .numeric(&[3, 4]);
    for r in &rows {
        t.row(vec![
            r.model.clone(),
            r.case.name().to_owned(),
            if r.log_without_aof {
                "before (encoded)"
            } else {
                "after (off)"
            }
            .to_owned(),
            format!("{:.2}", r.blocks_per_request),
            format!("{:.1}", r.bytes_per_request),
        ]);
        let key = format!(
            "{}_{}_{}",
            r.model.replace('-', "_"),
            match r.case {
                crate::heap::Case::Set => "set",
                crate::heap::Case::Get => "get",
                crate::heap::Case::SetDepth16 => "set16",
            },
            if r.log_without_aof { "before" } else { "after" }
        );
        t.fact(
            &format!("{key}_blocks"),
            format!("{:.2}", r.blocks_per_request),
        );
        t.fact(
            &format!("{key}_bytes"),
            format!("{:.0}", r.bytes_per_request),
        );
    }
    t.note(format!(
        "{} requests per row, counted by dhat's allocator in one process (server and a client that allocates nothing per request); one thread per server; connection buffers grown before counting.",
        fmt_int(z.heap_requests as f64)
    ));
    Ok(t)
}

// ANCHOR: lab01
/// lab-01's sharded-rwlock cache on one thread, read-heavy (90% reads,
/// uniform keys, 64 shards: the dashmap comparison's workload). Runs
/// `keys` keys for `for_how_long` and returns operations per second.
fn lab01_ops(keys: u64, for_how_long: Duration) -> Result<f64> {
    use lab_01::{Cache, CacheConfig, ShardedRwLock};
    let cache: ShardedRwLock<u64, u64> = Cache::with_config(CacheConfig::new().shards(64))?;
    for k in 0..keys {
        cache.insert(k, k);
    }
    let mut rng = kit::rng::Rng::new(7);
    let ops: Vec<(bool, u64)> = (0..1 << 20)
        .map(|_| (rng.below(10) < 9, rng.below(keys)))
        .collect();
    let worker = std::thread::Builder::new().name("lab01-read".into());
    std::thread::scope(|s| -> Result<f64> {
        let h = worker.spawn_scoped(s, || {
            let started = Instant::now();
            let mut done = 0usize;
            while started.elapsed() < for_how_long {
                for _ in 0..4096 {
                    let (read, k) = ops[done & (ops.len() - 1)];
                    if read {
                        std::hint::black_box(cache.read(&k, |v| *v));
                    } else {
                        cache.insert(k, k);
                    }
                    done += 1;
                }
            }
            done as f64 / started.elapsed().as_secs_f64()
        })?;
        h.join()
            .map_err(|_| anyhow::anyhow!("the lab-01 workload panicked"))
    })
}

/// Where the time goes (a profile at 100,000 keys), and whether it is
/// memory: the same loop over 1,000 keys, which fit in the L1 and L2
/// caches, against 100,000, which do not.
fn lab01_read(z: &Sizes) -> Result<(Table, Figure)> {
    let (small, large) = (1_000u64, 100_000u64);
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..z.rounds {
        for i in rotated(&[0usize, 1], round) {
            rates[i].push(lab01_ops([small, large][i], z.lab01)?);
        }
    }
    let running = crate::sampling::start(999)?;
    let profiled = lab01_ops(large, z.lab01)?;
    let profile = running.finish()?;
    let ours: Vec<Stack> = profile
        .stacks
        .iter()
        .filter(|s| s.thread == "lab01-read")
        .cloned()
        .collect();
    let total = stacks::total(&ours).max(1) as f64;
    let mut t = Table::new(
        "lab01-read",
        "Where lab-01's read-heavy path spends its time (sharded-rwlock, one thread, 100,000 keys)",
        &["function (flat)", "samples", "share"],
    )
    .numeric(&[1, 2]);
    for r in stacks::top(&ours, 6) {
        t.row(vec![
            format!("`{}`", r.function.replace('`', "'")),
            fmt_int(r.flat as f64),
            fmt_pct(r.flat as f64 / total),
        ]);
    }
    let top = stacks::top(&ours, 1);
    let (leader, leader_share) = top.first().map_or(("-".to_owned(), 0.0), |r| {
        (r.function.clone(), r.flat as f64 / total)
    });
    let speedup = paired_ratio(&rates[0], &rates[1]);
    t.fact("top_function", format!("`{leader}`"));
    t.fact("top_share", fmt_pct(leader_share));
    t.fact(
        "small_ops",
        format!("{} Mops/s", kit::fmt::fmt_mops(median(&rates[0]))),
    );
    t.fact(
        "large_ops",
        format!("{} Mops/s", kit::fmt::fmt_mops(median(&rates[1]))),
    );
    t.fact("small_vs_large", fmt_ratio(speedup));
    t.note(format!(
        "Profile: {} at 999 Hz ({} Mops/s while profiled). Without the profiler, {} round(s) of {} each: {} Mops/s over 1,000 keys and {} Mops/s over 100,000 ({} faster when the keys fit in cache). 64 shards, 90% reads, uniform keys.",
        kit::fmt::fmt_duration(z.lab01),
        kit::fmt::fmt_mops(profiled),
        z.rounds,
        kit::fmt::fmt_duration(z.lab01),
        kit::fmt::fmt_mops(median(&rates[0])),
        kit::fmt::fmt_mops(median(&rates[1])),
        fmt_ratio(speedup)
    ));
    let svg = crate::flame::svg(
        &stacks::to_folded(&ours),
        "lab-01 sharded-rwlock, read-heavy, one thread, 100,000 keys",
        None,
    )?;
    Ok((
        t,
        Figure {
            name: "lab01-read-flame".into(),
            title: "lab-01's read path".into(),
            svg,
        },
    ))
}
// ANCHOR_END: lab01
