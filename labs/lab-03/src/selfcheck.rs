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
//!
//! Beside them, **on CPU** is the share of wall time the kernel actually
//! ran a worker thread: busy counts the loop's work as the loop sees it
//! (including time it was runnable but descheduled), on CPU counts what it
//! got. Busy high with on CPU low means the generator wanted a core it did
//! not get; both high, it used all it had.
//!
//! A run shorter than [`MIN_WINDOW`] gets the signals but no verdict: its
//! shares rest on a handful of scheduler ticks and on start-up costs, and
//! a verdict from them would be noise.

use std::time::Duration;

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
/// Below this window the self-check reports its signals but no verdict.
pub const MIN_WINDOW: Duration = Duration::from_secs(1);
// ANCHOR_END: limits

/// What `--help` says about the self-check's words (`after_help` of
/// `lab-03 resp` and `lab-03 http`).
pub const HELP: &str = "\
The self-check (the lines after the table) judges the generator, not the server:
  busy       share of the run a worker's event loop spent working rather than
             waiting for sockets; near 100% the generator is saturated
  on CPU     share of the run the kernel actually ran that worker; busy high
             and on CPU low means another process took its core
  waiting for a CPU
             share of the run the worker was runnable but not running (the
             run queue); above 10% the generator's timestamps are late
  lag        how late a request left after it was due with a connection free
  loop turn  how long one pass of the loop kept it from reading replies
  rate       open model: share of the scheduled requests sent in time
Runs shorter than 1s get the signals but no verdict. Exit codes: 0 every
request succeeded, 1 usage or setup error, 2 some or all requests failed
(all failed: one error line on stderr, and no table).
";

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
    /// `open` or `closed`: what the verdict is worded for.
    pub model: &'static str,
    /// Why there is no verdict (a run shorter than [`MIN_WINDOW`]).
    pub skipped: Option<String>,
    pub findings: Vec<Finding>,
}

impl SelfCheck {
    /// True when any finding blames the generator.
    pub fn generator_bound(&self) -> bool {
        self.findings.iter().any(|f| f.generator)
    }

    /// The lines printed under the summary table.
    pub fn render(&self) -> String {
        let pct = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{:.0}%", v * 100.0));
        let mut s = format!(
            "generator  busy {:.0}% of the run, on CPU {}, waiting for a CPU {}\n",
            self.busy_share * 100.0,
            pct(self.cpu_share),
            pct(self.runqueue_share)
        );
        if let Some(why) = &self.skipped {
            s.push_str(&format!("self-check: no verdict: {why}\n"));
        } else if self.findings.is_empty() {
            s.push_str(if self.model == "open" {
                "self-check ok: the generator kept its schedule and had CPU to spare\n"
            } else {
                "self-check ok: the generator sent each request as soon as its connection was free, and had CPU to spare\n"
            });
        } else {
            s.push_str(if self.generator_bound() {
                "WARNING: the generator, not the server, may be the bottleneck in this run:\n"
            } else {
                "note:\n"
            });
            for f in &self.findings {
                s.push_str(&format!("  - {}\n", f.message));
            }
        }
        s
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
    let open = plan.load == Load::Open;
    let sent_share =
        (open && out.scheduled > 0).then(|| out.rec.sent_in_window as f64 / out.scheduled as f64);
    let model = if open { "open" } else { "closed" };

    if out.window < MIN_WINDOW {
        return SelfCheck {
            lag_p99_us,
            turn_p99_us,
            busy_share,
            cpu_share,
            runqueue_share,
            sent_share,
            model,
            skipped: Some(format!(
                "the run started requests for {}, and the shares need at least {} to mean anything (run longer: -d 1s or more)",
                fmt_us(out.window.as_secs_f64() * 1e6),
                fmt_us(MIN_WINDOW.as_secs_f64() * 1e6)
            )),
            findings: Vec::new(),
        };
    }

    let mut findings = Vec::new();
    if lag_p99_us > LAG_P99_LIMIT_US {
        findings.push(Finding {
            signal: "lag",
            generator: true,
            message: if open {
                format!(
                    "1% of requests left {} or more after they were due, with a connection free: the generator could not keep its own schedule",
                    fmt_us(lag_p99_us)
                )
            } else {
                format!(
                    "1% of requests left {} or more after their connection was free to send them: the generator was slow to send",
                    fmt_us(lag_p99_us)
                )
            },
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
        model,
        skipped: None,
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
    fn the_help_states_the_limits_in_force() {
        assert!(HELP.contains(&format!("shorter than {}s", MIN_WINDOW.as_secs())));
        assert!(HELP.contains(&format!("above {:.0}%", RUNQUEUE_LIMIT * 100.0)));
        for word in [
            "busy",
            "on CPU",
            "waiting for a CPU",
            "lag",
            "loop turn",
            "rate",
        ] {
            assert!(HELP.contains(word), "--help does not explain `{word}`");
        }
        assert_eq!(MIN_WINDOW.subsec_nanos(), 0, "HELP writes whole seconds");
    }

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
