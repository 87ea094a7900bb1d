//! Driving Debian's `redis-benchmark` and reading its CSV; each run is
//! charged the server's CPU time and its own.
//!
//! It lives in the kit, not in a lab, because it is about a tool: lab-02
//! measures its server with it and lab-03 compares its own generator with
//! it, and neither may import the other's measuring code.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde::Serialize;

use crate::process::{Process, pinned, run_tool};
use crate::procfs;

/// The most a single redis-benchmark run may take before it is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// One redis-benchmark invocation.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// `-t`: one test (`set` or `get`), so each run is charged its own CPU.
    pub test: &'static str,
    /// `-c`
    pub clients: u32,
    /// `-P`
    pub pipeline: u32,
    /// `-n`
    pub requests: u64,
    /// `-r`: keys are `key:` and a random number below this, zero-padded to
    /// 12 digits.
    pub keyspace: u64,
    /// `taskset -c` for redis-benchmark itself.
    pub cpus: Option<&'static str>,
}

impl Load {
    fn args(&self, port: u16) -> Vec<String> {
        [
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-c",
            &self.clients.to_string(),
            "-n",
            &self.requests.to_string(),
            "-P",
            &self.pipeline.to_string(),
            "-r",
            &self.keyspace.to_string(),
            "-t",
            self.test,
            "--csv",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }
}

/// One row of redis-benchmark's `--csv` output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsvRow {
    pub test: String,
    pub rps: f64,
    pub avg_ms: f64,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Parses `"test","rps","avg_latency_ms",…` and its rows.
pub fn parse_csv(text: &str) -> Result<Vec<CsvRow>> {
    let mut rows = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let cells: Vec<&str> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        if cells.first() == Some(&"test") {
            continue;
        }
        ensure!(
            cells.len() == 8,
            "unexpected redis-benchmark CSV line: {line}"
        );
        let num = |i: usize| -> Result<f64> {
            cells[i]
                .parse()
                .with_context(|| format!("not a number in redis-benchmark CSV: {line}"))
        };
        rows.push(CsvRow {
            test: cells[0].to_owned(),
            rps: num(1)?,
            avg_ms: num(2)?,
            min_ms: num(3)?,
            p50_ms: num(4)?,
            p95_ms: num(5)?,
            p99_ms: num(6)?,
            max_ms: num(7)?,
        });
    }
    ensure!(
        !rows.is_empty(),
        "redis-benchmark printed no results:\n{text}"
    );
    Ok(rows)
}

/// Runs redis-benchmark once against `port` and returns its one row.
pub fn run(port: u16, load: &Load) -> Result<CsvRow> {
    let mut cmd = pinned(load.cpus, "redis-benchmark");
    cmd.args(load.args(port));
    let out = run_tool(&mut cmd, RUN_TIMEOUT)?;
    if !out.status.success() {
        bail!(
            "redis-benchmark {} failed ({}): {}{}",
            load.args(port).join(" "),
            out.status,
            out.stderr.trim(),
            out.stdout.trim()
        );
    }
    let mut rows = parse_csv(&out.stdout)?;
    let row = rows.remove(0);
    ensure!(
        row.test.eq_ignore_ascii_case(load.test),
        "asked redis-benchmark for {} but it reported {}",
        load.test,
        row.test
    );
    Ok(row)
}

/// One measured run: what redis-benchmark saw, and what it cost the server.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub requests: u64,
    pub rps: f64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Server CPU time (utime + stime) over the run.
    pub server_cpu_s: f64,
    /// redis-benchmark's own CPU time (NaN if unknown).
    pub client_cpu_s: f64,
    /// Wall time of the whole redis-benchmark run (connecting included).
    pub wall_s: f64,
}

impl Sample {
    /// Requests served per second of server CPU time.
    pub fn ops_per_cpu_s(&self) -> f64 {
        if self.server_cpu_s > 0.0 {
            self.requests as f64 / self.server_cpu_s
        } else {
            f64::NAN
        }
    }

    /// Server CPU time over wall time: 1.0 is one core busy all along.
    pub fn cpu_share(&self) -> f64 {
        self.server_cpu_s / self.wall_s
    }

    /// redis-benchmark's CPU time over wall time.
    pub fn client_share(&self) -> f64 {
        self.client_cpu_s / self.wall_s
    }
}

/// Runs redis-benchmark against the server `process` listening on `port`,
/// reading the server's CPU time around it.
pub fn measure(port: u16, server: &mut Process, load: &Load) -> Result<Sample> {
    let cpu_before = server.cpu_seconds()?;
    let client_before = procfs::children_cpu_seconds();
    let started = Instant::now();
    let row = run(port, load).with_context(|| format!("benchmarking {}", server.name))?;
    let wall_s = started.elapsed().as_secs_f64();
    let cpu_after = server.cpu_seconds()?;
    // redis-benchmark has been reaped: its CPU time is in our children's.
    let client_cpu_s = match (client_before, procfs::children_cpu_seconds()) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    server.check_alive()?;
    Ok(Sample {
        requests: load.requests,
        rps: row.rps,
        avg_ms: row.avg_ms,
        p50_ms: row.p50_ms,
        p99_ms: row.p99_ms,
        max_ms: row.max_ms,
        server_cpu_s: cpu_after - cpu_before,
        client_cpu_s,
        wall_s,
    })
}

/// The key redis-benchmark's `-r` produces for random number `i`.
pub fn key(i: u64) -> String {
    format!("key:{i:012}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redis_benchmark_csv() {
        let text = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\
                    \"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
                    \"SET\",\"52356.02\",\"0.512\",\"0.112\",\"0.495\",\"0.815\",\"1.023\",\"2.607\"\n";
        let rows = parse_csv(text).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].test, "SET");
        assert_eq!(rows[0].rps, 52356.02);
        assert_eq!(rows[0].p99_ms, 1.023);
        assert!(parse_csv("\"test\",\"rps\"\n").is_err());
        assert!(parse_csv("\"SET\",\"x\",\"1\",\"1\",\"1\",\"1\",\"1\",\"1\"").is_err());
    }

    #[test]
    fn keys_match_redis_benchmark() {
        assert_eq!(key(42), "key:000000000042");
    }
}
