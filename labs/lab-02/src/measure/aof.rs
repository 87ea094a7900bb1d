//! Experiment 4: what durability costs. SET throughput and latency with
//! no append-only file, and with one under each `appendfsync` policy.
//!
//! A fresh server per run, its AOF in its own directory under the Cargo
//! target directory (`target/lab-02-aof/`), the disk a reader's build uses.
//! The AOF's size after the run, per SET, shows that each server really
//! logged every write.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kit::machine::{Conditions, Watch, conditions_note, watched};
use kit::procfs::{self, Mount};
use kit::redis_benchmark::{self as bench, Load, Sample};
use report::Table;
use serde::Serialize;

use super::Plan;
use super::rotation;
use crate::config::FsyncPolicy;
use crate::launch::{AofSetup, Launch, Server, Target};
use kit::fmt::{fmt_duration, fmt_int, fmt_ms, fmt_pct, fmt_ratio};
use kit::stats::{med, paired_ratio, spread};

/// `None`: no AOF; otherwise the `appendfsync` policy.
pub(crate) const POLICIES: [Option<FsyncPolicy>; 4] = [
    None,
    Some(FsyncPolicy::No),
    Some(FsyncPolicy::Everysec),
    Some(FsyncPolicy::Always),
];

fn policy_name(p: Option<FsyncPolicy>) -> &'static str {
    p.map_or("off", FsyncPolicy::name)
}

/// A directory removed (with everything in it) when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn create(path: PathBuf) -> Result<Self> {
        if path.exists() {
            fs::remove_dir_all(&path).with_context(|| format!("clearing {}", path.display()))?;
        }
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
        // Remove the parent too if this run was its only user.
        if let Some(parent) = self.0.parent() {
            let _ = fs::remove_dir(parent);
        }
    }
}

/// Bytes in every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AofRun {
    pub sample: Sample,
    /// The AOF's size after the server stopped.
    pub aof_bytes: u64,
}

/// All rounds of one (server, policy).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AofCell {
    pub server: Target,
    pub policy: &'static str,
    pub rounds: Vec<AofRun>,
}

impl AofCell {
    fn rps(&self) -> Vec<f64> {
        self.rounds.iter().map(|r| r.sample.rps).collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    pub cells: Vec<AofCell>,
    pub dir: String,
    pub mount: Option<Mount>,
    /// Median time of one small append + `fdatasync` in that directory.
    pub fsync_us: f64,
    pub threads: usize,
    pub conditions: Conditions,
}

impl Outcome {
    fn cell(&self, server: Target, policy: &str) -> Option<&AofCell> {
        self.cells
            .iter()
            .find(|c| c.server == server && c.policy == policy)
    }

    /// Throughput relative to the same server without an AOF.
    fn vs_off(&self, c: &AofCell) -> f64 {
        self.cell(c.server, "off")
            .map_or(f64::NAN, |off| paired_ratio(&c.rps(), &off.rps()))
    }
}

/// How long appending 64 bytes and `fdatasync` take here (median of 100).
fn fsync_cost(dir: &Path) -> Result<Duration> {
    let path = dir.join("fsync-probe");
    let mut f = File::create(&path)?;
    let mut times = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        f.write_all(&[b'x'; 64])?;
        f.sync_data()?;
        times.push(t.elapsed().as_secs_f64());
    }
    drop(f);
    fs::remove_file(&path)?;
    Ok(Duration::from_secs_f64(kit::stats::median(&times)))
}

/// One fresh server with `policy`, SETs, then the AOF's size.
fn one(
    plan: &Plan,
    scratch: &Path,
    target: Target,
    policy: Option<FsyncPolicy>,
    round: usize,
) -> Result<AofRun> {
    let dir = scratch.join(format!("{}-{}-{round}", target.name(), policy_name(policy)));
    fs::create_dir_all(&dir)?;
    let launch = Launch {
        aof: policy.map(|fsync| AofSetup {
            fsync,
            dir: dir.clone(),
        }),
        ..Launch::new(target, procfs::cores())
    };
    let mut server = Server::start(&launch)?;
    let load = Load {
        test: "set",
        clients: plan.clients,
        pipeline: 1,
        requests: plan.aof_requests,
        keyspace: plan.keyspace,
        cpus: None,
    };
    let sample = bench::measure(server.port, &mut server.process, &load)?;
    drop(server);
    let aof_bytes = dir_bytes(&dir);
    fs::remove_dir_all(&dir)?;
    Ok(AofRun { sample, aof_bytes })
}

/// Every (round, server, policy), servers and policies in rotating order.
pub(crate) fn run(plan: &Plan) -> Result<Outcome> {
    let root = kit::process::target_dir()?.join("lab-02-aof");
    let scratch = Scratch::create(root.join(format!("run-{}", std::process::id())))?;
    let mount = procfs::mount_of(&scratch.0);
    let fsync = fsync_cost(&scratch.0)?;
    let (cells, conditions) = watched(Watch::children(plan.warm_up), || {
        let mut cells: Vec<AofCell> = Target::ALL
            .iter()
            .flat_map(|&server| {
                POLICIES.map(|p| AofCell {
                    server,
                    policy: policy_name(p),
                    rounds: Vec::new(),
                })
            })
            .collect();
        for round in 0..plan.rounds {
            // A server's four runs back to back (the policy order rotating
            // by round), so its ratio to no-AOF compares neighbours in time.
            for target in rotation(round) {
                for k in 0..POLICIES.len() {
                    let policy = POLICIES[(round + k) % POLICIES.len()];
                    let r = one(plan, &scratch.0, target, policy, round)?;
                    if let Some(c) = cells
                        .iter_mut()
                        .find(|c| c.server == target && c.policy == policy_name(policy))
                    {
                        c.rounds.push(r);
                    }
                }
            }
            eprintln!("  aof round {}/{} done", round + 1, plan.rounds);
        }
        anyhow::Ok(cells)
    })?;
    Ok(Outcome {
        cells,
        dir: format!("{}/", root.display()),
        mount,
        fsync_us: fsync.as_secs_f64() * 1e6,
        threads: procfs::cores(),
        conditions,
    })
}

/// The `aof-fsync` table.
pub(crate) fn table(plan: &Plan, o: &Outcome) -> Table {
    let mut t = Table::new(
        "aof-fsync",
        "The price of durability: SET throughput by appendfsync policy",
        &[
            "server",
            "appendfsync",
            "SET req/s",
            "spread",
            "p99 ms",
            "vs no AOF",
            "AOF bytes per SET",
        ],
    )
    .numeric(&[2, 3, 4, 5, 6]);
    for c in &o.cells {
        let per_set = med(&c.rounds, |r| r.aof_bytes as f64 / r.sample.requests as f64);
        t.row(vec![
            c.server.name().to_owned(),
            c.policy.to_owned(),
            fmt_int(med(&c.rounds, |r| r.sample.rps)),
            spread(&c.rps()),
            fmt_ms(med(&c.rounds, |r| r.sample.p99_ms)),
            fmt_ratio(o.vs_off(c)),
            if c.policy == "off" {
                String::new()
            } else {
                format!("{per_set:.1}")
            },
        ]);
    }
    t.note(format!(
        "redis-benchmark `-t set -c {} -P 1 -r {}`, {} requests per run; a fresh server per run \
         (nothing pinned, `--threads {}` for the multi-threaded models); off = no append-only \
         file. Median of {} round(s); in each round a server's four runs follow each other \
         (policy order rotating by round), and vs no AOF is the median over rounds of the ratio \
         of its req/s to that round's no-AOF run.",
        plan.clients,
        plan.keyspace,
        fmt_int(plan.aof_requests as f64),
        o.threads,
        plan.rounds
    ));
    t.note(match &o.mount {
        Some(m) => format!(
            "The AOFs were written under {} on {} ({} mounted at {}, options {}); one 64-byte \
             append + `fdatasync` there took {} (median of 100).",
            o.dir,
            m.fstype,
            m.device,
            m.mountpoint,
            m.options,
            fmt_duration(Duration::from_secs_f64(o.fsync_us / 1e6))
        ),
        None => format!(
            "The AOFs were written under {} (file system unknown); one 64-byte append + \
             `fdatasync` there took {} (median of 100).",
            o.dir,
            fmt_duration(Duration::from_secs_f64(o.fsync_us / 1e6))
        ),
    });
    for policy in ["always", "everysec"] {
        t.note(verdict(o, policy));
    }
    t.note(conditions_note(&o.conditions));
    t
}

/// "Measured: appendfsync always kept X of the no-AOF throughput on …".
fn verdict(o: &Outcome, policy: &str) -> String {
    let parts: Vec<String> = Target::ALL
        .iter()
        .filter_map(|&s| o.cell(s, policy))
        .map(|c| format!("{} {}", c.server.name(), fmt_pct(o.vs_off(c))))
        .collect();
    format!(
        "Measured: with appendfsync {policy}, each server kept this share of its no-AOF SET \
         throughput: {}.",
        parts.join(", ")
    )
}
