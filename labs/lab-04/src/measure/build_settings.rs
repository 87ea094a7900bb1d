//! `build-settings`: what the build does to the numbers. lab-01 and lab-02
//! are built several times, each build changing one thing (an optimisation
//! setting of the profile, the global allocator, the hasher, PGO), and the
//! builds are measured side by side in one run: lab-02's throughput under
//! redis-benchmark (task-per-connection, one worker) and lab-01's ops/s
//! (its own `bench`). Every figure is the median of per-round ratios
//! against the release build; a second copy of the release build, measured
//! as if it were another variant, shows how large a difference the run's
//! noise alone makes. The largest difference gets a perf profile of both
//! builds.
//!
//! The builds are made here, with cargo, into `target/build-settings/`:
//! custom profiles from the workspace's `Cargo.toml` (each has its own
//! folder there) and features of lab-01 and lab-02 (which share the release
//! profile's dependencies). Each build's two binaries are copied out before
//! the next build can replace them. PGO needs an `llvm-profdata` that reads
//! the profiles rustc's LLVM writes; a check finds one or says why not.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use kit::fmt::{fmt_duration, fmt_int, fmt_mib, fmt_mops, fmt_ns, fmt_pct, fmt_ratio};
use kit::redis_benchmark::{self as bench, Load};
use kit::stats::{median, paired_ratio, rotated, spread};
use lab_02::launch::{Launch, Server, Target};
use report::Table;

use crate::perf::CallGraph;
use crate::stacks::{self, Stack};

/// How big the run is.
pub(super) struct Sizes {
    rounds: usize,
    /// Requests per redis-benchmark run (SET, then GET).
    requests: u64,
    keyspace: u64,
    /// How long each lab-01 bench runs.
    lab01: Duration,
    /// How long each perf profile samples.
    profile: Duration,
    /// Which variants are built: all, or (quick) one whose build reuses
    /// the release build's dependencies.
    quick: bool,
}

impl Sizes {
    pub(super) fn new(quick: bool) -> Self {
        if quick {
            Self {
                rounds: 1,
                requests: 20_000,
                keyspace: 1_000,
                lab01: Duration::from_millis(300),
                profile: Duration::from_secs(1),
                quick,
            }
        } else {
            Self {
                rounds: 5,
                requests: 1_200_000,
                keyspace: 10_000,
                lab01: Duration::from_secs(1),
                profile: Duration::from_secs(4),
                quick,
            }
        }
    }
}

/// What a variant changes, for the verdict: a setting the workspace could
/// adopt, or a comparison that is not a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The release build itself.
    Default,
    /// The release build again: the run's noise.
    Control,
    Profile,
    Allocator,
    /// lab-01 with foldhash (its default is SipHash): only lab-01's column.
    Lab01Hasher,
    /// lab-02 with foldhash (its default is SipHash): only lab-02's columns.
    Lab02Hasher,
    Pgo,
}

// ANCHOR: variants
/// One build of lab-01 and lab-02.
#[derive(Debug, Clone, Copy)]
struct Variant {
    /// Fact keys and folder names: `lto_thin`, …
    key: &'static str,
    name: &'static str,
    /// A `[profile.*]` of the workspace's Cargo.toml.
    profile: &'static str,
    /// `--features`.
    features: &'static [&'static str],
    /// `-p`: both labs, or the one a feature changes.
    packages: &'static [&'static str],
    kind: Kind,
    /// The variant whose binaries it measures (the control, and the two
    /// hasher rows of one build), if not its own.
    same_build_as: Option<&'static str>,
}

const fn v(
    key: &'static str,
    name: &'static str,
    profile: &'static str,
    features: &'static [&'static str],
    kind: Kind,
) -> Variant {
    Variant {
        key,
        name,
        profile,
        features,
        packages: &["lab-01", "lab-02"],
        kind,
        same_build_as: None,
    }
}

/// Every build, the release build first. A quick run builds only those
/// marked in [`QUICK`].
const VARIANTS: [Variant; 11] = [
    v(
        "release",
        "release (the default)",
        "release",
        &[],
        Kind::Default,
    ),
    Variant {
        same_build_as: Some("release"),
        ..v(
            "again",
            "release, a second copy (noise)",
            "release",
            &[],
            Kind::Control,
        )
    },
    v("opt2", "opt-level = 2", "opt2", &[], Kind::Profile),
    v("lto_thin", "lto = \"thin\"", "lto-thin", &[], Kind::Profile),
    v(
        "lto_fat",
        "lto = \"fat\", codegen-units = 1",
        "lto-fat",
        &[],
        Kind::Profile,
    ),
    v(
        "panic_abort",
        "panic = \"abort\"",
        "panic-abort",
        &[],
        Kind::Profile,
    ),
    v(
        "mimalloc",
        "mimalloc",
        "release",
        &["lab-01/mimalloc", "lab-02/mimalloc"],
        Kind::Allocator,
    ),
    v(
        "jemalloc",
        "jemalloc",
        "release",
        &["lab-01/jemalloc", "lab-02/jemalloc"],
        Kind::Allocator,
    ),
    // Each hasher swap builds only the lab it changes: lab-02 passes its
    // own hasher to lab-01's shards, so lab-01's default is not lab-02's.
    Variant {
        packages: &["lab-01"],
        ..v(
            "foldhash",
            "lab-01: foldhash",
            "release",
            &["lab-01/foldhash"],
            Kind::Lab01Hasher,
        )
    },
    Variant {
        packages: &["lab-02"],
        ..v(
            "lab02_foldhash",
            "lab-02: foldhash",
            "release",
            &["lab-02/foldhash"],
            Kind::Lab02Hasher,
        )
    },
    v("pgo", "PGO", "release", &[], Kind::Pgo),
];
// ANCHOR_END: variants

/// A quick run builds the release build alone, in the workspace's own
/// target folder, where the suite's earlier steps left every dependency
/// built: seconds, where a folder of its own would compile them all again
/// (most of two minutes on a fresh clone, where CI runs the quick
/// pipeline). Its second copy stands in for a variant, so the plumbing
/// (build, copy, start, load, profile, table) is all checked; the numbers
/// are not the point. The suite's clippy step compiles the hasher
/// features.
const QUICK: [&str; 2] = ["release", "again"];

/// The three measured workloads.
const WORKLOADS: [&str; 3] = ["lab-02 SET", "lab-02 GET", "lab-01"];

/// Which workloads a kind of variant is measured on for its verdict.
fn counts(kind: Kind, w: usize) -> bool {
    match kind {
        Kind::Lab01Hasher => w == 2,
        Kind::Lab02Hasher => w < 2,
        _ => true,
    }
}

/// A built variant: its binaries and what building them cost.
#[derive(Debug, Clone)]
struct Built {
    lab01: Option<PathBuf>,
    lab02: Option<PathBuf>,
    build_time: Duration,
}

/// Why a variant has no numbers.
#[derive(Debug, Clone)]
enum Missing {
    Quick,
    Impossible(String),
}

/// The workspace to build: `cargo run` tells the binary where its package
/// is; run directly, the path it was built from.
fn workspace() -> Result<PathBuf> {
    let package = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let root = package.join("../..");
    ensure!(
        root.join("labs/lab-02/Cargo.toml").is_file(),
        "cannot find the workspace to build lab-01 and lab-02 from (looked in {}); run \
         `cargo run --release -p lab-04 -- measure …` from the repository",
        root.display()
    );
    Ok(root.canonicalize()?)
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

// ANCHOR: build
/// `cargo build --profile P --features F -p lab-01 -p lab-02` into
/// `target_dir`, with `rustflags` (PGO) or none; then copies the
/// binaries to `target_dir/variants/KEY/`, out of the next build's way.
fn build(
    root: &Path,
    target_dir: &Path,
    variant: &Variant,
    rustflags: Option<&str>,
) -> Result<Built> {
    build_to(root, target_dir, target_dir, variant, rustflags)
}

/// [`build`], building in `target_dir` and keeping the binaries under
/// `keep/variants/KEY/`.
fn build_to(
    root: &Path,
    target_dir: &Path,
    keep: &Path,
    variant: &Variant,
    rustflags: Option<&str>,
) -> Result<Built> {
    let mut cmd = cargo();
    cmd.current_dir(root)
        .args(["build", "--quiet", "--profile", variant.profile, "--bins"])
        .args(variant.packages.iter().flat_map(|p| ["-p", p]))
        .arg("--target-dir")
        .arg(target_dir)
        // Our flags or none: not the caller's, which would change every
        // build alike and hide what this one changes.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags.unwrap_or(""));
    if !variant.features.is_empty() {
        cmd.args(["--features", &variant.features.join(",")]);
    }
    eprintln!(
        "  building {}: cargo build --profile {} -p {}{}{}",
        variant.name,
        variant.profile,
        variant.packages.join(" -p "),
        if variant.features.is_empty() {
            String::new()
        } else {
            format!(" --features {}", variant.features.join(","))
        },
        rustflags.map_or(String::new(), |f| format!(" (RUSTFLAGS={f})"))
    );
    let started = Instant::now();
    let out = kit::process::run_tool(&mut cmd, Duration::from_secs(1800))?;
    let build_time = started.elapsed();
    if !out.status.success() {
        bail!("building {} failed: {}", variant.name, out.stderr.trim());
    }
    // Cargo's folder for a profile: `release` for release, else its name.
    let from = target_dir.join(variant.profile);
    let to = keep.join("variants").join(variant.key);
    std::fs::create_dir_all(&to)?;
    let copy = |bin: &str| -> Result<Option<PathBuf>> {
        if !variant.packages.contains(&bin) {
            return Ok(None);
        }
        std::fs::copy(from.join(bin), to.join(bin))
            .with_context(|| format!("copying {} of {}", bin, variant.name))?;
        Ok(Some(to.join(bin)))
    };
    Ok(Built {
        lab01: copy("lab-01")?,
        lab02: copy("lab-02")?,
        build_time,
    })
}
// ANCHOR_END: build

// ANCHOR: pgo-check
/// Whether PGO can be done here: rustc's LLVM version, and the first
/// `llvm-profdata` that merges a profile written by a program rustc
/// instrumented just now. An `llvm-profdata` of another LLVM major version
/// rejects the file ("unsupported instrumentation profile format
/// version"), so the check runs the real thing rather than compare
/// version strings.
#[derive(Debug, Clone)]
struct PgoCheck {
    llvm: String,
    tool: Option<PathBuf>,
    /// What each candidate said, for the note.
    tried: Vec<String>,
}

fn pgo_check(root: &Path, scratch: &Path) -> Result<PgoCheck> {
    let rustc = |args: &[&str]| -> Result<String> {
        let out = Command::new("rustc")
            .current_dir(root)
            .args(args)
            .output()
            .context("running rustc")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let vv = rustc(&["-vV"])?;
    let field = |name: &str| {
        vv.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    let llvm = field("LLVM version:").context("rustc -vV names no LLVM version")?;
    let host = field("host:").context("rustc -vV names no host")?;
    let major = llvm.split('.').next().unwrap_or_default().to_owned();
    let sysroot = PathBuf::from(rustc(&["--print", "sysroot"])?.trim());
    let candidates: Vec<PathBuf> = vec![
        // rustup's llvm-tools component.
        sysroot.join(format!("lib/rustlib/{host}/bin/llvm-profdata")),
        // Debian's llvm-NN package.
        PathBuf::from(format!("/usr/lib/llvm-{major}/bin/llvm-profdata")),
        PathBuf::from(format!("llvm-profdata-{major}")),
        PathBuf::from("llvm-profdata"),
    ];
    // A tiny program, instrumented, run once: its profile is what every
    // candidate must read.
    let dir = scratch.join("pgo-check");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("probe.rs"),
        "fn main() { let n: u64 = std::env::args().count() as u64; \
         println!(\"{}\", (0..1000 * n).sum::<u64>()); }\n",
    )?;
    let raw = dir.join("raw");
    let compiled = Command::new("rustc")
        .current_dir(root)
        .args(["-O", "-o"])
        .arg(dir.join("probe"))
        .arg(format!("-Cprofile-generate={}", raw.display()))
        .arg(dir.join("probe.rs"))
        .output()
        .context("running rustc -Cprofile-generate")?;
    ensure!(
        compiled.status.success(),
        "rustc could not build an instrumented program: {}",
        String::from_utf8_lossy(&compiled.stderr).trim()
    );
    let ran = Command::new(dir.join("probe")).output()?;
    ensure!(ran.status.success(), "the instrumented probe failed");
    let mut tried = Vec::new();
    for c in candidates {
        let version = match Command::new(&c).arg("--version").output() {
            Ok(o) => String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.contains("LLVM version"))
                .map(|l| l.trim().to_owned())
                .unwrap_or_else(|| "unknown version".into()),
            Err(_) => {
                tried.push(format!("`{}`: not installed", c.display()));
                continue;
            }
        };
        match merge(&c, &raw, &dir.join("probe.profdata")) {
            Ok(()) => {
                tried.push(format!(
                    "`{}` ({version}): merges rustc's profiles",
                    c.display()
                ));
                return Ok(PgoCheck {
                    llvm,
                    tool: Some(c),
                    tried,
                });
            }
            Err(e) => tried.push(format!("`{}` ({version}): {e}", c.display())),
        }
    }
    Ok(PgoCheck {
        llvm,
        tool: None,
        tried,
    })
}

/// `llvm-profdata merge -o OUT RAW/*.profraw`.
fn merge(tool: &Path, raw: &Path, out: &Path) -> Result<()> {
    let files: Vec<PathBuf> = std::fs::read_dir(raw)
        .with_context(|| format!("no profiles in {}", raw.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "profraw"))
        .collect();
    ensure!(!files.is_empty(), "no .profraw files in {}", raw.display());
    let o = Command::new(tool)
        .arg("merge")
        .arg("-o")
        .arg(out)
        .args(&files)
        .output()?;
    if !o.status.success() {
        let text = String::from_utf8_lossy(&o.stderr);
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed");
        // "warning: FILE: unsupported …": the reason without the path.
        bail!(
            "{}",
            first.rsplit(": ").next().unwrap_or(first).trim().to_owned()
        );
    }
    Ok(())
}
// ANCHOR_END: pgo-check

/// The PGO build: instrumented, trained on the measured workloads, merged,
/// rebuilt with the profile. Trained on the benchmark itself, which is the
/// best case PGO can have.
fn build_pgo(root: &Path, dir: &Path, variant: &Variant, tool: &Path, z: &Sizes) -> Result<Built> {
    let raw = dir.join("pgo-raw");
    let _ = std::fs::remove_dir_all(&raw);
    std::fs::create_dir_all(&raw)?;
    let started = Instant::now();
    let generate = Variant {
        key: "pgo-generate",
        name: "PGO, instrumented",
        ..*variant
    };
    let instrumented = build(
        root,
        &dir.join("pgo-generate"),
        &generate,
        Some(&format!("-Cprofile-generate={}", raw.display())),
    )?;
    eprintln!("  training the instrumented build on the workloads");
    // The server writes its profile when it exits, which it does on the
    // SIGTERM that dropping it sends.
    let (Some(lab02), Some(lab01)) = (&instrumented.lab02, &instrumented.lab01) else {
        bail!("the instrumented build has no binaries");
    };
    lab02_run(lab02, z, z.requests / 2)?;
    lab01_run(lab01, z.lab01)?;
    let profdata = dir.join("pgo.profdata");
    merge(tool, &raw, &profdata).context("merging the training profiles")?;
    let mut built = build(
        root,
        &dir.join("pgo-use"),
        variant,
        Some(&format!("-Cprofile-use={}", profdata.display())),
    )?;
    built.build_time = started.elapsed();
    Ok(built)
}

// ANCHOR: measure
/// lab-02 (task-per-connection, one worker, pinned to CPU 1) under
/// redis-benchmark (pinned to CPU 0), 50 clients, 16 commands per write:
/// SET, then GET. Returns requests per second of each.
fn lab02_run(lab02: &Path, z: &Sizes, requests: u64) -> Result<[f64; 2]> {
    let launch = Launch {
        program: Some(lab02.to_owned()),
        cpus: Some("1"),
        ..Launch::new(Target::TaskPerConnection, 1)
    };
    let mut server = Server::start(&launch)?;
    server.fill(z.keyspace)?;
    let mut rps = [0.0; 2];
    for (i, test) in ["set", "get"].into_iter().enumerate() {
        let load = Load {
            test,
            clients: 50,
            pipeline: 16,
            requests,
            keyspace: z.keyspace,
            cpus: Some("0"),
        };
        rps[i] = bench::measure(server.port, &mut server.process, &load)?.rps;
    }
    stop(server)?;
    Ok(rps)
}

/// lab-01's own bench: the sharded-rwlock cache, one thread pinned to CPU
/// 1, 90% reads over 100,000 uniform keys. Returns operations per second.
fn lab01_run(lab01: &Path, duration: Duration) -> Result<f64> {
    let mut cmd = kit::process::pinned(Some("1"), lab01);
    cmd.args(lab01_args(duration));
    let out = kit::process::run_tool(&mut cmd, duration + Duration::from_secs(120))?;
    if !out.status.success() {
        bail!("lab-01 bench failed: {}", out.stderr.trim());
    }
    let json: serde_json::Value =
        serde_json::from_str(&out.stdout).context("lab-01 bench --json printed no JSON")?;
    json["cells"][0]["summary"]["ops_per_sec"]
        .as_f64()
        .context("lab-01 bench --json has no cells[0].summary.ops_per_sec")
}
// ANCHOR_END: measure

fn lab01_args(duration: Duration) -> Vec<String> {
    [
        "bench",
        "--impls",
        "sharded-rwlock",
        "--threads",
        "1",
        "--keys",
        "100000",
        "--rounds",
        "1",
        "--json",
        "--duration",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([format!("{}ms", duration.as_millis())])
    .collect()
}

/// Stops a server with SIGTERM and waits for it, so that an instrumented
/// build writes its profile (dropping it would do the same, less visibly).
fn stop(mut server: Server) -> Result<()> {
    server.process.signal("TERM")?;
    if server.process.wait_exit(Duration::from_secs(10)).is_none() {
        bail!("{} did not stop on SIGTERM", server.target.name());
    }
    Ok(())
}

/// Per-round measurements of one variant: [workload][round].
type Rounds = [Vec<f64>; 3];

/// The per-round ratios of `a` over `b` on workload `w`.
fn ratios(a: &Rounds, b: &Rounds, w: usize) -> Vec<f64> {
    a[w].iter().zip(&b[w]).map(|(x, y)| x / y).collect()
}

/// What a comparison shows, against the noise the control measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Gain,
    Loss,
    Neither,
}

/// A gain is clear when the median ratio is above 1 by more than the
/// noise and every round agrees; a loss likewise below.
fn effect(rs: &[f64], noise: f64) -> Effect {
    let m = median(rs);
    if rs.is_empty() || m.is_nan() {
        Effect::Neither
    } else if m > 1.0 + noise && rs.iter().all(|r| *r > 1.0) {
        Effect::Gain
    } else if m < 1.0 - noise && rs.iter().all(|r| *r < 1.0) {
        Effect::Loss
    } else {
        Effect::Neither
    }
}

/// The smallest difference the run can tell from noise on each workload:
/// the control's largest distance from 1 in any round, and at least 1%.
fn noise(control: &Rounds, default: &Rounds) -> [f64; 3] {
    let mut out = [0.01_f64; 3];
    for (w, n) in out.iter_mut().enumerate() {
        for r in ratios(control, default, w) {
            *n = n.max((r - 1.0).abs());
        }
    }
    out
}

pub(super) fn run(z: &Sizes) -> Result<Vec<Table>> {
    let root = workspace()?;
    let dir = kit::process::target_dir()?.join("build-settings");
    std::fs::create_dir_all(&dir)?;
    let check = pgo_check(&root, &dir)?;
    // Build.
    let mut built: Vec<Result<Built, Missing>> = Vec::new();
    for (i, var) in VARIANTS.iter().enumerate() {
        let b = if let Some(other) = var.same_build_as {
            let j = VARIANTS
                .iter()
                .position(|v| v.key == other)
                .context("a variant names an unknown build")?;
            built[j].clone()
        } else if z.quick && !QUICK.contains(&var.key) {
            Err(Missing::Quick)
        } else if var.kind == Kind::Pgo {
            match &check.tool {
                Some(tool) => Ok(build_pgo(&root, &dir, var, tool, z)?),
                None => Err(Missing::Impossible(format!(
                    "no llvm-profdata here reads the profiles of rustc's LLVM {}",
                    check.llvm
                ))),
            }
        } else if z.quick {
            Ok(build_to(
                &root,
                &kit::process::target_dir()?,
                &dir,
                var,
                None,
            )?)
        } else {
            Ok(build(&root, &dir, var, None)?)
        };
        debug_assert_eq!(built.len(), i);
        built.push(b);
    }
    // Measure: every built variant once per round, in rotating order.
    let measured: Vec<usize> = (0..VARIANTS.len()).filter(|&i| built[i].is_ok()).collect();
    let mut rounds: Vec<Rounds> = vec![Default::default(); VARIANTS.len()];
    for round in 0..z.rounds {
        for i in rotated(&measured, round) {
            let Ok(b) = &built[i] else { continue };
            if let Some(lab02) = &b.lab02 {
                let [set, get] = lab02_run(lab02, z, z.requests)?;
                rounds[i][0].push(set);
                rounds[i][1].push(get);
            }
            if let Some(lab01) = &b.lab01 {
                rounds[i][2].push(lab01_run(lab01, z.lab01)?);
            }
        }
        eprintln!("  build-settings round {}/{} done", round + 1, z.rounds);
    }
    let at = |key: &str| VARIANTS.iter().position(|v| v.key == key).unwrap_or(0);
    let (default, control) = (at("release"), at("again"));
    let noise = noise(&rounds[control], &rounds[default]);
    let table = settings_table(z, &check, &built, &rounds, noise)?;
    // The largest clear difference, or failing that the largest one, gets
    // a profile.
    let mut largest: Option<(usize, usize, f64)> = None;
    for &i in &measured {
        let kind = VARIANTS[i].kind;
        // A quick run's only other build is the control: it stands in, so
        // the profile's plumbing is checked too.
        if kind == Kind::Default || (kind == Kind::Control && !z.quick) {
            continue;
        }
        for w in (0..3).filter(|&w| kind == Kind::Control || counts(kind, w)) {
            let d = paired_ratio(&rounds[i][w], &rounds[default][w]).ln().abs();
            if d.is_finite() && largest.is_none_or(|(_, _, best)| d > best) {
                largest = Some((i, w, d));
            }
        }
    }
    let Some((i, w, _)) = largest else {
        bail!("no variant was measured");
    };
    let (Ok(base), Ok(other)) = (&built[default], &built[i]) else {
        bail!("the profiled builds are missing");
    };
    let rates = (median(&rounds[default][w]), median(&rounds[i][w]));
    let profile = profile_table(z, &dir, (base, other), i, w, rates)?;
    Ok(vec![table, profile])
}

fn settings_table(
    z: &Sizes,
    check: &PgoCheck,
    built: &[Result<Built, Missing>],
    rounds: &[Rounds],
    noise: [f64; 3],
) -> Result<Table> {
    let default = 0;
    let mut t = Table::new(
        "build-settings",
        "What build settings, the allocator and the hasher do to lab-02's throughput and lab-01's ops/s",
        &[
            "build",
            "build time",
            "lab-02 binary",
            "lab-02 SET (req/s)",
            "lab-02 GET (req/s)",
            "lab-01 (Mops/s)",
            "verdict",
        ],
    )
    .numeric(&[1, 2, 3, 4, 5]);
    let base = &rounds[default];
    let mut pays = Vec::new();
    for (i, var) in VARIANTS.iter().enumerate() {
        let b = match &built[i] {
            Ok(b) => b,
            Err(why) => {
                let (cell, fact) = match why {
                    Missing::Quick => (
                        "not built (quick run)".to_owned(),
                        "not measured in a quick run".to_owned(),
                    ),
                    Missing::Impossible(reason) => {
                        (format!("not possible here: {reason}"), reason.clone())
                    }
                };
                let mut row = vec![var.name.to_owned()];
                row.extend(std::iter::repeat_n("-".to_owned(), 5));
                row.push(cell);
                t.row(row);
                t.fact(&format!("verdict_{}", var.key), fact);
                for w in ["set", "get", "lab01"] {
                    t.fact(&format!("{}_{w}", var.key), "-");
                }
                continue;
            }
        };
        let mut cells = Vec::new();
        let mut effects = Vec::new();
        for w in 0..3 {
            let shown = counts(var.kind, w);
            let cell = if i == default {
                let xs = &base[w];
                let m = median(xs);
                if w == 2 {
                    format!("{} {}", fmt_mops(m), spread(xs))
                } else {
                    format!("{} {}", fmt_int(m), spread(xs))
                }
            } else if shown {
                let rs = ratios(&rounds[i], base, w);
                effects.push((w, effect(&rs, noise[w]), median(&rs)));
                format!("{} {}", fmt_ratio(median(&rs)), spread(&rs))
            } else {
                "-".to_owned()
            };
            let key = ["set", "get", "lab01"][w];
            t.fact(
                &format!("{}_{key}", var.key),
                if i == default || !shown {
                    "-".to_owned()
                } else {
                    fmt_ratio(median(&ratios(&rounds[i], base, w)))
                },
            );
            cells.push(cell);
        }
        let gains: Vec<String> = effects
            .iter()
            .filter(|e| e.1 == Effect::Gain)
            .map(|e| format!("{} {}", WORKLOADS[e.0], fmt_pct(e.2 - 1.0)))
            .collect();
        let losses: Vec<String> = effects
            .iter()
            .filter(|e| e.1 == Effect::Loss)
            .map(|e| format!("{} {}", WORKLOADS[e.0], fmt_pct(e.2 - 1.0)))
            .collect();
        let (short, long) = match var.kind {
            Kind::Default => (
                "the baseline".to_owned(),
                "the baseline every ratio is taken against".to_owned(),
            ),
            Kind::Control => (
                "the noise".to_owned(),
                "the same binary measured as a variant: the run's noise".to_owned(),
            ),
            _ => match (gains.is_empty(), losses.is_empty()) {
                (false, true) => (
                    "pays".to_owned(),
                    format!(
                        "pays: {} faster in every round, beyond the run's noise",
                        gains.join(", ")
                    ),
                ),
                (true, false) => (
                    "costs".to_owned(),
                    format!(
                        "costs: {} in every round, beyond the run's noise",
                        losses.join(", ")
                    ),
                ),
                (false, false) => (
                    "mixed".to_owned(),
                    format!(
                        "mixed: {} faster but {}",
                        gains.join(", "),
                        losses.join(", ")
                    ),
                ),
                (true, true) => (
                    "no clear difference".to_owned(),
                    "no difference the run can tell from its noise".to_owned(),
                ),
            },
        };
        // A hasher is chosen by who picks the keys, not by speed (see the
        // chapter): its rows say what the choice costs, and are never
        // candidates for adoption.
        // Nor is `panic = "abort"`: it gives up containing a panic to one
        // connection's task, which no speed gain buys back.
        if short == "pays"
            && !matches!(var.kind, Kind::Lab01Hasher | Kind::Lab02Hasher)
            && var.key != "panic_abort"
        {
            pays.push(var.name);
        }
        t.fact(&format!("verdict_{}", var.key), long);
        let size = match &b.lab02 {
            Some(p) => fmt_mib(std::fs::metadata(p)?.len() as f64),
            None => "-".to_owned(),
        };
        let mut row = vec![
            var.name.to_owned(),
            if var.same_build_as.is_some() {
                "(the same build)".to_owned()
            } else {
                fmt_duration(Duration::from_secs(b.build_time.as_secs().max(1)))
            },
            size,
        ];
        row.extend(cells);
        row.push(short);
        t.row(row);
    }
    t.fact(
        "adopt",
        if pays.is_empty() {
            "nothing: no build setting, allocator or PGO build gained beyond the run's noise on \
             one workload without losing on another, so the workspace keeps the release \
             profile, the system allocator and no PGO"
                .to_owned()
        } else {
            let (which, it) = if pays.len() == 1 {
                ("gained", "it")
            } else {
                ("each gained", "them")
            };
            format!(
                "{}, which {which} in this run; the workspace has not adopted {it}: one run is \
                 not enough, and a setting changes the workspace's profile only when a second \
                 full run repeats the gain",
                pays.join("; ")
            )
        },
    );
    t.fact("release_set_rps", fmt_int(median(&base[0])));
    t.fact("release_get_rps", fmt_int(median(&base[1])));
    t.fact(
        "release_lab01",
        format!("{} Mops/s", fmt_mops(median(&base[2]))),
    );
    for (w, key) in ["set", "get", "lab01"].iter().enumerate() {
        t.fact(&format!("noise_{key}"), fmt_pct(noise[w]));
    }
    t.fact("rustc_llvm", check.llvm.clone());
    t.fact(
        "pgo_check",
        match &check.tool {
            Some(tool) => format!("`{}` merges rustc's profiles", tool.display()),
            None => format!(
                "no llvm-profdata here reads the profiles of rustc's LLVM {}",
                check.llvm
            ),
        },
    );
    t.note(format!(
        "{} round(s); in each, every build in turn (rotating order): lab-02 task-per-connection with one worker pinned to CPU 1, prefilled with {} keys, under redis-benchmark pinned to CPU 0 (50 clients, 16 commands per write, {} SETs then {} GETs); then lab-01 bench (sharded-rwlock, one thread pinned to CPU 1, 90% reads over 100,000 uniform keys, {}).",
        z.rounds,
        fmt_int(z.keyspace as f64),
        fmt_int(z.requests as f64),
        fmt_int(z.requests as f64),
        fmt_duration(z.lab01),
    ));
    t.note(format!(
        "The release row gives medians and their spread over rounds; every other row the median of per-round ratios to it, and the spread of those ratios. A build pays (or costs) when its median ratio is above 1 (below) by more than the run's noise and every round agrees. The noise is what the second copy of the release build measured: its largest distance from 1 in any round, at least 1% ({} on SET, {} on GET, {} on lab-01 in this run).",
        fmt_pct(noise[0]),
        fmt_pct(noise[1]),
        fmt_pct(noise[2])
    ));
    t.note("Builds: cargo profiles from the workspace's Cargo.toml inheriting `release` (opt-level 3, thin-local LTO, 16 codegen units, unwinding panics, line tables); features of lab-01 and lab-02 for the allocators and hashers. Both labs default to std's SipHash; each hasher row builds one lab with foldhash instead, and only that lab. Build time is the wall time of this run's `cargo build`: dependencies included for a profile built for the first time, next to nothing for a build an earlier run left in place.");
    t.note(format!(
        "PGO: rustc's LLVM is {}. {}{}",
        check.llvm,
        check.tried.join("; "),
        if check.tool.is_some() {
            ". The PGO build is trained on the measured workloads themselves (half the requests, one lab-01 run): the best case for PGO."
        } else {
            "."
        }
    ));
    Ok(t)
}

/// Samples process `pid` with perf for `z.profile` while its load runs.
fn perf_during(pid: u32, z: &Sizes, scratch: &Path) -> Result<Vec<Stack>> {
    std::thread::sleep(Duration::from_millis(300));
    // Frame pointers: the table is flat (where each sample was), which
    // needs no unwinding; a function inlined into another counts as that
    // other, as it does for the CPU.
    Ok(crate::perf::record(pid, z.profile, 999, CallGraph::Fp, scratch)?.stacks)
}

/// One build's profile under workload `w`.
fn profile_one(b: &Built, w: usize, z: &Sizes, rate: f64, scratch: &Path) -> Result<Vec<Stack>> {
    // Long enough to cover the window, at the rate the release build ran.
    let span = z.profile.as_secs_f64() + 2.0;
    if w < 2 {
        let lab02 = b.lab02.as_ref().context("no lab-02 in this build")?;
        let launch = Launch {
            program: Some(lab02.clone()),
            cpus: Some("1"),
            ..Launch::new(Target::TaskPerConnection, 1)
        };
        let server = Server::start(&launch)?;
        server.fill(z.keyspace)?;
        let load = Load {
            test: ["set", "get"][w],
            clients: 50,
            pipeline: 16,
            requests: (rate * span) as u64,
            keyspace: z.keyspace,
            cpus: Some("0"),
        };
        let pid = server.process.pid;
        let stacks = std::thread::scope(|s| -> Result<_> {
            let load = s.spawn(|| bench::run(server.port, &load));
            let stacks = perf_during(pid, z, scratch);
            load.join()
                .map_err(|_| anyhow::anyhow!("redis-benchmark's thread panicked"))??;
            stacks
        })?;
        stop(server)?;
        Ok(stacks)
    } else {
        let lab01 = b.lab01.as_ref().context("no lab-01 in this build")?;
        // lab-01's bench warms the CPUs up for a few seconds, then writes
        // its keys, then starts its worker: perf runs it from the start
        // (so the worker, started late, is followed) and counts only after
        // the warm-up.
        let delay = Duration::from_secs(4);
        let mut args = vec!["1".to_owned(), lab01.display().to_string()];
        args.extend(lab01_args(delay + z.profile + Duration::from_secs(1)));
        Ok(crate::perf::record_command(
            Path::new("taskset"),
            &[vec!["-c".to_owned()], args].concat(),
            delay,
            999,
            CallGraph::Fp,
            scratch,
            Duration::from_secs(120),
        )?
        .stacks)
    }
}

/// Each function's flat share of a profile's samples, by [`bare`] name.
fn shares(st: &[Stack]) -> std::collections::HashMap<String, f64> {
    let total = stacks::total(st).max(1) as f64;
    let mut out = std::collections::HashMap::new();
    for r in stacks::top(st, usize::MAX) {
        *out.entry(bare(&r.function)).or_insert(0.0) += r.flat as f64 / total;
    }
    out
}

/// A frame's name without generic arguments: perf names an inlined frame
/// by its bare name and every type parameter (`find<usize, …>`), so the
/// same function inlined for two types would count as two.
fn bare(name: &str) -> String {
    let name = name.trim_end_matches(" (inlined)").trim_end_matches("_[i]");
    // `<T as Trait>::f` keeps its leading group, which names the impl.
    let (head, rest) = match name.strip_prefix('<') {
        Some(_) => {
            let mut depth = 0;
            let end = name
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '<' => 1,
                        '>' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(name.len(), |(i, _)| i + 1);
            name.split_at(end)
        }
        None => ("", name),
    };
    let mut out = head.to_owned();
    let mut depth = 0;
    for c in rest.chars() {
        match c {
            '<' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Top functions (flat) of the release build and of variant `i` under
/// workload `w`, side by side.
fn profile_table(
    z: &Sizes,
    dir: &Path,
    (base, other): (&Built, &Built),
    i: usize,
    w: usize,
    (rate_base, rate_other): (f64, f64),
) -> Result<Table> {
    let var = &VARIANTS[i];
    let scratch = dir.join("perf");
    std::fs::create_dir_all(&scratch)?;
    let before = profile_one(base, w, z, rate_base, &scratch)?;
    let after = profile_one(other, w, z, rate_base, &scratch)?;
    let (before_shares, after_shares) = (shares(&before), shares(&after));
    let sb = |f: &str| before_shares.get(f).copied().unwrap_or(0.0);
    let sa = |f: &str| after_shares.get(f).copied().unwrap_or(0.0);
    let mut names: Vec<String> = Vec::new();
    for sh in [&before_shares, &after_shares] {
        let mut v: Vec<(&String, &f64)> = sh.iter().collect();
        v.sort_by(|a, b| b.1.total_cmp(a.1));
        for (f, _) in v.into_iter().take(8) {
            if !names.contains(f) {
                names.push(f.clone());
            }
        }
    }
    names.sort_by(|a, b| (sb(b).max(sa(b))).total_cmp(&sb(a).max(sa(a))));
    let mut t = Table::new(
        "build-settings-profile",
        &format!(
            "The profile behind the largest difference: {} against release, {}",
            var.name, WORKLOADS[w]
        ),
        &[
            "function (flat)",
            "release: share",
            "release: per operation",
            &format!("{}: share", var.name),
            &format!("{}: per operation", var.name),
        ],
    )
    .numeric(&[1, 2, 3, 4]);
    // One thread busy on one core (lab-01's worker; lab-02's one worker at
    // its peak): a CPU-second per second, so a function's share of the
    // samples times the time per operation is its time per operation.
    let per_op = |share: f64, rate: f64| fmt_ns(share * 1e9 / rate);
    for f in names.iter().take(12) {
        t.row(vec![
            format!("`{}`", super::short(f)),
            fmt_pct(sb(f)),
            per_op(sb(f), rate_base),
            fmt_pct(sa(f)),
            per_op(sa(f), rate_other),
        ]);
    }
    t.fact("profile_variant", var.name);
    t.fact("profile_workload", WORKLOADS[w]);
    let top = |sh: &std::collections::HashMap<String, f64>| {
        sh.iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or("-".to_owned(), |(f, x)| {
                format!("`{}` ({})", super::short(f), fmt_pct(*x))
            })
    };
    t.fact("profile_top_release", top(&before_shares));
    t.fact("profile_top_variant", top(&after_shares));
    t.fact("profile_op_release", fmt_ns(1e9 / rate_base));
    t.fact("profile_op_variant", fmt_ns(1e9 / rate_other));
    t.note(format!(
        "The variant whose median ratio is furthest from 1 on any workload, profiled beside the release build under that workload, one after the other: `perf record -e cpu-clock -F 999` for {} of lab-02 under load (`perf record -p`), or from the end of lab-01's warm-up to its end (`perf record -D`) ({} and {} samples). Flat: samples in the function itself (and whatever the compiler inlined into it), as a share of the process's samples, type parameters left out; the rows are the top eight of either build. Per operation: the share times the time one operation took in the rounds above ({} for release, {} for the variant), since one thread was busy on one core throughout.",
        fmt_duration(z.profile),
        fmt_int(stacks::total(&before) as f64),
        fmt_int(stacks::total(&after) as f64),
        fmt_ns(1e9 / rate_base),
        fmt_ns(1e9 / rate_other)
    ));
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_drop_type_parameters() {
        assert_eq!(
            bare("find<usize, hashbrown::alloc::inner::Global> (inlined)"),
            "find"
        );
        assert_eq!(
            bare("<C as kv::Target>::bench_read"),
            "<C as kv::Target>::bench_read"
        );
        assert_eq!(
            bare("core::hash::sip::Hasher<S>::write"),
            "core::hash::sip::Hasher::write"
        );
    }

    #[test]
    fn an_effect_needs_every_round_and_more_than_the_noise() {
        assert_eq!(effect(&[1.05, 1.06, 1.04], 0.02), Effect::Gain);
        assert_eq!(effect(&[1.05, 0.99, 1.06], 0.02), Effect::Neither);
        assert_eq!(effect(&[1.01, 1.02, 1.015], 0.02), Effect::Neither);
        assert_eq!(effect(&[0.9, 0.92, 0.91], 0.02), Effect::Loss);
    }
}
