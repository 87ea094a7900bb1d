//! Filling a server with the keys redis-benchmark's `-r` draws from, fast,
//! before a run reads them.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use kit::redis_benchmark::key;

use crate::launch::Server;

/// Writes keys `key(0)`…`key(keys - 1)` with 3-byte values (what
/// redis-benchmark's SET writes), pipelined 1000 at a time over one
/// connection, and checks DBSIZE. Returns how long it took.
pub fn fill(server: &Server, keys: u64) -> Result<Duration> {
    const BATCH: u64 = 1000;
    let mut c = server.client()?;
    let started = Instant::now();
    let mut next = 0;
    while next < keys {
        let end = (next + BATCH).min(keys);
        let cmds: Vec<Vec<Vec<u8>>> = (next..end)
            .map(|i| vec![b"SET".to_vec(), key(i).into_bytes(), b"xxx".to_vec()])
            .collect();
        for reply in c.pipeline(&cmds)? {
            ensure!(!reply.is_error(), "SET during fill answered {reply:?}");
        }
        next = end;
    }
    let took = started.elapsed();
    let size = c.cmd(&[b"DBSIZE"])?;
    let size = size
        .as_int()
        .with_context(|| format!("DBSIZE answered {size:?}"))?;
    ensure!(
        size >= keys as i64,
        "{} holds {size} keys after writing {keys}",
        server.target.name()
    );
    Ok(took)
}
