//! Building the Go programs some labs measure beside their Rust (lab-01's
//! maps, lab-02's goroutine-per-connection server, lab-06's goleak test).
//!
//! Go comes from Debian only: `golang-go` for the toolchain, and Debian's
//! packaged Go libraries (`golang-uber-goleak-dev` puts goleak's source
//! under `/usr/share/gocode/src`). No Go module can be downloaded on these
//! machines, so every build runs in GOPATH mode (`GO111MODULE=off`) with
//! Debian's tree as the GOPATH. Binaries and Go's build cache go under the
//! Cargo target directory (`target/go/`), so a build writes nothing to
//! `$HOME`; `GOENV=off` keeps a user's `go env -w` settings out of it, and
//! `GOFLAGS` is cleared for the same reason.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::{run_tool, target_dir};

/// Debian's tree of packaged Go sources (the GOPATH of every build).
pub const DEBIAN_GOPATH: &str = "/usr/share/gocode";

/// What to install when `go` is missing, for error messages.
pub const HINT: &str = "Go comes from Debian: `sudo apt-get install golang-go \
                        golang-uber-goleak-dev` (`cargo xtask setup` installs both)";

/// How long a build may take (the first one fills Go's build cache).
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// `go version`'s answer (`go version go1.19.8 linux/amd64`), or an error
/// that names the Debian package.
pub fn version() -> Result<String> {
    let out = Command::new("go")
        .arg("version")
        .env("GOENV", "off")
        .output()
        .with_context(|| format!("running `go version`: {HINT}"))?;
    if !out.status.success() {
        bail!(
            "`go version` failed ({}): {}; {HINT}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Where Go builds go: `go/` in the Cargo target directory of the running
/// binary (`target/release/lab-01` → `target/go`; a test binary in
/// `target/debug/deps` → `target/debug/go`).
pub fn out_dir() -> Result<PathBuf> {
    Ok(target_dir()?.join("go"))
}

/// A `go` command with the environment every build here uses: GOPATH
/// mode over Debian's tree, the build cache under [`out_dir`], no user
/// configuration.
pub fn command(out: &Path) -> Command {
    let mut cmd = Command::new("go");
    cmd.env("GO111MODULE", "off")
        .env("GOPATH", DEBIAN_GOPATH)
        .env("GOCACHE", out.join("cache"))
        .env("GOENV", "off")
        .env_remove("GOFLAGS");
    cmd
}

/// A program built, and how long the build took.
#[derive(Debug, Clone)]
pub struct Built {
    pub path: PathBuf,
    pub took: Duration,
}

/// Builds the Go package in `src` (a folder of `.go` files) into
/// `target/go/NAME`; with `test`, builds its test binary instead
/// (`go test -c`), which runs the tests when executed.
pub fn build(src: &Path, name: &str, test: bool) -> Result<Built> {
    if !src.is_dir() {
        bail!(
            "the Go sources of {name} are not at {} (this binary was built from another checkout?)",
            src.display()
        );
    }
    version()?;
    let out = out_dir()?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join(name);
    let mut cmd = command(&out);
    if test {
        cmd.args(["test", "-c", "-o"]);
    } else {
        cmd.args(["build", "-o"]);
    }
    cmd.arg(&path).arg(".").current_dir(src);
    let started = Instant::now();
    let run = run_tool(&mut cmd, BUILD_TIMEOUT)
        .with_context(|| format!("building {name} with go: {HINT}"))?;
    if !run.status.success() {
        bail!(
            "`go {} {}` in {} failed ({}):\n{}{}",
            if test { "test -c -o" } else { "build -o" },
            path.display(),
            src.display(),
            run.status,
            run.stdout,
            run.stderr
        );
    }
    Ok(Built {
        path,
        took: started.elapsed(),
    })
}

/// `go vet`'s and gofmt's view of `src`, and its own Go tests if it has
/// any: the problems each reports (empty when clean). Tests use it to keep
/// the Go sources idiomatic and tested.
pub fn lint(src: &Path) -> Result<Vec<String>> {
    let out = out_dir()?;
    let mut problems = Vec::new();
    let fmt = run_tool(
        Command::new("gofmt").arg("-l").arg(src),
        Duration::from_secs(60),
    )
    .with_context(|| format!("running gofmt: {HINT}"))?;
    problems.extend(
        fmt.stdout
            .lines()
            .map(|l| format!("not gofmt-formatted: {l}")),
    );
    let vet = run_tool(
        command(&out).args(["vet", "."]).current_dir(src),
        BUILD_TIMEOUT,
    )
    .with_context(|| format!("running go vet: {HINT}"))?;
    if !vet.status.success() {
        problems.push(format!("go vet: {}{}", vet.stdout, vet.stderr));
    }
    // The package's own Go tests, if it has any.
    let has_tests = std::fs::read_dir(src)
        .with_context(|| format!("reading {}", src.display()))?
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().ends_with("_test.go"));
    if has_tests {
        let test = run_tool(
            command(&out)
                .args(["test", "-count=1", "."])
                .current_dir(src),
            BUILD_TIMEOUT,
        )
        .with_context(|| format!("running go test: {HINT}"))?;
        if !test.status.success() {
            problems.push(format!("go test: {}{}", test.stdout, test.stderr));
        }
    }
    Ok(problems)
}
