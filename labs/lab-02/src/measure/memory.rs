//! Experiment 2: what an idle connection costs in server memory.
//!
//! A fresh server per measurement; its resident set size (`VmRSS`) is read,
//! then this process opens N connections and sends `PING` on each (so the
//! server has accepted it and set up whatever per-connection state it keeps:
//! a task and its buffers, a registration in the poller, a client struct),
//! waits a moment and reads the RSS again. (RSS after − RSS before) / N is
//! the user-space cost of an idle connection; the kernel's socket memory is
//! not in RSS and is the same for every server. What differs in the kernel
//! is a thread's kernel stack: `KernelStack` in `/proc/meminfo` is read at
//! the same moments, machine-wide, so a thread per connection shows what
//! its threads cost outside its RSS.
//!
//! Besides lab-02's models and redis-server, it measures the seed's Go
//! server (a goroutine per connection) and a thread per connection
//! ([`super::threads`], a PING-only baseline).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use anyhow::Result;
use kit::machine::{Conditions, Watch, conditions_note, watched};
use kit::procfs;
use report::Table;
use serde::Serialize;

use super::{MEMORY, MODELS, Plan};
use crate::launch::{Launch, MODEL_MAXCLIENTS, REDIS_MAXCLIENTS, Server, Target};
use kit::fmt::{fmt_int, fmt_mib};
use kit::stats::{med, spread};

/// Pause before reading RSS, so the server finishes its per-connection work.
const SETTLE: Duration = Duration::from_millis(200);
/// Then how long the connections stay idle before the last reading: long
/// enough for a periodic cleanup of idle clients (Redis resizes their query
/// buffers in `clientsCron`) to show in RSS, if it gives memory back.
const IDLE: Duration = Duration::from_secs(3);

/// One measurement.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MemSample {
    pub rss_before: u64,
    pub rss_after: u64,
    /// After the connections sat idle for [`IDLE`] more.
    pub rss_idle: u64,
    /// `KernelStack` of `/proc/meminfo` (machine-wide) with the RSS
    /// before and after readings.
    pub kstack_before: u64,
    pub kstack_after: u64,
    /// Connections that were open and had answered PING.
    pub opened: usize,
    /// Why opening stopped early, if it did.
    pub error: Option<String>,
}

impl MemSample {
    fn per_conn(&self) -> f64 {
        (self.rss_after as f64 - self.rss_before as f64) / self.opened.max(1) as f64
    }

    fn per_conn_idle(&self) -> f64 {
        (self.rss_idle as f64 - self.rss_before as f64) / self.opened.max(1) as f64
    }

    fn kstack_per_conn(&self) -> f64 {
        (self.kstack_after as f64 - self.kstack_before as f64) / self.opened.max(1) as f64
    }
}

/// All rounds of one (server, connection count).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MemCell {
    pub server: Target,
    pub conns: usize,
    pub rounds: Vec<MemSample>,
}

impl MemCell {
    fn per_conn(&self) -> Vec<f64> {
        self.rounds.iter().map(MemSample::per_conn).collect()
    }

    pub(crate) fn per_conn_idle(&self) -> Vec<f64> {
        self.rounds.iter().map(MemSample::per_conn_idle).collect()
    }

    /// Median bytes per connection after the idle wait (None if it failed).
    pub(crate) fn idle_bytes(&self) -> Option<f64> {
        self.error()
            .is_none()
            .then(|| med(&self.per_conn_idle(), |x| *x))
    }

    /// Median kernel stack bytes per connection (None if it failed).
    pub(crate) fn kstack_bytes(&self) -> Option<f64> {
        self.error()
            .is_none()
            .then(|| med(&self.rounds, MemSample::kstack_per_conn))
    }

    pub(crate) fn error(&self) -> Option<&str> {
        self.rounds.iter().find_map(|r| r.error.as_deref())
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    pub cells: Vec<MemCell>,
    pub threads: usize,
    pub conditions: Conditions,
}

/// Runs every (round, size, server), a fresh server each time.
pub(crate) fn run(plan: &Plan) -> Result<Outcome> {
    let threads = procfs::cores();
    let (cells, conditions) = watched(Watch::children(plan.warm_up), || {
        let mut cells: Vec<MemCell> = plan
            .mem_conns
            .iter()
            .flat_map(|&conns| {
                MEMORY.map(|server| MemCell {
                    server,
                    conns,
                    rounds: Vec::new(),
                })
            })
            .collect();
        for round in 0..plan.rounds {
            for &conns in &plan.mem_conns {
                for target in kit::stats::rotated(&MEMORY, round) {
                    let sample = one(target, threads, conns)?;
                    if let Some(c) = cells
                        .iter_mut()
                        .find(|c| c.server == target && c.conns == conns)
                    {
                        c.rounds.push(sample);
                    }
                }
            }
            eprintln!("  memory round {}/{} done", round + 1, plan.rounds);
        }
        anyhow::Ok(cells)
    })?;
    Ok(Outcome {
        cells,
        threads,
        conditions,
    })
}

/// Opens one connection and checks that the server answers PING on it.
fn open(port: u16) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"PING\r\n")?;
    let mut reply = [0u8; 7];
    s.read_exact(&mut reply)?;
    if &reply != b"+PONG\r\n" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("PING answered {:?}", String::from_utf8_lossy(&reply)),
        ));
    }
    Ok(s)
}

/// One fresh server, `conns` idle connections.
fn one(target: Target, threads: usize, conns: usize) -> Result<MemSample> {
    let server = Server::start(&Launch::new(target, threads))?;
    thread::sleep(SETTLE);
    let rss_before = server.rss_bytes()?;
    let kstack_before = kernel_stack();
    let mut streams = Vec::with_capacity(conns);
    let mut error = None;
    for i in 0..conns {
        match open(server.port) {
            Ok(s) => streams.push(s),
            Err(e) => {
                error = Some(format!("connection {} of {conns} failed: {e}", i + 1));
                break;
            }
        }
    }
    thread::sleep(SETTLE);
    let rss_after = server.rss_bytes()?;
    let kstack_after = kernel_stack();
    thread::sleep(IDLE);
    let rss_idle = server.rss_bytes()?;
    // Stop the server first: it closes first, so the TIME_WAIT sockets are
    // its own and this process's ephemeral ports stay free.
    drop(server);
    let opened = streams.len();
    drop(streams);
    Ok(MemSample {
        rss_before,
        rss_after,
        rss_idle,
        kstack_before,
        kstack_after,
        opened,
        error,
    })
}

/// Machine-wide kernel stack memory (0 where `/proc/meminfo` lacks it).
fn kernel_stack() -> u64 {
    procfs::meminfo_bytes("KernelStack").unwrap_or(0)
}

/// The `memory-per-connection` table.
pub(crate) fn table(plan: &Plan, o: &Outcome) -> Table {
    let mut t = Table::new(
        "memory-per-connection",
        "Server memory per idle connection",
        &[
            "server",
            "connections",
            "RSS before",
            "RSS after",
            "bytes per connection",
            "spread",
            "bytes per connection, idle",
            "kernel stack per connection",
        ],
    )
    .numeric(&[1, 2, 3, 4, 5, 6, 7]);
    for c in &o.cells {
        let (per_conn, idle, kstack) = match c.error() {
            Some(e) => (format!("failed: {e}"), String::new(), String::new()),
            None => (
                fmt_int(med(&c.per_conn(), |x| *x)),
                fmt_int(med(&c.per_conn_idle(), |x| *x)),
                fmt_int(med(&c.rounds, MemSample::kstack_per_conn)),
            ),
        };
        t.row(vec![
            c.server.name().to_owned(),
            fmt_int(c.conns as f64),
            fmt_mib(med(&c.rounds, |r| r.rss_before as f64)),
            fmt_mib(med(&c.rounds, |r| r.rss_after as f64)),
            per_conn,
            spread(&c.per_conn()),
            idle,
            kstack,
        ]);
    }
    t.note(format!(
        "A fresh server per cell (nothing pinned, `--threads {}` for the multi-threaded models); \
         RSS is `VmRSS` from `/proc/PID/status`, read {} ms after start and {} ms after the last \
         of the connections answered PING; bytes per connection = (after − before) / \
         connections. The idle column reads RSS again after the connections sat idle {} s more, \
         time for a periodic cleanup of idle clients to show if it returns memory. Median of {} \
         round(s). \
         Kernel socket buffers are not part of RSS.",
        o.threads,
        SETTLE.as_millis(),
        SETTLE.as_millis(),
        IDLE.as_secs(),
        plan.rounds
    ));
    t.note(format!(
        "The connections come from the measuring process (`ulimit -n` {}); the models run with \
         `--maxclients {MODEL_MAXCLIENTS}`, redis-server with `--maxclients {REDIS_MAXCLIENTS}`.",
        procfs::fd_limit().map_or("unknown".to_owned(), |n| n.to_string())
    ));
    t.note(format!(
        "Besides lab-02's models and redis-server: {} is the seed's Go Redis clone (lab-02's \
         `go/server`, a goroutine per connection reading through a 4 KiB bufio.Reader and \
         writing through a 4 KiB bufio.Writer, GOMAXPROCS = the {} CPUs it may use), and {} is \
         a PING-only baseline in lab-02's measuring code: a std::thread per connection (std's \
         default 2 MiB stack, of which only touched pages count in RSS) blocking in read on a \
         16 KiB buffer on its stack, with no keyspace and no command code, so its cost is a floor \
         for a full server of that design.",
        Target::Go.name(),
        o.threads,
        Target::ThreadPerConnection.name()
    ));
    t.note(
        "Kernel stack per connection is the change of `KernelStack` in `/proc/meminfo` over the \
         same interval as RSS before and after, divided by the connections: kernel memory no RSS \
         shows, which a thread costs (its kernel stack) and a task or a goroutine does not. It is \
         machine-wide, so threads other processes start or end meanwhile blur it by a few \
         bytes per connection.",
    );
    if let Some(&largest) = plan.mem_conns.iter().max() {
        t.note(verdict(o, largest));
        t.fact("idle_verdict", idle_verdict(o, largest));
    }
    t.note(conditions_note(&o.conditions));
    t
}

/// How the models' steady idle cost compares with Redis's, at `conns`.
fn idle_verdict(o: &Outcome, conns: usize) -> String {
    let idle = |s: Target| {
        o.cells
            .iter()
            .find(|c| c.server == s && c.conns == conns && c.error().is_none())
            .map(|c| med(&c.per_conn_idle(), |x| *x))
    };
    let Some(redis) = idle(Target::Redis) else {
        return "redis-server could not be measured, so there is no comparison".to_owned();
    };
    let models: Vec<(Target, f64)> = MODELS
        .iter()
        .filter_map(|&s| idle(s).map(|b| (s, b)))
        .collect();
    let list = models
        .iter()
        .map(|(s, b)| format!("{} {} bytes", s.name(), fmt_int(*b)))
        .collect::<Vec<_>>()
        .join(", ");
    let worst = models.iter().map(|(_, b)| *b).fold(0.0, f64::max);
    let relation = if worst <= redis * 1.1 {
        "no model costs more than Redis"
    } else {
        "at least one model costs more than Redis"
    };
    format!(
        "after {} s idle, {relation}: {list}, against redis-server's {} bytes",
        IDLE.as_secs(),
        fmt_int(redis)
    )
}

/// "Measured: at 10,000 idle connections, each cost …".
fn verdict(o: &Outcome, conns: usize) -> String {
    let parts: Vec<String> = MEMORY
        .iter()
        .filter_map(|&s| o.cells.iter().find(|c| c.server == s && c.conns == conns))
        .map(|c| match c.error() {
            Some(_) => format!("{} could not hold them", c.server.name()),
            None => format!(
                "{} {} bytes",
                c.server.name(),
                fmt_int(med(&c.per_conn(), |x| *x))
            ),
        })
        .collect();
    format!(
        "Measured: at {} idle connections, each cost {}.",
        fmt_int(conns as f64),
        parts.join(", ")
    )
}
