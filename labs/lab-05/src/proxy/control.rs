//! The control interface: one command per line over TCP.
//!
//! ```text
//! get                          → {"latency":"0s",…}
//! set reset=0.05 latency=10ms  → OK
//! stats                        → {"connections":3,…}
//! anything else                → ERR <reason>
//! ```
//!
//! A line longer than [`MAX_LINE`] bytes gets `ERR` and the connection is
//! closed; any other bad line gets `ERR` and the connection stays usable.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Shared;

/// The longest command line accepted, without its newline.
pub const MAX_LINE: usize = 4096;

/// Control connections served at once; more are closed at once.
const MAX_CONTROL_CONNECTIONS: usize = 64;

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) if conns.len() < MAX_CONTROL_CONNECTIONS => {
                    let shared = Arc::clone(&shared);
                    conns.spawn(async move { connection(stream, &shared).await });
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("proxy control: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.shutdown().await;
}

async fn connection(stream: TcpStream, shared: &Shared) {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = (MAX_LINE + 1) as u64;
        match (&mut rd).take(limit).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let complete = line.last() == Some(&b'\n');
        if !complete && line.len() > MAX_LINE {
            let _ = wr
                .write_all(format!("ERR line longer than {MAX_LINE} bytes\n").as_bytes())
                .await;
            return;
        }
        let reply = execute(&String::from_utf8_lossy(&line), shared);
        if wr.write_all(format!("{reply}\n").as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Runs one command line and returns the reply line (no newline).
pub(crate) fn execute(line: &str, shared: &Shared) -> String {
    let line = line.trim();
    let (command, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    match command {
        "get" if rest.trim().is_empty() => shared.faults.borrow().to_json(),
        "stats" if rest.trim().is_empty() => shared.stats().to_json(),
        "get" | "stats" => format!("ERR {command} takes no arguments"),
        "set" if rest.trim().is_empty() => "ERR set needs key=value pairs".to_owned(),
        "set" => {
            let mut faults = shared.faults.borrow().clone();
            match faults.apply(rest) {
                Ok(()) => {
                    shared.set_faults(faults);
                    "OK".to_owned()
                }
                Err(e) => format!("ERR {e}"),
            }
        }
        "" => "ERR empty line (commands: get, set key=value..., stats)".to_owned(),
        _ => {
            let shown: String = command.chars().take(32).collect();
            format!("ERR unknown command `{shown}` (commands: get, set key=value..., stats)")
        }
    }
}
