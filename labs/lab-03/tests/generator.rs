//! The generator as a user runs it: the real binary, against lab-03's
//! target, lab-02, and peers that misbehave. Every run is loopback-only
//! and bounded to a second or two.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use lab_03::target::{self, TargetConfig};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lab-03");

/// Runs that measure time hold this, so that a CPU hog in one test cannot
/// make another test's healthy run look starved.
static TIMING: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    TIMING.lock().unwrap_or_else(PoisonError::into_inner)
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("lab-03 runs")
}

/// Runs lab-03 with `--json -` and returns the summary and the exit code.
fn run_json(args: &[&str]) -> (Value, i32) {
    let mut all = args.to_vec();
    all.extend(["--quiet", "--json", "-"]);
    let out = run(&all);
    let text = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}); stdout: {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (json, out.status.code().unwrap_or(-1))
}

fn target(cfg: TargetConfig) -> target::Target {
    target::start(cfg).expect("target starts")
}

fn url(t: &target::Target) -> String {
    format!("http://{}/", t.addr())
}

fn errors(j: &Value, kind: &str) -> u64 {
    j["errors"][kind].as_u64().unwrap_or(0)
}

fn findings(j: &Value) -> Vec<String> {
    j["self_check"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["generator"] == true)
        .map(|f| f["signal"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_open_model_sends_what_it_scheduled() {
    let _g = serial();
    let t = target(TargetConfig::default());
    let (j, code) = run_json(&[
        "http",
        &url(&t),
        "--rate",
        "2000",
        "-c",
        "10",
        "-d",
        "1500ms",
    ]);
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["scheduled"], 3000);
    let sent = j["sent"].as_u64().unwrap();
    assert!((2970..=3000).contains(&sent), "sent {sent} of 3000");
    assert_eq!(j["ok"].as_u64().unwrap(), sent);
    // duration = sending + waiting + receiving, on every request; here as
    // means, which add up exactly.
    let mean = |k: &str| j[k]["mean_us"].as_f64().unwrap();
    let parts = mean("sending") + mean("waiting") + mean("receiving");
    assert!((parts - mean("service")).abs() < 0.05 * mean("service") + 1.0);
}

#[test]
fn the_self_check_fires_when_starved_and_stays_quiet_when_healthy() {
    let _g = serial();
    let t = target(TargetConfig::default());
    let args = ["http", &url(&t), "--rate", "2000", "-c", "10", "-d", "2s"];

    // A healthy run must not blame the generator. On a shared VM the host
    // can take the core away for a few milliseconds now and then, and then
    // the generator really was late and says so: that run was not healthy.
    // So: quiet in at least one of three tries (a generator that always
    // blames itself fails all three).
    let mut tries = Vec::new();
    for _ in 0..3 {
        let (healthy, _) = run_json(&args);
        if findings(&healthy).is_empty() {
            tries.clear();
            break;
        }
        tries.push(healthy["self_check"].to_string());
    }
    assert!(
        tries.is_empty(),
        "a healthy run must not blame the generator, but all 3 tries did: {tries:#?}"
    );

    // Three busy loops on the generator's one core leave it a quarter of
    // it, in slices of milliseconds.
    let hogs: Vec<kit::process::Hog> = (0..3)
        .map(|_| kit::process::Hog::start("0").expect("taskset and sh exist"))
        .collect();
    let mut pinned = vec!["-c", "0", BIN];
    pinned.extend(args);
    pinned.extend(["--quiet", "--json", "-"]);
    let out = Command::new("taskset")
        .args(&pinned)
        .output()
        .expect("taskset runs");
    drop(hogs);
    let starved: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let f = findings(&starved);
    assert!(
        f.iter().any(|s| s == "runqueue" || s == "lag"),
        "a starved generator must say so: {}",
        starved["self_check"]
    );
}

#[test]
fn the_summary_warns_in_words() {
    let _g = serial();
    let t = target(TargetConfig::default());
    // 1 ms of script per request at 2,000 per second needs two cores.
    let out = run(&[
        "http",
        &url(&t),
        "--rate",
        "2000",
        "-c",
        "10",
        "-d",
        "1s",
        "--script-cost",
        "1ms",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("WARNING: the generator, not the server, may be the bottleneck"),
        "{text}"
    );
}

#[test]
fn a_short_run_gets_no_verdict_and_a_closed_run_no_schedule() {
    let _g = serial();
    let t = target(TargetConfig::default());
    // 20 requests take a few milliseconds: too few ticks for a share.
    let out = run(&["http", &url(&t), "-c", "1", "-n", "20"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("self-check: no verdict") && !text.contains("self-check ok"),
        "{text}"
    );
    // A closed run long enough for a verdict is not judged by a schedule.
    let out = run(&["http", &url(&t), "-c", "2", "--think", "5ms", "-d", "1s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("schedule"), "{text}");
    assert!(
        text.contains("self-check ok") || text.contains("bottleneck"),
        "a closed run of a second gets a verdict: {text}"
    );
    assert!(!text.contains("no verdict"), "{text}");
}

#[test]
fn think_time_paces_a_closed_model() {
    let _g = serial();
    let t = target(TargetConfig::default());
    // Two connections, each waiting 50 ms after every reply: about 20
    // requests a second each, whatever the server could do.
    let (j, code) = run_json(&["http", &url(&t), "-c", "2", "--think", "50ms", "-d", "1s"]);
    assert_eq!(code, 0, "{j}");
    let ok = j["ok"].as_u64().unwrap();
    assert!((30..=42).contains(&ok), "{ok} requests");
    // The think time is not latency: requests start when they are meant to.
    assert!(
        j["latency"]["p99_us"].as_f64().unwrap() < 20_000.0,
        "{}",
        j["latency"]
    );
}

#[test]
fn phases_show_a_delay_and_new_connections() {
    let _g = serial();
    let t = target(TargetConfig {
        delay: Duration::from_millis(20),
        ..TargetConfig::default()
    });
    let (j, code) = run_json(&["http", &url(&t), "-c", "2", "-n", "20", "--no-keep-alive"]);
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["ok"], 20);
    assert!(j["waiting"]["p50_us"].as_f64().unwrap() >= 20_000.0);
    // Without keep-alive every request connects (but the first on each
    // connection, opened before the clock started), and the connect is
    // timed.
    assert_eq!(j["connecting"]["count"], 20);
    assert!(
        j["connecting"]["p50_us"].as_f64().unwrap() > 0.0,
        "{}",
        j["connecting"]
    );
    // Closed model: nothing waits for a connection.
    assert_eq!(j["blocked"]["max_us"], 0.0);
}

#[test]
fn resp_load_reaches_lab_02() {
    let server = lab_02::server::start(lab_02::config::Config::ephemeral(
        lab_02::config::Model::EventLoop,
    ))
    .expect("lab-02 starts");
    let addr = server.addr().to_string();
    let (j, code) = run_json(&[
        "resp",
        &addr,
        "--mix",
        "set:get=1:1",
        "--keyspace",
        "100",
        "-P",
        "4",
        "-c",
        "3",
        "-t",
        "2",
        "-n",
        "3001",
    ]);
    assert_eq!(code, 0, "{j}");
    // Two worker threads split the budget (1,501 and 1,500) and the
    // connections (2 and 1); nothing is lost or sent twice.
    assert_eq!(j["ok"], 3001);
    assert_eq!(j["generator_threads"].as_array().unwrap().len(), 2);
    let mut c = lab_02::client::Client::connect(&addr).unwrap();
    let n = c.cmd(&[b"DBSIZE"]).unwrap().as_int().unwrap();
    assert!((50..=100).contains(&n), "{n} keys");
}

#[test]
fn refused_connections_are_counted_not_fatal() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let (j, code) = run_json(&["resp", &addr, "-c", "5", "-n", "40"]);
    assert_eq!(code, 2, "some requests failed: exit code 2");
    assert_eq!(errors(&j, "connect-refused"), 40, "{}", j["errors"]);
    assert_eq!(j["ok"], 0);

    // As a reader runs it, with nothing listening: one error line that
    // says what happened and what to start, no table of zeros, no "ok".
    let out = run(&["resp", &addr, "-n", "5"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.trim().is_empty(),
        "no table when nothing worked: {stdout}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one error line: {stderr}");
    assert!(
        lines[0].starts_with("error: no request succeeded")
            && lines[0].contains("connect-refused 5")
            && lines[0].contains("cargo run -p lab-02"),
        "{stderr}"
    );
    let (j, _) = run_json(&[
        "http",
        &format!("http://{addr}/"),
        "--rate",
        "1000",
        "-d",
        "300ms",
    ]);
    assert_eq!(errors(&j, "connect-refused"), 300, "{}", j["errors"]);
}

/// A peer that accepts, lets the request arrive, and closes without
/// reading it: the kernel answers with a reset.
fn resetting_peer() -> (String, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let h = thread::spawn(move || {
        l.set_nonblocking(false).unwrap();
        for _ in 0..20 {
            let Ok((s, _)) = l.accept() else { return };
            thread::sleep(Duration::from_millis(20));
            drop(s);
        }
    });
    (addr, h)
}

#[test]
fn resets_and_garbage_are_errors_by_kind() {
    let (addr, h) = resetting_peer();
    let (j, code) = run_json(&["resp", &addr, "-c", "2", "-n", "10", "--timeout", "2s"]);
    assert_eq!(code, 2);
    let lost = errors(&j, "reset") + errors(&j, "closed");
    assert_eq!(lost, 10, "{}", j["errors"]);
    drop(h);

    // A peer that answers with something that is not RESP.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let h = thread::spawn(move || {
        for _ in 0..4 {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
            thread::sleep(Duration::from_millis(50));
        }
    });
    let (j, _) = run_json(&["resp", &addr, "-c", "1", "-n", "3", "--timeout", "2s"]);
    assert!(errors(&j, "protocol") >= 1, "{}", j["errors"]);
    drop(h);
}

#[test]
fn a_peer_streaming_garbage_costs_bounded_memory() {
    // Accepts 16 connections and sends each an endless reply with no CRLF.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let h = thread::spawn(move || {
        l.set_nonblocking(true).unwrap();
        let mut peers = Vec::new();
        let junk = vec![b'x'; 1 << 16];
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok((s, _)) = l.accept() {
                s.set_nonblocking(true).unwrap();
                peers.push(s);
            }
            for p in &mut peers {
                let _ = p.write(&junk);
            }
            thread::sleep(Duration::from_micros(200));
        }
    });
    let mut child = Command::new(BIN)
        .args([
            "resp",
            &addr,
            "-c",
            "16",
            "-d",
            "3s",
            "--timeout",
            "5s",
            "--quiet",
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut peak = 0u64;
    while child.try_wait().unwrap().is_none() {
        if let Some(b) = kit::procfs::rss_of_pid(child.id()) {
            peak = peak.max(b);
        }
        thread::sleep(Duration::from_millis(20));
    }
    // The counts add up, in the open model too, where most requests are
    // due while every connection is stuck: those are `unsent`, the rest
    // failed among the requests actually started.
    let (j, _) = run_json(&[
        "resp",
        &addr,
        "-c",
        "4",
        "-d",
        "1s",
        "--rate",
        "50000",
        "--timeout",
        "1s",
    ]);
    let started = j["started"].as_u64().unwrap();
    let total: u64 = j["errors"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let never = errors(&j, "unsent") + errors(&j, "dropped");
    assert!(
        total - never <= started,
        "{total} errors, {never} of them never started, but only {started} started: {}",
        j["errors"]
    );
    assert!(
        never > 0,
        "requests due with every connection stuck are unsent: {}",
        j["errors"]
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    h.join().unwrap();
    assert!(
        peak < 256 << 20,
        "16 connections to a garbage stream took the generator to {} MiB",
        peak >> 20
    );
}

#[test]
fn timeouts_end_a_silent_peer() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let h = thread::spawn(move || {
        let kept: Vec<_> = (0..2).filter_map(|_| l.accept().ok()).collect();
        thread::sleep(Duration::from_millis(1500));
        drop(kept);
    });
    let (j, code) = run_json(&["resp", &addr, "-c", "2", "-n", "2", "--timeout", "300ms"]);
    assert_eq!(code, 2);
    assert_eq!(errors(&j, "timeout"), 2, "{}", j["errors"]);
    h.join().unwrap();
}

#[test]
fn unsafe_or_unbounded_runs_are_refused() {
    let out = run(&["http", "http://10.1.2.3:80/", "-d", "1s"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a loopback address") && err.contains("--allow-remote"),
        "{err}"
    );

    let out = run(&["resp", "127.0.0.1:6379"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing an unbounded run"));

    for bad in [
        &["resp", "127.0.0.1:6379", "-d", "1s", "--mix", "set:get=1"][..],
        &["resp", "127.0.0.1:6379", "-d", "1s", "--keys", "zipf:-1"],
        &["http", "https://127.0.0.1/", "-d", "1s"],
        &["http", "http://127.0.0.1:1/", "-d", "1s", "--rate", "0"],
        &["http", "http://127.0.0.1:1/", "-d", "1s", "--rate", "1e12"],
        &["http", "http://127.0.0.1:1/", "-d", "1s", "--timeout", "0s"],
        &["resp", "127.0.0.1:6379", "-d", "1s", "--keyspace", "0"],
        &[
            "resp",
            "127.0.0.1:6379",
            "-d",
            "1s",
            "--value-size",
            "999999999999",
        ],
        &["http", "http://127.0.0.1:1/", "-d", "1s", "-H", "no colon"],
        // Beyond what one machine can do: refused before anything runs.
        &["resp", "127.0.0.1:1", "-d", "1s", "-c", "1000000"],
        &[
            "resp",
            "127.0.0.1:1",
            "-d",
            "1s",
            "-t",
            "3000",
            "-c",
            "3000",
        ],
        &["resp", "127.0.0.1:1", "-d", "1s", "-P", "0"],
        &["resp", "127.0.0.1:1", "-d", "1s", "-P", "100000000"],
        &["resp", "127.0.0.1:1", "-d", "1s", "--think", "25h"],
        &["resp", "127.0.0.1:1", "-d", "1s", "--script-cost", "1h"],
        &[
            "resp",
            "127.0.0.1:1",
            "-d",
            "10s",
            "--json",
            "/nonexistent-dir/x.json",
        ],
    ] {
        let began = std::time::Instant::now();
        let out = run(bad);
        assert_ne!(out.status.code(), Some(0), "{bad:?} must fail");
        assert!(
            began.elapsed() < Duration::from_secs(3),
            "{bad:?} must be refused at once, not after a run ({:?})",
            began.elapsed()
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error"),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn writes_an_hdr_log_and_a_plot() {
    let _g = serial();
    let t = target(TargetConfig::default());
    let dir = std::env::temp_dir().join(format!("lab03-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("run.hlog");
    let svg = dir.join("run.svg");
    let out = run(&[
        "http",
        &url(&t),
        "--rate",
        "500",
        "-d",
        "1200ms",
        "--quiet",
        "--hdr-log",
        log.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&log).unwrap();
    let mut tags = Vec::new();
    let mut total = 0;
    for item in hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&bytes) {
        if let Ok(hdrhistogram::serialization::interval_log::LogEntry::Interval(iv)) = item {
            tags.push(iv.tag().map(|t| t.as_str().to_owned()));
            let decoded = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                iv.encoded_histogram(),
            )
            .unwrap();
            let h: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
                .deserialize(&mut decoded.as_slice())
                .unwrap();
            if iv.tag().map(|t| t.as_str()) == Some("latency") {
                total += h.len();
            }
        }
    }
    assert!(tags.contains(&Some("latency".into())) && tags.contains(&Some("service".into())));
    assert_eq!(total, 600, "every request is in the log once");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("from intended start"));
    let _ = std::fs::remove_dir_all(&dir);
}
