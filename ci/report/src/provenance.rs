//! The header every results file carries: how and where it was made.

use std::process::Command;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    /// The command a reader runs to regenerate the file.
    pub command: String,
    pub cpu: String,
    pub cores: usize,
    pub memory: String,
    pub os: String,
    pub rustc: String,
    pub commit: String,
    /// UTC date and time, `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// A digest of each source folder the result depends on, as the
    /// pipeline found them when it measured (folder → digest). The pipeline
    /// compares them with the tree to tell a stale result from a fresh one.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sources: std::collections::BTreeMap<String, String>,
}

impl Provenance {
    /// Reads the machine's facts. Anything that cannot be read is reported
    /// as `unknown` rather than failing: a header with a gap is still better
    /// than no results, and the gap is visible.
    pub fn collect(command: &str) -> Self {
        Self {
            command: command.to_owned(),
            cpu: cpu_model().unwrap_or_else(unknown),
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            memory: memory().unwrap_or_else(unknown),
            os: os_name().unwrap_or_else(unknown),
            rustc: run("rustc", &["--version"]).unwrap_or_else(unknown),
            commit: commit().unwrap_or_else(unknown),
            date: run("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(unknown),
            sources: Default::default(),
        }
    }

    /// One line per fact, for headers of every format.
    pub fn lines(&self) -> Vec<String> {
        vec![
            format!("command: {}", self.command),
            format!(
                "machine: {}, {} cores, {} memory, {}",
                self.cpu, self.cores, self.memory, self.os
            ),
            format!("toolchain: {}", self.rustc),
            format!("commit: {}, date: {}", self.commit, self.date),
        ]
    }
}

fn unknown() -> String {
    "unknown".to_owned()
}

fn run(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn memory() -> Option<String> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = info
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(format!("{:.0} GiB", kib as f64 / (1024.0 * 1024.0)))
}

fn os_name() -> Option<String> {
    let release = std::fs::read_to_string("/etc/os-release").ok()?;
    let pretty = release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))?
        .trim_matches('"')
        .to_owned();
    let kernel = run("uname", &["-r"]).unwrap_or_else(unknown);
    Some(format!("{pretty}, Linux {kernel}"))
}

fn commit() -> Option<String> {
    let hash = run("git", &["rev-parse", "--short=12", "HEAD"])?;
    let dirty = Command::new("git")
        // The results being written are themselves uncommitted while the
        // pipeline runs; only changes to anything else make the commit
        // hash a lie.
        .args([
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!src/results",
        ])
        .output()
        .ok()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    Some(if dirty {
        format!("{hash} (with uncommitted changes)")
    } else {
        hash
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collect_fills_every_field() {
        let p = Provenance::collect("cargo xtask results");
        assert_eq!(p.command, "cargo xtask results");
        assert!(p.cores >= 1);
        for line in p.lines() {
            assert!(!line.trim().is_empty());
        }
        assert!(p.rustc.starts_with("rustc "), "{}", p.rustc);
    }
}
