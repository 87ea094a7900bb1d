//! # Exercise 3: lazy expiry (reference solution)
//!
//! See the starter, `src/lazy_ttl.rs`, for the task.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

pub use lab_01::{Clock, TtlState};

/// A single-threaded map whose keys can expire.
pub struct TtlMap<K, V> {
    /// Value and deadline (a time on `clock`) per key.
    map: HashMap<K, (V, Option<Duration>)>,
    clock: Arc<dyn Clock>,
    /// Expired keys removed so far.
    pub expired: u64,
}

impl<K: Hash + Eq, V> TtlMap<K, V> {
    pub fn new(clock: impl Clock) -> Self {
        Self {
            map: HashMap::new(),
            clock: Arc::new(clock),
            expired: 0,
        }
    }

    /// The current time on the map's clock.
    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Keys physically held, expired or not.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    // ANCHOR: solution
    /// Stores `value`, expiring after `ttl` if given. Returns the replaced
    /// value if it was live.
    pub fn insert(&mut self, key: K, value: V, ttl: Option<Duration>) -> Option<V> {
        let now = self.now();
        let deadline = ttl.map(|t| now.saturating_add(t));
        match self.map.insert(key, (value, deadline)) {
            Some((old, old_deadline)) if is_live(old_deadline, now) => Some(old),
            Some(_) => {
                // The replaced value had expired: it is gone all the same,
                // and it counts as reclaimed.
                self.expired += 1;
                None
            }
            None => None,
        }
    }

    /// The live value for `key`; removes the key if it has expired.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let now = self.now();
        let deadline = self.map.get(key)?.1;
        if !is_live(deadline, now) {
            // Lazy expiry: the reader that finds a dead key reclaims it.
            self.map.remove(key);
            self.expired += 1;
            return None;
        }
        self.map.get(key).map(|(v, _)| v)
    }

    /// Time to live of `key`.
    pub fn ttl(&self, key: &K) -> TtlState {
        let now = self.now();
        match self.map.get(key) {
            None => TtlState::Missing,
            Some((_, None)) => TtlState::Persistent,
            Some((_, Some(d))) if now < *d => TtlState::Remaining(*d - now),
            Some(_) => TtlState::Missing,
        }
    }
    // ANCHOR_END: solution
}

/// A key is live strictly before its deadline.
fn is_live(deadline: Option<Duration>, now: Duration) -> bool {
    deadline.is_none_or(|d| now < d)
}
