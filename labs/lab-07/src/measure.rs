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
use crate::trace::{Clock, Trace};

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
    Ok(report)
}
// ANCHOR_END: experiment
