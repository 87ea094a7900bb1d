//! Child processes: the servers under test and the tools that load them.
//!
//! Every child lives in a guard whose `Drop` stops it (SIGTERM, SIGKILL
//! after a grace period) and reaps it, so an error anywhere in an
//! experiment leaves no process behind. A server is ready when it prints
//! a first line `… listening on HOST:PORT (pid PID)` (every lab server
//! does) or, for a foreign server, when the caller's own probe says so.
//! Processes are pinned to CPUs with `taskset` where an experiment says.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::fmt::fmt_duration;
use crate::procfs;

/// How long a server may take to print its ready line.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

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

/// This very binary, as `/proc/PID/exe`: the kernel keeps that pointing at
/// the file this process runs even after `cargo build` replaces
/// `target/release/lab-02` mid-run (which happened), so every server of a
/// run is the same build as the measuring process. (`/proc/self/exe` would
/// not do: behind `taskset` it names taskset.)
pub fn own_exe() -> PathBuf {
    PathBuf::from(format!("/proc/{}/exe", std::process::id()))
}

/// A free loopback port for a child to listen on, chosen below the
/// kernel's ephemeral range (`net.ipv4.ip_local_port_range`).
///
/// The port is free when chosen and bound by the child a moment later. A
/// port from the ephemeral range (what binding port 0 returns) could be
/// taken in between by any outgoing connection, such as the thousands a
/// load generator opens; below that range only an explicit bind can take
/// it. Falls back to port 0's answer if no port below the range is free.
pub fn free_port() -> Result<u16> {
    let (low, _) = ephemeral_range();
    let first = 10_000u16.min(low.saturating_sub(1));
    let span = u32::from(low.saturating_sub(first)).max(1);
    // A start that differs between processes, so parallel callers (tests)
    // rarely try the same ports.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id().wrapping_mul(2_654_435_761);
    for i in 0..span.min(2_000) {
        let port = first + ((seed.wrapping_add(i.wrapping_mul(7_919))) % span) as u16;
        if port != 0 && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The kernel's range of ports for outgoing connections (Linux's default
/// if it cannot be read).
pub fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|w| w.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32_768, 60_999))
}

/// The last few KiB a child wrote, for error messages.
#[derive(Debug, Clone)]
struct LogTail {
    text: Arc<Mutex<String>>,
    keep: usize,
    /// Pipes still being read: a child that has exited may have left
    /// output in them that its reader has not copied yet.
    open: Arc<AtomicUsize>,
}

/// One pipe being read into a [`LogTail`]; dropped at its end of file.
struct OpenPipe(Arc<AtomicUsize>);

impl Drop for OpenPipe {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How long, once a child has exited, to wait for its pipes' readers to
/// copy what is left in them (a grandchild holding a pipe open would keep
/// it open for good, hence a bound).
const PIPES_SETTLE: Duration = Duration::from_secs(2);

impl LogTail {
    fn new(keep: usize) -> Self {
        Self {
            text: Arc::default(),
            keep,
            open: Arc::default(),
        }
    }

    /// Counts a pipe as open until the returned guard drops.
    fn opened(&self) -> OpenPipe {
        self.open.fetch_add(1, Ordering::AcqRel);
        OpenPipe(self.open.clone())
    }

    /// Waits up to `timeout` for every pipe to reach its end of file.
    fn settle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.open.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(2));
        }
    }

    fn push(&self, bytes: &[u8]) {
        let Ok(mut s) = self.text.lock() else { return };
        s.push_str(&String::from_utf8_lossy(bytes));
        if s.len() > self.keep {
            let mut cut = s.len() - self.keep;
            while !s.is_char_boundary(cut) {
                cut += 1;
            }
            s.drain(..cut);
        }
    }

    fn text(&self) -> String {
        self.text
            .lock()
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    }

    /// Copies `from` into the tail until end of file, on its own thread.
    fn drain(&self, from: impl Read + Send + 'static) {
        let open = self.opened();
        let tail = self.clone();
        thread::spawn(move || {
            tail.copy(from);
            drop(open);
        });
    }

    /// Copies `from` into the tail until end of file, here.
    fn copy(&self, mut from: impl Read) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            self.push(&buf[..n]);
        }
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
    // In a mutex so that a `Process` can be shared between threads (a
    // receiver alone is not `Sync`).
    first_line: Mutex<mpsc::Receiver<String>>,
}

impl Process {
    /// Spawns `cmd` with its output captured.
    pub fn spawn(cmd: Command, name: &str) -> Result<Self> {
        Self::spawn_keeping(cmd, name, Self::KEEP)
    }

    /// How much of a process's output [`Process::spawn`] keeps: enough for
    /// an error message.
    pub const KEEP: usize = 8 * 1024;

    /// As [`Process::spawn`], keeping the last `keep` bytes of its output
    /// (tests that look for a panic anywhere in a server's log keep all).
    pub fn spawn_keeping(mut cmd: Command, name: &str, keep: usize) -> Result<Self> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        let log = LogTail::new(keep);
        let first_line = first_line_then_drain(&mut child, &log);
        Ok(Self {
            name: name.to_owned(),
            pid: child.id(),
            child,
            log,
            first_line: Mutex::new(first_line),
        })
    }

    /// Waits for a `… listening on HOST:PORT (pid PID)` first line and
    /// returns the port (the pid is kept).
    pub fn ready_line(&mut self) -> Result<u16> {
        let line = self
            .first_line(START_TIMEOUT)
            .ok_or_else(|| self.failure("printed no ready line"))?;
        let (port, pid) =
            parse_ready_line(&line).ok_or_else(|| self.failure("printed no ready line"))?;
        self.pid = pid;
        Ok(port)
    }

    /// An error that says what the process printed and how it exited.
    pub fn failure(&mut self, what: &str) -> anyhow::Error {
        let status = self.child.try_wait().ok().flatten();
        if status.is_some() {
            self.log.settle(PIPES_SETTLE);
        }
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

    /// What the process printed so far (stdout and stderr, interleaved as
    /// read; the last [`Process::KEEP`] bytes unless spawned keeping more).
    pub fn output(&self) -> String {
        self.log.text()
    }

    /// The first line it printed, if one comes within `timeout`.
    pub fn first_line(&mut self, timeout: Duration) -> Option<String> {
        let rx = self.first_line.lock().ok()?;
        rx.recv_timeout(timeout).ok()
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`…) with kill(1).
    pub fn signal(&self, sig: &str) -> Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -{sig} {} failed ({status})", self.child.id());
        }
        Ok(())
    }

    /// Waits up to `timeout` for the process to exit, and reaps it. Once
    /// it has exited, [`output`](Self::output) holds all it printed.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.log.settle(PIPES_SETTLE);
                    return Some(status);
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => return None,
            }
        }
    }

    /// SIGKILL now, and reap.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        self.log.settle(PIPES_SETTLE);
        status
    }

    /// CPU time used so far (utime + stime of all threads), in seconds.
    pub fn cpu_seconds(&self) -> Result<f64> {
        let path = format!("/proc/{}/stat", self.pid);
        let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let ticks = procfs::cpu_ticks_of(&stat).with_context(|| format!("parsing {path}"))?;
        Ok(ticks as f64 / procfs::clk_tck() as f64)
    }

    /// Resident set size (`VmRSS`), in bytes.
    pub fn rss_bytes(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid);
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        procfs::rss_of(&status).with_context(|| format!("no VmRSS in {path}"))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        stop_child(&mut self.child, STOP_GRACE);
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
        let open = log.opened();
        let log = log.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            if reader.read_line(&mut line).is_ok() && !line.is_empty() {
                log.push(line.as_bytes());
                let _ = tx.send(line);
            }
            drop(tx);
            log.copy(reader);
            drop(open);
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

/// The first line a tool prints for `ARGS` (its version), or an error
/// that says which Debian package brings it: `hint` names the lab and the
/// packages, e.g. "lab-02's measurements need redis-server (Debian:
/// redis-server)".
pub fn tool_version(bin: &str, args: &[&str], hint: &str) -> Result<String> {
    let out = Command::new(bin).args(args).output().with_context(|| {
        format!(
            "running `{bin} {}`: {hint}; `cargo xtask setup` installs them",
            args.join(" ")
        )
    })?;
    // Some tools print their version on stderr (wrk), some exit non-zero.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(text.lines().next().unwrap_or(bin).trim().to_owned())
}

/// The Cargo target directory the running binary was built into
/// (`target/release/lab-02` → `target`).
pub fn target_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the running binary")?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("the running binary is not inside a target directory")
}

/// A process that spins on one CPU (`taskset -c CPU sh -c 'while :; do :; done'`),
/// to take that core away from whatever else is pinned there; killed on drop.
pub struct Hog(Child);

impl Hog {
    pub fn start(cpu: &str) -> Result<Self> {
        let child = Command::new("taskset")
            .args(["-c", cpu, "sh", "-c", "while :; do :; done"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting a CPU hog (taskset, sh)")?;
        Ok(Self(child))
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
    run_tool_with_input(cmd, None, timeout)
}

/// Runs a tool to completion with `input` on its standard input (none:
/// `/dev/null`); kills it after `timeout`.
pub fn run_tool_with_input(
    cmd: &mut Command,
    input: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<ToolOutput> {
    let what = format!("{cmd:?}");
    let child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let mut guard = ChildGuard(child);
    // Written from a thread: a tool that prints before it has read all its
    // input would otherwise deadlock against us on full pipes.
    let writer = input.and_then(|bytes| {
        let mut pipe = guard.0.stdin.take()?;
        Some(thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut pipe, &bytes);
        }))
    });
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
                fmt_duration(timeout),
                String::from_utf8_lossy(&stderr).trim()
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
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
    fn a_free_port_is_below_the_ephemeral_range_and_free() {
        let (low, high) = ephemeral_range();
        assert!(low < high, "{low}..{high}");
        for _ in 0..20 {
            let port = free_port().unwrap();
            assert!(port < low || low <= 10_000, "{port} is in {low}..{high}");
            // Free: a listener can take it.
            TcpListener::bind(("127.0.0.1", port)).unwrap();
        }
    }

    #[test]
    fn reads_the_ready_line() {
        let line = "lab-02 thread-per-core listening on 127.0.0.1:41234 (pid 977)\n";
        assert_eq!(parse_ready_line(line), Some((41234, 977)));
        assert_eq!(parse_ready_line("garbage"), None);
    }

    #[test]
    fn runs_a_tool_and_a_process() {
        let out = run_tool(
            Command::new("sh").args(["-c", "echo hi; echo err >&2"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.trim(), "hi");
        assert_eq!(out.stderr.trim(), "err");
        let cat = run_tool_with_input(
            &mut Command::new("cat"),
            Some(b"in".to_vec()),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(cat.stdout, "in");
        let slow = run_tool(Command::new("sleep").arg("5"), Duration::from_millis(100));
        assert!(
            slow.unwrap_err()
                .to_string()
                .contains("did not finish within 100 ms")
        );
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo \"x listening on 127.0.0.1:5 (pid $$)\"; exec sleep 30",
        ]);
        let mut p = Process::spawn(cmd, "sleeper").unwrap();
        let real_pid = p.pid;
        assert_eq!(p.ready_line().unwrap(), 5);
        assert_eq!(p.pid, real_pid);
        assert!(p.check_alive().is_ok());
        assert!(p.rss_bytes().unwrap() > 0);
        drop(p);
        assert!(
            procfs::cpu_seconds_of_pid(real_pid).is_none(),
            "stopped and reaped"
        );
    }

    #[test]
    fn an_exited_process_has_all_its_output() {
        // A server that fails at start-up: its message is on stderr, its
        // stdout closes at once. Once it has exited, every byte of the
        // message is in its output, whichever reader thread ran last.
        for round in 0..20 {
            let mut cmd = Command::new("sh");
            cmd.args([
                "-c",
                "head -c 200000 /dev/zero | tr '\\0' x >&2; echo ' the end' >&2; exit 3",
            ]);
            let mut p = Process::spawn_keeping(cmd, "failing", usize::MAX).unwrap();
            assert_eq!(p.first_line(Duration::from_secs(10)), None);
            let status = p.wait_exit(Duration::from_secs(10)).expect("it exits");
            assert_eq!(status.code(), Some(3));
            let out = p.output();
            assert!(
                out.len() == 200_000 + " the end".len() && out.ends_with("the end"),
                "round {round}: {} bytes, ending {:?}",
                out.len(),
                &out[out.len().saturating_sub(20)..]
            );
        }
    }
}
