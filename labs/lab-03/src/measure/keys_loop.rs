//! What the two experiments with a KEYS loop share (`head-of-line-open`
//! and `offload`): the slow command, one open-model run of GETs and how
//! it is read, running something while another client loops KEYS, and the
//! sentences that say how the runs went.

use std::thread;
use std::time::Duration;

use anyhow::Result;
use kit::fmt::fmt_ms;
use kit::stats::{Stall, med, median};
use lab_02::launch::{Looper, Server};
use lab_02::resp::Frame;

use super::Plan;
use super::tools::{self, GenRun};

/// The slow command: walks every key, matches none.
pub(super) const KEYS_ARGS: [&[u8]; 2] = [b"KEYS", b"nomatch*"];

/// How one open-model run went, from the intended start (µs).
#[derive(Debug, Clone)]
pub(super) struct Open {
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// The generator's own lag behind its schedule: part of every
    /// latency from the intended start, but the generator's, not the
    /// server's.
    pub lag_p99_us: f64,
    pub sent_rate: f64,
    pub errors: f64,
    pub check: String,
}

impl Open {
    pub(super) fn of(run: &GenRun) -> Self {
        Self {
            p50_us: run.f("latency.p50_us"),
            p99_us: run.f("latency.p99_us"),
            max_us: run.f("latency.max_us"),
            lag_p99_us: run.f("lag.p99_us"),
            sent_rate: run.f("sent_rate"),
            errors: run.f("sent") - run.f("ok"),
            check: run.verdict(),
        }
    }
}

/// `lab-03 resp ADDR --mix get --rate R -c C -d D`: the open model, with
/// the head-of-line experiments' rate, connections and keyspace.
pub(super) fn open_run(plan: &Plan, server: &Server) -> Result<Open> {
    let run = tools::lab03(&[
        "resp".into(),
        format!("127.0.0.1:{}", server.port),
        "--mix".into(),
        "get".into(),
        "--keyspace".into(),
        plan.hol_keys.to_string(),
        "--rate".into(),
        plan.hol_rate.to_string(),
        "-c".into(),
        plan.hol_connections.to_string(),
        "-d".into(),
        format!("{}ms", plan.hol_run.as_millis()),
        "--timeout".into(),
        "30s".into(),
    ])?;
    Ok(Open::of(&run))
}

/// The open-model command line, for a table's note.
pub(super) fn open_command(plan: &Plan) -> String {
    format!(
        "lab-03 resp ADDR --mix get --keyspace {} --rate {} -c {} -d {}s",
        plan.hol_keys,
        plan.hol_rate,
        plan.hol_connections,
        plan.hol_run.as_secs_f64()
    )
}

/// Runs `f` while another client loops [`KEYS_ARGS`] on `server`; returns
/// what `f` returned and each KEYS call's duration, in ms. Fails if the
/// server died meanwhile.
pub(super) fn under_keys<T>(
    server: &mut Server,
    f: impl FnOnce(&mut Server) -> Result<T>,
) -> Result<(T, Vec<f64>)> {
    let keys = Looper::start(server, &KEYS_ARGS, |r| matches!(r, Frame::Array(Some(_))))?;
    // Let the first KEYS start, so the runs begin under the loop.
    thread::sleep(Duration::from_millis(20));
    let out = f(server)?;
    let keys_ms = keys.finish()?;
    server.check_alive()?;
    Ok((out, keys_ms))
}

/// One round's open-model runs of GETs, without and with the KEYS loop.
#[derive(Debug, Clone)]
pub(super) struct KeysRound {
    pub quiet: Open,
    pub busy: Open,
    /// Each KEYS call's duration while the GETs ran, in ms.
    pub keys_ms: Vec<f64>,
}

impl KeysRound {
    /// `quiet`, then `busy` and whatever else `f` runs under the loop.
    pub(super) fn run<T>(
        plan: &Plan,
        server: &mut Server,
        f: impl FnOnce(&mut Server) -> Result<T>,
    ) -> Result<(Self, T)> {
        let quiet = open_run(plan, server)?;
        let ((busy, more), keys_ms) = under_keys(server, |server| {
            let busy = open_run(plan, server)?;
            Ok((busy, f(server)?))
        })?;
        Ok((
            Self {
                quiet,
                busy,
                keys_ms,
            },
            more,
        ))
    }
}

/// A round that holds a [`KeysRound`] (and maybe more).
pub(super) trait HasKeysRound {
    fn keys_round(&self) -> &KeysRound;
}

impl HasKeysRound for KeysRound {
    fn keys_round(&self) -> &KeysRound {
        self
    }
}

/// One setup (`of`: a server, or a model and a setting) and its rounds,
/// read as medians over the rounds.
pub(super) struct Cell<K, R> {
    pub of: K,
    pub rounds: Vec<R>,
}

impl<K, R: HasKeysRound> Cell<K, R> {
    pub(super) fn new(of: K) -> Self {
        Self {
            of,
            rounds: Vec::new(),
        }
    }

    /// One KEYS call, ms: the median over every round's calls.
    pub(super) fn keys_ms(&self) -> f64 {
        let all: Vec<f64> = self
            .rounds
            .iter()
            .flat_map(|r| r.keys_round().keys_ms.iter().copied())
            .collect();
        median(&all)
    }

    pub(super) fn quiet(&self, f: fn(&Open) -> f64) -> f64 {
        med(&self.rounds, |r| f(&r.keys_round().quiet))
    }

    pub(super) fn busy(&self, f: fn(&Open) -> f64) -> f64 {
        med(&self.rounds, |r| f(&r.keys_round().busy))
    }

    /// The last round's generator self-check of one run.
    pub(super) fn check(&self, f: fn(&KeysRound) -> &Open) -> String {
        self.rounds
            .last()
            .map_or(String::new(), |r| f(r.keys_round()).check.clone())
    }

    /// The open model's verdict under the KEYS loop.
    pub(super) fn open_stall(&self) -> Stall {
        let ms = |us: f64| us / 1e3;
        Stall::of(
            ms(self.busy(|o| o.p50_us)),
            ms(self.busy(|o| o.p99_us)),
            ms(self.busy(|o| o.max_us)),
            self.keys_ms(),
        )
    }
}

/// How the kit's [`Stall`] reads for GETs beside a KEYS loop.
pub(super) trait Says {
    fn says(self) -> &'static str;
}

impl Says for Stall {
    fn says(self) -> &'static str {
        match self {
            Stall::Typical => "the typical GET waited for a KEYS",
            Stall::Some => "the typical GET did not wait, but more than 1% did",
            Stall::Rarely => "fewer than 1% of GETs waited for a KEYS",
            Stall::Nobody => "no GET waited for a KEYS",
        }
    }
}

/// How much of the waiting under the KEYS loop was the generator's own.
/// `rows`: (server, generator lag p99 ms, open p50 ms) under the loop.
/// With the servers unpinned on two cores, a busy server can take the
/// generator's core, and a late send counts in the latency from the
/// intended start.
pub(super) fn lag_sentence(rows: &[(String, f64, f64)]) -> String {
    // Where the generator's p99 lag is under a quarter of the typical
    // latency, the typical wait is the server's.
    let (small, large): (Vec<_>, Vec<_>) = rows
        .iter()
        .filter(|(_, lag, _)| lag.is_finite())
        .partition(|(_, lag, p50)| *lag < 0.25 * p50);
    let list = |v: &[&(String, f64, f64)]| {
        v.iter()
            .map(|(s, lag, p50)| {
                format!(
                    "{s} {} ms against a p50 of {} ms",
                    fmt_ms(*lag),
                    fmt_ms(*p50)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (small.is_empty(), large.is_empty()) {
        (_, true) => format!(
            "under the KEYS loop the generator's own lag p99 stayed under a quarter of the \
             typical latency for every server ({}), so the waiting is the servers'",
            list(&small)
        ),
        (true, false) => format!(
            "under the KEYS loop the generator's own lag p99 was a large part of the typical \
             latency for every server ({}): these rows measure the generator as much as the \
             servers",
            list(&large)
        ),
        (false, false) => format!(
            "under the KEYS loop the generator's own lag p99 stayed under a quarter of the \
             typical latency for {} ({}), but not for {} ({}), where part of the wait is the \
             generator's, not the server's",
            small
                .iter()
                .map(|r| r.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            list(&small),
            large
                .iter()
                .map(|r| r.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            list(&large)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_note_says_whose_wait_it_is() {
        let row = |s: &str, lag: f64, p50: f64| (s.to_owned(), lag, p50);
        let all_small = lag_sentence(&[row("a", 0.1, 5.0), row("b", 1.0, 30.0)]);
        assert!(
            all_small.contains("so the waiting is the servers'"),
            "{all_small}"
        );
        let mixed = lag_sentence(&[row("a", 0.1, 5.0), row("b", 2.0, 3.0)]);
        assert!(mixed.contains("but not for b"), "{mixed}");
        let all_large = lag_sentence(&[row("a", 4.0, 5.0)]);
        assert!(all_large.contains("measure the generator"), "{all_large}");
    }

    #[test]
    fn stall_follows_the_numbers() {
        assert!(Stall::Typical > Stall::Some && Stall::Rarely > Stall::Nobody);
    }

    #[test]
    fn open_reads_the_summary() {
        let run = GenRun {
            json: serde_json::json!({
                "latency": {"p50_us": 1500.0, "p99_us": 9000.0, "max_us": 12000.0},
                "sent_rate": 499.0, "sent": 2500, "ok": 2498,
                "self_check": {"findings": []}
            }),
            wall_s: 5.0,
            cpu_s: 0.1,
        };
        let o = Open::of(&run);
        assert_eq!((o.p50_us, o.p99_us, o.max_us), (1500.0, 9000.0, 12000.0));
        assert_eq!(o.errors, 2.0);
        assert_eq!(o.check, "ok");
    }

    #[test]
    fn the_open_command_is_the_one_run() {
        let plan = Plan::new(true);
        assert_eq!(
            open_command(&plan),
            "lab-03 resp ADDR --mix get --keyspace 50000 --rate 500 -c 50 -d 0.5s"
        );
    }
}
