//! # Exercise 3: one lock for everything, then measure
//!
//! lab-02's task-per-connection model runs every command through the
//! [`Shards`] trait: how many parts the keyspace has (`count`), which part
//! holds a key (`owner`), and "run this command on that part" (`run`).
//! `lab_02::route::dispatch` does the rest: a one-key command goes to its
//! key's owner, `MGET a b` becomes one `GET` per part and the replies are
//! merged. Behind the trait sits lab-01's sharded cache
//! (`lab_02::models::LockedParts`): 64 stores, each behind its own lock.
//!
//! Before believing that the shards matter, build the simplest thing that
//! could work and measure it: one store behind one `Mutex`.
//!
//! Your task:
//!
//! - [`GlobalLock::new`]: the hasher, and one empty store made with it
//!   (`lab_02::db::new_store(&hasher, seed)`, any seed), behind a `Mutex`.
//! - `impl Shards for GlobalParts`: one part, so `count` is 1 and `owner`
//!   is 0 for every key. `run` locks the store, wraps it in a
//!   `lab_02::db::Db` (`Db::new`: the store holds the whole keyspace) and
//!   calls `lab_02::cmd::execute` with a log buffer. Nobody reads the log
//!   here (there is no append-only file): clear it after each command so
//!   it does not grow.
//! - A thread that panics while holding the lock poisons it; the store is
//!   still usable, so recover it (`PoisonError::into_inner`) rather than
//!   make every later command panic too.
//!
//! Each thread makes its own [`GlobalParts`] with [`GlobalLock::parts`]:
//! `Shards::run` takes `&mut self`, and the log buffer is per thread.
//!
//! Where to look: `labs/lab-02/src/route.rs` (`Shards`, `dispatch`),
//! `labs/lab-02/src/db.rs` (`new_store`, `Db::new`) and
//! `labs/lab-02/src/cmd/mod.rs` (`execute`, `Log`).
//!
//! Check it with `cargo xtask exercise check lab-02 global-lock`, then
//! measure it beside lab-01's sharded cache:
//! `cargo run -p lab-02-exercises --release -- bench`.

use std::sync::Mutex;

use lab_02::cmd::{Log, Spec};
use lab_02::db::{Hasher, Store};
use lab_02::route::Shards;

/// The whole keyspace in one store, behind one lock.
#[allow(dead_code)] // The fields are yours to use.
pub struct GlobalLock {
    store: Mutex<Store>,
    hasher: Hasher,
}

impl GlobalLock {
    /// An empty keyspace.
    pub fn new() -> Self {
        todo!("exercise global-lock: make the hasher and one store behind a Mutex")
    }

    /// A handle for one thread to run commands with (`route::dispatch`).
    pub fn parts(&self) -> GlobalParts<'_> {
        GlobalParts {
            lock: self,
            log: Log::new(false),
        }
    }
}

impl Default for GlobalLock {
    fn default() -> Self {
        Self::new()
    }
}

/// One thread's view of a [`GlobalLock`]: the keyspace as a single part.
#[allow(dead_code)] // The fields are yours to use.
pub struct GlobalParts<'a> {
    lock: &'a GlobalLock,
    /// What commands log for the append-only file; unused here.
    log: Log,
}

impl Shards for GlobalParts<'_> {
    fn count(&self) -> usize {
        todo!("exercise global-lock: how many parts?")
    }

    fn owner(&self, key: &[u8]) -> usize {
        let _ = key;
        todo!("exercise global-lock: which part holds `key`?")
    }

    fn run(&mut self, part: usize, spec: &'static Spec, args: &[&[u8]], out: &mut Vec<u8>) {
        let _ = (part, spec, args, out);
        todo!("exercise global-lock: lock the store and execute the command on it")
    }
}
