//! The debug port on a running lab-02, end to end: `go tool pprof -top`
//! reads what it serves, bad input gets clear HTTP errors while lab-02
//! keeps serving, and the `profile` command writes every output, a diff
//! included, by both ways of sampling.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lab_02::client::Client;
use lab_02::resp::Frame;
use lab_04::debug;

/// A lab-02 started through this lab's binary with a debug port.
fn start() -> (kit::process::Process, u16, std::net::SocketAddr) {
    let debug_port = kit::process::free_port().unwrap();
    let debug_addr: std::net::SocketAddr = ([127, 0, 0, 1], debug_port).into();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lab-04"));
    cmd.args(["serve", "--model", "task-per-connection", "--threads", "2"])
        .args(["--port", "0", "--task-metrics", "--debug-addr"])
        .arg(debug_addr.to_string());
    let mut p = kit::process::Process::spawn(cmd, "lab-04 serve").unwrap();
    let port = p.ready_line().unwrap();
    (p, port, debug_addr)
}

/// Requests in a loop until `stop`.
fn load(port: u16, stop: &AtomicBool) {
    let mut c = Client::connect(("127.0.0.1", port)).unwrap();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let key = format!("k{}", i % 500);
        c.cmd(&[b"SET", key.as_bytes(), b"v"]).unwrap();
        c.cmd(&[b"GET", key.as_bytes()]).unwrap();
        i += 1;
    }
}

#[test]
fn go_tool_pprof_reads_a_profile_of_lab_02_and_bad_input_hurts_nobody() {
    let (_server, port, debug_addr) = start();
    let stop = AtomicBool::new(false);
    let t = Duration::from_secs(30);
    std::thread::scope(|s| {
        s.spawn(|| load(port, &stop));
        s.spawn(|| load(port, &stop));
        let r = debug::get(
            debug_addr,
            "/debug/pprof/profile?seconds=2&frequency=199",
            t,
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        // Bad input while the load runs: each a clear 4xx.
        for (path, status, says) in [
            ("/debug/pprof/profile?seconds=0", 400, "between 1 and 60"),
            ("/debug/pprof/profile?seconds=abc", 400, "whole number"),
            ("/debug/pprof/profile?frequency=0", 400, "frequency"),
            (
                "/debug/pprof/profile?format=png",
                400,
                "pprof, svg or folded",
            ),
            ("/debug/pprof/profile?evil=1", 400, "unknown parameter"),
            ("/debug/runtime?seconds=1000", 400, "seconds"),
            ("/etc/passwd", 404, "not found"),
        ] {
            let r = debug::get(debug_addr, path, t).unwrap();
            assert_eq!(r.status, status, "{path}: {}", r.text());
            assert!(r.text().contains(says), "{path}: {}", r.text());
        }
        let metrics = debug::get(debug_addr, "/debug/runtime?seconds=1", t).unwrap();
        assert_eq!(metrics.status, 200);
        let json: serde_json::Value = serde_json::from_slice(&metrics.body).unwrap();
        assert_eq!(json["runtimes"][0]["workers"], 2);
        assert!(json["tasks"]["polls"].as_u64().unwrap() > 0, "{json}");
        stop.store(true, Ordering::Relaxed);

        let dir = kit::testutil::TempDir::new("lab-04-go").unwrap();
        let file = dir.path().join("profile.pb");
        std::fs::write(&file, &r.body).unwrap();
        let out = Command::new("go")
            .args(["tool", "pprof", "-top", "-lines", "-nodecount=5000"])
            .arg(&file)
            .output()
            .expect("go is installed (Debian's golang-go; cargo xtask setup installs it)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("Type: cpu"), "{text}");
        // With -lines each entry is a function and its file:line, so
        // lab-02's own functions show up by name and source file.
        assert!(
            text.lines().any(|l| l.contains("labs/lab-02/src/")),
            "lab-02's functions are listed by name:\n{text}"
        );
    });
    // lab-02 still serves after all of it.
    let mut c = Client::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(c.cmd(&[b"PING"]).unwrap(), Frame::Simple("PONG".into()));
}

#[test]
fn the_profile_command_writes_every_output_both_ways() {
    let dir = kit::testutil::TempDir::new("lab-04-profile").unwrap();
    let run = |out: &str, extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_lab-04"))
            .args([
                "profile",
                "--model",
                "event-loop",
                "--rate",
                "3000",
                "--seconds",
                "1",
            ])
            .args(["--keyspace", "500", "--frequency", "199", "--out"])
            .arg(dir.path().join(out))
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        stdout
    };
    let first = run("a", &[]);
    assert!(first.contains("req/s served"), "{first}");
    for f in ["profile.pb", "stacks.folded", "flamegraph.svg", "top.txt"] {
        assert!(dir.path().join("a").join(f).exists(), "{f} written");
    }
    let baseline = dir.path().join("a/stacks.folded");
    let second = run("b", &["--baseline", baseline.to_str().unwrap()]);
    assert!(second.contains("diff.svg"), "{second}");
    let diff = std::fs::read_to_string(dir.path().join("b/diff.svg")).unwrap();
    assert!(diff.contains("<svg"));
    // The same through perf, from outside.
    let third = run("c", &["--perf"]);
    assert!(third.contains("stacks.folded"), "{third}");
    let folded = std::fs::read_to_string(dir.path().join("c/stacks.folded")).unwrap();
    assert!(lab_04::stacks::total(&lab_04::stacks::parse_folded(&folded).unwrap()) > 0);
}
