//! The book's invariants, checked on every test run:
//!
//! - every lab names at least one chapter, each chapter exists, is listed in
//!   `SUMMARY.md`, and opens with a lab card for that lab;
//! - every lab has an exercises package with at least one exercise, and each
//!   exercise has its statement (`id="exercise-ID"`) in one of the lab's
//!   chapters;
//! - every `{{#include …}}` in the book resolves, anchors included;
//! - committed results come from full runs;
//! - every crate root opens with a module map (`//!` docs).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::exercises;
use crate::project;
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

fn has_anchor(text: &str, anchor: &str) -> bool {
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
                    if !chapter_text.contains(&format!("id=\"exercise-{}\"", e.id)) {
                        problems.push(format!(
                            "{}: exercise {} has no statement (id=\"exercise-{}\") in the lab's chapters",
                            lab.name, e.id, e.id
                        ));
                    }
                }
            }
        }
        let lib = lab.dir.join("src/lib.rs");
        if let Ok(t) = std::fs::read_to_string(&lib)
            && !t.trim_start().starts_with("//!")
        {
            problems.push(format!(
                "{}: src/lib.rs does not open with a module map (//! docs)",
                lab.name
            ));
        }
    }

    problems.extend(include_problems(root)?);
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

    const CARD: &str = "# Locks\n\n<div class=\"ul-lab-card\" data-lab=\"lab-01\">\n<div class=\"ul-run\"><code>cargo run -p lab-01 --release -- bench</code></div>\n</div>\n\nText";

    #[test]
    fn lab_card_is_required_and_must_name_the_lab() {
        assert!(chapter_problems("lab-01", "a.md", CARD).is_empty());
        let none = chapter_problems("lab-01", "a.md", "# Locks\n\nNo card here.");
        assert_eq!(none.len(), 1, "{none:?}");
        assert!(none[0].contains("no lab card"));
        let wrong = chapter_problems("lab-02", "a.md", CARD);
        assert_eq!(wrong.len(), 2, "{wrong:?}");
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
}
