//! A thread per connection, for the memory experiment only: the design
//! the chapter's three models and Go's goroutines are the alternatives
//! to, reduced to what an idle connection costs.
//!
//! `lab-02 thread-per-connection --port 0` (a hidden subcommand) accepts
//! connections and gives each its own `std::thread` with std's default
//! stack, blocking in `read` on a buffer of [`READ_CHUNK`] bytes on that
//! thread's stack, parsing with lab-02's own request parser and answering
//! PING (anything else gets an error). It keeps no keyspace and runs no
//! command code, so what it costs per connection is a floor for a full
//! server built this way: the thread (its stack pages, its kernel task),
//! its read buffer and its parser, and nothing else. It is not one of
//! lab-02's models, and no other lab can start it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::conn::READ_CHUNK;
use crate::resp::{Limits, RequestParser};
use crate::shared::MAX_CLIENTS_REPLY;

/// Counts a connection while its thread (or the closure that would have
/// been it) exists.
struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves until killed; prints lab-02's ready line first.
pub fn serve(port: u16, max_clients: usize) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).context("binding 127.0.0.1")?;
    let addr = listener.local_addr()?;
    println!(
        "lab-02 thread-per-connection listening on {addr} (pid {})",
        std::process::id()
    );
    std::io::stdout().flush()?;
    let clients = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // Out of descriptors, say: wait and keep serving the others.
                tracing::warn!("accept failed: {e}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if clients.fetch_add(1, Ordering::Relaxed) >= max_clients {
            clients.fetch_sub(1, Ordering::Relaxed);
            let _ = stream.write_all(MAX_CLIENTS_REPLY);
            continue;
        }
        let admitted = Admitted(Arc::clone(&clients));
        let spawned = thread::Builder::new().name("conn".into()).spawn(move || {
            let _admitted = admitted;
            serve_conn(stream);
        });
        // A failed spawn drops the closure: the connection closes and is
        // no longer counted.
        if let Err(e) = spawned {
            tracing::warn!("could not start a thread for a connection: {e}");
        }
    }
    Ok(())
}

/// One connection: read, answer every complete request, repeat.
fn serve_conn(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let limits = Limits::default();
    let mut parser = RequestParser::new();
    let mut buf = [0u8; READ_CHUNK];
    let mut input: Vec<u8> = Vec::new();
    let mut output: Vec<u8> = Vec::new();
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        input.extend_from_slice(&buf[..n]);
        let mut used = 0;
        loop {
            match parser.parse(&input[used..], &limits) {
                Ok(Some(len)) => {
                    parser.reset();
                    let mut args = parser.arg_slices(&input[used..]);
                    match args.next() {
                        Some(name) if name.eq_ignore_ascii_case(b"ping") => {
                            output.extend_from_slice(b"+PONG\r\n");
                        }
                        Some(_) => output
                            .extend_from_slice(b"-ERR this baseline server answers PING only\r\n"),
                        None => {}
                    }
                    used += len;
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = write!(output, "-ERR Protocol error: {e}\r\n");
                    let _ = stream.write_all(&output);
                    return;
                }
            }
        }
        input.drain(..used);
        if !output.is_empty() {
            if stream.write_all(&output).is_err() {
                return;
            }
            output.clear();
        }
        // Idle, it keeps no more than a small buffer, as lab-02's models do.
        if input.is_empty() && input.capacity() > crate::conn::IDLE_KEEP {
            input = Vec::new();
        }
        if output.capacity() > crate::conn::IDLE_KEEP {
            output = Vec::new();
        }
    }
}
