//! Checks exercise `co-correction`: the backfill rule on small cases and
//! against `hdrhistogram`'s `record_correct`, the stalled closed-model
//! client of the chapter (simulated time, no sleeping), and latency from
//! the intended start with its validation.

use hdrhistogram::Histogram;
use lab_03_exercises::co_correction::{CoError, backfill, from_intended};

const MS: u64 = 1_000_000;

fn backfilled(latency: u64, interval: u64) -> Vec<u64> {
    let mut out = Vec::new();
    backfill(latency, interval, &mut out);
    out
}

/// The sample of rank `ceil(q * n)` (from 1) in sorted order.
fn quantile(samples: &[u64], q: f64) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1]
}

#[test]
fn backfill_small_cases() {
    assert_eq!(backfilled(3_500, 1_000), [3_500, 2_500, 1_500]);
    assert_eq!(
        backfilled(3_000, 1_000),
        [3_000, 2_000, 1_000],
        "a skipped request that would have waited exactly one interval counts"
    );
    assert_eq!(
        backfilled(1_500, 1_000),
        [1_500],
        "0.5 intervals: nothing skipped"
    );
    assert_eq!(
        backfilled(1_000, 1_000),
        [1_000],
        "on schedule: nothing skipped"
    );
    assert_eq!(backfilled(900, 1_000), [900], "faster than the schedule");
    assert_eq!(backfilled(0, 1_000), [0]);
    assert_eq!(
        backfilled(5_000_000, 0),
        [5_000_000],
        "interval 0 means no correction"
    );
}

#[test]
fn backfill_appends() {
    let mut out = vec![7];
    backfill(2_000, 1_000, &mut out);
    backfill(10, 1_000, &mut out);
    assert_eq!(
        out,
        [7, 2_000, 1_000, 10],
        "backfill appends; it never clears"
    );
}

/// The chapter's experiment, in simulated time: one connection, a closed
/// loop (the next request goes out when the previous answer comes back),
/// every answer takes 1 ms, except one, at 5 s, which takes 1 s. Ten
/// seconds of it.
fn stalled_closed_client() -> Vec<u64> {
    let end = 10_000 * MS;
    let stall_at = 5_000 * MS;
    let mut now = 0;
    let mut stalled = false;
    let mut latencies = Vec::new();
    while now < end {
        let latency = if !stalled && now >= stall_at {
            stalled = true;
            1_000 * MS
        } else {
            MS
        };
        latencies.push(latency);
        now += latency;
    }
    latencies
}

#[test]
fn backfill_restores_the_stall_a_closed_client_hides() {
    let raw = stalled_closed_client();
    // 5,000 requests before the stall, the stalled one, 4,000 after.
    assert_eq!(raw.len(), 9_001);
    assert_eq!(
        quantile(&raw, 0.99),
        MS,
        "uncorrected, the 1 s stall is one sample in 9,001: p99 is 1 ms"
    );

    let mut fixed = Vec::new();
    for &l in &raw {
        backfill(l, MS, &mut fixed);
    }
    // An open schedule, one request per ms for 10 s, would have sent
    // 10,000: the 999 backfilled samples are the ones the stall suppressed.
    assert!(
        fixed.len().abs_diff(10_000) <= 3,
        "backfilled count {}, expected what the open schedule sends: 10,000",
        fixed.len()
    );
    // The top 1% is now the stall seen by 100 requests that arrived during
    // it: 1000 ms, 999 ms, ..., 901 ms. p99 is the 9,900th of 10,000.
    let p99 = quantile(&fixed, 0.99);
    assert!(
        (890 * MS..=910 * MS).contains(&p99),
        "backfilled p99 is {} ms; expected about 901 ms",
        p99 / MS
    );
    let p50 = quantile(&fixed, 0.5);
    assert_eq!(
        p50, MS,
        "the median is still 1 ms: 90% of requests never met the stall"
    );
}

/// Same generator as the other tests: seeded, so failures reproduce.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn backfill_matches_hdrhistogram_record_correct() {
    let mut state = 42;
    let mut ours = Histogram::<u64>::new_with_bounds(1, 60_000 * MS, 3).expect("valid bounds");
    let mut theirs = ours.clone();
    let mut out = Vec::new();
    for _ in 0..5_000 {
        let latency = splitmix(&mut state) % (50 * MS);
        // Intervals of 0 (no correction) to 5 ms, with some exact hits.
        let interval = match splitmix(&mut state) % 4 {
            0 => 0,
            1 => latency / 3,
            _ => splitmix(&mut state) % (5 * MS),
        };
        out.clear();
        backfill(latency, interval, &mut out);
        for &v in &out {
            ours.record(v).expect("in range");
        }
        theirs.record_correct(latency, interval).expect("in range");
    }
    assert_eq!(
        ours.len(),
        theirs.len(),
        "as many samples as record_correct"
    );
    let ours: Vec<_> = ours
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect();
    let theirs: Vec<_> = theirs
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect();
    assert!(
        ours == theirs,
        "the same samples as hdrhistogram's record_correct"
    );
}

#[test]
fn from_intended_measures_latency_and_service_time() {
    let intended = [0, 10, 20, 30];
    let sent = [0, 15, 20, 40];
    let done = [5, 30, 21, 40];
    let (latency, service) = from_intended(&intended, &sent, &done).expect("valid input");
    assert_eq!(latency, [5, 20, 1, 10], "latency is done - intended");
    assert_eq!(service, [5, 15, 1, 0], "service time is done - sent");
    assert_eq!(
        from_intended(&[], &[], &[]),
        Ok((vec![], vec![])),
        "no requests, no samples"
    );
}

/// An open schedule (one request per ms) through one connection that
/// stalls for 1 s: the requests due during the stall go out late, when the
/// connection frees up. Service times hide it; latency from the intended
/// start shows it.
#[test]
fn from_intended_sees_the_stall_that_service_time_hides() {
    let mut intended = Vec::new();
    let mut sent = Vec::new();
    let mut done = Vec::new();
    let mut free_at = 0;
    for i in 0..10_000u64 {
        let due = i * MS;
        let start = due.max(free_at);
        let service = if i == 5_000 { 1_000 * MS } else { MS / 2 };
        intended.push(due);
        sent.push(start);
        done.push(start + service);
        free_at = start + service;
    }
    let (latency, service) = from_intended(&intended, &sent, &done).expect("valid input");
    assert_eq!(
        quantile(&service, 0.99),
        MS / 2,
        "service p99 hides the stall"
    );
    let p99 = quantile(&latency, 0.99);
    assert!(
        p99 >= 400 * MS,
        "latency p99 from the intended start is {} ms; the stall should show (about 950 ms)",
        p99 / MS
    );
}

#[test]
fn from_intended_rejects_mismatched_lengths() {
    assert_eq!(
        from_intended(&[0, 1], &[0, 1], &[2]),
        Err(CoError::LengthMismatch {
            intended: 2,
            sent: 2,
            done: 1
        })
    );
    assert!(matches!(
        from_intended(&[0], &[0, 1], &[2, 3]),
        Err(CoError::LengthMismatch { .. })
    ));
}

#[test]
fn from_intended_names_the_request_sent_too_early() {
    let err = from_intended(&[0, 10, 20], &[0, 9, 20], &[1, 11, 21]).unwrap_err();
    assert_eq!(
        err,
        CoError::SentBeforeIntended {
            index: 1,
            intended: 10,
            sent: 9
        }
    );
    assert!(err.to_string().contains("request 1"), "{err}");
}

#[test]
fn from_intended_names_the_request_done_before_sent() {
    let err = from_intended(&[0, 10, 20], &[0, 10, 25], &[1, 11, 24]).unwrap_err();
    assert_eq!(
        err,
        CoError::DoneBeforeSent {
            index: 2,
            sent: 25,
            done: 24
        }
    );
    assert!(err.to_string().contains("request 2"), "{err}");
}

#[test]
fn from_intended_reports_the_first_bad_request() {
    // Index 1 finishes before it is sent, index 2 is sent early: the first
    // one wins. In the second input, index 1 is wrong both ways:
    // sent-before-intended is checked first.
    let err = from_intended(&[0, 10, 20], &[0, 10, 19], &[1, 9, 25]).unwrap_err();
    assert!(
        matches!(err, CoError::DoneBeforeSent { index: 1, .. }),
        "{err:?}"
    );
    let err = from_intended(&[0, 10], &[0, 9], &[1, 8]).unwrap_err();
    assert!(
        matches!(err, CoError::SentBeforeIntended { index: 1, .. }),
        "{err:?}"
    );
}
