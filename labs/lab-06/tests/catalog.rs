//! Every catalog case, both ways: the check fails the leak and names the
//! line that spawned each leaked task; it passes the fix. One case at a
//! time (a lock), since the socket look is process-wide.

use std::sync::Mutex;
use std::time::Duration;

use lab_06::Schedule;
use lab_06::catalog::{self, Side};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Short retries: a leak is still a leak after 300 ms, and the fixes end
/// within milliseconds.
fn schedule() -> Schedule {
    Schedule {
        budget: Duration::from_millis(300),
        ..Schedule::default()
    }
}

fn check_case(name: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let cases = catalog::cases();
    let case = cases
        .iter()
        .find(|c| c.name == name)
        .expect("a catalog case");
    let leak = catalog::run(case, Side::Leak, schedule()).expect("ran the leak");
    let report = leak.tasks.expect_err("the check must fail the leak");
    assert_eq!(
        report.tracked(),
        case.tasks,
        "leaked tasks for {name}:\n{report}"
    );
    assert_eq!(
        report.untracked, 0,
        "every catalog task is tracked:\n{report}"
    );
    for l in &report.leaks {
        assert!(
            l.site.file().ends_with("catalog.rs"),
            "the report names the spawn site in catalog.rs, not {}",
            l.site
        );
    }
    assert!(report.to_string().contains("catalog.rs:"), "{report}");
    assert_eq!(
        leak.resources.close_wait.len(),
        case.close_wait,
        "CLOSE_WAIT sockets for {name}: {}",
        leak.resources
    );
    let fixed = catalog::run(case, Side::Fixed, schedule()).expect("ran the fix");
    if let Err(r) = &fixed.tasks {
        panic!("the fix of {name} must pass:\n{r}");
    }
    assert!(fixed.resources.close_wait.is_empty(), "{}", fixed.resources);
}

#[test]
fn detached_handle() {
    check_case("detached-handle");
}

#[test]
fn sender_kept() {
    check_case("sender-kept");
}

#[test]
fn blocked_send() {
    check_case("blocked-send");
}

#[test]
fn select_closed_branch() {
    check_case("select-closed-branch");
}

#[test]
fn lock_held() {
    check_case("lock-held");
}

#[test]
fn sibling_failed() {
    check_case("sibling-failed");
}

#[test]
fn lost_waker() {
    check_case("lost-waker");
}

#[test]
fn abandoned_connection() {
    check_case("abandoned-connection");
}

#[test]
fn blocking_forever() {
    check_case("blocking-forever");
}

#[test]
fn every_case_has_a_test_here() {
    let here = include_str!("catalog.rs");
    for c in catalog::cases() {
        assert!(
            here.contains(&format!("check_case(\"{}\")", c.name)),
            "no test for {}",
            c.name
        );
    }
}
