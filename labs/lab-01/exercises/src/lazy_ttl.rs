//! # Exercise 3: lazy expiry
//!
//! Redis does not run a timer per key. A key with a time to live stores its
//! deadline, and whoever touches the key next checks it: an expired key is
//! treated as missing and removed on the spot. That is *lazy* expiry. (A
//! background sweep catches keys nobody touches; that is lab-01's
//! `expire_step`, not this exercise.)
//!
//! Your task: implement [`TtlMap::insert`], [`TtlMap::get`] and
//! [`TtlMap::ttl`]. Read the time only through `self.now()`, which asks the
//! map's [`Clock`]: the tests hand it a `ManualClock` and move time by hand.
//!
//! - `insert(key, value, Some(ttl))` stores the deadline `now + ttl`;
//!   `insert(key, value, None)` stores no deadline. Inserting replaces both
//!   the value and the deadline, and returns the old value if it was live.
//! - A key is live while `now < deadline`: at exactly its deadline it has
//!   expired.
//! - `get` never returns an expired value. When it finds one, it removes it
//!   from the map and adds one to `expired`.
//! - `ttl` answers like Redis' `PTTL`: `Missing` for a missing or expired
//!   key, `Persistent` for a key without a deadline, `Remaining(d)` with the
//!   time left otherwise.
//!
//! Where to look: `labs/lab-01/src/clock.rs` (the `Clock` trait and the
//! `ManualClock` the tests use) and `labs/lab-01/src/cache.rs` (`TtlState`,
//! the answer `ttl` gives).
//!
//! Check it with `cargo xtask exercise check lab-01 lazy-ttl`.

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

    /// Stores `value`, expiring after `ttl` if given. Returns the replaced
    /// value if it was live.
    pub fn insert(&mut self, key: K, value: V, ttl: Option<Duration>) -> Option<V> {
        let _ = (key, value, ttl);
        todo!("exercise lazy-ttl: store the value with its deadline")
    }

    /// The live value for `key`; removes the key if it has expired.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let _ = key;
        todo!("exercise lazy-ttl: check the deadline before returning the value")
    }

    /// Time to live of `key`.
    pub fn ttl(&self, key: &K) -> TtlState {
        let _ = key;
        todo!("exercise lazy-ttl: Missing, Persistent or Remaining")
    }
}
