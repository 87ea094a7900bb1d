//! The check's rules: a task that is just finishing passes, a real leak
//! fails within the budget, the baseline and ignore lists are honoured,
//! and tasks spawned without the tracker are still counted.

use std::time::{Duration, Instant};

use lab_06::{LeakCheck, Schedule};

fn short() -> Schedule {
    Schedule {
        budget: Duration::from_millis(300),
        ..Schedule::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_finishing_during_the_retries_passes() {
    let check = LeakCheck::start().schedule(short());
    lab_06::spawn(tokio::time::sleep(Duration::from_millis(40)));
    let started = Instant::now();
    check
        .verify()
        .await
        .expect("the slow finisher is not a leak");
    assert!(
        started.elapsed() >= Duration::from_millis(30),
        "it did wait for it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_leak_fails_within_the_budget_with_its_site() {
    let check = LeakCheck::start().schedule(short());
    let line = line!() + 1;
    let _detached = lab_06::spawn(std::future::pending::<()>());
    let started = Instant::now();
    let report = check.verify().await.expect_err("a leak");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "used the budget: {took:?}"
    );
    assert!(
        took < Duration::from_millis(900),
        "and not much more: {took:?}"
    );
    assert_eq!(report.tracked(), 1);
    assert_eq!(report.leaks[0].site.line(), line);
    assert!(
        report
            .to_string()
            .contains(&format!("tests/check.rs:{line}:")),
        "{report}"
    );
}

#[tokio::test]
async fn tasks_alive_before_the_check_are_not_blamed() {
    let before = lab_06::spawn(std::future::pending::<()>());
    let check = LeakCheck::start().schedule(short());
    check
        .verify()
        .await
        .expect("the baseline task is not the test's");
    before.abort();
}

#[tokio::test]
async fn an_ignored_site_is_forgiven_and_others_are_not() {
    let check = LeakCheck::start()
        .schedule(short())
        .ignore("tests/check.rs", Some(line!() + 1));
    let a = lab_06::spawn(std::future::pending::<()>());
    let b = lab_06::spawn(std::future::pending::<()>());
    let report = check.verify().await.expect_err("b is not ignored");
    assert_eq!(report.tracked(), 1);
    a.abort();
    b.abort();
}

#[tokio::test]
async fn an_untracked_spawn_is_counted_without_a_site() {
    let check = LeakCheck::start().schedule(short());
    let t = tokio::spawn(std::future::pending::<()>());
    let report = check.verify().await.expect_err("tokio counts it alive");
    assert_eq!(report.untracked, 1, "{report}");
    assert_eq!(report.tracked(), 0);
    assert!(
        report.to_string().contains("not spawned through lab_06"),
        "{report}"
    );
    t.abort();
}

#[tokio::test]
async fn a_tracked_future_in_a_joinset_is_named() {
    let check = LeakCheck::start().schedule(short());
    let mut set = tokio::task::JoinSet::new();
    set.spawn(lab_06::track(std::future::pending::<()>()));
    let report = check.verify().await.expect_err("still in the set");
    assert_eq!(report.tracked(), 1, "{report}");
    assert_eq!(
        report.untracked, 0,
        "the set's task is the tracked one: {report}"
    );
    set.shutdown().await;
}

#[tokio::test]
async fn no_leaks_passes_a_clean_body_and_returns_its_value() {
    let v = lab_06::no_leaks(async { lab_06::spawn(async { 7 }).await.expect("joined") }).await;
    assert_eq!(v, 7);
}

#[tokio::test]
#[should_panic(expected = "leaked task")]
async fn no_leaks_panics_with_the_report() {
    lab_06::no_leaks(async {
        // Detached: never finishes.
        lab_06::spawn(std::future::pending::<()>());
    })
    .await;
}
