//! # Exercise 1: pick a shard
//!
//! A sharded cache hashes each key once and uses that hash twice: to choose
//! the shard, and (inside the shard) to find the key's slot in the hash
//! table. The two uses must not step on each other.
//!
//! The tables inside the shards are hashbrown tables. Hashbrown stores the
//! **top 7 bits** of each hash as a tag in a control byte, and uses the
//! **low bits** to choose the bucket. If the shard came from the top bits,
//! every key in a shard would share its tag bits, and lookups would compare
//! more false candidates; if it came from the low bits, every key in a
//! shard would share its bucket bits, and the table would fill unevenly.
//!
//! Your task: implement [`shard_index`] so that it returns the shard for
//! `hash` when there are `shards` shards (a power of two, at most 2^16),
//! taking the `log2(shards)` bits that sit **just below the top seven**:
//! bits `57 - log2(shards)` up to (not including) bit 57.
//!
//! - With 1 shard, every hash goes to shard 0.
//! - The result is always below `shards`.
//! - Changing the top 7 bits, or the low 32 bits, never changes the shard.
//!
//! Check it with `cargo xtask exercise check lab-01 shard-index`.

/// The shard (in `0..shards`) for `hash`. `shards` is a power of two.
pub fn shard_index(hash: u64, shards: usize) -> usize {
    let _ = (hash, shards);
    todo!("exercise shard-index: take the log2(shards) bits just below the top 7 bits of hash")
}
