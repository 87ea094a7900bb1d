//! Exercise `lookup-service`: a small server. Each connection sends
//! `GET key` lines; for each, the server asks a backend and writes the
//! value back. When the backend is stuck and the client gives up and hangs
//! up, the connection's task keeps waiting for the backend: the task, and
//! its socket in CLOSE_WAIT, outlive the client. The leak check fails.
//!
//! Make the connection task end when its client has gone, while it waits
//! for the backend, however long the backend takes for a client that is
//! still there, and even when the client sent its next request before
//! hanging up. `tokio::select!` waits for whichever comes first.
//! `read_request` and `Backend` are in `labs/lab-06/exercises/src/support.rs`.

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Backend, read_request};

/// Accepts connections until the listener fails; one task per connection.
pub async fn serve(listener: TcpListener, backend: Backend) {
    while let Ok((sock, _)) = listener.accept().await {
        lab_06::spawn(connection(sock, backend));
    }
}

async fn connection(mut sock: TcpStream, backend: Backend) {
    let mut buf = Vec::new();
    while let Some(key) = read_request(&mut sock, &mut buf).await {
        let value = backend.lookup(&key).await;
        if sock
            .write_all(format!("{value}\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}
