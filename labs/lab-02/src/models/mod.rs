//! The three concurrency models, the keyspace each starts from, and the
//! async connection plumbing the two tokio models share.
//!
//! - [`event_loop`]: one thread, one mio readiness loop, one store.
//! - [`tasks`]: tokio's multi-threaded runtime, a task per connection,
//!   lab-01's sharded cache.
//! - [`per_core`]: a single-threaded runtime per core, each owning a part of
//!   the keyspace; commands for another core's keys travel by message.
//! - [`keyspace`]: the data, and how a model's commands reach it.
//! - [`tokio_conn`]: admitting, serving and draining connections on tokio.
//! - [`accept`]: what every model does when `accept` fails (out of
//!   descriptors): pause, retry by itself, log once per streak.
//!
//! The three models never import one another: what two of them share is
//! in `keyspace` or `tokio_conn`, so changing one model cannot break
//! another through a helper it happened to borrow.

pub mod accept;
pub mod event_loop;
pub mod keyspace;
pub mod per_core;
pub mod tasks;
pub mod tokio_conn;

pub use keyspace::{Keyspace, LockedParts, OwnedParts, part_of};
