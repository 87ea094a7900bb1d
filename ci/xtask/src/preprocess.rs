//! The book's own mdBook preprocessor (`cargo xtask preprocess`, wired in
//! `book.toml` after mdBook's `links`, so includes are already expanded).
//!
//! It does three things to every chapter:
//!
//! 0. **Exercises from one source.** `{{#exercise lab-03 pacing}}` becomes
//!    the exercise's whole block, rendered from the lab's `exercises.toml`
//!    and its solution file ([`crate::exercises::render_block`]), so the
//!    chapter and `cargo xtask exercise check` show the same hints.
//! 1. **Numbers from data.** `{{#value lab-02/throughput-split:best_p16}}`
//!    becomes the fact `best_p16` that lab-02's `measure` command attached
//!    to its table `throughput-split` (`report::Table::fact`), read from
//!    `src/results/lab-02/report.json`, formatted as the table formats it.
//!    A reference to an unknown producer, artifact or key fails the build
//!    and lists the keys that exist: a page can never show a number the
//!    data does not hold.
//! 2. **Stale notices.** Each included result names its producer in its
//!    header. When that producer's sources changed since it was measured
//!    (see [`crate::freshness`]), a visible notice goes right under the
//!    header, saying what changed and the command that refreshes it.
//!
//! mdBook speaks JSON over stdin and stdout: `[context, book]` in, the book
//! out. Only chapter `content` strings are touched, walking the book as
//! plain JSON, so the exact shape of mdBook 0.5's types does not matter.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::freshness;

/// `cargo xtask preprocess [supports RENDERER]`.
pub fn main(args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("supports") {
        // Every renderer: the html output and the link checker both need
        // the expanded text.
        return Ok(());
    }
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading mdBook's input")?;
    let out = process_json(&input, &crate::project::root())?;
    println!("{out}");
    Ok(())
}

/// `[context, book]` in, the processed book out.
pub fn process_json(input: &str, repo_root: &Path) -> Result<String> {
    let v: Value = serde_json::from_str(input).context("mdBook's input is not JSON")?;
    let (ctx, mut book) = match v {
        Value::Array(mut a) if a.len() == 2 => {
            let book = a.pop().unwrap_or_default();
            (a.pop().unwrap_or_default(), book)
        }
        _ => bail!("mdBook's input is not [context, book]"),
    };
    let book_root = PathBuf::from(ctx["root"].as_str().unwrap_or("."));
    let src = ctx["config"]["book"]["src"].as_str().unwrap_or("src");
    let mut p = Processor::new(book_root.join(src).join("results"), repo_root.to_path_buf());
    if let Some(url) = ctx["config"]["output"]["html"]["git-repository-url"].as_str() {
        p.repo_url = url.trim_end_matches('/').to_owned();
    }
    let mut errors = Vec::new();
    walk(&mut book, &mut |name, content| match p.chapter(content) {
        Ok(text) => *content = text,
        Err(e) => errors.push(format!("{name}: {e:#}")),
    });
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    Ok(serde_json::to_string(&book)?)
}

/// Every `{{#value …}}` reference in the book's pages that does not resolve
/// against the results in `results` (normally `src/results`; a quick run's
/// `target/results-quick` while writing a chapter), as `page: error`.
pub fn unresolved(root: &Path, results: &Path) -> Result<Vec<String>> {
    let mut p = Processor::new(results.to_path_buf(), root.to_path_buf());
    let mut out = Vec::new();
    for (page, text) in crate::prose::pages(root)? {
        if let Err(e) = p.expand_values(&text) {
            out.push(format!("{page}: {e:#}"));
        }
    }
    Ok(out)
}

/// `text` with its `{{#value …}}` references replaced from the committed
/// results (for commands quoted from a page, run as written).
pub fn expand_committed_values(root: &Path, text: &str) -> Result<String> {
    Processor::new(root.join("src/results"), root.to_path_buf()).expand_values(text)
}

/// Calls `f(chapter name, content)` for every chapter in the book's JSON.
fn walk(v: &mut Value, f: &mut dyn FnMut(&str, &mut String)) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(ch)) = map.get_mut("Chapter") {
                let name = ch
                    .get("path")
                    .and_then(Value::as_str)
                    .or_else(|| ch.get("name").and_then(Value::as_str))
                    .unwrap_or("?")
                    .to_owned();
                if let Some(Value::String(content)) = ch.get_mut("content") {
                    f(&name, content);
                }
            }
            for child in map.values_mut() {
                walk(child, f);
            }
        }
        Value::Array(items) => {
            for child in items {
                walk(child, f);
            }
        }
        _ => {}
    }
}

/// The class of the notice on a stale result (styled in `theme/`).
pub const STALE_CLASS: &str = "ul-stale";

/// Where exercise blocks link the files they build on, when `book.toml`
/// does not say.
const REPO_URL: &str = "https://github.com/under-load/under-load";

struct Processor {
    results: PathBuf,
    repo_root: PathBuf,
    repo_url: String,
    reports: BTreeMap<String, Value>,
    stale: BTreeMap<String, Option<String>>,
}

impl Processor {
    fn new(results: PathBuf, repo_root: PathBuf) -> Self {
        Self {
            results,
            repo_root,
            repo_url: REPO_URL.to_owned(),
            reports: BTreeMap::new(),
            stale: BTreeMap::new(),
        }
    }

    fn report(&mut self, producer: &str) -> Result<&Value> {
        if !self.reports.contains_key(producer) {
            let path = self.results.join(producer).join("report.json");
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "no results for `{producer}` ({} is missing; run `cargo xtask results --only {producer}`)",
                    path.display()
                )
            })?;
            let json: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            self.reports.insert(producer.to_owned(), json);
        }
        Ok(&self.reports[producer])
    }

    /// The notice for a producer's results, if they are stale.
    fn stale_notice(&mut self, producer: &str) -> Result<Option<String>> {
        if let Some(n) = self.stale.get(producer) {
            return Ok(n.clone());
        }
        let report = self.report(producer)?.clone();
        let changed = freshness::changed(&self.repo_root, &freshness::recorded(&report))?;
        let notice = (!changed.is_empty()).then(|| {
            format!(
                "<div class=\"{STALE_CLASS}\" role=\"note\"><strong>Stale result.</strong> \
                 It was measured at commit {}, and the code it describes has changed since \
                 ({}). Rerun <code>cargo xtask results --only {producer}</code> (or \
                 <code>cargo xtask results --stale</code>) before trusting these numbers.</div>\n",
                report["provenance"]["commit"].as_str().unwrap_or("unknown"),
                changed.join(", ")
            )
        });
        self.stale.insert(producer.to_owned(), notice.clone());
        Ok(notice)
    }

    /// The text of `{{#value PRODUCER/ARTIFACT:KEY}}`.
    fn value(&mut self, reference: &str) -> Result<String> {
        let (producer, rest) = reference
            .split_once('/')
            .with_context(|| format!("`{reference}`: write PRODUCER/ARTIFACT:KEY"))?;
        let (artifact, key) = rest
            .split_once(':')
            .with_context(|| format!("`{reference}`: write PRODUCER/ARTIFACT:KEY"))?;
        let report = self.report(producer)?;
        let artifacts = report["report"]["artifacts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let Some(a) = artifacts.iter().find(|a| a["name"] == artifact) else {
            let names: Vec<&str> = artifacts
                .iter()
                .filter_map(|a| a["name"].as_str())
                .collect();
            bail!(
                "`{{{{#value {reference}}}}}`: {producer} has no artifact `{artifact}` (it has: {})",
                names.join(", ")
            );
        };
        match a["facts"].get(key).and_then(Value::as_str) {
            Some(text) => Ok(text.to_owned()),
            None => {
                let keys: Vec<&str> = a["facts"]
                    .as_object()
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                bail!(
                    "`{{{{#value {reference}}}}}`: {producer}/{artifact} has no fact `{key}` (it has: {})",
                    if keys.is_empty() {
                        "none".to_owned()
                    } else {
                        keys.join(", ")
                    }
                )
            }
        }
    }

    fn chapter(&mut self, content: &str) -> Result<String> {
        let with_exercises = self.expand_exercises(content)?;
        let with_values = self.expand_values(&with_exercises)?;
        self.mark_stale(&with_values)
    }

    /// `{{#exercise LAB ID}}` → the exercise's block.
    fn expand_exercises(&mut self, content: &str) -> Result<String> {
        let mut out = String::with_capacity(content.len());
        let mut rest = content;
        while let Some(i) = rest.find("{{#exercise ") {
            out.push_str(&rest[..i]);
            let after = &rest[i + "{{#exercise ".len()..];
            let Some(end) = after.find("}}") else {
                bail!("an unclosed `{{{{#exercise` directive");
            };
            let words: Vec<&str> = after[..end].split_whitespace().collect();
            let [lab, id] = words[..] else {
                bail!(
                    "`{{{{#exercise {}}}}}`: write `{{{{#exercise LAB ID}}}}`",
                    &after[..end]
                );
            };
            let (dir, list) = crate::exercises::load_lab(&self.repo_root, lab)?;
            let ex = list.iter().find(|e| e.id == id).with_context(|| {
                format!(
                    "`{{{{#exercise {lab} {id}}}}}`: {lab} has no exercise {id:?} (it has: {})",
                    list.iter()
                        .map(|e| e.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            out.push_str(&crate::exercises::render_block(
                lab,
                &dir,
                &self.repo_root,
                ex,
                &self.repo_url,
            )?);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn expand_values(&mut self, content: &str) -> Result<String> {
        let mut out = String::with_capacity(content.len());
        let mut rest = content;
        let mut errors = Vec::new();
        while let Some(i) = rest.find("{{#value") {
            out.push_str(&rest[..i]);
            let after = &rest[i + "{{#value".len()..];
            let Some(end) = after.find("}}") else {
                bail!("an unclosed `{{{{#value` reference");
            };
            match self.value(after[..end].trim()) {
                Ok(text) => out.push_str(&text),
                Err(e) => errors.push(format!("{e:#}")),
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        if !errors.is_empty() {
            bail!("{}", errors.join("\n"));
        }
        Ok(out)
    }

    /// Inserts a notice under the header of every stale included result.
    fn mark_stale(&mut self, content: &str) -> Result<String> {
        let lines: Vec<&str> = content.split_inclusive('\n').collect();
        let mut out = String::with_capacity(content.len());
        for (i, line) in lines.iter().enumerate() {
            // Plots: the notice goes before the SVG, whose `<desc>` (a few
            // lines down) names the producer.
            if line.starts_with("<svg class=\"ul-plot\"") {
                let desc = lines[i..]
                    .iter()
                    .take(4)
                    .find(|l| l.starts_with("<desc>"))
                    .and_then(|l| results_producer(l));
                if let Some(name) = desc
                    && let Some(n) = self.stale_notice(name)?
                {
                    out.push_str(&n);
                }
            }
            out.push_str(line);
            // Tables and transcripts: after the provenance line that
            // follows the marker comment.
            if line.starts_with("<div class=\"ul-provenance\">")
                && let Some(name) = last_marker(&out)
                && let Some(n) = self.stale_notice(&name)?
            {
                out.push_str(&n);
            }
        }
        Ok(out)
    }
}

/// The producer a results header line names (`… cargo xtask results
/// -⁠-only NAME; …`), if it is one.
fn results_producer(line: &str) -> Option<&str> {
    let i = line.find("cargo xtask results")?;
    let rest = &line[i..];
    let j = rest.find("only ")?;
    let name = rest[j + 5..].split([';', ' ', '<', '"']).next()?;
    (!name.is_empty()).then_some(name)
}

/// The producer named by the last results marker comment in `text`.
fn last_marker(text: &str) -> Option<String> {
    let i = text.rfind("<!-- generated by the results pipeline:")?;
    let line = text[i..].lines().next()?;
    results_producer(line).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(sources: &str) -> (PathBuf, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("ul-pre-{}-{}", std::process::id(), sources.len()));
        let _ = std::fs::remove_dir_all(&dir);
        let results = dir.join("src/results/lab-09");
        std::fs::create_dir_all(&results).unwrap();
        std::fs::create_dir_all(dir.join("labs/lab-09/src")).unwrap();
        std::fs::write(dir.join("labs/lab-09/Cargo.toml"), "[package]\n").unwrap();
        std::fs::write(dir.join("labs/lab-09/src/lib.rs"), "fn a() {}\n").unwrap();
        let digest = freshness::digest(&dir, "labs/lab-09").unwrap();
        let recorded = if sources == "fresh" {
            digest
        } else {
            "0000000000000000".to_owned()
        };
        let report = serde_json::json!({
            "provenance": {"commit": "abc123", "sources": {"labs/lab-09": recorded}},
            "report": {"lab": "lab-09", "quick": false, "artifacts": [
                {"artifact": "table", "name": "speed", "title": "Speed",
                 "columns": ["a"], "rows": [], "facts": {"best": "1.23×"}}
            ]}
        });
        std::fs::write(results.join("report.json"), report.to_string()).unwrap();
        (dir.join("src/results"), dir)
    }

    const TABLE: &str = "<!-- generated by the results pipeline: cargo xtask results -\u{2060}-only lab-09; do not edit -->\n<div class=\"ul-provenance\">command: cargo xtask results --only lab-09<br>commit: abc123</div>\n\n| a |\n";

    #[test]
    fn values_expand_and_unknown_keys_fail_naming_the_known_ones() {
        let (results, root) = fixture("fresh");
        let mut p = Processor::new(results, root);
        let text = p
            .chapter("The best is {{#value lab-09/speed:best}} here.")
            .unwrap();
        assert_eq!(text, "The best is 1.23× here.");
        let err = p.chapter("{{#value lab-09/speed:worst}}").unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("no fact `worst`") && msg.contains("best"),
            "{msg}"
        );
        let err = p.chapter("{{#value lab-09/slow:best}}").unwrap_err();
        assert!(format!("{err:#}").contains("no artifact `slow`"), "{err:#}");
        let err = p.chapter("{{#value lab-99/speed:best}}").unwrap_err();
        assert!(
            format!("{err:#}").contains("no results for `lab-99`"),
            "{err:#}"
        );
    }

    #[test]
    fn a_stale_result_gets_a_notice_and_a_fresh_one_does_not() {
        let (results, root) = fixture("fresh");
        let mut p = Processor::new(results, root);
        assert!(!p.chapter(TABLE).unwrap().contains(STALE_CLASS));
        let (results, root) = fixture("stale!");
        let mut p = Processor::new(results, root);
        let text = p.chapter(TABLE).unwrap();
        let notice = text.find(STALE_CLASS).expect("a notice");
        assert!(notice > text.find("ul-provenance").unwrap(), "{text}");
        assert!(
            text.contains("labs/lab-09") && text.contains("abc123"),
            "{text}"
        );
        let svg = "<svg class=\"ul-plot\" role=\"img\">\n<title>t</title>\n<desc>command: cargo xtask results --only lab-09; commit: abc123</desc>\n</svg>\n";
        let text = p.chapter(svg).unwrap();
        assert!(
            text.find(STALE_CLASS).unwrap() < text.find("<svg").unwrap(),
            "{text}"
        );
    }

    #[test]
    fn the_json_protocol_round_trips() {
        let (_, root) = fixture("fresh");
        let input = serde_json::json!([
            {"root": root.to_string_lossy(), "config": {"book": {"src": "src"}}, "renderer": "html"},
            {"items": [{"Chapter": {"name": "One", "path": "one.md",
                "content": "x {{#value lab-09/speed:best}}", "sub_items": []}}]}
        ]);
        let out = process_json(&input.to_string(), &root).unwrap();
        assert!(out.contains("x 1.23×"), "{out}");
    }
}
