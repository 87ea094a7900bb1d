//! `sharded-map`: lab-01's sharded cache changing step by step.
//!
//! The seed's own idea, a data structure drawn as it changes: a
//! [`lab_01::ShardedMutex`] with four shards and room for three keys in
//! each, under a short script of writes, reads, one key with a TTL, time
//! passing, active expiry, and the evictions a full shard makes. Each
//! operation is a `data` step on the lane of the shard it touched; the
//! side panel shows every shard's keys after each step, read back from the
//! cache itself (its shard API, `with_shard`), never from the script's
//! own idea of where keys went.
//!
//! Deterministic: the shard of a key comes from a fixed hasher (the
//! default one is seeded randomly per process), the cache's clock is a
//! [`ManualClock`] moved in step with tokio's paused clock, and eviction
//! samples with lab-01's own seeded generator.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use anyhow::Result;
use lab_01::{Cache, CacheConfig, ManualClock, SetOptions, ShardedMutex, Stats, TtlState};

use crate::recorder::Recorder;
use crate::trace::{Clock, Kind, LaneKind, Trace};

pub const NAME: &str = "sharded-map";
pub const TITLE: &str = "The sharded cache, step by step";

const SHARDS: usize = 4;
const CAPACITY: usize = 12;

/// FNV-1a, then a mixing step so the bits that pick the shard (just below
/// the top seven) depend on every byte. Stable across runs and Rust
/// versions, unlike `RandomState`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedState;

#[derive(Debug, Clone, Copy)]
pub struct FixedHasher(u64);

impl BuildHasher for FixedState {
    type Hasher = FixedHasher;
    fn build_hasher(&self) -> FixedHasher {
        FixedHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FixedHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        let mut x = self.0;
        x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        x = (x ^ (x >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
}

type Map = ShardedMutex<String, u64, FixedState>;

/// One line of the script.
#[derive(Debug, Clone, Copy)]
enum Op {
    Set(&'static str, u64),
    SetTtl(&'static str, u64, u64),
    Get(&'static str),
    Pass(u64),
    ActiveExpiry,
}

// ANCHOR: script
const SCRIPT: &[Op] = &[
    Op::Set("apple", 1),
    Op::Set("banana", 2),
    Op::Set("cherry", 3),
    Op::Set("damson", 4),
    Op::Set("elder", 5),
    Op::Set("fig", 6),
    Op::Set("grape", 7),
    Op::Get("apple"),
    Op::SetTtl("kiwi", 8, 30),
    Op::Get("kiwi"),
    Op::Pass(40),
    Op::Get("kiwi"),
    Op::ActiveExpiry,
    Op::Set("lemon", 9),
    Op::Set("mango", 10),
    Op::Set("nectarine", 11),
    Op::Set("olive", 12),
    Op::Set("peach", 13),
    Op::Set("quince", 14),
    Op::Get("apple"),
    Op::Set("rowan", 15),
    Op::Set("sloe", 16),
    Op::Set("tangerine", 17),
];
// ANCHOR_END: script

/// Time between two operations, so LRU stamps differ.
const STEP: Duration = Duration::from_millis(1);

/// What a shard holds: live keys (in the shard's own order) and how many
/// expired keys it still keeps until a write or active expiry reclaims
/// them.
#[derive(Debug, Clone, PartialEq)]
struct ShardView {
    live: Vec<(String, u64)>,
    expired_held: usize,
    stats: Stats,
}

fn view(map: &Map) -> Vec<ShardView> {
    (0..map.shard_count())
        .map(|i| {
            map.with_shard(i, |s| {
                let mut live = Vec::new();
                s.for_each(|k: &String, v: &u64| live.push((k.clone(), *v)));
                let mut stats = Stats::default();
                s.add_stats(&mut stats);
                ShardView {
                    expired_held: s.len().saturating_sub(live.len()),
                    live,
                    stats,
                }
            })
        })
        .collect()
}

fn panel(rec: &Recorder, map: &Map, shards: &[ShardView]) {
    let per_shard = CAPACITY / SHARDS;
    for (i, s) in shards.iter().enumerate() {
        let mut lines: Vec<String> = s
            .live
            .iter()
            .map(|(k, v)| match map.ttl(k.as_str()) {
                TtlState::Remaining(d) => {
                    format!("{k} = {v} (expires in {})", kit::fmt::fmt_duration(d))
                }
                _ => format!("{k} = {v}"),
            })
            .collect();
        if s.expired_held > 0 {
            lines.push(format!(
                "+ {} expired, still held until reclaimed",
                s.expired_held
            ));
        }
        if lines.is_empty() {
            lines.push("(empty)".to_owned());
        }
        lines.insert(
            0,
            format!("{}/{per_shard} slots used", s.live.len() + s.expired_held),
        );
        rec.set(&format!("shard {i}"), lines);
    }
    let total = map.stats();
    rec.set(
        "totals",
        vec![
            format!(
                "{} keys held, capacity {CAPACITY} ({per_shard} per shard)",
                map.len()
            ),
            format!(
                "hits {} · misses {} · evictions {} · expirations {}",
                total.hits, total.misses, total.evictions, total.expirations
            ),
        ],
    );
}

/// Keys that were live in `before` and are not in `after`, by shard.
fn gone(before: &[ShardView], after: &[ShardView], except: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        for (k, _) in &b.live {
            if k != except && !a.live.iter().any(|(ak, _)| ak == k) {
                out.push((i, k.clone()));
            }
        }
    }
    out
}

pub fn record() -> Result<Trace> {
    let rt = crate::tasks::paused_runtime()?;
    rt.block_on(async {
        let rec = Recorder::new(NAME, TITLE, Clock::Paused);
        let caller = rec.lane("caller", LaneKind::Thread);
        let lanes: Vec<usize> = (0..SHARDS)
            .map(|i| rec.lane(&format!("shard {i}"), LaneKind::Data))
            .collect();
        let clock = ManualClock::new();
        let map = Map::with_config(
            CacheConfig::new()
                .shards(SHARDS)
                .capacity(CAPACITY)
                .clock(clock.clone()),
        )?;
        let mut before = view(&map);
        panel(&rec, &map, &before);
        rec.step(
            caller,
            Kind::Note,
            format!(
                "an empty cache: {SHARDS} shards, {} keys each at most",
                CAPACITY / SHARDS
            ),
        );

        // Keys whose latest set gave them a time to live.
        let mut with_ttl = std::collections::HashSet::new();
        for op in SCRIPT {
            let pass = match op {
                Op::Pass(ms) => Duration::from_millis(*ms),
                _ => STEP,
            };
            tokio::time::advance(pass).await;
            clock.advance(pass);

            let (lane, label, target) = match *op {
                Op::Set(k, v) | Op::SetTtl(k, v, _) => {
                    let shard = map.shard_of(k);
                    let full =
                        before[shard].live.len() + before[shard].expired_held >= CAPACITY / SHARDS;
                    let options = match *op {
                        Op::SetTtl(_, _, ms) => {
                            SetOptions::default().ttl(Duration::from_millis(ms))
                        }
                        _ => SetOptions::default(),
                    };
                    let out = map.set(k.to_owned(), v, options);
                    if matches!(*op, Op::SetTtl(..)) {
                        with_ttl.insert(k);
                    } else {
                        with_ttl.remove(k);
                    }
                    let ttl = match *op {
                        Op::SetTtl(_, _, ms) => format!(" with a {ms} ms TTL"),
                        _ => String::new(),
                    };
                    let what = match (out.previous, full) {
                        (Some(old), _) => format!("set {k} = {v}{ttl} (was {old})"),
                        (None, true) => format!("set {k} = {v}{ttl}: the shard is full"),
                        (None, false) => format!("set {k} = {v}{ttl}"),
                    };
                    (lanes[shard], what, k)
                }
                Op::Get(k) => {
                    let shard = map.shard_of(k);
                    let what = match map.get(k) {
                        Some(v) => format!("get {k}: hit ({v}); now its most recently used key"),
                        None if with_ttl.contains(k) => {
                            format!("get {k}: miss: its time to live has passed")
                        }
                        None => format!("get {k}: miss"),
                    };
                    (lanes[shard], what, k)
                }
                Op::Pass(ms) => (caller, format!("{ms} ms pass"), ""),
                Op::ActiveExpiry => {
                    let r = map.expire_step(20);
                    (
                        caller,
                        format!(
                            "active expiry: samples {} key{} with a TTL, removes {}",
                            r.sampled,
                            if r.sampled == 1 { "" } else { "s" },
                            r.expired
                        ),
                        "",
                    )
                }
            };
            let after = view(&map);
            panel(&rec, &map, &after);
            let kind = if lane == caller {
                Kind::Note
            } else {
                Kind::Data
            };
            let step = rec.step(lane, kind, label);
            // What the operation removed besides its own key: an eviction
            // to make room, an expired key reclaimed, or a TTL running out.
            for (shard, key) in gone(&before, &after, target) {
                let (b, a) = (&before[shard].stats, &after[shard].stats);
                let why = if a.evictions > b.evictions {
                    format!("evicts {key}: the least recently used of the keys it sampled")
                } else if a.expirations > b.expirations {
                    format!("{key} has expired and is reclaimed")
                } else {
                    format!("{key}'s TTL runs out: reads miss it, but the shard still holds it")
                };
                rec.caused(lanes[shard], Kind::Data, why, step);
            }
            // Expired keys the operation reclaimed (they were no longer
            // live, so `gone` does not see them).
            for (shard, (b, a)) in before.iter().zip(&after).enumerate() {
                if a.expired_held < b.expired_held {
                    rec.caused(
                        lanes[shard],
                        Kind::Data,
                        format!(
                            "reclaims {} expired key{}: the slot is free again",
                            b.expired_held - a.expired_held,
                            if b.expired_held - a.expired_held == 1 {
                                ""
                            } else {
                                "s"
                            }
                        ),
                        step,
                    );
                }
            }
            before = after;
        }
        Ok(rec.trace())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_the_same_trace_twice() {
        let a = record().unwrap();
        a.validate().unwrap();
        assert_eq!(a, record().unwrap());
        assert!((20..=150).contains(&a.steps.len()), "{}", a.steps.len());
    }

    #[test]
    fn shows_an_expiry_and_an_eviction_and_every_shard() {
        let t = record().unwrap();
        let text = t.outline().join("\n");
        assert!(text.contains("evicts"), "{text}");
        assert!(text.contains("removes 1"), "{text}");
        assert!(
            text.contains("get kiwi: miss: its time to live has passed"),
            "{text}"
        );
        let last = &t.steps.last().unwrap().state;
        for i in 0..SHARDS {
            assert!(last.contains_key(&format!("shard {i}")));
        }
        // apple was read twice, so it is never the one evicted.
        assert!(!text.contains("evicts apple"), "{text}");
        assert!(last.values().flatten().any(|l| l.starts_with("apple = 1")));
    }
}
