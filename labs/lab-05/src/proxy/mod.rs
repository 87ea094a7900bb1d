//! A fault-injecting TCP proxy for RESP, on loopback: the book's Toxiproxy.
//!
//! It sits between a client and lab-02 and does, on demand, what a network
//! does under load: delays and slows bytes, resets connections, cuts a
//! reply in half, swallows requests, refuses or stalls new connections.
//! Go's answer is Toxiproxy, a separate server steered over HTTP; this one
//! is a library (and a `proxy` command with a line-protocol control port).
//! Request and reply boundaries come from parsing RESP in both directions,
//! so faults hit *requests*, not arbitrary bytes. Every connection gets its
//! own generator seeded from the proxy's seed and the connection's ordinal,
//! and per-request decisions are drawn in request order: the same seed and
//! the same traffic give the same faults.

mod conn;
mod control;
mod faults;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lab_02::models::accept::AcceptErrors;
use serde::Serialize;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use faults::{FaultError, Faults, ResetAt, parse_probability};

/// The listen backlog when accepting normally.
pub const BACKLOG: i32 = 1024;
/// The listen backlog while [`Faults::stall_accept`] is on: Linux then
/// queues two connections and drops the SYNs of the rest.
pub const STALLED_BACKLOG: i32 = 1;
/// The default [`ProxyConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// What to start.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where clients connect (loopback; port 0 picks one).
    pub listen: SocketAddr,
    /// The server behind the proxy (loopback).
    pub upstream: SocketAddr,
    /// The faults at start; change them with [`ProxyHandle::set_faults`].
    pub faults: Faults,
    /// Seeds every connection's generator (mixed with its ordinal).
    pub seed: u64,
    /// Client connections at once; more are accepted and closed at once.
    pub max_connections: usize,
    /// Where the line-protocol control interface listens (loopback), if
    /// anywhere.
    pub control: Option<SocketAddr>,
}

impl ProxyConfig {
    /// A proxy on an ephemeral loopback port in front of `upstream`, with
    /// no faults, seed 0, no control interface.
    pub fn new(upstream: SocketAddr) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            upstream,
            faults: Faults::default(),
            seed: 0,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            control: None,
        }
    }
}

/// Why a proxy did not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("the proxy works on loopback only: {what} address {addr} is not loopback")]
    NotLoopback {
        what: &'static str,
        addr: SocketAddr,
    },
    #[error("invalid faults: {0}")]
    Faults(#[from] FaultError),
    #[error("max_connections must be at least 1")]
    NoConnections,
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the proxy's runtime: {0}")]
    Runtime(#[source] io::Error),
}

/// Counters since start. Taken with [`ProxyHandle::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProxyStats {
    /// Client connections accepted and served.
    pub connections: u64,
    /// Client connections open now.
    pub active: u64,
    /// Requests parsed from clients.
    pub requests: u64,
    /// Replies parsed from the upstream.
    pub replies: u64,
    /// Client connections reset on purpose.
    pub resets: u64,
    /// Replies cut in half on purpose.
    pub truncated: u64,
    /// Replies held back by `stall`.
    pub stalled: u64,
    /// Requests (or, unparsed, chunks) swallowed by the black hole.
    pub swallowed: u64,
    /// Connections whose bytes were not RESP (or a frame over 1 MiB):
    /// passed through unparsed, without per-request faults.
    pub passthrough: u64,
    /// Connections closed at once because `max_connections` were open.
    pub refused_over_limit: u64,
    /// Client connections closed because the upstream could not be reached.
    pub upstream_errors: u64,
    /// Bytes forwarded client to server.
    pub bytes_up: u64,
    /// Bytes forwarded server to client.
    pub bytes_down: u64,
}

impl ProxyStats {
    /// One line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub connections: AtomicU64,
    pub active: AtomicU64,
    pub requests: AtomicU64,
    pub replies: AtomicU64,
    pub resets: AtomicU64,
    pub truncated: AtomicU64,
    pub stalled: AtomicU64,
    pub swallowed: AtomicU64,
    pub passthrough: AtomicU64,
    pub refused_over_limit: AtomicU64,
    pub upstream_errors: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
}

pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> ProxyStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ProxyStats {
            connections: g(&self.connections),
            active: g(&self.active),
            requests: g(&self.requests),
            replies: g(&self.replies),
            resets: g(&self.resets),
            truncated: g(&self.truncated),
            stalled: g(&self.stalled),
            swallowed: g(&self.swallowed),
            passthrough: g(&self.passthrough),
            refused_over_limit: g(&self.refused_over_limit),
            upstream_errors: g(&self.upstream_errors),
            bytes_up: g(&self.bytes_up),
            bytes_down: g(&self.bytes_down),
        }
    }
}

/// What the proxy's tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub upstream: SocketAddr,
    pub seed: u64,
    pub max_connections: usize,
    pub faults: watch::Sender<Faults>,
    pub counters: Counters,
}

impl Shared {
    pub fn stats(&self) -> ProxyStats {
        self.counters.snapshot()
    }

    pub fn set_faults(&self, f: Faults) {
        self.faults.send_replace(f.sanitized());
    }
}

/// A running proxy. Dropping it stops the proxy (without waiting);
/// [`ProxyHandle::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct ProxyHandle {
    addr: SocketAddr,
    control: Option<SocketAddr>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Option<JoinSet<()>>,
}

impl ProxyHandle {
    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the control interface listens, if it does.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control
    }

    /// The faults now.
    pub fn faults(&self) -> Faults {
        self.shared.faults.borrow().clone()
    }

    /// Changes the faults; they apply to the requests and chunks read after
    /// the change, on existing connections too. Values out of range are
    /// brought into range ([`Faults::sanitized`]).
    pub fn set_faults(&self, f: Faults) {
        self.shared.set_faults(f);
    }

    /// The counters now.
    pub fn stats(&self) -> ProxyStats {
        self.shared.stats()
    }

    /// Stops accepting, closes every connection, and waits until done.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(mut tasks) = self.tasks.take() {
            while tasks.join_next().await.is_some() {}
        }
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

fn loopback(what: &'static str, addr: SocketAddr) -> Result<(), ProxyError> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(ProxyError::NotLoopback { what, addr })
    }
}

/// Binds a listener with `SO_REUSEADDR` (so that it can be reopened on the
/// same port while connections it accepted are still open).
pub(crate) fn bind(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(u32::try_from(backlog).unwrap_or(1))
}

/// Binds the proxy (and its control interface), spawns its tasks on the
/// current tokio runtime, and returns once both accept connections.
pub async fn start(cfg: ProxyConfig) -> Result<ProxyHandle, ProxyError> {
    loopback("listen", cfg.listen)?;
    loopback("upstream", cfg.upstream)?;
    if let Some(c) = cfg.control {
        loopback("control", c)?;
    }
    cfg.faults.validate()?;
    if cfg.max_connections == 0 {
        return Err(ProxyError::NoConnections);
    }
    let listener = bind(cfg.listen, BACKLOG).map_err(|source| ProxyError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| ProxyError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let control = match cfg.control {
        Some(c) => {
            let l = TcpListener::bind(c)
                .await
                .map_err(|source| ProxyError::Bind { addr: c, source })?;
            let a = l
                .local_addr()
                .map_err(|source| ProxyError::Bind { addr: c, source })?;
            Some((l, a))
        }
        None => None,
    };
    let (faults, _) = watch::channel(cfg.faults.clone());
    let shared = Arc::new(Shared {
        upstream: cfg.upstream,
        seed: cfg.seed,
        max_connections: cfg.max_connections,
        faults,
        counters: Counters::default(),
    });
    let (stop, _) = watch::channel(false);
    // Faults that act on the listening socket hold from the moment `start`
    // returns: refused means no socket at all, stalled a backlog of one.
    let mut backlog = BACKLOG;
    let listener = if cfg.faults.refuse {
        None
    } else {
        if cfg.faults.stall_accept {
            socket2::SockRef::from(&listener)
                .listen(STALLED_BACKLOG)
                .map_err(|source| ProxyError::Bind { addr, source })?;
            backlog = STALLED_BACKLOG;
        }
        Some(listener)
    };
    let mut tasks = JoinSet::new();
    tasks.spawn(accept_loop(
        Arc::clone(&shared),
        listener,
        backlog,
        addr,
        stop.subscribe(),
    ));
    let control_addr = control.map(|(l, a)| {
        tasks.spawn(control::serve(l, Arc::clone(&shared), stop.subscribe()));
        a
    });
    Ok(ProxyHandle {
        addr,
        control: control_addr,
        shared,
        stop,
        tasks: Some(tasks),
    })
}

/// Decrements `active` when a connection's task ends, however it ends.
struct Active(Arc<Shared>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.counters.active.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    mut listener: Option<TcpListener>,
    mut backlog: i32,
    addr: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let mut accept_errors = AcceptErrors::default();
    let mut faults = shared.faults.subscribe();
    let mut conns = JoinSet::new();
    let mut ordinal = 0u64;
    loop {
        let f = faults.borrow_and_update().clone();
        // Refuse: no listening socket at all. Reopen when it is turned off.
        let mut rebind_failed = false;
        if f.refuse {
            listener = None;
        } else if listener.is_none() {
            match bind(addr, BACKLOG) {
                Ok(l) => {
                    listener = Some(l);
                    backlog = BACKLOG;
                }
                Err(e) => {
                    tracing::warn!("proxy: cannot reopen {addr}: {e}; retrying");
                    rebind_failed = true;
                }
            }
        }
        // Stall: stop accepting and shrink the backlog (Linux lets
        // `listen` change the backlog of a listening socket).
        if let Some(l) = &listener {
            let want = if f.stall_accept {
                STALLED_BACKLOG
            } else {
                BACKLOG
            };
            if want != backlog {
                match socket2::SockRef::from(l).listen(want) {
                    Ok(()) => backlog = want,
                    Err(e) => tracing::warn!("proxy: cannot set the backlog to {want}: {e}"),
                }
            }
        }
        let accepting = !f.stall_accept && listener.is_some();
        let accept = async {
            match &listener {
                Some(l) if accepting => l.accept().await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.changed() => break,
            changed = faults.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            accepted = accept => match accepted {
                Ok((client, _peer)) => {
                    accept_errors.succeeded();
                    let active = shared.counters.active.load(Ordering::Relaxed);
                    if active >= shared.max_connections as u64 {
                        bump(&shared.counters.refused_over_limit, 1);
                        drop(client);
                        continue;
                    }
                    bump(&shared.counters.connections, 1);
                    bump(&shared.counters.active, 1);
                    let guard = Active(Arc::clone(&shared));
                    let shared = Arc::clone(&shared);
                    let this = ordinal;
                    ordinal += 1;
                    conns.spawn(async move {
                        let _guard = guard;
                        conn::serve(client, this, &shared).await;
                    });
                }
                Err(e) => {
                    // Out of descriptors and the like: the connection
                    // waits in the queue; do not spin.
                    tokio::time::sleep(accept_errors.failed(&e)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = tokio::time::sleep(Duration::from_millis(50)), if rebind_failed => {}
        }
    }
    drop(listener);
    conns.shutdown().await;
}

/// A proxy on its own runtime, for callers that are not async (the
/// measurement harness, blocking tests). Stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    handle: Option<ProxyHandle>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Proxy {
    /// Starts a proxy on a runtime of its own (two worker threads). Do not
    /// call it from inside an async runtime; use [`start`] there.
    pub fn spawn(cfg: ProxyConfig) -> Result<Proxy, ProxyError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lab05-proxy")
            .enable_all()
            .build()
            .map_err(ProxyError::Runtime)?;
        let handle = runtime.block_on(start(cfg))?;
        Ok(Proxy {
            handle: Some(handle),
            runtime: Some(runtime),
        })
    }

    fn handle(&self) -> &ProxyHandle {
        match &self.handle {
            Some(h) => h,
            // Only `Drop` takes it out.
            None => unreachable!("a Proxy always holds its handle until dropped"),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.handle().addr()
    }

    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.handle().control_addr()
    }

    pub fn faults(&self) -> Faults {
        self.handle().faults()
    }

    pub fn set_faults(&self, f: Faults) {
        self.handle().set_faults(f);
    }

    pub fn stats(&self) -> ProxyStats {
        self.handle().stats()
    }

    /// Stops the proxy and waits until every connection is closed.
    pub fn shutdown(self) {
        // Drop does it.
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let (Some(handle), Some(runtime)) = (self.handle.take(), self.runtime.take()) {
            runtime.block_on(handle.shutdown());
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}
