//! # Exercise 3: one lock for everything (reference solution)
//!
//! See the starter, `src/global_lock.rs`, for the task. This is lab-02's
//! `LockedParts` with the shards taken away: the same `Db`, the same
//! commands, the same routing, one `Mutex`.

use std::sync::{Mutex, PoisonError};

use lab_02::cmd::{self, Log, Spec};
use lab_02::db::{self, Db, Hasher, Store};
use lab_02::route::Shards;

/// The whole keyspace in one store, behind one lock.
pub struct GlobalLock {
    store: Mutex<Store>,
    hasher: Hasher,
}

// ANCHOR: solution
impl GlobalLock {
    /// An empty keyspace.
    pub fn new() -> Self {
        let hasher = Hasher::default();
        let store = db::new_store(&hasher, 1);
        Self {
            store: Mutex::new(store),
            hasher,
        }
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
pub struct GlobalParts<'a> {
    lock: &'a GlobalLock,
    /// What commands log for the append-only file; unused here.
    log: Log,
}

impl Shards for GlobalParts<'_> {
    fn count(&self) -> usize {
        1
    }

    fn owner(&self, _key: &[u8]) -> usize {
        0
    }

    fn run(&mut self, _part: usize, spec: &'static Spec, args: &[&[u8]], out: &mut Vec<u8>) {
        // A command that panicked half way cannot have left the store
        // unsound (it is safe Rust), at worst half updated, as a crash of
        // a real server would: keep serving.
        let mut store = self
            .lock
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut db = Db::new(&mut store, &self.lock.hasher);
        cmd::execute(&mut db, spec, args, out, &mut self.log);
        self.log.clear();
    }
}
// ANCHOR_END: solution
