//! Child processes: the servers under test and the tools that load them.
//!
//! Every child lives in a guard whose `Drop` stops it (SIGTERM through
//! `kill`, SIGKILL after a grace period) and reaps it, so an error anywhere
//! in an experiment leaves no server behind. The models are this very
//! binary (through `/proc/PID/exe`), started with `--port 0`; they print
//! `lab-02 MODEL listening on 127.0.0.1:PORT (pid PID)` when ready. A real
//! `redis-server` gets a port we picked and is ready when it answers PING.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

use super::env;
use crate::client::Client;
use crate::resp::Frame;

/// How long a server may take to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// `--maxclients` for the models: above the 10k connections of the memory
/// experiment.
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
        }
    }

    /// Whether `--threads` means anything to it.
    pub fn multi_threaded(self) -> bool {
        matches!(self, Target::TaskPerConnection | Target::ThreadPerCore)
    }
}

/// The servers in the order round `round` visits them: rotated by one each
/// round, so no server is always first (or always right after another).
pub fn rotation(round: usize) -> impl Iterator<Item = Target> {
    let n = Target::ALL.len();
    (0..n).map(move |i| Target::ALL[(round + i) % n])
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
}

/// Where and how a server keeps its append-only file.
#[derive(Debug, Clone)]
pub struct AofSetup {
    /// `appendfsync`: `always`, `everysec` or `no`.
    pub fsync: &'static str,
    pub dir: PathBuf,
}

/// A command, prefixed with `taskset -c CPUS` when `cpus` is given.
pub fn pinned(cpus: Option<&str>, program: impl AsRef<OsStr>) -> Command {
    match cpus {
        Some(list) => {
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", list]).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

impl Launch {
    pub fn new(target: Target, threads: usize) -> Self {
        Self {
            target,
            threads,
            cpus: None,
            aof: None,
            subcommand: None,
        }
    }

    fn model_command(&self) -> Command {
        let mut cmd = pinned(self.cpus, own_exe());
        cmd.args(self.subcommand);
        cmd.args(["--model", self.target.name(), "--port", "0"])
            .args(["--maxclients", &MODEL_MAXCLIENTS.to_string()])
            .env("RUST_LOG", "warn");
        if self.target.multi_threaded() {
            cmd.args(["--threads", &self.threads.to_string()]);
        }
        if let Some(aof) = &self.aof {
            cmd.args(["--appendonly", "--appendfsync", aof.fsync])
                .arg("--appendfilename")
                .arg(aof.dir.join("appendonly.aof"));
        }
        cmd
    }

    fn redis_command(&self, port: u16) -> Command {
        let mut cmd = pinned(self.cpus, "redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--daemonize", "no"])
            .args(["--maxclients", &REDIS_MAXCLIENTS.to_string()]);
        match &self.aof {
            Some(aof) => {
                cmd.args(["--appendonly", "yes", "--appendfsync", aof.fsync])
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

/// This very binary, as `/proc/PID/exe`: the kernel keeps that pointing at
/// the file this process runs even after `cargo build` replaces
/// `target/release/lab-02` mid-run (which happened), so every server of a
/// run is the same build as the measuring process. (`/proc/self/exe` would
/// not do: behind `taskset` it names taskset.)
pub fn own_exe() -> PathBuf {
    PathBuf::from(format!("/proc/{}/exe", std::process::id()))
}

/// A free loopback port: bind to port 0, read the port, let it go.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The last few KiB a child wrote, for error messages.
#[derive(Debug, Clone, Default)]
struct LogTail(Arc<Mutex<String>>);

impl LogTail {
    const KEEP: usize = 8 * 1024;

    fn push(&self, bytes: &[u8]) {
        let Ok(mut s) = self.0.lock() else { return };
        s.push_str(&String::from_utf8_lossy(bytes));
        if s.len() > Self::KEEP {
            let mut cut = s.len() - Self::KEEP;
            while !s.is_char_boundary(cut) {
                cut += 1;
            }
            s.drain(..cut);
        }
    }

    fn text(&self) -> String {
        self.0
            .lock()
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    }

    /// Copies `from` into the tail until end of file, on its own thread.
    fn drain(&self, mut from: impl Read + Send + 'static) {
        let tail = self.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.push(&buf[..n]);
            }
        });
    }
}

/// Stops a child: SIGTERM, up to `grace` to exit, then SIGKILL; reaps it.
fn stop_child(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A child process under measurement: what it printed (for errors), its
/// CPU time and memory; stopped and reaped on drop. Servers of every lab
/// are started through this.
#[derive(Debug)]
pub struct Process {
    /// For messages: `event-loop`, `redis-server`, `lab-03 target`.
    pub name: String,
    /// The process id (taskset execs, so the child's own).
    pub pid: u32,
    child: Child,
    log: LogTail,
    first_line: mpsc::Receiver<String>,
}

impl Process {
    /// Spawns `cmd` with its output captured.
    pub fn spawn(mut cmd: Command, name: &str) -> Result<Self> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        let log = LogTail::default();
        let first_line = first_line_then_drain(&mut child, &log);
        Ok(Self {
            name: name.to_owned(),
            pid: child.id(),
            child,
            log,
            first_line,
        })
    }

    /// Waits for a `… listening on HOST:PORT (pid PID)` first line and
    /// returns the port (the pid is kept).
    pub fn ready_line(&mut self) -> Result<u16> {
        let line = self
            .first_line
            .recv_timeout(START_TIMEOUT)
            .map_err(|_| self.failure("printed no ready line"))?;
        let (port, pid) =
            parse_ready_line(&line).ok_or_else(|| self.failure("printed no ready line"))?;
        self.pid = pid;
        Ok(port)
    }

    /// An error that says what the process printed and how it exited.
    pub fn failure(&mut self, what: &str) -> anyhow::Error {
        let status = self.child.try_wait().ok().flatten();
        anyhow!(
            "{} {what}{}; its output:\n{}",
            self.name,
            status.map_or(String::new(), |s| format!(" ({s})")),
            self.log.text()
        )
    }

    /// Fails (with the process's output) if it is no longer running.
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            _ => Err(self.failure("is no longer running")),
        }
    }

    /// CPU time used so far (utime + stime of all threads), in seconds.
    pub fn cpu_seconds(&self) -> Result<f64> {
        let path = format!("/proc/{}/stat", self.pid);
        let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let ticks = env::cpu_ticks_of(&stat).with_context(|| format!("parsing {path}"))?;
        Ok(ticks as f64 / env::clk_tck() as f64)
    }

    /// Resident set size (`VmRSS`), in bytes.
    pub fn rss_bytes(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid);
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        env::rss_of(&status).with_context(|| format!("no VmRSS in {path}"))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        stop_child(&mut self.child, STOP_GRACE);
    }
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

/// Sends the child's first stdout line to the returned channel, then keeps
/// draining stdout and stderr into `log` (a full pipe would stall it).
fn first_line_then_drain(child: &mut Child, log: &LogTail) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(stderr) = child.stderr.take() {
        log.drain(stderr);
    }
    if let Some(stdout) = child.stdout.take() {
        let log = log.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            if reader.read_line(&mut line).is_ok() && !line.is_empty() {
                log.push(line.as_bytes());
                let _ = tx.send(line);
            }
            drop(tx);
            log.drain(reader);
        });
    }
    rx
}

/// `lab-02 MODEL listening on 127.0.0.1:PORT (pid PID)` → (port, pid).
fn parse_ready_line(line: &str) -> Option<(u16, u32)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let on = words.iter().position(|w| *w == "on")?;
    let port = words.get(on + 1)?.rsplit_once(':')?.1.parse().ok()?;
    let pid_at = words.iter().position(|w| *w == "(pid")?;
    let pid = words.get(pid_at + 1)?.trim_end_matches(')').parse().ok()?;
    Some((port, pid))
}

/// A tool's run: its exit status and what it printed.
#[derive(Debug)]
pub struct ToolOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Kills and reaps a child when dropped (for tools that may hang).
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        stop_child(&mut self.0, Duration::ZERO);
    }
}

fn collect(from: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = from {
            let _ = r.read_to_end(&mut buf);
        }
        buf
    })
}

/// Runs a tool to completion; kills it after `timeout`.
pub fn run_tool(cmd: &mut Command, timeout: Duration) -> Result<ToolOutput> {
    let what = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let mut guard = ChildGuard(child);
    let out = collect(guard.0.stdout.take());
    let err = collect(guard.0.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = guard.0.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            drop(guard);
            let stderr = err.join().unwrap_or_default();
            bail!(
                "{what} did not finish within {}; stderr: {}",
                super::stats::fmt_duration(timeout),
                String::from_utf8_lossy(&stderr).trim()
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(ToolOutput {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ready_line() {
        let line = "lab-02 thread-per-core listening on 127.0.0.1:41234 (pid 977)\n";
        assert_eq!(parse_ready_line(line), Some((41234, 977)));
        assert_eq!(parse_ready_line("garbage"), None);
    }

    #[test]
    fn rotation_visits_everyone() {
        let r1: Vec<Target> = rotation(1).collect();
        assert_eq!(r1[0], Target::TaskPerConnection);
        assert_eq!(r1[3], Target::EventLoop);
        assert_eq!(rotation(4).next(), Some(Target::EventLoop));
    }
}
