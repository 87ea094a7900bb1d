//! `cargo xtask` browser check: loads the built book in headless Chromium
//! and checks what a reader does.
//!
//! The book is served by a tiny static server on `127.0.0.1:0`; Chromium is
//! driven over the Chrome DevTools Protocol (a small synchronous client over
//! one websocket). Checks:
//!
//! 1. every page loads with no JavaScript error, console error or failed
//!    resource;
//! 2. search finds each probe's page;
//! 3. the theme menu switches to a dark theme, which survives a reload;
//! 4. a lab card's copy button copies its command and shows feedback;
//! 5. an exercise's solution opens and shows its code;
//! 6. flame graphs load and their search works;
//! 7. every scene player (lab-07's recorded runs) steps through its trace
//!    by keyboard, buttons and scrubber, its panel showing exactly the
//!    trace's state for each step; a trace the reader recorded loads from
//!    a file, and a wrong file is refused with a visible error
//!    (`scenes.rs`).
//!
//! `run` returns `Err` only when the machinery fails (no Chromium, no
//! DevTools connection, ...); a failing check is a `passed: false` entry of
//! the report.

mod cdp;
mod checks;
mod chromium;
mod scenes;
mod server;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// What to check, and where.
#[derive(Debug, Clone)]
pub struct BrowserCheck {
    /// The built HTML book (mdBook's output folder, with `index.html`).
    pub book_dir: PathBuf,
    /// The Chromium binary, e.g. `/usr/bin/chromium`.
    pub chromium: PathBuf,
    /// Searches to try; each must list `expect_path` among its results.
    pub search: Vec<SearchProbe>,
    /// Bound on each single wait: Chromium's start, one page load, one
    /// condition polled in the page. The whole run takes a few of these at
    /// most, plus the time to load every page.
    pub timeout: Duration,
    /// Where the scene check gets the trace it loads through a player's
    /// file input.
    pub own_trace: OwnTrace,
}

/// A trace "the reader recorded", for the scene check's file load.
#[derive(Debug, Clone)]
pub enum OwnTrace {
    /// Record it as a reader would, for the first scene found:
    /// `cargo run --quiet -p lab-07 -- record SCENE --out FILE`, run in
    /// this workspace (see `scenes::record_own_trace`).
    Record { workspace: PathBuf },
    /// Use this file as it is (a fixture).
    File(PathBuf),
}

/// One search: `query` typed into the search bar must produce a result
/// linking to `expect_path`, relative to the book root.
#[derive(Debug, Clone)]
pub struct SearchProbe {
    /// What the reader types, e.g. `sharding`.
    pub query: String,
    /// The page that must be found, e.g. `part-1/locks.html`.
    pub expect_path: String,
}

/// The outcome of one check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// Short name, e.g. `pages load without JavaScript errors`.
    pub name: String,
    pub passed: bool,
    /// What was seen: on failure, the page, message and source line.
    pub detail: String,
}

/// All checks of one run.
#[derive(Debug, Clone)]
pub struct BrowserReport {
    pub checks: Vec<CheckResult>,
    /// How many HTML pages were loaded by the first check.
    pub pages: usize,
    pub elapsed: Duration,
}

impl BrowserReport {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

impl fmt::Display for BrowserReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            let mark = if check.passed { "ok  " } else { "FAIL" };
            writeln!(f, "{mark} {}", check.name)?;
            for line in check.detail.lines() {
                writeln!(f, "       {line}")?;
            }
        }
        let failed = self.checks.iter().filter(|c| !c.passed).count();
        writeln!(
            f,
            "browser check: {} passed, {failed} failed ({} pages, {:.1}s)",
            self.checks.len() - failed,
            self.pages,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Runs every check against `check.book_dir`.
pub fn run(check: &BrowserCheck) -> anyhow::Result<BrowserReport> {
    let started = Instant::now();
    if !check.book_dir.join("index.html").is_file() {
        bail!(
            "{} has no index.html: build the book first (mdbook build)",
            check.book_dir.display()
        );
    }
    let pages = html_pages(&check.book_dir)?;
    let prefix = site_prefix(&check.book_dir);
    let server = server::StaticServer::start(&check.book_dir, &prefix)?;
    let mut browser = chromium::Chromium::launch(&check.chromium, check.timeout)?;
    let cdp = cdp::Cdp::connect(browser.ws_url(), check.timeout)?;
    let mut tab = checks::Tab::open(cdp, server.book_url(), check.timeout)?;
    let ctx = checks::Context {
        book_dir: &check.book_dir,
        origin: server.origin(),
        pages: &pages,
    };

    let mut results = Vec::new();
    type Check =
        fn(&mut checks::Tab, &checks::Context<'_>, &BrowserCheck) -> anyhow::Result<String>;
    let all: [(&str, Check); 7] = [
        ("pages load without JavaScript errors", checks::pages_load),
        ("search finds the expected pages", checks::search),
        (
            "theme switch to a dark theme persists",
            checks::theme_switch,
        ),
        (
            "lab card copy button copies the command",
            checks::lab_card_copy,
        ),
        (
            "exercise solution reveals its code",
            checks::exercise_reveal,
        ),
        (
            "flame graphs load and their search works",
            checks::flame_graphs,
        ),
        (
            "scenes step through and their panels match the trace",
            scenes::scenes,
        ),
    ];
    for (name, run_check) in all {
        let outcome = run_check(&mut tab, &ctx, check);
        if let Some(broken) = tab.broken() {
            return Err(broken.context(format!("lost the DevTools connection during `{name}`")));
        }
        results.push(match outcome {
            Ok(detail) => CheckResult {
                name: name.to_owned(),
                passed: true,
                detail,
            },
            Err(e) => CheckResult {
                name: name.to_owned(),
                passed: false,
                detail: format!("{e:#}"),
            },
        });
    }
    tab.close_browser();
    browser.wait_exit(Duration::from_secs(3));
    drop(server);
    Ok(BrowserReport {
        checks: results,
        pages: pages.len(),
        elapsed: started.elapsed(),
    })
}

/// Every `.html` file below `dir`, as sorted `/`-separated relative paths.
fn html_pages(dir: &Path) -> anyhow::Result<Vec<String>> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) -> anyhow::Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel_name = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(&entry.path(), &rel_name, out)?;
            } else if name.ends_with(".html") {
                out.push(rel_name);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

/// The URL path the book expects to live under, from the `<base href>` that
/// mdBook writes into `404.html` (its `site-url`); `/` when there is none.
/// Serving the book there makes `404.html` load its assets as deployed.
fn site_prefix(book_dir: &Path) -> String {
    let Ok(html) = std::fs::read_to_string(book_dir.join("404.html")) else {
        return "/".to_owned();
    };
    html.split("<base href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .filter(|href| href.starts_with('/'))
        .map(server::normalize_prefix)
        .unwrap_or_else(|| "/".to_owned())
}

/// A directory removed (with everything in it) on drop: the kit's.
pub(crate) use kit::testutil::TempDir;
