//! Experiment 8: why do two tables disagree about SET at pipeline 16?
//!
//! lab-02's `throughput-split` and this lab's `peak-resp` both run SET at
//! pipeline 16 against lab-02's event loop and redis-server, each server
//! on CPU 1 and the generator on CPU 0, yet give different ratios of the
//! two. Their setups differ in three ways: lab-02 writes every key before
//! it measures (so SETs overwrite) while peak-resp starts each server
//! empty; lab-02 sends redis-benchmark's requests only while peak-resp
//! alternates redis-benchmark and lab-03; and the request counts differ.
//! Here each of the three is varied alone, on a freshly started server
//! per run, in one invocation, so the ratio moves only with the factor.

use anyhow::Result;
use kit::fmt::{fmt_int, fmt_pct, fmt_ratio};
use kit::redis_benchmark as bench;
use kit::stats::{med, paired_ratio, spread};
use lab_02::launch::{Server, Target};
use report::Table;

use super::Plan;
use super::lab02;
use super::tools::{self, GEN_CPU, SERVER_CPU};

/// The two servers the tables disagree about.
const SERVERS: [Target; 2] = [Target::EventLoop, Target::Redis];

/// A ratio that moves by less than this share is treated as unchanged:
/// about the rounds' spread on this machine.
const MOVES: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Start {
    /// Every key written before the run: SETs overwrite (lab-02).
    Filled,
    /// A fresh server: SETs create keys until all exist (peak-resp).
    Empty,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Generator {
    RedisBenchmark,
    Lab03,
}

/// One row: a setup, varied from lab-02's in at most one way.
#[derive(Debug, Clone, Copy)]
struct Variant {
    start: Start,
    generator: Generator,
    /// Index into `plan.d16_requests`: 0 is lab-02's count, 1 peak-resp's.
    requests: usize,
}

const VARIANTS: [Variant; 5] = [
    Variant {
        start: Start::Filled,
        generator: Generator::RedisBenchmark,
        requests: 0,
    },
    Variant {
        start: Start::Empty,
        generator: Generator::RedisBenchmark,
        requests: 0,
    },
    Variant {
        start: Start::Filled,
        generator: Generator::Lab03,
        requests: 0,
    },
    Variant {
        start: Start::Empty,
        generator: Generator::Lab03,
        requests: 0,
    },
    Variant {
        start: Start::Filled,
        generator: Generator::RedisBenchmark,
        requests: 1,
    },
];

/// req/s and the server's CPU share, one run.
#[derive(Debug, Clone, Copy)]
struct Run {
    rps: f64,
    server_cpu: f64,
}

/// One run on a freshly started server.
fn measure(plan: &Plan, target: Target, v: Variant) -> Result<Run> {
    let mut server = lab02::start(target, Some(SERVER_CPU), 1)?;
    if v.start == Start::Filled {
        server.fill(plan.d16_keyspace)?;
    }
    let requests = plan.d16_requests[v.requests];
    let run = match v.generator {
        Generator::RedisBenchmark => {
            let load = bench::Load {
                test: "set",
                clients: plan.peak_connections as u32,
                pipeline: 16,
                requests,
                keyspace: plan.d16_keyspace,
                cpus: Some(GEN_CPU),
            };
            let s = bench::measure(server.port, &mut server.process, &load)?;
            Run {
                rps: s.rps,
                server_cpu: s.cpu_share(),
            }
        }
        Generator::Lab03 => lab03_run(plan, &server, requests)?,
    };
    server.check_alive()?;
    Ok(run)
}

fn lab03_run(plan: &Plan, server: &Server, requests: u64) -> Result<Run> {
    let cpu0 = server.cpu_seconds()?;
    let run = tools::lab03(&[
        "resp".into(),
        format!("127.0.0.1:{}", server.port),
        "--mix".into(),
        "set".into(),
        "--keyspace".into(),
        plan.d16_keyspace.to_string(),
        "-c".into(),
        plan.peak_connections.to_string(),
        "-P".into(),
        "16".into(),
        "-n".into(),
        requests.to_string(),
    ])?;
    Ok(Run {
        rps: run.f("ok") / run.f("elapsed_s"),
        server_cpu: (server.cpu_seconds()? - cpu0) / run.wall_s,
    })
}

/// All rounds of one variant: event loop and redis-server, paired.
struct Row {
    variant: Variant,
    event_loop: Vec<Run>,
    redis: Vec<Run>,
}

impl Row {
    fn rps(runs: &[Run]) -> Vec<f64> {
        runs.iter().map(|r| r.rps).collect()
    }

    /// Median over rounds of event loop / redis-server.
    fn ratio(&self) -> f64 {
        paired_ratio(&Self::rps(&self.event_loop), &Self::rps(&self.redis))
    }

    /// Half the range of the per-round ratios, relative to their median:
    /// how much this row's ratio moved from round to round by itself.
    fn ratio_spread(&self) -> f64 {
        let ratios: Vec<f64> = Self::rps(&self.event_loop)
            .iter()
            .zip(Self::rps(&self.redis))
            .map(|(a, b)| a / b)
            .collect();
        if ratios.len() < 2 {
            return 0.0;
        }
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let m = kit::stats::median(&ratios);
        if m > 0.0 { (hi - lo) / (2.0 * m) } else { 0.0 }
    }

    fn redis_rps(&self) -> f64 {
        med(&self.redis, |r| r.rps)
    }
}

pub fn run(plan: &Plan) -> Result<Table> {
    let mut rows: Vec<Row> = VARIANTS
        .iter()
        .map(|&variant| Row {
            variant,
            event_loop: Vec::new(),
            redis: Vec::new(),
        })
        .collect();
    for round in 0..plan.rounds {
        for row in &mut rows {
            for target in kit::stats::rotated(&SERVERS, round) {
                let r = measure(plan, target, row.variant)?;
                match target {
                    Target::Redis => row.redis.push(r),
                    _ => row.event_loop.push(r),
                }
            }
        }
        eprintln!("  SET depth 16 round {}/{} done", round + 1, plan.rounds);
    }
    Ok(table(plan, &rows))
}

fn start_name(s: Start) -> &'static str {
    match s {
        Start::Filled => "filled",
        Start::Empty => "empty",
    }
}

fn generator_name(g: Generator) -> &'static str {
    match g {
        Generator::RedisBenchmark => "redis-benchmark",
        Generator::Lab03 => "lab-03",
    }
}

fn table(plan: &Plan, rows: &[Row]) -> Table {
    let mut t = Table::new(
        "set-depth16",
        "SET at pipeline 16, one setup difference at a time: event loop and redis-server",
        &[
            "keyspace at start",
            "generator",
            "requests",
            "event-loop req/s",
            "redis-server req/s",
            "server CPU (event-loop / redis-server)",
            "event-loop / redis-server",
        ],
    )
    .numeric(&[2, 3, 4, 6]);
    for r in rows {
        let v = r.variant;
        t.row(vec![
            start_name(v.start).into(),
            generator_name(v.generator).into(),
            fmt_int(plan.d16_requests[v.requests] as f64),
            format!(
                "{} {}",
                fmt_int(med(&r.event_loop, |x| x.rps)),
                spread(&Row::rps(&r.event_loop))
            ),
            format!("{} {}", fmt_int(r.redis_rps()), spread(&Row::rps(&r.redis))),
            format!(
                "{} / {}",
                fmt_pct(med(&r.event_loop, |x| x.server_cpu)),
                fmt_pct(med(&r.redis, |x| x.server_cpu))
            ),
            fmt_ratio(r.ratio()),
        ]);
    }
    t.note(format!(
        "Each run starts a fresh server on CPU {SERVER_CPU} (`taskset`): lab-02's event loop \
         (`lab-03 lab02 --model event-loop`) or redis-server with no persistence. filled: keys \
         `key:000000000000` to the {}th written with MSET before the run, so every SET \
         overwrites (lab-02's `throughput-split`); empty: nothing written, so SETs create keys \
         until the keyspace is full. Generators on CPU {GEN_CPU}, {} clients, pipeline 16, \
         keyspace {}: `redis-benchmark -t set -P 16 -r {} -c {} -n N` or `lab-03 resp ADDR \
         --mix set -P 16 --keyspace {} -c {} -n N`. Median of {} round(s); in each round every \
         row runs both servers, in alternating order.",
        fmt_int(plan.d16_keyspace as f64),
        plan.peak_connections,
        fmt_int(plan.d16_keyspace as f64),
        plan.d16_keyspace,
        plan.peak_connections,
        plan.d16_keyspace,
        plan.peak_connections,
        plan.rounds
    ));
    let effects = effects(rows);
    t.note(format!("Measured: {}.", verdict(&effects)));
    let find = |start, generator, requests| {
        rows.iter().find(|r| {
            r.variant.start == start
                && r.variant.generator == generator
                && r.variant.requests == requests
        })
    };
    let keyed = [
        ("filled_bench", Start::Filled, Generator::RedisBenchmark, 0),
        ("empty_bench", Start::Empty, Generator::RedisBenchmark, 0),
        ("filled_lab03", Start::Filled, Generator::Lab03, 0),
        ("empty_lab03", Start::Empty, Generator::Lab03, 0),
        (
            "filled_bench_more",
            Start::Filled,
            Generator::RedisBenchmark,
            1,
        ),
    ];
    for (key, s, g, n) in keyed {
        if let Some(r) = find(s, g, n) {
            t.fact(&format!("ratio_{key}"), fmt_ratio(r.ratio()));
            t.fact(&format!("redis_{key}"), fmt_int(r.redis_rps()));
        }
    }
    t.fact("requests", fmt_int(plan.d16_requests[0] as f64));
    t.fact("requests_more", fmt_int(plan.d16_requests[1] as f64));
    t.fact("keyspace", fmt_int(plan.d16_keyspace as f64));
    t.fact("clients", plan.peak_connections.to_string());
    t.fact("verdict", verdict(&effects));
    t.fact("conclusion", conclusion(&effects));
    t
}

/// What the verdict means for the two tables that disagree.
fn conclusion(e: &Effects) -> &'static str {
    if e.moved().is_empty() {
        "so no setup difference explains why the two tables disagree: they come from separate \
         invocations, and a ratio read across two runs carries each run's drift. Compare servers \
         within one run, alternating them, as every table in this book does"
    } else {
        "so the tables disagree because their setups do: a ratio between two servers holds for \
         the setup it was measured in, and a table must say whether the keys existed and which \
         tool sent the load"
    }
}

/// How much each factor, varied alone from lab-02's setup (filled,
/// redis-benchmark, lab-02's count), multiplied the event-loop /
/// redis-server ratio.
#[derive(Debug, Clone, Copy)]
struct Effects {
    empty: f64,
    lab03: f64,
    more_requests: f64,
    /// For each factor, how far the two rows it compares moved from round
    /// to round on their own (the sum of their ratio spreads): a factor
    /// counts only beyond that, and beyond [`MOVES`].
    noise: [f64; 3],
}

impl Effects {
    fn factors(&self) -> [(&'static str, f64); 3] {
        [
            ("starting empty instead of filled", self.empty),
            ("lab-03 instead of redis-benchmark", self.lab03),
            ("the larger request count", self.more_requests),
        ]
    }

    /// The factors that moved the ratio by [`MOVES`] or more, and by more
    /// than the rounds' own spread.
    fn moved(&self) -> Vec<(&'static str, f64)> {
        self.factors()
            .into_iter()
            .zip(self.noise)
            .filter(|((_, x), noise)| (x - 1.0).abs() >= MOVES.max(*noise))
            .map(|(f, _)| f)
            .collect()
    }
}

fn effects(rows: &[Row]) -> Effects {
    let ratio = |i: usize| rows.get(i).map_or(f64::NAN, Row::ratio);
    let spread = |i: usize| rows.get(i).map_or(0.0, Row::ratio_spread);
    let base = ratio(0);
    Effects {
        empty: ratio(1) / base,
        lab03: ratio(2) / base,
        more_requests: ratio(4) / base,
        noise: [
            spread(0) + spread(1),
            spread(0) + spread(2),
            spread(0) + spread(4),
        ],
    }
}

/// The sentence: which factor, if any, moved the ratio by more than
/// [`MOVES`].
fn verdict(e: &Effects) -> String {
    let factors = e.factors();
    let moved: Vec<String> = e
        .moved()
        .iter()
        .map(|(name, x)| format!("{name} multiplied it by {}", fmt_ratio(*x)))
        .collect();
    let all: Vec<String> = factors
        .iter()
        .zip(e.noise)
        .map(|((name, x), noise)| {
            format!(
                "{name} {} against a round-to-round spread of ±{}",
                fmt_ratio(*x),
                fmt_pct(noise)
            )
        })
        .collect();
    if moved.is_empty() {
        format!(
            "no single setup difference moved the event-loop / redis-server ratio by {} or \
             more beyond what its rounds moved by themselves ({}): in the same run, the two \
             tables' setups give the same comparison",
            fmt_pct(MOVES),
            all.join("; ")
        )
    } else {
        format!(
            "varied alone from lab-02's setup, {} (each factor: {})",
            moved.join(" and "),
            all.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_names_the_factor_that_moved() {
        let none = verdict(&Effects {
            empty: 1.02,
            lab03: 0.98,
            more_requests: 1.01,
            noise: [0.0; 3],
        });
        assert!(none.starts_with("no single setup difference"), "{none}");
        let empty = verdict(&Effects {
            empty: 1.2,
            lab03: 1.01,
            more_requests: 0.99,
            noise: [0.0; 3],
        });
        assert!(
            empty.contains("starting empty instead of filled multiplied it by 1.20×"),
            "{empty}"
        );
        assert!(!empty.contains("lab-03 instead of redis-benchmark multiplied"));
        let still = Effects {
            empty: 1.04,
            lab03: 0.96,
            more_requests: 1.0,
            noise: [0.0; 3],
        };
        assert!(conclusion(&still).contains("no setup difference"));
        let moved = Effects {
            empty: 0.9,
            lab03: 1.0,
            more_requests: 1.0,
            noise: [0.0; 3],
        };
        assert!(conclusion(&moved).contains("setups do"));
    }

    #[test]
    fn a_factor_inside_the_rounds_spread_does_not_count() {
        let noisy = Effects {
            empty: 1.01,
            lab03: 0.93,
            more_requests: 1.03,
            noise: [0.1, 0.16, 0.05],
        };
        assert!(noisy.moved().is_empty());
        assert!(verdict(&noisy).starts_with("no single setup difference"));
        let clear = Effects {
            noise: [0.1, 0.02, 0.05],
            ..noisy
        };
        assert_eq!(clear.moved().len(), 1);
    }

    #[test]
    fn variants_vary_one_thing_from_the_first() {
        let base = VARIANTS[0];
        assert_eq!(
            (base.start, base.generator, base.requests),
            (Start::Filled, Generator::RedisBenchmark, 0)
        );
        for i in [1, 2, 4] {
            let v = VARIANTS[i];
            let differs = [
                v.start != base.start,
                v.generator != base.generator,
                v.requests != base.requests,
            ];
            assert_eq!(differs.iter().filter(|d| **d).count(), 1, "variant {i}");
        }
    }
}
