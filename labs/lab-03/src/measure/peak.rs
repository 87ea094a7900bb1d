//! Experiments 5 and 6: is lab-03 fast enough to measure a peak? The
//! closed model at full speed, beside `wrk` on HTTP and `redis-benchmark`
//! on RESP, alternating tool by tool in each round.

use anyhow::Result;
use kit::fmt::{fmt_int, fmt_pct, fmt_ratio};
use kit::redis_benchmark as bench;
use kit::stats::{med, paired_ratio, spread};
use lab_02::launch::Target;
use report::Table;

use super::tools::{self, GEN_CPU, HttpTarget, SERVER_CPU};
use super::{Plan, ms};
use crate::record::{ENTRIES_PER_REQUEST, RARE};

/// Pipeline depths of the RESP rows: one request in flight per
/// connection, and many.
const DEPTHS: [u32; 2] = [1, 16];

/// A CPU share from which a process counts as using its whole core.
const FULL_CORE: f64 = 0.95;

/// What held the rate back in a run: the side at a full core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    Server,
    Tool,
    Neither,
}

fn limit(tool_cpu: f64, server_cpu: f64) -> Limit {
    if server_cpu >= FULL_CORE {
        Limit::Server
    } else if tool_cpu >= FULL_CORE {
        Limit::Tool
    } else {
        Limit::Neither
    }
}

/// `99%`, or `78%–85%` when the shares differ as printed.
fn pct_range(values: &[f64]) -> String {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (a, b) = (fmt_pct(lo), fmt_pct(hi));
    if a == b { a } else { format!("{a}–{b}") }
}

/// One tool's runs in a group of rows: its CPU and the server's, per row.
struct Side<'a> {
    tool: &'a str,
    tool_cpu: Vec<f64>,
    server_cpu: Vec<f64>,
}

impl Side<'_> {
    /// The limit shared by every row, if they agree.
    fn limit(&self) -> Option<Limit> {
        let mut all = self
            .tool_cpu
            .iter()
            .zip(&self.server_cpu)
            .map(|(&t, &s)| limit(t, s));
        let first = all.next()?;
        all.all(|l| l == first).then_some(first)
    }

    fn describe(&self, server: &str) -> String {
        let (tool, tc, sc) = (
            self.tool,
            pct_range(&self.tool_cpu),
            pct_range(&self.server_cpu),
        );
        match self.limit() {
            Some(Limit::Tool) => format!(
                "{tool} uses {tc} of its core and the {server} only {sc} of its own: {tool} is the limit"
            ),
            Some(Limit::Server) => format!(
                "{tool} ({tc} of its core) drives the {server} to {sc} of its own, so its rate is the {server}'s"
            ),
            Some(Limit::Neither) => {
                format!("neither {tool} ({tc}) nor the {server} ({sc}) is at a full core")
            }
            None => format!(
                "the limit under {tool} differs from row to row ({tool} {tc}, the {server} {sc})"
            ),
        }
    }
}

/// Who limited each tool's rate in a group of rows, from the CPU columns.
fn limits_verdict(server: &str, sides: &[Side], ratios: &[f64]) -> String {
    let all_server = sides.iter().all(|s| s.limit() == Some(Limit::Server));
    if all_server && !ratios.is_empty() {
        let server_cpu: Vec<f64> = sides.iter().flat_map(|s| s.server_cpu.clone()).collect();
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (a, b) = (fmt_ratio(lo), fmt_ratio(hi));
        let ratio = if a == b { a } else { format!("{a} to {b}") };
        format!(
            "the {server} is at a full core under every tool ({}), so they meet the same limit: lab-03's rate over the other's is {ratio}",
            pct_range(&server_cpu)
        )
    } else {
        sides
            .iter()
            .map(|s| s.describe(server))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

struct Peak {
    rps: f64,
    gen_cpu: f64,
    server_cpu: f64,
    p50_us: f64,
    p99_us: f64,
}

pub fn http(plan: &Plan) -> Result<Table> {
    let target = HttpTarget::start(&[], Some(SERVER_CPU))?;
    let conns = plan.peak_connections;
    let d = plan.peak_run;
    let mut lab03 = Vec::new();
    let mut wrk = Vec::new();
    for round in 0..plan.rounds {
        for tool in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
            let cpu0 = target.cpu_seconds()?;
            let p = if tool == 0 {
                let run = tools::lab03(&[
                    "http".into(),
                    target.url(),
                    "-c".into(),
                    conns.to_string(),
                    "-d".into(),
                    format!("{}s", d.as_secs()),
                ])?;
                Peak {
                    rps: run.f("ok_rate"),
                    gen_cpu: run.cpu_share(),
                    server_cpu: (target.cpu_seconds()? - cpu0) / run.wall_s,
                    p50_us: run.f("service.p50_us"),
                    p99_us: run.f("service.p99_us"),
                }
            } else {
                let run = tools::wrk(&target.url(), conns, d)?;
                Peak {
                    rps: run.rps,
                    gen_cpu: run.cpu_s / run.wall_s,
                    server_cpu: (target.cpu_seconds()? - cpu0) / run.wall_s,
                    p50_us: run.p50_us,
                    p99_us: run.p99_us,
                }
            };
            if tool == 0 { &mut lab03 } else { &mut wrk }.push(p);
        }
    }
    let mut t = Table::new(
        "peak-http",
        "Closed model at full speed on one HTTP target: lab-03 and wrk",
        &[
            "generator",
            "req/s (median)",
            "spread",
            "generator CPU",
            "target CPU",
            "p50 (ms)",
            "p99 (ms)",
        ],
    )
    .numeric(&[1, 3, 4, 5, 6]);
    for (name, runs) in [("lab-03", &lab03), ("wrk", &wrk)] {
        let rps: Vec<f64> = runs.iter().map(|p| p.rps).collect();
        t.row(vec![
            name.into(),
            fmt_int(med(runs, |p| p.rps)),
            spread(&rps),
            fmt_pct(med(runs, |p| p.gen_cpu)),
            fmt_pct(med(runs, |p| p.server_cpu)),
            ms(med(runs, |p| p.p50_us)),
            ms(med(runs, |p| p.p99_us)),
        ]);
    }
    let a: Vec<f64> = lab03.iter().map(|p| p.rps).collect();
    let b: Vec<f64> = wrk.iter().map(|p| p.rps).collect();
    let ratio = paired_ratio(&a, &b);
    let side = |tool, runs: &[Peak]| Side {
        tool,
        tool_cpu: vec![med(runs, |p| p.gen_cpu)],
        server_cpu: vec![med(runs, |p| p.server_cpu)],
    };
    t.fact(
        "limits",
        limits_verdict(
            "target",
            &[side("`wrk`", &wrk), side("lab-03", &lab03)],
            &[],
        ),
    );
    t.fact("histogram_entries", ENTRIES_PER_REQUEST.to_string());
    t.fact("rare_values", RARE.to_string());
    t.note(format!(
        "Target: `lab-03 target` (one thread) on CPU {SERVER_CPU}. Generators on CPU {GEN_CPU}, {} round(s), alternating: `lab-03 http URL -c {conns} -d {}s` and `wrk -t1 -c{conns} -d{}s --latency URL`. CPU shares are of one core over the run's wall time.",
        plan.rounds,
        d.as_secs(),
        d.as_secs()
    ));
    t.note(format!(
        "lab-03 / wrk = {} (median of paired rounds): {}.",
        fmt_ratio(ratio),
        if ratio >= 1.0 {
            "lab-03 reaches at least wrk's peak"
        } else {
            "lab-03 falls short of wrk's peak"
        }
    ));
    Ok(t)
}

pub fn resp(plan: &Plan) -> Result<Table> {
    let mut t = Table::new(
        "peak-resp",
        "Closed model at full speed on RESP servers: lab-03 and redis-benchmark",
        &[
            "server",
            "test",
            "pipeline",
            "lab-03 req/s",
            "redis-benchmark req/s",
            "lab-03 / redis-benchmark",
            "lab-03 CPU",
            "redis-benchmark CPU",
            "server CPU (lab-03 / redis-benchmark runs)",
        ],
    )
    .numeric(&[2, 3, 4, 5, 6, 7]);
    let conns = plan.peak_connections;
    // Per depth: (lab-03 CPU, server CPU), the same for redis-benchmark,
    // and the ratio, one entry per row.
    type Cpus = (Vec<f64>, Vec<f64>);
    let mut by_depth: Vec<(Cpus, Cpus, Vec<f64>)> =
        DEPTHS.iter().map(|_| Default::default()).collect();
    // (ratio, server CPU in lab-03's runs, lab-03's CPU) of the lowest row.
    let mut worst = (f64::INFINITY, 0.0, 0.0);
    for target in [Target::EventLoop, Target::Redis] {
        let mut server = super::lab02::start(target, Some(SERVER_CPU), 1)?;
        for test in ["set", "get"] {
            for (d, (depth, requests)) in DEPTHS.into_iter().zip(plan.resp_requests).enumerate() {
                let mut ours = Vec::new();
                let mut theirs = Vec::new();
                for round in 0..plan.rounds {
                    for tool in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
                        if tool == 0 {
                            let cpu0 = server.cpu_seconds()?;
                            let run = tools::lab03(&[
                                "resp".into(),
                                format!("127.0.0.1:{}", server.port),
                                "--mix".into(),
                                test.into(),
                                "--keyspace".into(),
                                "100000".into(),
                                "-c".into(),
                                conns.to_string(),
                                "-P".into(),
                                depth.to_string(),
                                "-n".into(),
                                requests.to_string(),
                            ])?;
                            let elapsed = run.f("elapsed_s");
                            ours.push(Peak {
                                rps: run.f("ok") / elapsed,
                                gen_cpu: run.cpu_share(),
                                server_cpu: (server.cpu_seconds()? - cpu0) / run.wall_s,
                                p50_us: run.f("service.p50_us"),
                                p99_us: run.f("service.p99_us"),
                            });
                        } else {
                            let load = bench::Load {
                                test,
                                clients: conns as u32,
                                pipeline: depth,
                                requests,
                                keyspace: 100_000,
                                cpus: Some(GEN_CPU),
                            };
                            let s = bench::measure(server.port, &mut server.process, &load)?;
                            theirs.push(Peak {
                                rps: s.rps,
                                gen_cpu: s.client_share(),
                                server_cpu: s.cpu_share(),
                                p50_us: s.p50_ms * 1e3,
                                p99_us: s.p99_ms * 1e3,
                            });
                        }
                    }
                }
                let a: Vec<f64> = ours.iter().map(|p| p.rps).collect();
                let b: Vec<f64> = theirs.iter().map(|p| p.rps).collect();
                let ratio = paired_ratio(&a, &b);
                if ratio < worst.0 {
                    worst = (
                        ratio,
                        med(&ours, |p| p.server_cpu),
                        med(&ours, |p| p.gen_cpu),
                    );
                }
                let group = &mut by_depth[d];
                group.0.0.push(med(&ours, |p| p.gen_cpu));
                group.0.1.push(med(&ours, |p| p.server_cpu));
                group.1.0.push(med(&theirs, |p| p.gen_cpu));
                group.1.1.push(med(&theirs, |p| p.server_cpu));
                group.2.push(ratio);
                t.row(vec![
                    target.name().into(),
                    test.to_uppercase(),
                    depth.to_string(),
                    format!("{} {}", fmt_int(med(&ours, |p| p.rps)), spread(&a)),
                    format!("{} {}", fmt_int(med(&theirs, |p| p.rps)), spread(&b)),
                    fmt_ratio(ratio),
                    fmt_pct(med(&ours, |p| p.gen_cpu)),
                    fmt_pct(med(&theirs, |p| p.gen_cpu)),
                    format!(
                        "{} / {}",
                        fmt_pct(med(&ours, |p| p.server_cpu)),
                        fmt_pct(med(&theirs, |p| p.server_cpu))
                    ),
                ]);
            }
        }
        server.check_alive()?;
    }
    t.note(format!(
        "Servers on CPU {SERVER_CPU}: lab-02's event loop (`lab-03 lab02 --model event-loop`, the same server as `cargo run -p lab-02`) and redis-server with no persistence. Generators on CPU {GEN_CPU}, {} round(s), alternating: `lab-03 resp ADDR --mix T --keyspace 100000 -c {conns} -P D -n N` and `redis-benchmark -t T -r 100000 -c {conns} -P D -n N --csv`, N = {} at depth {} and {} at depth {}. lab-03's rate is good replies over the time from its first send to its last reply; redis-benchmark's is its own `rps`.",
        plan.rounds,
        fmt_int(plan.resp_requests[0] as f64),
        DEPTHS[0],
        fmt_int(plan.resp_requests[1] as f64),
        DEPTHS[1],
    ));
    for (key, depth, ((ours_gen, ours_srv), (theirs_gen, theirs_srv), ratios)) in
        [("shallow", DEPTHS[0]), ("deep", DEPTHS[1])]
            .into_iter()
            .zip(by_depth)
            .map(|((k, d), g)| (k, d, g))
    {
        t.fact(&format!("depth_{key}"), depth.to_string());
        let sides = [
            Side {
                tool: "`redis-benchmark`",
                tool_cpu: theirs_gen,
                server_cpu: theirs_srv,
            },
            Side {
                tool: "lab-03",
                tool_cpu: ours_gen,
                server_cpu: ours_srv,
            },
        ];
        t.fact(
            &format!("{key}_verdict"),
            limits_verdict("server", &sides, &ratios),
        );
    }
    let (ratio, server_cpu, gen_cpu) = worst;
    t.note(format!(
        "Lowest lab-03 / redis-benchmark ratio: {ratio:.3}: {}",
        if ratio >= 1.0 {
            "lab-03 reaches at least redis-benchmark's peak in every row.".to_owned()
        } else if server_cpu >= 0.95 && gen_cpu < 0.9 {
            format!(
                "below 1.0 in that row, but there the server used {} of its core under lab-03 while lab-03 used {} of its own: the server was the limit for both tools, and no generator can show more than it serves.",
                fmt_pct(server_cpu),
                fmt_pct(gen_cpu)
            )
        } else {
            format!(
                "lab-03 falls short of redis-benchmark in that row (server {}, lab-03 {} of a core).",
                fmt_pct(server_cpu),
                fmt_pct(gen_cpu)
            )
        }
    ));
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side<'a>(tool: &'a str, tool_cpu: &[f64], server_cpu: &[f64]) -> Side<'a> {
        Side {
            tool,
            tool_cpu: tool_cpu.to_vec(),
            server_cpu: server_cpu.to_vec(),
        }
    }

    #[test]
    fn the_side_at_a_full_core_is_the_limit() {
        assert_eq!(limit(0.99, 0.99), Limit::Server);
        assert_eq!(limit(0.99, 0.80), Limit::Tool);
        assert_eq!(limit(0.50, 0.80), Limit::Neither);
        assert_eq!(pct_range(&[0.99, 0.991]), "99%");
        assert_eq!(pct_range(&[0.78, 0.85]), "78%–85%");
    }

    #[test]
    fn verdicts_name_the_limit_per_tool_or_a_shared_one() {
        let shallow = limits_verdict(
            "server",
            &[
                side("rb", &[0.99, 0.99], &[0.78, 0.85]),
                side("lab-03", &[0.85, 0.91], &[0.99, 1.0]),
            ],
            &[1.5, 1.6],
        );
        assert!(shallow.contains("rb is the limit"), "{shallow}");
        assert!(shallow.contains("its rate is the server's"), "{shallow}");
        let deep = limits_verdict(
            "server",
            &[
                side("rb", &[0.63, 0.80], &[0.99, 0.99]),
                side("lab-03", &[0.44, 0.60], &[0.99, 1.0]),
            ],
            &[1.0, 1.03],
        );
        assert!(
            deep.contains("same limit") && deep.contains("1.00× to 1.03×"),
            "{deep}"
        );
        let mixed = limits_verdict("server", &[side("rb", &[0.99, 0.5], &[0.5, 0.99])], &[1.0]);
        assert!(mixed.contains("differs"), "{mixed}");
    }
}
