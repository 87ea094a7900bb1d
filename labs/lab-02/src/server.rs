//! Starting, observing and stopping a server, whatever its model.
//!
//! [`start`] binds the port, replays the append-only file, starts the
//! chosen model on its own threads and returns a [`Server`] handle once
//! clients can connect. The state its threads share is in
//! [`crate::shared`].

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result, bail};

use crate::aof::{self, Aof, Loaded};
use crate::config::{Config, Model};
use crate::models;
use crate::shared::Shared;

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

/// The listen backlog: Redis's default `tcp-backlog`.
pub const LISTEN_BACKLOG: i32 = 511;

/// Binds, loads the append-only file, and starts the model. Returns once
/// the port accepts connections.
pub fn start(config: Config) -> Result<Server> {
    config.validate()?;
    let listener = TcpListener::bind((config.bind, config.port)).with_context(|| {
        format!(
            "cannot listen on {}:{} (is another server using the port?)",
            config.bind, config.port
        )
    })?;
    // Redis listens with a backlog of 511 (`tcp-backlog`); std asks for
    // 128, and a burst of connects beyond it waits a second for the SYN
    // retry. Listening again on a listening socket sets the new backlog
    // (the kernel caps it at net.core.somaxconn).
    rustix::net::listen(&listener, LISTEN_BACKLOG).context("setting the listen backlog")?;
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
    let shared = Arc::new(Shared::new(config, addr, aof, loaded));
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
