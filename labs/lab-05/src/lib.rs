//! Under Load, lab 05: errors at the network edge.
//!
//! Go names a failed socket call with `*net.OpError` and leaves the caller
//! to work out what happened; this lab gives the failure a type, provokes
//! every kind of it for real on loopback, and builds a client that does the
//! right thing with each kind under load.
//!
//! # Module map
//!
//! The component (read these first):
//! - [`error`]: [`NetError`] (operation, peer, whether the request left,
//!   cause) and the [`Class`] a caller decides on.
//! - [`proxy`]: a fault-injecting TCP proxy (latency, bandwidth, resets,
//!   black holes, truncated replies, refused and stalled accepts), seeded,
//!   steerable at run time.
//! - [`client`]: a resilient RESP client: deadlines, retries that are safe,
//!   backoff with jitter, a retry budget, a circuit breaker, hedged reads,
//!   reconnection.
//! - [`provoke`]: every class of error provoked through a real socket, the
//!   rows of the chapter's table.
//! - [`scenario`]: fault plans, and one run of a client strategy under
//!   open-model load through the proxy to lab-02.
//!
//! How it is measured (the harness; other labs never import it):
//! - [`measure`]: the chapter's experiments (the taxonomy as observed, and
//!   the storm table: clients × faults under open-model load).
//! - `main.rs`: the command line: `proxy`, `provoke`, `scenario`, `measure`.
//!
//! # Commands
//!
//! ```text
//! cargo run -p lab-05 -- provoke
//! cargo run -p lab-05 --release -- proxy --listen 127.0.0.1:7000 --upstream 127.0.0.1:6380 --reset 0.01
//! cargo run -p lab-05 --release -- scenario resets-5
//! cargo run -p lab-05 --release -- measure --out target/lab-05.json [--quick]
//! ```

pub mod client;
pub mod error;
pub mod measure;
pub mod provoke;
pub mod proxy;
pub mod scenario;

pub use error::{Cause, Class, NetError, Op};
