//! Under Load, lab 02: a Redis-compatible server under three concurrency
//! models, sharing one command implementation.
//!
//! Real Redis tools work with it (`redis-cli`, `redis-benchmark`, client
//! libraries): it speaks RESP2, inline and multibulk, pipelined.
//!
//! # Module map
//!
//! The protocol and the data:
//! - [`resp`]: parsing requests (zero-copy, incremental, with Redis's
//!   limits and error texts) and client-side frames.
//! - [`reply`]: writing RESP2 replies into an output buffer.
//! - [`value`]: the Redis values (strings, lists, hashes, sets, sorted sets).
//! - [`db`]: the keyspace a command sees: one lab-01 shard plus the hasher.
//! - [`cmd`]: the command table and every command, written once for all
//!   models.
//!
//! The server:
//! - [`config`]: every setting, from the command line or code.
//! - [`conn`]: one connection's buffers and the request loop all models share.
//! - [`route`]: splitting multi-key commands across shards or cores, and
//!   merging the replies.
//! - [`models`]: the three concurrency models ([`models::event_loop`],
//!   [`models::tasks`], [`models::per_core`]).
//! - [`aof`]: the append-only file, its fsync policies and group commit,
//!   and replay at start-up.
//! - [`server`]: start, observe and stop a server, whatever its model.
//!
//! Around it:
//! - [`client`]: a small blocking RESP client (tests, measurements).
//! - [`measure`]: the chapter's experiments, for the results pipeline.
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
pub mod measure;
pub mod models;
pub mod reply;
pub mod resp;
pub mod route;
pub mod server;
pub mod shared;
pub mod value;

/// Logs to stderr; `RUST_LOG` overrides the default level (`info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
