//! goleak beside lab-06 (`goleak`, transcripts `goleak-report` and
//! `sender-kept-report`): the catalog's `sender-kept` leak written in Go
//! (`go/leak`: a worker ranges over a channel nobody closes, and a drain
//! waits for the worker), caught by uber's goleak in a `go test` with
//! `defer goleak.VerifyNone(t)`, and the same leak caught by lab-06's
//! check. Both reports are shown as printed; what each names is read from
//! the reports themselves, not assumed.
//!
//! The Go test binary is built with Debian's Go and Debian's goleak
//! (`golang-uber-goleak-dev`) through `kit::golang`; the leaking test runs
//! only with `LAB06_SHOW_LEAK=1`, so `go test` on the package passes.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kit::fmt::fmt_duration;
use kit::golang;
use report::{Table, Transcript};

use crate::catalog::{self, Side};
use crate::check::Schedule;

/// The catalog case the Go program translates.
const CASE: &str = "sender-kept";

fn source() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/go/leak"))
}

/// What one tool's report says, read from its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Leaked goroutines or tasks it counted.
    pub found: usize,
    /// Whether every leak it reported names the line that started it.
    pub names_spawn_site: bool,
    /// Whether it says where each leak is waiting (a stack, a state).
    pub shows_wait: bool,
    /// Whether the fixed version passes.
    pub fix_passes: bool,
    /// How long the failing check took to give up.
    pub took: Duration,
}

/// The lines of `src` holding `needle` (1-based).
fn lines_with(src: &str, needle: &str) -> Vec<u32> {
    src.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i as u32 + 1)
        .collect()
}

/// Reads goleak's failure output: one "Goroutine N in state S, with F on
/// top of the stack" per leak, each stack ending in "created by …" and
/// the file:line of the `go` statement. `go_lines` are the lines of
/// `queue.go` that hold a `go` statement.
pub fn read_goleak(output: &str, go_lines: &[u32]) -> (usize, bool, bool) {
    let blocks: Vec<&str> = output.split("Goroutine ").skip(1).collect();
    let found = blocks.iter().filter(|b| b.contains(" in state ")).count();
    let names_site = found > 0
        && blocks.iter().all(|b| {
            b.split_once("created by ").is_some_and(|(_, after)| {
                after.lines().nth(1).is_some_and(|l| {
                    go_lines
                        .iter()
                        .any(|n| l.contains(&format!("queue.go:{n} ")))
                })
            })
        });
    let shows_wait = found > 0
        && blocks
            .iter()
            .all(|b| b.contains(" in state ") && b.contains("on top of the stack"));
    (found, names_site, shows_wait)
}

/// `--- FAIL: TestX (0.46s)` → 0.46 s.
fn test_time(output: &str) -> Duration {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("--- FAIL: "))
        .and_then(|l| l.split_once(" ("))
        .and_then(|(_, t)| t.strip_suffix("s)"))
        .and_then(|t| t.parse::<f64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs_f64)
}

/// goleak's output with this machine's paths and build offsets taken out:
/// the package's absolute path becomes `labs/lab-06/go/leak` (and its
/// GOPATH-mode import path `_/…/leak` becomes `leak`), and the `+0x…`
/// program-counter offsets at the ends of stack lines go.
pub fn normalise(output: &str, abs: &str) -> String {
    let text = output
        .replace(&format!("_{abs}"), "leak")
        .replace(abs, "labs/lab-06/go/leak");
    text.lines()
        .map(|l| match l.rfind(" +0x") {
            Some(i) if l[i + 4..].chars().all(|c| c.is_ascii_hexdigit()) => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the Go side: builds the test binary, runs the leaking test and the
/// fixed one. Returns the reading and goleak's (normalised) output.
fn go_side() -> Result<(Reading, String, String)> {
    let version = golang::version()?;
    let built = golang::build(source(), "lab-06-leak.test", true)?;
    let run = |test: &str, show: bool| -> Result<kit::process::ToolOutput> {
        let mut cmd = Command::new(&built.path);
        cmd.args([
            "-test.v",
            "-test.count=1",
            "-test.run",
            &format!("^{test}$"),
        ])
        .current_dir(source())
        .env_remove("GOMAXPROCS")
        .env_remove("GODEBUG");
        if show {
            cmd.env("LAB06_SHOW_LEAK", "1");
        }
        kit::process::run_tool(&mut cmd, Duration::from_secs(120))
    };
    let leak = run("TestSenderKeptLeaks", true)?;
    let fixed = run("TestSenderKeptFixed", false)?;
    let output = format!("{}{}", leak.stdout, leak.stderr);
    if leak.status.success() || !output.contains("found unexpected goroutines") {
        bail!("goleak did not report the Go leak; the test printed:\n{output}");
    }
    let src =
        std::fs::read_to_string(source().join("queue.go")).context("reading go/leak/queue.go")?;
    let (found, names_spawn_site, shows_wait) =
        read_goleak(&output, &lines_with(&src, "go func()"));
    let abs = source().to_string_lossy().into_owned();
    Ok((
        Reading {
            found,
            names_spawn_site,
            shows_wait,
            // `-test.run` matching no test also exits 0: the fixed test
            // must have run and passed by name.
            fix_passes: fixed.status.success()
                && format!("{}{}", fixed.stdout, fixed.stderr)
                    .contains("--- PASS: TestSenderKeptFixed"),
            took: test_time(&output),
        },
        normalise(&output, &abs),
        version,
    ))
}

/// Runs the Rust side: the catalog's case through lab-06's check.
fn rust_side(schedule: Schedule) -> Result<(Reading, String)> {
    let case = catalog::cases()
        .into_iter()
        .find(|c| c.name == CASE)
        .with_context(|| format!("the catalog has no {CASE} case"))?;
    let leak = catalog::run(&case, Side::Leak, schedule)?;
    let fixed = catalog::run(&case, Side::Fixed, schedule)?;
    let src = include_str!("../catalog.rs");
    let start = lines_with(src, "async fn sender_kept_leak")
        .first()
        .copied();
    let end = lines_with(src, "async fn sender_kept_fixed")
        .first()
        .copied();
    let (found, names_spawn_site, shows_wait) = match (&leak.tasks, start, end) {
        (Err(r), Some(a), Some(b)) => (
            r.tracked() + r.untracked,
            r.untracked == 0
                && r.leaks.iter().all(|l| {
                    l.site.file().ends_with("catalog.rs") && (a..b).contains(&l.site.line())
                }),
            !r.leaks.is_empty() && r.leaks.iter().all(|l| !l.traces.is_empty()),
        ),
        (Err(r), _, _) => (r.tracked() + r.untracked, false, false),
        (Ok(()), _, _) => (0, false, false),
    };
    Ok((
        Reading {
            found,
            names_spawn_site,
            shows_wait,
            fix_passes: fixed.tasks.is_ok(),
            took: leak.check_time,
        },
        catalog::describe(&case, &leak, &fixed),
    ))
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The sentence the chapter quotes: what the two reports have in common
/// and where they differ, from the readings.
pub fn comparison(go: &Reading, rust: &Reading) -> String {
    let mut parts = Vec::new();
    parts.push(if go.found == rust.found {
        format!("both found the {} leaked workers", go.found)
    } else {
        format!(
            "goleak found {} leaked goroutines and lab-06 {} leaked tasks",
            go.found, rust.found
        )
    });
    parts.push(match (go.names_spawn_site, rust.names_spawn_site) {
        (true, true) => "both name the line that started each one".to_owned(),
        (true, false) => "only goleak names the line that started each one".to_owned(),
        (false, true) => "only lab-06 names the line that started each one".to_owned(),
        (false, false) => "neither names the line that started each one".to_owned(),
    });
    parts.push(match (go.shows_wait, rust.shows_wait) {
        (true, true) => "both show where each one waits".to_owned(),
        (true, false) => {
            "only goleak shows where each one waits (a goroutine's stack and state; lab-06's stable build has no task stacks, its unstable tier adds them)".to_owned()
        }
        (false, true) => "only lab-06 shows where each one waits".to_owned(),
        (false, false) => "neither shows where each one waits".to_owned(),
    });
    parts.join("; ")
}

/// The `goleak` table and the two reports.
pub fn goleak_beside_lab06(quick: bool) -> Result<(Table, Transcript, Transcript)> {
    let budget = if quick {
        Duration::from_millis(300)
    } else {
        Schedule::default().budget
    };
    let schedule = Schedule {
        budget,
        ..Schedule::default()
    };
    let (go, go_output, version) = go_side()?;
    let (rust, rust_output) = rust_side(schedule)?;
    let mut t = Table::new(
        "goleak",
        "One leak, two detectors: goleak on the Go version, lab-06 on the Rust one",
        &[
            "detector",
            "leaked found",
            "names the spawn site",
            "shows where it waits",
            "the fix passes",
            "time to report",
        ],
    )
    .numeric(&[1, 5]);
    for (name, r) in [
        ("goleak (VerifyNone in go test)", &go),
        ("lab-06 (LeakCheck)", &rust),
    ] {
        t.row(vec![
            name.to_owned(),
            r.found.to_string(),
            yes(r.names_spawn_site).to_owned(),
            yes(r.shows_wait).to_owned(),
            yes(r.fix_passes).to_owned(),
            fmt_duration(r.took),
        ]);
    }
    t.note(format!(
        "The catalog's `{CASE}` case: a worker waits on a channel whose sending side lives on in \
         a struct, and a second worker waits for the first. Go: `labs/lab-06/go/leak` (the same \
         shape with `range` over a channel and a drain goroutine), its test binary built by \
         this run with {version} and Debian's goleak, GOPATH mode; `defer \
         goleak.VerifyNone(t)` retries with goleak's default backoff before it fails the test. \
         Rust: the case through lab-06's check, which retries for {} before it reports.",
        fmt_duration(budget)
    ));
    t.note(
        "Read from each report as printed: names the spawn site when every leak it lists points \
         at the line that started it (goleak's `created by` frame, lab-06's spawn site); shows \
         where it waits when every leak comes with its stack or state. Time to report: the \
         failing test's duration, or the check's time from verify to its answer.",
    );
    let verdict = comparison(&go, &rust);
    t.note(format!("Measured: {verdict}."));
    t.fact("case", CASE)
        .fact("goleak_found", go.found.to_string())
        .fact("lab06_found", rust.found.to_string())
        .fact("goleak_time", fmt_duration(go.took))
        .fact("lab06_time", fmt_duration(rust.took))
        .fact("comparison", verdict);
    let go_transcript = Transcript {
        name: "goleak-report".into(),
        title: format!("goleak's report of the `{CASE}` leak, in Go"),
        command: "cd labs/lab-06/go/leak && LAB06_SHOW_LEAK=1 GO111MODULE=off \
                  GOPATH=/usr/share/gocode go test -v -run TestSenderKeptLeaks ."
            .into(),
        output: go_output,
        status: 1,
    };
    let rust_transcript = Transcript {
        name: "sender-kept-report".into(),
        title: format!("lab-06's report of the same `{CASE}` leak, in Rust"),
        command: format!("cargo run -p lab-06 -- catalog {CASE}"),
        output: rust_output,
        status: 0,
    };
    Ok((t, go_transcript, rust_transcript))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "    queue_test.go:25: found unexpected goroutines:
        [Goroutine 7 in state chan receive, with _/x/leak.NewQueue.func1 on top of the stack:
        goroutine 7 [chan receive]:
        _/x/leak.NewQueue.func1()
        \t/x/leak/queue.go:21 +0x97
        created by _/x/leak.NewQueue
        \t/x/leak/queue.go:19 +0x98

         Goroutine 8 in state chan receive, with _/x/leak.NewQueue.func2 on top of the stack:
        goroutine 8 [chan receive]:
        _/x/leak.NewQueue.func2()
        \t/x/leak/queue.go:26 +0x37
        created by _/x/leak.NewQueue
        \t/x/leak/queue.go:25 +0xd6
        ]
--- FAIL: TestSenderKeptLeaks (0.46s)
";

    #[test]
    fn reads_goleaks_report() {
        assert_eq!(read_goleak(SAMPLE, &[19, 25]), (2, true, true));
        assert_eq!(read_goleak(SAMPLE, &[19]), (2, false, true));
        assert_eq!(read_goleak("ok", &[19]), (0, false, false));
        assert_eq!(test_time(SAMPLE), Duration::from_millis(460));
        let n = normalise(SAMPLE, "/x/leak");
        assert!(n.contains("leak.NewQueue.func1()"), "{n}");
        assert!(n.contains("\tlabs/lab-06/go/leak/queue.go:21\n"), "{n}");
        assert!(!n.contains("+0x"), "{n}");
    }

    #[test]
    fn the_comparison_follows_the_readings() {
        let r = |names, waits| Reading {
            found: 2,
            names_spawn_site: names,
            shows_wait: waits,
            fix_passes: true,
            took: Duration::ZERO,
        };
        let c = comparison(&r(true, true), &r(true, false));
        assert!(c.contains("both found the 2"), "{c}");
        assert!(c.contains("both name the line"), "{c}");
        assert!(c.contains("only goleak shows where"), "{c}");
        assert!(comparison(&r(false, true), &r(true, true)).contains("only lab-06 names"));
    }

    #[test]
    fn the_go_sources_are_idiomatic() -> Result<()> {
        let problems = golang::lint(source())?;
        assert!(problems.is_empty(), "{problems:#?}");
        Ok(())
    }
}
