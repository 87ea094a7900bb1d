//! Go beside Rust (`go-beside-rust`): the seed's question, "a goroutine
//! per connection or something else?", answered from the rows the Go
//! server and a thread per connection got in the throughput and memory
//! experiments. Nothing is measured here: the Go server ran in the same
//! rounds as lab-02's models and redis-server, visited in rotating order,
//! and every ratio is the median of per-round ratios.

use report::Table;

use super::memory;
use super::throughput::{self, DEPTHS, TESTS, ratio_range};
use super::{MODELS, Plan};
use crate::launch::Target;
use kit::fmt::{fmt_int, fmt_ratio};
use kit::stats::{med, paired_ratio};

/// Median over rounds of `a`'s req/s over `b`'s for one row.
fn rps_ratio(o: &throughput::Outcome, a: Target, b: Target, depth: u32, test: &str) -> f64 {
    match (o.cell(a, depth, test), o.cell(b, depth, test)) {
        (Some(x), Some(y)) => paired_ratio(&x.rps(), &y.rps()),
        _ => f64::NAN,
    }
}

/// The model with the highest median req/s in one row.
fn best_model(o: &throughput::Outcome, depth: u32, test: &str) -> Option<(Target, f64)> {
    MODELS
        .iter()
        .filter_map(|&m| {
            o.cell(m, depth, test)
                .map(|c| (m, med(&c.rounds, |s| s.rps)))
        })
        .filter(|(_, r)| !r.is_nan())
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// "slower than", "faster than", "as fast as": a throughput ratio range in
/// words (within 10% is even; a range that straddles is mixed).
pub(crate) fn speed_words(lo: f64, hi: f64) -> &'static str {
    if lo.is_nan() || hi.is_nan() {
        "not comparable with"
    } else if hi < 0.9 {
        "slower than"
    } else if lo > 1.1 {
        "faster than"
    } else if lo >= 0.9 && hi <= 1.1 {
        "about as fast as"
    } else {
        "sometimes faster and sometimes slower than"
    }
}

fn range_of(rs: [f64; 2]) -> (f64, f64) {
    (rs[0].min(rs[1]), rs[0].max(rs[1]))
}

/// The memory verdict: what an idle connection cost each design at
/// `conns`, relative to a tokio task.
pub(crate) fn memory_words(task: f64, go: f64, thread: f64, thread_kernel: f64) -> String {
    if [task, go, thread, thread_kernel].iter().any(|x| x.is_nan())
        || [task, go, thread].iter().any(|&x| x <= 0.0)
    {
        return "no verdict: a server could not hold the connections".to_owned();
    }
    let thread_all = thread + thread_kernel.max(0.0);
    let mut by = [
        ("a tokio task", task),
        ("a goroutine", go),
        ("a thread (its kernel stack counted)", thread_all),
    ];
    by.sort_by(|a, b| a.1.total_cmp(&b.1));
    format!(
        "cheapest to dearest: {}, {} ({} the first), {} ({} the first)",
        by[0].0,
        by[1].0,
        fmt_ratio(by[1].1 / by[0].1),
        by[2].0,
        fmt_ratio(by[2].1 / by[0].1)
    )
}

/// The `go-beside-rust` table.
pub(crate) fn table(
    plan: &Plan,
    split: &throughput::Outcome,
    shared: &throughput::Outcome,
    mem: &memory::Outcome,
) -> Table {
    let go = Target::Go.name();
    let mut t = Table::new(
        "go-beside-rust",
        "A goroutine per connection beside lab-02's models, a thread per connection and Redis",
        &[
            "measure",
            go,
            "task-per-connection",
            "best lab-02 model",
            "thread-per-connection",
            "redis-server",
            "Go vs task-per-connection",
        ],
    )
    .numeric(&[1, 2, 4, 5, 6]);
    for o in [split, shared] {
        for depth in DEPTHS {
            for test in TESTS {
                let rps = |s: Target| {
                    o.cell(s, depth, test)
                        .map_or("-".to_owned(), |c| fmt_int(med(&c.rounds, |x| x.rps)))
                };
                let best = best_model(o, depth, test).map_or("-".to_owned(), |(m, r)| {
                    format!("{} {}", m.name(), fmt_int(r))
                });
                t.row(vec![
                    format!(
                        "req/s, {} setup, {} pipeline {depth}",
                        o.setup.name,
                        test.to_uppercase()
                    ),
                    rps(Target::Go),
                    rps(Target::TaskPerConnection),
                    best,
                    "-".to_owned(),
                    rps(Target::Redis),
                    fmt_ratio(rps_ratio(
                        o,
                        Target::Go,
                        Target::TaskPerConnection,
                        depth,
                        test,
                    )),
                ]);
            }
        }
    }
    let conns = plan.mem_conns.iter().max().copied().unwrap_or(0);
    let cell = |s: Target| mem.cells.iter().find(|c| c.server == s && c.conns == conns);
    let bytes =
        |s: Target, f: fn(&memory::MemCell) -> Option<f64>| cell(s).and_then(f).unwrap_or(f64::NAN);
    let fmt_bytes = |x: f64| {
        if x.is_nan() {
            "failed".to_owned()
        } else {
            fmt_int(x)
        }
    };
    let best_mem = MODELS
        .iter()
        .filter_map(|&m| {
            cell(m)
                .and_then(memory::MemCell::idle_bytes)
                .map(|b| (m, b))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let mem_ratio = match (cell(Target::Go), cell(Target::TaskPerConnection)) {
        (Some(g), Some(k)) if g.error().is_none() && k.error().is_none() => {
            paired_ratio(&g.per_conn_idle(), &k.per_conn_idle())
        }
        _ => f64::NAN,
    };
    for (what, f) in [
        (
            "RSS bytes per idle connection",
            memory::MemCell::idle_bytes as fn(&memory::MemCell) -> Option<f64>,
        ),
        (
            "kernel stack bytes per idle connection",
            memory::MemCell::kstack_bytes,
        ),
    ] {
        let is_rss = what.starts_with("RSS");
        t.row(vec![
            format!("{what}, {} connections", fmt_int(conns as f64)),
            fmt_bytes(bytes(Target::Go, f)),
            fmt_bytes(bytes(Target::TaskPerConnection, f)),
            match (is_rss, best_mem) {
                (true, Some((m, b))) => format!("{} {}", m.name(), fmt_int(b)),
                _ => "-".to_owned(),
            },
            fmt_bytes(bytes(Target::ThreadPerConnection, f)),
            fmt_bytes(bytes(Target::Redis, f)),
            if is_rss {
                fmt_ratio(mem_ratio)
            } else {
                "-".to_owned()
            },
        ]);
    }
    t.note(format!(
        "Rows from the throughput experiment (`throughput-split`, `throughput-shared`) and the \
         memory experiment (`memory-per-connection`), where {go} ran beside the other servers in \
         the same rounds: same redis-benchmark runs, same pinning, same prefilled keys. Best \
         lab-02 model: the model with the most req/s (or the fewest bytes) in that row. Go vs \
         task-per-connection is the median over rounds of the per-round ratio (of req/s, or of \
         idle bytes). The memory rows are read after the connections sat idle."
    ));
    t.note(
        "The Go server (`labs/lab-02/go/server`) is the seed article's design: a goroutine per \
         connection, every key in one Go map behind one sync.RWMutex, bufio for reads and \
         writes, replies flushed when no further request is buffered. It knows the few commands \
         redis-benchmark and redis-cli need (PING, GET, SET, MGET, MSET, INCR, DEL, EXISTS, \
         KEYS, DBSIZE, CONFIG GET, …) and none of lab-02's append-only file, expiry or \
         transactions, so it does less per request than lab-02's models do.",
    );
    // Facts: the split setup is the one whose server has a core of its own.
    let mut words = Vec::new();
    for depth in DEPTHS {
        let vs_task =
            TESTS.map(|test| rps_ratio(split, Target::Go, Target::TaskPerConnection, depth, test));
        let vs_redis = TESTS.map(|test| split.ratio_to_redis(Target::Go, depth, test));
        let vs_best = TESTS.map(|test| match best_model(split, depth, test) {
            Some((m, _)) => rps_ratio(split, Target::Go, m, depth, test),
            None => f64::NAN,
        });
        t.fact(&format!("go_vs_task_p{depth}"), ratio_range(vs_task))
            .fact(&format!("go_vs_redis_p{depth}"), ratio_range(vs_redis))
            .fact(&format!("go_vs_best_p{depth}"), ratio_range(vs_best));
        let (lo, hi) = range_of(vs_best);
        words.push(format!(
            "at pipeline {depth} it was {} the best lab-02 model ({})",
            speed_words(lo, hi),
            ratio_range(vs_best)
        ));
    }
    t.fact(
        "throughput_verdict",
        format!(
            "with the server on a core of its own (split setup), {}",
            words.join(", and ")
        ),
    );
    t.fact("conns", fmt_int(conns as f64))
        .fact(
            "go_idle_bytes",
            fmt_bytes(bytes(Target::Go, memory::MemCell::idle_bytes)),
        )
        .fact(
            "task_idle_bytes",
            fmt_bytes(bytes(
                Target::TaskPerConnection,
                memory::MemCell::idle_bytes,
            )),
        )
        .fact(
            "thread_idle_bytes",
            fmt_bytes(bytes(
                Target::ThreadPerConnection,
                memory::MemCell::idle_bytes,
            )),
        )
        .fact(
            "thread_kernel_stack_bytes",
            fmt_bytes(bytes(
                Target::ThreadPerConnection,
                memory::MemCell::kstack_bytes,
            )),
        )
        .fact("go_vs_task_memory", fmt_ratio(mem_ratio))
        .fact(
            "memory_verdict",
            memory_words(
                bytes(Target::TaskPerConnection, memory::MemCell::idle_bytes),
                bytes(Target::Go, memory::MemCell::idle_bytes),
                bytes(Target::ThreadPerConnection, memory::MemCell::idle_bytes),
                bytes(Target::ThreadPerConnection, memory::MemCell::kstack_bytes),
            ),
        );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_the_numbers() {
        assert_eq!(speed_words(0.5, 0.8), "slower than");
        assert_eq!(speed_words(1.2, 1.5), "faster than");
        assert_eq!(speed_words(0.95, 1.05), "about as fast as");
        assert!(speed_words(0.8, 1.2).starts_with("sometimes"));
        let m = memory_words(2000.0, 9000.0, 12000.0, 16000.0);
        assert!(
            m.starts_with("cheapest to dearest: a tokio task, a goroutine (4.50×"),
            "{m}"
        );
        let m = memory_words(9000.0, 3000.0, 1000.0, 0.0);
        assert!(m.starts_with("cheapest to dearest: a thread"), "{m}");
        assert!(memory_words(f64::NAN, 1.0, 1.0, 1.0).starts_with("no verdict"));
    }

    #[test]
    fn the_go_sources_are_idiomatic() -> anyhow::Result<()> {
        let problems = kit::golang::lint(crate::launch::go_server_source())?;
        assert!(problems.is_empty(), "{problems:#?}");
        Ok(())
    }
}
