use std::time::{Duration, Instant};

use lab_06::{LeakCheck, Schedule};
use lab_06_exercises::worker_pool::Pool;

fn check() -> LeakCheck {
    LeakCheck::start().schedule(Schedule {
        budget: Duration::from_millis(300),
        ..Schedule::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_every_worker_while_a_submitter_is_still_held() {
    let leaks = check();
    let pool = Pool::start(4);
    let submitter = pool.submitter();
    assert!(submitter.submit(1).await);
    pool.shutdown().await;
    if let Err(report) = leaks.verify().await {
        panic!("after shutdown, no worker may be left (a Submitter is still alive):\n{report}");
    }
    drop(submitter);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_already_taken_finishes_before_shutdown_returns() {
    let pool = Pool::start(2);
    let submitter = pool.submitter();
    assert!(submitter.submit(300).await);
    assert!(submitter.submit(300).await);
    // Wait until both workers have taken a job (not a fixed sleep: a
    // loaded machine may take longer).
    let until = Instant::now() + Duration::from_secs(5);
    while pool.taken() < 2 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(pool.taken(), 2, "both jobs were taken");
    let started = Instant::now();
    let finished = pool.shutdown().await;
    assert_eq!(
        finished, 2,
        "both taken jobs ran to the end before shutdown returned (waiting for the workers, not for a while)"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "and shutdown did not hang"
    );
}
