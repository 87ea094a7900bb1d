//! Under Load, lab 02: a Redis-compatible server under three concurrency
//! models, sharing one command implementation.
//!
//! Real Redis tools work with it (`redis-cli`, `redis-benchmark`, client
//! libraries): it speaks RESP2 and, after `HELLO 3`, RESP3; inline and
//! multibulk, pipelined; with MULTI/EXEC transactions and WATCH.
//!
//! # Module map
//!
//! ## The component
//!
//! The protocol and the data:
//! - [`resp`]: RESP2 requests and client frames: the server's zero-copy,
//!   incremental request parser with Redis's limits and error texts, and the
//!   client's frames.
//! - [`reply`]: writing replies (in RESP2; see [`resp3`]) into an output
//!   buffer.
//! - [`value`]: the Redis values (strings, lists, hashes, sets, sorted sets).
//! - [`db`]: the keyspace a command sees: one lab-01 shard plus the hasher.
//! - [`cmd`]: the command table and every command, written once for all
//!   models.
//!
//! The server:
//! - [`config`]: every setting, from the command line or code, and the
//!   combinations refused.
//! - [`aof`]: the append-only file, its fsync policies and group commit,
//!   and replay at start-up.
//! - [`resp3`]: reshaping a reply for a connection that chose RESP3.
//! - [`watch`]: WATCH's table of watched keys and their versions.
//! - [`steps`]: the few `tracing` events Part VII's recorder replays
//!   (readiness, reads, commands, replies, hops), off when nobody records.
//! - [`shared`]: the state all of a server's threads see (settings,
//!   counters, shutdown signal, watched keys), below everything that runs
//!   connections.
//! - [`route`]: splitting multi-key commands across shards or cores, and
//!   merging the replies.
//! - [`tx`]: MULTI/EXEC/DISCARD/WATCH: a connection's queue, and running
//!   it on the parts of the keyspace it touches, held at once.
//! - [`conn`]: one connection's buffers and the request loop all models share.
//! - [`models`]: the three concurrency models ([`models::event_loop`],
//!   [`models::tasks`], [`models::per_core`]), which never import one
//!   another, plus the keyspace they start from and the tokio connection
//!   plumbing two of them share.
//! - [`server`]: start, observe and stop a server, whatever its model; the
//!   top of the stack.
//! - [`client`]: a small blocking RESP client, for tests, the measurements
//!   and later labs.
//! - [`launch`]: start lab-02 (or a real `redis-server`, or the seed's Go
//!   clone in `go/server`) as a child process and wait until it answers
//!   PING: the documented way later labs start it.
//!
//! The list is in dependency order: a module imports only modules listed
//! above it, so there are no import cycles.
//!
//! ## How it is measured
//!
//! - [`measure`]: the chapter's experiments (throughput, head-of-line
//!   blocking, durability cost, memory) run against this server and real
//!   Redis, for the results pipeline; it starts servers with [`launch`],
//!   drives them only through their sockets, and takes everything generic
//!   about measuring from the measurement kit (`ci/kit`). It also runs the
//!   seed's Go Redis clone (`go/server`, a goroutine per connection) and,
//!   for memory, a thread-per-connection baseline ([`measure::threads`])
//!   beside the models.
//!
//! # Commands
//!
//! ```text
//! cargo run -p lab-02 --release -- --model event-loop --port 6380
//! redis-cli -p 6380 set greeting hello
//! cargo run -p lab-02 --release -- measure --out target/lab-02.json [--quick]
//! cargo test -p lab-02
//! ```

pub mod aof;
pub mod client;
pub mod cmd;
pub mod config;
pub mod conn;
pub mod db;
pub mod launch;
pub mod measure;
pub mod models;
pub mod reply;
pub mod resp;
pub mod resp3;
pub mod route;
pub mod server;
pub mod shared;
pub mod steps;
pub mod tx;
pub mod value;
pub mod watch;

/// Logs to stderr; `RUST_LOG` overrides the default level (`info`).
pub fn init_tracing() {
    kit::cli::init_tracing("info");
}
