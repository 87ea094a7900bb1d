//! Exercises: list them, check a learner's answer, verify the set.
//!
//! A lab's exercises live in the package `lab-NN-exercises`
//! (`labs/lab-NN/exercises/`). Each exercise is a module whose starter is at
//! `src/NAME.rs` (what the learner edits), whose reference solution is at
//! `solutions/NAME.rs`, and whose tests are the integration test
//! `tests/NAME.rs`. The crate's `solution` feature swaps every starter for its
//! solution (`#[cfg_attr(feature = "solution", path = …)]`), so the same
//! tests run against both without copying files around, and the solutions
//! never sit where the learner's code is expected.
//!
//! `exercises.toml` lists them:
//!
//! ```toml
//! [[exercise]]
//! id = "shard-index"
//! title = "Pick a shard"
//! test = "shard_index"
//! starter = "src/shard_index.rs"
//! solution = "solutions/shard_index.rs"
//! hints = ["…"]
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::project::{self, Package};
use crate::sh;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    pub id: String,
    pub title: String,
    pub test: String,
    pub starter: PathBuf,
    pub solution: PathBuf,
    #[serde(default)]
    pub hints: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[serde(default)]
    exercise: Vec<Exercise>,
}

/// One lab's exercises.
#[derive(Debug, Clone)]
pub struct LabExercises {
    pub lab: String,
    pub package: String,
    pub dir: PathBuf,
    pub exercises: Vec<Exercise>,
}

pub fn parse_manifest(text: &str) -> Result<Vec<Exercise>> {
    let m: Manifest = toml::from_str(text)?;
    for e in &m.exercise {
        if e.id.is_empty()
            || !e
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            bail!("exercise id {:?} must be kebab-case", e.id);
        }
    }
    Ok(m.exercise)
}

pub fn load(pkg: &Package) -> Result<LabExercises> {
    let path = pkg.dir.join("exercises.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("{} is missing", path.display()))?;
    let exercises =
        parse_manifest(&text).with_context(|| format!("{} is malformed", path.display()))?;
    let lab = pkg.name.trim_end_matches("-exercises").to_owned();
    Ok(LabExercises {
        lab,
        package: pkg.name.clone(),
        dir: pkg.dir.clone(),
        exercises,
    })
}

pub fn all(root: &Path) -> Result<Vec<LabExercises>> {
    project::packages(root)?
        .iter()
        .filter(|p| p.is_exercises())
        .map(load)
        .collect()
}

/// What running one exercise's tests produced.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Passed { tests: usize },
    Failed { failures: Vec<(String, String)> },
    DidNotBuild { errors: String },
}

/// Reads `cargo test` output. A run that compiled and ran no test at all
/// is a failure of the exercise's design, not a pass.
pub fn classify(success: bool, stdout: &str, stderr: &str) -> Outcome {
    let ran = stdout
        .lines()
        .filter(|l| l.starts_with("test result:"))
        .count();
    if ran == 0 {
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error") || l.starts_with(" -->") || l.starts_with("  -->"))
            .collect();
        return Outcome::DidNotBuild {
            errors: if errors.is_empty() {
                stderr
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                errors.join("\n")
            },
        };
    }
    if success {
        let tests = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("test result: ok. "))
            .filter_map(|l| l.split_whitespace().next()?.parse::<usize>().ok())
            .sum();
        return Outcome::Passed { tests };
    }
    // Each failure prints "---- NAME stdout ----" followed by its panic.
    let mut failures = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in stdout.lines() {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            if let Some((n, msg)) = current.take() {
                failures.push((n, msg.join("\n")));
            }
            current = Some((name.to_owned(), Vec::new()));
        } else if line.starts_with("failures:") || line.starts_with("test result:") {
            if let Some((n, msg)) = current.take() {
                failures.push((n, msg.join("\n")));
            }
        } else if let Some((_, msg)) = current.as_mut()
            && !line.starts_with("note: run with `RUST_BACKTRACE")
        {
            msg.push(line.to_owned());
        }
    }
    if failures.is_empty() {
        failures.push((
            "(unknown)".to_owned(),
            "the tests failed; see the output above".to_owned(),
        ));
    }
    Outcome::Failed { failures }
}

fn run_tests(
    root: &Path,
    lx: &LabExercises,
    ex: &Exercise,
    solution: bool,
    quiet: bool,
) -> Result<Outcome> {
    let mut cmd = sh::cargo(root);
    cmd.args(["test", "-p", &lx.package, "--test", &ex.test]);
    if solution {
        cmd.args(["--features", "solution"]);
    }
    if quiet {
        cmd.arg("--quiet");
    }
    let out = sh::capture(&mut cmd)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    Ok(classify(out.status.success(), &stdout, &stderr))
}

fn find<'a>(
    all: &'a [LabExercises],
    lab: &str,
    id: &str,
) -> Result<(&'a LabExercises, &'a Exercise)> {
    let lx = all.iter().find(|l| l.lab == lab).with_context(|| {
        format!(
            "no exercises for {lab:?}; labs with exercises: {}",
            all.iter()
                .map(|l| l.lab.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let ex = lx.exercises.iter().find(|e| e.id == id).with_context(|| {
        format!(
            "{lab} has no exercise {id:?}; it has: {}",
            lx.exercises
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    Ok((lx, ex))
}

pub fn list(root: &Path, lab: Option<&str>) -> Result<()> {
    for lx in all(root)? {
        if lab.is_some_and(|l| l != lx.lab) {
            continue;
        }
        println!("{} ({}):", lx.lab, lx.dir.display());
        for e in &lx.exercises {
            println!(
                "  {:<16} {}  (edit {}; check: cargo xtask exercise check {} {})",
                e.id,
                e.title,
                lx.dir
                    .join(&e.starter)
                    .strip_prefix(root)
                    .unwrap_or(&e.starter)
                    .display(),
                lx.lab,
                e.id
            );
        }
    }
    Ok(())
}

/// Checks a learner's answer and explains the result.
pub fn check(root: &Path, lab: &str, id: &str) -> Result<()> {
    let all = all(root)?;
    let (lx, ex) = find(&all, lab, id)?;
    let starter = lx.dir.join(&ex.starter);
    sh::step(&format!(
        "checking {lab} / {id}: {} ({})",
        ex.title,
        starter.display()
    ));
    match run_tests(root, lx, ex, false, false)? {
        Outcome::Passed { tests } => {
            println!("\nPASS: all {tests} tests of `{id}` pass. Well done.");
            // Only exercise crates with a program have a `bench` to run.
            if lx.dir.join("src/main.rs").exists() {
                println!(
                    "Now measure it beside the reference: cargo run -p {} --release -- bench",
                    lx.package
                );
            }
            Ok(())
        }
        Outcome::Failed { failures } => {
            println!("\nNOT YET: {} test(s) of `{id}` fail:", failures.len());
            for (name, msg) in &failures {
                println!("\n  {name}\n{}", indent(msg.trim(), 4));
            }
            if !ex.hints.is_empty() {
                println!("\nHints:");
                for (i, h) in ex.hints.iter().enumerate() {
                    println!("  {}. {h}", i + 1);
                }
            }
            bail!("exercise {lab}/{id} is not solved yet")
        }
        Outcome::DidNotBuild { errors } => {
            println!("\nYour code does not compile yet:\n{}", indent(&errors, 4));
            bail!("exercise {lab}/{id} does not compile")
        }
    }
}

fn indent(s: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    s.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The verdict on one exercise from its starter's and solution's outcomes.
pub fn judge(id: &str, starter: &Outcome, solution: &Outcome) -> Result<()> {
    match starter {
        Outcome::Failed { .. } => {}
        Outcome::Passed { .. } => bail!(
            "the starter of `{id}` already passes its tests: the exercise is solved before the learner starts"
        ),
        Outcome::DidNotBuild { errors } => bail!(
            "the starter of `{id}` does not compile; a learner must start from compiling code:\n{errors}"
        ),
    }
    match solution {
        Outcome::Passed { tests } if *tests > 0 => Ok(()),
        Outcome::Passed { .. } => bail!("the solution of `{id}` ran no tests"),
        Outcome::Failed { failures } => bail!(
            "the reference solution of `{id}` fails: {}",
            failures
                .iter()
                .map(|(n, m)| format!("{n}: {m}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Outcome::DidNotBuild { errors } => {
            bail!("the solution of `{id}` does not compile:\n{errors}")
        }
    }
}

/// Proves every starter fails and every reference solution passes.
pub fn verify(root: &Path) -> Result<usize> {
    let all = all(root)?;
    let mut checked = 0;
    let mut errors = Vec::new();
    for lx in &all {
        if lx.exercises.is_empty() {
            errors.push(format!("{} declares no exercises", lx.package));
        }
        for ex in &lx.exercises {
            let starter_path = lx.dir.join(&ex.starter);
            let solution_path = lx.dir.join(&ex.solution);
            let starter_text = std::fs::read_to_string(&starter_path)
                .with_context(|| format!("{} is missing", starter_path.display()))?;
            let solution_text = std::fs::read_to_string(&solution_path)
                .with_context(|| format!("{} is missing", solution_path.display()))?;
            if starter_text == solution_text {
                errors.push(format!("{}: the starter is the solution", ex.id));
                continue;
            }
            if !solution_text.contains("ANCHOR: solution") {
                errors.push(format!(
                    "{}: {} has no `// ANCHOR: solution` region for the chapter",
                    ex.id,
                    solution_path.display()
                ));
            }
            sh::step(&format!(
                "exercise {}/{}: starter must fail, solution must pass",
                lx.lab, ex.id
            ));
            let s = run_tests(root, lx, ex, false, true)?;
            let r = run_tests(root, lx, ex, true, true)?;
            match judge(&ex.id, &s, &r) {
                Ok(()) => {
                    sh::say(&format!("ok: starter fails, solution passes ({})", ex.id));
                    checked += 1;
                }
                Err(e) => errors.push(format!("{}/{}: {e}", lx.lab, ex.id)),
            }
        }
    }
    if !errors.is_empty() {
        bail!("exercise verification failed:\n  {}", errors.join("\n  "));
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASS: &str = "running 2 tests\ntest a ... ok\ntest b ... ok\n\ntest result: ok. 2 passed; 0 failed; 0 ignored\n";
    const FAIL: &str = "running 2 tests\ntest a ... FAILED\ntest b ... ok\n\nfailures:\n\n---- a stdout ----\n\nthread 'a' panicked at tests/x.rs:3:5:\nexpected shard 3, got 0\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n\nfailures:\n    a\n\ntest result: FAILED. 1 passed; 1 failed; 0 ignored\n";

    #[test]
    fn classifies_cargo_test_output() {
        assert_eq!(classify(true, PASS, ""), Outcome::Passed { tests: 2 });
        match classify(false, FAIL, "") {
            Outcome::Failed { failures } => {
                assert_eq!(failures.len(), 1);
                assert_eq!(failures[0].0, "a");
                assert!(failures[0].1.contains("expected shard 3, got 0"));
                assert!(!failures[0].1.contains("RUST_BACKTRACE"));
            }
            other => panic!("{other:?}"),
        }
        let build = classify(
            false,
            "",
            "error[E0308]: mismatched types\n  --> src/a.rs:1:1\n",
        );
        assert!(matches!(build, Outcome::DidNotBuild { ref errors } if errors.contains("E0308")));
    }

    #[test]
    fn judge_rejects_solved_starters_and_broken_solutions() {
        let failed = Outcome::Failed {
            failures: vec![("a".into(), "m".into())],
        };
        let passed = Outcome::Passed { tests: 3 };
        assert!(judge("x", &failed, &passed).is_ok());
        assert!(
            judge("x", &passed, &passed).is_err(),
            "a starter that passes must be rejected"
        );
        assert!(
            judge("x", &failed, &failed).is_err(),
            "a failing solution must be rejected"
        );
        assert!(judge("x", &Outcome::DidNotBuild { errors: "e".into() }, &passed).is_err());
        assert!(judge("x", &failed, &Outcome::Passed { tests: 0 }).is_err());
    }

    #[test]
    fn manifest_rejects_typos_and_bad_ids() {
        let ok = "[[exercise]]\nid = \"shard-index\"\ntitle = \"t\"\ntest = \"shard_index\"\nstarter = \"src/a.rs\"\nsolution = \"solutions/a.rs\"\n";
        assert_eq!(parse_manifest(ok).unwrap().len(), 1);
        assert!(parse_manifest(&ok.replace("hints", "x").replace("title", "titel")).is_err());
        assert!(parse_manifest(&ok.replace("shard-index", "Shard Index")).is_err());
    }
}
