//! The processes an experiment runs: the HTTP target, lab-03 itself as a
//! generator, `wrk`, a CPU hog; each pinned with `taskset` and reaped.
//!
//! Generators run as child processes of the measuring process, never in
//! it, so that each is pinned to its own core, its CPU time is its own
//! (read from our reaped children's total), and `wrk`, `redis-benchmark`
//! and lab-03 are driven the same way. The measurement kit's `process`
//! module does the starting, watching and stopping.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kit::process::{Process, own_exe, pinned, run_tool};
use kit::procfs;
use serde_json::Value;

/// The core the generators run on, and the one the servers run on.
pub const GEN_CPU: &str = "0";
pub const SERVER_CPU: &str = "1";

/// lab-03's HTTP target, running as a child process.
pub struct HttpTarget {
    pub port: u16,
    process: Process,
}

impl HttpTarget {
    /// `lab-03 target --port 0 ARGS`, pinned to `cpus`.
    pub fn start(args: &[&str], cpus: Option<&str>) -> Result<Self> {
        let mut cmd = pinned(cpus, own_exe());
        cmd.args(["target", "--port", "0"]).args(args);
        let mut process = Process::spawn(cmd, "lab-03 target")?;
        let port = process.ready_line()?;
        Ok(Self { port, process })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The target's own view: `GET /__stats`.
    pub fn stats(&self) -> Result<crate::target::TargetStats> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"GET /__stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
        let mut text = String::new();
        s.read_to_string(&mut text)?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .with_context(|| format!("/__stats answered {text:?}"))?;
        serde_json::from_str(body).with_context(|| format!("/__stats answered {body:?}"))
    }

    /// CPU time so far, in seconds.
    pub fn cpu_seconds(&self) -> Result<f64> {
        self.process.cpu_seconds()
    }
}

/// One generator run, as measured from outside.
#[derive(Debug, Clone)]
pub struct GenRun {
    /// lab-03's `--json` summary (Null for other tools).
    pub json: Value,
    pub wall_s: f64,
    /// The generator's CPU time (it is a reaped child).
    pub cpu_s: f64,
}

impl GenRun {
    /// A number from the summary by dotted path (`latency.p99_us`).
    pub fn f(&self, path: &str) -> f64 {
        let mut v = &self.json;
        for key in path.split('.') {
            v = &v[key];
        }
        v.as_f64().unwrap_or(f64::NAN)
    }

    pub fn cpu_share(&self) -> f64 {
        self.cpu_s / self.wall_s
    }

    /// The self-check's findings that blame the generator, by signal name.
    pub fn generator_findings(&self) -> Vec<String> {
        self.json["self_check"]["findings"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter(|f| f["generator"].as_bool() == Some(true))
                    .filter_map(|f| f["signal"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `ok`, the generator-blaming signals, or `no verdict` for a run too
    /// short to judge (see `selfcheck::MIN_WINDOW`).
    pub fn verdict(&self) -> String {
        let f = self.generator_findings();
        if self.json["self_check"]["skipped"].is_string() {
            "no verdict (short run)".into()
        } else if f.is_empty() {
            "ok".into()
        } else {
            format!("WARNING: {}", f.join(", "))
        }
    }
}

/// Runs a command to completion, charging it its CPU time.
fn timed_child(cmd: &mut Command, timeout: Duration) -> Result<(String, f64, f64)> {
    let cpu0 = procfs::children_cpu_seconds();
    let t0 = Instant::now();
    let out = run_tool(cmd, timeout)?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = match (cpu0, procfs::children_cpu_seconds()) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    // lab-03 exits 2 when some requests failed: still a measurement.
    if !out.status.success() && out.status.code() != Some(2) {
        bail!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            out.stderr.trim(),
            out.stdout.trim()
        );
    }
    Ok((out.stdout, wall, cpu))
}

/// Runs `lab-03 ARGS --quiet --json FILE` pinned to the generator's core.
pub fn lab03(args: &[String]) -> Result<GenRun> {
    let json_path = scratch_file("lab03-run.json")?;
    let mut cmd = pinned(Some(GEN_CPU), own_exe());
    cmd.args(args)
        .arg("--quiet")
        .arg("--json")
        .arg(&json_path)
        .env("RUST_LOG", "warn");
    let (_, wall_s, cpu_s) = timed_child(&mut cmd, Duration::from_secs(600))?;
    let text = std::fs::read_to_string(&json_path)
        .with_context(|| format!("reading {}", json_path.display()))?;
    let json: Value = serde_json::from_str(&text)?;
    let _ = std::fs::remove_file(&json_path);
    Ok(GenRun {
        json,
        wall_s,
        cpu_s,
    })
}

/// What `wrk --latency` reports.
#[derive(Debug, Clone)]
pub struct WrkRun {
    pub rps: f64,
    pub requests: u64,
    /// p50, p75, p90, p99 in µs.
    pub p50_us: f64,
    pub p75_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub errors: u64,
    pub wall_s: f64,
    pub cpu_s: f64,
}

/// `wrk -t1 -cN -dD --latency URL`, pinned to the generator's core.
pub fn wrk(url: &str, connections: usize, duration: Duration) -> Result<WrkRun> {
    let mut cmd = pinned(Some(GEN_CPU), "wrk");
    cmd.args(["-t1", &format!("-c{connections}")])
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .args(["--timeout", "10s", "--latency", url]);
    let (out, wall_s, cpu_s) = timed_child(&mut cmd, duration + Duration::from_secs(60))?;
    parse_wrk(&out, wall_s, cpu_s)
}

/// `2.35ms`, `850.00us`, `1.00s`, `3.10m` → µs.
fn wrk_time(s: &str) -> Option<f64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v,
        "ms" => v * 1e3,
        "s" => v * 1e6,
        "m" => v * 60e6,
        "h" => v * 3600e6,
        _ => return None,
    })
}

pub fn parse_wrk(out: &str, wall_s: f64, cpu_s: f64) -> Result<WrkRun> {
    let mut run = WrkRun {
        rps: f64::NAN,
        requests: 0,
        p50_us: f64::NAN,
        p75_us: f64::NAN,
        p90_us: f64::NAN,
        p99_us: f64::NAN,
        max_us: f64::NAN,
        errors: 0,
        wall_s,
        cpu_s,
    };
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => run.rps = v.parse().unwrap_or(f64::NAN),
            ["Latency", _avg, _stdev, max, ..] => run.max_us = wrk_time(max).unwrap_or(f64::NAN),
            [p, v] if p.ends_with('%') => {
                let us = wrk_time(v).unwrap_or(f64::NAN);
                match *p {
                    "50%" => run.p50_us = us,
                    "75%" => run.p75_us = us,
                    "90%" => run.p90_us = us,
                    "99%" => run.p99_us = us,
                    _ => {}
                }
            }
            [n, "requests", "in", ..] => run.requests = n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                run.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => run.errors += n.parse().unwrap_or(0),
            _ => {}
        }
    }
    if run.rps.is_nan() {
        bail!("could not read wrk's output:\n{out}");
    }
    Ok(run)
}

fn scratch_file(name: &str) -> Result<PathBuf> {
    let dir = kit::process::target_dir()?.join("lab-03-measure");
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join(format!("{}-{name}", std::process::id())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let out = "Running 5s test @ http://127.0.0.1:8080/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   112.33us   42.10us   1.00s    91.00%
    Req/Sec    80.73k    26.03k  118.41k    66.67%
  Latency Distribution
     50%  101.00us
     75%  120.00us
     90%  140.00us
     99%    2.50ms
  241018 requests in 3.00s, 17.93MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  80295.89
Transfer/sec:      5.97MB
";
        let r = parse_wrk(out, 3.0, 1.0).unwrap();
        assert_eq!(r.rps, 80295.89);
        assert_eq!(r.requests, 241018);
        assert_eq!(r.p50_us, 101.0);
        assert_eq!(r.p99_us, 2500.0);
        assert_eq!(r.max_us, 1e6);
        assert_eq!(r.errors, 3);
        assert!(parse_wrk("nothing", 1.0, 1.0).is_err());
    }
}
