//! The whole test suite: `cargo xtask test`, which is the README's test
//! command and the only thing CI runs.
//!
//! Steps run in order and each says what it does and how long it took. A
//! failed step does not stop the suite (you see every failure in one run)
//! unless a later step needs its output. The last line is
//! `xtask: N passed, M failed`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{book, browser, exercises, project, results, scaffold, sh, structure, tools};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Step names to skip (for local iteration; CI skips nothing).
    pub skip: Vec<String>,
    /// If not empty, run only these steps (for local iteration).
    pub only: Vec<String>,
}

pub const STEPS: [(&str, &str); 15] = [
    ("setup", "install pinned tools and Debian packages"),
    ("fmt", "cargo fmt --check"),
    (
        "clippy",
        "clippy with -D warnings, exercises with and without solutions",
    ),
    ("tests", "unit and integration tests of every crate"),
    (
        "loom",
        "loom model checks of the labs' concurrency invariants",
    ),
    (
        "unstable",
        "code behind cfg(tokio_unstable): its tests and clippy, in a build of its own",
    ),
    (
        "fuzz",
        "each lab's libFuzzer targets, briefly (labs/*/fuzz)",
    ),
    (
        "exercises",
        "every starter fails its tests, every solution passes",
    ),
    ("results", "the results pipeline in quick mode"),
    (
        "benches",
        "criterion benchmarks in test mode (each runs once)",
    ),
    (
        "readme",
        "every command in the README and the lab READMEs, run as written",
    ),
    (
        "structure",
        "lab cards, chapters, exercises, includes, fresh results, prose lint, lab boundaries",
    ),
    (
        "scaffold",
        "a scaffolded lab compiles and is wired into the book",
    ),
    ("book", "mdbook build: html and linkcheck2, no warnings"),
    ("browser", "the built book in headless Chromium"),
];

fn exercise_packages(root: &Path) -> Result<Vec<String>> {
    Ok(project::packages(root)?
        .into_iter()
        .filter(|p| p.is_exercises())
        .map(|p| p.name)
        .collect())
}

fn run_step(
    root: &Path,
    name: &str,
    built_html: &mut Option<std::path::PathBuf>,
) -> Result<String> {
    match name {
        "setup" => tools::setup(root, true).map(|_| String::new()),
        "fmt" => sh::run(sh::cargo(root).args(["fmt", "--all", "--check"])).map(|_| String::new()),
        "clippy" => {
            sh::run(sh::cargo(root).args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ]))?;
            // The hasher features lab-04's full build-settings run builds
            // (its quick run builds only the default): compiled here, so a
            // change that breaks them fails the suite, not the next full
            // results run. The allocator features compile C and are left
            // to that run.
            sh::run(sh::cargo(root).args([
                "clippy",
                "-p",
                "lab-01",
                "-p",
                "lab-02",
                "--all-targets",
                "--locked",
                "--features",
                "foldhash",
                "--",
                "-D",
                "warnings",
            ]))?;
            // Every exercise package with its solutions in place, in one
            // cargo invocation.
            let mut c = sh::cargo(root);
            c.args(["clippy", "--all-targets", "--locked"]);
            for p in exercise_packages(root)? {
                c.args(["-p", &p, "--features", &format!("{p}/solution")]);
            }
            sh::run(c.args(["--", "-D", "warnings"]))?;
            Ok(String::new())
        }
        "tests" => {
            // Exercise packages are excluded: their tests fail on purpose
            // until a learner solves them (the `exercises` step checks them).
            let mut c = sh::cargo(root);
            c.args(["test", "--workspace", "--locked"]);
            for p in exercise_packages(root)? {
                c.args(["--exclude", &p]);
            }
            sh::run(&mut c).map(|_| String::new())
        }
        "loom" => {
            let mut n = 0;
            for lab in project::labs(root)? {
                if lab.dir.join("tests/loom.rs").exists() {
                    sh::run(
                        sh::cargo(root)
                            .env("RUSTFLAGS", "--cfg loom")
                            .env("CARGO_TARGET_DIR", root.join("target/loom"))
                            .args([
                                "test",
                                "--locked",
                                "--release",
                                "-p",
                                &lab.name,
                                "--test",
                                "loom",
                            ]),
                    )?;
                    n += 1;
                }
            }
            Ok(format!("{n} lab(s) with loom models"))
        }
        "unstable" => unstable(root),
        "fuzz" => fuzz(root),
        "exercises" => exercises::verify(root).map(|n| format!("{n} exercises verified")),
        "results" => results::run(root, true, &[], false).map(|_| String::new()),
        "benches" => {
            if root.join("benches/benches").exists() {
                sh::run(
                    sh::cargo(root).args(["bench", "--locked", "-p", "benches", "--", "--test"]),
                )?;
            }
            Ok(String::new())
        }
        "readme" => crate::readme::run(root),
        "structure" => structure::check(root).map(|_| String::new()),
        "scaffold" => scaffold::self_test(root).map(|_| String::new()),
        "book" => {
            let html = book::build(root, root)?;
            *built_html = Some(html);
            Ok(String::new())
        }
        "browser" => {
            let Some(html) = built_html.clone() else {
                bail!("skipped: the book did not build");
            };
            let check = browser::BrowserCheck {
                book_dir: html,
                chromium: "/usr/bin/chromium".into(),
                search: search_probes(),
                timeout: Duration::from_secs(30),
                own_trace: own_trace(root),
            };
            let report = browser::run(&check).context("the browser check could not run")?;
            eprintln!("{report}");
            if !report.passed() {
                bail!("the browser check found problems (see above)");
            }
            Ok(format!("{} pages", report.pages))
        }
        other => bail!("unknown step {other}"),
    }
}

/// How long each fuzz target runs in the suite. Long enough to explore
/// past the seed inputs (about a million executions), short enough for CI;
/// run longer by hand: see labs/lab-02/fuzz/README.md.
const FUZZ_SECONDS: u32 = 20;

/// Runs every fuzz target of every lab that has a `fuzz/` crate, with the
/// pinned cargo-fuzz. Any crash fails the step (libFuzzer exits non-zero
/// and leaves the input in `fuzz/artifacts/`).
fn fuzz(root: &Path) -> Result<String> {
    let cargo_fuzz = tools::bin(root, tools::CARGO_FUZZ);
    let mut ran = Vec::new();
    for lab in project::labs(root)? {
        let dir = lab.dir.join("fuzz");
        let targets = dir.join("fuzz_targets");
        if !targets.is_dir() {
            continue;
        }
        let mut names: Vec<String> = std::fs::read_dir(&targets)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".rs").map(str::to_owned)
            })
            .collect();
        names.sort();
        // The fuzz crate is a workspace of its own, and cargo-fuzz resolves
        // it without --locked: a lock that no longer matches the labs'
        // manifests would be rewritten here unseen, so it fails instead.
        sh::run(
            sh::cargo(&dir)
                .args(["metadata", "--locked", "--format-version", "1"])
                .stdout(std::process::Stdio::null()),
        )
        .with_context(|| {
            format!(
                "{}/fuzz/Cargo.lock is out of date: run `cargo update --workspace` in {} and commit it",
                lab.name,
                dir.display()
            )
        })?;
        for target in names {
            let mut c = std::process::Command::new(&cargo_fuzz);
            c.current_dir(&dir)
                .env("CARGO_TARGET_DIR", root.join("target/fuzz"))
                .args(["fuzz", "run", &target, "-s", "none", "--"])
                .arg(format!("-max_total_time={FUZZ_SECONDS}"))
                .arg("-print_final_stats=1");
            sh::run(&mut c).with_context(|| format!("fuzz target {}/{target}", lab.name))?;
            ran.push(format!("{}/{target}", lab.name));
        }
    }
    Ok(format!("{} for {FUZZ_SECONDS} s each", ran.join(", ")))
}

/// The trace the browser check loads into a scene player's file input,
/// as a reader who recorded their own run would.
///
/// Where the browser check's "own" trace comes from: recorded on the spot
/// by the documented command, `cargo run --quiet -p lab-07 -- record SCENE
/// --out FILE`, for the first scene it finds (`browser/scenes.rs`,
/// `record_own_trace`), as a reader would before loading it in the player.
pub fn own_trace(root: &Path) -> browser::OwnTrace {
    browser::OwnTrace::Record {
        workspace: root.to_owned(),
    }
}

/// Words a reader would search for, and the page that must come up.
pub fn search_probes() -> Vec<browser::SearchProbe> {
    [
        ("starvation", "part-1/locks.html"),
        ("clippy", "part-1/tooling.html"),
        ("fdatasync", "part-2/concurrency-models.html"),
        ("omission", "part-3/load-testing.html"),
    ]
    .into_iter()
    .map(|(q, p)| browser::SearchProbe {
        query: q.to_owned(),
        expect_path: p.to_owned(),
    })
    .collect()
}

pub fn run(root: &Path, opts: &Options) -> Result<()> {
    for s in opts.skip.iter().chain(&opts.only) {
        if !STEPS.iter().any(|(n, _)| n == s) {
            bail!(
                "unknown step {s:?}; steps: {}",
                STEPS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let start = Instant::now();
    let mut outcomes: Vec<(&str, Duration, Result<String>)> = Vec::new();
    let mut html = None;
    for (name, what) in STEPS {
        if opts.skip.iter().any(|s| s == name)
            || (!opts.only.is_empty() && !opts.only.iter().any(|s| s == name))
        {
            sh::step(&format!("{name}: skipped ({what})"));
            continue;
        }
        sh::step(&format!("{name}: {what}"));
        let t = Instant::now();
        let r = run_step(root, name, &mut html);
        let took = t.elapsed();
        match &r {
            Ok(detail) => sh::say(&format!(
                "ok: {name} ({}){}",
                sh::fmt_duration(took),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                }
            )),
            Err(e) => eprintln!("    FAILED: {name} ({}): {e:#}", sh::fmt_duration(took)),
        }
        let fatal = name == "setup" && r.is_err();
        outcomes.push((name, took, r));
        if fatal {
            eprintln!("    setup failed; the remaining steps need its tools");
            break;
        }
    }
    eprintln!(
        "\n==> summary ({} in all)",
        sh::fmt_duration(start.elapsed())
    );
    let mut failed = 0;
    for (name, took, r) in &outcomes {
        match r {
            Ok(_) => eprintln!("    ok      {name:<10} {}", sh::fmt_duration(*took)),
            Err(e) => {
                failed += 1;
                let first = format!("{e:#}");
                let first = first.lines().next().unwrap_or_default();
                eprintln!(
                    "    FAILED  {name:<10} {}  {first}",
                    sh::fmt_duration(*took)
                );
            }
        }
    }
    let passed = outcomes.len() - failed;
    println!("xtask: {passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} step(s) failed");
    }
    Ok(())
}

/// The labs with code behind `cfg(tokio_unstable)` (their manifest turns
/// on tokio features under it): their library tests and clippy, built
/// with the flag in a target folder of its own so the stable build's
/// artifacts stay as they are.
fn unstable(root: &Path) -> Result<String> {
    let mut n = 0;
    for lab in project::labs(root)? {
        let manifest = std::fs::read_to_string(lab.dir.join("Cargo.toml"))?;
        if !manifest.contains("cfg(tokio_unstable)") {
            continue;
        }
        for args in [
            vec!["test", "--locked", "-p", &lab.name, "--lib"],
            vec![
                "clippy", "--locked", "-p", &lab.name, "--lib", "--", "-D", "warnings",
            ],
        ] {
            sh::run(
                sh::cargo(root)
                    .env("RUSTFLAGS", "--cfg tokio_unstable")
                    .env("CARGO_TARGET_DIR", root.join("target/unstable"))
                    .args(args),
            )?;
        }
        n += 1;
    }
    Ok(format!("{n} lab(s) with a tokio_unstable tier"))
}
