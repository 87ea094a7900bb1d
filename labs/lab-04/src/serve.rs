//! lab-02 with a debug port: what `go tool pprof http://…` needs, for a
//! Rust server. In Go a server gains `/debug/pprof` by importing
//! `net/http/pprof`; in Rust the profiler is linked into the binary, so the
//! binary that serves is this lab's: `cargo run -p lab-04 --release --
//! serve --model task-per-connection --debug-addr 127.0.0.1:6060` runs
//! lab-02's server (every lab-02 option) plus [`crate::debug`].

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use lab_02::config::Config;

use crate::runtime::{Sources, TaskProfile};

/// The debug port's sources for a running lab-02: its published runtimes,
/// and its connection-task monitor when `--task-metrics` is on.
pub fn sources(shared: &Arc<lab_02::shared::Shared>) -> Sources {
    let s = shared.clone();
    Sources {
        runtimes: Some(Box::new(move || {
            s.runtimes
                .lock()
                .map(|r| r.clone())
                .unwrap_or_else(|p| p.into_inner().clone())
        })),
        tasks: shared.task_monitor.clone(),
        task_profile: None,
    }
}

// ANCHOR: serve
/// Starts lab-02 and, if asked, the debug port beside it; serves until
/// SIGINT or SIGTERM. Prints lab-02's ready line first (what
/// `lab_02::launch` waits for), then where the debug port listens.
pub fn serve(config: Config, debug_addr: Option<SocketAddr>) -> Result<()> {
    serve_with(config, debug_addr, None)
}

/// [`serve`], with a live task profile on the debug port (`/debug/tasks`)
/// when a later lab that tracks tasks provides one.
pub fn serve_with(
    config: Config,
    debug_addr: Option<SocketAddr>,
    task_profile: Option<TaskProfile>,
) -> Result<()> {
    let model = config.model;
    let server = lab_02::server::start(config)?;
    lab_02::server::stop_on_signals(&server)?;
    let debug = match debug_addr {
        Some(addr) => {
            let mut sources = sources(server.shared());
            sources.task_profile = task_profile;
            Some(crate::debug::start(addr, sources)?)
        }
        None => None,
    };
    println!(
        "lab-02 {} listening on {} (pid {})",
        model.name(),
        server.addr(),
        std::process::id()
    );
    if let Some(d) = &debug {
        println!(
            "debug port on http://{}/debug/pprof/ (symbols loaded in {} ms)",
            d.addr(),
            d.warm_up().as_millis()
        );
    }
    server.wait()
}
// ANCHOR_END: serve
