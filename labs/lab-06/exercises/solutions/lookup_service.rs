//! Exercise `lookup-service`, solved. (The statement is in
//! `src/lookup_service.rs`; `read_request` and `Backend` are in
//! `labs/lab-06/exercises/src/support.rs`.)

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Backend, read_request};

pub async fn serve(listener: TcpListener, backend: Backend) {
    while let Ok((sock, _)) = listener.accept().await {
        lab_06::spawn(connection(sock, backend));
    }
}

// ANCHOR: solution
/// Reads whatever the client sends into `buf` (its next requests, kept
/// for later) and returns once the client has closed its side or the
/// socket failed.
async fn hung_up(sock: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 512];
    loop {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn connection(mut sock: TcpStream, backend: Backend) {
    let mut buf = Vec::new();
    while let Some(key) = read_request(&mut sock, &mut buf).await {
        let value = tokio::select! {
            v = backend.lookup(&key) => v,
            _ = hung_up(&mut sock, &mut buf) => return,
        };
        if sock
            .write_all(format!("{value}\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}
// ANCHOR_END: solution
