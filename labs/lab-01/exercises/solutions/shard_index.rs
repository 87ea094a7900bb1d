//! # Exercise 1: pick a shard (reference solution)
//!
//! See the starter, `src/shard_index.rs`, for the task.

/// The shard (in `0..shards`) for `hash`. `shards` is a power of two.
// ANCHOR: solution
pub fn shard_index(hash: u64, shards: usize) -> usize {
    debug_assert!(shards.is_power_of_two() && shards <= 1 << 16);
    // log2 of a power of two is its number of trailing zeros.
    let bits = shards.trailing_zeros();
    // Shift the wanted bits down to the bottom, then keep only them. With
    // one shard the mask is 0, so the shift amount (57) does not matter.
    ((hash >> (57 - bits)) as usize) & (shards - 1)
}
// ANCHOR_END: solution
