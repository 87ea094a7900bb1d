//! Shared by the end-to-end tests (`compat.rs`, `robustness.rs`, `differential.rs`, `resp3.rs`,
//! `durability.rs`): the real server binary as a child process, external
//! tools run with a deadline, and small helpers.
//!
//! Every wait here is bounded: a server that does not start, a tool that
//! hangs, a reply that never comes all fail the test with what the server
//! wrote to stderr, rather than hanging the suite.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use kit::process::Process;
use lab_02::client::Client;
use lab_02::resp::Frame;

/// The three concurrency models, as the CLI names them.
pub const MODELS: [&str; 3] = ["event-loop", "task-per-connection", "thread-per-core"];

/// How long a server may take to print its listening line.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

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
                    .map(|e| format!("[{model}] {}", kit::panic::panic_message(e.as_ref())))
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

/// A server process on an ephemeral loopback port, on the measurement
/// kit's [`Process`]: dropping it stops the process (SIGTERM, then SIGKILL
/// after a grace period) and reaps it.
pub struct ServerProc {
    model: String,
    process: Process,
    addr: SocketAddr,
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
        let mut cmd = Command::new(server_bin());
        cmd.args(["--model", model, "--port", "0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .env("RUST_BACKTRACE", "1")
            .env_remove("LAB02_REQUIREPASS");
        // Keep the whole log: a test fails on a panic anywhere in it.
        let process = Process::spawn_keeping(cmd, model, usize::MAX)
            .map_err(|e| format!("cannot run {}: {e:#}", server_bin()))?;
        let mut server = Self {
            model: model.to_string(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            exit: None,
            process,
        };
        let line = match server.process.first_line(START_TIMEOUT) {
            Some(line) => line,
            None => {
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
        self.process.pid
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

    /// What the server wrote so far (its log; stdout has only the
    /// listening line).
    pub fn stderr(&self) -> String {
        self.process.output()
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
        kit::procfs::rss_of_pid(self.pid()).map(|b| b / 1024)
    }

    /// Sends a signal (`"TERM"`, `"INT"`, `"KILL"`…) with kill(1).
    pub fn signal(&self, sig: &str) {
        if let Err(e) = self.process.signal(sig) {
            panic!("[{}] {e:#}", self.model);
        }
    }

    /// SIGKILL, and reap the process.
    pub fn kill9(&mut self) {
        if self.exit.is_none() {
            self.exit = self.process.kill();
        }
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.process.wait_exit(timeout);
        }
        self.exit
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
pub type Ran = kit::process::ToolOutput;

/// Runs `cmd` with `stdin` as its input; panics (with its output) if it
/// has not finished after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, stdin: Option<Vec<u8>>, timeout: Duration) -> Ran {
    kit::process::run_tool_with_input(cmd, stdin, timeout).unwrap_or_else(|e| panic!("{e:#}"))
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
pub struct TempDir(kit::testutil::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        Self(kit::testutil::TempDir::new(&format!("lab02-{tag}")).expect("create temp dir"))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
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

// Not every test binary polls.
#[allow(unused_imports)]
pub use kit::testutil::wait_until;

/// A command as owned arguments, for [`Client::pipeline`].
pub fn args(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// A raw connection for byte-for-byte comparisons: sends multibulk
/// requests, reads exactly one reply frame back as its bytes, RESP2 or
/// RESP3, with 5 s timeouts.
pub struct Raw {
    reader: std::io::BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Self {
        let stream =
            std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        let setup = (|| {
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.set_write_timeout(Some(Duration::from_secs(5)))?;
            stream.set_nodelay(true)?;
            stream.try_clone()
        })();
        let reader = setup.unwrap_or_else(|e| panic!("set up the connection to {addr}: {e}"));
        Raw {
            reader: std::io::BufReader::new(reader),
            writer: stream,
        }
    }

    /// Sends `args`, returns the reply's bytes.
    pub fn call(&mut self, args: &[Vec<u8>]) -> Result<Vec<u8>, String> {
        use std::io::Write;
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&req).map_err(|e| e.to_string())?;
        let mut frame = Vec::new();
        read_frame(&mut self.reader, &mut frame)?;
        Ok(frame)
    }

    /// [`Raw::call`] with text arguments; panics on a failed connection.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        self.call(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }
}

/// Reads one complete RESP2 or RESP3 frame into `out`: lines (`+`, `-`,
/// `:`, `_`, `,`, `(`, `#`), bulk strings (`$`, `=`, `!`; `$-1` is nil),
/// aggregates of frames (`*`, `~`, `>`; `*-1` is nil), maps (`%`) of
/// pairs, and an attribute (`|`) before the frame it describes.
pub fn read_frame(r: &mut impl std::io::BufRead, out: &mut Vec<u8>) -> Result<(), String> {
    let start = out.len();
    let n = r.read_until(b'\n', out).map_err(|e| e.to_string())?;
    if n == 0 || !out.ends_with(b"\r\n") {
        return Err(format!(
            "connection closed or bad line after {}",
            out[start..].escape_ascii()
        ));
    }
    let line = &out[start..out.len() - 2];
    let kind = line[0];
    let number = || -> Result<i64, String> {
        std::str::from_utf8(&line[1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad length line {}", line.escape_ascii()))
    };
    match kind {
        b'+' | b'-' | b':' | b'_' | b',' | b'(' | b'#' => Ok(()),
        b'$' | b'=' | b'!' => {
            let len = number()?;
            if len >= 0 {
                let at = out.len();
                out.resize(at + len as usize + 2, 0);
                r.read_exact(&mut out[at..]).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let per = if matches!(kind, b'%' | b'|') { 2 } else { 1 };
            for _ in 0..number()?.max(0) * per {
                read_frame(r, out)?;
            }
            if kind == b'|' {
                read_frame(r, out)?;
            }
            Ok(())
        }
        _ => Err(format!("unknown reply type in {}", line.escape_ascii())),
    }
}
