//! Experiment 10: Part II's scheduler question. A KEYS over the whole
//! keyspace runs synchronously on whichever tokio worker runs its
//! connection's task; does moving it off the worker (lab-02's
//! `--slow-commands spawn-blocking` or `block-in-place`) spare the other
//! clients? Task-per-connection under each of the three settings, and,
//! for reference, the event loop and thread per core (inline: they own
//! their stores per thread, so lab-02 refuses to move a command off it),
//! each holding the same keys, get GETs at a fixed rate from the open
//! model, once quiet and once while another client loops `KEYS nomatch*`:
//! the same runs as `head-of-line-open` ([`super::keys_loop`]).

use anyhow::{Result, bail};
use kit::fmt::{fmt_int, fmt_ms, fmt_ratio};
use kit::procfs;
use kit::stats::{paired_ratio, rotated};
use lab_02::config::SlowCommands;
use lab_02::launch::{Server, Target};
use report::Table;

use super::keys_loop::{self, KeysRound, Says, lag_sentence, open_command};
use super::lab02::{self, slug};
use super::tools::GEN_CPU;
use super::{Plan, ms};

/// A server and where it runs slow commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Setup {
    target: Target,
    mode: SlowCommands,
}

/// Every setup, in table order: the three ways task-per-connection can
/// run KEYS, then the models that can only run it inline.
const SETUPS: [Setup; 5] = [
    Setup {
        target: Target::TaskPerConnection,
        mode: SlowCommands::Inline,
    },
    Setup {
        target: Target::TaskPerConnection,
        mode: SlowCommands::SpawnBlocking,
    },
    Setup {
        target: Target::TaskPerConnection,
        mode: SlowCommands::BlockInPlace,
    },
    Setup {
        target: Target::EventLoop,
        mode: SlowCommands::Inline,
    },
    Setup {
        target: Target::ThreadPerCore,
        mode: SlowCommands::Inline,
    },
];

/// The offloading settings compared with inline.
const OFFLOADS: [SlowCommands; 2] = [SlowCommands::SpawnBlocking, SlowCommands::BlockInPlace];

impl Setup {
    fn name(self) -> String {
        format!("{} {}", self.target.name(), self.mode.name())
    }

    /// As a fact key: `task_per_connection_spawn_blocking`.
    fn slug(self) -> String {
        format!(
            "{}_{}",
            slug(self.target),
            self.mode.name().replace('-', "_")
        )
    }

    fn tasks(mode: SlowCommands) -> Self {
        Setup {
            target: Target::TaskPerConnection,
            mode,
        }
    }
}

type Cell = keys_loop::Cell<Setup, KeysRound>;

impl Cell {
    fn busy_p99s(&self) -> Vec<f64> {
        self.rounds.iter().map(|r| r.busy.p99_us).collect()
    }
}

/// INFO's count of commands the server ran off its worker.
fn offloaded(server: &Server) -> Result<u64> {
    Ok(server.info_u64("lab02_offloaded_commands")?.unwrap_or(0))
}

fn round(plan: &Plan, setup: Setup, server: &mut Server) -> Result<KeysRound> {
    let before = offloaded(server)?;
    let (round, ()) = KeysRound::run(plan, server, |_| Ok(()))?;
    let keys_ms = &round.keys_ms;
    // The setting took: every KEYS went where it says. The server counts
    // a KEYS when it moves it off the worker, so one still running when
    // the loop stopped is counted but not timed: at least every timed one.
    let moved = offloaded(server)? - before;
    let want = match setup.mode {
        SlowCommands::Inline => moved == 0,
        _ => moved >= keys_ms.len() as u64 && moved > 0,
    };
    if !want {
        bail!(
            "{}: {moved} of {} KEYS were run off the worker",
            setup.name(),
            keys_ms.len()
        );
    }
    Ok(round)
}

/// Starts and fills every setup's server, runs the rounds, and builds the
/// table.
pub fn run(plan: &Plan) -> Result<Table> {
    let threads = procfs::cores();
    let mut servers = Vec::new();
    let mut cells = Vec::new();
    for setup in SETUPS {
        let server = lab02::start_with(
            setup.target,
            None,
            threads,
            &["--slow-commands", setup.mode.name()],
        )?;
        server.fill(plan.hol_keys)?;
        servers.push((setup, server));
        cells.push(Cell::new(setup));
    }
    for r in 0..plan.rounds {
        for setup in rotated(&SETUPS, r) {
            let (Some((_, server)), Some(cell)) = (
                servers.iter_mut().find(|(s, _)| *s == setup),
                cells.iter_mut().find(|c| c.of == setup),
            ) else {
                continue;
            };
            cell.rounds.push(round(plan, setup, server)?);
        }
        eprintln!("  offload round {}/{} done", r + 1, plan.rounds);
    }
    Ok(table(plan, threads, &cells))
}

fn table(plan: &Plan, threads: usize, cells: &[Cell]) -> Table {
    let mut t = Table::new(
        "offload",
        "A slow command on a tokio worker, inline or moved off it: GETs at a fixed rate while another client loops KEYS",
        &[
            "model",
            "slow commands",
            "KEYS loop",
            "one KEYS, ms",
            "p50 ms",
            "p99 ms",
            "max ms",
            "generator lag p99 ms",
            "generator",
        ],
    )
    .numeric(&[3, 4, 5, 6, 7]);
    for c in cells {
        let (model, mode) = (c.of.target.name(), c.of.mode.name());
        t.row(vec![
            model.into(),
            mode.into(),
            "off".into(),
            String::new(),
            ms(c.quiet(|o| o.p50_us)),
            ms(c.quiet(|o| o.p99_us)),
            ms(c.quiet(|o| o.max_us)),
            ms(c.quiet(|o| o.lag_p99_us)),
            c.check(|r| &r.quiet),
        ]);
        t.row(vec![
            model.into(),
            mode.into(),
            "on".into(),
            fmt_ms(c.keys_ms()),
            ms(c.busy(|o| o.p50_us)),
            ms(c.busy(|o| o.p99_us)),
            ms(c.busy(|o| o.max_us)),
            ms(c.busy(|o| o.lag_p99_us)),
            c.check(|r| &r.busy),
        ]);
        facts(&mut t, c);
    }
    t.note(format!(
        "Each server holds {} keys (written beforehand with MSET; the servers not pinned, \
         `--threads {threads}` for the multi-threaded models, `--slow-commands` as the second \
         column says; generators on CPU {GEN_CPU}). Open model: `{}`, once on the quiet server \
         (off rows) and once while another client loops `KEYS nomatch*` back to back (on \
         rows); p50, p99 and max run from each GET's intended start. Median of {} round(s), \
         setups visited in rotating order.",
        fmt_int(plan.hol_keys as f64),
        open_command(plan),
        plan.rounds
    ));
    t.note(
        "One KEYS, ms: the median time one `KEYS nomatch*` took while the GETs ran. Generator \
         lag: how late lab-03 itself sent (p99, median of rounds), which every latency from the \
         intended start includes. Generator: lab-03's self-check for the run in the last round \
         (`ok`, or the signals that blame the generator). Each run also checked, through INFO's \
         `lab02_offloaded_commands`, that the KEYS went where the setting says.",
    );
    t.note(
        "The event loop and thread per core run KEYS inline only: each of their threads owns \
         its part of the keyspace outright, with no lock, so no other thread (a blocking-pool \
         thread, or the thread `block_in_place` hands the worker to) may touch it, and lab-02 \
         refuses `--slow-commands` other than `inline` for them at start-up. Their rows are \
         here for reference.",
    );
    let lag = lag_sentence(
        &cells
            .iter()
            .map(|c| {
                (
                    c.of.name(),
                    c.busy(|o| o.lag_p99_us) / 1e3,
                    c.busy(|o| o.p50_us) / 1e3,
                )
            })
            .collect::<Vec<_>>(),
    );
    t.note(format!("Measured: {lag}."));
    t.fact("lag_note", lag);
    let inline = cells
        .iter()
        .find(|c| c.of == Setup::tasks(SlowCommands::Inline));
    let mut effects = Vec::new();
    // Per offload: its per-round p99 ratio to inline (above one: lower).
    let mut ratios = Vec::new();
    for mode in OFFLOADS {
        let (Some(inline), Some(c)) = (inline, cells.iter().find(|c| c.of == Setup::tasks(mode)))
        else {
            continue;
        };
        let ratio = paired_ratio(&inline.busy_p99s(), &c.busy_p99s());
        ratios.push((mode, ratio));
        let m = mode.name().replace('-', "_");
        t.fact(&format!("{m}_vs_inline"), fmt_ratio(ratio));
        let said = effect(
            mode.name(),
            inline.busy(|o| o.p99_us) / 1e3,
            c.busy(|o| o.p99_us) / 1e3,
            ratio,
        );
        t.fact(&format!("{m}_effect"), said.clone());
        effects.push(said);
    }
    if !effects.is_empty() {
        let verdict = effects.join("; ");
        t.note(format!(
            "Measured, task per connection under the KEYS loop: {verdict}."
        ));
        t.fact("verdict", verdict);
    }
    if let Some(best) = cells
        .iter()
        .filter(|c| c.of.target == Target::TaskPerConnection)
        .min_by(|a, b| a.busy(|o| o.p99_us).total_cmp(&b.busy(|o| o.p99_us)))
    {
        // Named only when it stands clear of inline by the band `effect`
        // uses (and, for inline, when every offload stands clear of it).
        let clear = |r: f64| !(0.8..1.25).contains(&r);
        let stands_out = match best.of.mode {
            SlowCommands::Inline => !ratios.is_empty() && ratios.iter().all(|&(_, r)| clear(r)),
            mode => ratios.iter().any(|&(m, r)| m == mode && clear(r)),
        };
        t.fact(
            "lowest_p99",
            if stands_out {
                best.of.mode.name().to_owned()
            } else if best.of.mode == SlowCommands::Inline {
                "none clearly (inline had the lowest median, but an offload came within 25% of \
                 it)"
                .to_owned()
            } else {
                format!(
                    "none clearly ({} had the lowest median, but within 25% of inline's)",
                    best.of.mode.name()
                )
            },
        );
    }
    t.fact("rate", fmt_int(plan.hol_rate));
    t.fact("connections", plan.hol_connections.to_string());
    t.fact("keys", fmt_int(plan.hol_keys as f64));
    t.fact("threads", threads.to_string());
    t
}

/// Facts for one setup: `task_per_connection_spawn_blocking_p99`, …
fn facts(t: &mut Table, c: &Cell) {
    let s = c.of.slug();
    t.fact(&format!("{s}_keys_ms"), fmt_ms(c.keys_ms()));
    t.fact(&format!("{s}_quiet_p99"), ms(c.quiet(|o| o.p99_us)));
    t.fact(&format!("{s}_p50"), ms(c.busy(|o| o.p50_us)));
    t.fact(&format!("{s}_p99"), ms(c.busy(|o| o.p99_us)));
    t.fact(&format!("{s}_max"), ms(c.busy(|o| o.max_us)));
    t.fact(&format!("{s}_lag_p99"), ms(c.busy(|o| o.lag_p99_us)));
    t.fact(&format!("{s}_verdict"), c.open_stall().says());
}

/// What one offload did to other clients' p99 under the KEYS loop,
/// against inline: `ratio` is inline's p99 over the offload's (median of
/// the per-round ratios), so above 1 the offload cut it. Within 25% either
/// way counts as no change: the runs are short and the machine noisy.
fn effect(mode: &str, inline_p99_ms: f64, mode_p99_ms: f64, ratio: f64) -> String {
    let (from, to) = (fmt_ms(inline_p99_ms), fmt_ms(mode_p99_ms));
    if !ratio.is_finite() {
        format!("{mode}: no comparison with inline could be made")
    } else if ratio >= 1.25 {
        format!(
            "{mode} cut other clients' p99 to {to} ms from inline's {from} ms ({} lower)",
            fmt_ratio(ratio)
        )
    } else if ratio <= 0.8 {
        format!(
            "{mode} raised other clients' p99 to {to} ms from inline's {from} ms ({} higher)",
            fmt_ratio(1.0 / ratio)
        )
    } else {
        format!("{mode} left other clients' p99 within 25% of inline's ({to} ms against {from} ms)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effect_follows_the_numbers() {
        let cut = effect("spawn-blocking", 24.0, 3.0, 8.0);
        assert!(cut.starts_with("spawn-blocking cut"), "{cut}");
        assert!(cut.contains("8.00× lower"), "{cut}");
        let raised = effect("block-in-place", 3.0, 6.0, 0.5);
        assert!(raised.starts_with("block-in-place raised"), "{raised}");
        assert!(raised.contains("2.00× higher"), "{raised}");
        let same = effect("spawn-blocking", 10.0, 11.0, 0.9);
        assert!(same.contains("within 25%"), "{same}");
        assert!(effect("x", 1.0, f64::NAN, f64::NAN).contains("no comparison"));
    }

    #[test]
    fn setups_name_and_slug() {
        let s = Setup::tasks(SlowCommands::BlockInPlace);
        assert_eq!(s.name(), "task-per-connection block-in-place");
        assert_eq!(s.slug(), "task_per_connection_block_in_place");
        // Only task-per-connection moves KEYS off its threads.
        assert!(
            SETUPS
                .iter()
                .all(|s| s.mode == SlowCommands::Inline || s.target == Target::TaskPerConnection)
        );
    }
}
