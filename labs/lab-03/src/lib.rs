//! Under Load, lab 03: an honest load generator, and a target to test it on.
//!
//! It drives load over RESP (lab-02, any Redis) and HTTP/1.1, in an open
//! model (a fixed arrival rate, whatever the server does) or a closed one
//! (N connections, each waiting for its reply). It times every request from
//! when it *should* have started as well as from when it was sent, splits
//! the time into k6's phases, and watches itself, so that it says so when
//! the numbers describe the generator rather than the server.
//!
//! # Module map
//!
//! The component, the generator (read these first):
//! - [`schedule`]: intended start times for the open model (constant,
//!   Poisson), and the seedable generator the workloads draw from.
//! - [`workload`]: what a request says (a RESP command mix over a uniform or
//!   Zipf keyspace; a fixed HTTP request) and where a response ends.
//! - [`engine`]: the event loops that connect, send on schedule, read, and
//!   time each request.
//! - [`record`]: a request's timestamps, its phases, and the histograms and
//!   error counts a run keeps.
//! - [`selfcheck`]: the generator's verdict on itself (lag, loop turns,
//!   busy share, run-queue wait).
//! - [`summary`]: the table, JSON, HdrHistogram log and SVG plot of a run.
//! - [`cli`]: the command-line options, the safety rules (loopback only,
//!   bounded runs) and one function that runs a test end to end.
//!
//! - [`target`]: a small HTTP/1.1 server with a fixed delay, jitter, a
//!   periodic stall and a single-server queue, to aim the generator at.
//!
//! How it is measured (the harness; other labs never import it):
//! - [`measure`]: the chapter's experiments, for the results pipeline. It
//!   starts lab-02 through `lab_02::launch` and takes everything generic
//!   (processes, CPU accounting, medians, formats) from the measurement
//!   kit, `ci/kit`.
//!
//! # Commands
//!
//! ```text
//! cargo run -p lab-03 --release -- target --port 8080 --stall-every 10s --stall-for 1s
//! cargo run -p lab-03 --release -- http http://127.0.0.1:8080/ --rate 1000 -d 30s
//! cargo run -p lab-03 --release -- resp 127.0.0.1:6380 --mix set:get=1:9 -c 50 -d 10s
//! cargo run -p lab-03 --release -- measure --out target/lab-03.json [--quick]
//! ```

pub mod cli;
pub mod engine;
pub mod measure;
pub mod record;
pub mod schedule;
pub mod selfcheck;
pub mod summary;
pub mod target;
pub mod workload;
