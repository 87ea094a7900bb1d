//! Types the exercises share with their tests, written once: the starters
//! and the reference solutions (swapped in by the `solution` feature)
//! both use them from here.

use std::sync::atomic::{AtomicU64, Ordering};

/// One raw sample (or several identical ones), as a sampler records it.
#[derive(Debug, Clone)]
pub struct RawSample {
    pub thread: String,
    /// Leaf first; each frame's functions innermost first.
    pub frames: Vec<Vec<String>>,
    pub count: u64,
}

/// Comparisons of client ids so far (the test reads it).
pub static COMPARISONS: AtomicU64 = AtomicU64::new(0);

/// A client id whose comparisons are counted.
#[derive(Debug, Clone, Copy)]
pub struct ClientId(pub u32);

impl std::hash::Hash for ClientId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for ClientId {
    fn eq(&self, other: &Self) -> bool {
        COMPARISONS.fetch_add(1, Ordering::Relaxed);
        self.0 == other.0
    }
}

impl Eq for ClientId {}

impl PartialOrd for ClientId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ClientId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        COMPARISONS.fetch_add(1, Ordering::Relaxed);
        self.0.cmp(&other.0)
    }
}
