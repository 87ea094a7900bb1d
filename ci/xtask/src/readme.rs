//! The READMEs' commands, run as written (a suite step).
//!
//! A reader copies commands from `README.md`, `labs/*/README.md` and the
//! lab cards at the top of the chapters into a terminal; each must work
//! there. A card's commands run in the order the card shows them: what must
//! already be running (`ul-needs`), the lab's command (`ul-run`), and what
//! to try next (`ul-then`), with `{{#value}}` references filled in from the
//! committed results, as the page shows them. This step finds them (lines of fenced
//! `console`/`sh`/`bash` blocks, and inline `cargo …`/`redis-cli …` code in
//! list items), then runs each from the repository root with `sh -c`, in
//! the order written, one README at a time:
//!
//! - a server (a command that names a port or an address to listen on)
//!   is started when it accepts connections on every address it names,
//!   within [`SERVER_START`]; any other command that finishes within
//!   [`SETTLE`] must exit 0;
//! - one still running then has started and is working (a server, a
//!   measurement of minutes): it passes if it printed no error, and stays up
//!   in the background until the README's last command, so the next line
//!   (`redis-cli -p 6380 …`, a load against it) finds it, as the reader's
//!   would; at the end of the group, one that is not a server gets up to
//!   [`GRACE`] more to finish, and once it has exited (a ten-second load,
//!   a profile) its exit status is judged like any other's;
//! - a self-contained command (no server address, no file written by an
//!   earlier line) that already passed on an earlier page is not run again;
//! - commands on the exercises run against the starters, whose tests fail
//!   by design: they must run and report the failing exercise, not succeed
//!   (the `exercises` step proves every solution passes).
//!
//! Three commands are not run, each for a stated reason: the suite itself
//! (`cargo xtask test`), the full results pipeline (half an hour, and it
//! rewrites committed files; the `results` step runs the same pipeline in
//! quick mode) and the scaffold (its own step). Everything else is.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long a command that is not a server may take before it counts as
/// long-running (a load, a measurement: it has parsed its arguments and
/// started by then, or failed).
pub const SETTLE: Duration = Duration::from_secs(2);

/// How long a server may take to accept connections on every address its
/// command names (cargo's check that it is built, then its start-up, on a
/// machine the group's earlier commands may be loading). A server is up
/// when it listens, not after a fixed wait: the next line connects to it.
pub const SERVER_START: Duration = Duration::from_secs(30);

/// How long, at the end of a group, its long-running commands that are
/// not servers may still take to finish and be judged (in all, from the
/// group's last command).
pub const GRACE: Duration = Duration::from_secs(10);

/// A command that serves until stopped: it listens on a port.
pub fn is_server(command: &str) -> bool {
    command.contains("--port")
        || command.contains("--listen")
        || command.split_whitespace().any(|w| w == "serve")
}

/// The addresses a server command listens on, as its flags name them
/// (`--port N` on 127.0.0.1, `--listen`, `--debug-addr`, `--control`; the
/// book's own server on its default port). Port 0 (any free port) names
/// none.
pub fn listen_addrs(command: &str) -> Vec<String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let mut out = Vec::new();
    for w in words.windows(2) {
        match w[0] {
            "--port" if w[1] != "0" => out.push(format!("127.0.0.1:{}", w[1])),
            "--listen" | "--debug-addr" | "--control" => out.push(w[1].to_owned()),
            _ => {}
        }
    }
    if out.is_empty() && command.trim_start().starts_with("cargo xtask serve") {
        out.push("127.0.0.1:3000".to_owned());
    }
    out
}

fn accepts(addr: &str) -> bool {
    use std::net::ToSocketAddrs;
    let Ok(mut addrs) = addr.to_socket_addrs() else {
        return false;
    };
    addrs.any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok())
}

/// One command as written, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub file: String,
    pub line: usize,
    pub command: String,
}

/// Why a command is not run, if it is one of the three.
pub fn not_run(command: &str) -> Option<&'static str> {
    let c = command.trim();
    if c.starts_with("cargo xtask test") {
        Some("this is the suite itself")
    } else if c.starts_with("cargo xtask results") && !c.contains("--quick") {
        Some(
            "the full pipeline takes half an hour and rewrites src/results/; the `results` step runs it in quick mode",
        )
    } else if c.starts_with("cargo xtask new-lab") {
        Some("the `scaffold` step runs it")
    } else {
        None
    }
}

/// A command whose result depends on nothing else the page started (no
/// server address, no file an earlier line wrote), so a second copy of it
/// on another page would only repeat the first.
pub fn self_contained(command: &str) -> bool {
    let c = command.trim();
    !(c.starts_with("redis-cli")
        || c.starts_with("curl")
        || c.starts_with("go ")
        || c.contains("127.0.0.1")
        || c.contains("localhost")
        || c.contains("--baseline")
        || c.contains('>')
        || on_starters(c))
}

/// The package a `cargo run -p NAME` command builds, and whether in
/// release.
pub fn cargo_run_package(command: &str) -> Option<(String, bool)> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let at = words.windows(2).position(|w| w == ["cargo", "run"])?;
    let args = &words[at + 2..];
    let args = &args[..args.iter().position(|a| *a == "--").unwrap_or(args.len())];
    let package = args
        .windows(2)
        .find(|w| w[0] == "-p" || w[0] == "--package")
        .map(|w| w[1].to_owned())?;
    Some((package, args.contains(&"--release")))
}

/// Commands on an exercise starter, which fail until the learner solves it.
pub fn on_starters(command: &str) -> bool {
    command.contains("xtask exercise check") || command.contains("-exercises")
}

/// The commands a README shows, in order.
pub fn commands(file: &str, text: &str) -> Vec<Written> {
    let mut out = Vec::new();
    let mut fence: Option<bool> = None; // Some(runnable?)
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if let Some(lang) = trimmed.strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(matches!(lang.trim(), "console" | "sh" | "bash" | "shell")),
            };
            continue;
        }
        match fence {
            Some(true) => {
                let line = strip_comment(trimmed);
                let line = line.strip_prefix("$ ").unwrap_or(line);
                if line.is_empty() {
                    continue;
                }
                let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
                if let Some(cont) = line.strip_suffix('\\') {
                    acc.push_str(cont.trim_end());
                    acc.push(' ');
                    pending = Some((start, acc));
                } else {
                    acc.push_str(line);
                    out.push(Written {
                        file: file.to_owned(),
                        line: start,
                        command: acc,
                    });
                }
            }
            Some(false) => {}
            None => {
                if !(trimmed.starts_with("- ") || trimmed.starts_with("* ")) {
                    continue;
                }
                let mut rest = trimmed;
                while let Some(a) = rest.find('`') {
                    let after = &rest[a + 1..];
                    let Some(b) = after.find('`') else { break };
                    let code = &after[..b];
                    if code.starts_with("cargo ") || code.starts_with("redis-cli ") {
                        out.push(Written {
                            file: file.to_owned(),
                            line: i + 1,
                            command: code.to_owned(),
                        });
                    }
                    rest = &after[b + 1..];
                }
            }
        }
    }
    out
}

/// The commands of the lab cards in one chapter, in the order shown.
pub fn card_commands(file: &str, text: &str) -> Vec<Written> {
    let mut out = Vec::new();
    let mut in_card = false;
    for (i, line) in text.lines().enumerate() {
        if line.contains("class=\"ul-lab-card\"") {
            in_card = true;
            continue;
        }
        if !in_card {
            continue;
        }
        if line.trim() == "</div>" {
            in_card = false;
            continue;
        }
        let runnable = ["ul-needs", "ul-run", "ul-then"]
            .iter()
            .any(|c| line.contains(&format!("class=\"{c}\"")));
        if !runnable {
            continue;
        }
        let mut rest = line;
        while let Some(a) = rest.find("<code>") {
            let after = &rest[a + "<code>".len()..];
            let Some(b) = after.find("</code>") else {
                break;
            };
            let code = after[..b]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            if code.starts_with("cargo ") || code.starts_with("redis-cli ") {
                out.push(Written {
                    file: file.to_owned(),
                    line: i + 1,
                    command: code,
                });
            }
            rest = &after[b..];
        }
    }
    out
}

/// A line without its trailing `# comment` (a `#` outside quotes, after a
/// space).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if prev.is_whitespace() => return line[..i].trim_end(),
            _ => {}
        }
        prev = c;
    }
    line.trim_end()
}

#[derive(Debug)]
struct Running {
    what: String,
    child: Child,
    written: Written,
    log: std::path::PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        // The process group: `sh -c` and the cargo, server or tool under it.
        // `--` so that kill(1) reads `-PGID` as a process group, not an option.
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Whether a command that has exited did what it should: succeed, or, on
/// the exercise starters, fail and say why.
fn judge(w: &Written, status: std::process::ExitStatus, output: &str) -> Result<()> {
    let starter = on_starters(&w.command);
    if status.success() && !starter {
        return Ok(());
    }
    if starter && !status.success() {
        // Failing is right only for the right reason: the exercise is
        // there, builds, and its tests fail. A wrong id or a starter that
        // does not compile fails too, and must not pass for it.
        let unsolved =
            !w.command.contains("xtask exercise check") || output.contains("is not solved yet");
        let broken = output.contains("could not compile") || output.contains("has no exercise");
        if unsolved && !broken && !output.trim().is_empty() {
            return Ok(());
        }
        bail!(
            "{}:{}: `{}` must fail as an unsolved exercise does (its tests fail), not like this:\n{}",
            w.file,
            w.line,
            w.command,
            tail(output)
        );
    }
    if starter && status.success() {
        bail!(
            "{}:{}: `{}` passed, but it runs on the unsolved starters, which must fail",
            w.file,
            w.line,
            w.command
        );
    }
    bail!(
        "{}:{}: `{}` failed ({status}); its output:\n{}",
        w.file,
        w.line,
        w.command,
        tail(output)
    )
}

/// Runs one command; `Ok(Some(child))` when it is still running (kept in
/// the background), `Ok(None)` when it finished as expected.
fn run_one(root: &Path, w: &Written, log_dir: &Path, n: usize) -> Result<Option<Running>> {
    use std::os::unix::process::CommandExt;
    let log = log_dir.join(format!("{n:02}.log"));
    let file = std::fs::File::create(&log)?;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &w.command])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .env("RUST_BACKTRACE", "0")
        .process_group(0);
    let child = cmd
        .spawn()
        .with_context(|| format!("starting `{}`", w.command))?;
    let mut running = Running {
        what: w.command.clone(),
        child,
        written: w.clone(),
        log: log.clone(),
    };
    let started = Instant::now();
    // A server is waited for until it listens; anything else for SETTLE.
    let addrs = if is_server(&w.command) {
        listen_addrs(&w.command)
    } else {
        Vec::new()
    };
    let settled = |elapsed: Duration| {
        if addrs.is_empty() {
            elapsed >= SETTLE
        } else {
            addrs.iter().all(|a| accepts(a))
        }
    };
    loop {
        if let Some(status) = running.child.try_wait()? {
            judge(w, status, &read_log(&log))?;
            return Ok(None);
        }
        if settled(started.elapsed()) {
            break;
        }
        if started.elapsed() > SERVER_START {
            bail!(
                "{}:{}: `{}` is still not accepting connections on {} after {}; its output:\n{}",
                w.file,
                w.line,
                w.command,
                addrs.join(" and "),
                kit::fmt::fmt_duration(SERVER_START),
                tail(&read_log(&log))
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = read_log(&log);
    if output.lines().any(|l| {
        let l = l.trim_start().to_ascii_lowercase();
        l.starts_with("error") || l.contains("[error]")
    }) {
        bail!(
            "{}:{}: `{}` is still running after {} but printed an error:\n{}",
            w.file,
            w.line,
            w.command,
            kit::fmt::fmt_duration(started.elapsed()),
            tail(&output)
        );
    }
    Ok(Some(running))
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The READMEs whose commands the suite runs.
pub fn readmes(root: &Path) -> Result<Vec<String>> {
    let mut out = vec!["README.md".to_owned()];
    let mut labs: Vec<String> = std::fs::read_dir(root.join("labs"))?
        .filter_map(|e| e.ok())
        .map(|e| format!("labs/{}/README.md", e.file_name().to_string_lossy()))
        .filter(|p| root.join(p).exists())
        .collect();
    labs.sort();
    out.extend(labs);
    Ok(out)
}

/// Counts over the whole step.
#[derive(Default)]
struct Tally {
    /// Commands started, for the log file names.
    n: usize,
    ran: usize,
    kept: usize,
    skipped: usize,
    /// Commands shown again on a later page.
    repeated: usize,
    /// Self-contained commands that passed, and where they were first
    /// written.
    passed: std::collections::BTreeMap<String, String>,
}

/// Runs one README's or one card's commands in order; those still running
/// after [`SETTLE`] stay up until the group's last command has run.
fn run_group(
    root: &Path,
    log_dir: &Path,
    list: Vec<Written>,
    scope: &str,
    t: &mut Tally,
) -> Result<()> {
    let mut background: Vec<Running> = Vec::new();
    for w in list {
        if let Some(why) = not_run(&w.command) {
            crate::sh::say(&format!("not run: {} ({why})", w.command));
            t.skipped += 1;
            continue;
        }
        if let Some(at) = t.passed.get(&w.command) {
            crate::sh::say(&format!(
                "already passed: {} ({at}; it talks to no server, so it runs the same here)",
                w.command
            ));
            t.repeated += 1;
            continue;
        }
        crate::sh::say(&format!("$ {}   ({}:{})", w.command, w.file, w.line));
        t.n += 1;
        t.ran += 1;
        let kept = run_one(root, &w, log_dir, t.n)?;
        if kept.is_none() && self_contained(&w.command) {
            t.passed
                .insert(w.command.clone(), format!("{}:{}", w.file, w.line));
        }
        if let Some(r) = kept {
            crate::sh::say(&format!(
                "  still running: {}; kept until the end of {scope}",
                if is_server(&w.command) && !listen_addrs(&w.command).is_empty() {
                    "listening"
                } else {
                    "started"
                }
            ));
            t.kept += 1;
            background.push(r);
        }
    }
    // A command kept in the background that has finished since (a load
    // of ten seconds, a profile) is judged like any other; one still
    // running (a server) is stopped. Commands that are not servers get a
    // little longer to finish first, so one that fails a few seconds
    // after the settle time is still caught.
    let grace = Instant::now() + GRACE;
    for r in background.iter_mut() {
        if is_server(&r.what) {
            continue;
        }
        while Instant::now() < grace && r.child.try_wait()?.is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    while let Some(mut r) = background.pop() {
        if let Some(status) = r.child.try_wait()? {
            crate::sh::say(&format!("  `{}` finished in the background", r.what));
            judge(&r.written, status, &read_log(&r.log))?;
        } else {
            crate::sh::say(&format!("  stopping `{}`", r.what));
        }
        drop(r);
    }
    Ok(())
}

/// The suite step: every README command, run as written. Returns a summary.
pub fn run(root: &Path) -> Result<String> {
    let mut groups: Vec<(String, Vec<Written>)> = Vec::new();
    for file in readmes(root)? {
        let text = std::fs::read_to_string(root.join(&file))?;
        groups.push((file.clone(), commands(&file, &text)));
    }
    // The lab cards: each distinct card once (two chapters may show the
    // same lab's card).
    let mut seen = std::collections::BTreeSet::new();
    let mut cards = 0;
    for (page, text) in crate::prose::pages(root)? {
        if !page.starts_with("src/") {
            continue;
        }
        let text = crate::preprocess::expand_committed_values(root, &text)?;
        let list = card_commands(&page, &text);
        let key: Vec<String> = list.iter().map(|w| w.command.clone()).collect();
        if list.is_empty() || !seen.insert(key) {
            continue;
        }
        cards += 1;
        groups.push((format!("the lab card of {page}"), list));
    }
    // Build first, so the settle time measures the command, not cargo:
    // each package the commands run, alone and in the profile they ask
    // for, because `cargo run -p X` builds X with X's own features (a
    // workspace-wide build would compile every dependency a second time
    // with the features of all members together).
    let mut builds = std::collections::BTreeSet::new();
    for (_, list) in &groups {
        for w in list {
            if not_run(&w.command).is_none() {
                builds.extend(cargo_run_package(&w.command));
            }
        }
    }
    for (package, release) in builds {
        let mut c = crate::sh::cargo(root);
        c.args(["build", "--quiet", "--bins", "-p", &package]);
        if release {
            c.arg("--release");
        }
        crate::sh::run(&mut c)?;
    }
    let log_dir = root.join("target/readme-commands");
    std::fs::create_dir_all(&log_dir)?;
    let mut t = Tally::default();
    for (scope, list) in groups {
        run_group(root, &log_dir, list, &scope, &mut t)?;
    }
    let Tally {
        ran,
        kept,
        skipped,
        repeated,
        ..
    } = t;
    Ok(format!(
        "{ran} README and lab-card commands ran as written ({cards} cards; {kept} long-running), {repeated} repeats of a passed command, {skipped} not run by design"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_commands_in_fences_and_list_items() {
        let text = "# x\n\n```console\ncargo run -p a -- --help   # what it does\n$ cargo xtask test\n\nFOO=1 \\\n    cargo test -p b\n```\n\n```rust\nfn main() {}\n```\n\n- Run it: `cargo run -p c` then `redis-cli -p 6380 ping`\n- Not this: `ls`\n\nProse `cargo run -p d` is not a list item.\n";
        let c: Vec<String> = commands("R.md", text)
            .into_iter()
            .map(|w| w.command)
            .collect();
        assert_eq!(
            c,
            [
                "cargo run -p a -- --help",
                "cargo xtask test",
                "FOO=1 cargo test -p b",
                "cargo run -p c",
                "redis-cli -p 6380 ping"
            ]
        );
        assert_eq!(commands("R.md", text)[2].line, 7);
        assert_eq!(
            strip_comment("echo '# not a comment' # yes"),
            "echo '# not a comment'"
        );
    }

    #[test]
    fn finds_a_cards_commands_in_order() {
        let page = "# T\n\n<div class=\"ul-lab-card\" data-lab=\"lab-03\">\n<div class=\"ul-lab-card-title\">Run it</div>\n<div class=\"ul-needs\">First: <code>cargo run -p lab-03 -- target --port 8080</code> (or <code>--port 0</code>).</div>\n<div class=\"ul-run\"><code>cargo run -p lab-03 -- http http://127.0.0.1:8080/ -d 2s</code></div>\n<div class=\"ul-then\">Then: <code>redis-cli -p 6380 ping</code></div>\n<div class=\"ul-lab-links\"><code>cargo xtask exercise list lab-03</code></div>\n</div>\n\n<div class=\"ul-run\"><code>cargo run -p not-a-card</code></div>\n";
        let c: Vec<String> = card_commands("p.md", page)
            .into_iter()
            .map(|w| w.command)
            .collect();
        assert_eq!(
            c,
            [
                "cargo run -p lab-03 -- target --port 8080",
                "cargo run -p lab-03 -- http http://127.0.0.1:8080/ -d 2s",
                "redis-cli -p 6380 ping"
            ]
        );
    }

    #[test]
    fn the_three_exceptions_and_the_starters() {
        assert!(not_run("cargo xtask test").is_some());
        assert!(not_run("cargo xtask results").is_some());
        assert!(not_run("cargo xtask results --quick --only lab-01").is_none());
        assert!(not_run("cargo run -p lab-01 -- bench").is_none());
        assert!(on_starters("cargo xtask exercise check lab-01 shard-index"));
        assert!(on_starters(
            "cargo run -p lab-01-exercises --release -- bench"
        ));
        assert!(!on_starters("cargo xtask exercise list"));
    }

    #[test]
    fn a_background_command_that_fails_later_fails_the_group() {
        let dir = std::env::temp_dir().join(format!("ul-readme-bg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let w = |c: &str, line| Written {
            file: "R.md".into(),
            line,
            command: c.into(),
        };
        let settle = SETTLE.as_secs() + 1;
        // Outlives the settle time, then fails while the next line runs.
        let late = format!("sleep {settle}; echo late trouble; exit 4");
        let wait = format!("sleep {}", settle + 1);
        let mut t = Tally::default();
        let err =
            run_group(&dir, &dir, vec![w(&late, 1), w(&wait, 2)], "R.md", &mut t).unwrap_err();
        assert!(format!("{err:#}").contains("late trouble"), "{err:#}");
        // A server that is still running at the end is stopped, not failed.
        let mut t = Tally::default();
        run_group(
            &dir,
            &dir,
            vec![w("sleep 60 # serve", 1), w("true", 2)],
            "R.md",
            &mut t,
        )
        .unwrap();
        assert_eq!(t.kept, 1);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_server_is_waited_for_on_every_address_it_names() {
        assert_eq!(
            listen_addrs(
                "cargo run -p lab-06 --release -- serve --port 6380 --debug-addr 127.0.0.1:6060"
            ),
            ["127.0.0.1:6380", "127.0.0.1:6060"]
        );
        assert_eq!(
            listen_addrs(
                "cargo run -p lab-05 -- proxy --listen 127.0.0.1:7000 --upstream 127.0.0.1:6380 --control 127.0.0.1:7001"
            ),
            ["127.0.0.1:7000", "127.0.0.1:7001"]
        );
        assert_eq!(listen_addrs("cargo xtask serve"), ["127.0.0.1:3000"]);
        assert!(listen_addrs("cargo run -p lab-03 -- target --port 0").is_empty());
        // Waited for until it listens, not for a fixed time; a server that
        // never listens fails with what it printed.
        let dir = std::env::temp_dir().join(format!("ul-readme-srv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let w = |c: String| Written {
            file: "R.md".into(),
            line: 1,
            command: c,
        };
        let started = Instant::now();
        let kept = run_one(&dir, &w(format!("sleep 60 # --port {port}")), &dir, 1).unwrap();
        assert!(
            kept.is_some() && started.elapsed() < SETTLE,
            "{:?}",
            started.elapsed()
        );
        drop(kept);
        let err = run_one(
            &dir,
            &w("echo cannot bind; exit 1; --port 9".into()),
            &dir,
            2,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("cannot bind"), "{err:#}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn finds_the_package_a_command_runs() {
        assert_eq!(
            cargo_run_package("cargo run -p lab-02 --release -- --model event-loop -p 3"),
            Some(("lab-02".into(), true))
        );
        assert_eq!(
            cargo_run_package("RUST_LOG=x cargo run --package lab-05 -- provoke"),
            Some(("lab-05".into(), false))
        );
        assert_eq!(cargo_run_package("cargo test -p lab-01"), None);
        assert_eq!(cargo_run_package("redis-cli -p 6380 ping"), None);
    }

    #[test]
    fn a_repeated_self_contained_command_runs_once() {
        let dir = std::env::temp_dir().join(format!("ul-readme-rep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let w = |c: &str, file: &str| Written {
            file: file.into(),
            line: 1,
            command: c.into(),
        };
        let mut t = Tally::default();
        run_group(&dir, &dir, vec![w("echo x >> count", "A.md")], "A", &mut t).unwrap();
        run_group(&dir, &dir, vec![w("echo x >> count", "B.md")], "B", &mut t).unwrap();
        // Writes a file, so not self-contained: it ran twice.
        assert_eq!(
            std::fs::read_to_string(dir.join("count")).unwrap(),
            "x\nx\n"
        );
        run_group(&dir, &dir, vec![w("true", "A.md")], "A", &mut t).unwrap();
        run_group(&dir, &dir, vec![w("true", "B.md")], "B", &mut t).unwrap();
        assert_eq!((t.ran, t.repeated), (3, 1));
        assert!(self_contained(
            "cargo run -p lab-04 --release -- profile --seconds 5"
        ));
        assert!(!self_contained("redis-cli -p 6380 ping"));
        assert!(!self_contained(
            "cargo run -p lab-06 -- tasks 127.0.0.1:6060"
        ));
        assert!(!self_contained(
            "cargo xtask exercise check lab-01 shard-index"
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_failing_command_fails_and_a_passing_starter_too() {
        let dir = std::env::temp_dir().join(format!("ul-readme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let w = |c: &str| Written {
            file: "R.md".into(),
            line: 1,
            command: c.into(),
        };
        assert!(run_one(&dir, &w("true"), &dir, 1).unwrap().is_none());
        let err = run_one(&dir, &w("echo boom; exit 3"), &dir, 2).unwrap_err();
        assert!(format!("{err:#}").contains("boom"), "{err:#}");
        let err = run_one(&dir, &w("cargo xtask exercise check x y; true"), &dir, 3).unwrap_err();
        assert!(format!("{err:#}").contains("must fail"), "{err:#}");
        // A starter command that fails for the wrong reason fails.
        let err = run_one(
            &dir,
            &w("cargo xtask exercise check lab-07 nope; echo 'lab-07 has no exercise nope'; exit 1"),
            &dir,
            4,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("unsolved exercise"), "{err:#}");
        assert!(
            run_one(
                &dir,
                &w("cargo xtask exercise check lab-07 x; echo 'error: exercise lab-07/x is not solved yet'; exit 1"),
                &dir,
                5
            )
            .unwrap()
            .is_none()
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
