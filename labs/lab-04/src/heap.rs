//! Heap profiling: how many allocations, and how many bytes, one request
//! costs lab-02. dhat counts every allocation the process makes (it wraps
//! the global allocator, so only a binary that installs `dhat::Alloc` can
//! use it: this lab's `heap` binary) and writes `dhat-heap.json`, which
//! DHAT's viewer (`dh_view.html`, shipped with valgrind) opens by call site.
//!
//! The server runs in this process; the client sends commands it encoded
//! once and reads replies into a fixed buffer, so it allocates nothing per
//! request and every allocation counted is the server's.

use std::io::{Read, Write};
use std::net::TcpStream;

use anyhow::{Context, Result, bail};
use lab_02::config::{Config, Model};
use serde::{Deserialize, Serialize};

/// A request shape to count.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Case {
    /// `SET key:… xxx`, one at a time.
    Set,
    /// `GET key:…` of an existing key, one at a time.
    Get,
    /// 16 `SET`s per write, replies read together.
    SetDepth16,
}

impl Case {
    pub const ALL: [Case; 3] = [Case::Set, Case::Get, Case::SetDepth16];

    pub fn name(self) -> &'static str {
        match self {
            Case::Set => "SET",
            Case::Get => "GET",
            Case::SetDepth16 => "SET, pipeline depth 16",
        }
    }

    fn depth(self) -> usize {
        match self {
            Case::SetDepth16 => 16,
            _ => 1,
        }
    }

    /// One batch of commands, encoded, and the exact size of its replies.
    fn batch(self, first: u64) -> (Vec<u8>, usize) {
        let mut bytes = Vec::new();
        let mut reply = 0;
        for i in 0..self.depth() as u64 {
            let key = kit::redis_benchmark::key((first + i) % 1000);
            let args: Vec<&[u8]> = match self {
                Case::Get => vec![b"GET", key.as_bytes()],
                _ => vec![b"SET", key.as_bytes(), b"xxx"],
            };
            lab_02::resp::encode_command(&args, &mut bytes);
            reply += match self {
                Case::Get => "$3\r\nxxx\r\n".len(),
                _ => "+OK\r\n".len(),
            };
        }
        (bytes, reply)
    }
}

/// Allocations per request for one case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub case: Case,
    pub model: String,
    /// `--log-without-aof`: lab-02's write path before Part IV's fix.
    pub log_without_aof: bool,
    pub requests: u64,
    pub blocks_per_request: f64,
    pub bytes_per_request: f64,
}

// ANCHOR: count
/// Starts lab-02 (`model`, one thread) in this process and counts the
/// allocations `requests` requests of each case make. `stats` reads the
/// process's running totals: `(blocks, bytes)` allocated so far (dhat's
/// `HeapStats`, in the `heap` binary).
pub fn count(
    model: Model,
    log_without_aof: bool,
    requests: u64,
    stats: &dyn Fn() -> (u64, u64),
) -> Result<Vec<Row>> {
    let config = Config {
        log_without_aof,
        threads: Some(1),
        ..Config::ephemeral(model)
    };
    let server = lab_02::server::start(config)?;
    let mut s = TcpStream::connect(server.addr())?;
    s.set_nodelay(true)?;
    let mut rows = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    // Keys exist before GET reads them; every connection-level buffer has
    // grown to size before anything is counted.
    for case in [Case::SetDepth16, Case::Get] {
        exchange(&mut s, case, 0, 200, &mut buf)?;
    }
    for case in Case::ALL {
        let batches = (requests / case.depth() as u64).max(1);
        let (b0, by0) = stats();
        exchange(&mut s, case, 0, batches, &mut buf)?;
        let (b1, by1) = stats();
        let n = (batches * case.depth() as u64) as f64;
        rows.push(Row {
            case,
            model: model.name().to_owned(),
            log_without_aof,
            requests: n as u64,
            blocks_per_request: (b1 - b0) as f64 / n,
            bytes_per_request: (by1 - by0) as f64 / n,
        });
    }
    drop(s);
    server.shutdown();
    server.wait()?;
    Ok(rows)
}
// ANCHOR_END: count

/// Sends `batches` batches and reads exactly their replies.
fn exchange(s: &mut TcpStream, case: Case, first: u64, batches: u64, buf: &mut [u8]) -> Result<()> {
    for b in 0..batches {
        let (bytes, reply) = case.batch(first + b * case.depth() as u64);
        s.write_all(&bytes)?;
        let mut got = 0;
        while got < reply {
            let n = s.read(&mut buf[..reply - got]).context("reading replies")?;
            if n == 0 {
                bail!("the server closed the connection");
            }
            if buf[0] == b'-' {
                bail!(
                    "the server answered an error: {}",
                    String::from_utf8_lossy(&buf[..n])
                );
            }
            got += n;
        }
    }
    Ok(())
}
