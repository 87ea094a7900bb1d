//! lab-02 with its tasks tracked: every connection and housekeeping task
//! the tokio models spawn is in the registry (thread-per-core's mailbox
//! and acceptor, one each per core for the server's life, are not), the debug port (lab-04's) serves the live task profile at
//! `/debug/tasks`, and, for the chapter's leak-over-time experiment, a
//! planted leak can be switched on.
//!
//! `cargo run -p lab-06 --release -- serve --model task-per-connection
//! --debug-addr 127.0.0.1:6060`, then
//! `curl 127.0.0.1:6060/debug/tasks`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::ValueEnum;
use lab_02::config::{Config, TaskHook, TaskHooks, TaskToken};
use tokio_util::sync::CancellationToken;

use crate::track::{self, Kind, Site};

/// The leak the experiment plants in lab-02 (never on by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Plant {
    /// lab-02 as it is.
    None,
    /// A watchdog task per lab-02 task, spawned and forgotten: it outlives
    /// the connection it watches.
    Leak,
    /// The same watchdog, cancelled when its connection's task ends.
    Fixed,
}

/// The state a watchdog keeps (filled, so its pages are really used).
pub const WATCHDOG_STATE: usize = 16 << 10;

/// The registry's hook for lab-02, with an optional planted leak.
#[derive(Debug)]
pub struct Hook {
    pub plant: Plant,
}

// ANCHOR: planted
/// Watches a connection: wakes every second to look at its state. The
/// leak is not in this loop but in who stops it.
async fn watchdog(stop: Option<CancellationToken>) {
    let state = vec![1u8; WATCHDOG_STATE];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        match &stop {
            Some(stop) => tokio::select! {
                _ = tick.tick() => {}
                _ = stop.cancelled() => return,
            },
            None => {
                tick.tick().await;
            }
        }
        std::hint::black_box(&state);
    }
}

impl TaskHook for Hook {
    fn spawned(&self, site: Site) -> TaskToken {
        let rt = tokio::runtime::Handle::try_current().ok();
        let token = track::registry().register(site, Kind::Async, rt.as_ref());
        match self.plant {
            Plant::None => Box::new(token),
            // Spawned beside the connection, its JoinHandle dropped.
            Plant::Leak => {
                track::spawn(watchdog(None));
                Box::new(token)
            }
            // The connection's task carries a guard that cancels the
            // watchdog when the task ends, however it ends.
            Plant::Fixed => {
                let stop = CancellationToken::new();
                track::spawn(watchdog(Some(stop.clone())));
                Box::new((token, stop.drop_guard()))
            }
        }
    }
}
// ANCHOR_END: planted

/// Runs lab-02 with `config` until SIGINT/SIGTERM: tracked unless
/// `untracked`, with the debug port (and `/debug/tasks`) on `debug_addr`.
pub fn serve(
    mut config: Config,
    debug_addr: Option<SocketAddr>,
    untracked: bool,
    plant: Plant,
) -> Result<()> {
    if untracked && plant != Plant::None {
        anyhow::bail!("--plant needs task tracking (drop --untracked)");
    }
    if !untracked {
        config.task_hook = TaskHooks(Some(Arc::new(Hook { plant })));
    }
    lab_04::serve::serve_with(config, debug_addr, Some(Box::new(crate::profile::answer)))
}
