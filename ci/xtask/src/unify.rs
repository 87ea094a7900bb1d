//! One set of features for the dependencies the labs share.
//!
//! Cargo builds a dependency once per set of features, chosen from the
//! package being built, so `cargo run -p lab-03` after `cargo run -p
//! lab-02` would compile the shared crates (and lab-01 and lab-02 above
//! them) again if lab-03 asked any of them for one more feature. Every lab
//! and `benches` depend on `ci/unify`, which asks for the union (except in
//! the loom, fuzz and `tokio_unstable` builds, which have target folders of
//! their own and so nothing to share; see the labs' manifests); this
//! module checks that it still does: each package's resolved dependencies
//! (their target code, not build scripts or proc-macros, which Cargo
//! resolves apart) must carry the same features in every package that has
//! them, except the differences in [`KEPT_APART`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::project;

/// Features one package may turn on that the others must not inherit:
/// (crate, feature, package, why).
pub const KEPT_APART: &[(&str, &str, &str, &str)] = &[(
    "tokio",
    "test-util",
    "lab-07",
    "it puts a lock in tokio's clock, which every timer of every other lab would take",
)];

/// A crate (`name vX.Y.Z`) → the features it is built with.
pub type Resolved = BTreeMap<String, BTreeSet<String>>;

/// Parses `cargo tree -e normal -f '{p}|{f}' --prefix depth`: the
/// registry crates of the target code, each with its features. A
/// proc-macro's subtree is host code and is skipped, and so are the
/// workspace's own packages (they are what reuses the builds).
pub fn parse_tree(text: &str) -> Resolved {
    let mut out = Resolved::new();
    let mut host_below: Option<usize> = None;
    for line in text.lines() {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        let Ok(depth) = line[..digits].parse::<usize>() else {
            continue;
        };
        if host_below.is_some_and(|d| depth > d) {
            continue;
        }
        host_below = None;
        let Some((package, features)) = line[digits..].rsplit_once('|') else {
            continue;
        };
        if package.contains("(proc-macro)") {
            host_below = Some(depth);
            continue;
        }
        if package.contains("(/") {
            continue;
        }
        let name: Vec<&str> = package.split_whitespace().take(2).collect();
        out.entry(name.join(" ")).or_default().extend(
            features
                .trim_end_matches(" (*)")
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned),
        );
    }
    out
}

/// The differences between packages' resolutions, one line per crate.
pub fn differences(by_package: &BTreeMap<String, Resolved>) -> Vec<String> {
    let mut crates: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for (package, resolved) in by_package {
        for (krate, features) in resolved {
            let name = krate.split(' ').next().unwrap_or(krate);
            let kept = |f: &str| {
                KEPT_APART
                    .iter()
                    .any(|(c, feat, p, _)| *c == name && *feat == f && p == package)
            };
            crates.entry(krate).or_default().insert(
                package,
                features
                    .iter()
                    .map(String::as_str)
                    .filter(|f| !kept(f))
                    .collect(),
            );
        }
    }
    let mut out = Vec::new();
    for (krate, per) in crates {
        let all: BTreeSet<&str> = per.values().flatten().copied().collect();
        let short: Vec<String> = per
            .iter()
            .filter(|(_, f)| **f != all)
            .map(|(p, f)| {
                let missing: Vec<&str> = all.difference(f).copied().collect();
                format!("{p} lacks {}", missing.join(", "))
            })
            .collect();
        if !short.is_empty() {
            out.push(format!(
                "{krate} is built with different features: {} (another package turns them on); \
                 add them to ci/unify/Cargo.toml, so every lab's build reuses the others'",
                short.join("; ")
            ));
        }
    }
    out
}

/// The packages whose builds should share: the labs and `benches`.
pub fn builders(root: &Path) -> Result<Vec<String>> {
    Ok(project::packages(root)?
        .into_iter()
        .filter(|p| p.is_lab() || p.name == "benches")
        .map(|p| p.name)
        .collect())
}

/// How `package` resolves its target dependencies, from `cargo tree`.
pub fn resolved(root: &Path, package: &str) -> Result<Resolved> {
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(root)
        .args([
            "tree",
            "--quiet",
            "--offline",
            "--locked",
            "-p",
            package,
            "-e",
            "normal",
            "-f",
            "{p}|{f}",
            "--prefix",
            "depth",
        ])
        .output()
        .with_context(|| format!("cannot run cargo tree -p {package}"))?;
    if !out.status.success() {
        anyhow::bail!(
            "cargo tree -p {package} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(parse_tree(&String::from_utf8_lossy(&out.stdout)))
}

/// The structure check's part: every difference, as a problem.
pub fn problems(root: &Path) -> Result<Vec<String>> {
    let mut by_package = BTreeMap::new();
    for p in builders(root)? {
        by_package.insert(p.clone(), resolved(root, &p)?);
    }
    Ok(differences(&by_package))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "0lab-03 v0.1.0 (/r/labs/lab-03)|\n\
        1hdrhistogram v7.6.0|serialization\n\
        2base64 v0.21.7|std\n\
        1lab-02 v0.1.0 (/r/labs/lab-02)|\n\
        2tokio v1.54.1|net,rt\n\
        3tokio-macros v2.6.0 (proc-macro)|\n\
        4syn v2.0.119|full\n\
        2tokio v1.54.1|net,rt (*)\n";

    #[test]
    fn reads_target_crates_and_skips_host_code_and_the_workspace() {
        let r = parse_tree(TREE);
        let names: Vec<&str> = r.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["base64 v0.21.7", "hdrhistogram v7.6.0", "tokio v1.54.1"]
        );
        assert_eq!(r["tokio v1.54.1"].len(), 2);
    }

    #[test]
    fn a_missing_feature_is_reported_and_a_kept_one_is_not() {
        let lab03 = parse_tree(TREE);
        let mut lab02 = lab03.clone();
        lab02.get_mut("hdrhistogram v7.6.0").unwrap().clear();
        let mut lab07 = lab03.clone();
        lab07
            .get_mut("tokio v1.54.1")
            .unwrap()
            .insert("test-util".into());
        let mut by = BTreeMap::new();
        by.insert("lab-03".to_owned(), lab03.clone());
        by.insert("lab-07".to_owned(), lab07.clone());
        assert!(differences(&by).is_empty(), "{:?}", differences(&by));
        // The same feature anywhere else is a difference.
        by.insert("lab-06".to_owned(), lab07);
        by.insert("lab-02".to_owned(), lab02);
        let d = differences(&by);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d[0].starts_with("hdrhistogram v7.6.0") && d[0].contains("lab-02 lacks serialization")
        );
        assert!(d[1].starts_with("tokio v1.54.1") && d[1].contains("lacks test-util"));
    }
}
