//! The results pipeline.
//!
//! Every package that declares `results = "NAME"` in
//! `[package.metadata.underload]` has a `measure` command:
//!
//! ```text
//! cargo run --release -p PACKAGE [--bin BIN] -- measure [--quick] --out FILE.json
//! ```
//!
//! which writes one `report::Report`. This module runs each of them, stamps
//! the report with its provenance (command, machine, toolchain, commit,
//! date) and renders it into `src/results/NAME/`: `ARTIFACT.md` for tables,
//! `ARTIFACT.svg` for plots, `report.json` for machines. Chapters include
//! those files; nobody types a number into a page.
//!
//! `--quick` runs the same pipeline with tiny durations into
//! `target/results-quick/`, and checks that it produces exactly the files
//! that are committed, so the pipeline cannot rot without the test suite
//! noticing. Quick numbers are never committed.
//!
//! The pipeline builds each package (`cargo build --release --bins -p
//! PACKAGE`) and runs the built binary itself, as `cargo run` would. A full
//! run builds a package just before measuring it, on a machine doing
//! nothing else. A quick run, whose numbers mean nothing, builds the next
//! packages in the background while the current one measures ([`Builds`]),
//! so the suite does not wait for compiling and measuring one after the
//! other.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use report::{Provenance, Report};

use crate::project::{self, Package};
use crate::sh;

/// A package that produces results.
#[derive(Debug, Clone)]
pub struct Producer {
    pub package: String,
    pub bin: Option<String>,
    pub name: String,
}

/// The built-in producer of command transcripts (see `transcripts`).
pub const TOOLING: &str = "tooling";

pub fn producers(root: &Path) -> Result<Vec<Producer>> {
    let builtin = Producer {
        package: "xtask".to_owned(),
        bin: None,
        name: TOOLING.to_owned(),
    };
    Ok(std::iter::once(builtin)
        .chain(
            project::packages(root)?
                .into_iter()
                .filter_map(|p: Package| {
                    Some(Producer {
                        name: p.meta.results.clone()?,
                        bin: p.meta.results_bin.clone(),
                        package: p.name,
                    })
                }),
        )
        .collect())
}

pub fn committed_dir(root: &Path, name: &str) -> PathBuf {
    root.join("src/results").join(name)
}

pub fn quick_dir(root: &Path, name: &str) -> PathBuf {
    root.join("target/results-quick").join(name)
}

/// Every binary of a package, in release: a lab's measurement may run a
/// sibling binary (lab-04's `heap`, which installs its own allocator).
pub fn build(root: &Path, package: &str) -> Result<()> {
    sh::run(sh::cargo(root).args(["build", "--quiet", "--release", "--bins", "-p", package]))
        .map(|_| ())
}

/// Cargo's target folder for this workspace.
pub fn target_dir(root: &Path) -> Result<PathBuf> {
    let out = sh::read(sh::cargo(root).args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ]))?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    v["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata gave no target_directory")
}

/// Release builds made in the background, in the order the producers
/// measure, so a quick run measures one package while the next compiles.
#[derive(Default)]
pub struct Builds {
    done: std::sync::Mutex<std::collections::BTreeMap<String, Result<(), String>>>,
    ready: std::sync::Condvar,
    stop: std::sync::atomic::AtomicBool,
}

impl Builds {
    /// Builds each package in turn until all are built or [`Builds::stop`].
    /// Whatever way it ends (a stop, a panic in cargo's wrapper), every
    /// package it did not build is marked so, and nobody waits forever.
    pub fn build_all(&self, root: &Path, packages: &[String]) {
        struct Unbuilt<'a>(&'a Builds, &'a [String]);
        impl Drop for Unbuilt<'_> {
            fn drop(&mut self) {
                let mut done = match self.0.done.lock() {
                    Ok(d) => d,
                    Err(poisoned) => poisoned.into_inner(),
                };
                for p in self.1 {
                    done.entry(p.clone()).or_insert_with(|| {
                        Err(format!("{p} was not built: the background build stopped"))
                    });
                }
                self.0.ready.notify_all();
            }
        }
        let _unbuilt = Unbuilt(self, packages);
        for p in packages {
            if self.stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let r = build(root, p).map_err(|e| format!("{e:#}"));
            if let Ok(mut done) = self.done.lock() {
                done.insert(p.clone(), r);
            }
            self.ready.notify_all();
        }
    }

    /// Waits for `package`'s build; its error if it failed.
    pub fn wait(&self, package: &str) -> Result<()> {
        let mut done = self
            .done
            .lock()
            .map_err(|_| anyhow::anyhow!("a build thread panicked"))?;
        loop {
            if let Some(r) = done.get(package) {
                return r.clone().map_err(|e| anyhow::anyhow!(e));
            }
            done = self
                .ready
                .wait(done)
                .map_err(|_| anyhow::anyhow!("a build thread panicked"))?;
        }
    }

    /// No more builds after the one under way.
    pub fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Runs one producer's `measure` command and reads its report.
pub fn measure(root: &Path, p: &Producer, quick: bool, builds: Option<&Builds>) -> Result<Report> {
    if p.name == TOOLING {
        return crate::transcripts::tooling_report(root, quick);
    }
    let out_json = root.join("target/results-raw").join(format!(
        "{}{}.json",
        p.name,
        if quick { "-quick" } else { "" }
    ));
    if let Some(dir) = out_json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match builds {
        Some(b) => b.wait(&p.package)?,
        None => build(root, &p.package)?,
    }
    // The binary `cargo run` would run, as it would run it.
    let exe = target_dir(root)?
        .join("release")
        .join(p.bin.as_deref().unwrap_or(&p.package));
    let package_dir = project::packages(root)?
        .into_iter()
        .find(|q| q.name == p.package)
        .map(|q| q.dir)
        .with_context(|| format!("no package {}", p.package))?;
    let mut cmd = std::process::Command::new(&exe);
    cmd.current_dir(root)
        .env("CARGO_MANIFEST_DIR", package_dir)
        .arg("measure");
    if quick {
        cmd.arg("--quick");
    }
    cmd.arg("--out").arg(&out_json);
    sh::run(&mut cmd)?;
    let text = std::fs::read_to_string(&out_json)
        .with_context(|| format!("{} did not write {}", p.package, out_json.display()))?;
    let report: Report = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid report", out_json.display()))?;
    if report.quick != quick {
        bail!(
            "{} wrote a report with quick={} but was asked for quick={quick}",
            p.package,
            report.quick
        );
    }
    Ok(report)
}

fn files_in(dir: &Path) -> Result<BTreeSet<String>> {
    let mut set = BTreeSet::new();
    if dir.exists() {
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            if e.file_type()?.is_file() {
                set.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    Ok(set)
}

/// Renders `report` into `dir`, removing files a previous run left there
/// that this report no longer produces (a stale table would otherwise stay
/// included in a chapter forever).
pub fn write(report: &Report, prov: &Provenance, dir: &Path) -> Result<Vec<PathBuf>> {
    let keep: BTreeSet<String> = report.file_names().into_iter().collect();
    for stale in files_in(dir)?.difference(&keep) {
        std::fs::remove_file(dir.join(stale))?;
    }
    Ok(report::render_report(report, prov, dir)?)
}

/// Compares what a quick run produced with what is committed.
pub fn compare_sets(quick: &BTreeSet<String>, committed: &BTreeSet<String>) -> Result<()> {
    let missing: Vec<_> = committed.difference(quick).cloned().collect();
    let extra: Vec<_> = quick.difference(committed).cloned().collect();
    if !missing.is_empty() {
        bail!(
            "the committed results include files the pipeline no longer produces: {} \
             (a chapter may include them); rerun `cargo xtask results`",
            missing.join(", ")
        );
    }
    if !extra.is_empty() {
        bail!(
            "the pipeline produces files that are not committed: {}; run `cargo xtask results` \
             and commit src/results/",
            extra.join(", ")
        );
    }
    Ok(())
}

/// The results pipeline. `only` restricts it to some producers by name;
/// `stale_only` to those whose committed results are stale.
pub fn run(root: &Path, quick: bool, only: &[String], stale_only: bool) -> Result<()> {
    let all = producers(root)?;
    let stale: Vec<String> = if stale_only {
        crate::freshness::stale(root)?
            .into_iter()
            .map(|s| s.name)
            .collect()
    } else {
        Vec::new()
    };
    if stale_only && stale.is_empty() {
        sh::say("no stale results: nothing to rerun");
        return Ok(());
    }
    let chosen: Vec<&Producer> = all
        .iter()
        .filter(|p| only.is_empty() || only.contains(&p.name) || only.contains(&p.package))
        .filter(|p| !stale_only || stale.contains(&p.name))
        .collect();
    if chosen.is_empty() {
        bail!(
            "no results producer matches {:?}; known: {}",
            only,
            all.iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let timings_path = timings_file(root, quick);
    let mut timings = read_timings(&timings_path);
    sh::say(&plan_text(
        &chosen,
        &timings,
        &read_timings(&timings_file(root, !quick)),
        quick,
    ));
    // A quick run builds ahead in the background; a full run builds each
    // package just before measuring it, so nothing else runs meanwhile.
    let packages: Vec<String> = chosen
        .iter()
        .filter(|p| p.name != TOOLING)
        .map(|p| p.package.clone())
        .collect();
    let background = Builds::default();
    std::thread::scope(|s| {
        if quick && packages.len() > 1 {
            s.spawn(|| background.build_all(root, &packages));
        }
        let builds = (quick && packages.len() > 1).then_some(&background);
        let r = measure_all(root, &chosen, quick, builds, &mut timings, &timings_path);
        background.stop();
        r
    })
}

/// Measures each chosen producer in turn and writes its files.
fn measure_all(
    root: &Path,
    chosen: &[&Producer],
    quick: bool,
    builds: Option<&Builds>,
    timings: &mut std::collections::BTreeMap<String, u64>,
    timings_path: &Path,
) -> Result<()> {
    let mut mismatches = Vec::new();
    for p in chosen.iter().copied() {
        let started = std::time::Instant::now();
        sh::step(&format!(
            "results: {} ({}){}",
            p.name,
            p.package,
            if quick { ", quick mode" } else { "" }
        ));
        // Digested before measuring: the code that ran is the code named.
        let sources = crate::freshness::current(root, p)?;
        let report = measure(root, p, quick, builds)?;
        let command = if quick {
            format!("cargo xtask results --quick --only {}", p.name)
        } else {
            format!("cargo xtask results --only {}", p.name)
        };
        let mut prov = Provenance::collect(&command);
        prov.sources = sources;
        let dir = if quick {
            quick_dir(root, &p.name)
        } else {
            committed_dir(root, &p.name)
        };
        let written = write(&report, &prov, &dir)?;
        sh::say(&format!(
            "wrote {} files into {}",
            written.len(),
            dir.display()
        ));
        timings.insert(p.name.clone(), started.elapsed().as_secs());
        if let Some(d) = timings_path.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(timings_path, serde_json::to_string_pretty(&timings)? + "\n")?;
        if quick {
            let produced: BTreeSet<String> = report.file_names().into_iter().collect();
            if let Err(e) = compare_sets(&produced, &files_in(&committed_dir(root, &p.name))?) {
                mismatches.push(format!("{}: {e}", p.name));
            }
        }
    }
    if !mismatches.is_empty() {
        bail!("{}", mismatches.join("\n"));
    }
    Ok(())
}

/// Where the pipeline keeps how long each producer took last time: beside
/// the committed results for full runs, under `target/` for quick ones (a
/// quick run must not touch tracked files).
pub fn timings_file(root: &Path, quick: bool) -> PathBuf {
    if quick {
        root.join("target/results-quick/timings.json")
    } else {
        root.join("src/results/timings.json")
    }
}

fn read_timings(path: &Path) -> std::collections::BTreeMap<String, u64> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// What a run is about to do, how long it took last time, and what it
/// rewrites: said before it starts, so nobody loses half an hour or a
/// tracked file by surprise.
pub fn plan_text(
    chosen: &[&Producer],
    last: &std::collections::BTreeMap<String, u64>,
    other_mode: &std::collections::BTreeMap<String, u64>,
    quick: bool,
) -> String {
    let minutes = |secs: u64| format!("~{} min", secs.div_ceil(60).max(1));
    let each: Vec<String> = chosen
        .iter()
        .map(|p| match last.get(&p.name) {
            Some(&secs) => format!("{} ({} last time)", p.name, minutes(secs)),
            None => format!("{} (not timed yet)", p.name),
        })
        .collect();
    let known: Vec<u64> = chosen
        .iter()
        .filter_map(|p| last.get(&p.name).copied())
        .collect();
    let total = if known.len() == chosen.len() {
        format!(", {} in all", minutes(known.iter().sum()))
    } else {
        String::new()
    };
    if quick {
        format!(
            "quick mode: {}{total}. It writes into target/results-quick/ and checks that \
             the committed results have the same files; src/results/ is not touched.",
            each.join(", ")
        )
    } else {
        let quick_total: Option<u64> = chosen
            .iter()
            .map(|p| other_mode.get(&p.name).copied())
            .sum();
        format!(
            "full run: {}{total}. It REWRITES src/results/ for these (tracked files: review \
             and commit them after), and measures best on a quiet machine. To try the \
             pipeline without touching them: `cargo xtask results --quick`{}.",
            each.join(", "),
            quick_total.map_or(String::new(), |q| format!(" ({} last time)", minutes(q)))
        )
    }
}

/// Committed results must come from full runs.
pub fn check_committed_are_full(root: &Path) -> Result<()> {
    for p in producers(root)? {
        let path = committed_dir(root, &p.name).join("report.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is missing: run `cargo xtask results --only {}`",
                path.display(),
                p.name
            )
        })?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        if v["report"]["quick"] != serde_json::Value::Bool(false) {
            bail!(
                "{} comes from a quick run; commit only full runs",
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_background_build_fails_the_wait_for_it() {
        let dir = std::env::temp_dir().join(format!("ul-builds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let b = Builds::default();
        std::thread::scope(|s| {
            s.spawn(|| b.build_all(&dir, &["no-such-package".to_owned()]));
            let e = b.wait("no-such-package").unwrap_err();
            assert!(format!("{e:#}").contains("failed"), "{e:#}");
        });
        // Stopped before it began: a wait for what it never built ends.
        let b = Builds::default();
        b.stop();
        b.build_all(&dir, &["never".to_owned()]);
        let e = b.wait("never").unwrap_err();
        assert!(format!("{e:#}").contains("was not built"), "{e:#}");
        std::fs::remove_dir_all(&dir).ok();
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_plan_says_how_long_and_what_it_rewrites() {
        let p = |n: &str| Producer {
            name: n.into(),
            package: n.into(),
            bin: None,
        };
        let (a, b) = (p("lab-03"), p("lab-04"));
        let last = [("lab-03".to_owned(), 590), ("lab-04".to_owned(), 330)].into();
        let quick = [("lab-03".to_owned(), 70)].into();
        let full = plan_text(&[&a, &b], &last, &quick, false);
        assert!(full.contains("lab-03 (~10 min last time)"), "{full}");
        assert!(full.contains("~16 min in all"), "{full}");
        assert!(
            full.contains("REWRITES src/results/") && full.contains("--quick"),
            "{full}"
        );
        let new = plan_text(&[&a, &p("lab-09")], &last, &quick, false);
        assert!(
            new.contains("lab-09 (not timed yet)") && !new.contains("in all"),
            "{new}"
        );
        let q = plan_text(&[&a], &quick, &last, true);
        assert!(q.contains("not touched") && q.contains("~2 min"), "{q}");
    }

    #[test]
    fn a_dropped_artifact_fails_the_quick_check() {
        let committed = set(&["a.md", "b.svg", "report.json"]);
        assert!(compare_sets(&committed, &committed).is_ok());
        let err = compare_sets(&set(&["a.md", "report.json"]), &committed).unwrap_err();
        assert!(err.to_string().contains("b.svg"), "{err}");
        let err =
            compare_sets(&set(&["a.md", "b.svg", "c.md", "report.json"]), &committed).unwrap_err();
        assert!(err.to_string().contains("c.md"), "{err}");
    }

    #[test]
    fn write_removes_stale_files() {
        let dir = std::env::temp_dir().join(format!("ul-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("old.md"), "stale").unwrap();
        let mut r = Report::new("lab-00", true);
        r.table(report::Table::new("new", "New", &["a"]));
        write(&r, &Provenance::collect("test"), &dir).unwrap();
        assert_eq!(files_in(&dir).unwrap(), set(&["new.md", "report.json"]));
        std::fs::remove_dir_all(&dir).ok();
    }
}
