//! Reference solution for `first-step`.

// ANCHOR: solution
pub fn largest(items: &[u64]) -> Option<u64> {
    items.iter().copied().max()
}
// ANCHOR_END: solution
