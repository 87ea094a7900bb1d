//! Exercise `lookup-service`, solved. (The statement is in
//! `src/lookup_service.rs`; `read_request` and `Backend` are in
//! `labs/lab-06/exercises/src/support.rs`.)

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Backend, read_request};

pub async fn serve(listener: TcpListener, backend: Backend) {
    while let Ok((sock, _)) = listener.accept().await {
        lab_06::spawn(connection(sock, backend));
    }
}

// ANCHOR: solution
/// Resolves when the client has closed its side (or the socket failed);
/// never, once it has sent more bytes (the next request is waiting).
async fn hung_up(sock: &TcpStream) {
    let mut one = [0u8; 1];
    match sock.peek(&mut one).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

async fn connection(mut sock: TcpStream, backend: Backend) {
    let mut buf = Vec::new();
    while let Some(key) = read_request(&mut sock, &mut buf).await {
        let value = tokio::select! {
            v = backend.lookup(&key) => v,
            _ = hung_up(&sock) => return,
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
