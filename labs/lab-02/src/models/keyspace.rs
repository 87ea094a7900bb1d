//! The keyspace a model starts from, and the two ways a model's commands
//! reach it: stores a thread owns outright ([`OwnedParts`]) or lab-01's
//! sharded cache behind its locks ([`LockedParts`]). Built before the model
//! starts, so the append-only file can be replayed into it.

use std::hash::BuildHasher;
use std::sync::Arc;

use anyhow::Result;

use crate::aof::Aof;
use crate::cmd::{self, Log, Spec};
use crate::config::{Config, Model};
use crate::db::{self, Db, Hasher, SharedStore, Store};
use crate::route::{self, Shards};

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
                let mut parts = OwnedParts::new(stores, hasher, None, Log::new(false));
                route::dispatch(&mut parts, spec, args, &mut out);
            }
            Keyspace::Locked(cache) => {
                let mut parts = LockedParts::new(cache, None, Log::new(false));
                route::dispatch(&mut parts, spec, args, &mut out);
            }
        }
        Ok(())
    }
}

/// Which of `n` owned parts holds a key (thread-per-core's routing).
pub fn part_of(hasher: &Hasher, key: &[u8], n: usize) -> usize {
    if n == 1 {
        0
    } else {
        ((hasher.hash_one(key) >> 32) as usize) % n
    }
}

/// Parts owned by this thread: no locks.
pub struct OwnedParts<'a> {
    stores: &'a mut [Store],
    hasher: &'a Hasher,
    aof: Option<&'a Aof>,
    log: Log,
    /// Where the last record appended ends, for [`Aof::flush`].
    pub logged_upto: u64,
}

impl<'a> OwnedParts<'a> {
    pub fn new(
        stores: &'a mut [Store],
        hasher: &'a Hasher,
        aof: Option<&'a Aof>,
        log: Log,
    ) -> Self {
        Self {
            stores,
            hasher,
            aof,
            log,
            logged_upto: 0,
        }
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
        cmd::execute(&mut db, spec, args, out, &mut self.log);
        if !self.log.is_empty() {
            if let Some(aof) = self.aof {
                self.logged_upto = aof.append(self.log.bytes());
            }
            self.log.clear();
        }
    }
}

/// lab-01's shards behind their locks.
pub struct LockedParts<'a> {
    cache: &'a SharedStore,
    aof: Option<&'a Aof>,
    log: Log,
    pub logged_upto: u64,
}

impl<'a> LockedParts<'a> {
    pub fn new(cache: &'a SharedStore, aof: Option<&'a Aof>, log: Log) -> Self {
        Self {
            cache,
            aof,
            log,
            logged_upto: 0,
        }
    }
}

impl Shards for LockedParts<'_> {
    fn count(&self) -> usize {
        self.cache.shard_count()
    }

    fn owner(&self, key: &[u8]) -> usize {
        self.cache.shard_of(key)
    }

    fn run(&mut self, part: usize, spec: &'static Spec, args: &[&[u8]], out: &mut Vec<u8>) {
        let hasher = self.cache.hasher();
        let whole = self.cache.shard_count() == 1;
        let log = &mut self.log;
        let aof = self.aof;
        let mut upto = None;
        self.cache.with_shard(part, |shard: &mut Store| {
            let mut db = if whole {
                Db::new(shard, hasher)
            } else {
                Db::part(shard, hasher)
            };
            cmd::execute(&mut db, spec, args, out, log);
            // Logged while the shard is still locked: see aof.rs, Ordering.
            if !log.is_empty() {
                if let Some(aof) = aof {
                    upto = Some(aof.append(log.bytes()));
                }
                log.clear();
            }
        });
        if let Some(u) = upto {
            self.logged_upto = u;
        }
    }
}
