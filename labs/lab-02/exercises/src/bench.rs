//! `lab-02-exercises bench`: your [`GlobalLock`] beside lab-01's sharded
//! cache, under the same mixed GET/SET workload. Not an exercise: nothing
//! to edit here.
//!
//! Every command goes through `lab_02::route::dispatch`, exactly as the
//! task-per-connection model runs it once a request is parsed, from N
//! threads at once; there is no network in the way, so the cost of the
//! locking is all that differs. The targets take turns, round after
//! round, so that a noisy moment on the machine hurts them all alike.
//!
//! [`preflight`] tries your code once before any thread starts, so that an
//! unfinished exercise gets one clear message rather than a panic in every
//! worker thread.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use lab_02::cmd::{self, Spec};
use lab_02::db::{self, SharedStore};
use lab_02::models::LockedParts;
use lab_02::route::{self, Shards};

use crate::global_lock::GlobalLock;

/// Options of `lab-02-exercises bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Threads issuing commands (default: the CPUs this process may run on,
    /// at least 2).
    #[arg(long)]
    pub threads: Option<usize>,

    /// Seconds each target runs in each round.
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,

    /// Rounds; the targets take turns within each one.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,

    /// Distinct keys, all set before the first round.
    #[arg(long, default_value_t = 100_000)]
    pub keys: usize,

    /// Percentage of commands that are SETs; the rest are GETs.
    #[arg(long, default_value_t = 10)]
    pub write_percent: u64,
}

/// One keyspace under test.
enum Target {
    Yours(Box<GlobalLock>),
    Sharded(Arc<SharedStore>),
}

impl Target {
    fn name(&self) -> String {
        match self {
            Target::Yours(_) => "yours: one mutex".to_owned(),
            Target::Sharded(c) => match c.shard_count() {
                1 => "lab-01 sharded, 1 shard".to_owned(),
                n => format!("lab-01 sharded, {n} shards"),
            },
        }
    }

    /// Runs `f` with a fresh per-thread handle on this keyspace.
    fn with_parts<R>(&self, f: impl FnOnce(&mut dyn Shards) -> R) -> R {
        match self {
            Target::Yours(lock) => f(&mut lock.parts()),
            Target::Sharded(cache) => f(&mut LockedParts::new(
                cache,
                None,
                lab_02::cmd::Log::new(false),
                None,
            )),
        }
    }
}

/// Why [`preflight`] refused to run the benchmark.
fn unfinished(step: &str, message: &str) -> String {
    format!(
        "your GlobalLock is not finished: `{step}` still panics ({message}).\n\
         Implement it in labs/lab-02/exercises/src/global_lock.rs, check it with\n\
         `cargo xtask exercise check lab-02 global-lock`, then run the bench again."
    )
}

/// Runs `f`, naming `step` if it panics, with the panic message kept off
/// stderr (the error says it better).
fn step<R>(name: &str, f: impl FnOnce() -> R) -> Result<R, String> {
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(hook);
    r.map_err(|p| unfinished(name, &kit::panic::panic_message(p.as_ref())))
}

fn spec(name: &str) -> &'static Spec {
    match cmd::lookup(name.as_bytes()) {
        Some(s) => s,
        None => panic!("lab-02 has no command {name}"),
    }
}

/// Tries every operation the benchmark uses, once, on your `GlobalLock`.
pub fn preflight() -> Result<(), String> {
    let lock = step("GlobalLock::new", GlobalLock::new)?;
    let mut parts = lock.parts();
    let count = step("Shards::count", || parts.count())?;
    if count != 1 {
        return Err(format!(
            "your GlobalLock answered wrongly: count() is {count}, but one lock is one part.\n\
             `cargo test -p lab-02-exercises --test global_lock` shows what to fix."
        ));
    }
    step("Shards::owner", || parts.owner(b"k"))?;
    let mut out = Vec::new();
    step("Shards::run (SET k v)", || {
        route::dispatch(&mut parts, spec("set"), &[b"SET", b"k", b"v"], &mut out)
    })?;
    out.clear();
    step("Shards::run (GET k)", || {
        route::dispatch(&mut parts, spec("get"), &[b"GET", b"k"], &mut out)
    })?;
    if out != b"$1\r\nv\r\n" {
        return Err(format!(
            "your GlobalLock answered wrongly: after SET k v, GET k replied {:?}.\n\
             `cargo test -p lab-02-exercises --test global_lock` shows what to fix.",
            String::from_utf8_lossy(&out)
        ));
    }
    Ok(())
}

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:08}").into_bytes()
}

/// Sets every key once, so that GETs hit.
fn fill(target: &Target, keys: &[Vec<u8>]) {
    let set = spec("set");
    let value = [b'v'; 16];
    target.with_parts(|parts| {
        let mut out = Vec::new();
        for k in keys {
            route::dispatch(parts, set, &[b"SET", k, &value], &mut out);
            out.clear();
        }
    });
}

/// One thread's loop: random GETs and SETs until `stop`. Returns the
/// commands it ran.
fn worker(
    parts: &mut dyn Shards,
    keys: &[Vec<u8>],
    write_percent: u64,
    seed: u64,
    stop: &AtomicBool,
) -> u64 {
    let (get, set) = (spec("get"), spec("set"));
    let value = [b'w'; 16];
    let mut out = Vec::with_capacity(64);
    // xorshift64: a few instructions per number, no shared state.
    let mut x = seed | 1;
    let mut ops = 0u64;
    while !stop.load(Relaxed) {
        for _ in 0..256 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = &keys[(x % keys.len() as u64) as usize];
            if (x >> 40) % 100 < write_percent {
                route::dispatch(parts, set, &[b"SET", k, &value], &mut out);
            } else {
                route::dispatch(parts, get, &[b"GET", k], &mut out);
            }
            out.clear();
        }
        ops += 256;
    }
    ops
}

/// Runs `threads` workers on `target` for `seconds`: commands per second.
fn measure(target: &Target, keys: &[Vec<u8>], args: &BenchArgs, threads: usize, round: u64) -> f64 {
    let stop = AtomicBool::new(false);
    let start = Barrier::new(threads + 1);
    let (ops, elapsed) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads as u64)
            .map(|t| {
                let (stop, start) = (&stop, &start);
                s.spawn(move || {
                    target.with_parts(|parts| {
                        start.wait();
                        let seed = 0x9e37_79b9_7f4a_7c15_u64
                            .wrapping_mul(t + 1)
                            .wrapping_add(round);
                        worker(parts, keys, args.write_percent, seed, stop)
                    })
                })
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(args.seconds));
        stop.store(true, Relaxed);
        let ops: u64 = workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| panic::resume_unwind(p)))
            .sum();
        (ops, t0.elapsed())
    });
    ops as f64 / elapsed.as_secs_f64()
}

fn rate(ops_per_s: f64) -> String {
    format!("{:.2} M/s", ops_per_s / 1e6)
}

/// The benchmark. Call [`preflight`] first.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.keys > 0, "--keys must be at least 1");
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");
    anyhow::ensure!(args.write_percent <= 100, "--write-percent is at most 100");
    anyhow::ensure!(
        args.seconds > 0.0 && args.seconds.is_finite(),
        "--seconds must be positive"
    );
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(cpus.max(2));
    anyhow::ensure!(threads > 0, "--threads must be at least 1");

    let targets = [
        Target::Yours(Box::default()),
        Target::Sharded(db::new_shared_store(64)?),
        Target::Sharded(db::new_shared_store(1)?),
    ];
    let keys: Vec<Vec<u8>> = (0..args.keys).map(key).collect();
    for t in &targets {
        fill(t, &keys);
    }

    println!(
        "{}% GET / {}% SET over {} keys, {threads} threads on {cpus} CPUs, {} rounds of {} s",
        100 - args.write_percent,
        args.write_percent,
        args.keys,
        args.rounds,
        args.seconds
    );
    println!(
        "every command through lab_02::route::dispatch, as task-per-connection runs it (no network)"
    );
    if cfg!(debug_assertions) {
        println!("note: this is a debug build; measure with --release");
    }
    println!();

    let names: Vec<String> = targets.iter().map(Target::name).collect();
    let width = names.iter().map(String::len).max().unwrap_or(0) + 2;
    print!("{:<7}", "round");
    for n in &names {
        print!("{n:>width$}");
    }
    println!();
    let mut results = vec![Vec::new(); targets.len()];
    for round in 0..args.rounds {
        print!("{:<7}", round + 1);
        for (i, t) in targets.iter().enumerate() {
            let r = measure(t, &keys, args, threads, round as u64);
            results[i].push(r);
            print!("{:>width$}", rate(r));
        }
        println!();
    }

    println!();
    println!("median of {} rounds:", args.rounds);
    let yours = kit::stats::median(&results[0]);
    for (name, rs) in names.iter().zip(&results) {
        let m = kit::stats::median(rs);
        let ratio = if yours > 0.0 { m / yours } else { f64::NAN };
        println!("  {name:<width$}{:>12}   {ratio:.2}x yours", rate(m));
    }
    if threads > cpus {
        println!(
            "\nnote: {threads} threads on {cpus} CPUs: threads also wait for a CPU, not only for locks"
        );
    }
    Ok(())
}
