//! The book's invariants, checked on every test run:
//!
//! - every lab names at least one chapter, each chapter exists, is listed in
//!   `SUMMARY.md`, and opens with a lab card for that lab;
//! - every lab has an exercises package with at least one exercise, and each
//!   exercise is rendered (`{{#exercise LAB ID}}`) in one of the lab's
//!   chapters, from an `exercises.toml` entry whose statement and hints
//!   type no measured number, whose hints quote no line of the solution,
//!   and whose starter names the files it builds on;
//! - every `{{#include …}}` in the book resolves, anchors included;
//! - committed results come from full runs;
//! - every crate root opens with a module map (`//!` docs), and a lab's map
//!   names both groups: the component, and how it is measured;
//! - lab boundaries: no file under `labs/lab-NN/` reaches into another
//!   lab's measuring code (`lab_MM::measure`, `lab_MM::cli`), and a lab's
//!   manifests depend only on earlier labs ([`boundary_problems`]);
//! - the labs and `benches` build their shared dependencies with the same
//!   features ([`crate::unify`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::exercises;
use crate::project::{self, is_lab_name};
use crate::results;

/// Problems found with one lab chapter's text.
pub fn chapter_problems(lab: &str, chapter: &str, text: &str) -> Vec<String> {
    let mut p = Vec::new();
    let card = text.find("class=\"ul-lab-card\"").map(|i| {
        &text[i..text[i..]
            .find("</div>\n</div>")
            .map_or(text.len(), |e| i + e)]
    });
    match card {
        None => p.push(format!(
            "{chapter}: no lab card (`<div class=\"ul-lab-card\" data-lab=\"{lab}\">`)"
        )),
        Some(card) => {
            if !text.contains(&format!("data-lab=\"{lab}\"")) {
                p.push(format!(
                    "{chapter}: the lab card does not name {lab} (data-lab=\"{lab}\")"
                ));
            }
            if !card.contains("class=\"ul-needs\"") {
                p.push(format!(
                    "{chapter}: the lab card does not say what must already be running \
                     (`<div class=\"ul-needs\">`, with the command, or \"Needs nothing else running\")"
                ));
            }
            if !card.contains(&format!("cargo run -p {lab}")) {
                p.push(format!(
                    "{chapter}: the lab card has no `cargo run -p {lab} …` command"
                ));
            }
        }
    }
    p
}

/// `{{#include path[:anchor]}}` directives in a page: (path, anchor).
pub fn includes(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{#") {
        let after = &rest[i + 3..];
        let Some(end) = after.find("}}") else { break };
        let body = after[..end].trim();
        for directive in ["include ", "rustdoc_include "] {
            if let Some(arg) = body.strip_prefix(directive) {
                let arg = arg.trim();
                let (path, anchor) = match arg.split_once(':') {
                    Some((p, a))
                        if !a.chars().next().is_some_and(|c| c.is_ascii_digit())
                            && !a.is_empty() =>
                    {
                        (p.to_owned(), Some(a.to_owned()))
                    }
                    Some((p, _)) => (p.to_owned(), None),
                    None => (arg.to_owned(), None),
                };
                out.push((path, anchor));
            }
        }
        rest = &after[end..];
    }
    out
}

/// Whether `text` has an `ANCHOR: anchor` marker.
pub fn has_anchor(text: &str, anchor: &str) -> bool {
    text.lines().any(|l| {
        l.split("ANCHOR:")
            .nth(1)
            .is_some_and(|a| a.trim() == anchor)
    })
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            markdown_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
    Ok(())
}

pub fn include_problems(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut pages = Vec::new();
    markdown_files(&root.join("src"), &mut pages)?;
    for page in pages {
        let text = std::fs::read_to_string(&page)?;
        let base = page.parent().unwrap_or(root);
        for (path, anchor) in includes(&text) {
            let target = base.join(&path);
            let shown = page
                .strip_prefix(root)
                .unwrap_or(&page)
                .display()
                .to_string();
            match std::fs::read_to_string(&target) {
                Err(_) => problems.push(format!("{shown}: includes {path}, which does not exist")),
                Ok(t) => {
                    if let Some(a) = anchor
                        && !has_anchor(&t, &a)
                    {
                        problems.push(format!(
                            "{shown}: includes {path}:{a}, but that file has no `ANCHOR: {a}`"
                        ));
                    }
                }
            }
        }
    }
    Ok(problems)
}

/// The words a lab's module map must contain, one per group, and what the
/// group is.
const MAP_GROUPS: [(&str, &str); 2] = [
    (
        "component",
        "the component (the modules that build what the chapter is about)",
    ),
    (
        "measured",
        "how it is measured (the harness in `measure`, the command line in `cli`)",
    ),
];

/// Problems with a lab's `src/lib.rs`: it must open with a module map (a
/// `//!` header) that lists its modules in two groups, the component and
/// how it is measured, so a reader knows what to read first and what other
/// labs may use.
pub fn module_map_problems(lab: &str, lib_rs: &str) -> Vec<String> {
    let header: Vec<String> = lib_rs
        .lines()
        .map(str::trim_start)
        .skip_while(|l| l.is_empty())
        .take_while(|l| l.starts_with("//!"))
        .map(str::to_lowercase)
        .collect();
    if header.is_empty() {
        return vec![format!(
            "{lab}: src/lib.rs does not open with a module map (//! docs)"
        )];
    }
    MAP_GROUPS
        .iter()
        .filter(|(word, _)| !header.iter().any(|l| l.contains(word)))
        .map(|(word, group)| {
            format!(
                "{lab}: the module map in src/lib.rs (its //! header) has no group for {group}; \
                 name it with the word \"{word}\", e.g. \"The component, …:\" and \"How it is measured:\""
            )
        })
        .collect()
}

/// The rule, said once for every boundary problem.
const BOUNDARY_RULE: &str = "a lab never uses another lab's measuring code: its harness (`measure`) \
     and command line (`cli`) are its own. Use the other lab's component, and put a helper both \
     need in the measurement kit, `ci/kit`, once";

/// The lab a file belongs to: `labs/lab-NN/…` gives NN. Files in a
/// `target` folder (build output, `fuzz/target`) belong to none.
fn owning_lab(path: &Path) -> Option<u32> {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.iter().any(|p| p == "target") {
        return None;
    }
    parts
        .windows(2)
        .find(|w| w[0] == "labs" && is_lab_name(&w[1]))
        .and_then(|w| w[1][4..].parse().ok())
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The source with comments blanked out, line breaks kept: a line whose
/// code starts with `//` (also `///` and `//!` docs) is dropped, and a
/// trailing `// …` is cut.
fn without_line_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path into another crate's `measure` or `cli` module written as
/// `lab_MM::…` in Rust source: `use lab_MM::measure::x`, an inline
/// `lab_MM::cli::main_with(…)`, and a grouped `use lab_MM::{a, measure::x}`
/// (also across lines). Returns (line, MM, the path as written).
pub fn harness_paths(text: &str) -> Vec<(usize, u32, String)> {
    let code = without_line_comments(text);
    let b = code.as_bytes();
    let line_at = |i: usize| 1 + b[..i].iter().filter(|&&c| c == b'\n').count();
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let ident_at = |i: usize| {
        let mut e = i;
        while e < b.len() && is_ident(b[e]) {
            e += 1;
        }
        &code[i..e]
    };
    let is_harness = |name: &str| name == "measure" || name == "cli";
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(k) = code[from..].find("lab_") {
        let start = from + k;
        from = start + 4;
        let digits = start + 4;
        if (start > 0 && is_ident(b[start - 1]))
            || digits + 2 > b.len()
            || !b[digits..digits + 2].iter().all(u8::is_ascii_digit)
            || b.get(digits + 2).is_some_and(|&c| is_ident(c))
        {
            continue;
        }
        let Ok(lab) = code[digits..digits + 2].parse::<u32>() else {
            continue;
        };
        let sep = skip_ws(digits + 2);
        if !code[sep..].starts_with("::") {
            continue;
        }
        let next = skip_ws(sep + 2);
        if b.get(next) == Some(&b'{') {
            // A group: look at the first segment of each top-level item.
            let mut depth = 1;
            let mut item = skip_ws(next + 1);
            let mut i = next + 1;
            while i < b.len() && depth > 0 {
                match b[i] {
                    b'{' => depth += 1,
                    b'}' | b',' if depth == 1 => {
                        if is_harness(ident_at(item)) {
                            let written: Vec<&str> = code[item..i].split_whitespace().collect();
                            out.push((
                                line_at(item),
                                lab,
                                format!("lab_{lab:02}::{}", written.join(" ")),
                            ));
                        }
                        if b[i] == b'}' {
                            depth = 0;
                        }
                        item = skip_ws(i + 1);
                    }
                    b'}' => depth -= 1,
                    _ => {}
                }
                i += 1;
            }
        } else if is_harness(ident_at(next)) {
            let mut e = next;
            while e < b.len() && (is_ident(b[e]) || b[e] == b':') {
                e += 1;
            }
            let written = code[next..e].trim_end_matches(':');
            out.push((line_at(next), lab, format!("lab_{lab:02}::{written}")));
        }
    }
    out
}

/// The labs a manifest depends on, by package name (a `package = "…"`
/// rename counts), from every dependency table (normal, dev, build, and
/// per target).
fn manifest_lab_deps(manifest: &toml::Table) -> Vec<(String, String)> {
    const KINDS: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];
    let mut tables: Vec<&toml::Table> = KINDS
        .iter()
        .filter_map(|k| manifest.get(*k).and_then(toml::Value::as_table))
        .collect();
    if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
        for t in targets.values().filter_map(toml::Value::as_table) {
            tables.extend(
                KINDS
                    .iter()
                    .filter_map(|k| t.get(*k).and_then(toml::Value::as_table)),
            );
        }
    }
    let mut out = Vec::new();
    for table in tables {
        for (key, spec) in table {
            let name = spec
                .get("package")
                .and_then(toml::Value::as_str)
                .unwrap_or(key);
            let base = name.strip_suffix("-exercises").unwrap_or(name);
            if is_lab_name(base) {
                out.push((key.clone(), name.to_owned()));
            }
        }
    }
    out
}

/// The line declaring dependency `key` in a manifest (1 if not found).
fn line_of_dependency(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.starts_with([' ', '=', '.']))
                || l.contains(&format!(".{key}]"))
        })
        .map_or(1, |i| i + 1)
}

fn manifest_problems(shown: &str, lab: u32, is_lab_root: bool, text: &str) -> Vec<String> {
    let manifest: toml::Table = match toml::from_str(text) {
        Ok(m) => m,
        Err(e) => return vec![format!("{shown}: cannot parse: {e}")],
    };
    // A lab may use earlier labs (and itself, e.g. a dev-dependency that
    // turns on a test-only feature); its exercises and fuzz crate also the
    // lab itself. Either way nothing newer than lab-NN.
    let newest = lab;
    let mut problems = Vec::new();
    for (key, name) in manifest_lab_deps(&manifest) {
        let line = line_of_dependency(text, &key);
        if name.ends_with("-exercises") {
            problems.push(format!(
                "{shown}:{line}: depends on {name}; an exercises crate is never a dependency \
                 (a lab depends only on earlier labs' components, `ci/kit` and `ci/report`)"
            ));
            continue;
        }
        let Ok(dep) = name[4..].parse::<u32>() else {
            continue;
        };
        if dep > newest {
            let allowed = if is_lab_root {
                format!("earlier labs (lab-MM with MM < {lab:02})")
            } else {
                format!("lab-{lab:02} and earlier labs")
            };
            problems.push(format!(
                "{shown}:{line}: depends on {name}, but this crate may depend only on {allowed}, \
                 `ci/kit` and `ci/report`: dependencies between labs run one way, from later to \
                 earlier. Move what both need into the earlier lab's component, or into `ci/kit` \
                 if it is about measuring"
            ));
        }
    }
    problems
}

/// Lab boundaries over files given as (path from the repository root,
/// text): Rust sources under `labs/lab-NN/` (src, tests, exercises,
/// benches, examples, fuzz) must not use another lab's `measure` or `cli`
/// module, and manifests under `labs/lab-NN/` must depend only on earlier
/// labs (exercises and fuzz crates: on lab-NN and earlier). Files outside
/// `labs/` (such as `benches/`, which may use any lab's harness) and build
/// output under `target/` are not checked.
pub fn boundary_problems<P: AsRef<Path>, T: AsRef<str>>(files: &[(P, T)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, text) in files {
        let (path, text) = (path.as_ref(), text.as_ref());
        let Some(lab) = owning_lab(path) else {
            continue;
        };
        let shown = path.display().to_string().replace('\\', "/");
        if path.extension().is_some_and(|e| e == "rs") {
            for (line, other, written) in harness_paths(text) {
                if other != lab {
                    problems.push(format!(
                        "{shown}:{line}: `{written}` uses lab-{other:02}'s measuring code from \
                         lab-{lab:02}; {BOUNDARY_RULE}"
                    ));
                }
            }
        } else if path.file_name().is_some_and(|n| n == "Cargo.toml") {
            let is_lab_root = path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d.to_string_lossy() == format!("lab-{lab:02}"));
            problems.extend(manifest_problems(&shown, lab, is_lab_root, text));
        }
    }
    problems
}

/// Every Rust source and manifest under `labs/`, as (path from `root`,
/// text), skipping build output (`target/`, `fuzz/target/`).
pub fn lab_files(root: &Path) -> Result<Vec<(PathBuf, String)>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let p = e.path();
            let name = e.file_name();
            if e.file_type()?.is_dir() {
                if name != "target" && !name.to_string_lossy().starts_with('.') {
                    walk(root, &p, out)?;
                }
            } else if p.extension().is_some_and(|x| x == "rs") || name == "Cargo.toml" {
                let text = std::fs::read_to_string(&p)?;
                out.push((p.strip_prefix(root).unwrap_or(&p).to_path_buf(), text));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, &root.join("labs"), &mut out)?;
    out.sort();
    Ok(out)
}

/// [`boundary_problems`] over the repository at `root`.
pub fn lab_boundary_problems(root: &Path) -> Result<Vec<String>> {
    Ok(boundary_problems(&lab_files(root)?))
}

pub fn check(root: &Path) -> Result<()> {
    let mut problems = Vec::new();
    let packages = project::packages(root)?;
    let summary: BTreeSet<String> = project::summary_pages(root)?.into_iter().collect();
    let all_ex = exercises::all(root)?;

    // One lab, one folder: everything under labs/ is a lab package.
    for e in std::fs::read_dir(root.join("labs"))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type()?.is_dir() && !packages.iter().any(|p| p.is_lab() && p.name == name) {
            problems.push(format!(
                "labs/{name} is not a workspace package named like its folder (lab-NN)"
            ));
        }
    }

    for lab in packages.iter().filter(|p| p.is_lab()) {
        if lab.meta.chapters.is_empty() {
            problems.push(format!(
                "{}: no chapters in [package.metadata.underload]",
                lab.name
            ));
        }
        if lab.meta.title.is_none() {
            problems.push(format!(
                "{}: no title in [package.metadata.underload]",
                lab.name
            ));
        }
        let mut chapter_text = String::new();
        for ch in &lab.meta.chapters {
            if !summary.contains(ch) {
                problems.push(format!(
                    "{}: chapter {ch} is not listed in src/SUMMARY.md",
                    lab.name
                ));
            }
            match std::fs::read_to_string(root.join("src").join(ch)) {
                Ok(t) => {
                    problems.extend(chapter_problems(&lab.name, ch, &t));
                    chapter_text.push_str(&t);
                }
                Err(_) => problems.push(format!("{}: chapter src/{ch} does not exist", lab.name)),
            }
        }
        match all_ex.iter().find(|x| x.lab == lab.name) {
            None => problems.push(format!(
                "{}: no exercises (expected a package {}-exercises in labs/{}/exercises)",
                lab.name, lab.name, lab.name
            )),
            Some(x) if x.exercises.is_empty() => {
                problems.push(format!("{}: exercises.toml lists no exercise", lab.name));
            }
            Some(x) => {
                for e in &x.exercises {
                    let directive = exercises::directive(&lab.name, &e.id);
                    if !chapter_text.contains(&directive) {
                        problems.push(format!(
                            "{}: exercise {} is not rendered ({directive}) in the lab's chapters",
                            lab.name, e.id
                        ));
                    }
                    let manifest = format!("labs/{}/exercises/exercises.toml ({})", lab.name, e.id);
                    problems.extend(crate::prose::number_problems(
                        &manifest,
                        &format!("{}\n\n{}", e.summary, e.hints.join("\n\n")),
                    ));
                    let read =
                        |p: &Path| std::fs::read_to_string(x.dir.join(p)).unwrap_or_default();
                    problems.extend(exercises::manifest_problems(
                        root,
                        e,
                        &read(&e.starter),
                        &read(&e.solution),
                    ));
                }
            }
        }
        if let Ok(t) = std::fs::read_to_string(lab.dir.join("src/lib.rs")) {
            problems.extend(module_map_problems(&lab.name, &t));
        }
    }

    problems.extend(lab_boundary_problems(root)?);
    problems.extend(crate::unify::problems(root)?);
    problems.extend(include_problems(root)?);

    // Prose true to the data and to the repository.
    let lab_names: Vec<String> = packages
        .iter()
        .filter(|p| p.is_lab())
        .map(|p| p.name.clone())
        .collect();
    let pages = crate::prose::pages(root)?;
    for (page, text) in &pages {
        if page.starts_with("src/") {
            problems.extend(crate::prose::number_problems(page, text));
        }
    }
    problems.extend(crate::prose::listing_problems(&lab_names, &pages));
    problems.extend(crate::preprocess::unresolved(
        root,
        &root.join("src/results"),
    )?);

    // Results no older than the code they describe.
    for s in crate::freshness::stale(root)? {
        problems.push(format!(
            "stale result: src/results/{} was measured at {} and its sources changed since \
             ({}); run `cargo xtask results --stale` and commit src/results/",
            s.name,
            s.commit,
            s.changed.join(", ")
        ));
    }
    if let Err(e) = results::check_committed_are_full(root) {
        problems.push(e.to_string());
    }
    if !problems.is_empty() {
        bail!(
            "the book's structure is broken:\n  - {}",
            problems.join("\n  - ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = "# Locks\n\n<div class=\"ul-lab-card\" data-lab=\"lab-01\">\n<div class=\"ul-needs\">Needs nothing else running.</div>\n<div class=\"ul-run\"><code>cargo run -p lab-01 --release -- bench</code></div>\n</div>\n\nText";

    #[test]
    fn lab_card_is_required_and_must_name_the_lab() {
        assert!(chapter_problems("lab-01", "a.md", CARD).is_empty());
        let none = chapter_problems("lab-01", "a.md", "# Locks\n\nNo card here.");
        assert_eq!(none.len(), 1, "{none:?}");
        assert!(none[0].contains("no lab card"));
        let wrong = chapter_problems("lab-02", "a.md", CARD);
        assert_eq!(wrong.len(), 2, "{wrong:?}");
        let silent = CARD.replace(
            "<div class=\"ul-needs\">Needs nothing else running.</div>\n",
            "",
        );
        let p = chapter_problems("lab-01", "a.md", &silent);
        assert!(
            p.len() == 1 && p[0].contains("must already be running"),
            "{p:?}"
        );
    }

    #[test]
    fn include_directives_are_parsed() {
        let t = "a {{#include ../../labs/lab-01/src/lib.rs:shard}} b {{#include ../results/lab-01/x.md}} {{#include f.rs:10:20}}";
        assert_eq!(
            includes(t),
            vec![
                (
                    "../../labs/lab-01/src/lib.rs".to_owned(),
                    Some("shard".to_owned())
                ),
                ("../results/lab-01/x.md".to_owned(), None),
                ("f.rs".to_owned(), None),
            ]
        );
    }

    #[test]
    fn anchors_are_found() {
        let t = "fn a() {}\n// ANCHOR: shard\nfn b() {}\n// ANCHOR_END: shard\n";
        assert!(has_anchor(t, "shard"));
        assert!(!has_anchor(t, "shar"));
    }

    fn problems(files: &[(&str, &str)]) -> Vec<String> {
        boundary_problems(files)
    }

    #[test]
    fn a_planted_import_of_another_labs_measure_fails_naming_it() {
        let p = problems(&[(
            "labs/lab-04/src/x.rs",
            "//! A module.\n\nuse lab_02::measure::procs::Process;\n",
        )]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("labs/lab-04/src/x.rs:3: "), "{}", p[0]);
        assert!(
            p[0].contains("`lab_02::measure::procs::Process`"),
            "{}",
            p[0]
        );
        assert!(
            p[0].contains("ci/kit"),
            "the message says where helpers go: {}",
            p[0]
        );
    }

    #[test]
    fn grouped_imports_are_caught_across_lines() {
        let src = "use lab_02::{\n    client::Client,\n    measure::{self, procs},\n};\nuse lab_01::{Cache, cli::main_with};\n";
        let p = problems(&[("labs/lab-03/tests/generator.rs", src)]);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("labs/lab-03/tests/generator.rs:3: "),
            "{}",
            p[0]
        );
        assert!(
            p[0].contains("`lab_02::measure::{self, procs}`"),
            "{}",
            p[0]
        );
        assert!(
            p[1].starts_with("labs/lab-03/tests/generator.rs:5: "),
            "{}",
            p[1]
        );
        assert!(p[1].contains("`lab_01::cli::main_with`"), "{}", p[1]);
        // A nested `measure` is some other module, not lab-02's harness.
        assert!(
            problems(&[(
                "labs/lab-03/src/a.rs",
                "use lab_02::{resp::{measure, cli}, db};"
            )])
            .is_empty()
        );
    }

    #[test]
    fn inline_paths_are_caught() {
        let src = "fn ms(v: f64) -> String {\n    lab_02::measure::stats::fmt_ms(v)\n}\nfn main() { ::lab_01 :: cli::main_with(vec![]).ok(); }\n";
        let p = problems(&[("labs/lab-03/exercises/benches/x.rs", src)]);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains("x.rs:2: `lab_02::measure::stats::fmt_ms`"),
            "{}",
            p[0]
        );
        assert!(
            p[1].contains("x.rs:4: `lab_01::cli::main_with`"),
            "{}",
            p[1]
        );
    }

    #[test]
    fn own_harness_comments_components_and_benches_are_allowed() {
        let exercises = "//! Uses lab_01::measure in prose only.\nuse lab_02::measure::bench;\nuse lab_02::{cli, measure::procs};\n// use lab_01::measure::bench;\n/// See lab_01::cli.\nfn f() { lab_02::cli::main(); } // not lab_01::measure\nuse lab_01::{Cache, ShardedMutex};\nuse lab_02_exercises::measure;\nuse my_lab_01::measure;\n";
        let p = problems(&[
            ("labs/lab-02/exercises/src/bench.rs", exercises),
            (
                "labs/lab-02/src/main.rs",
                "fn main() { lab_02::cli::main() }",
            ),
            (
                "benches/src/targets.rs",
                "use lab_02::measure::procs;\nuse lab_01::cli;",
            ),
            (
                "labs/lab-03/target/debug/build/out.rs",
                "use lab_02::measure;",
            ),
            ("labs/lab-02/fuzz/target/x/out.rs", "use lab_01::measure;"),
        ]);
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn manifests_depend_only_on_earlier_labs() {
        let ok = "[package]\nname = \"lab-03\"\n\n[dependencies]\nlab-01.workspace = true\nlab-02 = { path = \"../lab-02\" }\nkit.workspace = true\n";
        let ex = "[dependencies]\nlab-03 = { path = \"..\" }\nlab-01.workspace = true\n";
        assert!(
            problems(&[
                ("labs/lab-03/Cargo.toml", ok),
                ("labs/lab-03/exercises/Cargo.toml", ex)
            ])
            .is_empty()
        );

        let later = "[dependencies]\nanyhow.workspace = true\n\n[dev-dependencies]\nlab-03 = { path = \"../lab-03\" }\n";
        let p = problems(&[("labs/lab-02/Cargo.toml", later)]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("labs/lab-02/Cargo.toml:5: depends on lab-03"),
            "{}",
            p[0]
        );

        // A lab may name itself (a dev-dependency turning on a test feature).
        let itself = "[dev-dependencies]\nlab-02 = { path = \".\", features = [\"x\"] }\n";
        assert!(problems(&[("labs/lab-02/Cargo.toml", itself)]).is_empty());

        let renamed = "[target.'cfg(unix)'.dependencies]\nload = { package = \"lab-03\", path = \"../../lab-03\" }\n\n[dependencies.other]\npackage = \"lab-01-exercises\"\npath = \"../../lab-01/exercises\"\n";
        let p = problems(&[("labs/lab-02/exercises/Cargo.toml", renamed)]);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p.iter()
                .any(|m| m.contains("Cargo.toml:2: depends on lab-03")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.contains("Cargo.toml:4: depends on lab-01-exercises")),
            "{p:?}"
        );
    }

    #[test]
    fn a_labs_module_map_names_both_groups() {
        let good = "//! Lab 09: x.\n//!\n//! # Module map\n//!\n//! The component, the widget:\n//! - [`widget`]: it.\n//!\n//! How it is MEASURED:\n//! - [`measure`]: the experiment.\n\npub mod measure;\n";
        assert!(module_map_problems("lab-09", good).is_empty());
        let none = module_map_problems("lab-09", "pub mod widget;\n");
        assert_eq!(none.len(), 1, "{none:?}");
        assert!(none[0].contains("does not open with a module map"));
        // Words after the header do not count.
        let half = "//! Lab 09: the component.\n//! - [`widget`]: it.\n\n// measured elsewhere\npub mod widget;\n";
        let p = module_map_problems("lab-09", half);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("\"measured\""), "{}", p[0]);
    }

    /// The real repository keeps the boundaries. Reads files only (no build).
    #[test]
    fn real_labs_respect_boundaries() {
        let p = lab_boundary_problems(&project::root()).expect("cannot read labs/");
        assert!(
            p.is_empty(),
            "lab boundaries are crossed:\n  - {}",
            p.join("\n  - ")
        );
    }

    /// Every real lab's module map names both groups. Reads files only.
    #[test]
    fn real_lab_module_maps_name_both_groups() {
        let root = project::root();
        let mut p = Vec::new();
        for e in std::fs::read_dir(root.join("labs")).expect("cannot read labs/") {
            let e = e.expect("cannot read labs/");
            let name = e.file_name().to_string_lossy().into_owned();
            if is_lab_name(&name) {
                let lib = std::fs::read_to_string(e.path().join("src/lib.rs")).unwrap_or_default();
                p.extend(module_map_problems(&name, &lib));
            }
        }
        assert!(
            p.is_empty(),
            "module maps lack a group:\n  - {}",
            p.join("\n  - ")
        );
    }
}
