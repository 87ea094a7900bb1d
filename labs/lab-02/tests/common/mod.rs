//! Shared by the end-to-end tests (`compat.rs`, `robustness.rs`,
//! `durability.rs`): the real server binary as a child process, external
//! tools run with a deadline, and small helpers.
//!
//! Every wait here is bounded: a server that does not start, a tool that
//! hangs, a reply that never comes all fail the test with what the server
//! wrote to stderr, rather than hanging the suite.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use lab_02::client::Client;
use lab_02::resp::Frame;

/// The three concurrency models, as the CLI names them.
pub const MODELS: [&str; 3] = ["event-loop", "task-per-connection", "thread-per-core"];

/// How long a server may take to print its listening line.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a graceful stop may take before Drop sends SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// The server binary, built by cargo for the integration tests.
pub fn server_bin() -> &'static str {
    env!("CARGO_BIN_EXE_lab-02")
}

/// Runs `f` once for each model, each in its own thread, and fails naming
/// every model whose run panicked.
pub fn for_each_model(f: impl Fn(&'static str) + Sync) {
    let failures: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = MODELS
            .iter()
            .map(|&model| {
                let f = &f;
                let handle = thread::Builder::new()
                    .name(model.to_string())
                    .spawn_scoped(s, move || f(model))
                    .expect("spawn a model thread");
                (model, handle)
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|(model, h)| {
                h.join()
                    .err()
                    .map(|e| format!("[{model}] {}", panic_text(e.as_ref())))
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of 3 models failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = e.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "(non-text panic)".to_string()
    }
}

/// A server process on an ephemeral loopback port. Dropping it stops the
/// process: SIGTERM, then SIGKILL if it is still running after
/// [`STOP_GRACE`].
pub struct ServerProc {
    model: String,
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_thread: Option<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

impl ServerProc {
    /// Starts `lab-02 --model MODEL --port 0 EXTRA…`; panics (with the
    /// server's stderr) if it does not print its listening line in time.
    pub fn start(model: &str, extra: &[&str]) -> Self {
        match Self::try_start(model, extra) {
            Ok(server) => server,
            Err(e) => panic!("{e}"),
        }
    }

    /// As [`start`](Self::start), but returns why it did not start.
    pub fn try_start(model: &str, extra: &[&str]) -> Result<Self, String> {
        let mut child = Command::new(server_bin())
            .args(["--model", model, "--port", "0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .env("RUST_BACKTRACE", "1")
            .env_remove("LAB02_REQUIREPASS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", server_bin()))?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stderr_thread = {
            let mut pipe = child.stderr.take().expect("piped stderr");
            let sink = stderr.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match pipe.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => sink
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .extend_from_slice(&buf[..n]),
                    }
                }
            })
        };
        // Read stdout in a thread, keep draining it after the first line.
        let (line_tx, line_rx) = mpsc::channel::<String>();
        {
            let pipe = child.stdout.take().expect("piped stdout");
            thread::spawn(move || {
                let mut lines = BufReader::new(pipe).lines();
                if let Some(Ok(line)) = lines.next() {
                    let _ = line_tx.send(line);
                }
                for _ in lines {}
            });
        }
        let mut server = Self {
            model: model.to_string(),
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
            stderr_thread: Some(stderr_thread),
            exit: None,
        };
        let line = match line_rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let status = server.wait_exit(Duration::from_millis(500));
                let why = match status {
                    Some(s) => format!("it exited with {s}"),
                    None => format!("it printed no listening line in {START_TIMEOUT:?}"),
                };
                return Err(format!(
                    "the {model} server did not start: {why}; stderr:\n{}",
                    server.stderr()
                ));
            }
        };
        let addr = parse_listening_line(&line, model).ok_or_else(|| {
            format!(
                "unexpected first stdout line from the {model} server: {line:?}; stderr:\n{}",
                server.stderr()
            )
        })?;
        server.addr = addr;
        Ok(server)
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A new connection (10 s timeouts).
    pub fn client(&self) -> Client {
        Client::connect(self.addr).unwrap_or_else(|e| {
            panic!(
                "[{}] cannot connect to {}: {e}; stderr:\n{}",
                self.model,
                self.addr,
                self.stderr()
            )
        })
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        let buf = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Fails if the server's stderr shows a panic.
    pub fn assert_no_panic(&self) {
        let err = self.stderr();
        assert!(
            !err.contains("panicked"),
            "[{}] the server panicked; stderr:\n{err}",
            self.model
        );
    }

    /// The server's resident memory in KiB (`VmRSS`), if it is running.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Sends a signal (`"TERM"`, `"INT"`, `"KILL"`…) with kill(1).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} {} failed", self.pid());
    }

    /// SIGKILL, and reap the process.
    pub fn kill9(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
            self.join_stderr();
        }
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.exit.is_some() {
            return self.exit;
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.exit = Some(status);
                    self.join_stderr();
                    return Some(status);
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => return None,
            }
        }
    }

    /// SIGTERM, then waits up to `timeout` for the exit; panics if the
    /// server is still running then.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        self.signal("TERM");
        self.expect_exit(timeout)
    }

    /// Waits for an exit that should be happening; panics after `timeout`.
    pub fn expect_exit(&mut self, timeout: Duration) -> ExitStatus {
        match self.wait_exit(timeout) {
            Some(status) => status,
            None => panic!(
                "[{}] the server did not exit within {timeout:?}; stderr:\n{}",
                self.model,
                self.stderr()
            ),
        }
    }

    fn join_stderr(&mut self) {
        // The pipe closes when the process (and any child holding it) is
        // gone; don't wait forever if something else holds it open.
        if let Some(h) = self.stderr_thread.take() {
            let deadline = Instant::now() + Duration::from_secs(2);
            while !h.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }

    /// INFO's fields (all sections) as `(name, value)` pairs.
    pub fn info(&self) -> Vec<(String, String)> {
        info_of(&mut self.client(), "everything")
    }

    /// One INFO field, parsed as an integer.
    pub fn info_int(&self, field: &str) -> i64 {
        let info = self.info();
        let value = info
            .iter()
            .find(|(k, _)| k == field)
            .unwrap_or_else(|| panic!("[{}] INFO has no {field}: {info:?}", self.model));
        value.1.parse().unwrap_or_else(|_| {
            panic!(
                "[{}] INFO {field} is not an integer: {:?}",
                self.model, value.1
            )
        })
    }

    /// A fresh connection gets PONG, and SET then GET of a unique key work.
    pub fn assert_healthy(&self) {
        self.assert_healthy_with(None);
    }

    /// As [`assert_healthy`](Self::assert_healthy), authenticating first.
    pub fn assert_healthy_with(&self, password: Option<&str>) {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let ctx = format!("[{}] health check", self.model);
        let mut c = self.client();
        if let Some(p) = password {
            assert_eq!(
                c.cmd(&[b"AUTH", p.as_bytes()]).expect(&ctx),
                Frame::simple("OK"),
                "{ctx}"
            );
        }
        assert_eq!(
            c.cmd(&[b"PING"]).expect(&ctx),
            Frame::simple("PONG"),
            "{ctx}"
        );
        let key = format!("health:{}:{n}", std::process::id());
        let value = format!("value-{n}");
        assert_eq!(
            c.cmd(&[b"SET", key.as_bytes(), value.as_bytes()])
                .expect(&ctx),
            Frame::simple("OK"),
            "{ctx}"
        );
        assert_eq!(
            c.cmd(&[b"GET", key.as_bytes()]).expect(&ctx),
            Frame::bulk(value),
            "{ctx}"
        );
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if self.exit.is_some() {
            return;
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.pid().to_string())
                .stderr(Stdio::null())
                .status();
            if self.wait_exit(STOP_GRACE).is_some() {
                return;
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// `lab-02 MODEL listening on 127.0.0.1:PORT (pid PID)` → the address.
fn parse_listening_line(line: &str, model: &str) -> Option<SocketAddr> {
    let rest = line.strip_prefix("lab-02 ")?;
    let rest = rest.strip_prefix(model)?;
    let rest = rest.strip_prefix(" listening on ")?;
    let addr = rest.split_whitespace().next()?;
    addr.parse().ok()
}

/// INFO `section` through `c`, as `(name, value)` pairs.
pub fn info_of(c: &mut Client, section: &str) -> Vec<(String, String)> {
    let reply = c.cmd(&[b"INFO", section.as_bytes()]).expect("INFO reply");
    let text = reply
        .as_bulk()
        .unwrap_or_else(|| panic!("INFO replied {reply:?}"));
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// What an external command did.
#[derive(Debug)]
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with `stdin` as its input; kills it and panics if it has not
/// finished after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, stdin: Option<Vec<u8>>, timeout: Duration) -> Ran {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().expect("piped stdin");
        thread::spawn(move || {
            let _ = pipe.write_all(&input);
        })
    });
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        let mut pipe = pipe.expect("piped output");
        thread::spawn(move || {
            let mut out = Vec::new();
            let _ = pipe.read_to_end(&mut out);
            out
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
            let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
            panic!("{what} did not finish in {timeout:?}; stdout:\n{stdout}\nstderr:\n{stderr}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    Ran {
        status,
        stdout: String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned(),
    }
}

/// `redis-cli -p PORT ARGS…` (one shot, stdin not a terminal).
pub fn redis_cli(port: u16, args: &[&str], stdin: Option<Vec<u8>>) -> Ran {
    run_with_timeout(
        Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args),
        stdin,
        Duration::from_secs(30),
    )
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("lab02-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A deterministic pseudo-random byte stream (xorshift64*).
pub fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Polls `check` every 20 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A command as owned arguments, for [`Client::pipeline`].
pub fn args(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}
