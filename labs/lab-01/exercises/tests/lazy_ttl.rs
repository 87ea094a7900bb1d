//! Checks exercise `lazy-ttl`. Time only moves when a test advances the
//! `ManualClock`, so nothing here sleeps.

use std::time::Duration;

use lab_01::ManualClock;
use lab_01_exercises::lazy_ttl::{TtlMap, TtlState};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn map() -> (TtlMap<&'static str, u32>, ManualClock) {
    let clock = ManualClock::new();
    (TtlMap::new(clock.clone()), clock)
}

#[test]
fn a_key_lives_until_just_before_its_deadline() {
    let (mut m, clock) = map();
    m.insert("k", 1, Some(ms(100)));
    clock.advance(ms(99));
    assert_eq!(
        m.get(&"k"),
        Some(&1),
        "a key set with a 100 ms TTL should still be there after 99 ms"
    );
}

#[test]
fn a_key_is_gone_at_its_deadline() {
    let (mut m, clock) = map();
    m.insert("k", 1, Some(ms(100)));
    clock.advance(ms(100));
    assert_eq!(
        m.get(&"k"),
        None,
        "a key set with a 100 ms TTL must not be returned after exactly 100 ms (live means now < deadline)"
    );
}

#[test]
fn get_removes_what_has_expired() {
    let (mut m, clock) = map();
    m.insert("a", 1, Some(ms(10)));
    m.insert("b", 2, Some(ms(10)));
    clock.advance(ms(10));
    assert_eq!(
        m.len(),
        2,
        "nothing removes an expired key until someone touches it"
    );
    assert_eq!(m.get(&"a"), None, "key a has expired");
    assert_eq!(
        m.len(),
        1,
        "get on an expired key should remove it from the map (lazy expiry); len() is still {}",
        m.len()
    );
    assert_eq!(
        m.expired, 1,
        "one expired key was removed, so `expired` should be 1"
    );
    assert_eq!(m.get(&"a"), None);
    assert_eq!(m.expired, 1, "a missing key is not an expiry");
}

#[test]
fn keys_without_a_ttl_never_expire() {
    let (mut m, clock) = map();
    m.insert("k", 7, None);
    clock.advance(Duration::from_secs(1_000_000));
    assert_eq!(
        m.get(&"k"),
        Some(&7),
        "a key inserted with ttl None must never expire"
    );
    assert_eq!(m.ttl(&"k"), TtlState::Persistent);
}

#[test]
fn insert_replaces_value_and_deadline() {
    let (mut m, clock) = map();
    assert_eq!(m.insert("k", 1, Some(ms(10))), None, "first insert of k");
    assert_eq!(
        m.insert("k", 2, None),
        Some(1),
        "inserting over a live key should return its old value"
    );
    clock.advance(ms(10));
    assert_eq!(
        m.get(&"k"),
        Some(&2),
        "the second insert had no TTL, so it must not inherit the first one's deadline"
    );
    m.insert("k", 3, Some(ms(5)));
    clock.advance(ms(5));
    assert_eq!(
        m.insert("k", 4, None),
        None,
        "inserting over an expired key should return None: its old value was no longer live"
    );
}

#[test]
fn ttl_reports_like_pttl() {
    let (mut m, clock) = map();
    assert_eq!(
        m.ttl(&"k"),
        TtlState::Missing,
        "ttl of a key never inserted"
    );
    m.insert("k", 1, Some(ms(100)));
    assert_eq!(m.ttl(&"k"), TtlState::Remaining(ms(100)));
    clock.advance(ms(30));
    assert_eq!(
        m.ttl(&"k"),
        TtlState::Remaining(ms(70)),
        "30 ms into a 100 ms TTL, 70 ms should remain"
    );
    clock.advance(ms(70));
    assert_eq!(
        m.ttl(&"k"),
        TtlState::Missing,
        "an expired key reports Missing"
    );
}
