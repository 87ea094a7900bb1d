//! The keyspace a model starts from, and the two ways a model's commands
//! reach it: stores a thread owns outright ([`OwnedParts`]) or lab-01's
//! sharded cache behind its locks ([`LockedParts`]). Built before the model
//! starts, so the append-only file can be replayed into it.
//!
//! A command whose keys live in several parts (RENAME, SMOVE, a
//! transaction) runs with all of those parts held at once ([`HeldParts`]):
//! the event loop holds everything anyway; task-per-connection locks the
//! shards it needs in ascending order, so two such commands cannot
//! deadlock; thread-per-core borrows the other cores' stores (see
//! `per_core`).

use std::sync::Arc;

use anyhow::Result;

use crate::aof::Aof;
use crate::cmd::{self, Log, Spec};
use crate::config::{Config, Model};
use crate::conn::Work;
use crate::db::{self, Db, Hasher, SharedStore, Store};
use crate::route::{self, Shards};
use crate::steps;
use crate::tx::Exec;
use crate::watch::Watches;

/// The data, built before the model starts so the append-only file can be
/// replayed into it.
pub enum Keyspace {
    /// Stores owned outright: one for the event loop, one per core for
    /// thread-per-core.
    Owned { stores: Vec<Store>, hasher: Hasher },
    /// lab-01's sharded cache (task-per-connection).
    Locked(Arc<SharedStore>),
}

impl Keyspace {
    pub fn new(config: &Config) -> Result<Self> {
        Ok(match config.model {
            Model::EventLoop | Model::ThreadPerCore => {
                let hasher = Hasher::default();
                let stores = (0..config.thread_count())
                    .map(|i| db::new_store(&hasher, i as u64 + 1))
                    .collect();
                Keyspace::Owned { stores, hasher }
            }
            Model::TaskPerConnection => Keyspace::Locked(db::new_shared_store(config.shards)?),
        })
    }

    /// Applies one command from the append-only file, logging nothing.
    /// Replays one logged command. A record this server cannot replay (an
    /// unknown command, a wrong number of arguments, a server command) is
    /// an error: skipping it would start without its data while reporting
    /// the file loaded, as Redis refuses to do.
    pub fn replay(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let name = String::from_utf8_lossy(args[0]);
        let Some(spec) = cmd::lookup(args[0]) else {
            return Err(format!("unknown command '{name}'"));
        };
        if !cmd::arity_ok(spec, args.len()) {
            return Err(format!(
                "wrong number of arguments for '{name}' ({} given)",
                args.len() - 1
            ));
        }
        if spec.route == cmd::Route::Server {
            return Err(format!("'{name}' is a server command, never logged"));
        }
        let mut out = Vec::new();
        match self {
            Keyspace::Owned { stores, hasher } => {
                let mut parts = OwnedParts::new(stores, hasher, None, Log::new(false), None);
                route::dispatch(&mut parts, spec, args, &mut out);
            }
            Keyspace::Locked(cache) => {
                let mut parts = LockedParts::new(cache, None, Log::new(false), None);
                route::dispatch(&mut parts, spec, args, &mut out);
            }
        }
        Ok(())
    }
}

/// Which of `n` owned parts holds a key (thread-per-core's routing), by
/// its hash tag if it has one ([`db::routing_bytes`]).
pub fn part_of(hasher: &Hasher, key: &[u8], n: usize) -> usize {
    db::part_for(hasher, owned_pick, key, n)
}

/// [`part_of`] from the key's hash.
pub fn owned_pick(hash: u64, n: usize) -> usize {
    if n == 1 {
        0
    } else {
        ((hash >> 32) as usize) % n
    }
}

/// Runs one command on `db` and files what it wrote: the append-only
/// file's record (while the part is still held: see aof.rs, Ordering) and
/// the watched keys it changed. Returns where the record ends in the file.
pub(crate) fn run_logged(
    db: &mut Db<'_>,
    spec: &'static Spec,
    args: &[&[u8]],
    out: &mut Vec<u8>,
    log: &mut Log,
    aof: Option<&Aof>,
    watches: Option<&Watches>,
) -> Option<u64> {
    log.clear();
    log.watching(watches.is_some_and(Watches::active));
    let start = out.len();
    cmd::execute(db, spec, args, out, log);
    if db.misrouted() {
        // A routing bug: say so rather than answer from a part not held.
        tracing::error!(
            "{}: a key outside the parts held (a routing bug)",
            spec.name
        );
        out.truncate(start);
        crate::reply::error(out, "ERR internal: a key outside the parts held");
        log.clear();
        return None;
    }
    if log.is_empty() {
        return None;
    }
    if let Some(w) = watches {
        w.wrote(spec, args);
    }
    let upto = match aof {
        Some(aof) if log.is_on() => Some(aof.append(log.bytes())),
        _ => None,
    };
    log.clear();
    upto
}

/// Parts owned by this thread: no locks.
pub struct OwnedParts<'a> {
    stores: &'a mut [Store],
    hasher: &'a Hasher,
    aof: Option<&'a Aof>,
    log: Log,
    watches: Option<&'a Watches>,
    /// Where the last record appended ends, for [`Aof::flush`].
    pub logged_upto: u64,
}

impl<'a> OwnedParts<'a> {
    pub fn new(
        stores: &'a mut [Store],
        hasher: &'a Hasher,
        aof: Option<&'a Aof>,
        log: Log,
        watches: Option<&'a Watches>,
    ) -> Self {
        Self {
            stores,
            hasher,
            aof,
            log,
            watches,
            logged_upto: 0,
        }
    }

    /// Runs what the request loop asks, at once.
    pub fn work(&mut self, work: Work<'_, '_>, out: &mut Vec<u8>) {
        match work {
            Work::Command(spec, args) => route::dispatch(self, spec, args, out),
            Work::Exec(mut exec) => {
                let ran = self.exec(&mut exec);
                exec.finish(ran, out);
            }
        }
    }

    /// Runs a transaction: every part is this thread's, so it is atomic
    /// by construction.
    pub fn exec(&mut self, exec: &mut Exec) -> bool {
        let count = self.stores.len();
        let parts = self.stores.iter_mut().enumerate().collect();
        let mut held = HeldParts::new(parts, count, owned_pick, self.hasher);
        held.aof = self.aof;
        held.watches = self.watches;
        held.log = std::mem::take(&mut self.log);
        let ran = exec.run(&mut held);
        self.logged_upto = self.logged_upto.max(held.logged_upto);
        self.log = held.log;
        ran
    }
}

impl Shards for OwnedParts<'_> {
    fn count(&self) -> usize {
        self.stores.len()
    }

    fn owner(&self, key: &[u8]) -> usize {
        part_of(self.hasher, key, self.stores.len())
    }

    fn run(&mut self, part: usize, spec: &'static Spec, args: &[&[u8]], out: &mut Vec<u8>) {
        let whole = self.stores.len() == 1;
        let store = &mut self.stores[part];
        let mut db = if whole {
            Db::new(store, self.hasher)
        } else {
            Db::part(store, self.hasher)
        };
        let logged = run_logged(
            &mut db,
            spec,
            args,
            out,
            &mut self.log,
            self.aof,
            self.watches,
        );
        if let Some(u) = logged {
            self.logged_upto = u;
        }
    }

    fn run_span(
        &mut self,
        parts: &[usize],
        spec: &'static Spec,
        args: &[&[u8]],
        out: &mut Vec<u8>,
    ) {
        let count = self.stores.len();
        let held = self
            .stores
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| parts.contains(i))
            .collect();
        let mut db = Db::span(held, count, owned_pick, self.hasher);
        let logged = run_logged(
            &mut db,
            spec,
            args,
            out,
            &mut self.log,
            self.aof,
            self.watches,
        );
        if let Some(u) = logged {
            self.logged_upto = u;
        }
    }
}

/// lab-01's shards behind their locks.
pub struct LockedParts<'a> {
    cache: &'a SharedStore,
    aof: Option<&'a Aof>,
    log: Log,
    watches: Option<&'a Watches>,
    pub logged_upto: u64,
    /// The connection whose task runs these commands, if a recording
    /// should see them (lab-07; see `steps`).
    pub task: Option<u64>,
}

impl<'a> LockedParts<'a> {
    pub fn new(
        cache: &'a SharedStore,
        aof: Option<&'a Aof>,
        log: Log,
        watches: Option<&'a Watches>,
    ) -> Self {
        Self {
            cache,
            aof,
            log,
            watches,
            logged_upto: 0,
            task: None,
        }
    }

    /// Locks `parts` (ascending, no repeats) and runs `f` on them, with
    /// this connection's log and append-only file.
    fn with_parts<R>(&mut self, parts: &[usize], f: impl FnOnce(&mut HeldParts<'_>) -> R) -> R {
        let cache = self.cache;
        let (aof, watches) = (self.aof, self.watches);
        let log = &mut self.log;
        let mut upto = 0;
        let mut f = Some(f);
        let mut result = None;
        lock_in_order(cache, parts, Vec::new(), &mut |held| {
            let count = cache.shard_count();
            let mut h = HeldParts::new(held, count, lab_01::shard_index, cache.hasher());
            h.aof = aof;
            h.watches = watches;
            h.log = std::mem::take(log);
            if let Some(f) = f.take() {
                result = Some(f(&mut h));
            }
            *log = std::mem::take(&mut h.log);
            upto = h.logged_upto;
        });
        self.logged_upto = self.logged_upto.max(upto);
        // `lock_in_order` calls the closure exactly once.
        result.unwrap_or_else(|| unreachable!("lock_in_order ran nothing"))
    }

    /// Runs what the request loop asks, at once.
    pub fn work(&mut self, work: Work<'_, '_>, out: &mut Vec<u8>) {
        let command = match &work {
            Work::Command(spec, args) => Some((*spec, *args)),
            Work::Exec(_) => None,
        };
        match work {
            Work::Command(spec, args) => route::dispatch(self, spec, args, out),
            Work::Exec(mut exec) => {
                let ran = self.exec(&mut exec);
                exec.finish(ran, out);
            }
        }
        if let Some(task) = self.task {
            // Which shard's lock a one-key command took, worked out
            // again only while a recording is on.
            let shard = || {
                command
                    .filter(|(spec, _)| spec.route == cmd::Route::Key)
                    .map(|(spec, args)| locked_owner(self.cache, spec.routing_key(args)))
            };
            tracing::trace!(
                target: steps::TARGET,
                lane = %format_args!("task {task}"),
                lane_kind = "task",
                kind = command.map_or("data", |(spec, _)| steps::command_kind(spec)),
                label = %format_args!(
                    "runs {} for conn {task}{}",
                    command.map_or(steps::Command(&[b"EXEC"]), |(_, args)| steps::Command(args)),
                    shard().map(|s| format!(" under shard {s}'s lock")).unwrap_or_default()
                ),
                conn = task,
                worker = %steps::worker(),
            );
        }
    }

    // ANCHOR: exec-locked
    /// Runs a transaction with every shard it touches locked, in
    /// ascending order (every client takes them in the same order, so no
    /// two can wait for each other), for the length of the transaction.
    pub fn exec(&mut self, exec: &mut Exec) -> bool {
        let cache = self.cache;
        let parts = exec.parts(cache.shard_count(), |k| locked_owner(cache, k));
        if let Some(w) = self.watches {
            w.exec_needed(parts.len());
        }
        self.with_parts(&parts, |held| exec.run(held))
    }
    // ANCHOR_END: exec-locked
}

/// Which of lab-01's shards holds `key`: lab-01's rule on the hash of
/// its hash tag, if it has one ([`db::routing_bytes`]).
fn locked_owner(cache: &SharedStore, key: &[u8]) -> usize {
    db::part_for(
        cache.hasher(),
        lab_01::shard_index,
        key,
        cache.shard_count(),
    )
}

/// Parts held at once: `(part number, its store)`.
type Held<'s> = Vec<(usize, &'s mut Store)>;

/// Locks `rest` one after the other (each inside the last), then calls
/// `f` with every store held. Recursion keeps each lock's guard alive
/// until `f` returns.
fn lock_in_order<'s>(
    cache: &SharedStore,
    rest: &[usize],
    held: Held<'s>,
    f: &mut dyn FnMut(Held<'_>),
) {
    match rest.split_first() {
        None => f(held),
        Some((&part, rest)) => cache.with_shard(part, |store: &mut Store| {
            let mut held: Held<'_> = held;
            held.push((part, store));
            lock_in_order(cache, rest, held, f);
        }),
    }
}

impl Shards for LockedParts<'_> {
    fn count(&self) -> usize {
        self.cache.shard_count()
    }

    fn owner(&self, key: &[u8]) -> usize {
        locked_owner(self.cache, key)
    }

    fn run(&mut self, part: usize, spec: &'static Spec, args: &[&[u8]], out: &mut Vec<u8>) {
        let hasher = self.cache.hasher();
        let whole = self.cache.shard_count() == 1;
        let (log, aof, watches) = (&mut self.log, self.aof, self.watches);
        let logged = self.cache.with_shard(part, |shard: &mut Store| {
            let mut db = if whole {
                Db::new(shard, hasher)
            } else {
                Db::part(shard, hasher)
            };
            run_logged(&mut db, spec, args, out, log, aof, watches)
        });
        if let Some(u) = logged {
            self.logged_upto = u;
        }
    }

    fn run_span(
        &mut self,
        parts: &[usize],
        spec: &'static Spec,
        args: &[&[u8]],
        out: &mut Vec<u8>,
    ) {
        self.with_parts(parts, |held| held.run_span(parts, spec, args, out));
    }
}

/// Parts of a split keyspace held at once, by whatever means (owned,
/// locked, or borrowed from other cores): runs commands on them as
/// [`route::dispatch`] asks.
pub struct HeldParts<'a> {
    parts: Vec<(usize, &'a mut Store)>,
    count: usize,
    pick: db::Pick,
    hasher: &'a Hasher,
    pub aof: Option<&'a Aof>,
    pub watches: Option<&'a Watches>,
    pub log: Log,
    pub logged_upto: u64,
}

impl<'a> HeldParts<'a> {
    /// `parts` out of `count`, with the rule that picks a key's part.
    pub fn new(
        parts: Vec<(usize, &'a mut Store)>,
        count: usize,
        pick: db::Pick,
        hasher: &'a Hasher,
    ) -> Self {
        Self {
            parts,
            count,
            pick,
            hasher,
            aof: None,
            watches: None,
            log: Log::new(false),
            logged_upto: 0,
        }
    }

    /// The stores, to give back (thread-per-core returns borrowed ones).
    pub fn into_parts(self) -> Vec<(usize, &'a mut Store)> {
        self.parts
    }
}

impl Shards for HeldParts<'_> {
    fn count(&self) -> usize {
        self.count
    }

    fn owner(&self, key: &[u8]) -> usize {
        db::part_for(self.hasher, self.pick, key, self.count)
    }

    fn run(&mut self, part: usize, spec: &'static Spec, args: &[&[u8]], out: &mut Vec<u8>) {
        self.run_span(&[part], spec, args, out);
    }

    fn run_span(
        &mut self,
        parts: &[usize],
        spec: &'static Spec,
        args: &[&[u8]],
        out: &mut Vec<u8>,
    ) {
        let whole = self.count == 1;
        let mut db = match (whole, parts) {
            (true, _) | (false, [_]) => {
                let Some((_, store)) = self.parts.iter_mut().find(|(p, _)| parts.contains(p))
                else {
                    crate::reply::error(out, "ERR internal: a part the command needs is not held");
                    return;
                };
                if whole {
                    Db::new(store, self.hasher)
                } else {
                    Db::part(store, self.hasher)
                }
            }
            _ => {
                let held = self
                    .parts
                    .iter_mut()
                    .filter(|(p, _)| parts.contains(p))
                    .map(|(p, s)| (*p, &mut **s))
                    .collect();
                Db::span(held, self.count, self.pick, self.hasher)
            }
        };
        let logged = run_logged(
            &mut db,
            spec,
            args,
            out,
            &mut self.log,
            self.aof,
            self.watches,
        );
        if let Some(u) = logged {
            self.logged_upto = u;
        }
    }
}
