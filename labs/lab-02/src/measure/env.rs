//! Facts about the machine and the tools, for the notes: CPU accounting
//! that knows our children, load average, file systems, versions.
//!
//! lab-01's machine check counts every process but itself as "others". Here
//! the servers and `redis-benchmark` are our children and do most of the
//! work, so [`watched`] counts our reaped children as ours too (the
//! `cutime`/`cstime` fields of `/proc/self/stat`); every experiment reaps its
//! children before it returns.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result};
use lab_01::machine::{self, Conditions};
use serde::Serialize;

/// Hardware threads this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Clock ticks per second of `/proc/*/stat` times (`getconf CLK_TCK`; 100
/// if that fails, the value on every Linux this book targets).
pub fn clk_tck() -> u64 {
    static TCK: OnceLock<u64> = OnceLock::new();
    *TCK.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|&t: &u64| t > 0)
            .unwrap_or(100)
    })
}

/// The numeric fields of a `/proc/PID/stat` line after the command name
/// (which may contain spaces and parentheses): index 0 is the state's
/// successor `ppid`… as numbers; non-numeric fields become 0.
fn stat_numbers(stat: &str) -> Option<Vec<i64>> {
    let rest = stat.rsplit_once(')')?.1;
    Some(
        rest.split_whitespace()
            .skip(1) // the state letter
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// utime + stime of a `/proc/PID/stat` line, in clock ticks.
pub fn cpu_ticks_of(stat: &str) -> Option<u64> {
    let f = stat_numbers(stat)?;
    // After the state: ppid pgrp session tty_nr tpgid flags minflt cminflt
    // majflt cmajflt utime(10) stime(11) cutime(12) cstime(13).
    Some((f.get(10)? + f.get(11)?).max(0) as u64)
}

/// utime + stime + cutime + cstime: this process and its reaped children.
fn cpu_ticks_with_children(stat: &str) -> Option<u64> {
    let f = stat_numbers(stat)?;
    Some((f.get(10)? + f.get(11)? + f.get(12)? + f.get(13)?).max(0) as u64)
}

/// CPU time of this process's reaped children so far (cutime + cstime),
/// in seconds: read around a tool's run, it is that tool's CPU time.
pub fn children_cpu_seconds() -> Option<f64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    let f = stat_numbers(&stat)?;
    Some((f.get(12)? + f.get(13)?).max(0) as f64 / clk_tck() as f64)
}

/// The `VmRSS` line of a `/proc/PID/status`, in bytes.
pub fn rss_of(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Machine-wide and own CPU counters, in clock ticks.
#[derive(Debug, Clone, Copy)]
struct CpuSample {
    all: u64,
    /// user, nice, system and steal of all CPUs. irq and softirq are left
    /// out: on loopback they are mostly our own traffic, which no process
    /// is charged for.
    busy: u64,
    /// This process and its reaped children.
    ours: u64,
}

impl CpuSample {
    fn now() -> Option<Self> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let own = fs::read_to_string("/proc/self/stat").ok()?;
        Self::parse(&stat, &own)
    }

    fn parse(stat: &str, own: &str) -> Option<Self> {
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        Some(Self {
            all: cpu.iter().take(8).sum(),
            busy: [0, 1, 2, 7].iter().filter_map(|&i| cpu.get(i)).sum(),
            ours: cpu_ticks_with_children(own)?,
        })
    }

    fn others_since(&self, later: &CpuSample) -> Option<f64> {
        let all = later.all.checked_sub(self.all)?;
        let busy = later.busy.checked_sub(self.busy)?;
        let ours = later.ours.checked_sub(self.ours)?;
        (all > 0).then(|| busy.saturating_sub(ours) as f64 / all as f64)
    }
}

/// Runs `f` (which must reap every child it starts) after warming the CPUs
/// up for at most `warm`, and records how free the machine was: lab-01's
/// capacity check before and after, and the CPU share of processes that are
/// neither this one nor its children.
///
/// lab-01's cache-line handoff probe is left out: it spins 40,000 handoffs,
/// and when another process holds a core each one waits for a time slice
/// (measured here: 0.4 ms each, 17 s per probe).
pub fn watched<T>(warm: Duration, f: impl FnOnce() -> Result<T>) -> Result<(T, Conditions)> {
    let threads = cores();
    let capacity_before = machine::warm_up(threads, warm);
    let before = CpuSample::now();
    let out = f()?;
    let others = before
        .zip(CpuSample::now())
        .and_then(|(a, b)| a.others_since(&b));
    let capacity_after = machine::parallel_capacity(threads);
    Ok((
        out,
        Conditions {
            others,
            threads,
            capacity_before,
            capacity_after,
            handoff_ns: None,
        },
    ))
}

/// `/proc/loadavg`'s three averages, as `0.52 0.61 0.70`.
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// This process's soft limit on open files (`ulimit -n`).
pub fn fd_limit() -> Option<u64> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The mount a path lives on.
#[derive(Debug, Clone, Serialize)]
pub struct Mount {
    pub device: String,
    pub mountpoint: String,
    pub fstype: String,
    pub options: String,
}

/// The mount holding `path` (the longest mount point that prefixes it).
pub fn mount_of(path: &Path) -> Option<Mount> {
    let path = path.canonicalize().ok()?;
    let mounts = fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4).then(|| Mount {
                device: f[0].to_owned(),
                mountpoint: f[1].to_owned(),
                fstype: f[2].to_owned(),
                options: f[3].to_owned(),
            })
        })
        .filter(|m| path.starts_with(&m.mountpoint))
        .max_by_key(|m| m.mountpoint.len())
}

/// The first line a tool prints for `--version`.
pub fn tool_version(bin: &str) -> Result<String> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .with_context(|| {
            format!(
                "running `{bin} --version`: lab-02's measurements need redis-server, \
             redis-benchmark (Debian: redis-server, redis-tools; `cargo xtask setup --debian`) \
             and taskset (util-linux)"
            )
        })?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_owned())
}

/// The Cargo target directory this binary was built into
/// (`target/release/lab-02` → `target`).
pub fn target_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the lab-02 binary")?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("the lab-02 binary is not inside a target directory")
}

/// The tools and facts every table's notes refer to.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub cores: usize,
    pub clk_tck: u64,
    pub redis_server: String,
    pub redis_benchmark: String,
    pub taskset: String,
    pub fd_limit: Option<u64>,
}

impl Facts {
    /// Collects the facts, failing early if a tool is missing.
    pub fn collect() -> Result<Self> {
        let server = tool_version("redis-server")?;
        // "Redis server v=7.0.15 sha=…": keep the version.
        let server_version = server
            .split_whitespace()
            .find_map(|w| w.strip_prefix("v="))
            .map_or(server.clone(), |v| format!("redis-server {v}"));
        Ok(Self {
            cores: cores(),
            clk_tck: clk_tck(),
            redis_server: server_version,
            redis_benchmark: tool_version("redis-benchmark")?,
            taskset: tool_version("taskset")?,
            fd_limit: fd_limit(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let own = "1234 (lab (02)) S 1 2 3 4 5 6 7 8 9 10 60 20 7 3 20 0";
        assert_eq!(cpu_ticks_of(own), Some(80));
        assert_eq!(cpu_ticks_with_children(own), Some(90));
        let stat = "cpu  100 0 50 800 10 0 5 5 0 0\ncpu0 1 2 3\n";
        let s = CpuSample::parse(stat, own).unwrap();
        assert_eq!((s.all, s.busy, s.ours), (970, 155, 90));
        let later = CpuSample {
            all: 1970,
            busy: 755,
            ours: 290,
        };
        assert_eq!(s.others_since(&later), Some(0.4));
        let status = "Name:\tx\nVmRSS:\t    2048 kB\nThreads: 3\n";
        assert_eq!(rss_of(status), Some(2 * 1024 * 1024));
    }
}
