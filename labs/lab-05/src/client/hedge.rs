//! Hedged requests ("The Tail at Scale", Dean and Barroso, 2013): when a
//! read has had no reply for `hedge_after` (about the latency's 95th
//! percentile), send a copy on another connection and take whichever reply
//! comes first. A slow connection (a lost packet waiting for its
//! retransmit, a stalled server thread) then costs `hedge_after` plus one
//! normal round trip instead of its whole stall, for a few percent more
//! requests. Only for reads: a write sent twice may run twice.
//!
//! The loser is dropped, not cancelled on the wire: its reply still comes
//! and its connection matches and discards it, so the connection stays in
//! step.

use std::future::Future;
use std::time::Duration;

// ANCHOR: hedge
/// Runs `primary`; if it has not finished after `hedge_after`, asks
/// `start_hedge` for a second attempt (`None`: no hedge, e.g. the budget is
/// empty) and runs both. The first success wins; if one fails, the other
/// decides; if both fail, the primary's error is returned.
pub async fn race<T, E, P, H>(
    primary: P,
    hedge_after: Duration,
    start_hedge: impl FnOnce() -> Option<H>,
) -> Result<T, E>
where
    P: Future<Output = Result<T, E>>,
    H: Future<Output = Result<T, E>>,
{
    tokio::pin!(primary);
    tokio::select! {
        result = &mut primary => return result,
        () = tokio::time::sleep(hedge_after) => {}
    }
    let Some(hedge) = start_hedge() else {
        return primary.await;
    };
    tokio::pin!(hedge);
    tokio::select! {
        result = &mut primary => match result {
            Ok(v) => Ok(v),
            Err(e) => hedge.await.or(Err(e)),
        },
        result = &mut hedge => match result {
            Ok(v) => Ok(v),
            Err(_) => primary.await,
        },
    }
}
// ANCHOR_END: hedge

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::{Instant, sleep};

    async fn after<T>(ms: u64, v: Result<T, &'static str>) -> Result<T, &'static str> {
        sleep(Duration::from_millis(ms)).await;
        v
    }

    #[tokio::test(start_paused = true)]
    async fn no_hedge_when_the_primary_is_fast() {
        let r = race(
            after(5, Ok(1)),
            Duration::from_millis(10),
            || -> Option<std::future::Ready<Result<i32, &str>>> { panic!("no hedge expected") },
        )
        .await;
        assert_eq!(r, Ok(1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_hedge_starts_after_hedge_after_and_the_first_reply_wins() {
        let start = Instant::now();
        let mut hedged_at = None;
        let r = race(after(100, Ok("primary")), Duration::from_millis(10), || {
            hedged_at = Some(start.elapsed());
            Some(after(5, Ok("hedge")))
        })
        .await;
        assert_eq!(r, Ok("hedge"));
        assert_eq!(hedged_at, Some(Duration::from_millis(10)));
        assert_eq!(start.elapsed(), Duration::from_millis(15));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_leaves_the_other_to_decide() {
        let r = race(after(20, Err("primary")), Duration::from_millis(10), || {
            Some(after(50, Ok("hedge")))
        })
        .await;
        assert_eq!(r, Ok("hedge"));
        let r: Result<&str, &str> =
            race(after(20, Err("primary")), Duration::from_millis(10), || {
                Some(after(5, Err("hedge")))
            })
            .await;
        assert_eq!(r, Err("primary"));
        let r = race(after(20, Ok("primary")), Duration::from_millis(10), || {
            None::<std::future::Ready<Result<&str, &str>>>
        })
        .await;
        assert_eq!(r, Ok("primary"));
    }
}
