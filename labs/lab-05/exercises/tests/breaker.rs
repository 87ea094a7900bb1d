//! `breaker-half-open`, under tokio's paused clock.

use lab_05_exercises::breaker::{Breaker, State};
use tokio::time::{Duration, advance};

const OPEN_FOR: Duration = Duration::from_millis(500);

/// A breaker opened by three failures.
fn opened() -> Breaker {
    let mut b = Breaker::new(3, OPEN_FOR);
    for _ in 0..3 {
        assert!(b.admit());
        b.record(false);
    }
    assert!(matches!(b.state, State::Open { .. }), "{:?}", b.state);
    b
}

#[tokio::test(start_paused = true)]
async fn stays_open_until_open_for_has_passed() {
    let mut b = opened();
    assert!(!b.admit(), "open: fail fast");
    advance(OPEN_FOR - Duration::from_millis(1)).await;
    assert!(!b.admit(), "still open 1 ms before the end");
}

#[tokio::test(start_paused = true)]
async fn lets_one_probe_through_after_open_for() {
    let mut b = opened();
    advance(OPEN_FOR).await;
    assert!(b.admit(), "half-open: the first request is the probe");
    assert!(!b.admit(), "only one probe at a time");
    assert!(!b.admit());
}

#[tokio::test(start_paused = true)]
async fn a_successful_probe_closes_it() {
    let mut b = opened();
    advance(OPEN_FOR).await;
    assert!(b.admit());
    b.record(true);
    assert_eq!(b.state, State::Closed { failures: 0 });
    assert!(b.admit() && b.admit(), "closed: everything goes");
    // Failures count from zero again: two do not open it.
    b.record(false);
    b.record(false);
    assert!(b.admit(), "{:?}", b.state);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_it_for_another_open_for() {
    let mut b = opened();
    advance(OPEN_FOR).await;
    assert!(b.admit());
    advance(Duration::from_millis(100)).await;
    b.record(false);
    assert!(matches!(b.state, State::Open { .. }), "{:?}", b.state);
    assert!(!b.admit());
    advance(OPEN_FOR - Duration::from_millis(1)).await;
    assert!(!b.admit(), "open for a full open_for from the failed probe");
    advance(Duration::from_millis(1)).await;
    assert!(b.admit(), "then a new probe");
}
