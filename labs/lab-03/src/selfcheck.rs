//! Is the generator the bottleneck? The generator's verdict on itself.
//!
//! A load generator that runs out of CPU does not fail: it reports. Its
//! sends go out late and its replies are read late, so `waiting` grows and
//! the server looks slow, exactly the k6 complaint. The [`SIGNALS`], all
//! measured during the run, tell the generator's share apart:
//!
//! - **lag**: how long after a request was due, with a connection ready, it
//!   was actually sent. Only the generator can make this large.
//! - **loop turn**: how long one pass of the event loop kept it away from
//!   the sockets. A reply that arrives during a turn is timestamped at the
//!   end of it, so every `waiting` can be inflated by up to one turn.
//! - **busy**: the share of wall time the loop spent working rather than
//!   waiting in `epoll_wait`. Near 100%, the generator is saturated.
//! - **run queue**: the share of wall time the kernel kept the generator's
//!   threads runnable but off the CPU (`/proc/thread-self/schedstat`).
//!   Large, and something else on the machine is starving it.
//!
//! - **rate**: in the open model, the share of the scheduled requests sent
//!   in the window. A shortfall blames the generator, unless every
//!   connection was busy (blocked) and nothing else points at it: then the
//!   server was slow, or there were too few connections.

use serde::Serialize;

use crate::engine::{Load, Outcome, Plan};

// ANCHOR: limits
/// Lag (due, with a connection ready, but not yet sent), 99th percentile.
pub const LAG_P99_LIMIT_US: f64 = 1_000.0;
/// One event-loop turn, 99th percentile.
pub const TURN_P99_LIMIT_US: f64 = 1_000.0;
/// Share of wall time the busiest worker loop was working.
pub const BUSY_LIMIT: f64 = 0.90;
/// Share of wall time the most starved worker waited for a CPU.
pub const RUNQUEUE_LIMIT: f64 = 0.10;
/// Open model: share of the scheduled requests that must be sent in the window.
pub const RATE_FLOOR: f64 = 0.99;
// ANCHOR_END: limits

/// The signals the self-check reads, by their [`Finding::signal`] names.
pub const SIGNALS: [&str; 5] = ["lag", "turn", "busy", "runqueue", "rate"];

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// A stable name: `lag`, `turn`, `busy`, `runqueue`, `rate`.
    pub signal: &'static str,
    /// True when it says the numbers describe the generator.
    pub generator: bool,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SelfCheck {
    pub lag_p99_us: f64,
    pub turn_p99_us: f64,
    pub busy_share: f64,
    pub cpu_share: Option<f64>,
    pub runqueue_share: Option<f64>,
    /// Open model: requests sent in the window over requests scheduled.
    pub sent_share: Option<f64>,
    pub findings: Vec<Finding>,
}

impl SelfCheck {
    /// True when any finding blames the generator.
    pub fn generator_bound(&self) -> bool {
        self.findings.iter().any(|f| f.generator)
    }
}

pub fn check(plan: &Plan, out: &Outcome) -> SelfCheck {
    let us = |ns: u64| ns as f64 / 1_000.0;
    let lag_p99_us = us(out.rec.lag.value_at_quantile(0.99));
    let turn_p99_us = us(out.rec.turn.value_at_quantile(0.99));
    let share = |part: u64, whole: u64| part as f64 / whole.max(1) as f64;
    let busy_share = out
        .threads
        .iter()
        .map(|t| share(t.busy_ns, t.wall_ns))
        .fold(0.0, f64::max);
    let max_of = |f: &dyn Fn(&crate::engine::ThreadStats) -> Option<u64>| {
        out.threads
            .iter()
            .map(|t| f(t).map(|v| share(v, t.wall_ns)))
            .try_fold(0.0f64, |acc, s| s.map(|s| acc.max(s)))
    };
    let cpu_share = max_of(&|t| t.cpu_ns);
    let runqueue_share = max_of(&|t| t.runqueue_ns);
    let sent_share = (plan.load == Load::Open && out.scheduled > 0)
        .then(|| out.rec.sent_in_window as f64 / out.scheduled as f64);

    let mut findings = Vec::new();
    if lag_p99_us > LAG_P99_LIMIT_US {
        findings.push(Finding {
            signal: "lag",
            generator: true,
            message: format!(
                "1% of requests left {} or more after they were due, with a connection free: the generator could not keep its own schedule",
                fmt_us(lag_p99_us)
            ),
        });
    }
    if turn_p99_us > TURN_P99_LIMIT_US {
        findings.push(Finding {
            signal: "turn",
            generator: true,
            message: format!(
                "1% of event-loop turns took {} or more: replies arriving meanwhile were read late, so waiting and latency include up to that much of the generator's own time",
                fmt_us(turn_p99_us)
            ),
        });
    }
    if busy_share > BUSY_LIMIT {
        findings.push(Finding {
            signal: "busy",
            generator: true,
            message: format!(
                "the generator's event loop was busy {:.0}% of the run: it was saturated, so the rate and latencies may describe the generator, not the server (add --threads, or a second machine)",
                busy_share * 100.0
            ),
        });
    }
    if let Some(rq) = runqueue_share.filter(|&r| r > RUNQUEUE_LIMIT) {
        findings.push(Finding {
            signal: "runqueue",
            generator: true,
            message: format!(
                "the generator waited for a CPU {:.0}% of the run: another process is competing for its cores, so its timestamps are late (pin it with taskset, or free a core)",
                rq * 100.0
            ),
        });
    }
    if let Some(s) = sent_share.filter(|&s| s < RATE_FLOOR) {
        let blocked_p99 = us(out.rec.blocked.value_at_quantile(0.99));
        // Connections stay busy when the server is slow, but also when a
        // saturated generator reads their replies late: blame the server
        // only if nothing else points at the generator.
        let server = blocked_p99 > lag_p99_us && findings.is_empty();
        findings.push(Finding {
            signal: "rate",
            generator: !server,
            message: if server {
                format!(
                    "only {:.1}% of the scheduled requests went out in time; they waited for a free connection (blocked p99 {}): the server was slow to answer, or --connections is too small for this rate",
                    s * 100.0,
                    fmt_us(blocked_p99)
                )
            } else {
                format!(
                    "only {:.1}% of the scheduled requests went out in time: the generator fell behind its own schedule",
                    s * 100.0
                )
            },
        });
    }
    SelfCheck {
        lag_p99_us,
        turn_p99_us,
        busy_share,
        cpu_share,
        runqueue_share,
        sent_share,
        findings,
    }
}

/// Microseconds as `850 µs`, `12.3 ms` or `1.20 s`.
pub fn fmt_us(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.1} ms", us / 1_000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finding_names_a_listed_signal() {
        let src = include_str!("selfcheck.rs");
        let named: Vec<&str> = src
            .split("signal: \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        for s in &named {
            assert!(SIGNALS.contains(s), "finding `{s}` is not in SIGNALS");
        }
        for s in SIGNALS {
            assert!(
                named.contains(&s),
                "SIGNALS lists `{s}`, which no finding raises"
            );
        }
    }
}
