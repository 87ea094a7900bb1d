//! The chapter's experiments, for the results pipeline:
//!
//! 1. `taxonomy`: every row of the error table provoked through a real
//!    socket, as this run saw it (class, operation, OS kind and number,
//!    the message), and how many of the timeouts a text match on
//!    "timeout" would have missed.
//! 2. `storm`: each client strategy under open-model load through the
//!    proxy to lab-02, under each fault scenario: success, latency from
//!    the intended start, and amplification (requests the server executed
//!    per request the user made).
//!
//! lab-02 runs as a child of this binary (its hidden `lab02` command); the
//! proxy, the clients and the load share one tokio runtime here. A quick
//! run (`--quick`) runs every row and every cell, briefly and at a low
//! rate, so the suite checks the whole pipeline in seconds.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use kit::fmt::{fmt_int, fmt_ms, fmt_pct, fmt_ratio};
use kit::process::own_exe;
use lab_02::launch::{Launch, Server, Target};
use report::{Report, Table};

use crate::client::Strategy;
use crate::provoke::{self, Observed, ROWS, Setup};
use crate::proxy::{self, ProxyConfig};
use crate::scenario::{self, Load, Outcome};

/// The most a budgeted client may amplify at 5% resets (the bar).
pub const BUDGET_GOAL: f64 = 1.1;

/// Runs every experiment the chapter shows and returns the report.
pub fn run(quick: bool) -> Result<Report> {
    let launch = Launch {
        subcommand: Some("lab02"),
        ..Launch::new(Target::TaskPerConnection, 2)
    };
    let server = Server::start(&launch)?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.port));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut report = Report::new("lab-05", quick);
    let seen = kit::timed("provoking every row of the taxonomy", || {
        rt.block_on(async {
            let exe = own_exe();
            let setup = Setup {
                server: addr,
                exe: &exe,
            };
            let mut seen = Vec::new();
            for row in ROWS {
                seen.push(provoke::provoke(row.id, &setup).await?);
            }
            Ok(seen)
        })
    })?;
    report.table(taxonomy_table(&seen));
    let load = if quick {
        Load::new(400.0, Duration::from_millis(600))
    } else {
        Load::new(1_500.0, Duration::from_secs(5))
    };
    let outcomes = kit::timed("the storm table: every strategy under every fault", || {
        rt.block_on(storm(addr, &load))
    })?;
    let mut table = storm_table(&outcomes, &load);
    storm_facts(&mut table, &outcomes, &load)?;
    report.table(table);
    Ok(report)
}

// ANCHOR: taxonomy-table
/// The taxonomy as `seen` (in [`ROWS`] order); the `provoke` command
/// prints it too.
pub fn taxonomy_table(seen: &[Observed]) -> Table {
    let mut t = Table::new(
        "taxonomy",
        "Every network error, provoked on loopback and classified",
        &[
            "error",
            "Go",
            "Rust",
            "provoked by",
            "class seen",
            "op",
            "OS error",
        ],
    );
    for (row, o) in ROWS.iter().zip(seen) {
        let os = match (&o.kind, o.errno) {
            (Some(k), Some(n)) => format!("`{k}` ({n})"),
            (Some(k), None) => format!("`{k}`"),
            _ => "none (ours)".to_owned(),
        };
        t.row(vec![
            format!("`{}`", row.id),
            row.go.to_owned(),
            row.rust.to_owned(),
            row.how.to_owned(),
            format!("`{}`", o.class),
            o.op.clone(),
            os,
        ]);
        t.fact(
            &format!("{}_message", row.id.replace('-', "_")),
            format!("`{}`", o.message),
        );
        if let Some(k) = &o.kind {
            t.fact(
                &format!("{}_kind", row.id.replace('-', "_")),
                format!("`{k}`"),
            );
        }
    }
    // The seed's worry, tested: which timeouts would a match on the text
    // have missed?
    // Only timeouts the OS reported: the lab's own deadlines say what they
    // are in their type, and their text is ours.
    let timeouts: Vec<&Observed> = seen
        .iter()
        .filter(|o| o.class == "timeout" && o.kind.is_some())
        .collect();
    let missed: Vec<&str> = timeouts
        .iter()
        .filter(|o| {
            let m = o.message.to_lowercase();
            !(m.contains("timeout") || m.contains("timed out"))
        })
        .map(|o| o.id.as_str())
        .collect();
    t.fact("timeouts", timeouts.len().to_string());
    t.fact("text_missed", missed.len().to_string());
    t.fact(
        "text_missed_rows",
        missed
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let all_match = ROWS
        .iter()
        .zip(seen)
        .all(|(r, o)| r.class.name() == o.class);
    t.fact(
        "verdict",
        if all_match {
            format!(
                "all {} rows came out as the class the table gives them",
                ROWS.len()
            )
        } else {
            "some rows came out as another class than the table gives them (see the class column)"
                .to_owned()
        },
    );
    t.note(format!(
        "Each row provoked once through a real socket on loopback (lab-02, the proxy, a \
         misbehaving peer, or a child process limited to {} descriptors); \
         `tests/taxonomy.rs` asserts every row's class.",
        provoke::CHILD_NOFILE
    ));
    t
}
// ANCHOR_END: taxonomy-table

async fn storm(addr: std::net::SocketAddr, load: &Load) -> Result<Vec<Outcome>> {
    let proxy = proxy::start(ProxyConfig::new(addr)).await?;
    let mut count = scenario::Lab02Count::new(addr);
    let mut out = Vec::new();
    for sc in scenario::all() {
        for strategy in Strategy::ALL {
            let o = scenario::run(&proxy, &mut count, &sc, strategy, load, &mut |_| {})
                .await
                .with_context(|| format!("{} with the {} client", sc.name, strategy.name()))?;
            out.push(o);
        }
    }
    proxy.shutdown().await;
    Ok(out)
}

/// The storm table's rows, one per run (the `scenario` command prints it
/// too).
pub fn storm_table(outcomes: &[Outcome], load: &Load) -> Table {
    let mut t = Table::new(
        "storm",
        "Four clients under faults: success, latency from the intended start, amplification",
        &[
            "faults",
            "client",
            "requests",
            "success",
            "p50 (ms)",
            "p99 (ms)",
            "server saw per request",
            "retries",
            "INCR run twice",
            "refused by budget",
            "hedges",
            "breaker fast-fails",
        ],
    )
    .numeric(&[2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    for o in outcomes {
        t.row(vec![
            o.scenario.clone(),
            o.strategy.name().to_owned(),
            fmt_int(o.requests as f64),
            fmt_pct(o.success()),
            fmt_ms(o.p50_us as f64 / 1e3),
            fmt_ms(o.p99_us as f64 / 1e3),
            fmt_ratio(o.amplification()),
            fmt_int(o.client.retries as f64),
            fmt_int(o.incrs_twice as f64),
            fmt_int(o.client.budget_refusals as f64),
            fmt_int(o.client.hedges as f64),
            fmt_int(o.client.breaker_rejections as f64),
        ]);
        let key = format!(
            "{}_{}",
            o.scenario.replace(['-', '.'], "_"),
            o.strategy.name()
        );
        t.fact(&format!("amp_{key}"), fmt_ratio(o.amplification()));
        t.fact(&format!("twice_{key}"), fmt_int(o.incrs_twice as f64));
        t.fact(&format!("success_{key}"), fmt_pct(o.success()));
        t.fact(
            &format!("p99_{key}"),
            format!("{} ms", fmt_ms(o.p99_us as f64 / 1e3)),
        );
    }
    t.note(format!(
        "Open model: {} requests/s (Poisson), {} s per cell; one in {} an INCR of a key of \
         its own, one in {} of the rest a SET, the others GETs, keys uniform over {}; each \
         client a pool of {} multiplexed connections through the proxy (a {} ms delay each \
         way) to lab-02's task-per-connection model. Latency counts from when each request \
         was due, failures included. \"Server saw\" is lab-02's `total_commands_processed` \
         over the cell divided by the requests made; \"INCR run twice\" counts INCR keys \
         whose value ended above 1.",
        fmt_int(load.rate),
        load.duration.as_secs_f64(),
        load.incr_every,
        load.set_every,
        fmt_int(load.keys as f64),
        crate::client::ClientConfig::preset(Strategy::Full).pool_size,
        scenario::BASE_LATENCY.as_millis(),
    ));
    t
}

/// The facts the prose quotes: the goal and the verdicts.
fn storm_facts(t: &mut Table, outcomes: &[Outcome], load: &Load) -> Result<()> {
    settings_facts(t, load);
    let by: BTreeMap<(String, &str), &Outcome> = outcomes
        .iter()
        .map(|o| ((o.scenario.clone(), o.strategy.name()), o))
        .collect();
    let get = |sc: &str, st: &str| {
        by.get(&(sc.to_owned(), st))
            .copied()
            .with_context(|| format!("no run of {sc} with {st}"))
    };
    let (retry5, budget5) = (get("resets-5", "retry")?, get("resets-5", "budget")?);
    let holds = budget5.amplification() <= BUDGET_GOAL;
    let storms = retry5.amplification() > BUDGET_GOAL;
    t.fact("goal", fmt_ratio(BUDGET_GOAL));
    t.fact(
        "budget_verdict",
        format!(
            "the budgeted client {} at 5% resets ({}), and the naive retrier {} ({})",
            if holds {
                "stays at or below the goal"
            } else {
                "goes over the goal"
            },
            fmt_ratio(budget5.amplification()),
            if storms { "goes over it" } else { "does not" },
            fmt_ratio(retry5.amplification()),
        ),
    );
    let spike_retry = get("latency-spike", "retry")?;
    let spike_budget = get("latency-spike", "budget")?;
    t.fact(
        "spike_verdict",
        format!(
            "while replies were slower than the deadline, the naive retrier made the server do \
             {} the work per request, the budgeted client {}",
            fmt_ratio(spike_retry.amplification()),
            fmt_ratio(spike_budget.amplification()),
        ),
    );
    // Did the rule on `sent` hold under load? INCRs run twice, summed
    // over every scenario, per client.
    let twice = |st: &str| -> u64 {
        outcomes
            .iter()
            .filter(|o| o.strategy.name() == st)
            .map(|o| o.incrs_twice)
            .sum()
    };
    let incrs: u64 = outcomes
        .iter()
        .filter(|o| o.strategy.name() == "budget")
        .map(|o| o.incrs)
        .sum();
    t.fact(
        "twice_verdict",
        format!(
            "over every scenario, the server ran {} of the naive retrier's INCRs twice, and {} \
             of the budgeted client's and {} of the full client's ({} INCRs each)",
            fmt_int(twice("retry") as f64),
            fmt_int(twice("budget") as f64),
            fmt_int(twice("full") as f64),
            fmt_int(incrs as f64),
        ),
    );
    // Did the breaker pay during the black hole, and did hedging pay
    // under stalls and under jitter? Compared with the budgeted client, which differs from
    // the full one by exactly those two.
    let (hole_full, hole_budget) = (get("blackhole", "full")?, get("blackhole", "budget")?);
    t.fact(
        "breaker_verdict",
        format!(
            "the full client (breaker and hedges) got {} of requests through the black hole, \
             the budgeted one {}; p99 {} against {}",
            fmt_pct(hole_full.success()),
            fmt_pct(hole_budget.success()),
            ms_text(hole_full.p99_us),
            ms_text(hole_budget.p99_us),
        ),
    );
    for (sc, key) in [
        ("stalls", "hedge_stalls_verdict"),
        ("jitter", "hedge_jitter_verdict"),
    ] {
        let (full, budget) = (get(sc, "full")?, get(sc, "budget")?);
        let helped = (full.p99_us as f64) < 0.9 * budget.p99_us as f64;
        t.fact(
            key,
            format!(
                "hedging {} the p99 ({} against {} without it), and the server did {} the work \
                 per request",
                if helped { "cut" } else { "did not cut" },
                ms_text(full.p99_us),
                ms_text(budget.p99_us),
                fmt_ratio(full.amplification()),
            ),
        );
    }
    Ok(())
}

fn ms_text(us: u64) -> String {
    format!("{} ms", fmt_ms(us as f64 / 1e3))
}

/// The settings the prose names, from the code that has them, so a page
/// never restates a setting that has since changed.
fn settings_facts(t: &mut Table, load: &Load) {
    use crate::client::{ClientConfig, Retry};
    use kit::fmt::fmt_duration;
    t.fact("rate", fmt_int(load.rate));
    t.fact("seconds", fmt_duration(load.duration));
    t.fact("latency", fmt_duration(scenario::BASE_LATENCY));
    let full = ClientConfig::preset(Strategy::Full);
    t.fact("deadline", fmt_duration(full.timeout));
    t.fact("pool", full.pool_size.to_string());
    if let Retry::Naive { max_attempts } = ClientConfig::preset(Strategy::Retry).retry {
        t.fact("naive_attempts", max_attempts.to_string());
    }
    if let Retry::Safe(b) = full.retry {
        t.fact("backoff_min", fmt_duration(b.min));
        t.fact("backoff_max", fmt_duration(b.max));
        t.fact("safe_attempts", b.max_attempts.to_string());
    }
    if let Some(b) = full.budget {
        t.fact("budget_ratio", fmt_pct(b.ratio));
        t.fact("budget_cap", format!("{}", b.cap));
    }
    if let Some(b) = full.breaker {
        t.fact("breaker_threshold", b.failure_threshold.to_string());
        t.fact("open_for", fmt_duration(b.open_for));
    }
    if let Some(h) = full.hedge_after {
        t.fact("hedge_after", fmt_duration(h));
    }
    for sc in scenario::all() {
        if sc.faults.reset > 0.0 {
            t.fact(
                &format!("reset_{}", sc.name.replace(['-', '.'], "_")),
                format!("{}%", 100.0 * sc.faults.reset),
            );
        }
    }
}
