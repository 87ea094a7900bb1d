//! `lab-01 measure`: every experiment the chapter needs, written as one
//! `report::Report` for the results pipeline.
//!
//! Artifact names are a contract with the book (chapters include
//! `NAME.md` and `NAME.svg` by these names): `throughput-read-heavy`,
//! `throughput-write-heavy`, `scaling-read-heavy`, `skew`,
//! `oversubscription`, `starvation`, `starvation-wait`, `shards`,
//! `lock-fast-path`, `lock-handoff`, `go-maps`.
//! `--quick` runs the same experiments with tiny durations and one round,
//! so the pipeline can be checked in seconds; its numbers mean nothing.
//!
//! Every verdict written into a note is computed from the numbers of this
//! run; none is hard-coded.
//!
//! Submodules: [`workload`] drives one workload over one implementation,
//! [`bench`] runs contenders in alternating rounds, [`starvation`] is the
//! writer-starvation experiment, [`internals`] probes the states of std's
//! futex locks (fast path, spin, sleep and wake), [`verdicts`] words the sentences the
//! chapter quotes (table facts) from the numbers, [`go`] runs Go's maps
//! (a Go program in `go/maps`, built with Debian's `go`) beside two of
//! lab-01's designs. The `bench` and
//! `starvation` commands and `benches/` use them too.
//!
//! Run parameters the chapter quotes (keys, shards, read share, durations,
//! thread counts) are facts of the tables they describe, taken from the
//! [`MeasurePlan`] and the constants below, so the page follows the plan.

pub mod bench;
pub mod go;
pub mod internals;
pub mod starvation;
pub mod verdicts;
pub mod workload;

use std::time::Duration;

use indicatif::ProgressBar;
use report::{Plot, PlotKind, Report, Series, Table};
use serde_json::json;

use self::bench::{Cell, Contender, Summary, median_ratio, run_rounds, thread_grid};
use self::starvation::{
    PolicyProbe, StarvationResult, StarvationRuns, StarvationSpec, designs, probe_policy,
    run_starvation_rounds,
};
use self::workload::{BenchError, KeyDist, WorkloadResult, WorkloadSpec};
use kit::fmt::{fmt_duration, fmt_int, fmt_mops, fmt_ns, fmt_pct, fmt_ratio};
use kit::machine::{Conditions, Watch, conditions_note, watched};
use kit::stats::median;

/// How long and how often each experiment runs.
#[derive(Debug, Clone)]
pub struct MeasurePlan {
    pub quick: bool,
    pub pin: bool,
    pub rounds: usize,
    pub keys: u64,
    pub shards: usize,
    /// Per cell, for the throughput and skew experiments.
    pub duration: Duration,
    /// Per cell, for oversubscription and the shard sweep (many cells).
    pub sweep_duration: Duration,
    /// Per cell, for starvation.
    pub starve_duration: Duration,
    /// The policy probe's step.
    pub probe_step: Duration,
    pub latency_every: u64,
    /// Threads for the experiments run at one thread count (key skew and
    /// the shard sweep), and the baseline of the oversubscription ratio.
    pub pair_threads: usize,
}

impl MeasurePlan {
    pub fn new(quick: bool, pin: bool) -> Self {
        if quick {
            Self {
                quick,
                pin,
                rounds: 1,
                keys: 10_000,
                shards: 64,
                duration: Duration::from_millis(15),
                sweep_duration: Duration::from_millis(10),
                starve_duration: Duration::from_millis(40),
                probe_step: Duration::from_millis(10),
                latency_every: 16,
                pair_threads: 2,
            }
        } else {
            Self {
                quick,
                pin,
                // Five short rounds rather than three long ones: on a shared
                // machine a slow spell spoils one round, and the median of
                // five shrugs it off.
                rounds: 5,
                keys: 100_000,
                shards: 64,
                duration: Duration::from_millis(500),
                sweep_duration: Duration::from_millis(300),
                starve_duration: Duration::from_millis(600),
                probe_step: Duration::from_millis(20),
                latency_every: 16,
                pair_threads: 2,
            }
        }
    }

    fn spec(&self, threads: usize, read_ratio: f64, dist: KeyDist) -> WorkloadSpec {
        WorkloadSpec {
            threads,
            read_ratio,
            keys: self.keys,
            dist,
            shards: self.shards,
            duration: self.duration,
            latency_every: self.latency_every,
            pin: self.pin,
            seed: 1,
        }
    }

    fn pinned(&self) -> &'static str {
        if self.pin {
            "workers pinned to cores (core_affinity)"
        } else {
            "threads not pinned"
        }
    }

    /// The run parameters a chapter quotes, as facts of a workload table.
    fn plan_facts(&self, t: &mut Table, duration: Duration, read_ratio: f64) {
        t.fact("keys", fmt_int(self.keys as f64))
            .fact("shards", self.shards.to_string())
            .fact("duration", fmt_duration(duration))
            .fact("rounds", self.rounds.to_string())
            .fact("latency_every", self.latency_every.to_string())
            .fact("read_share", fmt_pct(read_ratio))
            .fact("write_share", fmt_pct(1.0 - read_ratio))
            .fact("cores", cores().to_string());
    }

    /// The parameters note shared by the workload tables.
    fn params_note(&self, duration: Duration, what: &str) -> String {
        format!(
            "{what}; {} pre-filled keys, {} shards in the sharded designs; {} per cell, \
             median of {} round(s) run in A B C D order; latency from every {}th operation \
             timed with Instant::now() ({} per call here); {}.",
            self.keys,
            self.shards,
            fmt_duration(duration),
            self.rounds,
            self.latency_every,
            fmt_duration(crate::measure::workload::instant_cost()),
            self.pinned()
        )
    }
}

const READ_HEAVY: f64 = 0.9;
const WRITE_HEAVY: f64 = 0.1;
const SCALING_THREADS: [usize; 4] = [1, 2, 3, 4];
const TABLE_THREADS: [usize; 3] = [1, 2, 4];
const OVERSUB_THREADS: [usize; 5] = [1, 2, 4, 8, 16];
const SHARD_COUNTS: [usize; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const ZIPF_S: f64 = 1.1;

/// The results of the cell for (`contender`, `threads`).
fn at<'a>(
    cells: &[Cell],
    results: &'a [Vec<WorkloadResult>],
    contender: usize,
    threads: usize,
) -> Option<&'a [WorkloadResult]> {
    cells
        .iter()
        .position(|c| c.contender == contender && c.spec.threads == threads)
        .map(|i| results[i].as_slice())
}

/// The raw numbers of a grid, for `report.data`.
fn grid_json(
    contenders: &[Contender],
    cells: &[Cell],
    results: &[Vec<WorkloadResult>],
) -> serde_json::Value {
    json!(
        cells
            .iter()
            .zip(results)
            .map(|(c, r)| json!({
                "impl": contenders[c.contender].name,
                "spec": c.spec,
                "summary": Summary::of(r),
                "rounds": r,
            }))
            .collect::<Vec<_>>()
    )
}

/// Speed-up of `contender` at `threads` over its own 1-thread run.
fn speedup(
    cells: &[Cell],
    results: &[Vec<WorkloadResult>],
    contender: usize,
    threads: usize,
) -> f64 {
    match (
        at(cells, results, contender, threads),
        at(cells, results, contender, 1),
    ) {
        (Some(a), Some(b)) => median_ratio(a, b),
        _ => f64::NAN,
    }
}

#[allow(clippy::too_many_arguments)]
fn throughput_table(
    name: &str,
    title: &str,
    plan: &MeasurePlan,
    read_ratio: f64,
    what: &str,
    contenders: &[Contender],
    cells: &[Cell],
    results: &[Vec<WorkloadResult>],
) -> Table {
    let mut t = Table::new(
        name,
        title,
        &[
            "impl",
            "threads",
            "Mops/s",
            "vs own 1 thread",
            "p99 latency",
            "spread",
        ],
    )
    .numeric(&[1, 2, 3, 4, 5]);
    for (ci, c) in contenders.iter().enumerate() {
        for threads in TABLE_THREADS {
            let Some(r) = at(cells, results, ci, threads) else {
                continue;
            };
            let s = Summary::of(r);
            t.row(vec![
                c.name.clone(),
                threads.to_string(),
                fmt_mops(s.ops_per_sec),
                fmt_ratio(speedup(cells, results, ci, threads)),
                fmt_ns(s.p99_ns),
                format!("±{:.0}%", s.spread_pct() / 2.0),
            ]);
        }
    }
    t.note(plan.params_note(plan.duration, what));
    let n = cores();
    t.note(if n < 4 {
        format!("This machine has {n} hardware threads: the 4-thread rows oversubscribe it.")
    } else {
        format!("This machine has {n} hardware threads.")
    });
    let at2: Vec<String> = contenders
        .iter()
        .enumerate()
        .map(|(ci, c)| format!("{} {}", c.name, fmt_ratio(speedup(cells, results, ci, 2))))
        .collect();
    t.note(format!(
        "Measured: at 2 threads each design reached this multiple of its own 1-thread \
         throughput: {}.",
        at2.join(", ")
    ));
    if let Some(best) = best_at(contenders, cells, results, 2) {
        t.note(best);
    }
    t.note("Spread is half the range of throughput over rounds, relative to the median.");
    plan.plan_facts(&mut t, plan.duration, read_ratio);
    throughput_facts(&mut t, contenders, cells, results);
    t
}

/// The facts of a throughput table: each design's 2-thread speed-up, and
/// the verdict sentences the chapter quotes.
fn throughput_facts(
    t: &mut Table,
    contenders: &[Contender],
    cells: &[Cell],
    results: &[Vec<WorkloadResult>],
) {
    const PAIR: usize = 2;
    let idx = |name: &str| contenders.iter().position(|c| c.name == name);
    let own = |name: &str| idx(name).map_or(f64::NAN, |ci| speedup(cells, results, ci, PAIR));
    let vs = |a: &str, b: &str| match (idx(a), idx(b)) {
        (Some(a), Some(b)) => match (at(cells, results, a, PAIR), at(cells, results, b, PAIR)) {
            (Some(x), Some(y)) => median_ratio(x, y),
            _ => f64::NAN,
        },
        _ => f64::NAN,
    };
    let max_threads = TABLE_THREADS.iter().max().copied().unwrap_or(1);
    t.fact("max_threads", max_threads.to_string());
    for c in contenders {
        t.fact(
            &format!("speedup_2t_{}", c.name.replace('-', "_")),
            fmt_ratio(own(&c.name)),
        );
    }
    let (mutex, rwlock) = (own("mutex"), own("rwlock"));
    let (sm_mutex, sm_rwlock, sm_srw) = (
        vs("sharded-mutex", "mutex"),
        vs("sharded-mutex", "rwlock"),
        vs("sharded-mutex", "sharded-rwlock"),
    );
    t.fact("sharded_mutex_vs_mutex_2t", fmt_ratio(sm_mutex))
        .fact("sharded_mutex_vs_rwlock_2t", fmt_ratio(sm_rwlock))
        .fact("single_locks", verdicts::single_locks(mutex, rwlock))
        .fact("rwlock_vs_mutex", verdicts::rwlock_vs_mutex(mutex, rwlock))
        .fact(
            "sharded_scaling",
            verdicts::sharded_scaling(
                PAIR,
                cores(),
                &[
                    ("sharded-mutex", own("sharded-mutex")),
                    ("sharded-rwlock", own("sharded-rwlock")),
                ],
            ),
        )
        .fact(
            "vs_single_locks",
            verdicts::vs_single_locks(PAIR, cores(), sm_mutex, sm_rwlock, mutex, rwlock),
        )
        .fact(
            "sharded_claim",
            verdicts::sharded_claim(PAIR, sm_mutex, sm_rwlock, sm_srw),
        )
        .fact(
            "per_shard_rwlock",
            verdicts::per_shard_rwlock(vs("sharded-rwlock", "sharded-mutex")),
        );
}

/// "At 2 threads X was fastest: A× Y's throughput".
fn best_at(
    contenders: &[Contender],
    cells: &[Cell],
    results: &[Vec<WorkloadResult>],
    threads: usize,
) -> Option<String> {
    let mut by: Vec<(usize, f64)> = (0..contenders.len())
        .filter_map(|ci| at(cells, results, ci, threads).map(|r| (ci, Summary::of(r).ops_per_sec)))
        .collect();
    by.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (best, _) = *by.first()?;
    let best_r = at(cells, results, best, threads)?;
    let others: Vec<String> = by[1..]
        .iter()
        .filter_map(|&(ci, _)| {
            at(cells, results, ci, threads).map(|r| {
                format!(
                    "{} {}",
                    fmt_ratio(median_ratio(best_r, r)),
                    contenders[ci].name
                )
            })
        })
        .collect();
    let mut line = format!(
        "Measured: at {threads} threads {} had the highest throughput",
        contenders[best].name
    );
    if !others.is_empty() {
        line.push_str(&format!(": {}", others.join(", ")));
    }
    line.push('.');
    Some(line)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Everything measured, before it is turned into artifacts.
struct Measured {
    contenders: Vec<Contender>,
    read: (Vec<Cell>, Vec<Vec<WorkloadResult>>),
    write: (Vec<Cell>, Vec<Vec<WorkloadResult>>),
    skew: (Vec<Cell>, Vec<Vec<WorkloadResult>>),
    oversub: (Vec<Cell>, Vec<Vec<WorkloadResult>>),
    shards: (Vec<Cell>, Vec<Vec<WorkloadResult>>),
    starvation: Vec<StarvationRuns>,
    starve_spec: StarvationSpec,
    probe: PolicyProbe,
    probe_plan: internals::ProbePlan,
    probes: internals::Probes,
    go_maps: go::GoMaps,
    loads: Loads,
}

/// Per experiment: how free the machine was meanwhile.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Loads {
    read: Conditions,
    write: Conditions,
    skew: Conditions,
    oversub: Conditions,
    shards: Conditions,
    starvation: Conditions,
    probes: Conditions,
    go_maps: Conditions,
}

/// Total cells to run, for the progress bar.
fn total_cells(plan: &MeasurePlan, n: usize) -> u64 {
    let cells = n * SCALING_THREADS.len()
        + n * TABLE_THREADS.len()
        + 2 * 3
        + n * OVERSUB_THREADS.len()
        + SHARD_COUNTS.len()
        + designs().len() * 2
        + go::cells_per_round();
    (cells * plan.rounds) as u64 + internals::ProbePlan::new(plan.quick, plan.rounds).steps()
}

/// Runs every experiment and builds the report.
pub fn measure(plan: &MeasurePlan, progress: &ProgressBar) -> Result<Report, BenchError> {
    let contenders = Contender::references();
    let n = contenders.len();
    progress.set_length(total_cells(plan, n));
    let idx = |name: &str| contenders.iter().position(|c| c.name == name).unwrap_or(0);

    let read_cells = thread_grid(
        n,
        &SCALING_THREADS,
        &plan.spec(1, READ_HEAVY, KeyDist::Uniform),
    );
    let (read, read_load) = watched(Watch::IN_PROCESS, || {
        run_rounds(&contenders, &read_cells, plan.rounds, progress)
    })?;

    let write_cells = thread_grid(
        n,
        &TABLE_THREADS,
        &plan.spec(1, WRITE_HEAVY, KeyDist::Uniform),
    );
    let (write, write_load) = watched(Watch::IN_PROCESS, || {
        run_rounds(&contenders, &write_cells, plan.rounds, progress)
    })?;

    let skew_cells: Vec<Cell> = [
        KeyDist::Uniform,
        KeyDist::Zipf { s: ZIPF_S },
        KeyDist::HotKey,
    ]
    .into_iter()
    .flat_map(|dist| {
        ["mutex", "sharded-mutex"].map(|name| Cell {
            contender: idx(name),
            spec: plan.spec(plan.pair_threads, READ_HEAVY, dist),
        })
    })
    .collect();
    let (skew, skew_load) = watched(Watch::IN_PROCESS, || {
        run_rounds(&contenders, &skew_cells, plan.rounds, progress)
    })?;

    let oversub_base = WorkloadSpec {
        duration: plan.sweep_duration,
        ..plan.spec(1, READ_HEAVY, KeyDist::Uniform)
    };
    let oversub_cells = thread_grid(n, &OVERSUB_THREADS, &oversub_base);
    let (oversub, oversub_load) = watched(Watch::IN_PROCESS, || {
        run_rounds(&contenders, &oversub_cells, plan.rounds, progress)
    })?;

    let shard_cells: Vec<Cell> = SHARD_COUNTS
        .iter()
        .map(|&shards| Cell {
            contender: idx("sharded-mutex"),
            spec: WorkloadSpec {
                shards,
                duration: plan.sweep_duration,
                ..plan.spec(plan.pair_threads, READ_HEAVY, KeyDist::Uniform)
            },
        })
        .collect();
    let (shards, shards_load) = watched(Watch::IN_PROCESS, || {
        run_rounds(&contenders, &shard_cells, plan.rounds, progress)
    })?;

    let starve_spec = StarvationSpec {
        duration: plan.starve_duration,
        pin: plan.pin,
        shards: plan.shards,
        ..StarvationSpec::default()
    };
    let (starvation, starve_load) = watched(Watch::IN_PROCESS, || {
        run_starvation_rounds(&starve_spec, &[true, false], plan.rounds, progress)
    })?;
    progress.set_message("policy probe");
    let probe = probe_policy(plan.probe_step)?;

    progress.set_message("lock probes");
    let probe_plan = internals::ProbePlan::new(plan.quick, plan.rounds);
    let (probes, probes_load) = watched(Watch::IN_PROCESS, || {
        Ok::<_, BenchError>(internals::run_probes(&probe_plan, || progress.inc(1)))
    })?;

    // Go's maps beside two of lab-01's designs (a Go program per cell, so
    // the machine check watches child processes too).
    let warm = if plan.quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(1)
    };
    let (go_maps, go_load) = watched(Watch::children(warm), || {
        go::run(plan, progress).map_err(|e| BenchError::Go(format!("{e:#}")))
    })?;

    let m = Measured {
        contenders,
        read: (read_cells, read),
        write: (write_cells, write),
        skew: (skew_cells, skew),
        oversub: (oversub_cells, oversub),
        shards: (shard_cells, shards),
        starvation,
        starve_spec,
        probe,
        probe_plan,
        probes,
        go_maps,
        loads: Loads {
            read: read_load,
            write: write_load,
            skew: skew_load,
            oversub: oversub_load,
            shards: shards_load,
            starvation: starve_load,
            probes: probes_load,
            go_maps: go_load,
        },
    };
    Ok(build_report(plan, &m))
}

fn build_report(plan: &MeasurePlan, m: &Measured) -> Report {
    let mut report = Report::new("lab-01", plan.quick);
    report.notes.push(format!(
        "{} hardware threads; {}; {} round(s) per experiment.",
        cores(),
        plan.pinned(),
        plan.rounds
    ));
    let c = &m.contenders;

    // throughput-read-heavy / throughput-write-heavy
    let (rc, rr) = (&m.read.0, &m.read.1);
    let mix = |read: f64| {
        format!(
            "Uniform keys, {} reads (`read`, no clone) and {} writes (`insert`)",
            fmt_pct(read),
            fmt_pct(1.0 - read)
        )
    };
    let mut read_table = throughput_table(
        "throughput-read-heavy",
        &format!(
            "Read-heavy throughput ({} reads, uniform keys)",
            fmt_pct(READ_HEAVY)
        ),
        plan,
        READ_HEAVY,
        &mix(READ_HEAVY),
        c,
        rc,
        rr,
    );
    read_table.note(conditions_note(&m.loads.read));
    // The run as a whole: how far apart the cores were, experiment by
    // experiment (the chapter's machine-check paragraph quotes it).
    read_table.fact("handoff_range", handoff_range(&m.loads));
    // The shard sweep is a plot (plots carry no facts); it runs this
    // table's read-heavy uniform workload, so its sentence lives here.
    read_table
        .fact("sweep_threads", plan.pair_threads.to_string())
        .fact(
            "shard_sweep",
            verdicts::shard_sweep(
                &m.shards
                    .0
                    .iter()
                    .zip(&m.shards.1)
                    .map(|(cell, r)| (cell.spec.shards, Summary::of(r).ops_per_sec))
                    .collect::<Vec<_>>(),
            ),
        );
    report.table(read_table);
    let (wc, wr) = (&m.write.0, &m.write.1);
    let mut write_table = throughput_table(
        "throughput-write-heavy",
        &format!(
            "Write-heavy throughput ({} reads, uniform keys)",
            fmt_pct(WRITE_HEAVY)
        ),
        plan,
        WRITE_HEAVY,
        &mix(WRITE_HEAVY),
        c,
        wc,
        wr,
    );
    write_table.note(conditions_note(&m.loads.write));
    report.table(write_table);

    // scaling-read-heavy
    report.plot(Plot {
        name: "scaling-read-heavy".into(),
        title: "Read-heavy throughput by thread count".into(),
        kind: PlotKind::Line {
            x: SCALING_THREADS.iter().map(|&t| t as f64).collect(),
            log_x: false,
        },
        x_label: "threads".into(),
        y_label: "Mops/s (median of rounds)".into(),
        log_y: false,
        series: c
            .iter()
            .enumerate()
            .map(|(ci, contender)| Series {
                name: contender.name.clone(),
                values: SCALING_THREADS
                    .iter()
                    .map(|&t| {
                        at(rc, rr, ci, t).map_or(f64::NAN, |r| Summary::of(r).ops_per_sec / 1e6)
                    })
                    .collect(),
            })
            .collect(),
    });

    let mut skew = skew_table(plan, c, &m.skew.0, &m.skew.1);
    skew.note(conditions_note(&m.loads.skew));
    report.table(skew);
    let mut oversub = oversub_table(plan, c, &m.oversub.0, &m.oversub.1);
    oversub.note(conditions_note(&m.loads.oversub));
    report.table(oversub);
    let (mut starve_table, starve_plot) =
        starvation_artifacts(&m.starve_spec, &m.starvation, &m.probe, plan.rounds);
    starve_table.note(conditions_note(&m.loads.starvation));
    report.table(starve_table);
    report.plot(starve_plot);

    let (mut fast, mut handoff) = internals::probe_tables(&m.probe_plan, &m.probes);
    fast.note(conditions_note(&m.loads.probes));
    handoff.note(conditions_note(&m.loads.probes));
    report.table(fast);
    report.table(handoff);

    let mut go_maps = go::table(plan, &m.go_maps);
    go_maps.note(conditions_note(&m.loads.go_maps));
    report.table(go_maps);

    // shards
    let (sc, sr) = (&m.shards.0, &m.shards.1);
    report.plot(Plot {
        name: "shards".into(),
        title: format!(
            "sharded-mutex throughput by shard count ({} threads, read-heavy)",
            plan.pair_threads
        ),
        kind: PlotKind::Line {
            x: SHARD_COUNTS.iter().map(|&s| s as f64).collect(),
            log_x: true,
        },
        x_label: "shards".into(),
        y_label: "Mops/s (median of rounds)".into(),
        log_y: false,
        series: vec![Series {
            name: format!("sharded-mutex, {} threads", plan.pair_threads),
            values: sr
                .iter()
                .map(|r| Summary::of(r).ops_per_sec / 1e6)
                .collect(),
        }],
    });
    let shards_best = sc
        .iter()
        .zip(sr)
        .map(|(cell, r)| (cell.spec.shards, Summary::of(r).ops_per_sec))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some((best_n, best)), Some(one)) = (shards_best, sr.first()) {
        report.notes.push(format!(
            "shards: sharded-mutex at {} threads peaked at {best_n} shards with {} Mops/s, \
             {} its 1-shard throughput ({} per cell).",
            plan.pair_threads,
            fmt_mops(best),
            fmt_ratio(best / Summary::of(one).ops_per_sec),
            fmt_duration(plan.sweep_duration)
        ));
    }
    report
        .notes
        .push(format!("shards: {}", conditions_note(&m.loads.shards)));

    report.data = json!({
        "plan": {
            "quick": plan.quick,
            "pin": plan.pin,
            "rounds": plan.rounds,
            "keys": plan.keys,
            "shards": plan.shards,
            "duration_ms": plan.duration.as_millis() as u64,
            "sweep_duration_ms": plan.sweep_duration.as_millis() as u64,
            "starve_duration_ms": plan.starve_duration.as_millis() as u64,
            "latency_every": plan.latency_every,
            "cores": cores(),
        },
        "throughput_read_heavy": grid_json(c, rc, rr),
        "throughput_write_heavy": grid_json(c, wc, wr),
        "skew": grid_json(c, &m.skew.0, &m.skew.1),
        "oversubscription": grid_json(c, &m.oversub.0, &m.oversub.1),
        "shards": grid_json(c, sc, sr),
        "starvation": {
            "spec": m.starve_spec,
            "runs": m.starvation,
            "policy_probe": m.probe,
        },
        "go_maps": m.go_maps,
        "conditions": m.loads,
    });
    report
}

/// "from 41 ns to 564 ns": the cache-line handoff over the run's
/// experiments, as the machine check measured it before each.
fn handoff_range(loads: &Loads) -> String {
    let all: Vec<f64> = [
        loads.read,
        loads.write,
        loads.skew,
        loads.oversub,
        loads.shards,
        loads.starvation,
    ]
    .iter()
    .filter_map(|c| c.handoff_ns)
    .collect();
    if all.is_empty() {
        return "unmeasured (the machine check could not time a handoff)".to_owned();
    }
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("from {} to {}", fmt_ns(lo), fmt_ns(hi))
}

fn skew_table(
    plan: &MeasurePlan,
    c: &[Contender],
    cells: &[Cell],
    results: &[Vec<WorkloadResult>],
) -> Table {
    let mut t = Table::new(
        "skew",
        &format!(
            "Where sharding fails: key skew at {} threads ({} reads)",
            plan.pair_threads,
            fmt_pct(READ_HEAVY)
        ),
        &[
            "impl",
            "keys",
            "Mops/s",
            "vs its uniform run",
            "vs mutex",
            "p99 latency",
        ],
    )
    .numeric(&[2, 3, 4, 5]);
    let find = |name: &str, dist: &KeyDist| {
        cells
            .iter()
            .position(|cell| c[cell.contender].name == name && cell.spec.dist == *dist)
            .map(|i| results[i].as_slice())
    };
    let dists = [
        KeyDist::Uniform,
        KeyDist::Zipf { s: ZIPF_S },
        KeyDist::HotKey,
    ];
    for name in ["mutex", "sharded-mutex"] {
        for dist in &dists {
            let (Some(r), Some(uniform), Some(mutex)) = (
                find(name, dist),
                find(name, &KeyDist::Uniform),
                find("mutex", dist),
            ) else {
                continue;
            };
            let s = Summary::of(r);
            t.row(vec![
                name.to_owned(),
                dist.label(),
                fmt_mops(s.ops_per_sec),
                fmt_ratio(median_ratio(r, uniform)),
                fmt_ratio(median_ratio(r, mutex)),
                fmt_ns(s.p99_ns),
            ]);
        }
    }
    t.note(plan.params_note(
        plan.duration,
        &format!(
            "{} threads, {} reads; keys uniform, Zipf-distributed (s = {ZIPF_S}), or all on \
             one key",
            plan.pair_threads,
            fmt_pct(READ_HEAVY)
        ),
    ));
    let ratio = |dist: &KeyDist| match (find("sharded-mutex", dist), find("mutex", dist)) {
        (Some(a), Some(b)) => median_ratio(a, b),
        _ => f64::NAN,
    };
    t.note(format!(
        "Measured: sharded-mutex ran at {} the mutex's throughput with uniform keys, {} with \
         Zipf s={ZIPF_S}, and {} with every operation on one key (one key is one shard is one \
         lock).",
        fmt_ratio(ratio(&KeyDist::Uniform)),
        fmt_ratio(ratio(&KeyDist::Zipf { s: ZIPF_S })),
        fmt_ratio(ratio(&KeyDist::HotKey)),
    ));
    let own = |name: &str, dist: &KeyDist| match (find(name, dist), find(name, &KeyDist::Uniform)) {
        (Some(a), Some(b)) => median_ratio(a, b),
        _ => f64::NAN,
    };
    let zipf = KeyDist::Zipf { s: ZIPF_S };
    let rows: Vec<(&str, f64, f64)> = ["mutex", "sharded-mutex"]
        .into_iter()
        .map(|name| (name, own(name, &zipf), own(name, &KeyDist::HotKey)))
        .collect();
    let verdict = verdicts::skew(&rows);
    t.note(format!("Measured: {verdict}."));
    plan.plan_facts(&mut t, plan.duration, READ_HEAVY);
    t.fact("threads", plan.pair_threads.to_string())
        .fact("zipf_s", ZIPF_S.to_string())
        .fact("uniform_vs_mutex", fmt_ratio(ratio(&KeyDist::Uniform)))
        .fact("zipf_vs_mutex", fmt_ratio(ratio(&zipf)))
        .fact("hot_vs_mutex", fmt_ratio(ratio(&KeyDist::HotKey)))
        .fact(
            "hot_against_mutex",
            verdicts::against_mutex(ratio(&KeyDist::HotKey)),
        )
        .fact("zipf_against_mutex", verdicts::against_mutex(ratio(&zipf)))
        .fact("skew_verdict", verdict);
    t
}

fn oversub_table(
    plan: &MeasurePlan,
    c: &[Contender],
    cells: &[Cell],
    results: &[Vec<WorkloadResult>],
) -> Table {
    let mut columns = vec!["impl".to_owned()];
    columns.extend(OVERSUB_THREADS.iter().map(|t| format!("{t} threads")));
    let (base, many) = (
        plan.pair_threads,
        OVERSUB_THREADS.iter().max().copied().unwrap_or(1),
    );
    columns.push(format!("{many} vs {base} threads"));
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut t = Table::new(
        "oversubscription",
        "More threads than cores: read-heavy throughput (Mops/s)",
        &cols,
    )
    .numeric(&(1..cols.len()).collect::<Vec<_>>());
    let mut parts = Vec::new();
    let mut ratios: Vec<(&str, f64)> = Vec::new();
    for (ci, contender) in c.iter().enumerate() {
        let mut row = vec![contender.name.clone()];
        for threads in OVERSUB_THREADS {
            row.push(
                at(cells, results, ci, threads)
                    .map_or("-".into(), |r| fmt_mops(Summary::of(r).ops_per_sec)),
            );
        }
        let r16_2 = match (at(cells, results, ci, many), at(cells, results, ci, base)) {
            (Some(a), Some(b)) => median_ratio(a, b),
            _ => f64::NAN,
        };
        row.push(fmt_ratio(r16_2));
        ratios.push((contender.name.as_str(), r16_2));
        parts.push(format!("{} {}", contender.name, fmt_ratio(r16_2)));
        t.row(row);
    }
    t.note(plan.params_note(plan.sweep_duration, "Uniform keys, 90% reads"));
    t.note(format!(
        "This machine has {} hardware threads; every thread count above that oversubscribes it.",
        cores()
    ));
    t.note(format!(
        "Measured: throughput at {many} threads relative to {base} threads: {}.",
        parts.join(", ")
    ));
    let sharded: Vec<(&str, f64)> = ratios
        .iter()
        .copied()
        .filter(|(name, _)| name.starts_with("sharded"))
        .collect();
    let single: Vec<(&str, f64)> = ratios
        .iter()
        .copied()
        .filter(|(name, _)| !name.starts_with("sharded"))
        .collect();
    let verdict = verdicts::oversubscription(base, many, &sharded, &single);
    t.note(format!("Measured: {verdict}."));
    // What the second thread did to each design (the step before
    // oversubscription starts on a two-core machine).
    for (ci, contender) in c.iter().enumerate() {
        let r = match (at(cells, results, ci, base), at(cells, results, ci, 1)) {
            (Some(a), Some(b)) => median_ratio(a, b),
            _ => f64::NAN,
        };
        t.fact(
            &format!("{}_base_vs_1", contender.name.replace('-', "_")),
            fmt_ratio(r),
        );
    }
    plan.plan_facts(&mut t, plan.sweep_duration, READ_HEAVY);
    t.fact("base_threads", base.to_string())
        .fact("max_threads", many.to_string())
        .fact("oversub_verdict", verdict);
    t
}

/// Median over rounds of one number of a starvation result.
fn smed(rounds: &[StarvationResult], f: fn(&StarvationResult) -> f64) -> f64 {
    median(&rounds.iter().map(f).collect::<Vec<_>>())
}

/// The `starvation` table and the `starvation-wait` plot.
pub fn starvation_artifacts(
    spec: &StarvationSpec,
    runs: &[StarvationRuns],
    probe: &PolicyProbe,
    rounds: usize,
) -> (Table, Plot) {
    let pinned = if spec.pin {
        "workers pinned to cores (core_affinity)"
    } else {
        "threads not pinned"
    };
    let mut t = Table::new(
        "starvation",
        "Writer starvation: how long a writer waits for its lock while readers hammer",
        &[
            "design",
            "keys",
            "writer wait p50",
            "writer wait p99",
            "writer wait max",
            "reader Mops/s",
            "reader p99",
        ],
    )
    .numeric(&[2, 3, 4, 5, 6]);
    for run in runs {
        let rounds = &run.rounds;
        t.row(vec![
            run.design.clone(),
            if run.hot { "hot key" } else { "uniform" }.to_owned(),
            fmt_ns(smed(rounds, |r| r.writer_wait.p50_ns as f64)),
            fmt_ns(smed(rounds, |r| r.writer_wait.p99_ns as f64)),
            fmt_ns(smed(rounds, |r| r.writer_wait.max_ns as f64)),
            fmt_mops(smed(rounds, |r| r.reader_ops_per_sec)),
            fmt_ns(smed(rounds, |r| r.reader_latency.p99_ns as f64)),
        ]);
    }
    t.note(format!(
        "{} reader thread(s) read continuously, each read holding the lock for {} (a long \
         value being walked); {} writer thread(s) sleep {} between writes. Writer wait is the \
         time from calling `update` to its closure starting. Keys: all on key 0 (hot key) or \
         uniform over {} keys. {} per cell, median of {} round(s), designs alternating; {}.",
        spec.readers,
        fmt_duration(spec.read_hold),
        spec.writers,
        fmt_duration(spec.write_interval),
        spec.keys,
        fmt_duration(spec.duration),
        rounds,
        pinned
    ));
    t.note(format!(
        "Readers plus writers ({}) exceed the {} hardware threads: a writer that wakes up \
         usually preempts a reader, possibly one that holds the lock.",
        spec.readers + spec.writers,
        cores()
    ));
    let p = probe;
    t.note(if !p.writer_was_waiting {
        "Policy probe inconclusive: the writer had finished before the late reader arrived \
         (the machine was too busy); rerun."
            .to_owned()
    } else if p.writer_preferring {
        format!(
            "Policy probe: a reader that arrived while a writer was queued behind another \
             reader waited {} instead of sharing the lock at once: std's RwLock is \
             writer-preferring here.",
            fmt_duration(p.late_reader_wait)
        )
    } else {
        format!(
            "Policy probe: a reader that arrived while a writer was queued got in after {}, \
             beside the first reader: this RwLock lets readers pass waiting writers.",
            fmt_duration(p.late_reader_wait)
        )
    });
    let get = |design: &str, hot: bool| {
        runs.iter()
            .find(|r| r.design == design && r.hot == hot)
            .map(|r| r.rounds.as_slice())
            .unwrap_or(&[])
    };
    let modes: Vec<bool> = [true, false]
        .into_iter()
        .filter(|&hot| runs.iter().any(|r| r.hot == hot))
        .collect();
    let mut pairs = Vec::new();
    for &hot in &modes {
        for (rw, mx) in [("rwlock", "mutex"), ("sharded-rwlock", "sharded-mutex")] {
            let (a, b) = (get(rw, hot), get(mx, hot));
            let wait =
                smed(a, |r| r.writer_wait.p99_ns as f64) / smed(b, |r| r.writer_wait.p99_ns as f64);
            let reads = smed(a, |r| r.reader_ops_per_sec) / smed(b, |r| r.reader_ops_per_sec);
            pairs.push((wait, reads));
            t.note(format!(
                "Measured ({}): {rw} vs {mx}: writer wait p99 {} the {mx}'s, reader \
                 throughput {} the {mx}'s. {}",
                if hot { "hot key" } else { "uniform keys" },
                fmt_ratio(wait),
                fmt_ratio(reads),
                verdict(wait, reads)
            ));
        }
    }
    t.fact("readers", spec.readers.to_string())
        .fact("writers", spec.writers.to_string())
        .fact("threads", (spec.readers + spec.writers).to_string())
        .fact("read_hold", fmt_duration(spec.read_hold))
        .fact("write_interval", fmt_duration(spec.write_interval))
        .fact("duration", fmt_duration(spec.duration))
        .fact("keys", fmt_int(spec.keys as f64))
        .fact("cores", cores().to_string())
        .fact("pairings", pairs.len().to_string())
        .fact("rwlock_claim", verdicts::rwlock_claim(&pairs));
    for run in runs {
        t.fact(
            &format!(
                "max_wait_{}_{}",
                run.design.replace('-', "_"),
                if run.hot { "hot" } else { "uniform" }
            ),
            fmt_ns(smed(&run.rounds, |r| r.writer_wait.max_ns as f64)),
        );
    }
    let designs_list: Vec<String> = designs().iter().map(|(n, _)| (*n).to_owned()).collect();
    let series = modes
        .iter()
        .map(|&hot| Series {
            name: if hot { "hot key" } else { "uniform keys" }.into(),
            values: designs_list
                .iter()
                .map(|d| smed(get(d, hot), |r| r.writer_wait.p99_ns as f64) / 1e3)
                .collect(),
        })
        .collect();
    let plot = Plot {
        name: "starvation-wait".into(),
        title: "Writer wait p99 while readers hammer".into(),
        kind: PlotKind::Bars {
            categories: designs_list,
        },
        x_label: "design".into(),
        y_label: "writer wait p99 (µs, log scale)".into(),
        log_y: true,
        series,
    };
    (t, plot)
}

/// The chapter's question, answered from two ratios (RwLock over Mutex):
/// does the RwLock hurt writers, and does it help readers?
pub fn verdict(writer_wait_ratio: f64, reader_ratio: f64) -> String {
    if writer_wait_ratio.is_nan() || reader_ratio.is_nan() {
        return "No verdict: a measurement is missing.".to_owned();
    }
    let writers = if writer_wait_ratio > 2.0 {
        "writers waited longer than with a mutex"
    } else if writer_wait_ratio < 0.8 {
        "writers waited less than with a mutex"
    } else {
        "writers waited about as long as with a mutex"
    };
    let readers = if reader_ratio > 1.1 {
        "readers gained throughput"
    } else {
        "readers gained nothing"
    };
    let claim = match (writer_wait_ratio > 2.0, reader_ratio > 1.1) {
        (true, false) => "the claim holds here",
        (true, true) => "mixed",
        (false, true) => "the claim does not hold here",
        (false, false) => "neither: the RwLock buys nothing here",
    };
    format!("Verdict: {claim}; {writers}, and {readers}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_numbers() {
        assert!(verdict(1.0, 1.5).contains("does not hold"));
        assert!(verdict(0.4, 1.5).contains("waited less"));
        assert!(verdict(5.0, 1.0).contains("claim holds"));
        assert!(verdict(5.0, 2.0).contains("mixed"));
        assert!(verdict(1.0, 1.0).contains("neither"));
        assert!(verdict(1.0, 1.0).contains("about as long"));
        assert!(verdict(f64::NAN, 1.0).contains("No verdict"));
    }
}
