//! Starting lab-02 (any model) or a real `redis-server` as a child
//! process, for the labs that come after it: the one documented way to do
//! it, so no later lab copies it or reaches into lab-02's measuring code.
//!
//! ```no_run
//! use lab_02::launch::{Launch, Server, Target};
//! # fn main() -> anyhow::Result<()> {
//! // A binary that embeds lab-02's server under a subcommand (lab-03 has
//! // a hidden `lab02` one) starts it from its own executable:
//! let launch = Launch { subcommand: Some("lab02"), ..Launch::new(Target::EventLoop, 1) };
//! let server = Server::start(&launch)?; // waits until it answers PING
//! let mut client = server.client()?;
//! # Ok(()) }
//! ```
//!
//! The models are started from *this very binary* (`/proc/PID/exe`) with
//! `--port 0`, so a later lab's binary must run lab-02's server when given
//! `SUBCOMMAND --model … --port 0` (call [`crate::server::serve`]); they
//! print `lab-02 MODEL listening on 127.0.0.1:PORT (pid PID)` when ready. A
//! real `redis-server` gets a port we picked and is ready when it answers
//! PING. Every server is stopped (SIGTERM, then SIGKILL) and reaped on
//! drop, through the measurement kit's [`kit::process::Process`].
//!
//! Two more targets exist for lab-02's own comparisons and are in no
//! list the other labs iterate ([`Target::ALL`]): [`Target::Go`], the
//! seed's Go Redis clone (`go/server`, a goroutine per connection, built
//! with Debian's Go on first use into `target/go`), which any binary can
//! start; and [`Target::ThreadPerConnection`], the memory experiment's
//! PING-only baseline, which only lab-02's own binary runs.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use kit::process::{Process, START_TIMEOUT, free_port, own_exe, pinned};
use serde::Serialize;

use crate::client::Client;
use crate::config::FsyncPolicy;
use crate::resp::Frame;

/// `--maxclients` for the models: above the 10k connections of lab-02's
/// memory experiment.
pub const MODEL_MAXCLIENTS: usize = 20_000;
/// `--maxclients` for redis-server, which needs that many file descriptors.
pub const REDIS_MAXCLIENTS: usize = 10_100;

/// A server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Target {
    #[serde(rename = "event-loop")]
    EventLoop,
    #[serde(rename = "task-per-connection")]
    TaskPerConnection,
    #[serde(rename = "thread-per-core")]
    ThreadPerCore,
    #[serde(rename = "redis-server")]
    Redis,
    /// The seed's Go Redis clone: a goroutine per connection, one map
    /// behind one `sync.RWMutex` (`go/server`). `GOMAXPROCS` is Go's
    /// default: the CPUs it may run on (one when pinned to one).
    #[serde(rename = "go-goroutine-per-conn")]
    Go,
    /// A `std::thread` per connection answering PING only: the memory
    /// experiment's baseline (`measure::threads`); lab-02's binary only.
    #[serde(rename = "thread-per-connection")]
    ThreadPerConnection,
}

impl Target {
    /// Every server, in table order (the reference last).
    pub const ALL: [Target; 4] = [
        Target::EventLoop,
        Target::TaskPerConnection,
        Target::ThreadPerCore,
        Target::Redis,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::EventLoop => "event-loop",
            Target::TaskPerConnection => "task-per-connection",
            Target::ThreadPerCore => "thread-per-core",
            Target::Redis => "redis-server",
            Target::Go => "go-goroutine-per-conn",
            Target::ThreadPerConnection => "thread-per-connection",
        }
    }

    /// Whether `--threads` means anything to it.
    pub fn multi_threaded(self) -> bool {
        matches!(self, Target::TaskPerConnection | Target::ThreadPerCore)
    }
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct Launch {
    pub target: Target,
    /// `--threads` for the multi-threaded models.
    pub threads: usize,
    /// `taskset -c` CPU list, or not pinned.
    pub cpus: Option<&'static str>,
    /// Append-only file settings, or none.
    pub aof: Option<AofSetup>,
    /// A subcommand of this binary that runs lab-02's server (lab-03's
    /// measurements start lab-02 through their own binary), or none.
    pub subcommand: Option<&'static str>,
    /// More options for the models (not redis-server): `--task-metrics`,
    /// or a later lab's own, such as lab-04's `--debug-addr`.
    pub extra: Vec<String>,
    /// Another lab-02 binary to run instead of this very one: a build of
    /// lab-02 with other settings (lab-04's build-settings experiment
    /// measures several side by side). It must take the server's options
    /// after `subcommand`, as `lab-02` itself does with none.
    pub program: Option<PathBuf>,
}

/// Where and how a server keeps its append-only file.
#[derive(Debug, Clone)]
pub struct AofSetup {
    /// `appendfsync`.
    pub fsync: FsyncPolicy,
    pub dir: PathBuf,
}

impl Launch {
    pub fn new(target: Target, threads: usize) -> Self {
        Self {
            target,
            threads,
            cpus: None,
            aof: None,
            subcommand: None,
            extra: Vec::new(),
            program: None,
        }
    }

    fn model_command(&self) -> Command {
        let program = self.program.clone().unwrap_or_else(own_exe);
        let mut cmd = pinned(self.cpus, program);
        cmd.args(self.subcommand);
        cmd.args(["--model", self.target.name(), "--port", "0"])
            .args(["--maxclients", &MODEL_MAXCLIENTS.to_string()])
            .env("RUST_LOG", "warn");
        if self.target.multi_threaded() {
            cmd.args(["--threads", &self.threads.to_string()]);
        }
        if let Some(aof) = &self.aof {
            cmd.args(["--appendonly", "--appendfsync", aof.fsync.name()])
                .arg("--appendfilename")
                .arg(aof.dir.join("appendonly.aof"));
        }
        cmd.args(&self.extra);
        cmd
    }

    fn go_command(&self) -> Result<Command> {
        let mut cmd = pinned(self.cpus, go_server()?);
        cmd.args(["-port", "0", "-maxclients", &MODEL_MAXCLIENTS.to_string()])
            // Go's defaults, whatever the caller's environment says.
            .env_remove("GOMAXPROCS")
            .env_remove("GOGC")
            .env_remove("GOMEMLIMIT")
            .env_remove("GODEBUG");
        if self.aof.is_some() {
            bail!("the Go server keeps no append-only file");
        }
        Ok(cmd)
    }

    fn thread_command(&self) -> Result<Command> {
        if self.subcommand.is_some() || self.aof.is_some() {
            bail!(
                "thread-per-connection is lab-02's memory baseline: only lab-02's own binary \
                 runs it, without an append-only file"
            );
        }
        let mut cmd = pinned(self.cpus, own_exe());
        cmd.args(["thread-per-connection", "--port", "0"])
            .args(["--maxclients", &MODEL_MAXCLIENTS.to_string()])
            .env("RUST_LOG", "warn");
        Ok(cmd)
    }

    fn redis_command(&self, port: u16) -> Command {
        let mut cmd = pinned(self.cpus, "redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--daemonize", "no"])
            .args(["--maxclients", &REDIS_MAXCLIENTS.to_string()]);
        match &self.aof {
            Some(aof) => {
                cmd.args(["--appendonly", "yes", "--appendfsync", aof.fsync.name()])
                    .arg("--dir")
                    .arg(&aof.dir);
            }
            None => {
                cmd.args(["--appendonly", "no"]);
            }
        }
        cmd
    }
}

/// The Go server's source folder, in lab-02's tree.
pub fn go_server_source() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/go/server"))
}

/// The Go server's binary, built with Debian's Go (`kit::golang`) on the
/// first call of this process and reused after; a failed build fails
/// every call with the same message.
pub fn go_server() -> Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            kit::golang::build(go_server_source(), "lab-02-go-server", false)
                .map(|b| b.path)
                .map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// A running Redis-compatible server; stopped and reaped on drop.
#[derive(Debug)]
pub struct Server {
    pub target: Target,
    pub port: u16,
    pub process: Process,
}

impl Server {
    /// Starts a server and waits until it answers PING.
    pub fn start(launch: &Launch) -> Result<Server> {
        let redis_port = match launch.target {
            Target::Redis => free_port()?,
            _ => 0,
        };
        let cmd = match launch.target {
            Target::Redis => launch.redis_command(redis_port),
            Target::Go => launch.go_command()?,
            Target::ThreadPerConnection => launch.thread_command()?,
            _ => launch.model_command(),
        };
        let mut process = Process::spawn(cmd, launch.target.name())?;
        let port = match launch.target {
            // redis-server prints a banner, not our ready line.
            Target::Redis => redis_port,
            _ => process.ready_line()?,
        };
        let mut server = Server {
            target: launch.target,
            port,
            process,
        };
        server.wait_for_ping()?;
        Ok(server)
    }

    fn wait_for_ping(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            self.process
                .check_alive()
                .map_err(|_| self.process.failure("exited during start-up"))?;
            if self.ping().is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.process.failure("did not answer PING"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn ping(&self) -> Result<()> {
        let mut c = self.client()?;
        match c.cmd(&[b"PING"])? {
            Frame::Simple(s) if s == "PONG" => Ok(()),
            other => bail!("PING answered {other:?}"),
        }
    }

    /// A new client connection.
    pub fn client(&self) -> Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))?;
        Ok(Client::from_stream(stream)?)
    }

    /// Fails (with the server's output) if it is no longer running.
    pub fn check_alive(&mut self) -> Result<()> {
        self.process.check_alive()
    }

    /// CPU time used so far, in seconds.
    pub fn cpu_seconds(&self) -> Result<f64> {
        self.process.cpu_seconds()
    }

    /// Resident set size (`VmRSS`), in bytes.
    pub fn rss_bytes(&self) -> Result<u64> {
        self.process.rss_bytes()
    }

    /// Writes the keys that redis-benchmark's `-r keys` and lab-03's
    /// `--keyspace keys` draw from (`key:000000000000` on, 3-byte values, as
    /// redis-benchmark's SET writes them), one `MSET` of a thousand at a
    /// time, and checks `DBSIZE`. Returns how long the writing took.
    pub fn fill(&self, keys: u64) -> Result<Duration> {
        const BATCH: u64 = 1_000;
        let mut c = self.client()?;
        let started = Instant::now();
        for first in (0..keys).step_by(BATCH as usize) {
            let names: Vec<String> = (first..(first + BATCH).min(keys))
                .map(kit::redis_benchmark::key)
                .collect();
            let mut args: Vec<&[u8]> = vec![b"MSET"];
            for name in &names {
                args.push(name.as_bytes());
                args.push(b"xxx");
            }
            let reply = c.cmd(&args)?;
            if reply.is_error() {
                bail!(
                    "MSET while filling {} answered {reply:?}",
                    self.target.name()
                );
            }
        }
        let took = started.elapsed();
        let size = c.cmd(&[b"DBSIZE"])?;
        match size.as_int() {
            Some(n) if n >= keys as i64 => Ok(took),
            _ => bail!(
                "{} answered DBSIZE {size:?} after {keys} keys were written",
                self.target.name()
            ),
        }
    }

    /// One numeric field of `INFO` (`None` if the server has no such field).
    pub fn info_u64(&self, field: &str) -> Result<Option<u64>> {
        let mut c = self.client()?;
        let reply = c.cmd(&[b"INFO"])?;
        let text = reply
            .as_bulk()
            .with_context(|| format!("INFO answered {reply:?}"))?;
        let text = String::from_utf8_lossy(text);
        Ok(text
            .lines()
            .filter_map(|l| l.trim().split_once(':'))
            .find(|(k, _)| *k == field)
            .and_then(|(_, v)| v.parse().ok()))
    }
}

/// A client that repeats one command on its own connection and thread
/// until stopped, timing each call: the "other client" of an experiment
/// (lab-02's head-of-line blocking loops `KEYS nomatch*` with it, and
/// lab-03 does the same under its open model).
pub struct Looper {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<Vec<f64>>>>,
}

impl Looper {
    /// Starts repeating `args` against `server`. A reply that is an error
    /// (or a `check` that fails) ends the loop with an error.
    pub fn start(server: &Server, args: &[&[u8]], check: fn(&Frame) -> bool) -> Result<Self> {
        let mut client = server.client()?;
        // A slow command (KEYS over a million keys) may take a while.
        client.set_timeout(Some(Duration::from_secs(120)))?;
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = thread::spawn(move || {
            let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let mut times = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let t = Instant::now();
                let reply = client.cmd(&args)?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
                if reply.is_error() || !check(&reply) {
                    bail!("{} answered {reply:?}", String::from_utf8_lossy(args[0]));
                }
            }
            Ok(times)
        });
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops after the current call; every call's duration, in ms.
    pub fn finish(mut self) -> Result<Vec<f64>> {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(times)) => times,
            Some(Err(_)) => bail!("the looping client panicked"),
            None => Ok(Vec::new()),
        }
    }
}

impl Drop for Looper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
