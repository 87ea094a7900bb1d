//! `retry-policy`, under tokio's paused clock: what is sent again, when,
//! and when the loop gives up.

use lab_02::resp::Frame;
use lab_05::Class;
use lab_05_exercises::retry_policy::{Policy, call};
use lab_05_exercises::support::{Scripted, Step};
use tokio::time::Duration;

const MS: Duration = Duration::from_millis(1);

fn policy() -> Policy {
    Policy {
        max_attempts: 4,
        base: 10 * MS,
        cap: 25 * MS,
        deadline: Duration::from_secs(1),
    }
}

const GET: &[&[u8]] = &[b"GET", b"k"];
const INCR: &[&[u8]] = &[b"INCR", b"counter"];

#[tokio::test(start_paused = true)]
async fn a_get_after_a_reset_is_sent_again() {
    let s = Scripted::new([Step::ResetAfterSend, Step::Reply]);
    let r = call(&s, GET, &policy()).await;
    assert!(matches!(r, Ok(Frame::Simple(_))), "{r:?}");
    assert_eq!(s.attempts(), 2, "one retry after the reset");
}

#[tokio::test(start_paused = true)]
async fn an_incr_that_was_sent_is_never_sent_again() {
    let s = Scripted::new([Step::ResetAfterSend, Step::Reply]);
    let r = call(&s, INCR, &policy()).await;
    assert_eq!(
        r.err().map(|e| e.class()),
        Some(Class::Reset),
        "the server may have run the INCR: the caller must hear about the reset"
    );
    assert_eq!(s.attempts(), 1, "INCR went out once and only once");
}

#[tokio::test(start_paused = true)]
async fn an_incr_that_never_left_is_sent_again() {
    let s = Scripted::new([Step::RefusedBeforeSend, Step::Reply]);
    let r = call(&s, INCR, &policy()).await;
    assert!(
        r.is_ok(),
        "nothing reached the server, so trying again is safe: {r:?}"
    );
    assert_eq!(s.attempts(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_error_reply_is_not_retried() {
    let s = Scripted::new([Step::ErrorReply, Step::Reply]);
    let r = call(&s, GET, &policy()).await;
    assert_eq!(r.err().map(|e| e.class()), Some(Class::ServerError));
    assert_eq!(
        s.attempts(),
        1,
        "the server answered: asking again gets the same answer"
    );
}

#[tokio::test(start_paused = true)]
async fn waits_double_from_base_up_to_the_cap() {
    let s = Scripted::new([
        Step::ResetAfterSend,
        Step::ResetAfterSend,
        Step::ResetAfterSend,
        Step::Reply,
    ]);
    let r = call(&s, GET, &policy()).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(
        s.gaps(),
        vec![10 * MS, 20 * MS, 25 * MS],
        "10 ms, 20 ms, then the 25 ms cap"
    );
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_attempts_with_the_last_error() {
    let s = Scripted::new([
        Step::ResetAfterSend,
        Step::ResetAfterSend,
        Step::ResetAfterSend,
        Step::Timeout(5 * MS),
        Step::Reply,
    ]);
    let r = call(&s, GET, &policy()).await;
    assert_eq!(
        r.err().map(|e| e.class()),
        Some(Class::Timeout),
        "the last attempt's error"
    );
    assert_eq!(s.attempts(), 4, "four attempts in all");
}

#[tokio::test(start_paused = true)]
async fn no_retry_starts_after_the_deadline() {
    let slow = Step::Timeout(300 * MS);
    let s = Scripted::new([slow.clone(), slow.clone(), slow.clone(), slow]);
    let started = tokio::time::Instant::now();
    let r = call(
        &s,
        GET,
        &Policy {
            deadline: 500 * MS,
            ..policy()
        },
    )
    .await;
    assert_eq!(r.err().map(|e| e.class()), Some(Class::Timeout));
    assert_eq!(
        s.attempts(),
        2,
        "the second attempt starts at 310 ms; a third would start at 630 ms, past 500 ms"
    );
    assert!(started.elapsed() < 700 * MS);
}
