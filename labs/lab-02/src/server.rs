//! Starting, observing and stopping a server, whatever its model.
//!
//! [`start`] binds the port, replays the append-only file, starts the
//! chosen model on its own threads and returns a [`Server`] handle once
//! clients can connect. [`Shared`] is the state every model's threads see:
//! settings, counters for INFO, and the shutdown signal.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::aof::{self, Aof, Loaded};
use crate::cmd::ServerCtx;
use crate::config::{Config, Model};
use crate::models;

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
    /// Thread-per-core: commands (or pieces) sent to another core.
    pub hops: AtomicU64,
    /// Keys in the keyspace, refreshed by the models' housekeeping for INFO.
    pub keys: AtomicU64,
}

impl Shared {
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
            "appendfsync" => c.appendfsync.name().into(),
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
}

/// This process's resident memory, from `/proc/self/status` (Linux).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A running server.
pub struct Server {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Server {
    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Asks the server to stop gracefully (as SIGTERM or SHUTDOWN do).
    pub fn shutdown(&self) {
        self.shared.shutdown.trigger();
    }

    /// Waits until the server has stopped.
    pub fn wait(mut self) -> Result<()> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| anyhow::anyhow!("the server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.shared.shutdown.trigger();
            let _ = t.join();
        }
    }
}

/// Binds, loads the append-only file, and starts the model. Returns once
/// the port accepts connections.
pub fn start(config: Config) -> Result<Server> {
    config.validate().map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind((config.bind, config.port)).with_context(|| {
        format!(
            "cannot listen on {}:{} (is another server using the port?)",
            config.bind, config.port
        )
    })?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;

    let mut keyspace = models::Keyspace::new(&config)?;
    let (aof, loaded) = if config.appendonly {
        let path = config.appendfilename.clone();
        let loaded = aof::replay(&path, |args| keyspace.replay(args))?;
        if loaded.commands > 0 {
            tracing::info!(
                "loaded {} commands ({} bytes) from {}",
                loaded.commands,
                loaded.bytes,
                path.display()
            );
        }
        let aof = Aof::open(&path, config.appendfsync)
            .with_context(|| format!("cannot open the append-only file {}", path.display()))?;
        (Some(aof), loaded)
    } else {
        (None, Loaded::default())
    };
    let shared = Arc::new(Shared {
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
        keys: AtomicU64::new(0),
    });
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
    let s = shared.clone();
    let thread = std::thread::Builder::new()
        .name(format!("lab-02-{}", s.config.model.name()))
        .spawn(move || {
            let result = match s.config.model {
                Model::EventLoop => {
                    models::event_loop::run(s.clone(), listener, keyspace, ready_tx)
                }
                Model::TaskPerConnection => {
                    models::tasks::run(s.clone(), listener, keyspace, ready_tx)
                }
                Model::ThreadPerCore => {
                    models::per_core::run(s.clone(), listener, keyspace, ready_tx)
                }
            };
            s.close_aof();
            if let Err(e) = &result {
                tracing::error!("server stopped with an error: {e:#}");
            }
            result
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(Server {
            shared,
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => match thread.join() {
            Ok(Err(e)) => Err(e),
            _ => bail!("the server thread stopped before it was ready"),
        },
    }
}

/// What `cargo run -p lab-02` does: start, stop on SIGINT or SIGTERM,
/// print the ready line, and serve until stopped.
pub fn serve(config: Config) -> Result<()> {
    let model = config.model;
    let server = start(config)?;
    stop_on_signals(&server)?;
    // Tests and scripts read this line to learn the port (with --port 0).
    println!(
        "lab-02 {} listening on {} (pid {})",
        model.name(),
        server.addr(),
        std::process::id()
    );
    server.wait()
}

/// Stops the server gracefully on SIGINT or SIGTERM (a second signal
/// exits at once).
pub fn stop_on_signals(server: &Server) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let shared = server.shared.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut seen = false;
            for sig in signals.forever() {
                if seen {
                    tracing::warn!("second signal {sig}: exiting now");
                    std::process::exit(1);
                }
                seen = true;
                tracing::info!("signal {sig}: shutting down (finishing in-flight work)");
                shared.shutdown.trigger();
            }
        })?;
    Ok(())
}
