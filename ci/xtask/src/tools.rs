//! Pinned tools and system packages.
//!
//! mdBook, mdbook-linkcheck2 and cargo-fuzz are installed with `cargo install --locked
//! --debug` at fixed versions into `.tools/` inside the repository, so a fresh clone
//! needs nothing installed by hand and no global tool's version can change
//! what the book looks like. Debian packages (Chromium for the browser
//! check) are installed with apt when running as root; otherwise the exact
//! command is printed and the step fails. CI runs the suite as root in a
//! Debian 12 container (`.github/workflows/test.yml`), so the suite installs
//! them itself, exactly as on a fresh machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::sh;

/// A tool installed from crates.io at a fixed version.
#[derive(Debug, Clone, Copy)]
pub struct Pinned {
    pub krate: &'static str,
    pub version: &'static str,
    pub bin: &'static str,
}

// ANCHOR: pinned
/// mdBook 0.5.x renders the book.
pub const MDBOOK: Pinned = Pinned {
    krate: "mdbook",
    version: "0.5.4",
    bin: "mdbook",
};

/// The maintained fork of mdbook-linkcheck; the original (0.7.7) cannot read
/// mdBook 0.5's render context ("missing field `sections`").
pub const LINKCHECK: Pinned = Pinned {
    krate: "mdbook-linkcheck2",
    version: "0.13.0",
    bin: "mdbook-linkcheck2",
};

/// Runs lab-02's protocol fuzz target under libFuzzer. Works on stable
/// Rust with `-s none` (coverage instrumentation only, no sanitizer, which
/// a crate that forbids `unsafe` does not need).
pub const CARGO_FUZZ: Pinned = Pinned {
    krate: "cargo-fuzz",
    version: "0.13.2",
    bin: "cargo-fuzz",
};

pub const PINNED: [Pinned; 3] = [MDBOOK, LINKCHECK, CARGO_FUZZ];
// ANCHOR_END: pinned

/// What building and serving the book needs: no more, so a reader's first
/// `cargo xtask serve` does not wait for the fuzzer's install.
pub const BOOK_TOOLS: [Pinned; 2] = [MDBOOK, LINKCHECK];

/// Debian packages the test suite needs, with the binary that proves each
/// is present: Chromium for the browser check; Redis's own tools and
/// server, which lab-02's compatibility tests and measurements run against;
/// wrk, which lab-03's measurements compare the generator with; Go, whose
/// `go tool pprof` must read lab-04's profiles and which builds the Go
/// programs measured beside the labs (lab-01, lab-02, lab-06); goleak,
/// the one Go library those programs use (Debian packages it as source
/// under `/usr/share/gocode`, built in GOPATH mode); Linux perf, lab-04's
/// out-of-process profiler; Python's venv, for the client libraries of
/// lab-02's client matrix ([`PYPI`]).
pub const DEBIAN: [(&str, &str); 9] = [
    ("chromium", "/usr/bin/chromium"),
    ("redis-tools", "/usr/bin/redis-benchmark"),
    ("redis-server", "/usr/bin/redis-server"),
    ("wrk", "/usr/bin/wrk"),
    ("golang-go", "/usr/bin/go"),
    (
        "golang-uber-goleak-dev",
        "/usr/share/gocode/src/go.uber.org/goleak/leaks.go",
    ),
    ("linux-perf", "/usr/bin/perf"),
    ("python3-venv", "/usr/bin/python3"),
    // LLVM's tools at rustc's LLVM major version (22 for rustc 1.95): the
    // llvm-profdata that lab-04's PGO build needs. When rustc moves to
    // another LLVM, lab-04's check says PGO is not possible here until
    // this line follows it.
    ("llvm-22", "/usr/lib/llvm-22/bin/llvm-profdata"),
];

/// Python packages from PyPI, at fixed versions, installed into a virtual
/// environment in `.tools/py`: redis-py, the client most Redis users
/// install, for lab-02's client matrix (`tests/clients.rs`). Version 8
/// speaks RESP3 by default.
pub const PYPI: [(&str, &str); 1] = [("redis", "8.1.0")];

/// The virtual environment's Python.
pub fn python(root: &Path) -> PathBuf {
    tools_dir(root).join("py").join("bin").join("python")
}

/// Creates `.tools/py` with Debian's Python and installs [`PYPI`] into it,
/// unless those exact versions are there already.
pub fn ensure_pypi(root: &Path) -> Result<()> {
    let python = python(root);
    let have = |name: &str, version: &str| {
        Command::new(&python)
            .args(["-c", &format!("import {name}; print({name}.__version__)")])
            .output()
            .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == version)
            .unwrap_or(false)
    };
    if PYPI.iter().all(|(n, v)| have(n, v)) {
        sh::say(&format!(
            "Python packages present: {}",
            PYPI.iter()
                .map(|(n, v)| format!("{n} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok(());
    }
    let venv = tools_dir(root).join("py");
    sh::run(
        Command::new("/usr/bin/python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
    )
    .context("creating the Python environment in .tools/py (Debian's python3-venv)")?;
    let mut pip = Command::new(venv.join("bin").join("pip"));
    pip.args(["install", "--quiet", "--disable-pip-version-check"]);
    for (n, v) in PYPI {
        pip.arg(format!("{n}=={v}"));
    }
    sh::run(&mut pip).context("pip install from PyPI into .tools/py")?;
    Ok(())
}

/// The names of the [`DEBIAN`] packages (`cargo xtask setup --list-debian`
/// prints them, for a machine where someone installs them with sudo).
pub fn debian_packages() -> Vec<&'static str> {
    DEBIAN.iter().map(|(pkg, _)| *pkg).collect()
}

pub fn tools_dir(root: &Path) -> PathBuf {
    root.join(".tools")
}

pub fn bin(root: &Path, tool: Pinned) -> PathBuf {
    tools_dir(root).join("bin").join(tool.bin)
}

/// The version a binary reports, if it runs at all.
fn installed_version(path: &Path) -> Option<String> {
    let out = Command::new(path).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Installs each pinned tool unless that exact version is already there.
pub fn ensure_pinned(root: &Path, tools: &[Pinned]) -> Result<()> {
    for &tool in tools {
        let path = bin(root, tool);
        match installed_version(&path) {
            Some(v)
                if v.split_whitespace()
                    .any(|w| w.trim_start_matches('v') == tool.version) =>
            {
                sh::say(&format!(
                    "{} {} is installed ({})",
                    tool.krate,
                    tool.version,
                    path.display()
                ));
                continue;
            }
            Some(v) => sh::say(&format!(
                "{} reports `{v}`, want {}: reinstalling",
                path.display(),
                tool.version
            )),
            None => sh::say(&format!(
                "installing {} {} into {} (first use only; takes a few minutes)",
                tool.krate,
                tool.version,
                tools_dir(root).display()
            )),
        }
        // ANCHOR: install
        sh::run(
            sh::cargo(root)
                // `--debug`: the tools are built without optimisation,
                // which compiles in about half the time (mdBook: 39 s
                // against 78 s on a 2-core machine) and still builds this
                // book in about two seconds. Without debug info too: nobody
                // steps through them in a debugger, and linking is faster.
                .env("CARGO_PROFILE_DEV_DEBUG", "false")
                .args([
                    "install",
                    "--locked",
                    "--force",
                    "--debug",
                    "--version",
                    tool.version,
                    "--root",
                ])
                .arg(tools_dir(root))
                .arg(tool.krate),
        )?;
        // ANCHOR_END: install
        if installed_version(&path).is_none() {
            bail!(
                "{} was installed but {} does not run",
                tool.krate,
                path.display()
            );
        }
    }
    Ok(())
}

fn dpkg_installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Installs missing Debian packages when root; otherwise fails with the
/// command to run.
pub fn ensure_debian(packages: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(pkg, bin)| !(dpkg_installed(pkg) && Path::new(bin).exists()))
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        sh::say(&format!(
            "Debian packages present: {}",
            packages.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
        ));
        return Ok(());
    }
    let command = format!(
        "apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !sh::is_root() {
        bail!(
            "missing Debian packages: {}. Run as root:\n    sudo apt-get update && sudo {command}",
            missing.join(", ")
        );
    }
    let install = || {
        let mut c = Command::new("apt-get");
        c.args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive");
        sh::run(&mut c)
    };
    if install().is_err() {
        // A fresh machine may have stale or empty package lists.
        sh::run(Command::new("apt-get").arg("update"))?;
        install().with_context(|| format!("`{command}` failed"))?;
    }
    Ok(())
}

/// Everything the test suite needs. The Debian and PyPI downloads wait on
/// the network while the tools compile, so on a fresh machine they run at
/// the same time.
pub fn setup(root: &Path, with_debian: bool) -> Result<()> {
    std::thread::scope(|s| {
        let system = with_debian.then(|| {
            s.spawn(|| -> Result<()> {
                ensure_debian(&DEBIAN)?;
                ensure_pypi(root)
            })
        });
        let tools = ensure_pinned(root, &PINNED);
        let system = match system {
            Some(h) => h.join().unwrap_or_else(|_| {
                Err(anyhow::anyhow!("installing the Debian packages panicked"))
            }),
            None => Ok(()),
        };
        tools.and(system)
    })
}
