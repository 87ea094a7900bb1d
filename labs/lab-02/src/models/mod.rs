//! The three concurrency models, and the keyspace each starts from.
//!
//! - [`event_loop`]: one thread, one mio readiness loop, one store.
//! - [`tasks`]: tokio's multi-threaded runtime, a task per connection,
//!   lab-01's sharded cache.
//! - [`per_core`]: a single-threaded runtime per core, each owning a part of
//!   the keyspace; commands for another core's keys travel by message.

pub mod event_loop;
pub mod per_core;
pub mod tasks;

use std::hash::BuildHasher;
use std::sync::Arc;

use std::time::Instant;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::aof::Aof;
use crate::cmd::{self, Spec};
use crate::config::{Config, Model};
use crate::conn::{self, Conn, Next, READ_CHUNK};
use crate::db::{self, Db, Hasher, SharedStore, Store};
use crate::route::{self, Shards};
use crate::server::Shared;

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
    pub fn replay(&mut self, args: &[&[u8]]) {
        let Some(spec) = cmd::lookup(args[0]) else {
            tracing::warn!(
                "append-only file: skipping unknown command {:?}",
                String::from_utf8_lossy(args[0])
            );
            return;
        };
        if !cmd::arity_ok(spec, args.len()) || spec.route == cmd::Route::Server {
            return;
        }
        let mut out = Vec::new();
        match self {
            Keyspace::Owned { stores, hasher } => {
                let mut parts = OwnedParts::new(stores, hasher, None);
                route::dispatch(&mut parts, spec, args, &mut out);
            }
            Keyspace::Locked(cache) => {
                let mut parts = LockedParts::new(cache, None);
                route::dispatch(&mut parts, spec, args, &mut out);
            }
        }
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
    log: Vec<u8>,
    /// Where the last record appended ends, for [`Aof::flush`].
    pub logged_upto: u64,
}

impl<'a> OwnedParts<'a> {
    pub fn new(stores: &'a mut [Store], hasher: &'a Hasher, aof: Option<&'a Aof>) -> Self {
        Self {
            stores,
            hasher,
            aof,
            log: Vec::new(),
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
                self.logged_upto = aof.append(&self.log);
            }
            self.log.clear();
        }
    }
}

/// lab-01's shards behind their locks.
pub struct LockedParts<'a> {
    cache: &'a SharedStore,
    aof: Option<&'a Aof>,
    log: Vec<u8>,
    pub logged_upto: u64,
}

impl<'a> LockedParts<'a> {
    pub fn new(cache: &'a SharedStore, aof: Option<&'a Aof>) -> Self {
        Self {
            cache,
            aof,
            log: Vec::new(),
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
                    upto = Some(aof.append(log));
                }
                log.clear();
            }
        });
        if let Some(u) = upto {
            self.logged_upto = u;
        }
    }
}

/// How a tokio model runs one batch: every complete request in a
/// connection's input, replies into its output.
pub(crate) trait Batch {
    /// Returns what to do next, and where this connection's log records
    /// end in the append-only file (0: none yet).
    fn run(&mut self, conn: &mut Conn) -> impl Future<Output = (Next, u64)>;
}

/// The next connection the server admits, for both tokio models: a failed
/// `accept` (out of file descriptors, say) is logged and retried after a
/// pause rather than ending the server, and a connection over
/// `maxclients` gets Redis's error and is closed. `None` once `stop` fires.
pub(crate) async fn accept_admitted(
    listener: &tokio::net::TcpListener,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
) -> Option<(TcpStream, std::net::SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return None,
        };
        let (mut stream, addr) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        if !shared.admit() {
            tokio::spawn(async move {
                let _ = stream.write_all(crate::server::MAX_CLIENTS_REPLY).await;
            });
            continue;
        }
        let _ = stream.set_nodelay(true);
        return Some((stream, addr));
    }
}

// ANCHOR: async-connection
/// The connection loop both tokio models share: run a batch, make its
/// writes durable, reply, then read more (or stop).
pub(crate) async fn serve_async(
    stream: &mut TcpStream,
    conn: &mut Conn,
    shared: &Shared,
    batch: &mut impl Batch,
    mut stop: watch::Receiver<bool>,
) {
    let limits = shared.config.limits();
    let query_limit = shared.config.client_query_buffer_limit;
    let idle = shared.config.idle_timeout();
    loop {
        let (next, logged) = batch.run(conn).await;
        if next == Next::Shutdown {
            shared.shutdown.trigger();
        }
        // Durable before acknowledged.
        if let Some(aof) = &shared.aof
            && logged > 0
            && let Err(e) = aof.durable(logged).await
        {
            tracing::error!(
                "append-only file write failed; closing {}: {e}",
                conn.session.addr
            );
            return;
        }
        if conn.pending_output() > 0 {
            if stream
                .write_all(&conn.output[conn.output_start..])
                .await
                .is_err()
            {
                return;
            }
            let n = conn.pending_output();
            conn.sent(n);
        }
        if conn.closing || *stop.borrow() {
            return;
        }
        if conn::input_over_limit(conn, query_limit) {
            tracing::warn!(
                "closing client {}: query buffer over the limit",
                conn.session.addr
            );
            return;
        }
        if conn.pending_input() > 0 && conn::has_complete_request(conn, &limits) {
            // Output backed up mid-pipeline; now it is sent, go on.
            continue;
        }
        conn.shrink_input();
        conn.compact_input();
        // At most one chunk per read, as the event loop does, so the query
        // buffer limit is checked between reads whatever the client sends.
        conn.input.reserve(READ_CHUNK);
        let read = async {
            let mut chunk = (&mut *stream).take(READ_CHUNK as u64);
            let read = chunk.read_buf(&mut conn.input);
            match idle {
                Some(t) => tokio::time::timeout(t, read).await.unwrap_or(Ok(0)),
                None => read.await,
            }
        };
        let n = tokio::select! {
            r = read => r,
            _ = stop.changed() => return,
        };
        match n {
            Ok(0) | Err(_) => return,
            Ok(_) => conn.last_active = Instant::now(),
        }
    }
}
// ANCHOR_END: async-connection
