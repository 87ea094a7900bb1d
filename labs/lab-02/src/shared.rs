//! The state every thread of a running server sees, whatever its model:
//! the settings, the append-only file, the counters INFO reports, and the
//! shutdown signal.
//!
//! It sits below the connection loop and the models (which read and count
//! through it) and above nothing but the settings, the append-only file
//! and the command interface, so no model has to import the module that
//! starts the models.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::aof::{Aof, Loaded};
use crate::cmd::{Log, ServerCtx, Tunables};
use crate::config::Config;

type Waker = Box<dyn Fn() + Send + Sync>;

/// The "stop now" signal: a flag, plus a way to wake each model's threads.
#[derive(Default)]
pub struct Shutdown {
    requested: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl Shutdown {
    pub fn requested(&self) -> bool {
        self.requested.load(Relaxed)
    }

    /// Asks the server to stop: stop accepting, finish what is in flight,
    /// flush the append-only file, exit.
    pub fn trigger(&self) {
        self.requested.store(true, Relaxed);
        for wake in self
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            wake();
        }
    }

    /// Registers a function that wakes a thread blocked waiting for work.
    pub fn on_trigger(&self, wake: impl Fn() + Send + Sync + 'static) {
        self.wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(wake));
        if self.requested() {
            self.trigger();
        }
    }
}

/// State shared by all of a server's threads.
pub struct Shared {
    pub config: Config,
    pub addr: SocketAddr,
    pub started: Instant,
    pub shutdown: Shutdown,
    pub aof: Option<Arc<Aof>>,
    pub loaded: Loaded,
    pub clients: AtomicUsize,
    next_client_id: AtomicU64,
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    /// Thread-per-core: commands (or pieces of one, or transactions) sent
    /// to another core, and stores borrowed from one for a step across
    /// cores.
    pub hops: AtomicU64,
    /// Task-per-connection: slow commands run off the worker's own turn
    /// (`--slow-commands spawn-blocking` or `block-in-place`).
    pub offloaded: AtomicU64,
    /// Keys in the keyspace, refreshed by the models' housekeeping for INFO.
    pub keys: AtomicU64,
    /// The tokio runtimes serving this server (none for the event loop),
    /// named, so an observer such as Part IV's debug port can read their
    /// metrics.
    pub runtimes: Mutex<Vec<(String, tokio::runtime::Handle)>>,
    /// Times every poll of every connection task when `--task-metrics` is
    /// on; the tokio models wrap each connection task in it.
    pub task_monitor: Option<tokio_metrics::TaskMonitor>,
    /// WATCH's table of watched keys.
    pub watches: Arc<crate::watch::Watches>,
    /// The Redis parameters CONFIG SET stores without using them
    /// (encoding thresholds, maxmemory and friends).
    pub tunables: Tunables,
}

impl Shared {
    /// A fresh write log for one connection or core: on when an
    /// append-only file reads it (or `--log-without-aof` asks for the old
    /// behaviour, for Part IV's before-and-after measurement).
    pub fn log(&self) -> Log {
        Log::new(self.aof.is_some() || self.config.log_without_aof)
    }

    /// A server's state before any client connects: counters at zero.
    pub fn new(config: Config, addr: SocketAddr, aof: Option<Arc<Aof>>, loaded: Loaded) -> Self {
        let config_task_monitor = config.task_metrics.then(tokio_metrics::TaskMonitor::new);
        Self {
            config,
            addr,
            started: Instant::now(),
            shutdown: Shutdown::default(),
            aof,
            loaded,
            clients: AtomicUsize::new(0),
            next_client_id: AtomicU64::new(0),
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            commands_processed: AtomicU64::new(0),
            hops: AtomicU64::new(0),
            offloaded: AtomicU64::new(0),
            keys: AtomicU64::new(0),
            runtimes: Mutex::new(Vec::new()),
            task_monitor: config_task_monitor,
            watches: Arc::default(),
            tunables: Tunables::new(),
        }
    }

    /// Publishes a runtime this server runs on (called by the tokio models
    /// from inside it).
    pub fn publish_runtime(&self, name: String) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            self.runtimes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((name, handle));
        }
    }

    pub fn password(&self) -> Option<&[u8]> {
        self.config.requirepass.as_deref().map(str::as_bytes)
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Relaxed) + 1
    }

    /// Claims a client slot; `false` when `maxclients` are connected.
    pub fn admit(&self) -> bool {
        self.connections_received.fetch_add(1, Relaxed);
        let admitted = self
            .clients
            .fetch_update(Relaxed, Relaxed, |n| {
                (n < self.config.maxclients).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            self.rejected_connections.fetch_add(1, Relaxed);
        }
        admitted
    }

    pub fn release(&self, commands: u64) {
        self.clients.fetch_sub(1, Relaxed);
        self.commands_processed.fetch_add(commands, Relaxed);
    }

    /// Flushes and closes the append-only file, if any.
    pub fn close_aof(&self) {
        if let Some(aof) = &self.aof
            && let Err(e) = aof.close()
        {
            tracing::error!("append-only file: final sync failed: {e}");
        }
    }
}

/// The reply to a new client over `maxclients`.
pub const MAX_CLIENTS_REPLY: &[u8] = b"-ERR max number of clients reached\r\n";

const CONFIG_NAMES: [&str; 12] = [
    "bind",
    "port",
    "maxclients",
    "timeout",
    "appendonly",
    "appendfsync",
    "appendfilename",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "save",
    "databases",
    "io-threads",
];

impl ServerCtx for Shared {
    fn password(&self) -> Option<&[u8]> {
        Shared::password(self)
    }

    fn model(&self) -> &'static str {
        self.config.model.name()
    }

    fn info_fields(&self) -> Vec<(&'static str, String, String)> {
        let c = &self.config;
        let mut f = vec![
            ("Server", "lab02_model".into(), c.model.name().into()),
            (
                "Server",
                "lab02_threads".into(),
                c.thread_count().to_string(),
            ),
            ("Server", "tcp_port".into(), self.addr.port().to_string()),
            (
                "Server",
                "uptime_in_seconds".into(),
                self.started.elapsed().as_secs().to_string(),
            ),
            (
                "Server",
                "process_id".into(),
                std::process::id().to_string(),
            ),
            (
                "Clients",
                "connected_clients".into(),
                self.clients.load(Relaxed).to_string(),
            ),
            ("Clients", "maxclients".into(), c.maxclients.to_string()),
            (
                "Persistence",
                "aof_enabled".into(),
                u8::from(self.aof.is_some()).to_string(),
            ),
            (
                "Persistence",
                "aof_last_write_status".into(),
                if self.aof.as_ref().is_some_and(|a| a.failed()) {
                    "err".into()
                } else {
                    "ok".into()
                },
            ),
            (
                "Persistence",
                "aof_loaded_commands".into(),
                self.loaded.commands.to_string(),
            ),
            (
                "Persistence",
                "aof_truncated_bytes".into(),
                self.loaded.truncated.to_string(),
            ),
            (
                "Stats",
                "total_connections_received".into(),
                self.connections_received.load(Relaxed).to_string(),
            ),
            (
                "Stats",
                "total_commands_processed".into(),
                self.commands_processed.load(Relaxed).to_string(),
            ),
            (
                "Stats",
                "rejected_connections".into(),
                self.rejected_connections.load(Relaxed).to_string(),
            ),
            (
                "Stats",
                "lab02_cross_core_hops".into(),
                self.hops.load(Relaxed).to_string(),
            ),
            (
                "Stats",
                "lab02_offloaded_commands".into(),
                self.offloaded.load(Relaxed).to_string(),
            ),
            (
                "Stats",
                "lab02_spanning_execs".into(),
                self.watches.spanning_execs.load(Relaxed).to_string(),
            ),
        ];
        if let Some(rss) = rss_bytes() {
            f.push(("Memory", "used_memory_rss".into(), rss.to_string()));
        }
        f
    }

    fn config_value(&self, name: &str) -> Option<String> {
        let c = &self.config;
        Some(match name {
            "bind" => c.bind.to_string(),
            "port" => self.addr.port().to_string(),
            "maxclients" => c.maxclients.to_string(),
            "timeout" => c.timeout.to_string(),
            "appendonly" => if c.appendonly { "yes" } else { "no" }.into(),
            "appendfsync" => c.appendfsync.to_string(),
            "appendfilename" => c.appendfilename.display().to_string(),
            "proto-max-bulk-len" => c.proto_max_bulk_len.to_string(),
            "client-query-buffer-limit" => c.client_query_buffer_limit.to_string(),
            "save" => String::new(),
            "databases" => "1".into(),
            "io-threads" => "1".into(),
            _ => return None,
        })
    }

    fn config_names(&self) -> Vec<&'static str> {
        CONFIG_NAMES.to_vec()
    }

    fn client_count(&self) -> usize {
        self.clients.load(Relaxed)
    }

    fn tunables(&self) -> Option<&Tunables> {
        Some(&self.tunables)
    }
}

/// This process's resident memory, from `/proc/self/status` (Linux).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
