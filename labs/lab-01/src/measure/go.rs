//! Go beside Rust: the chapter's question asked of Go's own maps, on the
//! same machine, in the same run.
//!
//! `go/maps` (built with Debian's `go` through [`kit::golang`]) drives a
//! map behind one `sync.RWMutex`, a map of shards behind a `sync.Mutex`
//! each (as many shards as lab-01's sharded caches) and `sync.Map`, with
//! the same workload as [`super::workload`]: keys pre-drawn into a ring,
//! the same read share, keys uniform over the same pre-filled key count,
//! every 16th operation timed, one goroutine per thread with `GOMAXPROCS`
//! set to match. Each cell is one run of the Go program, or one
//! [`super::workload::run_workload`] of lab-01's `rwlock` or
//! `sharded-mutex`; within a round the five designs run back to back in
//! an order rotated each round, and every comparison is the median of
//! per-round ratios.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use report::Table;
use serde::{Deserialize, Serialize};

use super::bench::Contender;
use super::workload::{KeyDist, WorkloadSpec};
use super::{MeasurePlan, READ_HEAVY, WRITE_HEAVY};
use kit::fmt::{fmt_duration, fmt_int, fmt_mops, fmt_ns, fmt_pct, fmt_ratio};
use kit::golang;
use kit::stats::{med, paired_ratio, rotated, spread};

/// Thread (goroutine) counts: one, and the pair the chapter compares at.
pub const THREADS: [usize; 2] = [1, 2];
/// The mixes, as lab-01's throughput tables run them.
const MIXES: [(&str, f64); 2] = [("read-heavy", READ_HEAVY), ("write-heavy", WRITE_HEAVY)];

/// The five designs of the table, in row order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Design {
    /// lab-01's `rwlock`: one `std::sync::RwLock` over the whole map.
    RustRwLock,
    /// lab-01's `sharded-mutex`.
    RustSharded,
    /// One `sync.RWMutex` over a Go map.
    GoRwMutex,
    /// Go map shards, each behind a `sync.Mutex`.
    GoSharded,
    /// `sync.Map`.
    GoSyncMap,
}

impl Design {
    pub const ALL: [Design; 5] = [
        Design::RustRwLock,
        Design::RustSharded,
        Design::GoRwMutex,
        Design::GoSharded,
        Design::GoSyncMap,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Design::RustRwLock => "Rust rwlock (lab-01)",
            Design::RustSharded => "Rust sharded-mutex (lab-01)",
            Design::GoRwMutex => "Go sync.RWMutex map",
            Design::GoSharded => "Go sharded sync.Mutex map",
            Design::GoSyncMap => "Go sync.Map",
        }
    }

    /// The Go program's `-impl`, or lab-01's contender name.
    fn id(self) -> &'static str {
        match self {
            Design::RustRwLock => "rwlock",
            Design::RustSharded => "sharded-mutex",
            Design::GoRwMutex => "rwmutex",
            Design::GoSharded => "sharded",
            Design::GoSyncMap => "syncmap",
        }
    }

    /// The same design in the other language, for the "vs Rust" column.
    fn rust_twin(self) -> Option<Design> {
        match self {
            Design::GoRwMutex => Some(Design::RustRwLock),
            Design::GoSharded => Some(Design::RustSharded),
            _ => None,
        }
    }

    /// The single-lock design of the same language, for the sharded rows.
    fn single_lock(self) -> Option<Design> {
        match self {
            Design::RustSharded => Some(Design::RustRwLock),
            Design::GoSharded | Design::GoSyncMap => Some(Design::GoRwMutex),
            _ => None,
        }
    }
}

/// One run of one design: what both sides report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MapRun {
    pub ops_per_sec: f64,
    pub p50_ns: f64,
    pub p99_ns: f64,
    pub read_hits: u64,
    pub ops: u64,
}

/// The line `go/maps` prints.
#[derive(Debug, Deserialize)]
struct GoLine {
    ops: u64,
    ops_per_sec: f64,
    read_hits: u64,
    p50_ns: f64,
    p99_ns: f64,
}

/// All rounds of one (design, mix, threads).
#[derive(Debug, Clone, Serialize)]
pub struct MapCell {
    pub design: Design,
    pub mix: &'static str,
    pub read_ratio: f64,
    pub threads: usize,
    pub rounds: Vec<MapRun>,
}

impl MapCell {
    fn ops(&self) -> Vec<f64> {
        self.rounds.iter().map(|r| r.ops_per_sec).collect()
    }
}

/// Everything the experiment measured.
#[derive(Debug, Clone, Serialize)]
pub struct GoMaps {
    pub go_version: String,
    /// How long `go build` took in this run.
    pub build_ms: u64,
    pub cells: Vec<MapCell>,
}

impl GoMaps {
    fn cell(&self, d: Design, mix: &str, threads: usize) -> Option<&MapCell> {
        self.cells
            .iter()
            .find(|c| c.design == d && c.mix == mix && c.threads == threads)
    }

    /// Median over rounds of `a`'s throughput over `b`'s, same mix and
    /// threads (NaN when either is missing).
    pub fn ratio(&self, a: Design, b: Design, mix: &str, threads: usize) -> f64 {
        match (self.cell(a, mix, threads), self.cell(b, mix, threads)) {
            (Some(x), Some(y)) => paired_ratio(&x.ops(), &y.ops()),
            _ => f64::NAN,
        }
    }
}

/// Cells to run per round, for the progress bar.
pub fn cells_per_round() -> usize {
    Design::ALL.len() * MIXES.len() * THREADS.len()
}

/// The Go program's folder, in this lab's source tree.
fn source() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/go/maps"))
}

/// Builds `go/maps` and runs every cell, rounds alternating the designs.
pub fn run(plan: &MeasurePlan, progress: &ProgressBar) -> Result<GoMaps> {
    progress.set_message("building go/maps");
    let go_version = golang::version()?;
    let built = golang::build(source(), "lab-01-maps", false)?;
    let contenders = Contender::references();
    let rust = |name: &str| {
        contenders
            .iter()
            .find(|c| c.name == name)
            .cloned()
            .with_context(|| format!("lab-01 has no contender {name}"))
    };
    let (rwlock, sharded) = (rust("rwlock")?, rust("sharded-mutex")?);
    let mut cells = Vec::new();
    for (mix, read_ratio) in MIXES {
        for threads in THREADS {
            for design in Design::ALL {
                cells.push(MapCell {
                    design,
                    mix,
                    read_ratio,
                    threads,
                    rounds: Vec::new(),
                });
            }
        }
    }
    for round in 0..plan.rounds {
        for (mix, read_ratio) in MIXES {
            for threads in THREADS {
                // Never pinned: Go's side cannot pin its goroutines, so
                // Rust's must not be pinned either (whatever --pin says).
                let spec = WorkloadSpec {
                    pin: false,
                    ..plan.spec(threads, read_ratio, KeyDist::Uniform)
                };
                for design in rotated(&Design::ALL, round) {
                    progress.set_message(format!(
                        "go beside rust, round {}/{}: {} × {threads}",
                        round + 1,
                        plan.rounds,
                        design.label()
                    ));
                    let r = match design {
                        Design::RustRwLock => rust_run(&rwlock, &spec)?,
                        Design::RustSharded => rust_run(&sharded, &spec)?,
                        _ => go_run(&built.path, design, &spec)?,
                    };
                    if let Some(c) = cells
                        .iter_mut()
                        .find(|c| c.design == design && c.mix == mix && c.threads == threads)
                    {
                        c.rounds.push(r);
                    }
                    progress.inc(1);
                }
            }
        }
    }
    Ok(GoMaps {
        go_version,
        build_ms: built.took.as_millis() as u64,
        cells,
    })
}

fn rust_run(c: &Contender, spec: &WorkloadSpec) -> Result<MapRun> {
    let r = (c.run)(spec).with_context(|| format!("running lab-01's {}", c.name))?;
    Ok(MapRun {
        ops_per_sec: r.ops_per_sec,
        p50_ns: r.latency.p50_ns as f64,
        p99_ns: r.latency.p99_ns as f64,
        read_hits: r.read_hits,
        ops: r.ops,
    })
}

fn go_run(bin: &Path, design: Design, spec: &WorkloadSpec) -> Result<MapRun> {
    let mut cmd = Command::new(bin);
    cmd.args(["-impl", design.id()])
        .args(["-threads", &spec.threads.to_string()])
        .args(["-reads", &spec.read_ratio.to_string()])
        .args(["-keys", &spec.keys.to_string()])
        .args(["-shards", &spec.shards.to_string()])
        .args(["-duration", &format!("{}ms", spec.duration.as_millis())])
        .args(["-latency-every", &spec.latency_every.to_string()])
        .args(["-seed", &spec.seed.to_string()])
        // The program sets GOMAXPROCS itself; nothing from the caller's
        // environment should change how Go schedules or collects.
        .env_remove("GOMAXPROCS")
        .env_remove("GOGC")
        .env_remove("GODEBUG");
    let out = kit::process::run_tool(&mut cmd, spec.duration + Duration::from_secs(60))?;
    if !out.status.success() {
        bail!(
            "go/maps -impl {} failed ({}): {}",
            design.id(),
            out.status,
            out.stderr.trim()
        );
    }
    let line: GoLine = serde_json::from_str(out.stdout.trim())
        .with_context(|| format!("reading go/maps' output {:?}", out.stdout.trim()))?;
    Ok(MapRun {
        ops_per_sec: line.ops_per_sec,
        p50_ns: line.p50_ns,
        p99_ns: line.p99_ns,
        read_hits: line.read_hits,
        ops: line.ops,
    })
}

/// "beat … by 1.8×", "lost to … (0.6×)", "ran even with … (1.04×)": how a
/// sharded design did against its language's single lock. Within 10% is
/// even: rounds on this machine vary that much.
pub fn against(ratio: f64, single: &str) -> String {
    if ratio.is_nan() {
        format!("could not be compared with {single}")
    } else if ratio > 1.1 {
        format!("beat {single} ({})", fmt_ratio(ratio))
    } else if ratio < 0.9 {
        format!("lost to {single} ({})", fmt_ratio(ratio))
    } else {
        format!("ran even with {single} ({})", fmt_ratio(ratio))
    }
}

/// Which way a ratio points: 1 won, -1 lost, 0 even (within 10%).
fn side(ratio: f64) -> i8 {
    if ratio > 1.1 {
        1
    } else if ratio < 0.9 {
        -1
    } else {
        0
    }
}

/// Do the two languages give the chapter's question the same answer? One
/// pair of (Go, Rust) sharded-over-single-lock ratios per mix.
pub fn agreement(pairs: &[(&str, f64, f64)]) -> String {
    if pairs.iter().any(|(_, g, r)| g.is_nan() || r.is_nan()) {
        return "no verdict: a measurement is missing".to_owned();
    }
    let word = |r: f64| match side(r) {
        1 => "won",
        -1 => "lost",
        _ => "drew",
    };
    let differ: Vec<String> = pairs
        .iter()
        .filter(|(_, g, r)| side(*g) != side(*r))
        .map(|(m, g, r)| format!("{m}, sharding {} in Go and {} in Rust", word(*g), word(*r)))
        .collect();
    if differ.is_empty() {
        let same: Vec<String> = pairs
            .iter()
            .map(|(m, g, _)| format!("{m}, sharding {} in both", word(*g)))
            .collect();
        format!(
            "the two languages give the same answer in every mix ({})",
            same.join("; ")
        )
    } else {
        format!(
            "the two languages answer differently ({}; a draw is within 10%)",
            differ.join("; ")
        )
    }
}

/// "Go's maps ran at 0.7–1.3× lab-01's caches of the same design": the
/// range of Go-over-Rust ratios, and which side was faster.
pub fn languages(ratios: &[f64]) -> String {
    let rs: Vec<f64> = ratios.iter().copied().filter(|r| !r.is_nan()).collect();
    if rs.is_empty() {
        return "no verdict: a measurement is missing".to_owned();
    }
    let lo = rs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = rs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = if fmt_ratio(lo) == fmt_ratio(hi) {
        fmt_ratio(lo)
    } else {
        format!("{}–{}", fmt_ratio(lo).trim_end_matches('×'), fmt_ratio(hi))
    };
    let who = if lo > 1.1 {
        "Go was faster in every pairing"
    } else if hi < 0.9 {
        "Rust was faster in every pairing"
    } else if lo >= 0.9 && hi <= 1.1 {
        "the two ran even in every pairing"
    } else {
        "which was faster depends on the design and the mix"
    };
    format!("Go's maps ran at {range} the throughput of lab-01's caches of the same design: {who}")
}

/// The `go-maps` table.
pub fn table(plan: &MeasurePlan, g: &GoMaps) -> Table {
    let mut t = Table::new(
        "go-maps",
        "Go's maps beside lab-01's caches: the same workload, the same run",
        &[
            "mix",
            "threads",
            "map",
            "Mops/s",
            "spread",
            "p99 latency",
            "vs same design in Rust",
            "vs its language's single lock",
        ],
    )
    .numeric(&[1, 3, 4, 5, 6, 7]);
    for c in &g.cells {
        let vs_rust = c.design.rust_twin().map_or("-".to_owned(), |r| {
            fmt_ratio(g.ratio(c.design, r, c.mix, c.threads))
        });
        let vs_single = c.design.single_lock().map_or("-".to_owned(), |s| {
            fmt_ratio(g.ratio(c.design, s, c.mix, c.threads))
        });
        t.row(vec![
            c.mix.to_owned(),
            c.threads.to_string(),
            c.design.label().to_owned(),
            fmt_mops(med(&c.rounds, |r| r.ops_per_sec)),
            spread(&c.ops()),
            fmt_ns(med(&c.rounds, |r| r.p99_ns)),
            vs_rust,
            vs_single,
        ]);
    }
    t.note(format!(
        "{}, built by this run (`go build`, {} ms); Go's map shards padded to 128 bytes like \
         lab-01's. Uniform keys over {} pre-filled keys, {} shards in both sharded designs, {} \
         per cell, reads {} (read-heavy) or {} (write-heavy); threads are OS threads in Rust and \
         goroutines with GOMAXPROCS set to the same number in Go, none pinned. Median of {} \
         round(s); the five designs run back to back in an order rotated each round, and every \
         ratio is the median of per-round ratios.",
        g.go_version,
        g.build_ms,
        fmt_int(plan.keys as f64),
        plan.shards,
        fmt_duration(plan.duration),
        fmt_pct(READ_HEAVY),
        fmt_pct(WRITE_HEAVY),
        plan.rounds
    ));
    t.note(
        "The same work per operation on both sides: each thread replays a ring of 65,536 \
         operations drawn before the clock starts, looks at a stop flag every 64, and times \
         every 16th (Rust with `Instant::now` into an HDR histogram, Go with `time.Now` into a \
         slice). What differs: lab-01's shards are its cache (hashbrown under IndexMap, SipHash, \
         a TTL check on every read and sampled-LRU bookkeeping), Go's are a bare \
         `map[uint64]uint64` (its runtime's AES hash); lab-01 picks a shard from bits of the SipHash, \
         Go from a multiplicative hash of the key; the plans are drawn by different PRNGs with \
         the same distribution; and Go's runtime, not the OS alone, schedules the goroutines.",
    );
    let pair = plan.pair_threads;
    let mut pairs = Vec::new();
    let mut go_rust = Vec::new();
    for (mix, _) in MIXES {
        let key = mix.replace('-', "_");
        let go = g.ratio(Design::GoSharded, Design::GoRwMutex, mix, pair);
        let rust = g.ratio(Design::RustSharded, Design::RustRwLock, mix, pair);
        let sync_map = g.ratio(Design::GoSyncMap, Design::GoRwMutex, mix, pair);
        let rw = g.ratio(Design::GoRwMutex, Design::RustRwLock, mix, pair);
        let sh = g.ratio(Design::GoSharded, Design::RustSharded, mix, pair);
        pairs.push((mix, go, rust));
        go_rust.extend([rw, sh]);
        t.note(format!(
            "Measured ({mix}, {pair} threads): in Go, the sharded map {} and sync.Map {}; in \
             Rust, sharded-mutex {}. Go over Rust: RWMutex map {}, sharded map {}.",
            against(go, "the RWMutex map"),
            against(sync_map, "the RWMutex map"),
            against(rust, "the rwlock"),
            fmt_ratio(rw),
            fmt_ratio(sh)
        ));
        t.fact(&format!("go_sharded_vs_rwmutex_{key}"), fmt_ratio(go))
            .fact(&format!("rust_sharded_vs_rwlock_{key}"), fmt_ratio(rust))
            .fact(&format!("syncmap_vs_rwmutex_{key}"), fmt_ratio(sync_map))
            .fact(&format!("go_vs_rust_rwlock_{key}"), fmt_ratio(rw))
            .fact(&format!("go_vs_rust_sharded_{key}"), fmt_ratio(sh))
            .fact(
                &format!("go_claim_{key}"),
                format!(
                    "the sharded Mutex map {} and sync.Map {}",
                    against(go, "the RWMutex map"),
                    against(sync_map, "the RWMutex map")
                ),
            )
            .fact(
                &format!("rust_claim_{key}"),
                format!("sharded-mutex {}", against(rust, "the rwlock")),
            );
    }
    let agree = agreement(&pairs);
    let langs = languages(&go_rust);
    t.note(format!("Measured: {agree}; {langs}."));
    t.fact("threads", pair.to_string())
        .fact("keys", fmt_int(plan.keys as f64))
        .fact("shards", plan.shards.to_string())
        .fact("duration", fmt_duration(plan.duration))
        .fact("rounds", plan.rounds.to_string())
        .fact(
            "go_version",
            g.go_version
                .split_whitespace()
                .find(|w| w.starts_with("go1"))
                .unwrap_or(&g.go_version)
                .to_owned(),
        )
        .fact("agreement", agree)
        .fact("languages", langs);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording_follows_the_numbers() {
        assert!(against(1.8, "x").starts_with("beat x"));
        assert!(against(0.5, "x").starts_with("lost to x"));
        assert!(against(1.05, "x").starts_with("ran even"));
        assert!(against(f64::NAN, "x").contains("could not"));
        assert!(agreement(&[("read-heavy", 2.0, 1.5), ("write-heavy", 3.0, 4.0)]).contains("same"));
        let split = agreement(&[("read-heavy", 2.0, 0.95), ("write-heavy", 3.0, 4.0)]);
        assert!(
            split.contains("read-heavy, sharding won in Go and drew in Rust"),
            "{split}"
        );
        assert!(!split.contains("write-heavy"), "{split}");
        assert!(languages(&[1.5, 2.0]).contains("Go was faster"));
        assert!(languages(&[0.5, 0.7]).contains("Rust was faster"));
        assert!(languages(&[0.5, 1.7]).contains("depends"));
        assert!(languages(&[0.95, 1.05]).contains("even"));
        assert!(languages(&[f64::NAN]).contains("no verdict"));
    }

    #[test]
    fn the_go_sources_are_idiomatic() -> Result<()> {
        let problems = golang::lint(source())?;
        assert!(problems.is_empty(), "{problems:#?}");
        Ok(())
    }
}
