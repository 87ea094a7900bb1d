//! `WATCH`'s bookkeeping: which keys some client watches, and a version
//! per watched key that every write to it bumps.
//!
//! A client's `WATCH k` records `k`'s version; its `EXEC` compares the
//! versions again while it holds every part of the keyspace the
//! transaction touches, and refuses to run (a null reply) if any moved.
//! A write bumps the versions of the keys it changed while it still holds
//! their part, so the comparison and the writes are ordered.
//!
//! Only watched keys are in the table, and a write looks at it only while
//! [`Watches::active`] says someone watches something: with no `WATCH` in
//! flight, a write pays one relaxed atomic load.
//!
//! One difference from Redis 7, said in Part II: a watched key that
//! *expires* between `WATCH` and `EXEC` without any command writing it
//! does not abort the transaction here (Redis aborts). Writes, deletes,
//! `FLUSHDB`/`FLUSHALL` and `EXPIRE`/`PERSIST` all do.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::cmd::Spec;

/// The server's table of watched keys.
#[derive(Debug, Default)]
pub struct Watches {
    /// How many keys are in `table` (each counted once, however many
    /// clients watch it).
    active: AtomicUsize,
    table: Mutex<Table>,
    /// EXECs whose keys lay in more than one part of a split keyspace, so
    /// that several shards were locked or several cores stopped for them:
    /// INFO's `lab02_spanning_execs`.
    pub spanning_execs: AtomicU64,
}

#[derive(Debug, Default)]
struct Table {
    /// Key → (version, how many clients watch it).
    keys: HashMap<Vec<u8>, (u64, usize)>,
    /// Bumped by `FLUSHDB`/`FLUSHALL`: every watched key changed.
    epoch: u64,
}

/// One key a client watches, and what it looked like then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub key: Vec<u8>,
    version: u64,
    epoch: u64,
}

impl Watches {
    /// Counts an EXEC that needed `parts` parts.
    pub fn exec_needed(&self, parts: usize) {
        if parts > 1 {
            self.spanning_execs.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether any client watches any key.
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts watching `key` for one client.
    pub fn watch(&self, key: &[u8]) -> Watched {
        let mut t = self.lock();
        let epoch = t.epoch;
        let entry = t.keys.entry(key.to_vec()).or_insert((0, 0));
        entry.1 += 1;
        let version = entry.0;
        self.active.store(t.keys.len(), Ordering::Relaxed);
        Watched {
            key: key.to_vec(),
            version,
            epoch,
        }
    }

    /// Stops watching every key in `list` for one client.
    pub fn unwatch(&self, list: &mut Vec<Watched>) {
        if list.is_empty() {
            return;
        }
        let mut t = self.lock();
        for w in list.drain(..) {
            if let Some(entry) = t.keys.get_mut(&w.key) {
                entry.1 -= 1;
                if entry.1 == 0 {
                    t.keys.remove(&w.key);
                }
            }
        }
        self.active.store(t.keys.len(), Ordering::Relaxed);
    }

    /// Whether none of `list` changed since it was watched. Call it while
    /// holding the parts of the keyspace that hold the keys.
    pub fn unchanged(&self, list: &[Watched]) -> bool {
        let t = self.lock();
        list.iter()
            .all(|w| w.epoch == t.epoch && t.keys.get(&w.key).is_some_and(|(v, _)| *v == w.version))
    }

    /// Records that the command `args` (described by `spec`) changed the
    /// keyspace: bumps the keys it wrote. Call it while holding the part
    /// the command ran on.
    pub fn wrote(&self, spec: &Spec, args: &[&[u8]]) {
        if !self.active() {
            return;
        }
        let mut t = self.lock();
        if spec.first_key == 0 {
            // FLUSHDB, FLUSHALL: every key changed.
            t.epoch += 1;
            return;
        }
        for key in written_keys(spec, args) {
            if let Some(entry) = t.keys.get_mut(key) {
                entry.0 += 1;
            }
        }
    }
}

/// The keys a write command changes: every key argument, except for the
/// commands that only read some of theirs (`COPY` reads its source, the
/// `…STORE` set commands read all but the destination).
pub fn written_keys<'a>(spec: &Spec, args: &[&'a [u8]]) -> Vec<&'a [u8]> {
    match spec.name {
        "copy" => args.get(2).copied().into_iter().collect(),
        "sinterstore" | "sunionstore" | "sdiffstore" => args.get(1).copied().into_iter().collect(),
        _ => key_args(spec, args),
    }
}

/// Every key argument of `args`, by the command's key positions.
pub fn key_args<'a>(spec: &Spec, args: &[&'a [u8]]) -> Vec<&'a [u8]> {
    if spec.first_key <= 0 {
        return Vec::new();
    }
    let first = spec.first_key as usize;
    let last = if spec.last_key < 0 {
        args.len()
            .saturating_sub(spec.last_key.unsigned_abs() as usize)
    } else {
        spec.last_key as usize
    };
    let step = spec.step.max(1) as usize;
    (first..=last.min(args.len().saturating_sub(1)))
        .step_by(step)
        .filter_map(|i| args.get(i).copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::lookup;

    #[test]
    fn a_write_to_a_watched_key_is_seen_and_others_are_not() {
        let w = Watches::default();
        assert!(!w.active());
        let mut mine = vec![w.watch(b"a"), w.watch(b"b")];
        assert!(w.active());
        let set = lookup(b"set").unwrap();
        w.wrote(set, &[b"set", b"c", b"1"]);
        assert!(w.unchanged(&mine));
        w.wrote(set, &[b"set", b"b", b"1"]);
        assert!(!w.unchanged(&mine));
        w.unwatch(&mut mine);
        assert!(!w.active() && mine.is_empty());
    }

    #[test]
    fn flush_changes_every_watched_key_and_counts_are_shared() {
        let w = Watches::default();
        let mut one = vec![w.watch(b"k")];
        let mut two = vec![w.watch(b"k")];
        w.unwatch(&mut one);
        assert!(w.active(), "the other client still watches k");
        w.wrote(lookup(b"flushall").unwrap(), &[b"flushall"]);
        assert!(!w.unchanged(&two));
        w.unwatch(&mut two);
        assert!(!w.active());
    }

    #[test]
    fn key_positions() {
        let mset = lookup(b"mset").unwrap();
        assert_eq!(
            key_args(mset, &[b"mset", b"a", b"1", b"b", b"2"]),
            vec![&b"a"[..], b"b"]
        );
        let del = lookup(b"del").unwrap();
        assert_eq!(key_args(del, &[b"del", b"a", b"b"]), vec![&b"a"[..], b"b"]);
        let get = lookup(b"get").unwrap();
        assert_eq!(key_args(get, &[b"get", b"a"]), vec![&b"a"[..]]);
    }
}
