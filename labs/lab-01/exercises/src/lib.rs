//! Lab 01 exercises: build three pieces of a concurrent cache, then measure
//! yours beside the reference implementations.
//!
//! | exercise | file you edit | checked by |
//! |---|---|---|
//! | `shard-index`: pick a shard from a hash | `src/shard_index.rs` | `cargo xtask exercise check lab-01 shard-index` |
//! | `sharded-cache`: a map split over `Mutex` shards | `src/sharded_cache.rs` | `cargo xtask exercise check lab-01 sharded-cache` |
//! | `lazy-ttl`: keys that expire when touched | `src/lazy_ttl.rs` | `cargo xtask exercise check lab-01 lazy-ttl` |
//!
//! Each starter compiles and panics with `todo!()` until you fill it in.
//! The reference solutions live in `solutions/` and are built instead of
//! the starters with `--features solution`. `exercises.toml` lists the
//! exercises, their tests and hints for the automation.
//!
//! Once `sharded-cache` passes, `cargo run -p lab-01-exercises --release --
//! bench` measures it (as `yours`) in the same table as lab-01's caches;
//! [`harness`] is the glue that makes that work.

#[cfg_attr(feature = "solution", path = "../solutions/shard_index.rs")]
pub mod shard_index;

#[cfg_attr(feature = "solution", path = "../solutions/sharded_cache.rs")]
pub mod sharded_cache;

#[cfg_attr(feature = "solution", path = "../solutions/lazy_ttl.rs")]
pub mod lazy_ttl;

pub mod harness;
