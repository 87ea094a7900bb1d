//! The results pipeline's side of the lab: record every scene, check it,
//! and hand it to the report, which writes the page's player markup
//! (`NAME.md`) and the Chrome trace (`NAME.trace.json`) for each, plus a
//! table of the scenes.
//!
//! There is nothing to time here: a scene is a recording, not a
//! benchmark, so `--quick` records the same scenes (they take
//! milliseconds). What the recording costs is measured separately.

use anyhow::{Context, Result, bail};
use report::{Report, Table};

use crate::scenes::{self, Scene};
use crate::trace::{Clock, Kind, Trace};

/// How many single recordings of each real-clock scene the full run makes
/// to count how often one shows the scene's case.
const CASE_RECORDINGS: usize = 20;
/// The same in a quick run.
const CASE_RECORDINGS_QUICK: usize = 2;

/// Records and checks one scene: the trace must be valid, and a scene on
/// the paused clock must record the same trace twice (else the committed
/// file would be one arbitrary run, and the page's step-by-step text
/// could disagree with a reader's own recording).
// ANCHOR: experiment
pub fn record_checked(scene: &Scene) -> Result<Trace> {
    let trace = (scene.record)().with_context(|| format!("recording scene {}", scene.name))?;
    trace
        .validate()
        .with_context(|| format!("scene {} recorded an invalid trace", scene.name))?;
    if trace.scene != scene.name || trace.title != scene.title {
        bail!(
            "scene {} ({:?}) recorded a trace named {:?} ({:?}): the registry and the scene disagree",
            scene.name,
            scene.title,
            trace.scene,
            trace.title
        );
    }
    // A real-clock scene keeps a recording that shows its case; if none
    // of its attempts did, the page's text would describe a run that is
    // not the one shown.
    if let Some(case) = scene.case
        && !(case.shows)(&trace)
    {
        bail!(
            "scene {}: no recording showed its case ({}); rerun, on a quieter machine",
            scene.name,
            case.what
        );
    }
    if trace.clock == Clock::Paused {
        let again = (scene.record)().with_context(|| format!("recording scene {}", scene.name))?;
        if again != trace {
            bail!(
                "scene {} is on the paused clock but two recordings differ: something in it is not deterministic",
                scene.name
            );
        }
    }
    Ok(trace)
}

/// Records every scene and returns the report.
pub fn run(quick: bool) -> Result<Report> {
    let mut report = Report::new("lab-07", quick);
    let mut table = Table::new(
        "scenes",
        "The recorded scenes",
        &[
            "scene",
            "lab",
            "steps",
            "lanes",
            "clock",
            "what to look for",
        ],
    )
    .numeric(&[2, 3]);
    let all = scenes::all();
    for scene in &all {
        let trace = record_checked(scene)?;
        let clock = match trace.clock {
            Clock::Paused => "paused",
            Clock::Real => "real",
        };
        table.row(vec![
            scene.name.to_owned(),
            scene.lab.to_owned(),
            trace.steps.len().to_string(),
            trace.lanes.len().to_string(),
            clock.to_owned(),
            scene.about.to_owned(),
        ]);
        let key = scene.name.replace('-', "_");
        table.fact(&format!("{key}_steps"), trace.steps.len().to_string());
        table.fact(&format!("{key}_lanes"), trace.lanes.len().to_string());
        table.fact(&format!("{key}_clock"), clock);
        let count = |k: Kind| trace.steps.iter().filter(|s| s.kind == k).count();
        table.fact(&format!("{key}_waits"), count(Kind::LockWait).to_string());
        table.fact(&format!("{key}_wakes"), count(Kind::Wake).to_string());
        table.fact(
            &format!("{key}_arrows"),
            trace
                .steps
                .iter()
                .filter(|s| s.cause.is_some())
                .count()
                .to_string(),
        );
        // The side panel at the last step, one fact per section, so the
        // prose can quote how a scene ends.
        if let Some(last) = trace.steps.last() {
            for (section, lines) in &last.state {
                let slug: String = section
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '_'
                        }
                    })
                    .collect();
                table.fact(&format!("{key}_end_{slug}"), lines.join("; "));
            }
        }
        report.scene(::report::model::Scene {
            name: scene.name.to_owned(),
            title: scene.title.to_owned(),
            trace: serde_json::to_value(&trace)?,
            chrome: trace.to_chrome(),
            outline: trace.outline(),
        });
    }
    table.fact("scene_count", all.len().to_string());
    table.note(
        "Recorded by `cargo run -p lab-07 -- record NAME`. A paused-clock scene runs on \
         tokio's paused clock on one thread, and is recorded twice to check that both \
         recordings are the same; its times are virtual.",
    );
    report.table(table);
    report.table(cases(&all, quick)?);
    report.table(crate::cost::measure(quick)?);
    Ok(report)
}
// ANCHOR_END: experiment

/// How typical each real-clock scene's kept recording is: single
/// recordings, counted by whether they show the scene's case.
fn cases(all: &[Scene], quick: bool) -> Result<Table> {
    let n = if quick {
        CASE_RECORDINGS_QUICK
    } else {
        CASE_RECORDINGS
    };
    let mut table = Table::new(
        "cases",
        "How often one recording of a real-clock scene shows its case",
        &["scene", "the case", "recordings", "showed it"],
    )
    .numeric(&[2, 3]);
    for scene in all {
        let Some(case) = scene.case else { continue };
        let mut shown = 0;
        for _ in 0..n {
            let t = (case.once)().with_context(|| format!("recording scene {}", scene.name))?;
            if (case.shows)(&t) {
                shown += 1;
            }
        }
        table.row(vec![
            scene.name.to_owned(),
            case.what.to_owned(),
            n.to_string(),
            shown.to_string(),
        ]);
        let key = scene.name.replace('-', "_");
        table.fact(&format!("{key}_shown"), format!("{shown} of {n}"));
    }
    table.fact("recordings", n.to_string());
    table.note(
        "Measured: each scene recorded this many times on its own, one recording at a time, \
         counting those that show the case in its second column. The page shows a recording \
         that does: a real-clock scene records again, a few times at most, until one does.",
    );
    Ok(table)
}
