//! The lock scenes (lab-01 under the recording lock): their structure,
//! over several recordings, since real threads interleave differently
//! each time.

use lab_07::scenes::locks::{self, handoffs, waits};
use lab_07::trace::{Kind, Trace};

const RUNS: usize = 4;

fn check_pairs(t: &Trace) {
    // Every lane alternates acquire and release, starting with an acquire.
    for lane in 0..t.lanes.len() {
        let mut held = false;
        for s in t.steps.iter().filter(|s| s.lane == lane) {
            match s.kind {
                Kind::LockAcquire => {
                    assert!(!held, "{}: acquire while holding", s.label);
                    held = true;
                }
                Kind::LockRelease => {
                    assert!(held, "{}: release without holding", s.label);
                    held = false;
                }
                Kind::LockWait => assert!(!held, "{}: waits while holding", s.label),
                _ => {}
            }
        }
        assert!(!held, "lane {lane} ends holding a lock");
    }
}

#[test]
fn one_lock_shows_a_waiter_let_in_by_the_other_thread() -> anyhow::Result<()> {
    let mut with_handoff = 0;
    for _ in 0..RUNS {
        let t = locks::one_lock()?;
        t.validate()?;
        assert!(
            (20..=150).contains(&t.steps.len()),
            "{} steps",
            t.steps.len()
        );
        assert_eq!(t.lanes.len(), 2);
        check_pairs(&t);
        // One lock: every step names shard 0.
        assert!(t.steps.iter().all(|s| s.label.contains("shard 0")));
        assert_eq!(
            t.steps
                .iter()
                .filter(|s| s.kind == Kind::LockAcquire)
                .count(),
            10
        );
        if handoffs(&t) > 0 {
            with_handoff += 1;
        }
    }
    assert!(
        with_handoff > 0,
        "no recording of {RUNS} had a waiter let in by a release"
    );
    Ok(())
}

#[test]
fn two_shards_wait_less_than_one_lock() -> anyhow::Result<()> {
    let (mut one, mut two) = (0, 0);
    for _ in 0..RUNS {
        let a = locks::one_lock()?;
        let b = locks::two_shards()?;
        b.validate()?;
        check_pairs(&b);
        assert!(b.steps.iter().any(|s| s.label.contains("shard 1")));
        one += waits(&a);
        two += waits(&b);
    }
    assert!(
        two < one,
        "two shards waited {two} times, one lock {one} times"
    );
    Ok(())
}

#[test]
fn the_side_panel_says_who_holds_and_who_waits() -> anyhow::Result<()> {
    let t = locks::one_lock()?;
    for s in &t.steps {
        let panel = &s.state["shard 0"];
        let who = s.label.split(" waits").next().unwrap_or_default();
        match s.kind {
            Kind::LockAcquire => {
                let who = s.label.split(" takes").next().unwrap_or_default();
                assert_eq!(panel[0], format!("held by {who}"), "{}", s.label);
            }
            Kind::LockRelease => assert!(!panel[0].starts_with("held"), "{}", s.label),
            Kind::LockWait => assert!(
                panel
                    .iter()
                    .any(|l| l.starts_with("waiting:") && l.contains(who)),
                "{}: {panel:?}",
                s.label
            ),
            _ => {}
        }
    }
    assert!(t.steps[0].state.contains_key("keys"));
    Ok(())
}
