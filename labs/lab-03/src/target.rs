//! A small HTTP/1.1 server to aim load at, whose behaviour we choose.
//!
//! A load generator is only as trustworthy as what it has been checked
//! against. A real backend mixes many effects at once; this one has a knob
//! per effect, so an experiment can switch on exactly one and see whether
//! the generator reports what the server did:
//!
//! - `delay`: every response waits a fixed time, as behind a healthy but
//!   slow backend. Delays of requests on different connections, and of
//!   pipelined requests on one connection, overlap: this is latency, not
//!   capacity.
//! - `jitter`: an extra uniform random delay on top, so that latency has a
//!   spread and percentiles differ from the mean.
//! - `stall_every` / `stall_for`: a periodic pause during which nothing is
//!   answered, like a stop-the-world garbage collection. This is the knob
//!   for coordinated-omission demos: a closed-model generator sends nothing
//!   during the pause and so records one slow request where an open model
//!   records every request that should have been sent.
//! - `service_time`: a single server with a fixed capacity (one request
//!   every `service_time`, whatever the number of connections). Below
//!   capacity, latency stays flat; above it, an open model builds an
//!   unbounded queue while a closed model politely slows down, which is the
//!   open-versus-closed demonstration.
//!
//! With all knobs at zero the server is meant to be fast enough not to be
//! the bottleneck at 50k+ requests per second on one thread: it parses in
//! place, answers from precomputed bytes, batches the responses to
//! pipelined requests into one write, and never arms a timer.
//!
//! `GET /__stats` answers [`TargetStats`] as JSON, so a measurement can read
//! the server's own view of latency from a target running as a child
//! process. It is neither delayed, stalled nor counted.

use std::cell::Cell;
use std::io::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;

use crate::schedule::Rng;

/// The largest request head (request line, headers and the blank line)
/// accepted; a larger one is answered `431` and the connection closed.
pub const HEADER_LIMIT: usize = 16 * 1024;

/// A connection's read buffer starts small (most requests are a few
/// hundred bytes) and grows up to [`HEADER_LIMIT`] only for large heads.
const FIRST_BUFFER: usize = 4 * 1024;

/// Responses to pipelined requests are gathered up to this size before
/// being written, so a deep pipeline costs one write, not one per request.
const OUT_BATCH: usize = 64 * 1024;

/// After a final response, how much more of the peer's input is read and
/// dropped before closing: closing with unread input makes the kernel send
/// a reset, which can destroy the response before the peer reads it.
const LINGER_BYTES: usize = 64 * 1024;

/// No knob may exceed this: it keeps every sum of nanoseconds far from
/// overflow, and nobody needs a day-long delay in a lab.
const MAX_KNOB: Duration = Duration::from_secs(24 * 3600);

/// The body is built once in memory; this bounds what a typo can allocate.
const MAX_BODY: usize = 64 * 1024 * 1024;

const MAX_THREADS: usize = 256;

/// Histogram range, in microseconds: one hour covers any stall a lab uses.
const HIST_MAX_US: u64 = 3_600_000_000;

/// Options of the target server (also its command line).
#[derive(Debug, Clone, clap::Args)]
pub struct TargetConfig {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Fixed delay before every response (e.g. 2ms), like a healthy but
    /// slow backend.
    #[arg(long, value_parser = kit::parse_duration, default_value = "0s")]
    pub delay: Duration,
    /// Extra random delay, uniform in [0, jitter].
    #[arg(long, value_parser = kit::parse_duration, default_value = "0s")]
    pub jitter: Duration,
    /// Stall every this often (with --stall-for): nothing is answered
    /// during a stall, like a stop-the-world pause. The first stall ends
    /// exactly this long after start.
    #[arg(long, value_parser = kit::parse_duration)]
    pub stall_every: Option<Duration>,
    /// How long each stall lasts; must be shorter than --stall-every (0s:
    /// no stall).
    #[arg(long, value_parser = kit::parse_duration, default_value = "0s")]
    pub stall_for: Duration,
    /// Single-server queue: requests are served one at a time, each taking
    /// this long (capacity = 1/service-time), however many connections
    /// send them.
    #[arg(long, value_parser = kit::parse_duration)]
    pub service_time: Option<Duration>,
    /// Response body size in bytes.
    #[arg(long, default_value_t = 13)]
    pub body_size: usize,
    /// Runtime worker threads: 1 runs everything on one thread; N > 1 runs
    /// connections on N workers and accepts on one more thread.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Seed for the jitter.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl Default for TargetConfig {
    /// The command line's defaults, except port 0: in-process users (tests,
    /// measurements) want a free port, not a clash on 8080.
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            stall_every: None,
            stall_for: Duration::ZERO,
            service_time: None,
            body_size: 13,
            threads: 1,
            seed: 1,
        }
    }
}

/// What went wrong starting a target.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The address could not be bound (the error is in the message rather
    /// than the source chain, so that it reads as one sentence).
    #[error("cannot listen on {addr}: {error}{hint}")]
    Bind {
        addr: SocketAddr,
        error: io::Error,
        hint: &'static str,
    },
    /// The options contradict each other or are out of range.
    #[error("invalid target configuration: {0}")]
    Config(String),
    /// The runtime or its thread could not be created.
    #[error("cannot start the target: {0}")]
    Runtime(#[source] io::Error),
    #[error("cannot create the latency histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
}

/// A snapshot of what the server has done since it started.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Default)]
pub struct TargetStats {
    /// Responses written (excluding `/__stats`).
    pub requests: u64,
    /// Connections accepted so far.
    pub connections: u64,
    /// Requests answered with an error status (400, 431, 501, 505).
    pub bad_requests: u64,
    /// Server-side time, from the request being fully read to its response
    /// being written, in microseconds.
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// This process's CPU time (all threads, user and system), in
    /// milliseconds. In-process, that includes whatever else the process
    /// runs, such as a load generator.
    pub cpu_ms: Option<u64>,
    pub uptime_ms: u64,
}

// ---------------------------------------------------------------------------
// When a response may be written.

/// Periodic stalls: the windows `[k·every − for, k·every)`, `k ≥ 1`.
#[derive(Debug, Clone, Copy)]
struct Stall {
    every_ns: u64,
    for_ns: u64,
}

/// The timing knobs, in nanoseconds since the server started.
#[derive(Debug)]
struct Plan {
    delay_ns: u64,
    jitter_ns: u64,
    stall: Option<Stall>,
    service_ns: Option<u64>,
    /// When the single server (service-time mode) is next free.
    busy_until_ns: AtomicU64,
    /// No knob set: answer at once without looking at the clock.
    immediate: bool,
}

// ANCHOR: stall
impl Plan {
    /// When the response to a request fully read at `read_ns` may be
    /// written, in nanoseconds since the server started.
    fn release_ns(&self, read_ns: u64, rng: &mut Rng) -> u64 {
        let mut t = read_ns;
        if let Some(service_ns) = self.service_ns {
            // One server, first come first served: a request starts when
            // both it and the server are there. The server does no work
            // during a stall either, so work queued behind a pause drains
            // only after it, as behind a real one.
            let done = |busy: u64| {
                self.after_stall(read_ns.max(busy))
                    .saturating_add(service_ns)
            };
            let previous = self
                .busy_until_ns
                .fetch_update(AcqRel, Acquire, |busy| Some(done(busy)));
            // The update never declines, so both arms hold the old value.
            let (Ok(busy) | Err(busy)) = previous;
            t = done(busy);
        }
        t = t.saturating_add(self.delay_ns);
        if self.jitter_ns > 0 {
            t = t.saturating_add(rng.below(self.jitter_ns + 1));
        }
        self.after_stall(t)
    }

    /// Stalls are the windows `[k·M − N, k·M)` for `k ≥ 1` (every `M`,
    /// lasting `N`): the first one ends exactly `M` after start, so a run
    /// always begins with a healthy stretch. Anything due inside a window
    /// waits for its end, as everything waits out a stop-the-world pause.
    fn after_stall(&self, t: u64) -> u64 {
        let Some(Stall { every_ns, for_ns }) = self.stall else {
            return t;
        };
        let into_period = t % every_ns;
        if into_period >= every_ns - for_ns {
            (t - into_period).saturating_add(every_ns)
        } else {
            t
        }
    }
}
// ANCHOR_END: stall

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl TargetConfig {
    fn plan(&self) -> Result<Plan, TargetError> {
        let bad = |msg: String| Err(TargetError::Config(msg));
        for (name, value) in [
            ("--delay", Some(self.delay)),
            ("--jitter", Some(self.jitter)),
            ("--stall-every", self.stall_every),
            ("--stall-for", Some(self.stall_for)),
            ("--service-time", self.service_time),
        ] {
            if value.is_some_and(|v| v > MAX_KNOB) {
                return bad(format!("{name} must be at most 24h"));
            }
        }
        let stall = match self.stall_every {
            None if !self.stall_for.is_zero() => {
                return bad("--stall-for needs --stall-every".into());
            }
            None => None,
            Some(every) if every.is_zero() => {
                return bad("--stall-every must be greater than zero".into());
            }
            Some(every) if self.stall_for >= every => {
                return bad(format!(
                    "--stall-for ({}) must be shorter than --stall-every ({})",
                    kit::fmt::fmt_duration(self.stall_for),
                    kit::fmt::fmt_duration(every)
                ));
            }
            // A zero-length stall is allowed so that a sweep can start at
            // "no stall" without changing its command line.
            Some(_) if self.stall_for.is_zero() => None,
            Some(every) => Some(Stall {
                every_ns: nanos(every),
                for_ns: nanos(self.stall_for),
            }),
        };
        if self.service_time.is_some_and(|s| s.is_zero()) {
            return bad("--service-time must be greater than zero".into());
        }
        if self.body_size > MAX_BODY {
            return bad(format!("--body-size must be at most {MAX_BODY} bytes"));
        }
        if !(1..=MAX_THREADS).contains(&self.threads) {
            return bad(format!("--threads must be between 1 and {MAX_THREADS}"));
        }
        let service_ns = self.service_time.map(nanos);
        let (delay_ns, jitter_ns) = (nanos(self.delay), nanos(self.jitter));
        Ok(Plan {
            delay_ns,
            jitter_ns,
            stall,
            service_ns,
            busy_until_ns: AtomicU64::new(0),
            immediate: delay_ns == 0 && jitter_ns == 0 && stall.is_none() && service_ns.is_none(),
        })
    }
}

// ---------------------------------------------------------------------------
// Shared state and statistics.

/// A precomputed `200 OK`: the whole response, and where its head ends (a
/// `HEAD` request gets only the head).
struct Canned {
    bytes: Box<[u8]>,
    head_len: usize,
}

impl Canned {
    fn new(body: &[u8], connection: &str) -> Self {
        let mut bytes = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n{connection}\r\n",
            body.len()
        )
        .into_bytes();
        let head_len = bytes.len();
        bytes.extend_from_slice(body);
        Self {
            bytes: bytes.into_boxed_slice(),
            head_len,
        }
    }

    fn get(&self, head_only: bool) -> &[u8] {
        if head_only {
            &self.bytes[..self.head_len]
        } else {
            &self.bytes
        }
    }
}

/// Which `Connection` header a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Persist {
    /// HTTP/1.1 keep-alive, the default: no header needed.
    Default,
    /// The connection closes after this response.
    Close,
    /// An HTTP/1.0 client asked to keep the connection; it must be told
    /// yes, or it waits for a close that never comes.
    KeepAlive,
}

impl Persist {
    fn header(self) -> &'static str {
        match self {
            Persist::Default => "",
            Persist::Close => "Connection: close\r\n",
            Persist::KeepAlive => "Connection: keep-alive\r\n",
        }
    }
}

/// Latencies recorded by one runtime thread.
struct Shard {
    requests: u64,
    hist: Histogram<u64>,
}

thread_local! {
    /// Which shard this runtime thread records into. Each worker gets its
    /// own, so recording never contends with another worker; a
    /// current-thread runtime has one thread and uses shard 0.
    static SHARD: Cell<usize> = const { Cell::new(0) };
}

struct Shared {
    started: Instant,
    plan: Plan,
    ok: [Canned; 3],
    shards: Vec<Mutex<Shard>>,
    connections: AtomicU64,
    bad_requests: AtomicU64,
}

/// A panic elsewhere cannot leave a shard inconsistent (each update is a
/// few additions), so a poisoned lock is simply used.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn new(cfg: &TargetConfig, plan: Plan) -> Result<Self, TargetError> {
        let body: Vec<u8> = b"Hello, world!"
            .iter()
            .copied()
            .cycle()
            .take(cfg.body_size)
            .collect();
        let ok = [Persist::Default, Persist::Close, Persist::KeepAlive]
            .map(|p| Canned::new(&body, p.header()));
        let mut shards = Vec::with_capacity(cfg.threads);
        for _ in 0..cfg.threads {
            shards.push(Mutex::new(Shard {
                requests: 0,
                hist: Histogram::new_with_bounds(1, HIST_MAX_US, 3)?,
            }));
        }
        Ok(Self {
            started: Instant::now(),
            plan,
            ok,
            shards,
            connections: AtomicU64::new(0),
            bad_requests: AtomicU64::new(0),
        })
    }

    fn canned(&self, persist: Persist) -> &Canned {
        // The order `ok` was built in.
        &self.ok[match persist {
            Persist::Default => 0,
            Persist::Close => 1,
            Persist::KeepAlive => 2,
        }]
    }

    /// `n` responses written `us` microseconds after their request was read.
    /// Called once per write, not per response, and on this thread's own
    /// shard, so the lock is uncontended on the hot path.
    fn record(&self, us: u64, n: u64) {
        let i = SHARD.with(Cell::get) % self.shards.len();
        let mut shard = lock(&self.shards[i]);
        shard.requests += n;
        shard.hist.saturating_record_n(us, n);
    }

    fn snapshot(&self) -> TargetStats {
        let mut requests = 0;
        let mut merged: Option<Histogram<u64>> = None;
        for shard in &self.shards {
            let shard = lock(shard);
            requests += shard.requests;
            match &mut merged {
                None => merged = Some(shard.hist.clone()),
                // Same bounds on every shard, so adding cannot fail.
                Some(m) => {
                    let _ = m.add(&shard.hist);
                }
            }
        }
        let (p50_us, p99_us, max_us) = match &merged {
            Some(h) if !h.is_empty() => {
                (h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max())
            }
            _ => (0, 0, 0),
        };
        TargetStats {
            requests,
            connections: self.connections.load(Ordering::Relaxed),
            bad_requests: self.bad_requests.load(Ordering::Relaxed),
            p50_us,
            p99_us,
            max_us,
            cpu_ms: cpu_ms(),
            uptime_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// The process's CPU time. `CLOCK_PROCESS_CPUTIME_ID` is the same sum as
/// utime + stime in `/proc/self/stat`, in nanoseconds rather than clock
/// ticks, and without a file to open and parse.
fn cpu_ms() -> Option<u64> {
    use rustix::time::{ClockId, clock_gettime};
    let t = clock_gettime(ClockId::ProcessCPUTime);
    let secs = u64::try_from(t.tv_sec).ok()?;
    let nsecs = u64::try_from(t.tv_nsec).ok()?;
    Some(secs.saturating_mul(1000).saturating_add(nsecs / 1_000_000))
}

// ---------------------------------------------------------------------------
// Starting and stopping.

/// A running server. Dropping it stops it, like [`Target::stop`].
pub struct Target {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Target {
    /// Where clients connect (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the server has done so far. Nothing is batched behind it: a
    /// response is counted (and timed) as soon as its write returns.
    pub fn stats(&self) -> TargetStats {
        self.shared.snapshot()
    }

    /// Stops accepting, closes every connection (requests waiting for
    /// their delay are dropped unanswered) and joins the server's threads.
    pub fn stop(self) {
        drop(self);
    }

    /// Blocks while the server runs, which is until the process ends: only
    /// [`Target::stop`] ends it, and it needs `self`.
    fn wait(mut self) -> anyhow::Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Err(_)) => anyhow::bail!("the target's thread panicked"),
            _ => anyhow::bail!("the target stopped unexpectedly"),
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The accept loop may be gone already (a panic); nothing to tell.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds, starts the server on its own thread(s), and returns once it
/// accepts connections.
pub fn start(cfg: TargetConfig) -> Result<Target, TargetError> {
    let plan = cfg.plan()?;
    let shared = Arc::new(Shared::new(&cfg, plan)?);
    let addr = SocketAddr::new(cfg.host, cfg.port);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr, TargetError>>();
    let (stop_tx, stop_rx) = oneshot::channel();
    let for_thread = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("lab-03-target".into())
        .spawn(move || {
            let rt = match runtime(cfg.threads) {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(TargetError::Runtime(e)));
                    return;
                }
            };
            let listener = {
                // Registering the socket needs the runtime's reactor.
                let _entered = rt.enter();
                match listen(addr) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                }
            };
            let bound = listener.local_addr().unwrap_or(addr);
            if ready_tx.send(Ok(bound)).is_err() {
                return;
            }
            rt.block_on(accept_loop(listener, for_thread, cfg.seed, stop_rx));
            // Dropping the runtime drops every connection task, which
            // closes its socket.
            drop(rt);
        })
        .map_err(TargetError::Runtime)?;
    match ready_rx.recv() {
        Ok(Ok(addr)) => Ok(Target {
            addr,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(TargetError::Runtime(io::Error::other(
                "the server thread stopped before listening",
            )))
        }
    }
}

/// For the command line: starts the server, prints one line that scripts
/// wait for (`lab-03 target listening on ADDR (pid N)`), then serves until
/// the process is killed. There is no signal handling on purpose: the
/// server holds no state worth saving, so the default action of SIGINT and
/// SIGTERM (exit at once) is the right one.
pub fn serve_forever(cfg: TargetConfig) -> anyhow::Result<()> {
    let target = start(cfg)?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "lab-03 target listening on {} (pid {})",
        target.addr(),
        std::process::id()
    )?;
    out.flush()?;
    drop(out);
    target.wait()
}

fn runtime(threads: usize) -> io::Result<tokio::runtime::Runtime> {
    // The time driver is always on, but a timer is only armed when a
    // request must wait (or accept must back off): the fast path never
    // touches it.
    if threads <= 1 {
        // One thread: no work stealing, no cross-thread wake-ups.
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
    } else {
        let next_shard = Arc::new(AtomicUsize::new(0));
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("lab-03-target-worker")
            .enable_io()
            .enable_time()
            .on_thread_start(move || {
                SHARD.with(|s| s.set(next_shard.fetch_add(1, Ordering::Relaxed)));
            })
            .build()
    }
}

fn listen(addr: SocketAddr) -> Result<TcpListener, TargetError> {
    let bind_error = |error: io::Error| {
        let hint = match error.kind() {
            io::ErrorKind::AddrInUse => "; is another server using the port?",
            io::ErrorKind::PermissionDenied => "; ports below 1024 need privileges",
            io::ErrorKind::AddrNotAvailable => "; is the address one of this machine's?",
            _ => "",
        };
        TargetError::Bind { addr, error, hint }
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(bind_error)?;
    // Restarting on a fixed port must not fail because of the previous
    // run's connections in TIME_WAIT. (On Linux this does not let two
    // servers listen on one port.)
    socket.set_reuseaddr(true).map_err(bind_error)?;
    socket.bind(addr).map_err(bind_error)?;
    // A deep backlog: load generators open hundreds of connections at once,
    // and a short queue would turn that burst into SYN retries (a second of
    // latency each) that have nothing to do with the experiment.
    socket.listen(4096).map_err(bind_error)
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    seed: u64,
    mut stop: oneshot::Receiver<()>,
) {
    // Each connection draws its jitter from its own generator, seeded in
    // accept order, so a run is reproducible without sharing a generator.
    let mut seeds = Rng::new(seed);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    let rng = Rng::new(seeds.next_u64());
                    tokio::spawn(connection(stream, Arc::clone(&shared), rng));
                }
                Err(e) => match e.kind() {
                    // The peer gave up before we accepted: nothing to do.
                    io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::Interrupted
                    | io::ErrorKind::WouldBlock => {}
                    // Out of descriptors or memory: retrying at once would
                    // spin, so let connections close first.
                    _ => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
            },
        }
    }
}

// ---------------------------------------------------------------------------
// One connection.

/// How a connection ended.
enum End {
    /// The peer closed (or half-closed) its side.
    Peer,
    /// We sent a final response: close gracefully.
    Close,
}

async fn connection(mut stream: TcpStream, shared: Arc<Shared>, rng: Rng) {
    // Responses are written whole; Nagle's algorithm would hold back the
    // next one until the previous is acknowledged, adding up to a delayed
    // ACK (40 ms) to pipelined and back-to-back requests.
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(rng);
    match conn.serve(&mut stream, &shared).await {
        Ok(End::Close) => linger(&mut stream, &mut conn.buf).await,
        Ok(End::Peer) => {}
        // A reset or a broken pipe: the peer is gone, and so are we.
        Err(e) => tracing::trace!("connection dropped: {e}"),
    }
}

/// Half-closes, then reads and drops what the peer still sends until it
/// closes, so that our last response is not destroyed by a reset.
async fn linger(stream: &mut TcpStream, buf: &mut [u8]) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut left = LINGER_BYTES;
    while left > 0 {
        match stream.read(buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

struct Conn {
    buf: Vec<u8>,
    /// First byte not yet parsed.
    start: usize,
    /// End of the bytes read.
    end: usize,
    /// Where the search for the end of the head resumes, so that a head
    /// arriving in many small reads is scanned once, not once per read.
    scan: usize,
    /// Body bytes still to read and drop.
    discard: u64,
    /// A request whose body is still arriving.
    waiting: Option<Head>,
    /// Responses not yet written.
    out: Vec<u8>,
    /// Responses written or in `out` since the last flush, all to requests
    /// completed by the latest read (a flush precedes every read).
    done: u64,
    read_at: Instant,
    rng: Rng,
}

impl Conn {
    fn new(rng: Rng) -> Self {
        Self {
            buf: vec![0; FIRST_BUFFER],
            start: 0,
            end: 0,
            scan: 0,
            discard: 0,
            waiting: None,
            out: Vec::new(),
            done: 0,
            read_at: Instant::now(),
            rng,
        }
    }

    async fn serve(&mut self, stream: &mut TcpStream, shared: &Shared) -> io::Result<End> {
        loop {
            // Everything answered so far goes out before we wait for the
            // peer, which may be waiting for it.
            self.flush(stream, shared).await?;
            if self.end == self.buf.len() && !self.make_room() {
                return self.reject(stream, shared, Reject::TooLarge).await;
            }
            let n = stream.read(&mut self.buf[self.end..]).await?;
            if n == 0 {
                return Ok(End::Peer);
            }
            self.end += n;
            self.read_at = Instant::now();
            if let Some(end) = self.process(stream, shared).await? {
                self.flush(stream, shared).await?;
                return Ok(end);
            }
        }
    }

    /// Makes space to read into; false if a head exceeds [`HEADER_LIMIT`].
    /// Only an incomplete head is ever left in the buffer between reads.
    fn make_room(&mut self) -> bool {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scan -= self.start;
            self.start = 0;
            true
        } else if self.buf.len() < HEADER_LIMIT {
            let grown = (self.buf.len() * 2).min(HEADER_LIMIT);
            self.buf.resize(grown, 0);
            true
        } else {
            false
        }
    }

    /// Answers every request complete in the buffer.
    async fn process(
        &mut self,
        stream: &mut TcpStream,
        shared: &Shared,
    ) -> io::Result<Option<End>> {
        loop {
            if self.discard > 0 {
                let here = (self.end - self.start) as u64;
                let take = self.discard.min(here);
                self.start += take as usize;
                self.discard -= take;
                if self.discard > 0 {
                    break;
                }
            }
            if let Some(head) = self.waiting.take() {
                if let Some(end) = self.respond(head, stream, shared).await? {
                    return Ok(Some(end));
                }
                continue;
            }
            // Empty lines before a request line are tolerated (RFC 9112,
            // 2.2): some clients send a CRLF after a POST body.
            while self.buf[self.start..self.end].starts_with(b"\r\n") {
                self.start += 2;
            }
            let from = self.scan.saturating_sub(3).max(self.start);
            let Some(at) = find_blank_line(&self.buf[from..self.end]) else {
                self.scan = self.end;
                break;
            };
            let head_end = from + at;
            let parsed = parse_head(&self.buf[self.start..head_end]);
            self.start = head_end + 4;
            self.scan = self.start;
            match parsed {
                Ok(head) => {
                    self.discard = head.content_length;
                    if head.expect_continue && self.discard > (self.end - self.start) as u64 {
                        self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    self.waiting = Some(head);
                }
                Err(reject) => return self.reject(stream, shared, reject).await.map(Some),
            }
        }
        if self.start == self.end {
            // Nothing pending: start over at the front instead of copying.
            self.start = 0;
            self.end = 0;
            self.scan = 0;
        }
        Ok(None)
    }

    async fn respond(
        &mut self,
        head: Head,
        stream: &mut TcpStream,
        shared: &Shared,
    ) -> io::Result<Option<End>> {
        if head.stats {
            // Flush first, so the snapshot counts every earlier response.
            self.flush(stream, shared).await?;
            let body = serde_json::to_vec(&shared.snapshot()).unwrap_or_else(|_| b"{}".to_vec());
            let mut response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/json\r\n{}\r\n",
                body.len(),
                head.persist.header()
            )
            .into_bytes();
            if !head.head_only {
                response.extend_from_slice(&body);
            }
            self.push(stream, shared, &response).await?;
        } else {
            if !shared.plan.immediate {
                self.wait_until_due(stream, shared).await?;
            }
            let bytes = shared.canned(head.persist).get(head.head_only);
            self.push(stream, shared, bytes).await?;
            self.done += 1;
        }
        Ok((head.persist == Persist::Close).then_some(End::Close))
    }

    async fn wait_until_due(&mut self, stream: &mut TcpStream, shared: &Shared) -> io::Result<()> {
        let read_ns = nanos(self.read_at.saturating_duration_since(shared.started));
        let due_ns = shared.plan.release_ns(read_ns, &mut self.rng);
        let due = shared.started.checked_add(Duration::from_nanos(due_ns));
        if due.is_some_and(|due| due <= Instant::now()) {
            return Ok(());
        }
        // Earlier responses are due already: they must not wait for this one.
        self.flush(stream, shared).await?;
        match due {
            Some(due) => tokio::time::sleep_until(due.into()).await,
            None => std::future::pending().await,
        }
        Ok(())
    }

    async fn push(
        &mut self,
        stream: &mut TcpStream,
        shared: &Shared,
        bytes: &[u8],
    ) -> io::Result<()> {
        if self.out.len() + bytes.len() > OUT_BATCH {
            self.flush(stream, shared).await?;
        }
        if bytes.len() > OUT_BATCH {
            // A large body goes out as is rather than through a copy.
            stream.write_all(bytes).await
        } else {
            self.out.extend_from_slice(bytes);
            Ok(())
        }
    }

    async fn flush(&mut self, stream: &mut TcpStream, shared: &Shared) -> io::Result<()> {
        if !self.out.is_empty() {
            stream.write_all(&self.out).await?;
            self.out.clear();
        }
        if self.done > 0 {
            let us = u64::try_from(self.read_at.elapsed().as_micros()).unwrap_or(u64::MAX);
            shared.record(us, self.done);
            self.done = 0;
        }
        Ok(())
    }

    async fn reject(
        &mut self,
        stream: &mut TcpStream,
        shared: &Shared,
        reject: Reject,
    ) -> io::Result<End> {
        shared.bad_requests.fetch_add(1, Ordering::Relaxed);
        self.push(stream, shared, reject.response()).await?;
        self.flush(stream, shared).await?;
        Ok(End::Close)
    }
}

// ---------------------------------------------------------------------------
// Parsing.

/// Why a request is refused; each closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reject {
    BadRequest,
    TooLarge,
    /// A body in `Transfer-Encoding` (chunked): not worth supporting here.
    NotImplemented,
    Version,
}

impl Reject {
    fn response(self) -> &'static [u8] {
        match self {
            Reject::BadRequest => {
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            }
            Reject::TooLarge => {
                b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            }
            Reject::NotImplemented => {
                b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            }
            Reject::Version => {
                b"HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            }
        }
    }
}

/// What the server needs to know about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    content_length: u64,
    persist: Persist,
    head_only: bool,
    stats: bool,
    expect_continue: bool,
}

/// Where `\r\n\r\n` starts.
fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Splits on CRLF. A lone CR or LF stays inside a line, where the
/// character checks reject it.
fn split_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(bytes);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                rest = Some(&r[i + 2..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Parses a request head: the bytes before the blank line that ends it.
fn parse_head(head: &[u8]) -> Result<Head, Reject> {
    let mut lines = split_lines(head);
    let request_line = lines.next().ok_or(Reject::BadRequest)?;
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Reject::BadRequest);
    };
    if !is_token(method) || target.is_empty() || !target.iter().all(|b| (0x21..0x7f).contains(b)) {
        return Err(Reject::BadRequest);
    }
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(Reject::Version);
        }
        _ => return Err(Reject::BadRequest),
    };

    let mut content_length: Option<u64> = None;
    let (mut close, mut keep_alive, mut expect_continue) = (false, false, false);
    for line in lines {
        // Obsolete line folding (RFC 9112, 5.2) is refused, as allowed.
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(Reject::BadRequest)?;
        let (name, value) = (&line[..colon], trim_ows(&line[colon + 1..]));
        if !is_token(name) || value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(Reject::BadRequest);
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_length(value).ok_or(Reject::BadRequest)?;
            // Two different lengths are the classic request-smuggling
            // ambiguity: refuse rather than pick one.
            if content_length.is_some_and(|m| m != n) {
                return Err(Reject::BadRequest);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(Reject::NotImplemented);
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',').map(trim_ows) {
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            expect_continue = value.eq_ignore_ascii_case(b"100-continue");
        }
    }
    let persist = if close || (http10 && !keep_alive) {
        Persist::Close
    } else if http10 {
        Persist::KeepAlive
    } else {
        Persist::Default
    };
    Ok(Head {
        content_length: content_length.unwrap_or(0),
        persist,
        head_only: method == b"HEAD",
        stats: target == b"/__stats" || target.starts_with(b"/__stats?"),
        expect_continue: expect_continue && !http10,
    })
}

fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(cfg: TargetConfig) -> Plan {
        cfg.plan().expect("a valid configuration")
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn first_stall_ends_at_stall_every() {
        let p = plan(TargetConfig {
            stall_every: Some(Duration::from_millis(600)),
            stall_for: Duration::from_millis(300),
            ..TargetConfig::default()
        });
        let mut rng = Rng::new(1);
        for (read, due) in [
            (0, 0),
            (100, 100),
            (299, 299),
            (300, 600),
            (599, 600),
            (600, 600),
            (899, 899),
            (900, 1200),
        ] {
            assert_eq!(
                p.release_ns(read * MS, &mut rng),
                due * MS,
                "read at {read} ms"
            );
        }
    }

    #[test]
    fn delay_and_jitter_stay_in_range() {
        let p = plan(TargetConfig {
            delay: Duration::from_millis(2),
            jitter: Duration::from_millis(3),
            ..TargetConfig::default()
        });
        let mut rng = Rng::new(7);
        let dues: Vec<u64> = (0..1000).map(|_| p.release_ns(10 * MS, &mut rng)).collect();
        assert!(dues.iter().all(|&d| (12 * MS..=15 * MS).contains(&d)));
        assert!(dues.iter().any(|&d| d < 13 * MS) && dues.iter().any(|&d| d > 14 * MS));
    }

    #[test]
    fn the_queue_serializes_and_freezes_during_a_stall() {
        let p = plan(TargetConfig {
            service_time: Some(Duration::from_millis(20)),
            stall_every: Some(Duration::from_millis(1000)),
            stall_for: Duration::from_millis(100),
            ..TargetConfig::default()
        });
        let mut rng = Rng::new(1);
        let dues: Vec<u64> = (0..3).map(|_| p.release_ns(0, &mut rng)).collect();
        assert_eq!(dues, [20 * MS, 40 * MS, 60 * MS]);
        // Idle server: served at once.
        assert_eq!(p.release_ns(500 * MS, &mut rng), 520 * MS);
        // Arriving in the stall [900, 1000): service starts when it ends.
        assert_eq!(p.release_ns(950 * MS, &mut rng), 1020 * MS);
        assert_eq!(p.release_ns(950 * MS, &mut rng), 1040 * MS);
    }

    #[test]
    fn config_is_checked() {
        let bad = |cfg: TargetConfig| cfg.plan().is_err();
        let ms = Duration::from_millis;
        assert!(bad(TargetConfig {
            stall_every: Some(ms(100)),
            stall_for: ms(100),
            ..TargetConfig::default()
        }));
        assert!(bad(TargetConfig {
            stall_for: ms(100),
            ..TargetConfig::default()
        }));
        assert!(bad(TargetConfig {
            service_time: Some(Duration::ZERO),
            ..TargetConfig::default()
        }));
        assert!(bad(TargetConfig {
            threads: 0,
            ..TargetConfig::default()
        }));
        assert!(plan(TargetConfig::default()).immediate);
        let no_stall = plan(TargetConfig {
            stall_every: Some(ms(100)),
            ..TargetConfig::default()
        });
        assert!(no_stall.stall.is_none() && no_stall.immediate);
    }

    fn head(s: &str) -> Result<Head, Reject> {
        parse_head(s.as_bytes())
    }

    #[test]
    fn parses_requests() {
        let h = head("GET / HTTP/1.1\r\nHost: x").expect("valid");
        assert_eq!(
            (h.persist, h.content_length, h.stats, h.head_only),
            (Persist::Default, 0, false, false)
        );
        let h = head("POST /a?b HTTP/1.1\r\ncontent-LENGTH:  12 \r\nConnection: Keep-Alive, Close")
            .expect("valid");
        assert_eq!((h.persist, h.content_length), (Persist::Close, 12));
        assert_eq!(
            head("GET / HTTP/1.0").map(|h| h.persist),
            Ok(Persist::Close)
        );
        assert_eq!(
            head("GET / HTTP/1.0\r\nConnection: keep-alive").map(|h| h.persist),
            Ok(Persist::KeepAlive)
        );
        assert_eq!(
            head("HEAD /__stats?x HTTP/1.1").map(|h| (h.stats, h.head_only)),
            Ok((true, true))
        );
        assert_eq!(
            head("BREW /pot HTTP/1.1").map(|h| h.persist),
            Ok(Persist::Default)
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5")
                .map(|h| h.expect_continue),
            Ok(true)
        );
    }

    #[test]
    fn rejects_malformed_requests() {
        for bad in [
            "",
            "garbage",
            "GET /  HTTP/1.1",
            "GET / HTTP/1.1 x",
            "GET /\x01 HTTP/1.1",
            "GET / HTTP/x.y",
            "G(T / HTTP/1.1",
            "GET / HTTP/1.1\r\nNo colon",
            "GET / HTTP/1.1\r\nName : value",
            "GET / HTTP/1.1\r\n folded: value",
            "GET / HTTP/1.1\r\nA: b\nC: d",
            "GET / HTTP/1.1\r\nContent-Length: -1",
            "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999",
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2",
        ] {
            assert_eq!(head(bad), Err(Reject::BadRequest), "{bad:?}");
        }
        assert_eq!(head("GET / HTTP/2.0"), Err(Reject::Version));
        assert_eq!(
            head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked"),
            Err(Reject::NotImplemented)
        );
    }

    #[test]
    fn parser_never_panics_on_noise() {
        let mut rng = Rng::new(3);
        for _ in 0..2000 {
            let len = rng.below(200) as usize;
            let alphabet = b"GET /HTP1.0\r\n: ,ContentLgh\x00\xff9";
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect();
            let _ = parse_head(&bytes);
        }
    }
}
