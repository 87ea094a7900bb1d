//! `cargo xtask new-lab`: the short, safe path for a contributor.
//!
//! It creates a compiling lab crate in the shape every lab has (the
//! component in the library's modules, the harness in `measure`, a CLI
//! whose `measure` command uses the measurement kit, `ci/kit`), a README
//! that says what to read first, its exercises package with one working exercise (a starter
//! that fails, a solution that passes), and a chapter page from the
//! template with the lab card, an included code region, an included result
//! and the exercise statement, wired into `SUMMARY.md`. The templates live
//! in `ci/xtask/templates/`. The test suite scaffolds a lab into a scratch
//! workspace and proves all of that still holds (`self_test`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::{exercises, sh, structure};

#[derive(Debug, Clone)]
pub struct NewLab {
    /// Two digits: "02".
    pub number: String,
    /// The chapter file stem: "concurrency-models".
    pub slug: String,
    pub title: String,
    /// The folder under src/ for the part: "part-2".
    pub part: String,
}

const TEMPLATES: [(&str, &str); 12] = [
    (
        "labs/lab-{{NN}}/Cargo.toml",
        include_str!("../templates/lab/Cargo.toml"),
    ),
    (
        "labs/lab-{{NN}}/README.md",
        include_str!("../templates/lab/README.md"),
    ),
    (
        "labs/lab-{{NN}}/src/lib.rs",
        include_str!("../templates/lab/src/lib.rs"),
    ),
    (
        "labs/lab-{{NN}}/src/measure.rs",
        include_str!("../templates/lab/src/measure.rs"),
    ),
    (
        "labs/lab-{{NN}}/src/main.rs",
        include_str!("../templates/lab/src/main.rs"),
    ),
    (
        "labs/lab-{{NN}}/exercises/Cargo.toml",
        include_str!("../templates/lab/exercises/Cargo.toml"),
    ),
    (
        "labs/lab-{{NN}}/exercises/exercises.toml",
        include_str!("../templates/lab/exercises/exercises.toml"),
    ),
    (
        "labs/lab-{{NN}}/exercises/src/lib.rs",
        include_str!("../templates/lab/exercises/src/lib.rs"),
    ),
    (
        "labs/lab-{{NN}}/exercises/src/first_step.rs",
        include_str!("../templates/lab/exercises/src/first_step.rs"),
    ),
    (
        "labs/lab-{{NN}}/exercises/solutions/first_step.rs",
        include_str!("../templates/lab/exercises/solutions/first_step.rs"),
    ),
    (
        "labs/lab-{{NN}}/exercises/tests/first_step.rs",
        include_str!("../templates/lab/exercises/tests/first_step.rs"),
    ),
    ("src/{{CHAPTER}}", include_str!("../templates/chapter.md")),
];

impl NewLab {
    pub fn validate(&self) -> Result<()> {
        if self.number.len() != 2 || !self.number.chars().all(|c| c.is_ascii_digit()) {
            bail!(
                "the lab number must be two digits, like 02 (got {:?})",
                self.number
            );
        }
        let kebab = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if !kebab(&self.slug) {
            bail!(
                "the slug must be kebab-case, like concurrency-models (got {:?})",
                self.slug
            );
        }
        if !kebab(&self.part) {
            bail!(
                "the part folder must be kebab-case, like part-2 (got {:?})",
                self.part
            );
        }
        if self.title.trim().is_empty() || self.title.contains(['"', '\n', ']']) {
            bail!("the title must be one line without quotes or brackets");
        }
        Ok(())
    }

    pub fn chapter(&self) -> String {
        format!("{}/{}.md", self.part, self.slug)
    }

    fn fill(&self, s: &str) -> String {
        s.replace("{{NN}}", &self.number)
            .replace("{{TITLE}}", &self.title)
            .replace("{{CHAPTER}}", &self.chapter())
    }
}

/// Adds the chapter to SUMMARY.md, turning a matching draft entry
/// (`- [Title]()`) into a real one if there is one.
pub fn wire_summary(summary: &str, title: &str, chapter: &str) -> String {
    let draft = format!("[{title}]()");
    let entry = format!("[{title}]({chapter})");
    if summary.contains(&draft) {
        return summary.replacen(&draft, &entry, 1);
    }
    let mut s = summary.trim_end().to_owned();
    s.push_str(&format!("\n- {entry}\n"));
    s
}

/// Creates the lab in the repository at `root`; returns the files written.
pub fn create(root: &Path, lab: &NewLab) -> Result<Vec<PathBuf>> {
    lab.validate()?;
    let lab_dir = root.join("labs").join(format!("lab-{}", lab.number));
    if lab_dir.exists() {
        bail!(
            "{} already exists; lab numbers are stable, pick the next free one",
            lab_dir.display()
        );
    }
    let chapter = root.join("src").join(lab.chapter());
    if chapter.exists() {
        bail!("{} already exists", chapter.display());
    }
    let mut written = Vec::new();
    for (path, text) in TEMPLATES {
        let path = root.join(lab.fill(path));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, lab.fill(text))
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    let summary_path = root.join("src/SUMMARY.md");
    let summary = std::fs::read_to_string(&summary_path).context("cannot read src/SUMMARY.md")?;
    std::fs::write(
        &summary_path,
        wire_summary(&summary, &lab.title, &lab.chapter()),
    )?;
    Ok(written)
}

pub fn print_next_steps(lab: &NewLab) {
    let nn = &lab.number;
    println!("Created lab-{nn} and src/{}. Next:", lab.chapter());
    println!("  cargo run -p lab-{nn} -- run                      # the component");
    println!("  cargo xtask exercise check lab-{nn} first-step    # fails until solved");
    println!("  cargo xtask results --only lab-{nn}               # writes src/results/lab-{nn}/");
    println!("  cargo xtask test                                  # the whole suite");
    println!(
        "Then replace the placeholder component, chapter text and exercise with real ones (see CONTRIBUTING.md)."
    );
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}

/// The workspace crates a new lab builds on: the results format, the
/// measurement kit and the shared dependency features.
const LAB_BASE: [&str; 3] = ["ci/report", "ci/kit", "ci/unify"];

/// Scaffolds lab-99 into a scratch workspace beside the real one (holding
/// only [`LAB_BASE`] besides it) and proves it: its chapter has
/// a lab card and exercise statement and its includes into the lab
/// resolve; its module map names both groups and it keeps the lab
/// boundaries; it compiles, is formatted and lint-clean, passes its own
/// unit tests, its `measure --quick` writes a report with the table the
/// chapter includes, its starter fails and its solution passes.
pub fn self_test(root: &Path) -> Result<()> {
    let scratch = root.join("target/scaffold-check");
    let ws = scratch.join("ws");
    if ws.exists() {
        std::fs::remove_dir_all(&ws)?;
    }
    std::fs::create_dir_all(ws.join("src"))?;
    for dep in LAB_BASE {
        copy_dir(&root.join(dep), &ws.join(dep))?;
    }
    std::fs::copy(root.join("Cargo.lock"), ws.join("Cargo.lock"))?;
    std::fs::copy(root.join("clippy.toml"), ws.join("clippy.toml"))?;
    let mut manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml"))?)?;
    if let Some(toml::Value::Table(w)) = manifest.get_mut("workspace") {
        w.insert(
            "members".into(),
            toml::Value::Array(
                ["labs/lab-*", "labs/lab-*/exercises"]
                    .into_iter()
                    .chain(LAB_BASE)
                    .map(|s| toml::Value::String(s.into()))
                    .collect(),
            ),
        );
    }
    std::fs::write(ws.join("Cargo.toml"), toml::to_string(&manifest)?)?;
    std::fs::write(ws.join("src/SUMMARY.md"), "# Summary\n\n- [Scratch]()\n")?;

    let lab = NewLab {
        number: "99".into(),
        slug: "scratch".into(),
        title: "Scratch".into(),
        part: "part-99".into(),
    };
    create(&ws, &lab)?;
    let summary = std::fs::read_to_string(ws.join("src/SUMMARY.md"))?;
    if !summary.contains("[Scratch](part-99/scratch.md)") {
        bail!("SUMMARY.md was not wired: {summary}");
    }
    let chapter = std::fs::read_to_string(ws.join("src/part-99/scratch.md"))?;
    let problems = structure::chapter_problems("lab-99", "part-99/scratch.md", &chapter);
    if !problems.is_empty() {
        bail!("the template chapter is broken: {problems:?}");
    }
    if !chapter.contains(&crate::exercises::directive("lab-99", "first-step")) {
        bail!("the template chapter has no exercise statement");
    }
    // The directive renders: the manifest parses and the solution has its
    // anchor.
    let (ex_dir, list) = crate::exercises::load_lab(&ws, "lab-99")?;
    for ex in &list {
        crate::exercises::render_block("lab-99", &ex_dir, &ws, ex, "https://example.org/r")
            .with_context(|| format!("rendering the template exercise {}", ex.id))?;
    }
    let lab_dir = ws.join("labs/lab-99");
    for (path, anchor) in structure::includes(&chapter) {
        let Some(file) = path.strip_prefix("../../labs/lab-99/") else {
            continue;
        };
        let text = std::fs::read_to_string(lab_dir.join(file))
            .with_context(|| format!("the template chapter includes {path}, which is missing"))?;
        if let Some(a) = anchor
            && !structure::has_anchor(&text, &a)
        {
            bail!("the template chapter includes {path}:{a}, but that file has no `ANCHOR: {a}`");
        }
    }
    let lib = std::fs::read_to_string(lab_dir.join("src/lib.rs"))?;
    let mut problems = structure::module_map_problems("lab-99", &lib);
    problems.extend(structure::lab_boundary_problems(&ws)?);
    if !problems.is_empty() {
        bail!("the scaffolded lab breaks the structure rules: {problems:?}");
    }

    // The real workspace's target folder: the new lab resolves its
    // dependencies as every lab does (ci/unify), so it reuses their builds.
    let target = root.join("target");
    let cargo = |args: &[&str]| {
        let mut c = sh::cargo(&ws);
        c.env("CARGO_TARGET_DIR", &target).args(args);
        c
    };
    // Only the new packages: the kit and the results format are checked by
    // the suite's own steps.
    let new = ["-p", "lab-99", "-p", "lab-99-exercises"];
    sh::run(&mut cargo(&[&["fmt", "--check"][..], &new].concat()))?;
    sh::run(&mut cargo(&[
        "clippy",
        "--offline",
        "-p",
        "lab-99",
        "-p",
        "lab-99-exercises",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    sh::run(&mut cargo(&["test", "--offline", "-p", "lab-99"]))?;
    let out_json = scratch.join("measure.json");
    sh::run(
        cargo(&[
            "run",
            "--offline",
            "-q",
            "-p",
            "lab-99",
            "--",
            "measure",
            "--quick",
            "--out",
        ])
        .arg(&out_json),
    )?;
    let report: report::Report = serde_json::from_str(&std::fs::read_to_string(&out_json)?)
        .context("the scaffolded measure command wrote no valid report")?;
    if !report.file_names().iter().any(|f| f == "baseline.md") {
        bail!("the scaffolded report lacks the table its chapter includes");
    }
    let starter = sh::capture(&mut cargo(&[
        "test",
        "--offline",
        "-p",
        "lab-99-exercises",
        "--test",
        "first_step",
    ]))?;
    let solution = sh::capture(&mut cargo(&[
        "test",
        "--offline",
        "-p",
        "lab-99-exercises",
        "--features",
        "solution",
        "--test",
        "first_step",
    ]))?;
    let judge = |o: &std::process::Output| {
        exercises::classify(
            o.status.success(),
            &String::from_utf8_lossy(&o.stdout),
            &String::from_utf8_lossy(&o.stderr),
        )
    };
    exercises::judge("first-step", &judge(&starter), &judge(&solution))?;
    sh::say(
        "scaffolded lab-99 compiles, is formatted and lint-clean, measures, and its exercise fails then passes",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_become_entries() {
        let s = "# Summary\n\n- [Tooling](part-1/tooling.md)\n- [Concurrency models]()\n";
        let out = wire_summary(s, "Concurrency models", "part-2/models.md");
        assert!(out.contains("- [Concurrency models](part-2/models.md)\n"));
        assert!(!out.contains("[Concurrency models]()"));
        let out = wire_summary("# Summary\n", "New", "part-9/new.md");
        assert!(out.ends_with("- [New](part-9/new.md)\n"));
    }

    #[test]
    fn names_are_validated() {
        let ok = NewLab {
            number: "02".into(),
            slug: "models".into(),
            title: "Models".into(),
            part: "part-2".into(),
        };
        assert!(ok.validate().is_ok());
        assert!(
            NewLab {
                number: "2".into(),
                ..ok.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            NewLab {
                slug: "Models".into(),
                ..ok.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            NewLab {
                title: "a \"b\"".into(),
                ..ok
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn templates_are_filled_completely() {
        let lab = NewLab {
            number: "07".into(),
            slug: "viz".into(),
            title: "Seeing".into(),
            part: "part-7".into(),
        };
        for (path, text) in TEMPLATES {
            let filled = lab.fill(text);
            assert!(!lab.fill(path).contains("{{"), "{path}");
            // `{{#include` directives stay; placeholders must not.
            for marker in ["{{NN}}", "{{TITLE}}", "{{CHAPTER}}"] {
                assert!(!filled.contains(marker), "{path} still has {marker}");
            }
        }
    }

    fn filled(path_suffix: &str) -> String {
        let lab = NewLab {
            number: "07".into(),
            slug: "viz".into(),
            title: "Seeing".into(),
            part: "part-7".into(),
        };
        TEMPLATES
            .iter()
            .find(|(p, _)| p.ends_with(path_suffix))
            .map(|(_, t)| lab.fill(t))
            .unwrap_or_else(|| panic!("no template {path_suffix}"))
    }

    #[test]
    fn the_template_lab_has_the_new_shape() {
        let lib = filled("lab-{{NN}}/src/lib.rs");
        let problems = structure::module_map_problems("lab-07", &lib);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(lib.contains("pub mod measure;"));
        let manifest = filled("lab-{{NN}}/Cargo.toml");
        assert!(manifest.contains("kit.workspace = true"));
        assert!(manifest.contains("unify.workspace = true"));
        let main = filled("src/main.rs");
        assert!(main.contains("#[command(flatten)]") && main.contains("MeasureArgs"));
        assert!(main.contains("kit::output::finish(&report, &args.out, started)"));
        assert!(main.contains("kit::cli::init_tracing(\"warn\")"));
        let files: Vec<(String, String)> = TEMPLATES
            .iter()
            .map(|(p, t)| (p.replace("{{NN}}", "07"), t.replace("{{NN}}", "07")))
            .collect();
        let problems = structure::boundary_problems(&files);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn the_readme_starts_with_what_to_read_in_the_chapters_order() {
        let readme = filled("README.md");
        let sections: Vec<&str> = readme.lines().filter(|l| l.starts_with("## ")).collect();
        assert_eq!(sections.first(), Some(&"## Read first"), "{readme}");
        let order = [
            "src/lib.rs",
            "src/measure.rs",
            "exercises/solutions/first_step.rs",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|f| {
                readme
                    .find(&format!("]({f})"))
                    .unwrap_or_else(|| panic!("{f} not listed"))
            })
            .collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "not in reading order: {at:?}"
        );
        // And the chapter includes exactly those lab files, in that order.
        let chapter = filled("src/{{CHAPTER}}");
        let mut included: Vec<String> = structure::includes(&chapter)
            .into_iter()
            .filter_map(|(p, _)| p.strip_prefix("../../labs/lab-07/").map(str::to_owned))
            .collect();
        // The exercise block shows the solution, rendered from the manifest.
        if chapter.contains(&crate::exercises::directive("lab-07", "first-step")) {
            included.push("exercises/solutions/first_step.rs".to_owned());
        }
        assert_eq!(included, order);
    }

    #[test]
    fn the_chapter_includes_anchors_the_templates_have() {
        let chapter = filled("src/{{CHAPTER}}");
        for (path, anchor) in structure::includes(&chapter) {
            let Some(file) = path.strip_prefix("../../labs/lab-07/") else {
                continue;
            };
            let text = filled(&format!("lab-{{{{NN}}}}/{file}"));
            if let Some(a) = anchor {
                assert!(structure::has_anchor(&text, &a), "{file} lacks ANCHOR: {a}");
            }
        }
    }
}
