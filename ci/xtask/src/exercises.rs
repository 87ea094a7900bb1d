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
//! summary = "What to build and why, for the chapter (`code` in backticks)."
//! uses = ["labs/lab-01/src/lib.rs: shard_index"]   # the API it builds on
//! hints = ["a nudge", "a method", "the shape of the answer"]
//! next = { command = "cargo …", why = "what it shows" }   # optional
//! timed = true   # optional: its tests are about time (see `verify`)
//! ```
//!
//! That file is the one source for both places a learner meets the
//! exercise: `cargo xtask exercise check` and the chapter, where
//! `{{#exercise LAB ID}}` renders the whole block ([`render_block`]).
//!
//! Hints come one at a time ([`hints_to_show`]): none while the starter is
//! untouched (its doc comment is the first help), then one more after each
//! failed check, and after the last a pointer to the solution in the book,
//! never the solution's lines ([`hint_leaks`] rejects a hint that quotes
//! one).

use std::path::{Path, PathBuf};
use std::process::Command;

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
    /// The statement in the chapter: what to build and why.
    pub summary: String,
    /// What the exercise builds on: `path` or `path: items`, each a file of
    /// the repository the starter's doc comment also names.
    #[serde(default)]
    pub uses: Vec<String>,
    /// Graded hints, gentlest first.
    #[serde(default)]
    pub hints: Vec<String>,
    /// What to run after it passes, if anything fits.
    #[serde(default)]
    pub next: Option<Next>,
    /// Its tests are about time: `verify` also runs them under CPU hogs.
    #[serde(default)]
    pub timed: bool,
}

/// The follow-up an exercise suggests once it passes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Next {
    pub command: String,
    pub why: String,
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

/// One lab's exercises read straight from `labs/LAB/exercises/` (for the
/// preprocessor, which must not run cargo).
pub fn load_lab(root: &Path, lab: &str) -> Result<(PathBuf, Vec<Exercise>)> {
    let dir = root.join("labs").join(lab).join("exercises");
    let path = dir.join("exercises.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("{} is missing", path.display()))?;
    let list = parse_manifest(&text).with_context(|| format!("{} is malformed", path.display()))?;
    Ok((dir, list))
}

/// The part of a solution file between `// ANCHOR: solution` and
/// `// ANCHOR_END: solution`, other anchor lines dropped.
pub fn solution_region(text: &str) -> Option<String> {
    let start = text.find("// ANCHOR: solution")?;
    let body = &text[start..];
    let body = &body[body.find('\n')? + 1..];
    let end = body.find("// ANCHOR_END: solution")?;
    Some(
        body[..end]
            .lines()
            .filter(|l| !l.trim_start().starts_with("// ANCHOR"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Text for HTML, with `code` spans.
pub fn inline_html(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let mut out = String::with_capacity(escaped.len());
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{part}</code>"));
        } else {
            out.push_str(part);
        }
    }
    out
}

/// The chapter's block for one exercise, from `exercises.toml` and the
/// solution file: statement, what it builds on, how to check it, every
/// hint collapsed, the follow-up, and the solution collapsed.
pub fn render_block(
    lab: &str,
    dir: &Path,
    root: &Path,
    ex: &Exercise,
    repo_url: &str,
) -> Result<String> {
    let solution_path = dir.join(&ex.solution);
    let solution_text = std::fs::read_to_string(&solution_path)
        .with_context(|| format!("{} is missing", solution_path.display()))?;
    let solution = solution_region(&solution_text).with_context(|| {
        format!(
            "{} has no `// ANCHOR: solution` … `// ANCHOR_END: solution` region",
            solution_path.display()
        )
    })?;
    let rel = |p: &Path| {
        dir.join(p)
            .strip_prefix(root)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let mut s = format!(
        "<div class=\"ul-exercise\" id=\"exercise-{id}\">\n\
         <div class=\"ul-exercise-title\">Exercise: {title}</div>\n\
         <p>{summary}</p>\n",
        id = ex.id,
        title = inline_html(&ex.title),
        summary = inline_html(ex.summary.trim()),
    );
    if !ex.uses.is_empty() {
        let items: Vec<String> = ex
            .uses
            .iter()
            .map(|u| {
                let (file, what) = u.split_once(": ").unwrap_or((u.as_str(), ""));
                let link =
                    format!("<a href=\"{repo_url}/blob/main/{file}\"><code>{file}</code></a>");
                if what.is_empty() {
                    link
                } else {
                    let names: Vec<String> = what
                        .split(", ")
                        .map(|n| format!("<code>{}</code>", inline_html(n).replace('`', "")))
                        .collect();
                    format!("{link} ({})", names.join(", "))
                }
            })
            .collect();
        s.push_str(&format!(
            "<p class=\"ul-exercise-uses\">It builds on {}.</p>\n",
            items.join("; ")
        ));
    }
    s.push_str(&format!(
        "<p>Edit <code>{}</code>, then check it: <code>cargo xtask exercise check {lab} {}</code>. \
         Each failed check prints one more of these hints.</p>\n",
        rel(&ex.starter),
        ex.id
    ));
    for (i, h) in ex.hints.iter().enumerate() {
        s.push_str(&format!(
            "<details class=\"ul-hint\"><summary>Hint {}</summary>\n<p>{}</p>\n</details>\n",
            i + 1,
            inline_html(h)
        ));
    }
    if let Some(next) = &ex.next {
        s.push_str(&format!(
            "<p class=\"ul-exercise-next\">When it passes: {} <code>{}</code></p>\n",
            inline_html(&next.why),
            inline_html(&next.command)
        ));
    }
    s.push_str(&format!(
        "<details class=\"ul-solution\"><summary>Solution</summary>\n\n\
         ```rust,ignore\n{solution}\n```\n\n</details>\n</div>\n"
    ));
    Ok(s)
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
    // A learner's RUST_BACKTRACE=1 would bury each message under a
    // backtrace of the test harness.
    cmd.env("RUST_BACKTRACE", "0");
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

/// Where a learner's hint level is kept between checks.
fn hint_state(root: &Path, lab: &str, id: &str) -> PathBuf {
    root.join("target")
        .join("exercise-hints")
        .join(format!("{lab}-{id}"))
}

/// True unless the starter is exactly as shipped: as on the branch the
/// clone tracks (`@{upstream}`, so a learner who commits an attempt still
/// counts as having touched it), or as in `HEAD` when nothing is tracked.
/// Without git every starter counts as touched, so hints still come.
pub fn starter_touched(root: &Path, starter: &Path) -> bool {
    let rel = starter.strip_prefix(root).unwrap_or(starter);
    let shipped = |rev: &str| {
        Command::new("git")
            .current_dir(root)
            .args(["show", &format!("{rev}:{}", rel.display())])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| o.stdout)
    };
    match (
        shipped("@{upstream}").or_else(|| shipped("HEAD")),
        std::fs::read(starter),
    ) {
        (Some(shipped), Ok(now)) => shipped != now,
        _ => true,
    }
}

/// How many hints to show after a failed check, and the level to remember:
/// `asked` (`--hint N`) shows exactly N; otherwise an untouched starter
/// gets none and each failed check one more than the last, up to all.
pub fn hints_to_show(
    asked: Option<usize>,
    touched: bool,
    shown_before: usize,
    total: usize,
) -> usize {
    match asked {
        Some(n) => n.min(total),
        None if !touched => 0,
        None => (shown_before + 1).min(total),
    }
}

/// After a failed check: how many hints to show now, and the level
/// remembered in `state` for the next check (never lowered: `--hint 1`
/// after three hints shows one, and the next check still shows all).
pub fn advance_hints(
    state: &Path,
    asked: Option<usize>,
    touched: bool,
    total: usize,
) -> Result<(usize, usize)> {
    let before = std::fs::read_to_string(state)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    let n = hints_to_show(asked, touched, before, total);
    if n > before {
        if let Some(dir) = state.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(state, n.to_string())?;
    }
    Ok((n, n.max(before)))
}

/// The book page (relative to `src/`, as built: `.html`) whose chapter
/// renders this exercise, if one does.
fn chapter_of(root: &Path, lab: &str, id: &str) -> Option<String> {
    let directive = directive(lab, id);
    crate::prose::pages(root)
        .ok()?
        .into_iter()
        .find(|(_, text)| text.contains(&directive))
        .map(|(page, _)| {
            page.trim_start_matches("src/")
                .trim_end_matches(".md")
                .to_owned()
                + ".html"
        })
}

/// The directive a chapter writes to render an exercise.
pub fn directive(lab: &str, id: &str) -> String {
    format!("{{{{#exercise {lab} {id}}}}}")
}

/// Checks a learner's answer and explains the result.
pub fn check(root: &Path, lab: &str, id: &str, asked: Option<usize>) -> Result<()> {
    let all = all(root)?;
    let (lx, ex) = find(&all, lab, id)?;
    let starter = lx.dir.join(&ex.starter);
    let shown_path = starter.strip_prefix(root).unwrap_or(&starter).to_owned();
    sh::step(&format!(
        "checking {lab} / {id}: {} ({})",
        ex.title,
        shown_path.display()
    ));
    let state = hint_state(root, lab, id);
    match run_tests(root, lx, ex, false, false)? {
        Outcome::Passed { tests } => {
            let _ = std::fs::remove_file(&state);
            println!("\nPASS: all {tests} tests of `{id}` pass. Well done.");
            if let Some(next) = &ex.next {
                println!("Next: {}\n  {}", next.why, next.command);
            }
            Ok(())
        }
        Outcome::Failed { failures } => {
            println!("\nNOT YET: {} test(s) of `{id}` fail.", failures.len());
            let mut first_line = String::new();
            let mut same = Vec::new();
            for (i, (name, msg)) in failures.iter().enumerate() {
                let (message, rest) = first_message(msg);
                let line = message.lines().next().unwrap_or("").to_owned();
                if i == 0 {
                    println!("\nFirst: {name}\n{}", indent(&message, 4));
                    if !rest.is_empty() {
                        println!("  (the test printed:)\n{}", indent(&rest, 4));
                    }
                    first_line = line;
                } else if line == first_line {
                    same.push(name.as_str());
                } else {
                    println!("Also: {name}: {line}");
                }
            }
            if !same.is_empty() {
                println!("Also, with the same message: {}", same.join(", "));
            }
            let touched = starter_touched(root, &starter);
            let (n, level) = advance_hints(&state, asked, touched, ex.hints.len())?;
            print!(
                "{}",
                hint_text(
                    ex,
                    n,
                    level,
                    touched,
                    &shown_path,
                    chapter_of(root, lab, id)
                )
            );
            bail!("exercise {lab}/{id} is not solved yet")
        }
        Outcome::DidNotBuild { errors } => {
            println!("\nYour code does not compile yet:\n{}", indent(&errors, 4));
            // Compiler errors are the compiler's to explain; hints only
            // when asked for, and without spending a level.
            if let Some(n) = asked {
                let n = n.min(ex.hints.len());
                print!(
                    "{}",
                    hint_text(ex, n, n, true, &shown_path, chapter_of(root, lab, id))
                );
            }
            bail!("exercise {lab}/{id} does not compile")
        }
    }
}

/// What follows a failed check: the hints shown so far and how to get the
/// next, or why there is none yet.
pub fn hint_text(
    ex: &Exercise,
    n: usize,
    level: usize,
    touched: bool,
    starter: &Path,
    chapter: Option<String>,
) -> String {
    let total = ex.hints.len();
    let mut s = String::new();
    if n == 0 {
        if !touched {
            s.push_str(&format!(
                "\nYou have not changed {} yet: its doc comment says what to write and which \
                 parts of the lab to use. Check again after a first attempt for a hint.\n",
                starter.display()
            ));
        }
        return s;
    }
    s.push('\n');
    for (i, h) in ex.hints.iter().take(n).enumerate() {
        s.push_str(&format!("Hint {} of {total}: {h}\n", i + 1));
    }
    if level < total {
        s.push_str(&format!(
            "(The next failed check shows hint {} of {total}; `--hint {total}` shows them all.)\n",
            level + 1
        ));
    } else if n < total {
        s.push_str(&format!(
            "(You have seen all {total} hints before: the next failed check shows them all again.)\n"
        ));
    } else {
        let place = chapter.map_or_else(
            || "the lab's chapter".to_owned(),
            |page| format!("the book, {page}#exercise-{}", ex.id),
        );
        s.push_str(&format!(
            "That was the last hint. The reference solution is in {place}, under \"Solution\".\n"
        ));
    }
    s
}

/// A failed test's panic message first, and whatever else it printed.
pub fn first_message(failure: &str) -> (String, String) {
    let lines: Vec<&str> = failure.lines().collect();
    let Some(at) = lines.iter().position(|l| l.contains("panicked at")) else {
        return (failure.trim().to_owned(), String::new());
    };
    let mut message = Vec::new();
    for l in &lines[at + 1..] {
        if l.trim().is_empty() || l.starts_with("note: ") || l.starts_with("stack backtrace") {
            break;
        }
        message.push(*l);
    }
    let location = lines[at]
        .split("panicked at ")
        .nth(1)
        .unwrap_or("")
        .trim_end_matches(':');
    let mut text = message.join("\n");
    if !location.is_empty() {
        text.push_str(&format!("\n(at {location})"));
    }
    let printed: Vec<&str> = lines[..at]
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty())
        .collect();
    (text, printed.join("\n"))
}

/// Hints that quote a line of the reference solution: a hint may name an
/// API or a method, but never hand over the answer's code.
pub fn hint_leaks(ex: &Exercise, solution: &str) -> Vec<String> {
    let normal = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .trim_end_matches([';', ',', '{'])
            .to_owned()
    };
    let lines: Vec<String> = solution
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && !l.starts_with('#'))
        .map(normal)
        // Short lines (`}`, `Ok(())`, `None => 0`) are vocabulary, not an
        // answer.
        .filter(|l| l.len() >= 24)
        .collect();
    let mut out = Vec::new();
    for (i, h) in ex.hints.iter().enumerate() {
        let hint = normal(h);
        if let Some(l) = lines.iter().find(|l| hint.contains(l.as_str())) {
            out.push(format!(
                "{}: hint {} quotes a line of the solution ({l})",
                ex.id,
                i + 1
            ));
        }
    }
    out
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

/// How many runs of a timed exercise's tests `verify` makes under CPU hogs.
pub const UNDER_HOGS: usize = 10;

/// A timed exercise's tests must judge the code, not the machine: with a
/// busy loop on every core, the starter fails and the solution passes,
/// [`UNDER_HOGS`] runs each.
fn under_hogs(root: &Path, lx: &LabExercises, ex: &Exercise) -> Result<()> {
    // Build both first, so the runs below measure only the tests.
    run_tests(root, lx, ex, false, true)?;
    run_tests(root, lx, ex, true, true)?;
    let mut hogs = Hogs::on_every_allowed_cpu()?;
    let mut bad = Vec::new();
    for run in 1..=UNDER_HOGS {
        let s = run_tests(root, lx, ex, false, true)?;
        let r = run_tests(root, lx, ex, true, true)?;
        if let Err(e) = judge(&ex.id, &s, &r) {
            bad.push(format!("run {run}: {e}"));
        }
        // A hog that died would make the rest a quiet run that says "busy".
        hogs.check_alive()?;
    }
    if !bad.is_empty() {
        bail!(
            "with every core busy, {} of {UNDER_HOGS} runs judged wrongly: the tests depend on a quiet machine\n  {}",
            bad.len(),
            bad.join("\n  ")
        );
    }
    Ok(())
}

/// One busy loop per CPU this process may run on (`Cpus_allowed_list`),
/// each pinned there with `taskset`; killed on drop.
struct Hogs(Vec<(String, std::process::Child)>);

impl Hogs {
    fn on_every_allowed_cpu() -> Result<Self> {
        let status = std::fs::read_to_string("/proc/self/status")?;
        let list = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .context("no Cpus_allowed_list in /proc/self/status")?
            .trim()
            .to_owned();
        let mut hogs = Self(Vec::new());
        for cpu in cpu_list(&list)? {
            let child = Command::new("taskset")
                .args(["-c", &cpu.to_string(), "sh", "-c", "while :; do :; done"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .context("starting a CPU hog (taskset, sh)")?;
            hogs.0.push((cpu.to_string(), child));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        hogs.check_alive()?;
        Ok(hogs)
    }

    fn check_alive(&mut self) -> Result<()> {
        for (cpu, child) in &mut self.0 {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the CPU hog on CPU {cpu} exited ({status}): the run would not be under load"
                );
            }
        }
        Ok(())
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A kernel CPU list (`0-3,6,8-9`) as CPU numbers.
pub fn cpu_list(list: &str) -> Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (a.trim().parse()?, b.trim().parse()?);
        cpus.extend(a..=b);
    }
    if cpus.is_empty() {
        bail!("an empty CPU list {list:?}");
    }
    Ok(cpus)
}

/// What `exercises.toml` promises about one exercise that its files must
/// keep: a statement, graded hints that do not quote the solution, and a
/// starter that names every file it builds on.
pub fn manifest_problems(root: &Path, ex: &Exercise, starter: &str, solution: &str) -> Vec<String> {
    let mut p = Vec::new();
    if ex.summary.trim().is_empty() {
        p.push(format!("{}: no summary (the chapter's statement)", ex.id));
    }
    if ex.hints.len() < 2 {
        p.push(format!(
            "{}: {} hint(s); a learner needs a graded sequence (at least 2)",
            ex.id,
            ex.hints.len()
        ));
    }
    p.extend(hint_leaks(ex, solution));
    for u in &ex.uses {
        let file = u.split_once(": ").map_or(u.as_str(), |(f, _)| f);
        if !root.join(file).is_file() {
            p.push(format!("{}: uses {file}, which does not exist", ex.id));
        }
        let name = Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !starter.contains(&name) {
            p.push(format!(
                "{}: the starter's doc comment does not name {file}, which the exercise uses",
                ex.id
            ));
        }
    }
    p
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
            if solution_region(&solution_text).is_none() {
                errors.push(format!(
                    "{}: {} has no `// ANCHOR: solution` region for the chapter",
                    ex.id,
                    solution_path.display()
                ));
            }
            errors.extend(manifest_problems(root, ex, &starter_text, &solution_text));
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
            if ex.timed {
                sh::step(&format!(
                    "exercise {}/{}: the same, {UNDER_HOGS} times each, with a CPU hog on every core",
                    lx.lab, ex.id
                ));
                match under_hogs(root, lx, ex) {
                    Ok(()) => sh::say(&format!(
                        "ok: under load too, the starter failed and the solution passed {UNDER_HOGS} of {UNDER_HOGS} runs ({})",
                        ex.id
                    )),
                    Err(e) => errors.push(format!("{}/{}: {e:#}", lx.lab, ex.id)),
                }
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

    fn exercise(hints: &[&str]) -> Exercise {
        Exercise {
            id: "pacing".into(),
            title: "Pace".into(),
            test: "pacing".into(),
            starter: "src/pacing.rs".into(),
            solution: "solutions/pacing.rs".into(),
            summary: "Send on `time`.".into(),
            uses: vec!["labs/lab-03/exercises/src/clock.rs: Clock::now, Clock::sleep".into()],
            hints: hints.iter().map(|h| h.to_string()).collect(),
            next: None,
            timed: true,
        }
    }

    #[test]
    fn hints_come_one_per_failed_check_and_none_on_an_untouched_starter() {
        let dir = kit::testutil::TempDir::new("xtask-hints").unwrap();
        let state = dir.path().join("hints/lab-03-pacing");
        // Untouched starter: no hint, however often it is checked.
        assert_eq!(advance_hints(&state, None, false, 3).unwrap(), (0, 0));
        assert_eq!(advance_hints(&state, None, false, 3).unwrap(), (0, 0));
        // Then one more per failed check, up to all, and no further.
        let seen: Vec<usize> = (0..5)
            .map(|_| advance_hints(&state, None, true, 3).unwrap().0)
            .collect();
        assert_eq!(seen, [1, 2, 3, 3, 3]);
        // `--hint N` shows exactly N, and never forgets what was shown.
        assert_eq!(advance_hints(&state, Some(1), true, 3).unwrap(), (1, 3));
        assert_eq!(advance_hints(&state, None, true, 3).unwrap(), (3, 3));
        let fresh = dir.path().join("hints/other");
        assert_eq!(advance_hints(&fresh, Some(2), false, 3).unwrap(), (2, 2));
        assert_eq!(advance_hints(&fresh, Some(9), false, 3).unwrap(), (3, 3));
    }

    #[test]
    fn the_hint_text_shows_what_was_reached_and_ends_at_the_book() {
        let ex = exercise(&["first nudge", "second method", "third shape"]);
        let starter = Path::new("labs/lab-03/exercises/src/pacing.rs");
        let none = hint_text(&ex, 0, 0, false, starter, None);
        assert!(
            none.contains("not changed") && !none.contains("Hint"),
            "{none}"
        );
        let one = hint_text(&ex, 1, 1, true, starter, None);
        assert!(one.contains("Hint 1 of 3: first nudge"), "{one}");
        assert!(
            !one.contains("second method") && one.contains("hint 2 of 3"),
            "{one}"
        );
        let asked_fewer = hint_text(&ex, 1, 3, true, starter, None);
        assert!(
            asked_fewer.contains("seen all 3") && !asked_fewer.contains("hint 2 of 3"),
            "{asked_fewer}"
        );
        let all = hint_text(
            &ex,
            3,
            3,
            true,
            starter,
            Some("part-3/load-testing.html".into()),
        );
        assert!(all.contains("Hint 3 of 3: third shape"), "{all}");
        assert!(
            all.contains("part-3/load-testing.html#exercise-pacing") && all.contains("Solution"),
            "{all}"
        );
    }

    #[test]
    fn cpu_lists_read_like_the_kernel_writes_them() {
        assert_eq!(cpu_list("0-1").unwrap(), [0, 1]);
        assert_eq!(cpu_list("2,4-6\n").unwrap(), [2, 4, 5, 6]);
        assert!(cpu_list("").is_err() && cpu_list("a-b").is_err());
    }

    #[test]
    fn a_hint_that_quotes_the_solution_is_caught() {
        let solution = "impl P {\n    fn wait(&mut self) -> u64 {\n        self.clock.sleep(next.saturating_sub(elapsed));\n        1\n    }\n}\n";
        let clean =
            exercise(&["Sleep until the next request is due, never from the last wake-up."]);
        assert!(hint_leaks(&clean, solution).is_empty());
        let leaky =
            exercise(&["Then `self.clock.sleep(next.saturating_sub( elapsed ))` and loop."]);
        let found = hint_leaks(&leaky, solution);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("hint 1"), "{found:?}");
    }

    #[test]
    fn no_hint_in_the_repository_quotes_its_solution() {
        let root = crate::project::root();
        let mut checked = 0;
        for lab in ["lab-01", "lab-02", "lab-03", "lab-04"] {
            let (dir, list) = load_lab(&root, lab).unwrap();
            for ex in &list {
                let solution = std::fs::read_to_string(dir.join(&ex.solution)).unwrap();
                assert!(ex.hints.len() >= 2, "{lab}/{}: graded hints", ex.id);
                assert_eq!(hint_leaks(ex, &solution), Vec::<String>::new());
                checked += 1;
            }
        }
        assert!(checked >= 12, "{checked} exercises");
    }

    #[test]
    fn the_first_failure_leads_with_its_message() {
        let failure = "rate 1000/s: 3 requests\n\nthread 'a' panicked at tests/pacing.rs:9:5:\nthe schedule drifted\nby 3\nnote: run with `RUST_BACKTRACE=1`";
        let (message, printed) = first_message(failure);
        assert_eq!(
            message,
            "the schedule drifted\nby 3\n(at tests/pacing.rs:9:5)"
        );
        assert_eq!(printed, "rate 1000/s: 3 requests");
    }

    #[test]
    fn a_block_renders_every_part_from_one_source() {
        let root = crate::project::root();
        let (dir, list) = load_lab(&root, "lab-03").unwrap();
        let ex = list.iter().find(|e| e.id == "pacing").unwrap();
        let html = render_block("lab-03", &dir, &root, ex, "https://example.org/r").unwrap();
        assert!(html.starts_with("<div class=\"ul-exercise\" id=\"exercise-pacing\">"));
        for (i, h) in ex.hints.iter().enumerate() {
            assert!(html.contains(&format!("<summary>Hint {}</summary>", i + 1)));
            assert!(html.contains(&inline_html(h)), "hint {} missing", i + 1);
        }
        assert!(
            html.contains("https://example.org/r/blob/main/labs/lab-03/exercises/src/clock.rs")
        );
        assert!(html.contains("cargo xtask exercise check lab-03 pacing"));
        assert!(html.contains("impl<C: Clock> Pacer<C>") && !html.contains("ANCHOR"));
        assert_eq!(
            inline_html("a `<b>` & c"),
            "a <code>&lt;b&gt;</code> &amp; c"
        );
    }

    #[test]
    fn manifest_rejects_typos_and_bad_ids() {
        let ok = "[[exercise]]\nid = \"shard-index\"\ntitle = \"t\"\ntest = \"shard_index\"\nstarter = \"src/a.rs\"\nsolution = \"solutions/a.rs\"\nsummary = \"s\"\n";
        assert_eq!(parse_manifest(ok).unwrap().len(), 1);
        assert!(parse_manifest(&ok.replace("hints", "x").replace("title", "titel")).is_err());
        assert!(parse_manifest(&ok.replace("shard-index", "Shard Index")).is_err());
    }
}
