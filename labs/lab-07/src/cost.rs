//! What recording costs the labs it records, measured as ratios in one
//! run: contenders alternate within each round (their order rotating),
//! and each figure is the median over rounds.
//!
//! Three questions:
//!
//! 1. **lab-01**: two threads doing gets and sets on lab-01's sharded
//!    cache, with `std::sync::Mutex` around each shard, then with the
//!    [recording lock](crate::lockrec) around each, first not recording
//!    (the wrapper alone), then recording every acquire and release.
//! 2. **lab-02**: two clients pipelining SETs and GETs to lab-02's server
//!    in this process, with nobody recording, then with a recording
//!    plugged into the [relay](crate::relay) (every `ul::step` event of
//!    lab-02's becomes a step), on the event loop and on task per
//!    connection.
//! 3. **A call site nobody records**: a million `ul::step` events in a
//!    loop with no recording on, against the same loop without them.
//!
//! Recording is for short scenes: a recording keeps every step, each with
//! a copy of the side panel, in memory. The rounds here record hundreds
//! of thousands of steps, and each round drops its recording.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kit::fmt::{fmt_int, fmt_ratio};
use kit::rng::Rng;
use kit::stats::{median, rotated, spread};
use lab_01::shard::Shard;
use lab_01::sharded::Locks;
use lab_01::{Cache, CacheConfig, ShardedMutex};
use lab_02::client::Client;
use lab_02::config::{Config, Model};
use report::Table;

use crate::lockrec::{RecordingMutex, Tracker};
use crate::recorder::Recorder;
use crate::relay::Session;
use crate::trace::Clock;

/// How long and how often.
#[derive(Debug, Clone, Copy)]
struct Plan {
    rounds: usize,
    /// One lab-01 contender's run in a round.
    cache_cell: Duration,
    /// One lab-02 contender's run in a round.
    server_cell: Duration,
    /// Iterations of the call-site loop.
    calls: u64,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                rounds: 3,
                cache_cell: Duration::from_millis(60),
                server_cell: Duration::from_millis(80),
                calls: 200_000,
            }
        } else {
            Self {
                rounds: 5,
                cache_cell: Duration::from_millis(300),
                server_cell: Duration::from_millis(400),
                calls: 1_000_000,
            }
        }
    }
}

/// Shards in the lab-01 caches measured: the two-shards scene's cache.
const SHARDS: usize = 2;
/// Keys the lab-01 threads draw from.
const CACHE_KEYS: u64 = 1024;
/// Threads on the lab-01 cache, and clients of the lab-02 server.
const THREADS: usize = 2;
/// Commands per pipelined batch a lab-02 client sends.
const PIPELINE: usize = 32;
/// Keys the lab-02 clients use.
const SERVER_KEYS: usize = 1000;

/// What one contender did in one round.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    /// Operations (lab-01) or replies (lab-02) per second.
    per_sec: f64,
    /// Steps recorded per second (0 when not recording).
    steps_per_sec: f64,
}

/// Runs the three measurements and returns their table.
pub fn measure(quick: bool) -> Result<Table> {
    let plan = Plan::new(quick);
    let mut table = Table::new(
        "recorder-cost",
        "What recording costs the labs it records",
        &[
            "workload",
            "without",
            "with",
            "with / without",
            "spread of the ratio",
            "steps recorded per second",
        ],
    )
    .numeric(&[1, 2, 3, 5]);

    // One turn at the relay for the whole run: no scene recording in this
    // process may plug in meanwhile and skew a round.
    let session = Session::begin()?;

    let cache = cache_rounds(&plan)?;
    let wrapper = ratios(&cache.wrapper, &cache.plain);
    let recorded = ratios(&cache.recorded, &cache.plain);
    table.row(vec![
        format!(
            "lab-01 sharded cache ({SHARDS} shards), {THREADS} threads: std's Mutex, or the recording lock not recording"
        ),
        ops(med(&cache.plain)),
        ops(med(&cache.wrapper)),
        fmt_ratio(median(&wrapper)),
        spread(&wrapper),
        "0".to_owned(),
    ]);
    table.row(vec![
        format!(
            "lab-01 sharded cache ({SHARDS} shards), {THREADS} threads: std's Mutex, or the recording lock recording"
        ),
        ops(med(&cache.plain)),
        ops(med(&cache.recorded)),
        fmt_ratio(median(&recorded)),
        spread(&recorded),
        fmt_int(med_steps(&cache.recorded)),
    ]);
    table.fact("lab01_wrapper_ratio", fmt_ratio(median(&wrapper)));
    table.fact("lab01_wrapper_verdict", against_one(&wrapper));
    table.fact("lab01_recorded_ratio", fmt_ratio(median(&recorded)));
    table.fact("lab01_recorded_slowdown", slowdown(median(&recorded)));

    for (model, key, name) in [
        (Model::EventLoop, "lab02_event_loop", "event loop"),
        (
            Model::TaskPerConnection,
            "lab02_tasks",
            "task per connection",
        ),
    ] {
        let (off, on) = server_rounds(&plan, &session, model)?;
        let r = ratios(&on, &off);
        table.row(vec![
            format!(
                "lab-02 {name}, {THREADS} clients pipelining {PIPELINE} SET/GET: nobody recording, or a recording on"
            ),
            reqs(med(&off)),
            reqs(med(&on)),
            fmt_ratio(median(&r)),
            spread(&r),
            fmt_int(med_steps(&on)),
        ]);
        table.fact(&format!("{key}_recorded_ratio"), fmt_ratio(median(&r)));
        table.fact(&format!("{key}_recorded_slowdown"), slowdown(median(&r)));
        if model == Model::EventLoop {
            // The headline figure the chapter quotes.
            table.fact("lab02_recorded_ratio", fmt_ratio(median(&r)));
        }
    }

    let (with, without) = call_site_rounds(&plan);
    let extra: Vec<f64> = with.iter().zip(&without).map(|(w, o)| w - o).collect();
    table.row(vec![
        "a loop without, or with, a ul::step call site nobody records (time per iteration)"
            .to_owned(),
        format!("{:.2} ns", median(&without)),
        format!("{:.2} ns", median(&with)),
        fmt_ratio(kit::stats::paired_ratio(&with, &without)),
        spread(&extra),
        "0".to_owned(),
    ]);
    table.fact(
        "disabled_site_ns",
        format!("{:.2} ns", median(&extra).max(0.0)),
    );
    table.fact("rounds", plan.rounds.to_string());

    table.note(format!(
        "Measured: {} rounds; in each, every contender runs once, in an order that rotates \
         between rounds, and ratios are per round, their median shown. lab-01 cells run {} each \
         and lab-02 cells {}; the call-site loop is {} iterations. The recorded lab-01 cache \
         records an acquire and a release per operation, each with the side panel (who holds \
         each shard); lab-02 records its reads, commands and writes through the relay, with no \
         side panel. The server runs in this process, on the same two cores as its clients; \
         nothing is pinned.",
        plan.rounds,
        kit::fmt::fmt_duration(plan.cache_cell),
        kit::fmt::fmt_duration(plan.server_cell),
        fmt_int(plan.calls as f64),
    ));
    table.note(
        "A call site nobody records costs the level check tracing puts in front of it: one \
         relaxed atomic load and a branch; its fields are not evaluated. The extra time per \
         call is the median over rounds of the difference between the two loops.",
    );
    Ok(table)
}

fn med(xs: &[Sample]) -> f64 {
    median(&xs.iter().map(|s| s.per_sec).collect::<Vec<_>>())
}

fn med_steps(xs: &[Sample]) -> f64 {
    median(&xs.iter().map(|s| s.steps_per_sec).collect::<Vec<_>>())
}

/// Per-round ratios `a[i] / b[i]`.
fn ratios(a: &[Sample], b: &[Sample]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.per_sec / y.per_sec)
        .collect()
}

/// A verdict on per-round ratios against 1×: a difference only when every
/// round falls on the same side of it.
fn against_one(ratios: &[f64]) -> String {
    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let m = fmt_ratio(median(ratios));
    let range = format!("{} to {}", fmt_ratio(lo), fmt_ratio(hi));
    if !(lo.is_finite() && hi.is_finite()) {
        "not measured".to_owned()
    } else if lo <= 1.0 && 1.0 <= hi {
        format!("no difference these rounds can resolve (median {m}, rounds from {range})")
    } else if hi < 1.0 {
        format!("slower in every round (median {m}, rounds from {range})")
    } else {
        format!("faster in every round (median {m}, rounds from {range})")
    }
}

/// `1 / ratio` as `12×` (how many times slower), for prose.
fn slowdown(ratio: f64) -> String {
    if ratio.is_finite() && ratio > 0.0 {
        let s = 1.0 / ratio;
        if s >= 10.0 {
            format!("{s:.0}×")
        } else {
            format!("{s:.1}×")
        }
    } else {
        "-".to_owned()
    }
}

fn ops(per_sec: f64) -> String {
    format!("{} M ops/s", kit::fmt::fmt_mops(per_sec))
}

fn reqs(per_sec: f64) -> String {
    format!("{} k req/s", fmt_int(per_sec / 1e3))
}

// ---- lab-01 ----

type Hasher = std::hash::RandomState;
type Recorded = Locks<RecordingMutex<Shard<u64, u64, Hasher>>, Hasher, true>;

#[derive(Default)]
struct CacheRounds {
    plain: Vec<Sample>,
    wrapper: Vec<Sample>,
    recorded: Vec<Sample>,
}

#[derive(Debug, Clone, Copy)]
enum CacheCell {
    Plain,
    Wrapper,
    Recording,
}

fn cache_rounds(plan: &Plan) -> Result<CacheRounds> {
    let mut out = CacheRounds::default();
    let config = || CacheConfig::new().shards(SHARDS);
    for round in 0..plan.rounds {
        for cell in rotated(
            &[CacheCell::Plain, CacheCell::Wrapper, CacheCell::Recording],
            round,
        ) {
            match cell {
                CacheCell::Plain => {
                    let c = ShardedMutex::<u64, u64>::with_config(config())?;
                    out.plain.push(hammer(&c, plan.cache_cell, None)?);
                }
                CacheCell::Wrapper => {
                    let c = Recorded::with_config(config())?;
                    out.wrapper.push(hammer(&c, plan.cache_cell, None)?);
                }
                CacheCell::Recording => {
                    let rec = Recorder::new("cost", "cost", Clock::Real);
                    let tracker = Tracker::new(rec.clone(), Duration::ZERO);
                    let c = tracker.build(|| Recorded::with_config(config()))?;
                    out.recorded.push(hammer(&c, plan.cache_cell, Some(&rec))?);
                }
            }
        }
    }
    Ok(out)
}

/// [`THREADS`] threads doing 90% gets and 10% inserts on `cache` for
/// `length`.
fn hammer(
    cache: &impl Cache<u64, u64>,
    length: Duration,
    rec: Option<&Recorder>,
) -> Result<Sample> {
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    let start = Barrier::new(THREADS + 1);
    let elapsed = std::thread::scope(|s| -> Result<Duration> {
        for t in 0..THREADS {
            let (stop, total, start) = (&stop, &total, &start);
            std::thread::Builder::new()
                .name(format!("cost {t}"))
                .spawn_scoped(s, move || {
                    let mut rng = Rng::new(0x5eed + t as u64);
                    let mut n = 0u64;
                    start.wait();
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..64 {
                            let k = rng.below(CACHE_KEYS);
                            if rng.below(10) == 0 {
                                cache.insert(k, n);
                            } else {
                                black_box(cache.get(&k));
                            }
                            n += 1;
                        }
                    }
                    total.fetch_add(n, Ordering::Relaxed);
                })
                .context("starting a cost thread")?;
        }
        start.wait();
        let began = Instant::now();
        std::thread::sleep(length);
        stop.store(true, Ordering::Relaxed);
        Ok(began.elapsed())
    })?;
    // The threads have joined: `elapsed` is a little short of their run
    // (they finish a batch of 64 after the stop), which favours no one.
    let secs = elapsed.as_secs_f64();
    Ok(Sample {
        per_sec: total.load(Ordering::Relaxed) as f64 / secs,
        steps_per_sec: rec.map_or(0.0, |r| r.len() as f64 / secs),
    })
}

// ---- lab-02 ----

/// Rounds on one server model: (nobody recording, recording).
fn server_rounds(
    plan: &Plan,
    session: &Session,
    model: Model,
) -> Result<(Vec<Sample>, Vec<Sample>)> {
    let mut config = Config::ephemeral(model);
    config.threads = Some(2);
    let server = lab_02::server::start(config).context("starting lab-02's server")?;
    let addr = server.addr();
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let result = (|| -> Result<()> {
        for round in 0..plan.rounds {
            for recording in rotated(&[false, true], round) {
                if recording {
                    let rec = Recorder::new("cost", "cost", Clock::Real);
                    session.attach(Arc::new(rec.clone()));
                    let s = drive(addr, plan.server_cell, Some(&rec));
                    session.detach();
                    on.push(s?);
                } else {
                    off.push(drive(addr, plan.server_cell, None)?);
                }
            }
        }
        Ok(())
    })();
    server.shutdown();
    let stopped = server.wait();
    result?;
    stopped.context("lab-02's server stopped with an error")?;
    Ok((off, on))
}

/// [`THREADS`] clients, each sending batches of [`PIPELINE`] commands
/// (SET and GET alternating) and reading the replies, for `length`.
fn drive(addr: std::net::SocketAddr, length: Duration, rec: Option<&Recorder>) -> Result<Sample> {
    let stop = AtomicBool::new(false);
    let start = Barrier::new(THREADS + 1);
    let (replies, elapsed) = std::thread::scope(|s| -> Result<(u64, Duration)> {
        let mut clients = Vec::new();
        for t in 0..THREADS {
            let mut client = Client::connect(addr).context("connecting a cost client")?;
            let (stop, start) = (&stop, &start);
            clients.push(s.spawn(move || -> Result<u64> {
                let batch: Vec<Vec<Vec<u8>>> = (0..PIPELINE)
                    .map(|i| {
                        let key = format!("cost:{}", (t * PIPELINE + i) % SERVER_KEYS).into_bytes();
                        if i % 2 == 0 {
                            vec![b"SET".to_vec(), key, b"v".to_vec()]
                        } else {
                            vec![b"GET".to_vec(), key]
                        }
                    })
                    .collect();
                let mut n = 0u64;
                start.wait();
                while !stop.load(Ordering::Relaxed) {
                    let got = client.pipeline(&batch)?;
                    if let Some(lab_02::resp::Frame::Error(e)) = got
                        .iter()
                        .find(|f| matches!(f, lab_02::resp::Frame::Error(_)))
                    {
                        bail!("the server answered an error: {e}");
                    }
                    n += got.len() as u64;
                }
                Ok(n)
            }));
        }
        start.wait();
        let began = Instant::now();
        std::thread::sleep(length);
        stop.store(true, Ordering::Relaxed);
        let elapsed = began.elapsed();
        let mut total = 0;
        for c in clients {
            total += c
                .join()
                .map_err(|_| anyhow::anyhow!("a cost client panicked"))??;
        }
        Ok((total, elapsed))
    })?;
    let secs = elapsed.as_secs_f64();
    Ok(Sample {
        per_sec: replies as f64 / secs,
        steps_per_sec: rec.map_or(0.0, |r| r.len() as f64 / secs),
    })
}

// ---- the call site ----

/// Nanoseconds per iteration of the loop with a `ul::step` event in it
/// and of the same loop without, per round. Nobody records meanwhile:
/// the caller holds the relay's session with nothing attached.
fn call_site_rounds(plan: &Plan) -> (Vec<f64>, Vec<f64>) {
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for round in 0..plan.rounds {
        for site in rotated(&[true, false], round) {
            let began = Instant::now();
            if site {
                with_site(plan.calls);
            } else {
                without_site(plan.calls);
            }
            let ns = began.elapsed().as_nanos() as f64 / plan.calls as f64;
            if site {
                with.push(ns);
            } else {
                without.push(ns);
            }
        }
    }
    (with, without)
}

// ANCHOR: disabled-site
#[inline(never)]
fn with_site(calls: u64) {
    for i in 0..black_box(calls) {
        tracing::trace!(
            target: "ul::step",
            lane = "bench",
            kind = "note",
            label = %format_args!("iteration {i}"),
            emits = i,
        );
        black_box(i);
    }
}

#[inline(never)]
fn without_site(calls: u64) {
    for i in 0..black_box(calls) {
        black_box(i);
    }
}
// ANCHOR_END: disabled-site
