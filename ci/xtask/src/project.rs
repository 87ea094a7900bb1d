//! Where things are: the repository root, the labs and their metadata.
//!
//! A lab is a workspace package named `lab-NN` under `labs/`. It describes
//! itself to the automation in its `Cargo.toml`:
//!
//! ```toml
//! [package.metadata.underload]
//! title = "the concurrent cache"          # shown on lab cards
//! chapters = ["part-1/locks.md"]          # pages (under src/) that use it
//! results = "lab-01"                      # has a `measure` command; files go to src/results/lab-01/
//! ```
//!
//! Any other package (e.g. `benches`) may also produce results by declaring
//! `results` (and `results-bin` if the `measure` command lives in a named
//! binary). Exercises live in the package `lab-NN-exercises`, described by
//! its `exercises.toml`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::sh;

/// The repository root (the workspace holding this crate).
pub fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UnderloadMeta {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub chapters: Vec<String>,
    #[serde(default)]
    pub results: Option<String>,
    #[serde(default)]
    pub results_bin: Option<String>,
}

/// A workspace package as the automation sees it.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    /// The folder holding its `Cargo.toml`.
    pub dir: PathBuf,
    pub meta: UnderloadMeta,
    pub features: Vec<String>,
    /// Names of the workspace packages it depends on by path (normal
    /// dependencies only: what its binaries are built from).
    pub path_deps: Vec<String>,
}

impl Package {
    /// `lab-NN` packages are labs.
    pub fn is_lab(&self) -> bool {
        is_lab_name(&self.name)
    }

    pub fn is_exercises(&self) -> bool {
        self.name
            .strip_suffix("-exercises")
            .is_some_and(is_lab_name)
    }
}

pub fn is_lab_name(name: &str) -> bool {
    name.strip_prefix("lab-")
        .is_some_and(|n| n.len() == 2 && n.chars().all(|c| c.is_ascii_digit()))
}

/// Every workspace member, from `cargo metadata`.
pub fn packages(root: &Path) -> Result<Vec<Package>> {
    let out = sh::read(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(root)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ]),
    )
    .or_else(|_| {
        sh::read(sh::cargo(root).args(["metadata", "--format-version", "1", "--no-deps"]))
    })?;
    parse_metadata(&out)
}

fn parse_metadata(json: &str) -> Result<Vec<Package>> {
    #[derive(Deserialize)]
    struct Meta {
        packages: Vec<Pkg>,
    }
    #[derive(Deserialize)]
    struct Pkg {
        name: String,
        manifest_path: PathBuf,
        #[serde(default)]
        metadata: Option<serde_json::Value>,
        #[serde(default)]
        features: serde_json::Map<String, serde_json::Value>,
        #[serde(default)]
        dependencies: Vec<Dep>,
    }
    #[derive(Deserialize)]
    struct Dep {
        name: String,
        #[serde(default)]
        path: Option<PathBuf>,
        #[serde(default)]
        kind: Option<String>,
    }
    let meta: Meta = serde_json::from_str(json).context("cannot parse `cargo metadata`")?;
    let mut out = Vec::new();
    for p in meta.packages {
        let ul = match p.metadata.as_ref().and_then(|m| m.get("underload")) {
            Some(v) => serde_json::from_value(v.clone()).with_context(|| {
                format!("[package.metadata.underload] of {} is malformed", p.name)
            })?,
            None => UnderloadMeta::default(),
        };
        let Some(dir) = p.manifest_path.parent() else {
            bail!("manifest path of {} has no parent", p.name);
        };
        out.push(Package {
            name: p.name,
            dir: dir.to_path_buf(),
            meta: ul,
            features: p.features.keys().cloned().collect(),
            path_deps: p
                .dependencies
                .iter()
                .filter(|d| d.path.is_some() && d.kind.is_none())
                .map(|d| d.name.clone())
                .collect(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The labs, sorted by number.
pub fn labs(root: &Path) -> Result<Vec<Package>> {
    Ok(packages(root)?
        .into_iter()
        .filter(Package::is_lab)
        .collect())
}

/// Chapter pages listed in `src/SUMMARY.md` that are not drafts, as paths
/// relative to `src/`.
pub fn summary_pages(root: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(root.join("src/SUMMARY.md"))
        .context("cannot read src/SUMMARY.md")?;
    Ok(summary_links(&text))
}

pub fn summary_links(summary: &str) -> Vec<String> {
    let mut pages = Vec::new();
    for line in summary.lines() {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].trim();
            if !target.is_empty() {
                pages.push(target.split('#').next().unwrap_or(target).to_owned());
            }
            rest = &after[end..];
        }
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_names() {
        assert!(is_lab_name("lab-01"));
        assert!(!is_lab_name("lab-1"));
        assert!(!is_lab_name("lab-01-exercises"));
        assert!(!is_lab_name("benches"));
    }

    #[test]
    fn summary_drafts_are_not_pages() {
        let s = "# Summary\n\n[Intro](intro.md)\n\n- [Locks](part-1/locks.md)\n- [Planned]()\n";
        assert_eq!(summary_links(s), vec!["intro.md", "part-1/locks.md"]);
    }

    #[test]
    fn metadata_is_read_and_validated() {
        let json = r#"{"packages":[{"name":"lab-01","manifest_path":"/r/labs/lab-01/Cargo.toml",
            "metadata":{"underload":{"title":"t","chapters":["a.md"],"results":"lab-01"}},"features":{}}]}"#;
        let p = parse_metadata(json).unwrap();
        assert_eq!(p[0].meta.results.as_deref(), Some("lab-01"));
        let bad = json.replace("\"title\"", "\"titel\"");
        assert!(
            parse_metadata(&bad).is_err(),
            "a typo in metadata must not pass silently"
        );
    }
}
