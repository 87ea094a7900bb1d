//! What the exercises share, and never edit.

use std::time::{Duration, Instant};

use lab_06::LeakCheck;

/// Verifies `check` the way `LeakCheck::verify` does, but sleeping on the
/// schedule `next` gives (`None`: stop and report). Returns the number of
/// leaked tasks, and the time spent waiting.
pub async fn verify_with(
    check: LeakCheck,
    next: impl Fn(u32, Duration) -> Option<Duration>,
) -> (usize, Duration) {
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        let (leaked, untracked) = check.look();
        let left = leaked.len() + untracked;
        if left == 0 {
            return (0, started.elapsed());
        }
        match next(attempt, started.elapsed()) {
            Some(d) => tokio::time::sleep(d).await,
            None => return (left, started.elapsed()),
        }
        attempt += 1;
    }
}

/// A backend the lookup service asks: answers after `delay`, or never.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    AnswersAfter(Duration),
    Stuck,
}

impl Backend {
    /// The value for `key`, when (if ever) the backend answers.
    pub async fn lookup(self, key: &str) -> String {
        match self {
            Backend::AnswersAfter(d) => {
                tokio::time::sleep(d).await;
                format!("value-of-{key}")
            }
            Backend::Stuck => std::future::pending().await,
        }
    }
}

/// Reads one `GET key` line from `sock` (keeping extra bytes in `buf` for
/// the next call); `None` when the client closed or sent something else.
pub async fn read_request(sock: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    use tokio::io::AsyncReadExt;
    loop {
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let line = String::from_utf8(line).ok()?;
            return line.trim_end().strip_prefix("GET ").map(str::to_owned);
        }
        if buf.len() > 4096 {
            return None;
        }
        let mut chunk = [0u8; 512];
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
