use std::time::Duration;

use lab_06::LeakCheck;
use lab_06_exercises::retry_schedule::Backoff;
use lab_06_exercises::support::verify_with;

fn backoff() -> Backoff {
    Backoff {
        first: Duration::from_millis(1),
        cap: Duration::from_millis(50),
        budget: Duration::from_millis(400),
    }
}

#[test]
fn the_first_sleeps_double_from_first() {
    let b = backoff();
    assert_eq!(
        b.next(0, Duration::ZERO),
        Some(Duration::from_millis(1)),
        "attempt 0 sleeps `first`"
    );
    assert_eq!(
        b.next(1, Duration::from_millis(1)),
        Some(Duration::from_millis(2)),
        "attempt 1 sleeps twice that"
    );
    assert_eq!(
        b.next(3, Duration::from_millis(7)),
        Some(Duration::from_millis(8))
    );
}

#[test]
fn no_sleep_is_longer_than_the_cap_even_after_many_attempts() {
    let b = backoff();
    assert_eq!(b.next(10, Duration::ZERO), Some(b.cap));
    assert_eq!(
        b.next(200, Duration::ZERO),
        Some(b.cap),
        "attempt 200 must not overflow"
    );
}

#[test]
fn the_total_never_passes_the_budget() {
    let b = backoff();
    assert_eq!(
        b.next(8, Duration::from_millis(390)),
        Some(Duration::from_millis(10)),
        "only what is left of the budget"
    );
    assert_eq!(b.next(9, b.budget), None, "budget spent: stop");
    let (mut waited, mut attempt) = (Duration::ZERO, 0);
    while let Some(d) = b.next(attempt, waited) {
        waited += d;
        attempt += 1;
        assert!(attempt < 1000, "the schedule never ends");
    }
    assert_eq!(waited, b.budget, "all of the budget is used, and no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_finishing_soon_passes() {
    let check = LeakCheck::start();
    lab_06::spawn(tokio::time::sleep(Duration::from_millis(30)));
    let b = backoff();
    let (left, _) = verify_with(check, |a, w| b.next(a, w)).await;
    assert_eq!(left, 0, "a task that ends 30 ms later is not a leak");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_leak_fails_once_the_budget_is_spent() {
    let check = LeakCheck::start();
    let leak = lab_06::spawn(std::future::pending::<()>());
    let b = backoff();
    let (left, waited) = verify_with(check, |a, w| b.next(a, w)).await;
    assert_eq!(left, 1, "the leak is reported");
    assert!(waited >= b.budget, "after the whole budget ({waited:?})");
    assert!(
        waited < b.budget + Duration::from_millis(300),
        "and soon after it ({waited:?})"
    );
    leak.abort();
}
