//! The command line, run as a reader runs it: `record` writes a trace the
//! player can load (and a Chrome trace), `--list` names every scene, an
//! unknown name is one clear error with exit status 2, and `measure`
//! writes the report the results pipeline renders.

use std::process::{Command, Output};

use kit::testutil::TempDir;
use lab_07::scenes;
use lab_07::trace::Trace;

fn lab07(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lab-07"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("lab-07 runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn record_writes_a_trace_that_loads_and_validates() {
    let dir = TempDir::new("lab07-cli").unwrap();
    let out = dir.join("nested/sharded-map.json");
    let chrome = dir.join("sharded-map.chrome.json");
    let run = lab07(&[
        "record",
        "sharded-map",
        "--out",
        out.to_str().unwrap(),
        "--chrome",
        chrome.to_str().unwrap(),
    ]);
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{}", text(&run.stderr));

    let trace: Trace = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    trace.validate().unwrap();
    assert_eq!(trace.scene, "sharded-map");
    // It says where it wrote, and how much.
    assert!(stdout.contains(out.to_str().unwrap()), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{} steps on {} lanes",
            trace.steps.len(),
            trace.lanes.len()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("ui.perfetto.dev"), "{stdout}");

    let chrome: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&chrome).unwrap()).unwrap();
    assert_eq!(chrome, trace.to_chrome());
}

#[test]
fn list_names_every_scene() {
    let run = lab07(&["record", "--list"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    let all = scenes::all();
    assert!(!all.is_empty());
    for s in all {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{} ", s.name))),
            "no line for {} in:\n{stdout}",
            s.name
        );
    }
}

#[test]
fn an_unknown_scene_is_exit_status_2_and_lists_the_names() {
    let run = lab07(&["record", "no-such-scene"]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("no scene called \"no-such-scene\""),
        "{stderr}"
    );
    for s in scenes::all() {
        assert!(
            stderr.contains(s.name),
            "{} missing from:\n{stderr}",
            s.name
        );
    }
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line, not a backtrace:\n{stderr}"
    );
}

#[test]
fn measure_writes_every_scene_and_the_table() {
    let dir = TempDir::new("lab07-measure").unwrap();
    let out = dir.join("report.json");
    let run = lab07(&["measure", "--quick", "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let report: report::Report =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    report::render::validate(&report).unwrap();
    let mut scene_names = Vec::new();
    let mut table = None;
    for a in &report.artifacts {
        match a {
            report::Artifact::Scene(s) => {
                let t: Trace = serde_json::from_value(s.trace.clone()).unwrap();
                t.validate().unwrap();
                assert_eq!(s.outline.len(), t.steps.len());
                // The file's numbers went through text: equal to within
                // the last bits of a float.
                assert!(close(&s.chrome, &t.to_chrome()), "{}", s.name);
                scene_names.push(s.name.clone());
            }
            report::Artifact::Table(t) if t.name == "scenes" => table = Some(t.clone()),
            _ => {}
        }
    }
    let want: Vec<String> = scenes::all().iter().map(|s| s.name.to_owned()).collect();
    assert_eq!(scene_names, want);
    let table = table.expect("a scenes table");
    assert_eq!(table.rows.len(), want.len());
    assert_eq!(table.facts["scene_count"], want.len().to_string());
    assert!(table.facts.contains_key("sharded_map_steps"));
}

/// Equal, except that numbers may differ in their last bits.
fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| close(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| close(a, b)))
        }
        _ => a == b,
    }
}
