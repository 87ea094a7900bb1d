//! How a cache is configured, and the errors a bad configuration produces.

use std::fmt;
use std::sync::Arc;

use crate::clock::{Clock, SystemClock};

/// The most shards a cache may have. The shard index is taken from 16 hash
/// bits at most (see `sharded::shard_index`), and beyond a few hundred
/// shards the per-shard overhead outweighs any contention it removes.
pub const MAX_SHARDS: usize = 1 << 16;

/// Settings shared by every implementation.
#[derive(Clone)]
pub struct CacheConfig {
    /// The most keys the cache holds; `None` means unbounded.
    ///
    /// The bound is enforced per shard, as `capacity / shards` keys each
    /// (rounded down), because a global count would be one more shared
    /// cache line that every insert writes. So the total never exceeds
    /// `capacity`, but a sharded cache whose keys land unevenly may start
    /// evicting a little before it holds `capacity` keys in total.
    pub capacity: Option<usize>,
    /// How many shards the sharded implementations use: a power of two.
    /// The single-lock implementations ignore it (they are one shard).
    pub shards: usize,
    /// How many keys eviction samples before it evicts the least recently
    /// used of them. Redis uses 5 by default: enough to be close to true LRU
    /// on most workloads, cheap enough to do on every insert.
    pub eviction_samples: usize,
    /// Where TTLs and LRU stamps read the time.
    pub clock: Arc<dyn Clock>,
}

impl CacheConfig {
    pub fn new() -> Self {
        Self {
            capacity: None,
            shards: 64,
            eviction_samples: 5,
            clock: Arc::new(SystemClock::new()),
        }
    }

    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards;
        self
    }

    pub fn eviction_samples(mut self, samples: usize) -> Self {
        self.eviction_samples = samples;
        self
    }

    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Checks the settings for `shards` shards and returns the per-shard
    /// capacity.
    pub(crate) fn validate(&self, shards: usize) -> Result<Option<usize>, CacheError> {
        if shards == 0 || !shards.is_power_of_two() {
            return Err(CacheError::ShardsNotPowerOfTwo(shards));
        }
        if shards > MAX_SHARDS {
            return Err(CacheError::TooManyShards(shards));
        }
        if self.eviction_samples == 0 {
            return Err(CacheError::NoEvictionSamples);
        }
        match self.capacity {
            None => Ok(None),
            Some(capacity) if capacity < shards => {
                Err(CacheError::CapacityBelowShards { capacity, shards })
            }
            Some(capacity) => Ok(Some(capacity / shards)),
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheConfig")
            .field("capacity", &self.capacity)
            .field("shards", &self.shards)
            .field("eviction_samples", &self.eviction_samples)
            .field("clock", &self.clock)
            .finish()
    }
}

/// Why a cache could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    #[error("shard count must be a power of two (1, 2, 4, …), got {0}")]
    ShardsNotPowerOfTwo(usize),
    #[error("shard count must be at most {MAX_SHARDS}, got {0}")]
    TooManyShards(usize),
    #[error(
        "capacity {capacity} is smaller than the shard count {shards}: \
         each shard must be able to hold at least one key"
    )]
    CapacityBelowShards { capacity: usize, shards: usize },
    #[error("eviction must sample at least one key")]
    NoEvictionSamples,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_explains_itself() {
        let c = CacheConfig::new();
        assert_eq!(c.validate(3), Err(CacheError::ShardsNotPowerOfTwo(3)));
        assert_eq!(c.validate(0), Err(CacheError::ShardsNotPowerOfTwo(0)));
        assert_eq!(
            c.validate(MAX_SHARDS * 2),
            Err(CacheError::TooManyShards(MAX_SHARDS * 2))
        );
        assert_eq!(c.clone().capacity(100).validate(8), Ok(Some(12)));
        assert_eq!(
            c.clone().capacity(4).validate(8),
            Err(CacheError::CapacityBelowShards {
                capacity: 4,
                shards: 8
            })
        );
        assert_eq!(
            c.eviction_samples(0).validate(1),
            Err(CacheError::NoEvictionSamples)
        );
    }
}
