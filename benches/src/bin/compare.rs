//! lab-01's cache designs against the crates people reach for, in one run.
//!
//! `cargo run -p benches --release --bin compare -- measure --out FILE.json`
//! is the results pipeline's entry point (`cargo xtask results --only
//! benches`). Three experiments, one process:
//!
//! - Maps, read-heavy and write-heavy, at 1 and 2 threads: lab-01's four
//!   designs on std's locks and on parking_lot's, dashmap, papaya, moka and
//!   lab-01's sharded-mutex with moka's features switched on. The driver is
//!   lab-01's own (`run_rounds`): same workload, same pre-drawn keys,
//!   contenders alternating round by round, medians of same-round ratios.
//!   Each mix gives two tables from the same measurements: `crates-*` (every
//!   contender) and `dashmap-*` (lab-01's std designs and dashmap, the view
//!   Part I and Part IV started with).
//! - The hot value (`hot-value`): arc-swap against `RwLock<Arc>`,
//!   `Mutex<Arc>` and a lab-01 key, with 1 and 2 readers and one writer,
//!   through the same alternating schedule (`benches::hot`).

use std::time::Duration;

use anyhow::{Context, Result};
use benches::hot::{HotContender, HotResult, HotSpec, run_hot_rounds};
use benches::locks::{PlMutexCache, PlRwLockCache, PlShardedMutex, PlShardedRwLock};
use benches::targets::{
    CACHE_TTL, DashMapTarget, MokaTarget, PapayaTarget, ShardedMutexTtl, cache_capacity,
};
use benches::verdicts;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kit::fmt::{fmt_duration, fmt_int, fmt_mops, fmt_ns, fmt_pct, fmt_ratio};
use kit::stats::{median, paired_ratio};
use lab_01::measure::bench::{Cell, Contender, Summary, median_ratio, run_rounds};
use lab_01::measure::workload::{KeyDist, WorkloadResult, WorkloadSpec};
use report::{Report, Table};

#[derive(Parser)]
#[command(about = "Compare lab-01's caches with established crates")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure and write a report for the results pipeline.
    Measure(kit::cli::MeasureArgs),
}

const THREADS: [usize; 2] = [1, 2];
/// Reader threads in the hot-value experiment (plus one writer).
const READERS: [usize; 2] = [1, 2];
/// The design every crates table compares against: the seed's winner.
const BASELINE: &str = "sharded-mutex";
/// The lab-01-style contender of the hot-value table.
const HOT_BASELINE: &str = "sharded-mutex-key";

struct Mix {
    /// The table with every contender.
    crates: &'static str,
    /// The table with lab-01's std designs and dashmap only.
    dashmap: &'static str,
    label: &'static str,
    read_ratio: f64,
}

const MIXES: [Mix; 2] = [
    Mix {
        crates: "crates-read-heavy",
        dashmap: "dashmap-read-heavy",
        label: "read-heavy",
        read_ratio: 0.9,
    },
    Mix {
        crates: "crates-write-heavy",
        dashmap: "dashmap-write-heavy",
        label: "write-heavy",
        read_ratio: 0.1,
    },
];

/// Every map contender, in table order: lab-01 on std's locks, lab-01 on
/// parking_lot's, then the other crates, then the two caches with TTLs.
fn map_contenders() -> Vec<Contender> {
    let mut c = Contender::references();
    c.extend([
        Contender::of::<PlMutexCache>("pl-mutex"),
        Contender::of::<PlRwLockCache>("pl-rwlock"),
        Contender::of::<PlShardedMutex>("pl-sharded-mutex"),
        Contender::of::<PlShardedRwLock>("pl-sharded-rwlock"),
        Contender::of::<DashMapTarget>("dashmap"),
        Contender::of::<PapayaTarget>("papaya"),
        Contender::of::<ShardedMutexTtl>("sharded-mutex-ttl"),
        Contender::of::<MokaTarget>("moka"),
    ]);
    c
}

/// How long, how many rounds: one place, so notes and facts agree.
struct Plan {
    quick: bool,
    rounds: usize,
    duration: Duration,
    hot_duration: Duration,
    write_every: Duration,
    base: WorkloadSpec,
}

impl Plan {
    fn new(quick: bool) -> Self {
        // Full mode: 12 map contenders × 2 thread counts × 2 mixes × 5
        // rounds at 700 ms, plus 4 × 2 × 5 hot-value cells: about four
        // minutes. Quick mode checks the pipeline in a few seconds.
        let (rounds, duration, hot_duration) = if quick {
            (1, Duration::from_millis(20), Duration::from_millis(20))
        } else {
            (5, Duration::from_millis(700), Duration::from_millis(700))
        };
        Self {
            quick,
            rounds,
            duration,
            hot_duration,
            write_every: Duration::from_millis(1),
            base: WorkloadSpec {
                keys: 100_000,
                dist: KeyDist::Uniform,
                shards: 64,
                duration,
                ..WorkloadSpec::default()
            },
        }
    }

    fn rounds_note(&self, cell: Duration, n: usize) -> String {
        format!(
            "{} round{} of {} per cell, all {n} contenders alternating within each round; \
             medians over rounds; ratios are medians of same-round ratios{}.",
            self.rounds,
            if self.rounds == 1 { "" } else { "s" },
            fmt_duration(cell),
            if self.quick {
                " (quick run: the numbers mean nothing)"
            } else {
                ""
            }
        )
    }
}

/// One mix's measurements, found by contender name.
struct Grid<'a> {
    contenders: &'a [Contender],
    results: Vec<Vec<WorkloadResult>>,
}

impl Grid<'_> {
    fn at(&self, name: &str, threads: usize) -> &[WorkloadResult] {
        let c = self.contenders.iter().position(|c| c.name == name);
        let t = THREADS.iter().position(|&x| x == threads);
        match (c, t) {
            (Some(c), Some(t)) => &self.results[t * self.contenders.len() + c],
            _ => &[],
        }
    }

    /// `a`'s throughput over `b`'s, same rounds (NaN when either is missing).
    fn ratio(&self, a: &str, b: &str, threads: usize) -> f64 {
        median_ratio(self.at(a, threads), self.at(b, threads))
    }
}

fn main() -> Result<()> {
    let Command::Measure(kit::cli::MeasureArgs { quick, out }) = Cli::parse().command;
    let started = std::time::Instant::now();
    let plan = Plan::new(quick);
    let contenders = map_contenders();
    let hot = HotContender::all();

    let total =
        (MIXES.len() * THREADS.len() * contenders.len() + READERS.len() * hot.len()) * plan.rounds;
    let progress = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    let mut report = Report::new("benches", quick);
    let mut raw = serde_json::Map::new();
    for mix in &MIXES {
        let spec = WorkloadSpec {
            read_ratio: mix.read_ratio,
            ..plan.base.clone()
        };
        // Cells ordered threads-major so the contenders being compared at
        // one thread count run next to each other in every round.
        let cells: Vec<Cell> = THREADS
            .iter()
            .flat_map(|&threads| {
                (0..contenders.len()).map({
                    let spec = spec.clone();
                    move |contender| Cell {
                        contender,
                        spec: WorkloadSpec {
                            threads,
                            ..spec.clone()
                        },
                    }
                })
            })
            .collect();
        let results = run_rounds(&contenders, &cells, plan.rounds, &progress)
            .with_context(|| format!("measuring the {} mix", mix.label))?;
        let grid = Grid {
            contenders: &contenders,
            results,
        };
        for c in &contenders {
            raw.insert(
                format!("{}/{}", mix.crates, c.name),
                serde_json::json!({
                    "one_thread": grid.at(&c.name, 1),
                    "two_threads": grid.at(&c.name, 2),
                }),
            );
        }
        report.table(crates_table(&plan, mix, &grid));
        report.table(dashmap_table(&plan, mix, &grid));
    }

    let hot_cells: Vec<(usize, HotSpec)> = READERS
        .iter()
        .flat_map(|&readers| {
            (0..hot.len()).map(move |c| {
                (
                    c,
                    HotSpec {
                        readers,
                        duration: plan.hot_duration,
                        write_every: plan.write_every,
                    },
                )
            })
        })
        .collect();
    let hot_results = run_hot_rounds(&hot, &hot_cells, plan.rounds, &progress)
        .context("measuring the hot value")?;
    let hot_grid = HotGrid {
        contenders: &hot,
        results: hot_results,
    };
    for c in &hot {
        raw.insert(
            format!("hot-value/{}", c.name),
            serde_json::json!({
                "one_reader": hot_grid.at(&c.name, 1),
                "two_readers": hot_grid.at(&c.name, 2),
            }),
        );
    }
    report.table(hot_table(&plan, &hot_grid));

    progress.finish_and_clear();
    report.data = serde_json::Value::Object(raw);
    kit::output::finish(&report, &out, started)
}

/// Every contender of one mix, against lab-01's sharded-mutex.
fn crates_table(plan: &Plan, mix: &Mix, g: &Grid) -> Table {
    let title = format!(
        "lab-01 and the crates people reach for, {}, uniform keys ({} reads)",
        mix.label,
        fmt_pct(mix.read_ratio)
    );
    let mut t = Table::new(
        mix.crates,
        &title,
        &[
            "implementation",
            "1 thread (Mops/s)",
            "2 threads (Mops/s)",
            "speed-up 2/1",
            "vs sharded-mutex at 2 threads",
            "p99 at 2 threads",
        ],
    )
    .numeric(&[1, 2, 3, 4, 5]);
    let mut vs_baseline = Vec::new();
    for c in g.contenders {
        let name = c.name.as_str();
        let vs = g.ratio(name, BASELINE, 2);
        vs_baseline.push((c.name.clone(), vs));
        t.row(vec![
            c.name.clone(),
            fmt_mops(Summary::of(g.at(name, 1)).ops_per_sec),
            fmt_mops(Summary::of(g.at(name, 2)).ops_per_sec),
            fmt_ratio(median_ratio(g.at(name, 2), g.at(name, 1))),
            fmt_ratio(vs),
            fmt_ns(Summary::of(g.at(name, 2)).p99_ns),
        ]);
    }
    let capacity = cache_capacity(plan.base.keys);
    t.note(plan.rounds_note(plan.duration, g.contenders.len()));
    t.note(format!(
        "{} keys pre-filled, uniform keys, {} reads, threads not pinned. {} shards for every \
         sharded lab-01 design (std or parking_lot) and for dashmap; papaya is one table and \
         moka segments its own table, so the shard setting does not apply to them. Every map \
         hashes with std's RandomState (SipHash).",
        fmt_int(plan.base.keys as f64),
        fmt_pct(mix.read_ratio),
        plan.base.shards
    ));
    t.note(
        "pl-: lab-01's cache, unchanged, with parking_lot's Mutex or RwLock as the shard lock \
         (lab-01's ShardLock trait implemented for them in benches/src/locks.rs).",
    );
    t.note(
        "papaya pins the map for every operation, because the driver makes one call per \
         operation; a caller that keeps one pin across many operations pays for it once.",
    );
    t.note(format!(
        "moka and sharded-mutex-ttl are configured alike: a capacity of {} keys (twice the \
         key space, so neither evicts during a run) and a TTL of {} on every write (longer \
         than a run, so nothing expires). Equivalent: both check a deadline on every read, \
         both record each read for their eviction order, and a write restarts the key's TTL \
         in both. Not equivalent: moka admits new keys through TinyLFU (a frequency sketch, \
         active once the cache is half full, as here) and evicts by LRU, while lab-01 admits \
         every key and evicts the least recently used of a few sampled ones; moka applies \
         reads and writes to its policy later, in batches run by whichever caller finds a log \
         full (and drops read records when the read log is full), while lab-01 updates a stamp \
         in place and evicts inside the insert; moka's get returns a copy of the value, lab-01's \
         read runs a closure on it under the lock. The plain lab-01 rows run without a \
         capacity or TTLs.",
        fmt_int(capacity as f64),
        fmt_ttl(CACHE_TTL)
    ));

    let (leader, leader_vs, lead) =
        verdicts::lead(&vs_baseline, BASELINE, "operations", "at 2 threads");
    t.note(format!("Measured: {lead}."));
    let swaps: Vec<(&str, f64)> = ["mutex", "rwlock", "sharded-mutex", "sharded-rwlock"]
        .into_iter()
        .map(|d| (d, g.ratio(&format!("pl-{d}"), d, 2)))
        .collect();
    let parking_lot = verdicts::lock_swap(&swaps, "At 2 threads");
    t.note(format!("Measured: {parking_lot}."));
    let papaya = verdicts::pair(
        "papaya",
        "dashmap",
        ("at 2 threads", g.ratio("papaya", "dashmap", 2)),
        ("at 1 thread", g.ratio("papaya", "dashmap", 1)),
    );
    t.note(format!("Measured: {papaya}."));
    let moka = verdicts::pair(
        "moka",
        "sharded-mutex-ttl",
        ("at 2 threads", g.ratio("moka", "sharded-mutex-ttl", 2)),
        ("at 1 thread", g.ratio("moka", "sharded-mutex-ttl", 1)),
    );
    let ttl_cost = g.ratio("sharded-mutex-ttl", BASELINE, 2);
    t.note(format!(
        "Measured: {moka}. lab-01's own capacity bound and TTLs took sharded-mutex to {} of \
         its plain throughput at 2 threads.",
        fmt_ratio(ttl_cost)
    ));

    t.fact("keys", fmt_int(plan.base.keys as f64))
        .fact("read_share", fmt_pct(mix.read_ratio))
        .fact("shards", plan.base.shards.to_string())
        .fact("duration", fmt_duration(plan.duration))
        .fact("rounds", plan.rounds.to_string())
        .fact("contenders", g.contenders.len().to_string())
        .fact("capacity", fmt_int(capacity as f64))
        .fact("ttl", fmt_ttl(CACHE_TTL))
        .fact("leader", leader)
        .fact("leader_vs_sharded_mutex", fmt_ratio(leader_vs))
        .fact("lead", lead)
        .fact("parking_lot", parking_lot)
        .fact(
            "pl_sharded_mutex_vs_std",
            fmt_ratio(g.ratio("pl-sharded-mutex", "sharded-mutex", 2)),
        )
        .fact(
            "pl_mutex_vs_std",
            fmt_ratio(g.ratio("pl-mutex", "mutex", 2)),
        )
        .fact("papaya", papaya)
        .fact(
            "papaya_vs_dashmap",
            fmt_ratio(g.ratio("papaya", "dashmap", 2)),
        )
        .fact(
            "papaya_vs_sharded_mutex",
            fmt_ratio(g.ratio("papaya", BASELINE, 2)),
        )
        .fact("moka", moka)
        .fact(
            "moka_vs_lab_ttl",
            fmt_ratio(g.ratio("moka", "sharded-mutex-ttl", 2)),
        )
        .fact("ttl_cost", fmt_ratio(ttl_cost));
    t
}

/// lab-01's std designs and dashmap only: the view Part I's locks chapter
/// and Part IV's case study include, from the same measurements.
fn dashmap_table(plan: &Plan, mix: &Mix, g: &Grid) -> Table {
    let title = format!(
        "lab-01 and dashmap, {}, uniform keys ({} reads)",
        mix.label,
        fmt_pct(mix.read_ratio)
    );
    let mut t = Table::new(
        mix.dashmap,
        &title,
        &[
            "implementation",
            "1 thread (Mops/s)",
            "2 threads (Mops/s)",
            "speed-up 2/1",
            "vs dashmap at 2 threads",
            "p99 at 2 threads",
        ],
    )
    .numeric(&[1, 2, 3, 4, 5]);
    let designs = ["mutex", "rwlock", "sharded-mutex", "sharded-rwlock"];
    let mut best: Option<(&str, f64)> = None;
    // Each lab-01 design's throughput over dashmap's, at 1 and 2 threads.
    let mut vs_dashmap: Vec<(String, f64, f64)> = Vec::new();
    for name in designs.iter().copied().chain(["dashmap"]) {
        let vs = g.ratio(name, "dashmap", 2);
        if name != "dashmap" {
            if best.is_none_or(|(_, b)| vs > b) {
                best = Some((name, vs));
            }
            vs_dashmap.push((name.to_owned(), g.ratio(name, "dashmap", 1), vs));
        }
        t.row(vec![
            name.to_owned(),
            fmt_mops(Summary::of(g.at(name, 1)).ops_per_sec),
            fmt_mops(Summary::of(g.at(name, 2)).ops_per_sec),
            fmt_ratio(median_ratio(g.at(name, 2), g.at(name, 1))),
            fmt_ratio(vs),
            fmt_ns(Summary::of(g.at(name, 2)).p99_ns),
        ]);
    }
    t.note(format!(
        "{} round{} of {} per cell, contenders alternating within each round (with the other \
         crates of the {} table between them); medians over rounds; ratios are medians of \
         same-round ratios.",
        plan.rounds,
        if plan.rounds == 1 { "" } else { "s" },
        fmt_duration(plan.duration),
        mix.crates
    ));
    t.note(format!(
        "{} keys pre-filled, uniform keys, {} reads, {} shards for every sharded design \
         including dashmap; threads not pinned.",
        plan.base.keys,
        fmt_pct(mix.read_ratio),
        plan.base.shards
    ));
    let lead = dashmap_lead(&vs_dashmap);
    t.note(format!("Measured: {lead}."));
    t.note(format!(
        "At 2 threads, sharded-mutex reached {} of dashmap's throughput; the fastest lab-01 \
         design here was {} at {}.",
        fmt_ratio(g.ratio("sharded-mutex", "dashmap", 2)),
        best.map_or("none", |b| b.0),
        fmt_ratio(best.map_or(f64::NAN, |b| b.1)),
    ));
    t.fact("shards", plan.base.shards.to_string())
        .fact("keys", fmt_int(plan.base.keys as f64))
        .fact("read_share", fmt_pct(mix.read_ratio))
        .fact("duration", fmt_duration(plan.duration))
        .fact("rounds", plan.rounds.to_string())
        .fact("dashmap_lead", lead);
    t
}

/// The hot-value measurements, found by contender name.
struct HotGrid<'a> {
    contenders: &'a [HotContender],
    results: Vec<Vec<HotResult>>,
}

impl HotGrid<'_> {
    fn at(&self, name: &str, readers: usize) -> &[HotResult] {
        let c = self.contenders.iter().position(|c| c.name == name);
        let r = READERS.iter().position(|&x| x == readers);
        match (c, r) {
            (Some(c), Some(r)) => &self.results[r * self.contenders.len() + c],
            _ => &[],
        }
    }

    fn reads(&self, name: &str, readers: usize) -> Vec<f64> {
        self.at(name, readers)
            .iter()
            .map(|r| r.reads_per_sec)
            .collect()
    }

    /// `a`'s reads per second over `b`'s, same rounds.
    fn ratio(&self, a: &str, b: &str, readers: usize) -> f64 {
        paired_ratio(&self.reads(a, readers), &self.reads(b, readers))
    }

    fn store_p99(&self, name: &str, readers: usize) -> f64 {
        median(
            &self
                .at(name, readers)
                .iter()
                .map(|r| r.store_p99_ns)
                .collect::<Vec<_>>(),
        )
    }
}

fn hot_table(plan: &Plan, g: &HotGrid) -> Table {
    let mut t = Table::new(
        "hot-value",
        "A read-mostly hot value: readers load a snapshot while one writer replaces it",
        &[
            "implementation",
            "1 reader (M reads/s)",
            "2 readers (M reads/s)",
            "speed-up 2/1",
            "vs sharded-mutex-key at 2 readers",
            "store p50 at 2 readers",
            "store p99 at 2 readers",
        ],
    )
    .numeric(&[1, 2, 3, 4, 5, 6]);
    let mut vs_baseline = Vec::new();
    for c in g.contenders {
        let name = c.name.as_str();
        let vs = g.ratio(name, HOT_BASELINE, 2);
        vs_baseline.push((c.name.clone(), vs));
        let p50: Vec<f64> = g.at(name, 2).iter().map(|r| r.store_p50_ns).collect();
        t.row(vec![
            c.name.clone(),
            fmt_mops(median(&g.reads(name, 1))),
            fmt_mops(median(&g.reads(name, 2))),
            fmt_ratio(paired_ratio(&g.reads(name, 2), &g.reads(name, 1))),
            fmt_ratio(vs),
            fmt_ns(median(&p50)),
            fmt_ns(g.store_p99(name, 2)),
        ]);
    }
    t.note(plan.rounds_note(plan.hot_duration, g.contenders.len()));
    t.note(format!(
        "The value is a 64-byte snapshot behind an Arc. rwlock-arc and mutex-arc keep it in a \
         std RwLock<Arc<_>> or Mutex<Arc<_>>; sharded-mutex-key stores it under one key of \
         lab-01's sharded-mutex cache. Each read takes the current snapshot the way a request \
         would keep it (behind a lock: lock, clone the Arc, unlock; arc-swap: load, whose \
         guard usually borrows without touching the reference count; sharded-mutex-key: get, \
         which clones the Arc under the key's shard lock) and reads a field. One writer thread \
         sleeps {} between two replacements, each timed (the store columns). Readers plus the \
         writer exceed the {} cores in the 2-reader cells; the writer sleeps almost all the \
         time. Threads not pinned.",
        fmt_duration(plan.write_every),
        cores()
    ));
    let (leader, leader_vs, lead) =
        verdicts::lead(&vs_baseline, HOT_BASELINE, "reads", "with 2 readers");
    t.note(format!("Measured: {lead}."));
    let arc_swap = hot_pair(g, "rwlock-arc");
    t.note(format!(
        "Measured: {arc_swap}. A store took {} at p99 with arc-swap and {} with rwlock-arc.",
        fmt_ns(g.store_p99("arc-swap", 2)),
        fmt_ns(g.store_p99("rwlock-arc", 2))
    ));
    t.fact("duration", fmt_duration(plan.hot_duration))
        .fact("rounds", plan.rounds.to_string())
        .fact("write_every", fmt_duration(plan.write_every))
        .fact("cores", cores().to_string())
        .fact("leader", leader)
        .fact("leader_vs_cache_key", fmt_ratio(leader_vs))
        .fact("lead", lead)
        .fact("arc_swap", arc_swap)
        .fact(
            "arc_swap_vs_rwlock",
            fmt_ratio(g.ratio("arc-swap", "rwlock-arc", 2)),
        )
        .fact(
            "arc_swap_vs_mutex",
            fmt_ratio(g.ratio("arc-swap", "mutex-arc", 2)),
        )
        .fact(
            "arc_swap_speedup",
            fmt_ratio(paired_ratio(
                &g.reads("arc-swap", 2),
                &g.reads("arc-swap", 1),
            )),
        )
        .fact(
            "rwlock_speedup",
            fmt_ratio(paired_ratio(
                &g.reads("rwlock-arc", 2),
                &g.reads("rwlock-arc", 1),
            )),
        )
        .fact("arc_swap_store_p99", fmt_ns(g.store_p99("arc-swap", 2)))
        .fact("rwlock_store_p99", fmt_ns(g.store_p99("rwlock-arc", 2)));
    t
}

/// arc-swap against one lock-based contender, in reads per second with 2
/// readers and with 1.
fn hot_pair(g: &HotGrid, other: &str) -> String {
    verdicts::pair(
        "arc-swap",
        other,
        ("with 2 readers", g.ratio("arc-swap", other, 2)),
        ("with 1 reader", g.ratio("arc-swap", other, 1)),
    )
}

/// A TTL as people say it: whole hours as `1 h`, anything else as
/// [`fmt_duration`] does.
fn fmt_ttl(ttl: Duration) -> String {
    let secs = ttl.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) && ttl.subsec_nanos() == 0 {
        format!("{} h", secs / 3600)
    } else {
        fmt_duration(ttl)
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How dashmap compared with lab-01's designs: `rows` are (design, its
/// throughput over dashmap's at 1 thread, the same at 2 threads).
fn dashmap_lead(rows: &[(String, f64, f64)]) -> String {
    let range = |f: fn(&(String, f64, f64)) -> f64| {
        let v: Vec<f64> = rows.iter().map(f).collect();
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    if rows.is_empty() || rows.iter().any(|r| r.1.is_nan() || r.2.is_nan()) {
        return "no verdict: a measurement is missing".to_owned();
    }
    let (lo1, hi1) = range(|r| r.1);
    let (lo2, hi2) = range(|r| r.2);
    let one = if hi1 < 1.0 {
        format!(
            "at 1 thread dashmap did more operations per second than every lab-01 design \
             (they reached {} to {} of its throughput)",
            fmt_ratio(lo1),
            fmt_ratio(hi1)
        )
    } else {
        let ahead: Vec<&str> = rows
            .iter()
            .filter(|r| r.1 >= 1.0)
            .map(|r| r.0.as_str())
            .collect();
        format!(
            "at 1 thread dashmap was not ahead of every lab-01 design: {} matched or beat it \
             (lab-01's designs reached {} to {} of its throughput)",
            ahead.join(", "),
            fmt_ratio(lo1),
            fmt_ratio(hi1)
        )
    };
    let two = if hi2 < 1.0 && hi1 < 1.0 {
        format!(
            "at 2 threads the gap remained (lab-01's designs reached {} to {} of dashmap's \
             throughput)",
            fmt_ratio(lo2),
            fmt_ratio(hi2)
        )
    } else if hi2 < 1.0 {
        format!(
            "at 2 threads dashmap was ahead of every lab-01 design (they reached {} to {} of its \
             throughput)",
            fmt_ratio(lo2),
            fmt_ratio(hi2)
        )
    } else {
        format!(
            "at 2 threads at least one lab-01 design matched or beat dashmap (up to {} of its \
             throughput)",
            fmt_ratio(hi2)
        )
    };
    format!("{one}; {two}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(r: &[(f64, f64)]) -> Vec<(String, f64, f64)> {
        r.iter()
            .enumerate()
            .map(|(i, &(a, b))| (format!("d{i}"), a, b))
            .collect()
    }

    #[test]
    fn dashmap_lead_follows_the_ratios() {
        let behind = dashmap_lead(&rows(&[(0.49, 0.12), (0.48, 0.60)]));
        assert!(
            behind.starts_with("at 1 thread dashmap did more"),
            "{behind}"
        );
        assert!(behind.contains("0.48× to 0.49×"), "{behind}");
        assert!(behind.contains("the gap remained"), "{behind}");
        let overtaken = dashmap_lead(&rows(&[(1.05, 0.70), (0.90, 0.80)]));
        assert!(
            overtaken.contains("at 2 threads dashmap was ahead of every lab-01 design"),
            "{overtaken}"
        );
        assert!(!overtaken.contains("remained"), "{overtaken}");
        let mixed = dashmap_lead(&rows(&[(1.2, 1.1), (0.5, 0.6)]));
        assert!(
            mixed.contains("not ahead of every lab-01 design: d0"),
            "{mixed}"
        );
        assert!(mixed.contains("matched or beat dashmap"), "{mixed}");
        assert!(dashmap_lead(&[]).starts_with("no verdict"));
    }

    #[test]
    fn ttls_read_in_hours_when_whole() {
        assert_eq!(fmt_ttl(Duration::from_secs(3600)), "1 h");
        assert_eq!(fmt_ttl(Duration::from_secs(7200)), "2 h");
        assert_eq!(fmt_ttl(Duration::from_secs(90)), "90 s");
    }

    #[test]
    fn every_name_the_tables_look_up_is_a_contender() {
        let names: Vec<String> = map_contenders().into_iter().map(|c| c.name).collect();
        for n in [
            BASELINE,
            "dashmap",
            "papaya",
            "moka",
            "sharded-mutex-ttl",
            "mutex",
            "rwlock",
            "sharded-rwlock",
            "pl-mutex",
            "pl-rwlock",
            "pl-sharded-mutex",
            "pl-sharded-rwlock",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} is not a contender");
        }
        let hot: Vec<String> = HotContender::all().into_iter().map(|c| c.name).collect();
        for n in [HOT_BASELINE, "arc-swap", "rwlock-arc", "mutex-arc"] {
            assert!(hot.iter().any(|x| x == n), "{n} is not a hot contender");
        }
    }
}
