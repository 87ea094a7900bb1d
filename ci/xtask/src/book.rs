//! Building and serving the book.
//!
//! `mdbook build` runs both backends declared in `book.toml`: `html` and
//! `linkcheck2` (internal links and `#anchors` checked, web links not
//! followed because CI has no internet). The build fails on any warning,
//! because a warning in mdBook usually means a missing include or a broken
//! link that the reader would meet.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::sh;
use crate::tools::{self, LINKCHECK, MDBOOK};

/// An `mdbook` command that can find the pinned linkcheck2 backend.
pub fn mdbook(root: &Path, book_dir: &Path) -> Command {
    let mut c = Command::new(tools::bin(root, MDBOOK));
    let bin_dir = tools::tools_dir(root).join("bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin_dir];
    dirs.extend(std::env::split_paths(&path));
    if let Ok(joined) = std::env::join_paths(dirs) {
        c.env("PATH", joined);
    }
    c.current_dir(book_dir);
    c
}

/// Lines of mdBook's log that must not appear in a clean build.
pub fn problems(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            let u = l.to_ascii_uppercase();
            u.contains(" WARN")
                || u.contains("[WARN")
                || u.contains(" ERROR")
                || u.contains("[ERROR")
                || u.starts_with("WARN")
                || u.starts_with("ERROR")
                || u.contains("WARNING:")
        })
        .map(str::to_owned)
        .collect()
}

/// Builds the book in `book_dir` (the folder with `book.toml`) and returns
/// the HTML output folder. Fails if mdBook fails or prints a warning.
pub fn build(root: &Path, book_dir: &Path) -> Result<PathBuf> {
    if !tools::bin(root, LINKCHECK).exists() {
        bail!("mdbook-linkcheck2 is not installed; run `cargo xtask setup`");
    }
    let out = sh::capture(mdbook(root, book_dir).arg("build"))?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = problems(&log);
    if !out.status.success() || !bad.is_empty() {
        bail!(
            "the book did not build cleanly ({}):\n{}\n--- full log ---\n{log}",
            out.status,
            bad.join("\n")
        );
    }
    let html = book_dir.join("book/html");
    if !html.join("index.html").exists() {
        bail!(
            "mdbook build succeeded but {} has no index.html",
            html.display()
        );
    }
    let broken = broken_anchors(&html)?;
    if !broken.is_empty() {
        bail!(
            "the book has links to anchors that do not exist (linkcheck2 checks files, this checks #fragments):\n  {}",
            broken.join("\n  ")
        );
    }
    sh::say(&format!("book built: {}", html.display()));
    Ok(html)
}

fn html_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            html_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "html") {
            out.push(p);
        }
    }
    Ok(())
}

/// Every `href="…"` value in a page.
pub fn hrefs(html: &str) -> Vec<&str> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Internal links whose `#fragment` names no element in the target page.
/// (mdbook-linkcheck2 checks that linked files exist, not fragments.)
pub fn broken_anchors(html_dir: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    html_files(html_dir, &mut files)?;
    let mut cache: std::collections::HashMap<PathBuf, String> = Default::default();
    let mut broken = Vec::new();
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The print page and the 404 page are generated copies whose links
        // point back into the book; checking the chapters covers them.
        if name == "print.html" || name == "404.html" {
            continue;
        }
        let text = std::fs::read_to_string(file)?;
        for href in hrefs(&text) {
            if href.contains("://") || href.starts_with("mailto:") || href.starts_with("//") {
                continue;
            }
            let Some((path, frag)) = href.split_once('#') else {
                continue;
            };
            if frag.is_empty() {
                continue;
            }
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap_or(html_dir).join(path)
            };
            if target.extension().is_none_or(|x| x != "html") {
                continue;
            }
            if !cache.contains_key(&target) {
                let t = std::fs::read_to_string(&target).unwrap_or_default();
                cache.insert(target.clone(), t);
            }
            let page = &cache[&target];
            let frag = percent_decode(frag);
            if !page.contains(&format!("id=\"{frag}\"")) {
                let shown = file
                    .strip_prefix(html_dir)
                    .unwrap_or(file)
                    .display()
                    .to_string();
                broken.push(format!("{shown}: {href}"));
            }
        }
    }
    broken.sort();
    broken.dedup();
    Ok(broken)
}

pub fn serve(root: &Path, port: u16, open: bool) -> Result<()> {
    let mut c = mdbook(root, root);
    c.args([
        "serve",
        "--hostname",
        "127.0.0.1",
        "--port",
        &port.to_string(),
    ]);
    if open {
        c.arg("--open");
    }
    sh::say(&format!(
        "serving the book on http://127.0.0.1:{port}/ (Ctrl-C to stop)"
    ));
    sh::run(&mut c)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_and_errors_are_problems() {
        let log = " INFO Book building has started\n WARN Unable to find include file\n2026-01-01 [ERROR] (mdbook) broken\nfine";
        assert_eq!(problems(log).len(), 2);
        assert!(problems(" INFO Running the html backend\n").is_empty());
    }

    #[test]
    fn hrefs_and_fragments() {
        let page = r##"<a href="two.html#a%20b">x</a> <a href="https://x.org/#y">w</a>"##;
        assert_eq!(hrefs(page), vec!["two.html#a%20b", "https://x.org/#y"]);
        assert_eq!(percent_decode("a%20b"), "a b");
    }
}
