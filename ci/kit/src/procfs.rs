//! Facts read from `/proc`: CPU time (the machine's, this process's, its
//! reaped children's, another process's), resident memory, load average,
//! file limits and mounts.
//!
//! All parsers take the file's text, so they are tested on fixed strings;
//! the `*_now` and `of_pid` readers are thin wrappers around them.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

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

/// The numeric fields of a `/proc/PID/stat` line after the state letter
/// (the command name before them may contain spaces and parentheses);
/// non-numeric fields become 0. Index 0 is `ppid`.
fn stat_numbers(stat: &str) -> Option<Vec<i64>> {
    let rest = stat.rsplit_once(')')?.1;
    Some(
        rest.split_whitespace()
            .skip(1) // the state letter
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

// After the state: ppid pgrp session tty_nr tpgid flags minflt cminflt
// majflt cmajflt utime(10) stime(11) cutime(12) cstime(13).
const UTIME: usize = 10;
const STIME: usize = 11;
const CUTIME: usize = 12;
const CSTIME: usize = 13;

fn sum_fields(stat: &str, fields: &[usize]) -> Option<u64> {
    let f = stat_numbers(stat)?;
    let mut total = 0_i64;
    for &i in fields {
        total += f.get(i)?;
    }
    Some(total.max(0) as u64)
}

/// utime + stime of a `/proc/PID/stat` line, in clock ticks.
pub fn cpu_ticks_of(stat: &str) -> Option<u64> {
    sum_fields(stat, &[UTIME, STIME])
}

/// utime + stime + cutime + cstime: a process and its reaped children.
pub fn cpu_ticks_with_children(stat: &str) -> Option<u64> {
    sum_fields(stat, &[UTIME, STIME, CUTIME, CSTIME])
}

/// CPU time of process `pid` so far (all its threads), in seconds.
pub fn cpu_seconds_of_pid(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(cpu_ticks_of(&stat)? as f64 / clk_tck() as f64)
}

/// CPU time of this process's reaped children so far (cutime + cstime),
/// in seconds: read around a tool's run, it is that tool's CPU time.
pub fn children_cpu_seconds() -> Option<f64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    Some(sum_fields(&stat, &[CUTIME, CSTIME])? as f64 / clk_tck() as f64)
}

/// The `VmRSS` line of a `/proc/PID/status`, in bytes.
pub fn rss_of(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resident memory of process `pid`, in bytes.
pub fn rss_of_pid(pid: u32) -> Option<u64> {
    rss_of(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// One `kB` line of `/proc/meminfo` (`KernelStack`, `MemFree`…), in bytes:
/// memory the kernel holds, which no process's RSS shows (a thread's
/// kernel stack, say).
pub fn meminfo_bytes(field: &str) -> Option<u64> {
    meminfo_field(&fs::read_to_string("/proc/meminfo").ok()?, field)
}

/// The `FIELD:  N kB` line of a meminfo text, in bytes.
pub fn meminfo_field(meminfo: &str, field: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find(|l| l.split(':').next() == Some(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Machine-wide CPU counters and ours, in clock ticks, at one instant.
///
/// *Ours* is this process and its reaped children: the labs' experiments
/// start servers and load tools as children and reap them before they
/// read the counters again, so their work is not "someone else's".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSample {
    /// All CPU time that passed, busy or idle, summed over CPUs.
    pub all: u64,
    /// user, nice, system and steal over all CPUs. irq and softirq are
    /// left out: on loopback they are mostly our own traffic, which the
    /// kernel charges to no process, so counting them would blame "others"
    /// for our own packets.
    pub busy: u64,
    /// This process and its reaped children (utime, stime, cutime, cstime).
    pub ours: u64,
}

impl CpuSample {
    /// Reads the counters; `None` where `/proc` is not available.
    pub fn now() -> Option<Self> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let own = fs::read_to_string("/proc/self/stat").ok()?;
        Self::parse(&stat, &own)
    }

    /// From the texts of `/proc/stat` and `/proc/self/stat`.
    pub fn parse(stat: &str, own: &str) -> Option<Self> {
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest is already
        // inside user).
        Some(Self {
            all: cpu.iter().take(8).sum(),
            busy: [0, 1, 2, 7].iter().filter_map(|&i| cpu.get(i)).sum(),
            ours: cpu_ticks_with_children(own)?,
        })
    }

    /// The fraction of all CPU time between `self` and `later` that other
    /// processes (and the hypervisor, as steal) used.
    pub fn others_since(&self, later: &CpuSample) -> Option<f64> {
        let all = later.all.checked_sub(self.all)?;
        let busy = later.busy.checked_sub(self.busy)?;
        let ours = later.ours.checked_sub(self.ours)?;
        (all > 0).then(|| busy.saturating_sub(ours) as f64 / all as f64)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meminfo_fields() {
        let text = "MemTotal:       24683520 kB\nKernelStack:        1912 kB\n";
        assert_eq!(meminfo_field(text, "KernelStack"), Some(1912 * 1024));
        assert_eq!(meminfo_field(text, "Kernel"), None);
    }

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
        assert_eq!(rss_of("Name: x\n"), None);
    }

    #[test]
    fn reads_this_process() {
        assert!(CpuSample::now().is_some());
        assert!(rss_of_pid(std::process::id()).is_some_and(|b| b > 0));
        assert!(cpu_seconds_of_pid(std::process::id()).is_some());
    }
}
