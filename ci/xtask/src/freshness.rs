//! Is a committed result older than the code it describes?
//!
//! Every results producer depends on some source folders: its own crate and
//! the workspace crates it is built from (a lab, the earlier labs it uses,
//! the measurement kit, the results format). When the pipeline measures, it
//! records a digest of each folder's sources in `report.json`
//! (`provenance.sources`). Later, a result is *stale* when any of those
//! digests no longer matches the working tree: the page shows a notice
//! (the book's preprocessor), the structure check lists it, and
//! `cargo xtask results --stale` reruns exactly those producers.
//!
//! What counts as a crate's sources: its `Cargo.toml` and everything under
//! `src/` (and `benches/` for a crate that has one, and `go/` for a lab
//! whose measurements build Go programs beside it, which are harness). Tests, exercises, READMEs
//! and chapters do not change what a measurement measures, so editing them
//! leaves results fresh. For an earlier lab that a lab is built from, only
//! its component counts: its harness (`src/measure/`, `src/cli.rs`,
//! `src/main.rs`, `src/bin/`) cannot reach another lab's measurement,
//! because the structure check forbids importing it. Such a path is
//! recorded with the suffix [`COMPONENT`]. Every producer also records the
//! root `Cargo.toml`'s build settings ([`BUILD_SETTINGS`]: the profiles,
//! `[workspace.dependencies]` with their features, and `[patch]`), which
//! reach every build; the rest of that file (members, lints) does not
//! change what is measured, so adding a lab leaves results fresh. The toolchain is recorded in the provenance header
//! but does not make a result stale: a machine's `rustc` moves with rustup,
//! and a result measured one compiler release ago still describes the code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::project::{self, Package};
use crate::results::{self, Producer, TOOLING};

/// Source folder (relative to the repository root, `/`-separated) → digest.
pub type Digests = BTreeMap<String, String>;

/// Marks a source path whose harness is left out of its digest.
pub const COMPONENT: &str = " (component)";

/// Marks the root `Cargo.toml` when only its build settings count: the
/// tables in [`SETTINGS_TABLES`].
pub const BUILD_SETTINGS: &str = " (build settings)";

/// The root manifest's tables that change what every producer builds.
const SETTINGS_TABLES: &[&[&str]] = &[&["profile"], &["workspace", "dependencies"], &["patch"]];

/// The file or folder a recorded source path names, without its suffix.
fn path_of(rel: &str) -> &str {
    rel.trim_end_matches(COMPONENT)
        .trim_end_matches(BUILD_SETTINGS)
}

/// The source folders (or files) a producer's results depend on, relative
/// to the root: its package and every workspace package it depends on by
/// path, transitively.
pub fn source_paths(root: &Path, p: &Producer) -> Result<Vec<String>> {
    let packages = project::packages(root)?;
    let mut out = Vec::new();
    let start = if p.name == TOOLING {
        // The workbench transcripts run lab-01's tests and bench, and are
        // written by `transcripts.rs`.
        out.push("ci/xtask/src/transcripts.rs".to_owned());
        "lab-01"
    } else {
        p.package.as_str()
    };
    let producer_is_lab = project::is_lab_name(start);
    let mut todo = vec![start.to_owned()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(pkg) = packages.iter().find(|q| q.name == name) else {
            continue;
        };
        let rel = relative(root, pkg)?;
        // Another lab, under a lab producer: only its component reaches
        // it (benches may use a lab's harness, so they count all of it).
        if producer_is_lab && pkg.is_lab() && name != start {
            out.push(format!("{rel}{COMPONENT}"));
        } else {
            out.push(rel);
        }
        todo.extend(pkg.path_deps.iter().cloned());
    }
    // A producer that builds other labs' binaries whole, under the
    // workspace's profiles (lab-04's build-settings experiment builds
    // lab-01 and lab-02 with every variant and runs their own harness):
    // all of those labs, and the root Cargo.toml with the profiles.
    if let Some((_, whole)) = BUILDS_WHOLE.iter().find(|(n, _)| *n == p.package) {
        out.extend(whole.iter().map(|w| (*w).to_owned()));
    }
    // The profiles and the workspace's dependency features reach every
    // build (a producer that records the whole file needs no more).
    if !out.iter().any(|o| o == "Cargo.toml") {
        out.push(format!("Cargo.toml{BUILD_SETTINGS}"));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Producers that build other labs whole (harness and all) and depend on
/// the workspace's profiles: the extra source paths each one's results
/// depend on.
const BUILDS_WHOLE: &[(&str, &[&str])] =
    &[("lab-04", &["labs/lab-01", "labs/lab-02", "Cargo.toml"])];

fn relative(root: &Path, pkg: &Package) -> Result<String> {
    let rel = pkg
        .dir
        .strip_prefix(root)
        .with_context(|| format!("{} is outside the repository", pkg.dir.display()))?;
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/"))
}

/// FNV-1a, 64 bits: stable across machines and Rust versions (std's
/// hashers are not), and plenty to notice that a file changed.
fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *hash ^= u64::from(b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = e?.path();
        if path.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Whether a file (relative to its crate) is a lab's harness.
fn is_harness(in_crate: &Path) -> bool {
    let s = in_crate.to_string_lossy().replace('\\', "/");
    s.starts_with("src/measure/")
        || s.starts_with("src/bin/")
        || s == "src/measure.rs"
        || s == "src/cli.rs"
        || s == "src/main.rs"
}

/// The digest of one source path: a file, or a crate folder's `Cargo.toml`,
/// `src/` and `benches/` (without the harness when `rel` ends in
/// [`COMPONENT`]).
pub fn digest(root: &Path, rel: &str) -> Result<String> {
    if let Some(file) = rel.strip_suffix(BUILD_SETTINGS) {
        return settings_digest(&root.join(file));
    }
    let (rel, component_only) = match rel.strip_suffix(COMPONENT) {
        Some(r) => (r, true),
        None => (rel, false),
    };
    let base = root.join(rel);
    let mut files = Vec::new();
    if base.is_file() {
        files.push(base.clone());
    } else {
        files.push(base.join("Cargo.toml"));
        files_under(&base.join("src"), &mut files)?;
        files_under(&base.join("benches"), &mut files)?;
        if !component_only {
            // The Go programs a lab measures beside itself: harness.
            files_under(&base.join("go"), &mut files)?;
        }
        if component_only {
            files.retain(|f| !f.strip_prefix(&base).is_ok_and(is_harness));
        }
    }
    let mut named: Vec<(String, PathBuf)> = files
        .into_iter()
        .filter(|f| f.exists())
        .map(|f| {
            let name = f
                .strip_prefix(root)
                .unwrap_or(&f)
                .to_string_lossy()
                .replace('\\', "/");
            (name, f)
        })
        .collect();
    named.sort();
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for (name, path) in named {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        fnv1a(&mut hash, name.as_bytes());
        fnv1a(&mut hash, &[0]);
        fnv1a(&mut hash, &(bytes.len() as u64).to_le_bytes());
        fnv1a(&mut hash, &bytes);
    }
    Ok(format!("{hash:016x}"))
}

/// The digest of a manifest's [`SETTINGS_TABLES`], as parsed (so a comment
/// or the order of the tables does not count, a changed value does).
fn settings_digest(manifest: &Path) -> Result<String> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for keys in SETTINGS_TABLES {
        let mut at = Some(&doc);
        let mut value = None;
        for (i, k) in keys.iter().enumerate() {
            let v = at.and_then(|t| t.get(*k));
            if i + 1 == keys.len() {
                value = v;
            } else {
                at = v.and_then(toml::Value::as_table);
            }
        }
        fnv1a(&mut hash, keys.join(".").as_bytes());
        fnv1a(&mut hash, &[0]);
        // toml's tables are sorted maps, so this text is canonical.
        let shown = value.map(|v| v.to_string()).unwrap_or_default();
        fnv1a(&mut hash, shown.as_bytes());
        fnv1a(&mut hash, &[0]);
    }
    Ok(format!("{hash:016x}"))
}

/// The current digests of a producer's sources.
pub fn current(root: &Path, p: &Producer) -> Result<Digests> {
    source_paths(root, p)?
        .into_iter()
        .map(|rel| Ok((rel.clone(), digest(root, &rel)?)))
        .collect()
}

/// Why a committed result is stale: the source paths whose digest changed
/// (or that it never recorded). Empty when fresh.
pub fn changed(root: &Path, recorded: &Digests) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if recorded.is_empty() {
        out.push("no source digests recorded, so measured before freshness tracking".to_owned());
        return Ok(out);
    }
    for (rel, old) in recorded {
        let now = if root.join(path_of(rel)).exists() {
            digest(root, rel)?
        } else {
            "missing".to_owned()
        };
        if &now != old {
            out.push(rel.clone());
        }
    }
    Ok(out)
}

/// The digests a committed `report.json` recorded.
pub fn recorded(report_json: &serde_json::Value) -> Digests {
    report_json["provenance"]["sources"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// One stale result: which producer, what changed, when it was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    pub name: String,
    pub changed: Vec<String>,
    pub commit: String,
}

/// Every producer whose committed results are stale.
pub fn stale(root: &Path) -> Result<Vec<Stale>> {
    let mut out = Vec::new();
    for p in results::producers(root)? {
        let path = results::committed_dir(root, &p.name).join("report.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // a missing report is the structure check's other rule
        };
        let json: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let changed = changed(root, &recorded(&json))?;
        if !changed.is_empty() {
            out.push(Stale {
                name: p.name.clone(),
                changed,
                commit: json["provenance"]["commit"]
                    .as_str()
                    .unwrap_or("unknown")
                    .to_owned(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_changes_the_digest_and_others_do_not() {
        let root = std::env::temp_dir().join(format!("ul-fresh-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("labs/lab-09/src")).unwrap();
        std::fs::create_dir_all(root.join("labs/lab-09/tests")).unwrap();
        std::fs::write(root.join("labs/lab-09/Cargo.toml"), "[package]\n").unwrap();
        std::fs::write(root.join("labs/lab-09/src/lib.rs"), "fn a() {}\n").unwrap();
        let before = digest(&root, "labs/lab-09").unwrap();
        let recorded: Digests = [("labs/lab-09".to_owned(), before.clone())].into();
        assert!(changed(&root, &recorded).unwrap().is_empty());
        // A test or a README does not change what is measured.
        std::fs::write(root.join("labs/lab-09/tests/t.rs"), "#[test] fn t() {}\n").unwrap();
        std::fs::write(root.join("labs/lab-09/README.md"), "# lab\n").unwrap();
        assert_eq!(digest(&root, "labs/lab-09").unwrap(), before);
        // The code does.
        std::fs::write(root.join("labs/lab-09/src/lib.rs"), "fn a() { }\n").unwrap();
        assert_ne!(digest(&root, "labs/lab-09").unwrap(), before);
        assert_eq!(changed(&root, &recorded).unwrap(), ["labs/lab-09"]);
        // An earlier lab's harness does not reach a later lab's results.
        std::fs::create_dir_all(root.join("labs/lab-09/src/measure")).unwrap();
        std::fs::write(root.join("labs/lab-09/src/measure/mod.rs"), "x").unwrap();
        let component = "labs/lab-09 (component)";
        let c0 = digest(&root, component).unwrap();
        std::fs::write(root.join("labs/lab-09/src/measure/mod.rs"), "y").unwrap();
        std::fs::write(root.join("labs/lab-09/src/cli.rs"), "z").unwrap();
        assert_eq!(digest(&root, component).unwrap(), c0);
        std::fs::write(root.join("labs/lab-09/src/lib.rs"), "fn b() {}\n").unwrap();
        assert_ne!(digest(&root, component).unwrap(), c0);
        // Nothing recorded: stale, and the reason says why.
        assert_eq!(changed(&root, &Digests::new()).unwrap().len(), 1);
        std::fs::remove_dir_all(&root).ok();
    }

    /// The source paths of the producer that measures `package`.
    fn paths_of(package: &str) -> Vec<String> {
        let root = project::root();
        let p = results::producers(&root)
            .unwrap()
            .into_iter()
            .find(|p| p.package == package)
            .unwrap_or_else(|| panic!("{package} produces results"));
        source_paths(&root, &p).unwrap()
    }

    #[test]
    fn a_lab_depends_on_the_crates_it_is_built_from() {
        let paths = paths_of("lab-03");
        for want in [
            "labs/lab-03",
            "labs/lab-02 (component)",
            "labs/lab-01 (component)",
            "ci/kit",
            "ci/report",
            "Cargo.toml (build settings)",
        ] {
            assert!(paths.iter().any(|s| s == want), "{want} not in {paths:?}");
        }
        assert!(!paths.iter().any(|s| s.contains("exercises")), "{paths:?}");
    }

    #[test]
    fn only_the_root_manifests_build_settings_count() {
        let root = std::env::temp_dir().join(format!("ul-settings-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let write = |text: &str| std::fs::write(root.join("Cargo.toml"), text).unwrap();
        let key = format!("Cargo.toml{BUILD_SETTINGS}");
        write(
            "[workspace]\nmembers = [\"a\"]\n\
             [workspace.dependencies]\ntokio = { version = \"1\", features = [\"rt\"] }\n\
             [profile.release]\ndebug = 1\n",
        );
        let before = digest(&root, &key).unwrap();
        let recorded: Digests = [(key.clone(), before.clone())].into();
        // A new member, a comment, the tables in another order: fresh.
        write(
            "# the labs\n[profile.release]\ndebug = 1\n\
             [workspace]\nmembers = [\"a\", \"b\"]\n\
             [workspace.dependencies]\ntokio = { features = [\"rt\"], version = \"1\" }\n",
        );
        assert!(changed(&root, &recorded).unwrap().is_empty());
        // A profile setting or a dependency's feature: stale.
        write(
            "[workspace]\nmembers = [\"a\"]\n\
             [workspace.dependencies]\ntokio = { version = \"1\", features = [\"rt\"] }\n\
             [profile.release]\ndebug = 2\n",
        );
        assert_eq!(
            changed(&root, &recorded).unwrap(),
            std::slice::from_ref(&key)
        );
        write(
            "[workspace]\nmembers = [\"a\"]\n\
             [workspace.dependencies]\ntokio = { version = \"1\", features = [\"rt\", \"net\"] }\n\
             [profile.release]\ndebug = 1\n",
        );
        assert_ne!(digest(&root, &key).unwrap(), before);
        std::fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn a_producer_that_builds_labs_whole_records_the_whole_root_manifest() {
        let paths = paths_of("lab-04");
        assert!(paths.iter().any(|s| s == "Cargo.toml"), "{paths:?}");
        assert!(
            !paths.iter().any(|s| s.ends_with(BUILD_SETTINGS)),
            "{paths:?}"
        );
    }
}
