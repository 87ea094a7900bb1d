use lab_07::trace::Kind;
use lab_07_exercises::support::{record, three_tasks};
use lab_07_exercises::who_runs_next::predicted_polls;

fn recorded_polls() -> Vec<String> {
    let (t, ()) = record("three-tasks", three_tasks).expect("a runtime");
    t.steps
        .iter()
        .filter(|s| s.kind == Kind::PollStart)
        .map(|s| t.lanes[s.lane].name.clone())
        .collect()
}

#[test]
fn the_prediction_matches_the_recorded_order() {
    let got = recorded_polls();
    let want = predicted_polls();
    assert!(!want.is_empty(), "write your prediction first");
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            g,
            w,
            "poll number {} (counting from 1) is not the one you predicted; the ones before it match",
            k + 1
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "the recording has {} polls and your prediction {}",
        got.len(),
        want.len()
    );
}

#[test]
fn the_recording_is_the_same_every_time() {
    assert_eq!(recorded_polls(), recorded_polls());
}
