//! Every row of the chapter's taxonomy table, provoked for real through a
//! socket on loopback, and classified.
//!
//! Each [`Row`] names the Go idiom, the Rust one, and how this lab makes
//! the error happen; [`provoke`] does it and returns what was
//! [`Observed`]. `tests/taxonomy.rs` asserts every row's class, the
//! `provoke` command prints the table live, and the results pipeline
//! renders it, so the table in the chapter is what a run saw, not what
//! anyone remembered.
//!
//! The faults come from this lab's proxy where it has one (resets,
//! truncated replies, black holes, refused and stalled accepts) and from a
//! small misbehaving peer otherwise. Running out of descriptors happens in
//! a child process (this binary, run with a low `RLIMIT_NOFILE`), so the
//! caller's own descriptors are never at risk.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use lab_02::resp::Frame;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::client::{Connection, TcpConnector};
use crate::error::{Cause, Class, NetError, Op};
use crate::proxy::{self, Faults, ProxyHandle};

/// One row of the taxonomy: an error, the idioms that identify it, and
/// how this lab provokes it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Row {
    pub id: &'static str,
    /// The class the row must come out as.
    pub class: Class,
    /// How Go code recognises it.
    pub go: &'static str,
    /// How Rust code recognises it (with this lab's types where they help).
    pub rust: &'static str,
    /// How this lab makes it happen on loopback.
    pub how: &'static str,
}

// ANCHOR: rows
/// The table, in the chapter's order.
pub const ROWS: &[Row] = &[
    Row {
        id: "refused",
        class: Class::Refused,
        go: "`errors.Is(err, syscall.ECONNREFUSED)`",
        rust: "`e.kind() == ErrorKind::ConnectionRefused`",
        how: "connect while the proxy refuses (its listening socket closed)",
    },
    Row {
        id: "connect-timeout",
        class: Class::Timeout,
        go: "`DialTimeout`; `err.(net.Error).Timeout()`",
        rust: "`timeout(connect_timeout, TcpStream::connect(..))` elapses",
        how: "connect while the proxy stalls accept (backlog of one, full)",
    },
    Row {
        id: "read-deadline",
        class: Class::Timeout,
        go: "`SetReadDeadline`; `errors.Is(err, os.ErrDeadlineExceeded)`",
        rust: "`timeout_at(deadline, read)` elapses: `Cause::Deadline`",
        how: "send a request through the proxy's black hole",
    },
    Row {
        id: "socket-timeout",
        class: Class::Timeout,
        go: "(same as above)",
        rust: "std `set_read_timeout`: `ErrorKind::WouldBlock` on Unix, not `TimedOut`",
        how: "a blocking read through the proxy's black hole",
    },
    Row {
        id: "reset",
        class: Class::Reset,
        go: "`errors.Is(err, syscall.ECONNRESET)`",
        rust: "`e.kind() == ErrorKind::ConnectionReset`",
        how: "the proxy resets the connection instead of passing a reply on",
    },
    Row {
        id: "broken-pipe",
        class: Class::BrokenPipe,
        go: "`errors.Is(err, syscall.EPIPE)`",
        rust: "`e.kind() == ErrorKind::BrokenPipe`",
        how: "a peer closes; the first write draws a reset, the second fails",
    },
    Row {
        id: "mid-frame-eof",
        class: Class::UnexpectedEof,
        go: "`errors.Is(err, io.ErrUnexpectedEOF)`",
        rust: "`ErrorKind::UnexpectedEof`; here `Cause::MidFrame`",
        how: "the proxy passes half a reply on, then closes",
    },
    Row {
        id: "closed",
        class: Class::Closed,
        go: "`err == io.EOF`",
        rust: "`read` returns `Ok(0)`; here `Cause::Closed`",
        how: "the server closes after QUIT; the client sends again",
    },
    Row {
        id: "too-many-files",
        class: Class::ResourceExhausted,
        go: "`errors.Is(err, syscall.EMFILE)`",
        rust: "`e.raw_os_error() == Some(EMFILE)`",
        how: "connect until the process's descriptor limit (64) is spent",
    },
    Row {
        id: "protocol",
        class: Class::Protocol,
        go: "the client library's own parse error",
        rust: "`ProtocolError` from lab-02's parser: `Cause::Protocol`",
        how: "a RESP request to a peer that answers in HTTP",
    },
    Row {
        id: "server-error",
        class: Class::ServerError,
        go: "go-redis: `errors.As(err, &redis.Error)`",
        rust: "a `-ERR` reply: `Cause::Reply`; the connection stays usable",
        how: "LPUSH to a key that holds a string",
    },
];
// ANCHOR_END: rows

/// What provoking a row produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    pub id: String,
    pub op: String,
    pub class: String,
    /// `io::ErrorKind`, when the cause is an OS error.
    pub kind: Option<String>,
    pub errno: Option<i32>,
    pub sent: bool,
    /// The error as displayed.
    pub message: String,
}

impl Observed {
    pub fn of(id: &str, e: &NetError) -> Self {
        let kind = match &e.cause {
            Cause::Io(io) => Some(format!("{:?}", io.kind())),
            _ => None,
        };
        Self {
            id: id.to_owned(),
            op: e.op.name().to_owned(),
            class: e.class().name().to_owned(),
            kind,
            errno: e.errno(),
            sent: e.sent,
            message: e.to_string(),
        }
    }
}

/// How long a provoked timeout waits.
pub const DEADLINE: Duration = Duration::from_millis(200);

/// Where to provoke: a running lab-02 (or any Redis) and this lab's
/// executable (for the child that runs out of descriptors).
#[derive(Debug, Clone)]
pub struct Setup<'a> {
    pub server: SocketAddr,
    pub exe: &'a Path,
}

/// Provokes row `id` and returns the error it produced.
pub async fn provoke(id: &str, setup: &Setup<'_>) -> Result<Observed> {
    let e = match id {
        "refused" => refused(setup.server).await?,
        "connect-timeout" => connect_timeout(setup.server).await?,
        "read-deadline" => read_deadline(setup.server).await?,
        "socket-timeout" => socket_timeout(setup.server).await?,
        "reset" => reset(setup.server).await?,
        "broken-pipe" => broken_pipe().await?,
        "mid-frame-eof" => mid_frame(setup.server).await?,
        "closed" => closed(setup.server).await?,
        "too-many-files" => return in_child(setup.exe, id),
        "protocol" => protocol().await?,
        "server-error" => server_error(setup.server).await?,
        other => bail!("no row {other:?}; rows: {}", ids().join(", ")),
    };
    Ok(Observed::of(id, &e))
}

/// The rows' ids, in order.
pub fn ids() -> Vec<&'static str> {
    ROWS.iter().map(|r| r.id).collect()
}

async fn proxy_with(server: SocketAddr, faults: Faults) -> Result<ProxyHandle> {
    let cfg = proxy::ProxyConfig {
        faults,
        ..proxy::ProxyConfig::new(server)
    };
    Ok(proxy::start(cfg).await?)
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Opens a connection as the lab's client does, within [`DEADLINE`].
async fn connect(addr: SocketAddr) -> Result<Connection, NetError> {
    Connection::open(&TcpConnector::new(addr), DEADLINE).await
}

/// One request and its reply (or error) within [`DEADLINE`], through the
/// lab's client connection: the errors in the table are the ones the
/// client's callers get.
async fn round_trip(conn: &Connection, args: &[&[u8]]) -> Result<Frame, NetError> {
    conn.call(args, DEADLINE).await
}

/// `Err(e)` of a step that must fail, or an error saying it did not.
fn expect_failure<T: std::fmt::Debug>(r: Result<T, NetError>, what: &str) -> Result<NetError> {
    match r {
        Err(e) => Ok(e),
        Ok(v) => Err(anyhow!("{what} succeeded ({v:?}); it should have failed")),
    }
}

async fn refused(server: SocketAddr) -> Result<NetError> {
    let p = proxy_with(
        server,
        Faults {
            refuse: true,
            ..Faults::default()
        },
    )
    .await?;
    let e = expect_failure(connect(p.addr()).await, "connect")?;
    p.shutdown().await;
    Ok(e)
}

async fn connect_timeout(server: SocketAddr) -> Result<NetError> {
    let p = proxy_with(
        server,
        Faults {
            stall_accept: true,
            ..Faults::default()
        },
    )
    .await?;
    // Fill the backlog: these complete in the kernel, nobody accepts them.
    let mut held: Vec<Connection> = Vec::new();
    for _ in 0..8 {
        match connect(p.addr()).await {
            Ok(s) => held.push(s),
            Err(e) => {
                p.shutdown().await;
                return Ok(e);
            }
        }
    }
    p.shutdown().await;
    bail!("eight connects completed with accept stalled")
}

/// One request through the proxy with `faults` on, which must fail: the
/// error its caller gets.
async fn failed_request(server: SocketAddr, faults: Faults, args: &[&[u8]]) -> Result<NetError> {
    let p = proxy_with(server, faults).await?;
    let c = connect(p.addr()).await?;
    let what = String::from_utf8_lossy(args[0]).into_owned();
    let e = expect_failure(round_trip(&c, args).await, &what)?;
    p.shutdown().await;
    Ok(e)
}

async fn read_deadline(server: SocketAddr) -> Result<NetError> {
    let faults = Faults {
        blackhole: true,
        ..Faults::default()
    };
    failed_request(server, faults, &[b"GET", b"k"]).await
}

async fn socket_timeout(server: SocketAddr) -> Result<NetError> {
    let p = proxy_with(
        server,
        Faults {
            blackhole: true,
            ..Faults::default()
        },
    )
    .await?;
    let addr = p.addr();
    // std's blocking socket, as most code that sets a timeout uses it.
    let e = tokio::task::spawn_blocking(move || -> Result<NetError> {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(DEADLINE))?;
        s.write_all(b"*1\r\n$4\r\nPING\r\n")?;
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Err(e) => Ok(NetError::new(Op::Receive, Some(addr), true, e)),
            Ok(n) => bail!("read {n} bytes through a black hole"),
        }
    })
    .await??;
    p.shutdown().await;
    Ok(e)
}

async fn reset(server: SocketAddr) -> Result<NetError> {
    let faults = Faults {
        reset: 1.0,
        ..Faults::default()
    };
    failed_request(server, faults, &[b"SET", b"k", b"v"]).await
}

async fn broken_pipe() -> Result<NetError> {
    let listener = tokio::net::TcpListener::bind(loopback()).await?;
    let addr = listener.local_addr()?;
    let closer = tokio::spawn(async move {
        if let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    closer.await?;
    // The peer has closed (its FIN is here). The first write goes out and
    // the peer's kernel answers with a reset; the write after it fails.
    for _ in 0..50 {
        if let Err(e) = s.write_all(b"*1\r\n$4\r\nPING\r\n").await {
            return Ok(NetError::new(Op::Send, Some(addr), true, e));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("fifty writes to a closed peer succeeded")
}

async fn mid_frame(server: SocketAddr) -> Result<NetError> {
    let faults = Faults {
        truncate: 1.0,
        ..Faults::default()
    };
    failed_request(server, faults, &[b"ECHO", b"a reply long enough to cut"]).await
}

async fn closed(server: SocketAddr) -> Result<NetError> {
    let c = connect(server).await?;
    match round_trip(&c, &[b"QUIT"]).await {
        Ok(Frame::Simple(ok)) if ok == "OK" => {}
        other => bail!("QUIT answered {other:?}"),
    }
    // The server closes after QUIT's reply. Once the connection's task has
    // read the end of the stream, the next request is refused with that
    // cause, never sent (so any request could safely go again elsewhere).
    let gone = Instant::now() + DEADLINE;
    while !c.is_closed() && Instant::now() < gone {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    expect_failure(round_trip(&c, &[b"PING"]).await, "a PING after QUIT")
}

async fn protocol() -> Result<NetError> {
    let listener = tokio::net::TcpListener::bind(loopback()).await?;
    let addr = listener.local_addr()?;
    let http = tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
            // Keep the connection open until the client is done.
            let _ = s.read(&mut buf).await;
        }
    });
    let c = connect(addr).await?;
    let e = expect_failure(round_trip(&c, &[b"PING"]).await, "PING to HTTP")?;
    drop(c);
    http.await?;
    Ok(e)
}

async fn server_error(server: SocketAddr) -> Result<NetError> {
    let c = connect(server).await?;
    let key = b"lab05:taxonomy:string";
    round_trip(&c, &[b"SET", key, b"v"]).await?;
    let e = expect_failure(round_trip(&c, &[b"LPUSH", key, b"x"]).await, "LPUSH")?;
    // The connection is still in step: the next request gets its answer.
    match round_trip(&c, &[b"PING"]).await {
        Ok(Frame::Simple(p)) if p == "PONG" => Ok(e),
        other => bail!("after an error reply, PING answered {other:?}"),
    }
}

/// The descriptor limit the child runs under.
pub const CHILD_NOFILE: u64 = 64;

/// Runs row `id` in a child process (`EXE provoke ID --in-child`) and
/// reads its observation from the child's output.
fn in_child(exe: &Path, id: &str) -> Result<Observed> {
    let out = Command::new(exe)
        .args(["provoke", id, "--in-child"])
        .env("RUST_LOG", "off")
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    if !out.status.success() {
        bail!(
            "the child for {id} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "the child for {id} printed: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

// ANCHOR: emfile
/// In the child: lower this process's descriptor limit, then connect to a
/// listener of its own until connecting fails.
pub fn too_many_files_here() -> Result<Observed> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let old = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(CHILD_NOFILE),
            maximum: old.maximum,
        },
    )?;
    let listener = TcpListener::bind(loopback())?;
    let addr = listener.local_addr()?;
    let mut held = Vec::new();
    for _ in 0..CHILD_NOFILE * 2 {
        match TcpStream::connect(addr) {
            Ok(s) => held.push(s),
            Err(e) => {
                let e = NetError::new(Op::Connect, Some(addr), false, e);
                return Ok(Observed::of("too-many-files", &e));
            }
        }
    }
    Err(io::Error::other("never ran out of descriptors").into())
}
// ANCHOR_END: emfile
