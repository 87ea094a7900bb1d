//! Property test: any sequence of single-threaded operations leaves every
//! implementation in the same state as a plain `HashMap` given the same
//! operations (with TTLs driven by a `ManualClock`).
#![cfg(not(loom))]
// Test helpers, not only #[test] functions, unwrap: a failure here is a
// test failure, and the panic message points at it.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use lab_01::{
    Cache, CacheConfig, ManualClock, MutexCache, RwLockCache, SetOptions, ShardedMutex,
    ShardedRwLock, TtlState,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u16),
    SetNx(u8, u16),
    SetXx(u8, u16),
    SetTtl(u8, u16, u8),
    Remove(u8),
    Get(u8),
    Incr(u8),
    Delete(u8),
    Expire(u8, u8),
    Persist(u8),
    Advance(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..12;
    prop_oneof![
        (k.clone(), any::<u16>()).prop_map(|(k, v)| Op::Insert(k, v)),
        (k.clone(), any::<u16>()).prop_map(|(k, v)| Op::SetNx(k, v)),
        (k.clone(), any::<u16>()).prop_map(|(k, v)| Op::SetXx(k, v)),
        (k.clone(), any::<u16>(), 1u8..20).prop_map(|(k, v, t)| Op::SetTtl(k, v, t)),
        k.clone().prop_map(Op::Remove),
        k.clone().prop_map(Op::Get),
        k.clone().prop_map(Op::Incr),
        k.clone().prop_map(Op::Delete),
        (k.clone(), 0u8..20).prop_map(|(k, t)| Op::Expire(k, t)),
        k.prop_map(Op::Persist),
        (1u8..10).prop_map(Op::Advance),
    ]
}

/// The model: value and optional deadline (in ms) per key.
#[derive(Default)]
struct Model {
    now: u64,
    map: HashMap<u64, (u64, Option<u64>)>,
}

impl Model {
    fn live(&mut self, k: u64) -> Option<u64> {
        match self.map.get(&k) {
            Some(&(v, d)) if d.is_none_or(|d| self.now < d) => Some(v),
            Some(_) => {
                self.map.remove(&k);
                None
            }
            None => None,
        }
    }
}

fn run<C: Cache<u64, u64>>(ops: &[Op]) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let c = C::with_config(CacheConfig::new().shards(4).clock(clock.clone())).unwrap();
    let mut m = Model::default();
    let ms = |t: u8| Duration::from_millis(u64::from(t));
    for op in ops {
        match *op {
            Op::Insert(k, v) => {
                let (k, v) = (u64::from(k), u64::from(v));
                let prev = m.live(k);
                m.map.insert(k, (v, None));
                prop_assert_eq!(c.insert(k, v), prev, "{:?}", op);
            }
            Op::SetNx(k, v) | Op::SetXx(k, v) => {
                let (k, v) = (u64::from(k), u64::from(v));
                let nx = matches!(op, Op::SetNx(..));
                let prev = m.live(k);
                let write = if nx { prev.is_none() } else { prev.is_some() };
                if write {
                    m.map.insert(k, (v, None));
                }
                let opts = if nx {
                    SetOptions::default().if_absent()
                } else {
                    SetOptions::default().if_present()
                };
                let o = c.set(k, v, opts);
                prop_assert_eq!(o.written, write, "{:?}", op);
                prop_assert_eq!(o.previous, prev, "{:?}", op);
            }
            Op::SetTtl(k, v, t) => {
                let (k, v) = (u64::from(k), u64::from(v));
                let prev = m.live(k);
                m.map.insert(k, (v, Some(m.now + u64::from(t))));
                let o = c.set(k, v, SetOptions::default().ttl(ms(t)));
                prop_assert_eq!(o.previous, prev, "{:?}", op);
            }
            Op::Remove(k) => {
                let k = u64::from(k);
                let prev = m.live(k);
                m.map.remove(&k);
                prop_assert_eq!(c.remove(&k), prev, "{:?}", op);
            }
            Op::Get(k) => {
                let k = u64::from(k);
                prop_assert_eq!(c.get(&k), m.live(k), "{:?}", op);
            }
            Op::Incr(k) => {
                let k = u64::from(k);
                let prev = m.live(k);
                let deadline = m.map.get(&k).and_then(|e| e.1);
                m.map.insert(k, (prev.unwrap_or(0) + 1, deadline));
                let seen = c.update(k, |slot| {
                    let seen = *slot;
                    *slot = Some(slot.unwrap_or(0) + 1);
                    seen
                });
                prop_assert_eq!(seen, prev, "{:?}", op);
            }
            Op::Delete(k) => {
                let k = u64::from(k);
                m.live(k);
                m.map.remove(&k);
                c.update(k, |slot| *slot = None);
            }
            Op::Expire(k, t) => {
                let k = u64::from(k);
                let exists = m.live(k).is_some();
                if exists {
                    if t == 0 {
                        m.map.remove(&k);
                    } else if let Some(e) = m.map.get_mut(&k) {
                        e.1 = Some(m.now + u64::from(t));
                    }
                }
                prop_assert_eq!(c.expire(&k, Some(ms(t))), exists, "{:?}", op);
            }
            Op::Persist(k) => {
                let k = u64::from(k);
                let had = m.live(k).is_some() && m.map.get(&k).is_some_and(|e| e.1.is_some());
                if let Some(e) = m.map.get_mut(&k) {
                    e.1 = None;
                }
                prop_assert_eq!(c.persist(&k), had, "{:?}", op);
            }
            Op::Advance(t) => {
                m.now += u64::from(t);
                clock.advance(ms(t));
            }
        }
    }
    // Final state: same live keys, values and TTLs.
    for k in 0..12u64 {
        let expect = m.live(k);
        prop_assert_eq!(c.get(&k), expect, "key {} at the end", k);
        let ttl = match m.map.get(&k) {
            None => TtlState::Missing,
            Some((_, None)) => TtlState::Persistent,
            Some((_, Some(d))) => TtlState::Remaining(Duration::from_millis(d - m.now)),
        };
        prop_assert_eq!(c.ttl(&k), ttl, "TTL of key {} at the end", k);
    }
    let mut keys = c.keys();
    keys.sort_unstable();
    let mut expect: Vec<u64> = m.map.keys().copied().collect();
    expect.sort_unstable();
    prop_assert_eq!(keys, expect);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn implementations_match_a_hashmap(ops in prop::collection::vec(op(), 1..60)) {
        run::<MutexCache<u64, u64>>(&ops)?;
        run::<RwLockCache<u64, u64>>(&ops)?;
        run::<ShardedMutex<u64, u64>>(&ops)?;
        run::<ShardedRwLock<u64, u64>>(&ops)?;
    }
}
