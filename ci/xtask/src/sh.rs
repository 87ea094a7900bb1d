//! Running commands: every command is echoed before it runs, so a reader of
//! the log can rerun it by hand, and every failure says which command failed.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Prints a step heading on stderr.
pub fn step(msg: &str) {
    eprintln!("\n==> {msg}");
}

/// Prints a progress line on stderr.
pub fn say(msg: &str) {
    eprintln!("    {msg}");
}

/// Renders a command as a copy-pasteable shell line.
pub fn display(cmd: &Command) -> String {
    let mut parts = Vec::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            parts.push(format!("{}={}", k.to_string_lossy(), quote(v)));
        }
    }
    parts.push(quote(cmd.get_program()));
    parts.extend(cmd.get_args().map(quote));
    parts.join(" ")
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Runs a command with inherited stdio; fails if it exits non-zero.
pub fn run(cmd: &mut Command) -> Result<Duration> {
    let line = display(cmd);
    say(&format!("$ {line}"));
    let start = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(start.elapsed())
}

/// Runs a command and captures its output (stdout and stderr), whatever the
/// exit status. The caller decides what failure means.
pub fn capture(cmd: &mut Command) -> Result<Output> {
    let line = display(cmd);
    say(&format!("$ {line}"));
    cmd.stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{line}`"))
}

/// Runs a command and returns its stdout; fails on a non-zero exit with
/// its stderr in the error.
pub fn read(cmd: &mut Command) -> Result<String> {
    let line = display(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !out.status.success() {
        bail!(
            "`{line}` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `cargo` as a command, run from `root`.
pub fn cargo(root: &Path) -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root);
    c
}

/// True when this process runs as root (so it may install Debian packages).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A step's time: `12.3s` under a minute, whole seconds above it
/// (`1m05s`; 119.6 s is `2m00s`, never `1m60s`).
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 59.95 {
        let whole = s.round() as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        format!("{s:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_into_the_next_minute() {
        let f = |s: f64| fmt_duration(Duration::from_secs_f64(s));
        assert_eq!(f(12.34), "12.3s");
        assert_eq!(f(59.96), "1m00s");
        assert_eq!(f(65.2), "1m05s");
        assert_eq!(f(119.6), "2m00s");
        assert_eq!(f(299.5), "5m00s");
    }

    #[test]
    fn display_quotes_only_when_needed() {
        let mut c = Command::new("cargo");
        c.args(["run", "-p", "lab-01", "--", "a b"])
            .env("RUSTFLAGS", "--cfg loom");
        assert_eq!(
            display(&c),
            "RUSTFLAGS='--cfg loom' cargo run -p lab-01 -- 'a b'"
        );
    }

    #[test]
    fn failing_command_names_itself() {
        let err = run(Command::new("false").arg("x")).unwrap_err();
        assert!(err.to_string().contains("`false x` failed"), "{err}");
    }
}
